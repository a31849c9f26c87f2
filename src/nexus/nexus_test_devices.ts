import type { BlockDevice } from '../block/block_device.ts';
import { DeviceGoneError, MediumError, OutOfRangeError } from '../block/errors.ts';

/**
 * Test doubles for the nexus suites (unit and integration): an in-memory thin device
 * whose I/O completes asynchronously after a chosen latency, and which can be told to
 * fail or hang. Not used by production code.
 */
export type FaultMode = 'ok' | 'error' | 'hang';

export class TestDevice implements BlockDevice {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly thin = true;
  readonly data: Buffer;
  private readonly mapped: Uint8Array;
  /** Behaviour of the next I/O; `failAfter` flips to 'error' after that many more ops. */
  mode: FaultMode = 'ok';
  error: Error = new MediumError('injected medium error');
  failAfter = -1;
  /** Milliseconds of latency per op (0: next macrotask); a function for jitter. */
  latency: number | (() => number) = 0;
  bytesWritten = 0;
  writes = 0;
  closed = false;

  constructor(blockCount: number, blockSize = 512) {
    this.blockSize = blockSize;
    this.blockCount = blockCount;
    this.data = Buffer.alloc(blockCount * blockSize);
    this.mapped = new Uint8Array(blockCount);
  }

  read(lba: number, count: number): Promise<Buffer> {
    return this.io(lba, count, () => Buffer.from(this.data.subarray(lba * this.blockSize, (lba + count) * this.blockSize)));
  }

  write(lba: number, data: Buffer, _fua: boolean): Promise<void> {
    const copy = Buffer.from(data);
    const count = data.length / this.blockSize;
    return this.io(lba, count, () => {
      copy.copy(this.data, lba * this.blockSize);
      this.mapped.fill(1, lba, lba + count);
      this.bytesWritten += copy.length;
      this.writes++;
    });
  }

  flush(): Promise<void> { return this.io(0, 0, () => undefined); }

  unmap(lba: number, count: number): Promise<void> {
    return this.io(lba, count, () => {
      this.data.fill(0, lba * this.blockSize, (lba + count) * this.blockSize);
      this.mapped.fill(0, lba, lba + count);
    });
  }

  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> {
    return this.io(lba, count, () => {
      const mapped = this.mapped[lba] === 1;
      let n = 1;
      while (n < count && (this.mapped[lba + n] === 1) === mapped) n++;
      return { mapped, count: n };
    });
  }

  private io<T>(lba: number, count: number, act: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new DeviceGoneError());
    if (lba + count > this.blockCount) return Promise.reject(new OutOfRangeError());
    if (this.failAfter === 0) this.mode = 'error';
    if (this.failAfter >= 0) this.failAfter--;
    const mode = this.mode;
    if (mode === 'hang') return new Promise<T>(() => undefined);
    const delay = typeof this.latency === 'function' ? this.latency() : this.latency;
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        if (mode === 'error' || this.closed) reject(mode === 'error' ? this.error : new DeviceGoneError());
        else resolve(act());
      };
      if (delay > 0) setTimeout(finish, delay);
      else setImmediate(finish);
    });
  }
}

/** Fills a buffer with a pattern that names its block and a version: corruption shows. */
/** A TestDevice of `blocks` blocks and the given latency that counts the reads it serves. */
export function countedTestDevice(latencyMs: number, blocks = 1024): { dev: TestDevice; reads: () => number } {
  const dev = new TestDevice(blocks);
  dev.latency = latencyMs;
  let n = 0;
  const read = dev.read.bind(dev);
  dev.read = (lba: number, count: number) => { n++; return read(lba, count); };
  return { dev, reads: () => n };
}

export function pattern(lba: number, count: number, blockSize: number, version: number): Buffer {
  const b = Buffer.allocUnsafe(count * blockSize);
  for (let i = 0; i < count; i++) {
    for (let off = 0; off < blockSize; off += 8) {
      b.writeUInt32LE(lba + i, i * blockSize + off);
      b.writeUInt32LE(version, i * blockSize + off + 4);
    }
  }
  return b;
}
