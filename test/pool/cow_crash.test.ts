import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from '../../src/pool/index.ts';
import { SECTORS, sectorTags } from './cow_crash_shared.ts';
import { runWorker } from './crash_child.ts';

/**
 * Crash rounds for copy-on-write (docs/pool-format.md §12): each round a worker runs
 * random snapshot/clone/write/unmap/delete steps and is killed with SIGKILL at a random
 * moment; the pool is then imported and checked: the verifier finds nothing (reference
 * counts equal the references, free extents read zeros); every acknowledged entry is
 * there and nothing that was never started or was deleted; every sector of every volume
 * holds its last acknowledged write (flushed or not: kill -9 must not lose it) or the one
 * in flight — never zeros or another write's data; every snapshot holds exactly
 * the volume as it was when it was taken. The next round starts from what is on disk.
 *
 * Rounds: COW_CRASH_ROUNDS, else 60 with BERTH_LONG_TESTS=1, else 10.
 */
const ROUNDS = Number(process.env.COW_CRASH_ROUNDS ?? (process.env.BERTH_LONG_TESTS === '1' ? 60 : 10));
const here = path.dirname(new URL(import.meta.url).pathname);

interface VolState { durable: number[]; pending: [number, number][][]; must: boolean; may: boolean; flushAt: number }
interface SnapState { content: number[]; must: boolean; may: boolean }
interface State { vols: Map<string, VolState>; snaps: Map<string, SnapState> }

function newVol(content: number[], must: boolean): VolState {
  return { durable: content.slice(), pending: content.map(() => []), must, may: true, flushAt: -1 };
}

function cur(v: VolState): number[] {
  return v.durable.map((d, s) => (v.pending[s].length > 0 ? v.pending[s][v.pending[s].length - 1][1] : d));
}

/** Everything written before log line `at` is durable now. */
function promote(v: VolState, at: number): void {
  v.pending.forEach((list, s) => {
    const keep = list.filter(([seq]) => seq >= at);
    const before = list.filter(([seq]) => seq < at);
    if (before.length > 0) v.durable[s] = before[before.length - 1][1];
    v.pending[s] = keep;
  });
}

function applyLog(st: State, lines: string[], counts: Map<string, number>): void {
  const starts = new Map<string, number>();
  lines.forEach((line, seq) => {
    const f = line.split(' ');
    const [phase, kind] = f;
    if (phase === 'A') counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const vol = (name: string): VolState => {
      const v = st.vols.get(name);
      if (v === undefined) throw new Error(`log names unknown volume ${name}`);
      return v;
    };
    if (kind === 'create') {
      if (phase === 'S') st.vols.set(f[2], newVol(new Array<number>(SECTORS).fill(0), false)); else vol(f[2]).must = true;
    } else if (kind === 'w' || kind === 'u') {
      const v = vol(f[2]);
      const lba = Number(f[3]);
      const tag = kind === 'w' ? Number(f[5]) : 0;
      // Acknowledged means durable against kill -9, flush or not (steps run one at a time,
      // so nothing issued before it is still pending on these sectors).
      for (let s = lba; s < lba + Number(f[4]); s++) {
        if (phase === 'S') v.pending[s].push([seq, tag]);
        else { v.durable[s] = tag; v.pending[s] = []; }
      }
    } else if (kind === 'f') {
      if (phase === 'S') vol(f[2]).flushAt = seq; else promote(vol(f[2]), vol(f[2]).flushAt);
    } else if (kind === 'snap') {
      if (phase === 'S') {
        st.snaps.set(f[3], { content: cur(vol(f[2])), must: false, may: true });
        starts.set(f[3], seq);
      } else {
        st.snaps.get(f[3])!.must = true;
        promote(vol(f[2]), starts.get(f[3])!);
      }
    } else if (kind === 'dsnap') {
      const s = st.snaps.get(f[2])!;
      if (phase === 'S') s.must = false; else s.may = false;
    } else if (kind === 'clone') {
      if (phase === 'S') {
        const content = f[2] === 's' ? st.snaps.get(f[3])!.content : cur(vol(f[3]));
        st.vols.set(f[4], newVol(content, false));
        starts.set(f[4], seq);
      } else {
        vol(f[4]).must = true;
        if (f[2] === 'v') promote(vol(f[3]), starts.get(f[4])!);
      }
    } else if (kind === 'dvol') {
      const v = vol(f[2]);
      if (phase === 'S') v.must = false; else v.may = false;
    }
  });
}

async function tagsOf(pool: Pool, name: string): Promise<number[]> {
  const v = pool.openVolume(name);
  return sectorTags(await v.read(0, v.blockCount));
}

/** Checks the imported pool against the expectations; returns problems and the state on disk now. */
async function check(pool: Pool, st: State): Promise<{ bad: string[]; next: State }> {
  const bad: string[] = [];
  bad.push(...(await pool.verify({ checkFreeZeroed: true })).problems.map((p) => `verify: ${p}`));
  const vols = new Set(pool.listVolumes().map((v) => v.name));
  const snaps = new Set(pool.listSnapshots().map((s) => s.name));
  for (const [name, e] of [...st.vols, ...st.snaps]) {
    const present = vols.has(name) || snaps.has(name);
    if (e.must && !present) bad.push(`${name} was acknowledged but is gone`);
    if (present && !e.may) bad.push(`${name} exists but was deleted`);
  }
  for (const name of [...vols, ...snaps]) if (!st.vols.has(name) && !st.snaps.has(name)) bad.push(`${name} exists but was never started`);
  const next: State = { vols: new Map(), snaps: new Map() };
  for (const name of vols) {
    const tags = await tagsOf(pool, name);
    const v = st.vols.get(name);
    if (v !== undefined) {
      const s = tags.findIndex((t, i) => t !== v.durable[i] && !v.pending[i].some(([, p]) => p === t));
      if (s >= 0) {
        bad.push(`${name} sector ${s} holds ${tags[s]}; acknowledged ${v.durable[s]}, in flight [${v.pending[s].map(([, p]) => p).join(',')}]`);
      }
    }
    next.vols.set(name, newVol(tags, true));
  }
  for (const name of snaps) {
    await pool.createVolumeFromSnapshot({ name: 'zchk', snapshot: name });
    const tags = await tagsOf(pool, 'zchk');
    await pool.deleteVolume('zchk');
    const want = st.snaps.get(name)?.content;
    const s = want === undefined ? -1 : tags.findIndex((t, i) => t !== want[i]);
    if (s >= 0) bad.push(`snapshot ${name} sector ${s} holds ${tags[s]}, it was ${want![s]} when taken`);
    next.snaps.set(name, { content: tags, must: true, may: true });
  }
  return { bad, next };
}

test(`copy-on-write survives kill -9 at random points of every operation (${ROUNDS} rounds)`, { timeout: 60_000 + ROUNDS * 20_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'berth-cowcrash-'));
  // COW_CRASH_KEEP=1 keeps the pool and the round logs for a post-mortem.
  t.after(() => { if (process.env.COW_CRASH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true }); });
  const poolPath = path.join(dir, 'pool');
  let st: State = { vols: new Map(), snaps: new Map() };
  const counts = new Map<string, number>();
  const killedIn = new Map<string, number>();
  const seed0 = Number(process.env.COW_CRASH_SEED ?? Date.now() % 100_000);
  for (let i = 0; i < ROUNDS; i++) {
    const seed = seed0 * 1000 + i;
    const logPath = path.join(dir, `log-${i}`);
    const killAfter = 30 + Math.floor(Math.random() * 600);
    const r = await runWorker([path.join(here, 'cow_crash_worker.ts'), poolPath, logPath, String(seed), String(i)], killAfter);
    assert.equal(r.signal, 'SIGKILL', `worker ended by itself (code ${r.code}): ${r.err}`);
    const lines = fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => l.length > 0);
    applyLog(st, lines, counts);
    // Which step the kill interrupted (its start logged, its acknowledgement not).
    const last = lines[lines.length - 1]?.split(' ') ?? [];
    const cut = last[0] === 'S' ? last[1] : 'between steps';
    killedIn.set(cut, (killedIn.get(cut) ?? 0) + 1);
    const pool = await Pool.import(poolPath);
    try {
      const { bad, next } = await check(pool, st);
      assert.deepEqual(bad, [], `round ${i} (seed ${seed}, ${dir}), killed after ${killAfter} ms; last steps:\n${lines.slice(-6).join('\n')}`);
      st = next;
    } finally {
      await pool.close();
    }
  }
  const summary = [...counts].sort().map(([k, n]) => `${k}=${n}`).join(' ');
  const kills = [...killedIn].sort().map(([k, n]) => `${k}=${n}`).join(' ');
  t.diagnostic(`${ROUNDS} rounds, 0 verifier problems, 0 lost acknowledged writes; acknowledged steps: ${summary}; killed during: ${kills}`);
  assert.ok((counts.get('snap') ?? 0) > 0 && (counts.get('w') ?? 0) > ROUNDS, `too little happened before the kills: ${summary}`);
});
