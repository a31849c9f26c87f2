import type { BlockDevice } from './block_device.ts';
import { DeviceGoneError, NoSpaceError, OutOfRangeError } from './errors.ts';

/** Blocks per allocation chunk: small enough that sparse test devices stay cheap. */
const DEFAULT_CHUNK_BLOCKS = 128;

export interface MemoryBlockDeviceOptions {
  /** Logical block size in bytes (512 or 4096); default 512. */
  blockSize?: number;
  /** Size in logical blocks. */
  blockCount: number;
  /** Thin devices allocate on first write and give space back on unmap; default true. */
  thin?: boolean;
  /** Most bytes that may be allocated at once; past it writes fail with NoSpaceError. */
  capacityLimitBytes?: number;
  /** Blocks per allocation chunk; default 128. */
  chunkBlocks?: number;
}

/** A fault to inject: the next matching call rejects with `error`. */
export interface MemoryDeviceFault {
  op: 'read' | 'write' | 'flush' | 'unmap';
  error: Error;
  /** How many calls fail before the fault clears; default 1. */
  times?: number;
}

interface Chunk {
  data: Buffer;
  /** One bit per block: written and not unmapped since. */
  mapped: Uint8Array;
  mappedCount: number;
}

/**
 * A sparse, chunked, in-memory BlockDevice for tests and for volumes that need no
 * durability. Unwritten blocks read as zeros; a chunk is freed when its last mapped
 * block is unmapped, so a thin device's footprint follows what is written.
 */
export class MemoryBlockDevice implements BlockDevice {
  readonly blockSize: number;
  readonly thin: boolean;
  #blockCount: number;
  readonly #chunkBlocks: number;
  readonly #chunks = new Map<number, Chunk>();
  readonly #capacityLimitBytes: number;
  #faults: MemoryDeviceFault[] = [];
  #closed = false;
  /** Counts of calls, for tests that check what reached the device. */
  readonly stats = { reads: 0, writes: 0, flushes: 0, unmaps: 0, fuaWrites: 0 };

  constructor(opts: MemoryBlockDeviceOptions) {
    this.blockSize = opts.blockSize ?? 512;
    if (this.blockSize !== 512 && this.blockSize !== 4096) throw new RangeError('blockSize must be 512 or 4096');
    if (!Number.isSafeInteger(opts.blockCount) || opts.blockCount < 0) throw new RangeError('blockCount must be a non-negative integer');
    this.#blockCount = opts.blockCount;
    this.thin = opts.thin ?? true;
    this.#chunkBlocks = opts.chunkBlocks ?? DEFAULT_CHUNK_BLOCKS;
    this.#capacityLimitBytes = opts.capacityLimitBytes ?? Number.POSITIVE_INFINITY;
    if (!this.thin) {
      // A fully provisioned device owns all its space up front, like a thick file.
      const needed = Math.ceil(this.#blockCount / this.#chunkBlocks) * this.#chunkBlocks * this.blockSize;
      if (needed > this.#capacityLimitBytes) throw new NoSpaceError('capacity limit below device size');
    }
  }

  get blockCount(): number { return this.#blockCount; }

  /** Bytes held by allocated chunks. */
  get allocatedBytes(): number { return this.#chunks.size * this.#chunkBlocks * this.blockSize; }

  /** Grows or shrinks the device; blocks cut off by a shrink are dropped. */
  resize(blockCount: number): void {
    if (!Number.isSafeInteger(blockCount) || blockCount < 0) throw new RangeError('blockCount must be a non-negative integer');
    if (blockCount < this.#blockCount) {
      for (const [index, chunk] of this.#chunks) {
        const first = index * this.#chunkBlocks;
        for (let b = 0; b < this.#chunkBlocks; b++) if (first + b >= blockCount) this.#clearBlock(chunk, b);
        if (chunk.mappedCount === 0) this.#chunks.delete(index);
      }
    }
    this.#blockCount = blockCount;
  }

  /** Makes the next matching call(s) fail, to exercise error paths above the device. */
  injectFault(fault: MemoryDeviceFault): void { this.#faults.push({ ...fault, times: fault.times ?? 1 }); }

  /** Further I/O rejects with DeviceGoneError. */
  close(): void { this.#closed = true; }

  async read(lba: number, count: number): Promise<Buffer> {
    this.#check('read', lba, count);
    this.stats.reads++;
    const out = Buffer.alloc(count * this.blockSize);
    this.#walk(lba, count, (chunk, offsetBlock, blocks, outBlock) => {
      if (chunk) chunk.data.copy(out, outBlock * this.blockSize, offsetBlock * this.blockSize, (offsetBlock + blocks) * this.blockSize);
    });
    return out;
  }

  async write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    if (data.length % this.blockSize !== 0) throw new RangeError('write length is not a whole number of blocks');
    const count = data.length / this.blockSize;
    this.#check('write', lba, count);
    this.stats.writes++;
    if (fua) this.stats.fuaWrites++;
    // Allocate first so a NoSpaceError leaves the device untouched.
    const missing = this.#missingChunks(lba, count);
    if (this.thin && missing > 0 && this.allocatedBytes + missing * this.#chunkBlocks * this.blockSize > this.#capacityLimitBytes) {
      throw new NoSpaceError();
    }
    this.#walk(lba, count, (chunk, offsetBlock, blocks, inBlock, index) => {
      const c = chunk ?? this.#allocate(index);
      data.copy(c.data, offsetBlock * this.blockSize, inBlock * this.blockSize, (inBlock + blocks) * this.blockSize);
      for (let b = offsetBlock; b < offsetBlock + blocks; b++) this.#setBlock(c, b);
    });
  }

  async flush(): Promise<void> {
    this.#check('flush', 0, 0);
    this.stats.flushes++;
  }

  async unmap(lba: number, count: number): Promise<void> {
    this.#check('unmap', lba, count);
    this.stats.unmaps++;
    this.#walk(lba, count, (chunk, offsetBlock, blocks, _in, index) => {
      if (!chunk) return;
      chunk.data.fill(0, offsetBlock * this.blockSize, (offsetBlock + blocks) * this.blockSize);
      for (let b = offsetBlock; b < offsetBlock + blocks; b++) this.#clearBlock(chunk, b);
      if (chunk.mappedCount === 0 && this.thin) this.#chunks.delete(index);
    });
  }

  async mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> {
    this.#check('read', lba, count);
    if (count === 0) return { mapped: false, count: 0 };
    const first = this.#isMapped(lba);
    let n = 1;
    while (n < count && this.#isMapped(lba + n) === first) n++;
    return { mapped: first, count: n };
  }

  #isMapped(block: number): boolean {
    if (!this.thin) return true;
    const chunk = this.#chunks.get(Math.floor(block / this.#chunkBlocks));
    if (!chunk) return false;
    const b = block % this.#chunkBlocks;
    return (chunk.mapped[b >> 3] & (1 << (b & 7))) !== 0;
  }

  #check(op: MemoryDeviceFault['op'], lba: number, count: number): void {
    if (this.#closed) throw new DeviceGoneError();
    const fault = this.#faults.find((f) => f.op === op);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
      throw fault.error;
    }
    if (!Number.isSafeInteger(lba) || !Number.isSafeInteger(count) || lba < 0 || count < 0 || lba + count > this.#blockCount) {
      throw new OutOfRangeError();
    }
  }

  #missingChunks(lba: number, count: number): number {
    if (count === 0) return 0;
    let missing = 0;
    const last = Math.floor((lba + count - 1) / this.#chunkBlocks);
    for (let i = Math.floor(lba / this.#chunkBlocks); i <= last; i++) if (!this.#chunks.has(i)) missing++;
    return missing;
  }

  #walk(lba: number, count: number, fn: (chunk: Chunk | undefined, offsetBlock: number, blocks: number, bufBlock: number, index: number) => void): void {
    let done = 0;
    while (done < count) {
      const block = lba + done;
      const index = Math.floor(block / this.#chunkBlocks);
      const offsetBlock = block % this.#chunkBlocks;
      const blocks = Math.min(this.#chunkBlocks - offsetBlock, count - done);
      fn(this.#chunks.get(index), offsetBlock, blocks, done, index);
      done += blocks;
    }
  }

  #allocate(index: number): Chunk {
    const chunk: Chunk = {
      data: Buffer.alloc(this.#chunkBlocks * this.blockSize),
      mapped: new Uint8Array(Math.ceil(this.#chunkBlocks / 8)),
      mappedCount: 0,
    };
    this.#chunks.set(index, chunk);
    return chunk;
  }

  #setBlock(chunk: Chunk, b: number): void {
    const bit = 1 << (b & 7);
    if ((chunk.mapped[b >> 3] & bit) === 0) { chunk.mapped[b >> 3] |= bit; chunk.mappedCount++; }
  }

  #clearBlock(chunk: Chunk, b: number): void {
    const bit = 1 << (b & 7);
    if ((chunk.mapped[b >> 3] & bit) !== 0) { chunk.mapped[b >> 3] &= ~bit; chunk.mappedCount--; }
  }
}
