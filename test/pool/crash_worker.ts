/**
 * Crash-test workload (run by crash.test.ts, killed with SIGKILL at a random moment).
 * Imports or creates the pool, then keeps many writes, unmaps, flushes and a volume
 * delete/create churn in flight, logging synchronously to LOG_PATH each operation as it
 * starts ("S id ...") and as it is acknowledged ("A id") or fails ("E id code"). A file
 * write reaches the kernel before the next operation, so the log survives the kill.
 * With OBSERVE_PATH, it first records what the imported pool holds (the check of the
 * previous kill, done by this fresh process) before it changes anything.
 * Usage: node crash_worker.ts POOL_PATH SEED VERSION_BASE LOG_PATH [OBSERVE_PATH]
 */
import fs from 'node:fs';
import { Pool } from '../../src/pool/index.ts';
import type { Volume } from '../../src/pool/index.ts';
import { errorCode } from '../../src/util/errors.ts';
import { CHURN_VOLUME, STABLE_VOLUMES, blockPattern, crashPoolOptions, observe } from './crash_shared.ts';

const [poolPath, seedArg, baseArg, logPath, observePath] = process.argv.slice(2);
const logFd = fs.openSync(logPath, 'w');
let seed = Number(seedArg) || 1;
const rnd = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};
let nextVersion = Number(baseArg);
let nextOp = 0;
const say = (line: string): void => { fs.writeSync(logFd, line + '\n'); };

const pool = fs.existsSync(poolPath) ? await Pool.import(poolPath) : await Pool.create(poolPath, crashPoolOptions());
if (observePath !== undefined) fs.writeFileSync(observePath, JSON.stringify(await observe(pool)));
for (const spec of STABLE_VOLUMES) {
  if (!pool.listVolumes().some((v) => v.name === spec.name)) {
    await pool.createVolume(spec);
    say(`CREATED ${spec.name}`);
  }
}
process.stdout.write('READY\n');

const QUEUE_DEPTH = 32;
/** Blocks with an operation in flight, per volume: overlapping operations never run together. */
const busy = new Map<string, Set<number>>();
let churnBusy = false;
let churnInflight = 0;

function pickVolume(): { name: string; vol: Volume } | null {
  const names = STABLE_VOLUMES.map((s) => s.name);
  if (!churnBusy && pool.listVolumes().some((v) => v.name === CHURN_VOLUME.name && v.state === 'online')) names.push(CHURN_VOLUME.name);
  const name = names[rnd(names.length)];
  return { name, vol: pool.openVolume(name) };
}

function claim(name: string, lba: number, count: number): boolean {
  let set = busy.get(name);
  if (set === undefined) { set = new Set(); busy.set(name, set); }
  for (let i = 0; i < count; i++) if (set.has(lba + i)) return false;
  for (let i = 0; i < count; i++) set.add(lba + i);
  return true;
}

function release(name: string, lba: number, count: number): void {
  const set = busy.get(name)!;
  for (let i = 0; i < count; i++) set.delete(lba + i);
}

async function churn(): Promise<void> {
  churnBusy = true;
  while (churnInflight > 0) await new Promise((r) => setTimeout(r, 1));
  const id = nextOp++;
  const exists = pool.listVolumes().some((v) => v.name === CHURN_VOLUME.name);
  if (exists) {
    say(`S ${id} D ${CHURN_VOLUME.name}`);
    await pool.deleteVolume(CHURN_VOLUME.name);
  } else {
    const thin = rnd(2) === 0;
    say(`S ${id} C ${CHURN_VOLUME.name}`);
    await pool.createVolume({ ...CHURN_VOLUME, thin });
  }
  say(`A ${id}`);
  churnBusy = false;
}

async function oneOp(): Promise<void> {
  const r = rnd(100);
  if (r < 2 && !churnBusy) return churn();
  const picked = pickVolume();
  if (picked === null) return;
  const { name, vol } = picked;
  const isChurn = name === CHURN_VOLUME.name;
  const maxBlocks = vol.blockSize === 512 ? 160 : 20;
  const count = 1 + rnd(maxBlocks);
  const lba = rnd(vol.blockCount - count);
  if (!claim(name, lba, count)) return;
  if (isChurn) churnInflight++;
  const id = nextOp++;
  try {
    if (r < 14) {
      say(`S ${id} U ${name} ${lba} ${count}`);
      await vol.unmap(lba, count);
    } else if (r < 17) {
      say(`S ${id} F ${name}`);
      await vol.flush();
    } else {
      const ver = nextVersion++;
      const data = Buffer.allocUnsafe(count * vol.blockSize);
      for (let i = 0; i < count; i++) blockPattern(vol.blockSize, ver).copy(data, i * vol.blockSize);
      say(`S ${id} W ${name} ${lba} ${count} ${ver}`);
      await vol.write(lba, data, rnd(10) === 0);
    }
    say(`A ${id}`);
  } catch (err) {
    say(`E ${id} ${errorCode(err) ?? String(err)}`);
  } finally {
    release(name, lba, count);
    if (isChurn) churnInflight--;
  }
}

async function lane(): Promise<void> {
  while (true) await oneOp();
}

for (let i = 0; i < QUEUE_DEPTH; i++) void lane();
