/**
 * Crash-test verifier: imports the pool in a fresh process, checks metadata (fsck with a
 * read of every free extent) and prints one JSON line with every block's version.
 * Usage: node crash_verify.ts POOL_PATH
 */
import { Pool } from '../../src/pool/index.ts';
import { blockVersion } from './crash_shared.ts';

const pool = await Pool.import(process.argv[2]);
const report = await pool.verify({ checkFreeZeroed: true });
const volumes: Record<string, { blockSize: number; state: string; versions: number[] }> = {};
for (const info of pool.listVolumes()) {
  const vol = pool.openVolume(info.name);
  const data = await vol.read(0, vol.blockCount);
  const versions: number[] = [];
  for (let i = 0; i < vol.blockCount; i++) versions.push(blockVersion(data.subarray(i * vol.blockSize, (i + 1) * vol.blockSize)));
  volumes[info.name] = { blockSize: vol.blockSize, state: info.state, versions };
}
const info = pool.info();
await pool.close();
process.stdout.write(JSON.stringify({ problems: report.problems, usedBytes: info.usedBytes, allocatedBytes: report.allocatedBytes, volumes }) + '\n');
