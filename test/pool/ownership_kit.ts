/**
 * Shared pieces of the pool ownership suites: engines that share a pool directory, with
 * a short heartbeat so the bounded wait is short too (its length is asserted as a lower
 * bound only, never as a speed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { call, type Answer } from '../engine/engine_kit.ts';

export const HEARTBEAT_MS = 100;
/** docs/pool-format.md: an importer that cannot ask the kernel watches 10 intervals. */
export const IMPORT_WAIT_MS = 10 * HEARTBEAT_MS;
/** An engine in a pid namespace of its own: to it, every other engine is on "another host". */
export const OTHER_PID_NAMESPACE = ['unshare', '--pid', '--fork', '--kill-child=SIGTERM', '--mount-proc'];

export interface Shared {
  dir: string;
  engines: EngineProcess[];
  start(nodeId: string, opts?: { wrap?: string[]; dataDir?: string; heartbeatMs?: number }): Promise<EngineProcess>;
  cleanup(): Promise<void>;
}

/** A directory every engine may keep pools in, and the engines started on it (stopped by cleanup). */
export function shared(tag: string): Shared {
  const dir = mkdtempSync(join(tmpdir(), `berth-own-${tag}-${process.pid}-`));
  const engines: EngineProcess[] = [];
  return {
    dir,
    engines,
    async start(nodeId, opts = {}) {
      const e = await startEngine({
        poolRoots: [dir], readyTimeoutMs: 60_000,
        args: ['--pool-heartbeat-ms', String(opts.heartbeatMs ?? HEARTBEAT_MS), '--node-id', nodeId],
        ...(opts.wrap ? { wrap: opts.wrap } : {}), ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      });
      engines.push(e);
      return e;
    },
    async cleanup() {
      for (const e of engines) {
        try { process.kill(e.pid, 'SIGCONT'); } catch { /* gone already */ }
        await e.stop().catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type ErrorBody = { error: { code: string; message: string } };

/** Asserts a POOL_IN_USE refusal that names the holder's node id. */
export function assertInUse(r: Answer<ErrorBody>, holderNodeId: string): void {
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.error.code, 'POOL_IN_USE', r.text);
  assert.match(r.body.error.message, new RegExp(`engine ${holderNodeId} on \\S+ \\(pid \\d+\\)`), r.text);
}

export async function poolState(api: string, name: string): Promise<{ state: string; reason?: string } | undefined> {
  const r = await call<{ pools: { name: string; state: string; reason?: string }[] }>(api, 'GET', '/v1/pools');
  return r.body.pools.find((p) => p.name === name);
}

/** Two imports of one path at once, from two engines: exactly one may win. */
export async function raceImport(a: EngineProcess, b: EngineProcess, path: string): Promise<{ winner: EngineProcess; loser: EngineProcess; refusal: Answer<ErrorBody> }> {
  const [ra, rb] = await Promise.all([
    call<ErrorBody>(a.api, 'POST', '/v1/pools/import', { path }),
    call<ErrorBody>(b.api, 'POST', '/v1/pools/import', { path }),
  ]);
  assert.deepEqual([ra.status, rb.status].sort(), [201, 409], `a: ${ra.text}\nb: ${rb.text}`);
  return ra.status === 201 ? { winner: a, loser: b, refusal: rb } : { winner: b, loser: a, refusal: ra };
}
