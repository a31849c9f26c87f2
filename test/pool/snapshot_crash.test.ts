import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from '../../src/pool/index.ts';
import { SNAP_SOURCE, sectorGenerations } from './snapshot_crash_shared.ts';
import { runWorker } from './crash_child.ts';

/**
 * kill -9 a pool while it snapshots a volume under writes, clones the snapshots and
 * deletes old ones; after each kill, import and check: metadata is consistent and every
 * free extent reads zeros (a half-copied snapshot or clone was erased, not leaked); every
 * acknowledged snapshot and clone is there, nothing is there that was never started;
 * snapshots are ready and hold their generation (or the racing next one), clones equal
 * their snapshots.
 */
const ITERATIONS = Number(process.env.SNAPSHOT_CRASH_ITERATIONS ?? 12);
const here = path.dirname(new URL(import.meta.url).pathname);

/** What the logs allow: names that must exist and names that may. */
/** lastG: the newest generation written whole and acknowledged; maxW: the newest one started. */
interface Expect { must: Set<string>; may: Set<string>; gen: Map<string, number>; lastG: number; maxW: number }

function applyLog(e: Expect, lines: string[]): void {
  for (const line of lines) {
    const [kind, what, name, gen] = line.split(' ');
    if (kind === 'G') e.lastG = Number(what);
    if (kind === 'W') e.maxW = Math.max(e.maxW, Number(what));
    if (kind === 'S' && (what === 'snap' || what === 'clone')) { e.may.add(name); e.gen.set(name, Number(gen)); }
    if (kind === 'A' && (what === 'snap' || what === 'clone')) e.must.add(name);
    if (kind === 'S' && (what === 'dsnap' || what === 'dvol')) e.must.delete(name);
    if (kind === 'A' && (what === 'dsnap' || what === 'dvol')) e.may.delete(name);
  }
}

async function readAll(pool: Pool, name: string): Promise<number[]> {
  const v = pool.openVolume(name);
  return sectorGenerations(await v.read(0, v.blockCount));
}

async function check(pool: Pool, e: Expect, iteration: number): Promise<string[]> {
  const bad: string[] = [];
  const report = await pool.verify({ checkFreeZeroed: true });
  bad.push(...report.problems.map((p) => `fsck: ${p}`));
  const info = pool.info();
  if (info.usedBytes !== report.ownedExtents * 64 * 1024) bad.push(`used ${info.usedBytes} != referenced ${report.ownedExtents} extents`);
  const snaps = pool.listSnapshots();
  const clones = pool.listVolumes().filter((v) => v.name.startsWith('c-'));
  const present = new Set([...snaps.map((s) => s.name), ...clones.map((v) => v.name)]);
  for (const n of e.must) if (!present.has(n)) bad.push(`${n} was acknowledged but is gone`);
  for (const n of present) if (!e.may.has(n)) bad.push(`${n} exists but was never started or was deleted`);
  for (const s of snaps) if (s.state !== 'ready') bad.push(`snapshot ${s.name} is ${s.state} after import`);
  const snapData = new Map<string, number[]>();
  for (const s of snaps) {
    await pool.createVolumeFromSnapshot({ name: 'chk', snapshot: s.name });
    snapData.set(s.name, await readAll(pool, 'chk'));
    await pool.deleteVolume('chk');
  }
  const inRange = (name: string, gens: number[]): void => {
    const g = e.gen.get(name)!;
    const off = gens.findIndex((x) => x !== g && x !== g + 1);
    if (off >= 0) bad.push(`iteration ${iteration}: ${name} sector ${off} holds ${gens[off]}, expected ${g} or ${g + 1}`);
  };
  for (const [name, gens] of snapData) inRange(name, gens);
  for (const c of clones) {
    const gens = await readAll(pool, c.name);
    inRange(c.name, gens);
    const fromSnap = snapData.get(`s-${c.name.slice(2)}`);
    if (fromSnap !== undefined && fromSnap.join() !== gens.join()) bad.push(`clone ${c.name} differs from its snapshot`);
  }
  const srcGens = await readAll(pool, SNAP_SOURCE.name);
  // Every sector holds the last generation written whole or one started after it.
  const off = srcGens.findIndex((x) => x < e.lastG || x > Math.max(e.lastG, e.maxW));
  if (off >= 0) bad.push(`iteration ${iteration}: src sector ${off} holds ${srcGens[off]}, last full generation ${e.lastG}, newest started ${e.maxW}`);
  return bad;
}

test('snapshots and clones survive kill -9 at any moment', { timeout: 240_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'berth-snapcrash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const poolPath = path.join(dir, 'pool');
  const e: Expect = { must: new Set(), may: new Set(), gen: new Map(), lastG: 0, maxW: 0 };
  let snapshotsSeen = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const logPath = path.join(dir, `log-${i}`);
    const killAfter = 20 + Math.floor(Math.random() * 400);
    const r = await runWorker([path.join(here, 'snapshot_crash_worker.ts'), poolPath, logPath, String((i + 1) * 1_000_000)], killAfter);
    assert.equal(r.signal, 'SIGKILL', `worker ended by itself (code ${r.code}): ${r.err}`);
    const lines = fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => l.length > 0);
    applyLog(e, lines);
    snapshotsSeen += lines.filter((l) => l.startsWith('A snap')).length;
    const pool = await Pool.import(poolPath);
    try {
      assert.deepEqual(await check(pool, e, i), [], `after kill ${i} at ${killAfter} ms`);
    } finally {
      await pool.close();
    }
  }
  assert.ok(snapshotsSeen >= ITERATIONS, `only ${snapshotsSeen} snapshots were acknowledged: the kills came too early to test much`);
});
