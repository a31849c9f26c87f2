import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';

/**
 * Tentative grains (format 5, docs/pool-format.md §12): a volume's first write into a
 * grain a snapshot shares is durable against kill -9 when it is acknowledged, not only
 * at the next flush; a power loss that kept the record but not the data falls back to
 * the base, never to zeros.
 */
const ES = 64 * KiB;
const BPE = ES / 512;
const GRAIN = 4 * KiB;

async function setup(t: { after: (fn: () => void) => void }): Promise<{ pool: Pool; file: string; base: Buffer }> {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'tank', sizeBytes: 32 * MiB, extentSize: ES });
  await pool.createVolume({ name: 'v', sizeBytes: 4 * ES });
  const base = pattern(4 * ES, 1);
  await pool.openVolume('v').write(0, base, false);
  await pool.createSnapshot('v', 's');
  return { pool, file, base };
}

async function reimport(t: { after: (fn: () => void) => void }, file: string): Promise<Pool> {
  const pool = await Pool.import(file);
  t.after(() => pool.close());
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  return pool;
}

/** Where grain `g` of the one partial extent that maps volume extent `l` lives in the file. */
function grainOffset(pool: Pool, l: number, g: number): number {
  const p = (pool as unknown as { model: { volumes: Map<number, { name: string; map: { get(l: number): number } }> } })
    .model;
  const v = [...p.volumes.values()].find((x) => x.name === 'v');
  assert.ok(v !== undefined);
  const q = v.map.get(l);
  assert.ok(pool.partial.has(q), 'the extent is partial');
  return pool.dataOffset + q * pool.extentSize + g * GRAIN;
}

test('acknowledged first writes into shared grains survive kill -9 without a flush (whole and part grains, rewrites)', async (t) => {
  const { pool, file, base } = await setup(t);
  const v = pool.openVolume('v');
  const want = Buffer.from(base);
  const w = async (lba: number, data: Buffer): Promise<void> => { await v.write(lba, data, false); data.copy(want, lba * 512); };
  await w(0, pattern(GRAIN, 2)); // a whole grain
  await w(BPE + 3, pattern(512, 3)); // one sector: merged with the base's grain
  await w(2 * BPE + 8, pattern(GRAIN, 4));
  await w(2 * BPE + 8, pattern(1024, 5)); // a rewrite of a grain not recorded yet
  await w(2 * BPE + 12, pattern(512, 6));
  await pool.abandon();
  const again = await reimport(t, file);
  assert.ok((await again.openVolume('v').read(0, 4 * BPE)).equals(want), 'every acknowledged write is there');
  const snap = await again.createVolumeFromSnapshot({ name: 'c', snapshot: 's' });
  assert.equal(snap.name, 'c');
  assert.ok((await again.openVolume('c').read(0, 4 * BPE)).equals(base), 'the snapshot is unchanged');
});

test('a grain whose data never reached the disk reads its base again, not zeros (power loss)', async (t) => {
  const { pool, file, base } = await setup(t);
  const v = pool.openVolume('v');
  await v.write(BPE, pattern(GRAIN, 7), false); // grain 0 of extent 1: its data will be "lost"
  await v.write(BPE + 8, pattern(512, 8), false); // grain 1 of extent 1: kept
  const lost = grainOffset(pool, 1, 0);
  await pool.abandon();
  // The TGRAIN record reached the journal, the grain's data did not: the extent is zeroed there.
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(GRAIN), 0, GRAIN, lost);
  fs.closeSync(fd);
  const again = await reimport(t, file);
  const got = await again.openVolume('v').read(0, 4 * BPE);
  const want = Buffer.from(base);
  pattern(512, 8).copy(want, (BPE + 8) * 512);
  assert.ok(got.equals(want), 'grain 0 reads the base (never zeros); grain 1 keeps its write');
});

test('grains written before a checkpoint are in it; an extent written whole frees its base after kill -9', async (t) => {
  const { pool, file, base } = await setup(t);
  const v = pool.openVolume('v');
  const want = Buffer.from(base);
  const whole = pattern(ES, 9);
  await v.write(3 * BPE, whole, false); // every grain of extent 3
  whole.copy(want, 3 * ES);
  await (pool as unknown as { journal: { checkpoint(): Promise<void> } }).journal.checkpoint();
  await v.write(3 * BPE + 1, pattern(512, 10), false); // after the checkpoint
  pattern(512, 10).copy(want, (3 * BPE + 1) * 512);
  await pool.abandon();
  const again = await reimport(t, file);
  assert.ok((await again.openVolume('v').read(0, 4 * BPE)).equals(want));
  await again.deleteSnapshot('s');
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  assert.equal(again.partial.size, 0, 'the extent written whole is no longer partial');
});

test('a volume that never flushes has its grains recorded within a second or so', async (t) => {
  const { pool } = await setup(t);
  t.after(() => pool.close());
  const v = pool.openVolume('v');
  await v.write(0, pattern(GRAIN, 11), false);
  const q = [...pool.partial.keys()][0];
  const part = pool.partial.get(q);
  assert.ok(part !== undefined && part.bits[0] === 0 && part.live[0] === 1);
  // Not a timing assertion on the machine's speed: it waits (up to 30 s) for the record.
  for (let i = 0; i < 300 && part.bits[0] === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(part.bits[0], 1);
});

test('grains kept by an import are recorded before new writes land on them (two kills in a row)', async (t) => {
  const { pool, file, base } = await setup(t);
  await pool.openVolume('v').write(0, pattern(GRAIN, 12), false);
  await pool.abandon();
  const second = await Pool.import(file);
  const q = [...second.partial.keys()][0];
  assert.equal(second.partial.get(q)?.bits[0], 1, 'the kept grain is recorded by the import');
  const v = second.openVolume('v');
  await v.write(1, pattern(512, 13), false); // in place now: no TGRAIN, no flush
  await second.abandon();
  const third = await reimport(t, file);
  const want = Buffer.from(base);
  pattern(GRAIN, 12).copy(want, 0);
  pattern(512, 13).copy(want, 512);
  assert.ok((await third.openVolume('v').read(0, 4 * BPE)).equals(want));
});

test('recording grains does not hold the journal, and writes over them stay tentative until the record is durable', { timeout: 60_000 }, async (t) => {
  const { pool, base } = await setup(t);
  t.after(() => pool.close());
  const v = pool.openVolume('v');
  await v.write(0, pattern(GRAIN, 14), false); // grain 0 of extent 0: tentative
  await pool.verify(); // nothing left running: the journal syncs below are the flush's
  const committed: number[] = [];
  const commit = pool.commit.bind(pool);
  pool.commit = (records, flags) => { for (const r of records) committed.push(r.type); return commit(records, flags); };
  const sync = pool.file.sync.bind(pool.file);
  let release!: () => void;
  const blocked = new Promise<void>((r) => { release = r; });
  let entered!: () => void;
  const inSync = new Promise<void>((r) => { entered = r; });
  pool.file.sync = async () => { entered(); await blocked; return sync(); };
  const flushed = v.flush();
  await inSync; // the GRAINS record is written; its durability point waits
  committed.length = 0;
  // A first write elsewhere goes through the journal meanwhile (the old flush held it in
  // a sync-before/durable batch: this would wait for the blocked fdatasync).
  await v.write(2 * BPE, pattern(GRAIN, 15), false);
  // A write over the grain being recorded still journals its CRC first.
  await v.write(1, pattern(512, 16), false);
  assert.deepEqual(committed.filter((x) => x === 17).length, 2, 'both writes claimed their grain (TGRAIN)');
  release();
  await flushed;
  pool.file.sync = sync;
  committed.length = 0;
  await v.write(2, pattern(512, 17), false);
  assert.deepEqual(committed, [], 'once recorded, a write goes in place');
  const want = Buffer.from(base);
  pattern(GRAIN, 14).copy(want, 0);
  pattern(512, 16).copy(want, 512);
  pattern(512, 17).copy(want, 1024);
  pattern(GRAIN, 15).copy(want, 2 * ES);
  assert.ok((await v.read(0, 4 * BPE)).equals(want));
});
