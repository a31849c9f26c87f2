/**
 * Raw volume throughput: 4 KiB random reads and writes at queue depth 32 on a thin
 * volume in a pool on /dev/shm, next to plain fs.read/fs.write on a file as the floor,
 * and the rate of allocating first writes (each to a new extent).
 * Usage: node test/pool/pool_bench.ts [seconds-per-test=3] [volume-MiB=1024]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from '../../src/pool/index.ts';

const SECONDS = Number(process.argv[2] ?? 3);
const VOLUME_MIB = Number(process.argv[3] ?? 1024);
const QD = 32;
const BS = 4096;

async function measure(name: string, op: (block: number) => Promise<unknown>, blocks: number): Promise<void> {
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      await op(Math.floor(Math.random() * blocks));
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: QD }, lane));
  const secs = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(34)} ${Math.round(done / secs).toString().padStart(8)} ops/s  ${(done * BS / secs / 1e6).toFixed(0).padStart(5)} MB/s`);
}

const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'berth-bench-'));
try {
  const bytes = VOLUME_MIB * 1024 * 1024;
  const blocks = bytes / BS;
  const pool = await Pool.create(path.join(dir, 'pool'), { name: 'bench', sizeBytes: bytes + 256 * 1024 * 1024 });
  await pool.createVolume({ name: 'v', sizeBytes: bytes, blockSize: 4096 });
  const v = pool.openVolume('v');
  const buf = Buffer.alloc(BS, 0x5a);
  {
    // Allocation rate: every write lands on a new 64 KiB extent (MAP record + data write).
    const allocPool = await Pool.create(path.join(dir, 'alloc'), { name: 'alloc', sizeBytes: 16 * 1024 ** 3, extentSize: 64 * 1024 });
    await allocPool.createVolume({ name: 'a', sizeBytes: 15 * 1024 ** 3, blockSize: 4096 });
    const a = allocPool.openVolume('a');
    let next = 0;
    const extents = 15 * 1024 ** 3 / (64 * 1024);
    await measure('volume first write (allocating) QD32', async () => {
      if (next < extents) await a.write((next++) * 16, buf, false);
    }, 1);
    await allocPool.close();
    fs.rmSync(path.join(dir, 'alloc'));
  }
  // Fill the whole volume so every run below touches real pages, as the raw file does.
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  for (let b = 0; b < blocks; b += chunk.length / BS) await v.write(b, chunk, false);
  await measure('volume 4k randwrite QD32', (b) => v.write(b, buf, false), blocks);
  await measure('volume 4k randread QD32', (b) => v.read(b, 1), blocks);
  await measure('volume 4k randread (unmapped) QD32', (b) => v.read(b, 1), 1);
  await pool.close();

  const raw = path.join(dir, 'raw');
  fs.writeFileSync(raw, '');
  fs.truncateSync(raw, bytes);
  const fd = fs.openSync(raw, 'r+');
  const fill = Buffer.alloc(1024 * 1024, 0x5a);
  for (let at = 0; at < bytes; at += fill.length) fs.writeSync(fd, fill, 0, fill.length, at);
  const rw = (b: number, write: boolean): Promise<void> => new Promise((res, rej) => {
    const cb = (err: Error | null): void => (err ? rej(err) : res());
    if (write) fs.write(fd, buf, 0, BS, b * BS, cb);
    else fs.read(fd, Buffer.allocUnsafe(BS), 0, BS, b * BS, cb);
  });
  await measure('raw fs.write 4k QD32 (floor)', (b) => rw(b, true), blocks);
  await measure('raw fs.read 4k QD32 (floor)', (b) => rw(b, false), blocks);
  fs.closeSync(fd);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
