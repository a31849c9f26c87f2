/**
 * Copy-on-write crash workload (run by cow_crash.test.ts, killed with SIGKILL at a random
 * moment). One operation at a time, chosen at random: writes (mostly first writes to
 * shared grains, sub-grain sizes included; sometimes a burst of small writes in flight
 * together into one or two grains), flushes, snapshot create and delete, clones of
 * snapshots and of live volumes, unmaps of whole shared extents and of parts of them, and
 * volume deletes while snapshots and clones of it live. Each step is logged synchronously
 * as it starts ("S ...") and when it is acknowledged ("A ..."), so the log survives the
 * kill and tells the test what may and what must be on disk.
 * Usage: node cow_crash_worker.ts POOL_PATH LOG_PATH SEED ROUND
 */
import fs from 'node:fs';
import { Pool } from '../../src/pool/index.ts';
import { SECTORS, VOLUME_BYTES, EXTENT, cowCrashPoolOptions, prng, tagged } from './cow_crash_shared.ts';

const [poolPath, logPath, seedArg, roundArg] = process.argv.slice(2);
const logFd = fs.openSync(logPath, 'w');
const say = (line: string): void => { fs.writeSync(logFd, line + '\n'); };
const seed = Number(seedArg);
const rnd = prng(seed);
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
const MAX_SNAPS = 4;
const MAX_VOLS = 4;
const SPE = EXTENT / 512;

const pool = fs.existsSync(poolPath) ? await Pool.import(poolPath) : await Pool.create(poolPath, cowCrashPoolOptions());
if (pool.listVolumes().length === 0) {
  say('S create v0');
  await pool.createVolume({ name: 'v0', sizeBytes: VOLUME_BYTES });
  say('A create v0');
}
process.stdout.write('READY\n');

const round = Number(roundArg);
// Tags and names unique across rounds (a tag fits the sector's u32).
let tag = (round + 1) * 1_000_000;
let n = 0;
for (;;) {
  n++;
  const vols = pool.listVolumes().map((v) => v.name);
  const snaps = pool.listSnapshots().map((s) => s.name);
  const r = rnd();
  const name = `${round}-${n}`;
  if (r < 0.1) {
    // A burst: small writes in flight together into neighbouring sectors of one or two
    // grains (never the same sector twice), so fills, merges and rewrites of one grain
    // race each other when the kill comes.
    const vol = pick(vols);
    const start = Math.floor(rnd() * (SECTORS - 16));
    const jobs: Promise<void>[] = [];
    for (let s = start; s < start + 16;) {
      const count = 1 + Math.floor(rnd() * 3);
      if (s + count > start + 16) break;
      if (rnd() < 0.7) {
        tag++;
        const line = `w ${vol} ${s} ${count} ${tag}`;
        say(`S ${line}`);
        jobs.push(pool.openVolume(vol).write(s, tagged(s, count, tag), false).then(() => { say(`A ${line}`); }));
      }
      s += count;
    }
    await Promise.all(jobs);
  } else if (r < 0.5) {
    const vol = pick(vols);
    const count = pick([1, 1, 2, 3, 8, 9, 16, 64, 200]);
    const lba = Math.floor(rnd() * (SECTORS - count));
    tag++;
    say(`S w ${vol} ${lba} ${count} ${tag}`);
    await pool.openVolume(vol).write(lba, tagged(lba, count, tag), rnd() < 0.1);
    say(`A w ${vol} ${lba} ${count} ${tag}`);
  } else if (r < 0.55) {
    const vol = pick(vols);
    say(`S f ${vol}`);
    await pool.openVolume(vol).flush();
    say(`A f ${vol}`);
  } else if (r < 0.65 && snaps.length < MAX_SNAPS) {
    const vol = pick(vols);
    say(`S snap ${vol} s${name}`);
    await pool.createSnapshot(vol, `s${name}`);
    say(`A snap ${vol} s${name}`);
  } else if (r < 0.7 && snaps.length > 0) {
    const s = pick(snaps);
    say(`S dsnap ${s}`);
    await pool.deleteSnapshot(s);
    say(`A dsnap ${s}`);
  } else if (r < 0.76 && vols.length < MAX_VOLS && snaps.length > 0) {
    const s = pick(snaps);
    say(`S clone s ${s} c${name}`);
    await pool.createVolumeFromSnapshot({ name: `c${name}`, snapshot: s });
    say(`A clone s ${s} c${name}`);
  } else if (r < 0.8 && vols.length < MAX_VOLS) {
    const vol = pick(vols);
    say(`S clone v ${vol} c${name}`);
    await pool.cloneVolume({ name: `c${name}`, source: vol });
    say(`A clone v ${vol} c${name}`);
  } else if (r < 0.9) {
    const vol = pick(vols);
    // Whole extents (a shared one just loses a reference) or a part of one (zeros, via copy-up).
    const whole = rnd() < 0.5;
    const lba = whole ? Math.floor(rnd() * (SECTORS / SPE - 1)) * SPE : Math.floor(rnd() * (SECTORS - 64));
    const count = whole ? SPE * (1 + Math.floor(rnd() * 2)) : 1 + Math.floor(rnd() * 63);
    say(`S u ${vol} ${lba} ${count}`);
    await pool.openVolume(vol).unmap(lba, count);
    say(`A u ${vol} ${lba} ${count}`);
  } else if (vols.length > 1) {
    const vol = pick(vols);
    say(`S dvol ${vol}`);
    await pool.deleteVolume(vol);
    say(`A dvol ${vol}`);
  }
}
