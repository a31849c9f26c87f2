import type { BlockDevice } from '../block/block_device.ts';
import type { GenerationRegistry } from './replica_generations.ts';
import { StaleGenerationError } from './replica_errors.ts';

/**
 * A replica on the nexus's own node, used in-process instead of over TCP, under the
 * same fence rules as a ReplicaSession: it shares the node's GenerationRegistry with
 * the ReplicaServer, so a newer nexus fencing the replica over the network also stops
 * a stale nexus that reaches it locally. The check is one map lookup per I/O.
 */
export class LocalReplica implements BlockDevice {
  /** Tells the nexus this child is read in-process (its prefer-local read policy). */
  readonly local = true;
  private readonly device: BlockDevice;
  private readonly volume: string;
  private readonly registry: GenerationRegistry;
  private generation: number;
  /** Forwarded when the wrapped device declares it: the replica adds no copy of its own. */
  readonly releasesWriteBuffers: boolean;
  /** Present only when the wrapped device has it, so callers can test for it as on any device. */
  readonly readInto?: (lba: number, count: number, dest: Buffer) => Promise<void>;

  /** Like HELLO: refused if the replica is already fenced above `generation`. */
  constructor(device: BlockDevice, volume: string, generation: number, registry: GenerationRegistry) {
    const current = registry.get(volume);
    if (generation < current) throw new StaleGenerationError(current);
    this.device = device;
    this.volume = volume;
    this.generation = generation;
    this.registry = registry;
    this.releasesWriteBuffers = device.releasesWriteBuffers === true;
    // A stale replica rejects before the device is asked, so nothing writes into `dest` then.
    if (device.readInto) this.readInto = (lba, count, dest) => this.stale() ?? device.readInto!(lba, count, dest);
  }

  get blockSize(): number { return this.device.blockSize; }
  get blockCount(): number { return this.device.blockCount; }
  get thin(): boolean { return this.device.thin; }

  async fence(generation: number): Promise<void> {
    const current = this.registry.get(this.volume);
    if (generation < current) throw new StaleGenerationError(current);
    await this.registry.raise(this.volume, generation);
    this.generation = generation;
  }

  read(lba: number, count: number): Promise<Buffer> {
    return this.stale() ?? this.device.read(lba, count);
  }

  write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    return this.stale() ?? this.device.write(lba, data, fua);
  }

  flush(): Promise<void> { return this.stale() ?? this.device.flush(); }

  unmap(lba: number, count: number): Promise<void> {
    return this.stale() ?? this.device.unmap(lba, count);
  }

  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> {
    return this.stale() ?? this.device.mapStatus(lba, count);
  }

  private stale(): Promise<never> | undefined {
    const current = this.registry.get(this.volume);
    return this.generation < current ? Promise.reject(new StaleGenerationError(current)) : undefined;
  }
}
