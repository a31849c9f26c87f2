import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from '../../src/pool/index.ts';
import { EXTENT, SECTORS, VOLUME_BYTES, cowCrashPoolOptions, prng, sectorTags, tagged } from './cow_crash_shared.ts';

/**
 * The copy-on-write workload of the crash rounds without the kills, in one process, with
 * concurrent writes: after every step, each volume and snapshot must read exactly what
 * was written to it (no crash, so nothing may be lost), and the verifier must find
 * nothing; a clean close and import halfway must change nothing. Steps: COW_FUZZ_STEPS
 * (default 400, 3000 with BERTH_LONG_TESTS=1).
 */
const STEPS = Number(process.env.COW_FUZZ_STEPS ?? (process.env.BERTH_LONG_TESTS === '1' ? 3000 : 400));
const SPE = EXTENT / 512;

test(`copy-on-write: every volume and snapshot reads what was written, step by step (${STEPS} steps)`, { timeout: 600_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'berth-cowfuzz-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'pool');
  let pool = await Pool.create(file, cowCrashPoolOptions());
  const seed = Number(process.env.COW_FUZZ_SEED ?? Date.now() % 100_000);
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const vols = new Map<string, number[]>([['v0', new Array<number>(SECTORS).fill(0)]]);
  const snaps = new Map<string, number[]>();
  await pool.createVolume({ name: 'v0', sizeBytes: VOLUME_BYTES });
  let tag = 1;
  const read = async (name: string): Promise<number[]> => sectorTags(await pool.openVolume(name).read(0, SECTORS));
  const readSnap = async (name: string): Promise<number[]> => {
    await pool.createVolumeFromSnapshot({ name: 'zchk', snapshot: name });
    const got = await read('zchk');
    await pool.deleteVolume('zchk');
    return got;
  };
  const same = (got: number[], want: number[], what: string, step: number, log: string): void => {
    const s = got.findIndex((x, i) => x !== want[i]);
    assert.equal(s, -1, `seed ${seed} step ${step} (${log}): ${what} sector ${s} holds ${got[s]}, want ${want[s]}`);
  };
  for (let step = 0; step < STEPS; step++) {
    const r = rnd();
    const names = [...vols.keys()];
    const n = `${step}`;
    let log: string;
    if (r < 0.4) {
      // A few writes at once, to one or several volumes (they race each other, never overlap).
      const writes: Promise<void>[] = [];
      const parts: string[] = [];
      const used = new Set<string>();
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) {
        const vol = pick(names);
        const count = pick([1, 2, 3, 8, 9, 16, 64]);
        const lba = Math.floor(rnd() * (SECTORS - count));
        const key = (s: number): string => `${vol}:${s}`;
        let clash = false;
        for (let s = lba; s < lba + count; s++) if (used.has(key(s))) clash = true;
        if (clash) continue;
        for (let s = lba; s < lba + count; s++) used.add(key(s));
        const t0 = tag++;
        const content = vols.get(vol)!;
        for (let s = lba; s < lba + count; s++) content[s] = t0;
        writes.push(pool.openVolume(vol).write(lba, tagged(lba, count, t0), rnd() < 0.1));
        parts.push(`${vol}@${lba}+${count}`);
      }
      await Promise.all(writes);
      log = `writes ${parts.join(' ')}`;
    } else if (r < 0.5) {
      const vol = pick(names);
      await pool.openVolume(vol).flush();
      log = `flush ${vol}`;
    } else if (r < 0.62 && snaps.size < 4) {
      const vol = pick(names);
      await pool.createSnapshot(vol, `s${n}`);
      snaps.set(`s${n}`, vols.get(vol)!.slice());
      log = `snapshot ${vol} -> s${n}`;
    } else if (r < 0.68 && snaps.size > 0) {
      const s = pick([...snaps.keys()]);
      await pool.deleteSnapshot(s);
      snaps.delete(s);
      log = `delete snapshot ${s}`;
    } else if (r < 0.76 && vols.size < 4) {
      if (snaps.size > 0 && rnd() < 0.5) {
        const s = pick([...snaps.keys()]);
        await pool.createVolumeFromSnapshot({ name: `c${n}`, snapshot: s });
        vols.set(`c${n}`, snaps.get(s)!.slice());
        log = `clone ${s} -> c${n}`;
      } else {
        const vol = pick(names);
        await pool.cloneVolume({ name: `c${n}`, source: vol });
        vols.set(`c${n}`, vols.get(vol)!.slice());
        log = `clone ${vol} -> c${n}`;
      }
    } else if (r < 0.9) {
      const vol = pick(names);
      const whole = rnd() < 0.5;
      const lba = whole ? Math.floor(rnd() * (SECTORS / SPE - 1)) * SPE : Math.floor(rnd() * (SECTORS - 64));
      const count = whole ? SPE * (1 + Math.floor(rnd() * 2)) : 1 + Math.floor(rnd() * 63);
      await pool.openVolume(vol).unmap(lba, count);
      vols.get(vol)!.fill(0, lba, lba + count);
      log = `unmap ${vol}@${lba}+${count}`;
    } else if (vols.size > 1) {
      const vol = pick(names);
      await pool.deleteVolume(vol);
      vols.delete(vol);
      log = `delete volume ${vol}`;
    } else {
      continue;
    }
    for (const [name, want] of vols) same(await read(name), want, name, step, log);
    if (step % 10 === 0 || log.startsWith('delete')) {
      for (const [name, want] of snaps) same(await readSnap(name), want, `snapshot ${name}`, step, log);
      assert.deepEqual((await pool.verify()).problems, [], `seed ${seed} step ${step} (${log})`);
    }
    if (step === Math.floor(STEPS / 2)) {
      await pool.close();
      pool = await Pool.import(file);
    }
  }
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  await pool.close();
});
