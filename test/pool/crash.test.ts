import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observed } from './crash_shared.ts';

/**
 * kill -9 a pool under heavy concurrent load at random moments, re-import it in a fresh
 * process (the next worker, which observes the pool before it changes anything; a
 * verifier after the last kill) and check every acknowledged write, unmap, create and delete is there, that
 * blocks hit by an unacknowledged operation hold either the old or the new contents, and
 * that metadata is consistent with every free extent reading as zeros.
 */
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 20);
const here = path.dirname(new URL(import.meta.url).pathname);

interface VolumeModel { exists: 'yes' | 'maybe'; blocks: Map<number, Set<number>> }
type Model = Map<string, VolumeModel>;
interface Op { kind: string; vol: string; lba: number; count: number; ver: number }

function cands(v: VolumeModel, b: number): Set<number> {
  let s = v.blocks.get(b);
  if (s === undefined) { s = new Set([0]); v.blocks.set(b, s); }
  return s;
}

/** Applies the worker's protocol lines to the model of what may be on disk. */
function applyLines(model: Model, lines: string[]): void {
  const ops = new Map<number, Op>();
  for (const line of lines) {
    const f = line.split(' ');
    if (f[0] === 'CREATED') model.set(f[1], { exists: 'yes', blocks: new Map() });
    if (f[0] === 'S') {
      const op: Op = { kind: f[2], vol: f[3], lba: Number(f[4] ?? 0), count: Number(f[5] ?? 0), ver: Number(f[6] ?? 0) };
      ops.set(Number(f[1]), op);
      const v = model.get(op.vol);
      if (op.kind === 'W' || op.kind === 'U') {
        for (let i = 0; i < op.count; i++) cands(v!, op.lba + i).add(op.kind === 'W' ? op.ver : 0);
      } else if (op.kind === 'D') {
        v!.exists = 'maybe';
        for (const s of v!.blocks.values()) s.add(0);
      } else if (op.kind === 'C') {
        model.set(op.vol, { exists: 'maybe', blocks: new Map() });
      }
    }
    if (f[0] === 'A') {
      const op = ops.get(Number(f[1]))!;
      const v = model.get(op.vol);
      if (op.kind === 'W' || op.kind === 'U') {
        for (let i = 0; i < op.count; i++) v!.blocks.set(op.lba + i, new Set([op.kind === 'W' ? op.ver : 0]));
      } else if (op.kind === 'D') model.delete(op.vol);
      else if (op.kind === 'C') v!.exists = 'yes';
    }
  }
}

function compare(model: Model, seen: Observed, iteration: number): string[] {
  const bad: string[] = [];
  for (const p of seen.problems) bad.push(`fsck: ${p}`);
  if (seen.usedBytes !== seen.allocatedBytes) bad.push(`used ${seen.usedBytes} != allocated ${seen.allocatedBytes}`);
  for (const [name, v] of model) if (v.exists === 'yes' && seen.volumes[name] === undefined) bad.push(`volume ${name} lost`);
  for (const [name, vol] of Object.entries(seen.volumes)) {
    const v = model.get(name);
    if (v === undefined) { bad.push(`volume ${name} exists but was deleted or never created`); continue; }
    if (vol.state !== 'online') bad.push(`volume ${name} is ${vol.state} after import`);
    vol.versions.forEach((ver, b) => {
      const ok = v.blocks.get(b) ?? new Set([0]);
      if (!ok.has(ver) && bad.length < 20) bad.push(`iteration ${iteration}: ${name} block ${b} holds ${ver}, expected one of ${[...ok].join(',')}`);
    });
  }
  return bad;
}

function run(args: string[], killAfterReadyMs: number | null): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (killAfterReadyMs !== null && timer === undefined && out.includes('READY\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterReadyMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ out, err, code }); });
    // A hung child is a failure, not a hung suite.
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  });
}

test('pool survives kill -9 at random moments with every acknowledged write intact', { timeout: 180_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'berth-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const poolPath = path.join(dir, 'pool');
  const model: Model = new Map();
  let acked = 0;
  const seed0 = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
  t.diagnostic(`seed ${seed0}`);
  const check = (seen: Observed, it: number, detail: string): void => {
    assert.deepEqual(compare(model, seen, it), [], `after kill ${it} (seed ${seed0}, ${detail})`);
    model.clear();
    for (const [name, vol] of Object.entries(seen.volumes)) {
      model.set(name, { exists: 'yes', blocks: new Map(vol.versions.map((ver, b) => [b, new Set([ver])])) });
    }
  };
  let detail = '';
  for (let it = 0; it < ITERATIONS; it++) {
    const wait = 80 + ((seed0 * 7919 + it * 104729) % 700);
    const logPath = path.join(dir, `log-${it}`);
    const observePath = path.join(dir, `seen-${it}`);
    const args = [path.join(here, 'crash_worker.ts'), poolPath, String(seed0 + it), String((it + 1) * 1_000_000), logPath];
    if (it > 0) args.push(observePath);
    const w = await run(args, wait);
    assert.ok(w.out.includes('READY'), `worker failed before READY: ${w.err}`);
    assert.equal(w.code, null, `worker exited by itself: ${w.err}`);
    if (it > 0) check(JSON.parse(fs.readFileSync(observePath, 'utf8')) as Observed, it - 1, detail);
    const lines = fs.readFileSync(logPath, 'utf8').split('\n');
    lines.pop(); // a line cut by the kill
    acked += lines.filter((l) => l.startsWith('A ')).length;
    applyLines(model, lines);
    detail = `kill after ${wait} ms`;
  }
  const v = await run([path.join(here, 'crash_verify.ts'), poolPath], null);
  assert.equal(v.code, 0, `verifier failed: ${v.err}`);
  check(JSON.parse(v.out) as Observed, ITERATIONS - 1, detail);
  t.diagnostic(`${ITERATIONS} kills, ${acked} acknowledged operations checked`);
  assert.ok(acked > ITERATIONS * 100, 'the workload did real work');
});
