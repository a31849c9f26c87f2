/**
 * Copy-on-write snapshots (docs/pool-format.md §12): how long a snapshot and a clone take
 * on a small and a large volume (in-process pool on /dev/shm, medians of a few rounds),
 * the space a snapshot holds before and after 10% of the volume is overwritten, and, with
 * fio against an engine, 4k randwrite QD32 IOPS with no snapshot, right after one (first
 * writes to shared grains) and after a full overwrite pass, plus fio's longest write
 * completion while a snapshot is taken under that load (bench/snapshot_pause.ts), with
 * the pool on /dev/shm and on disk.
 */
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from '../src/pool/index.ts';
import { markdownTable } from './bench_table.ts';
import { WRITTEN_NEEDS_BYTES, freeBytes, writtenWholeFigures } from './snapshot_written.ts';
import { startTarget, TargetKind } from './targets.ts';
import { deleteSnapshot, fio, latencyRounds, latencyRows, PASS, RANDWRITE, snapshotVia } from './snapshot_pause.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface SnapshotCowOptions {
  /** fio with libiscsi, for the IOPS and latency rows; omitted: those rows are skipped. */
  fio?: string;
  quick: boolean;
  log: (s: string) => void;
  /** Directory on disk for the latency rounds with the pool file on disk (default: the OS temp dir). */
  diskDir?: string;
}

const ms = (x: number): string => x.toFixed(1);
const ms2 = (x: number): string => x.toFixed(2);
const us = (x: number): string => (x * 1000).toFixed(0);
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** Maps every extent of `name`: whole data, or one 4 KiB write per extent (the same map, almost no host space). */
async function fill(pool: Pool, name: string, sizeBytes: number, whole: boolean): Promise<void> {
  const v = pool.openVolume(name);
  const es = pool.extentSize;
  const buf = Buffer.alloc(whole ? es : 4096, 0x5a);
  for (let at = 0; at < sizeBytes;) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < 32 && at < sizeBytes; i++, at += es) batch.push(v.write(at / 512, buf, false));
    await Promise.all(batch);
  }
  await v.flush();
}

interface CreateTimes { snapshotMs: number; cloneMs: number }

async function timeCreates(pool: Pool, vol: string, rounds: number): Promise<CreateTimes> {
  const snaps: number[] = [];
  const clones: number[] = [];
  // Round -1 warms the JIT up and is not counted.
  for (let r = -1; r < rounds; r++) {
    let t = performance.now();
    await pool.createSnapshot(vol, `t${r}`);
    if (r >= 0) snaps.push(performance.now() - t);
    t = performance.now();
    await pool.createVolumeFromSnapshot({ name: `tc${r}`, snapshot: `t${r}` });
    if (r >= 0) clones.push(performance.now() - t);
    await pool.deleteVolume(`tc${r}`);
    await pool.deleteSnapshot(`t${r}`);
  }
  return { snapshotMs: median(snaps), cloneMs: median(clones) };
}

/** A pool of `sizeBytes` plus room for copy-ups (`spare`, default 256 MiB). */
async function withPool<T>(dir: string, sizeBytes: number, fn: (pool: Pool) => Promise<T>, spare = 256 * MiB): Promise<T> {
  const pool = await Pool.create(join(dir, `p${sizeBytes}`), { name: 'cow', sizeBytes: sizeBytes + spare });
  try {
    return await fn(pool);
  } finally {
    await pool.close();
    rmSync(join(dir, `p${sizeBytes}`), { force: true });
  }
}

async function poolFigures(o: SnapshotCowOptions): Promise<string> {
  const dir = mkdtempSync('/dev/shm/berth-cow-bench-');
  const rounds = o.quick ? 3 : 7;
  try {
    const rows: string[][] = [];
    const cases: { label: string; size: number; whole: boolean }[] = [
      { label: '1 GiB, written whole', size: GiB, whole: true },
      { label: '1 GiB, every extent mapped', size: GiB, whole: false },
      { label: '16 GiB, every extent mapped', size: 16 * GiB, whole: false },
    ];
    const times = new Map<string, CreateTimes>();
    for (const c of cases) {
      o.log(`snapshot/clone create: ${c.label}`);
      const t = await withPool(dir, c.size, async (pool) => {
        await pool.createVolume({ name: 'v', sizeBytes: c.size });
        await fill(pool, 'v', c.size, c.whole);
        return timeCreates(pool, 'v', rounds);
      });
      times.set(c.label, t);
      rows.push([c.label, ms2(t.snapshotMs), ms2(t.cloneMs)]);
    }
    const big = times.get(cases[2].label)!;
    const small = times.get(cases[1].label)!;
    const whole = times.get(cases[0].label)!;
    rows.push(['ratio 16 GiB / 1 GiB (mapped)', (big.snapshotMs / small.snapshotMs).toFixed(2), (big.cloneMs / small.cloneMs).toFixed(2)]);
    rows.push(['ratio 16 GiB mapped / 1 GiB written whole', (big.snapshotMs / whole.snapshotMs).toFixed(2), (big.cloneMs / whole.cloneMs).toFixed(2)]);
    const createTable = markdownTable(['volume', `snapshot create, ms (median of ${rounds})`, 'clone from snapshot, ms'], rows);

    o.log('snapshot space: untouched, then 10% overwritten');
    const space = await withPool(dir, GiB, async (pool) => {
      await pool.createVolume({ name: 'v', sizeBytes: GiB });
      await fill(pool, 'v', GiB, true);
      await pool.createSnapshot('v', 's');
      const untouched = pool.snapshotInfo('s').exclusiveBytes;
      const v = pool.openVolume('v');
      const tenth = Math.floor(GiB / 10 / MiB) * MiB;
      for (let at = 0; at < tenth; at += MiB) await v.write(at / 512, Buffer.alloc(MiB, 1), false);
      await v.flush();
      const seq = pool.snapshotInfo('s').exclusiveBytes;
      // A second, lone snapshot: grains shared by two snapshots belong to neither alone.
      await pool.deleteSnapshot('s');
      await pool.createSnapshot('v', 'r');
      // 10% of the volume's 4 KiB grains, at random, each written once.
      const grains = GiB / 4096;
      const picked = new Set<number>();
      while (picked.size < grains / 10) picked.add(Math.floor(Math.random() * grains));
      const list = [...picked];
      for (let i = 0; i < list.length; i += 64) await Promise.all(list.slice(i, i + 64).map((g) => v.write(g * 8, Buffer.alloc(4096, 2), false)));
      await v.flush();
      return { untouched, seq, tenth, random: pool.snapshotInfo('r').exclusiveBytes, randomWant: list.length * 4096 };
    }, 1.5 * GiB);
    const spaceTable = markdownTable(['1 GiB volume, written whole', 'snapshot holds', 'expected'], [
      ['snapshot of the untouched volume', `${space.untouched} B`, '0'],
      [`first ${space.tenth / MiB} MiB (10%) overwritten, 1 MiB writes`, `${(space.seq / MiB).toFixed(1)} MiB`, `${(space.tenth / MiB).toFixed(1)} MiB`],
      ['10% of the 4 KiB grains overwritten at random (a new snapshot, the first deleted)', `${(space.random / MiB).toFixed(1)} MiB`, `${(space.randomWant / MiB).toFixed(1)} MiB`],
    ]);
    return `${createTable}\n\n${spaceTable}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates thin 1 MiB volumes c{from}..c{to-1}, 64 at a time (group commit, as many clients would). */
async function createMany(pool: Pool, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 64) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(to, i + 64); k++) batch.push(pool.createVolume({ name: `c${k}`, sizeBytes: MiB }));
    await Promise.all(batch);
  }
}

/** Catalogue scale (§7 of issue 12): create, list, delete and snapshot at 1k and 60k entries. */
async function catalogueFigures(o: SnapshotCowOptions): Promise<string> {
  const dir = mkdtempSync('/dev/shm/berth-cat-bench-');
  const sample = 200;
  try {
    return await withPool(dir, 4 * GiB, async (pool) => {
      const rows: string[][] = [];
      let have = 0;
      for (const target of [1000, 60_000]) {
        o.log(`catalogue: growing to ${target} entries`);
        await createMany(pool, have, target - sample);
        have = target - sample;
        let t = performance.now();
        for (let k = have; k < target; k++) await pool.createVolume({ name: `c${k}`, sizeBytes: MiB });
        const createMs = (performance.now() - t) / sample;
        have = target;
        t = performance.now();
        const listed = pool.listVolumes().length;
        const listMs = performance.now() - t;
        t = performance.now();
        await pool.createSnapshot('c0', `cs${target}`);
        const snapMs = performance.now() - t;
        await pool.deleteSnapshot(`cs${target}`);
        t = performance.now();
        for (let k = target - sample; k < target; k++) await pool.deleteVolume(`c${k}`);
        const deleteMs = (performance.now() - t) / sample;
        await createMany(pool, target - sample, target);
        rows.push([String(listed), us(createMs), us(deleteMs), ms(listMs), ms2(snapMs)]);
      }
      return markdownTable(['entries in the pool', `create, µs each (${sample}, one at a time)`, `delete, µs each (${sample})`, 'list all, ms', 'snapshot create, ms'], rows);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Rounds of: no snapshot; a snapshot, then random writes each the first to its grain
 * (fio's random map); a full overwrite pass, then random writes again; the snapshot
 * deleted. Ratios are per round (the machine is shared: neighbouring runs see the same
 * load), medians across rounds. Then runs with a snapshot taken mid-run, for fio's max
 * completion latency, beside runs without one.
 */
async function fioFigures(fioBin: string, o: SnapshotCowOptions): Promise<string> {
  const size = GiB;
  const runtimeS = o.quick ? 5 : 8;
  const rounds = o.quick ? 1 : 3;
  const loadRounds = o.quick ? 1 : 5;
  // Room for a full copy of the volume: after a snapshot, every extent written copies up.
  const t = await startTarget(TargetKind.berth, { baseDir: '/dev/shm', sizeBytes: size, blockSize: 512, thin: true, poolBytes: 3 * size });
  let shm: string;
  try {
    o.log('cow fio: pre-fill 1 GiB');
    await fio(fioBin, t.url, PASS, ['--end_fsync=1']);
    const base: number[] = [];
    const after: number[] = [];
    const rewritten: number[] = [];
    const apiMs: number[] = [];
    let errors = 0;
    for (let r = 0; r < rounds; r++) {
      const b = await fio(fioBin, t.url, RANDWRITE, [], runtimeS);
      apiMs.push(await snapshotVia(t, `r${r}`));
      const a = await fio(fioBin, t.url, RANDWRITE, ['randommap'], runtimeS);
      await fio(fioBin, t.url, PASS, ['--end_fsync=1']);
      const w = await fio(fioBin, t.url, RANDWRITE, [], runtimeS);
      await deleteSnapshot(t, `r${r}`);
      errors += b.errors + a.errors + w.errors;
      base.push(b.iops);
      after.push(a.iops / b.iops);
      rewritten.push(w.iops / b.iops);
      o.log(`cow fio round ${r}: ${Math.round(b.iops)} IOPS no snapshot, ×${(a.iops / b.iops).toFixed(2)} right after one, ×${(w.iops / b.iops).toFixed(2)} after a pass`);
    }
    const lat = await latencyRounds(fioBin, t, { rounds: loadRounds, runtimeS, log: o.log });
    const list = (xs: number[]): string => xs.map(ms).join(' / ');
    const rows = [
      ['IOPS with no snapshot (each round)', base.map((x) => String(Math.round(x))).join(' / ')],
      ['right after a snapshot (every write the first to its grain) ÷ no snapshot, median', median(after).toFixed(2)],
      ['after one full overwrite pass ÷ no snapshot, median', median(rewritten).toFixed(2)],
      ['snapshot create through the API, idle volume, ms (each round)', list(apiMs)],
      ...latencyRows(lat),
      ['fio write errors, all runs', String(errors + lat.errors)],
    ];
    shm = markdownTable([`4k randwrite QD32, 1 GiB thin volume on /dev/shm, ${runtimeS} s runs, ${rounds} IOPS round(s), ${loadRounds} latency round(s)`, 'figure'], rows);
  } finally {
    await t.stop();
  }
  return `${shm}\n\n${await onDisk(fioBin, o, loadRounds, runtimeS)}`;
}

/**
 * The latency rounds again with the pool file on disk, where the fdatasyncs of a
 * snapshot's pause cost what the volume's dirty data costs to write back.
 */
async function onDisk(fioBin: string, o: SnapshotCowOptions, rounds: number, runtimeS: number): Promise<string> {
  const dir = resolve(o.diskDir ?? tmpdir());
  const t = await startTarget(TargetKind.berth, { baseDir: dir, sizeBytes: GiB, blockSize: 512, thin: true, poolBytes: 3 * GiB });
  try {
    o.log(`cow fio: pool on disk (${dir}), pre-fill 1 GiB`);
    await fio(fioBin, t.url, PASS, ['--end_fsync=1']);
    const lat = await latencyRounds(fioBin, t, { rounds, runtimeS, log: o.log });
    return markdownTable([`the same, pool file on disk (${dir}), ${rounds} latency round(s)`, 'figure'],
      [...latencyRows(lat), ['fio write errors, all runs', String(lat.errors)]]);
  } finally {
    await t.stop();
  }
}

/** The "Copy-on-write snapshots" section of docs/benchmarks.md. */
export async function snapshotCowSection(o: SnapshotCowOptions): Promise<string> {
  const shm = statfsSync('/dev/shm');
  const freeGiB = (shm.bavail * shm.bsize) / GiB;
  const parts = ['## Copy-on-write snapshots', '',
    'bench/snapshot_cow.ts. Snapshot and clone create are timed on an in-process pool (1 MiB extents) on /dev/shm; '
    + '"every extent mapped" writes 4 KiB into each extent, which gives the volume the same extent map as writing it whole '
    + '(a snapshot copies the map, never data) while needing almost no memory: writing 16 GiB of data would take 16 GiB of tmpfs '
    + `on a shared 24 GiB machine (${freeGiB.toFixed(0)} GiB free in /dev/shm at the start). `
    + 'The machine is shared with other jobs: compare within a run.', ''];
  parts.push(await poolFigures(o));
  const diskDir = resolve(o.diskDir ?? tmpdir());
  mkdirSync(diskDir, { recursive: true });
  if (freeBytes(diskDir) >= WRITTEN_NEEDS_BYTES) {
    parts.push('', await writtenWholeFigures({ dir: diskDir, quick: o.quick, log: o.log }));
  } else {
    parts.push('', `Volumes written whole: skipped, ${diskDir} has less than ${(WRITTEN_NEEDS_BYTES / GiB).toFixed(0)} GiB free.`);
  }
  parts.push('', 'Catalogue: a 4 GiB pool (65,536 table entries), thin 1 MiB volumes, on /dev/shm; each create and delete is durable (journaled with fdatasync).', '');
  parts.push(await catalogueFigures(o));
  if (o.fio !== undefined) {
    parts.push('', await fioFigures(o.fio, o).catch((err: Error & { stderr?: string }) => {
      o.log(`cow fio failed: ${err.message}\n${err.stderr ?? ''}`);
      return `fio rows failed: ${err.message.split('\n')[0]}`;
    }));
  } else {
    parts.push('', 'fio rows skipped: no fio with libiscsi (scripts/build-fio.sh).');
  }
  return parts.join('\n');
}
