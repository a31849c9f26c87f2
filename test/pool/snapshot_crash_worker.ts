/**
 * Snapshot crash workload (run by snapshot_crash.test.ts, killed with SIGKILL at a random
 * moment). Keeps rewriting volume `src` with generation markers while it snapshots it,
 * clones the snapshots and deletes old ones, logging each step synchronously as it starts
 * ("S kind name gen") and when it is acknowledged ("A kind name"), so the log survives
 * the kill and tells the test what may and what must be on disk.
 * Usage: node snapshot_crash_worker.ts POOL_PATH LOG_PATH GEN_BASE
 */
import fs from 'node:fs';
import { Pool } from '../../src/pool/index.ts';
import { SNAP_SOURCE, snapshotCrashPoolOptions, generationImage } from './snapshot_crash_shared.ts';

const [poolPath, logPath, baseArg] = process.argv.slice(2);
const logFd = fs.openSync(logPath, 'w');
const say = (line: string): void => { fs.writeSync(logFd, line + '\n'); };
const KEEP = 2;

const pool = fs.existsSync(poolPath) ? await Pool.import(poolPath) : await Pool.create(poolPath, snapshotCrashPoolOptions());
if (!pool.listVolumes().some((v) => v.name === SNAP_SOURCE.name)) await pool.createVolume(SNAP_SOURCE);
const src = pool.openVolume(SNAP_SOURCE.name);
process.stdout.write('READY\n');

/** Writes generation `gen` over the whole source, in extent-sized pieces issued together. */
function writeGeneration(gen: number): Promise<void> {
  const img = generationImage(SNAP_SOURCE.sizeBytes, gen);
  const piece = 64 * 1024;
  const ops: Promise<void>[] = [];
  say(`W ${gen}`);
  for (let at = 0; at < img.length; at += piece) ops.push(src.write(at / 512, img.subarray(at, at + piece), false));
  // No flush: an acknowledged write survives kill -9, first writes into grains a snapshot
  // shares included (docs/pool-format.md §7, I2).
  return Promise.all(ops).then(() => undefined);
}

let gen = Number(baseArg);
await writeGeneration(gen);
say(`G ${gen}`);
for (;;) {
  const snap = `s-${gen}`;
  say(`S snap ${snap} ${gen}`);
  // The next generation races the snapshot: each sector of it holds gen or gen + 1.
  const racing = writeGeneration(gen + 1);
  await pool.createSnapshot(SNAP_SOURCE.name, snap);
  say(`A snap ${snap}`);
  await racing;
  say(`G ${gen + 1}`);
  const clone = `c-${gen}`;
  say(`S clone ${clone} ${gen}`);
  await pool.createVolumeFromSnapshot({ name: clone, snapshot: snap, thin: gen % 2 === 0 });
  say(`A clone ${clone}`);
  const snaps = pool.listSnapshots().map((s) => s.name).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  for (const old of snaps.slice(0, Math.max(0, snaps.length - KEEP))) {
    say(`S dsnap ${old}`);
    await pool.deleteSnapshot(old);
    say(`A dsnap ${old}`);
  }
  const clones = pool.listVolumes().map((v) => v.name).filter((n) => n.startsWith('c-')).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  for (const old of clones.slice(0, Math.max(0, clones.length - KEEP))) {
    say(`S dvol ${old}`);
    await pool.deleteVolume(old);
    say(`A dvol ${old}`);
  }
  gen += 2;
  await writeGeneration(gen);
  say(`G ${gen}`);
}
