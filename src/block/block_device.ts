/**
 * The one seam between the data path's front ends (SCSI, later the nexus) and whatever
 * stores blocks (a file, a pool volume, a remote replica). Addresses and lengths are in
 * logical blocks; numbers are safe up to 2^53 blocks, far past any device we serve.
 *
 * Durability contract, which every implementation must keep:
 * - `write` resolves once the data would survive a kill -9 of this process
 *   (it has reached the kernel); with `fua`, once it would survive a power loss.
 * - `flush` resolves once every write that resolved before it was called would
 *   survive a power loss.
 * - Unwritten and unmapped blocks read as zeros (LBPRZ), never as older data.
 *
 * Errors are rejections with the classes in `./errors.ts` (NoSpaceError,
 * OutOfRangeError, MediumError, DeviceGoneError).
 */
export interface BlockDevice {
  /** Logical block size in bytes: 512 or 4096. */
  readonly blockSize: number;
  /** Current size in logical blocks; may grow (resize) while the device is open. */
  readonly blockCount: number;
  /** True when blocks are allocated on first write and `unmap` gives space back. */
  readonly thin: boolean;
  /**
   * Buffer ownership of `write`: true only when the device never reads, keeps or hands
   * on `data` after the promise `write` returned has settled (resolved or rejected), so
   * the caller may reuse the buffer at once. A device that may still copy from it later
   * (a write queued for a slow or retired child, a cache holding a view) must leave it
   * unset: callers then treat the buffer as the device's for good.
   */
  readonly releasesWriteBuffers?: boolean;

  /** Reads `count` blocks starting at `lba`. */
  read(lba: number, count: number): Promise<Buffer>;
  /**
   * Optional: reads `count` blocks at `lba` into `dest` (exactly count x blockSize
   * bytes), sparing the allocation `read` makes. The promise settles only once nothing
   * writes into `dest` any more (every transfer into it has finished, even when one
   * failed), so the caller may reuse `dest` as soon as it settles.
   */
  readInto?(lba: number, count: number, dest: Buffer): Promise<void>;
  /** Writes `data` (a whole number of blocks) at `lba`. */
  write(lba: number, data: Buffer, fua: boolean): Promise<void>;
  /** Makes every write resolved before this call durable against power loss. */
  flush(): Promise<void>;
  /** Deallocates `count` blocks at `lba`; afterwards they read as zeros. */
  unmap(lba: number, count: number): Promise<void>;
  /**
   * Reports whether `lba` is mapped (holds written data) and how many blocks from
   * `lba` on, at most `count`, share that state. Used by GET LBA STATUS.
   */
  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }>;
}
