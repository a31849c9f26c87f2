/** Shared checks of the snapshot crash suites: what the store and the engines hold once the control plane has recovered. */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { run, waitFor } from '../helpers/tools.ts';
import { ok, type ExportDoc } from '../engine/engine_kit.ts';
import type { Reply } from './control_plane_process.ts';

export const SLOW = 180_000;

export type StoredRecord = { spec: unknown; pending: { op: { type: string } } | null };

/** The control plane's records of snapshots and groups, read straight from its SQLite file (a pending create has no spec, so the API cannot show it). */
export function storeRecords(store: string): Map<string, StoredRecord> {
  const db = new DatabaseSync(store, { readOnly: true });
  try {
    const rows = db.prepare("SELECT key, value FROM kv WHERE key LIKE 'berth/v1/snapshot%'").all() as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as StoredRecord]));
  } finally {
    db.close();
  }
}

/** Snapshot names on every engine's pool `p`, as `node:name`. */
export async function engineSnapshots(engines: ReadonlyMap<string, EngineProcess>): Promise<string[]> {
  const out: string[] = [];
  for (const [n, e] of engines) {
    const r = await ok<{ snapshots: { name: string }[] }>(e.api, 'GET', '/v1/pools/p/snapshots');
    out.push(...r.snapshots.map((s) => `${n}:${s.name}`));
  }
  return out.sort();
}

/** A snapshot copy as its engine holds it: a volume made from it in pool `p`, read whole over iSCSI into `dir`. */
export async function readCopy(engines: ReadonlyMap<string, EngineProcess>, dir: string, snapshotId: string, poolId: string): Promise<Buffer> {
  const api = engines.get(poolId.slice(0, poolId.indexOf(':')))!.api;
  const name = `chk-${process.pid}-${snapshotId.slice(2, 12)}`;
  await ok(api, 'POST', '/v1/pools/p/volumes', { name, fromSnapshot: snapshotId });
  const ex = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'p', volume: name, allowedInitiators: null });
  const file = join(dir, `${name}.raw`);
  try {
    const r = await run('qemu-img', ['convert', '-O', 'raw', ex.url, file], { timeoutMs: SLOW, check: false });
    assert.equal(r.code, 0, r.stderr);
    return readFileSync(file);
  } finally {
    rmSync(file, { force: true });
    await ok(api, 'DELETE', `/v1/exports/p/${name}`, undefined, 204);
    await ok(api, 'DELETE', `/v1/pools/p/volumes/${name}`, undefined, 204);
  }
}

/** Retries a request the control plane refuses for now (OPERATION_IN_PROGRESS, NODE_OFFLINE) until it answers for good. */
export async function settled<T>(what: string, send: () => Promise<Reply<T>>): Promise<Reply<T>> {
  return await waitFor(what, async () => {
    const r = await send().catch(() => undefined);
    return r === undefined || r.status === 409 || r.status === 503 ? undefined : r;
  }, SLOW, 250);
}

/** One round's random choices in the snapshot crash suites. */
export interface CrashRound {
  readonly kind: 'create' | 'delete';
  /** Kill the engine n2 too (every other pair of rounds). */
  readonly killEngine: boolean;
  /** The fault point the control plane kills itself at, or none (a kill after planeDelay). */
  readonly fault: string | undefined;
  readonly planeDelay: number;
  readonly engineDelay: number;
  readonly engineDown: number;
  /** Names the round and its choices in every assertion, seed included. */
  readonly tag: string;
}

/**
 * Round r's choices, drawn from `rnd` in a fixed order (a seed replays them). Whatever
 * the seed, round 0 dies at the kind's first fault point, 1 likewise mid-delete, 2 with
 * the writes held, 3 at a random moment. `planeSpread` scales the random kill against a
 * typical request: up to 3x lands about half the kills after the commit.
 */
export function drawRound(r: number, rnd: () => number, seed: number, faults: { create: string[]; delete: string[] },
  typicalMs: { create: number; delete: number }, planeSpread: number): CrashRound {
  const kind = r % 2 === 0 ? 'create' : 'delete';
  const killEngine = r % 4 >= 2;
  const points = faults[kind];
  const drawn = rnd() < 0.4 ? points[Math.floor(rnd() * points.length)] : undefined;
  const fault = r < 2 ? points[0] : r === 2 ? 'snapshot-barrier:held' : r === 3 ? undefined : drawn;
  const planeDelay = Math.floor(rnd() * planeSpread * typicalMs[kind]);
  const engineDelay = Math.floor(rnd() * 1.5 * typicalMs[kind]);
  const engineDown = Math.floor(rnd() * 20_000);
  const tag = `round ${r} (seed ${seed}, ${kind}, ${fault ?? `kill after ${planeDelay} ms`}${killEngine ? `, n2 killed after ${engineDelay} ms for ${engineDown} ms` : ''})`;
  return { kind, killEngine, fault, planeDelay, engineDelay, engineDown, tag };
}

/** Waits until the store's record `key` is gone or no longer pending. */
export async function settledRecord(store: string, key: string, tag: string): Promise<'absent' | 'created'> {
  return await waitFor(`${tag}: the record settled`, () => {
    const s = storeRecords(store).get(key);
    return s === undefined ? 'absent' as const : s.pending === null ? 'created' as const : undefined;
  }, SLOW, 250);
}
