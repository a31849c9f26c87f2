import type { PoolFile } from './pool_file.ts';

/** Extents copied at once; each copier reuses one buffer. */
const COPY_PARALLEL = 4;
/** Bytes per read/write step, so a 64 MiB extent does not need a 64 MiB buffer. */
const COPY_CHUNK_BYTES = 1024 * 1024;

export interface ExtentCopy {
  /** Pool extent read from. */
  from: number;
  /** Pool extent written to. */
  to: number;
}

/**
 * Copies whole pool extents inside the pool file, a few at a time. Callers make sure
 * nothing writes the source extents meanwhile and that the destinations are owned by a
 * table entry import would erase if the copy never finished.
 */
export async function copyExtents(file: PoolFile, dataOffset: number, extentSize: number, copies: readonly ExtentCopy[]): Promise<void> {
  let next = 0;
  const chunk = Math.min(COPY_CHUNK_BYTES, extentSize);
  const worker = async (): Promise<void> => {
    const buf = Buffer.allocUnsafe(chunk);
    while (next < copies.length) {
      const c = copies[next++];
      for (let off = 0; off < extentSize; off += chunk) {
        await file.read(buf, 0, chunk, dataOffset + c.from * extentSize + off);
        await file.write(buf, 0, chunk, dataOffset + c.to * extentSize + off);
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(COPY_PARALLEL, copies.length); i++) workers.push(worker());
  await Promise.all(workers);
}
