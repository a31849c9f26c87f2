import type { BlockDevice } from '../block/block_device.ts';
import type { Nexus } from '../nexus/index.ts';

/**
 * The nexus as the export registry sees it: a BlockDevice with the volume's uuid. A
 * write, unmap or flush resolves only after `durable()` — the save of the nexus's
 * membership and write-intent maps that the I/O made necessary (a replica retired, a
 * region newly marked for an absent one) — so no acknowledged write depends on state
 * an engine crash could forget. `durable()` returns undefined when nothing is pending.
 */
export class NexusDevice implements BlockDevice {
  readonly uuid: string;
  readonly name: string;
  readonly nexus: Nexus;

  constructor(nexus: Nexus, uuid: string, durable: () => Promise<void> | undefined) {
    this.nexus = nexus;
    this.uuid = uuid;
    this.name = nexus.name;
    nexus.setAckBarrier(durable);
  }

  get blockSize(): number { return this.nexus.blockSize; }
  get blockCount(): number { return this.nexus.blockCount; }
  get thin(): boolean { return this.nexus.thin; }

  read(lba: number, count: number): Promise<Buffer> { return this.nexus.read(lba, count); }
  /** Settles only once no child (a timed-out one included) still writes into `dest`. */
  readInto(lba: number, count: number, dest: Buffer): Promise<void> { return this.nexus.readInto(lba, count, dest); }
  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> { return this.nexus.mapStatus(lba, count); }
  write(lba: number, data: Buffer, fua: boolean): Promise<void> { return this.nexus.write(lba, data, fua); }
  unmap(lba: number, count: number): Promise<void> { return this.nexus.unmap(lba, count); }
  flush(): Promise<void> { return this.nexus.flush(); }
}
