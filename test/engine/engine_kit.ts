/**
 * Shared pieces of the engine suites: a raw API caller that keeps status and error code,
 * the `berth` CLI, qemu-io, and a scratch directory. Real processes only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { repoRoot, run, type RunResult } from '../helpers/tools.ts';

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
}

/** One API call; never throws on an HTTP error, so tests can assert status and code. */
export async function call<T = Record<string, unknown>>(api: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(new URL(path, api), {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined; // /metrics is text; callers of such routes read `text`.
  }
  return { status: res.status, body: parsed as T, text };
}

/** Like `call`, but the status must be `expected` (the body's error is shown when not). */
export async function ok<T = Record<string, unknown>>(api: string, method: string, path: string, body?: unknown, expected?: number): Promise<T> {
  const r = await call<T>(api, method, path, body);
  const want = expected ?? (method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200);
  assert.equal(r.status, want, `${method} ${path}: ${r.text}`);
  return r.body;
}

/** Asserts an API error: HTTP status and the stable code. */
export async function refused(api: string, method: string, path: string, body: unknown, status: number, code: string): Promise<void> {
  const r = await call<{ error: { code: string; message: string } }>(api, method, path, body);
  assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
  assert.equal(r.body.error.code, code, r.text);
  assert.equal(typeof r.body.error.message, 'string');
}

export interface ExportDoc {
  pool: string;
  volume: string;
  targetIqn: string;
  lun: number;
  portal: string;
  url: string;
}

/** A pool (sparse file under the engine's data dir), a volume in it and its export. */
export async function provision(api: string, o: {
  pool: string; poolBytes?: number; extentSize?: number; volume: string; volumeBytes: number; thin?: boolean;
  exportSpec?: Record<string, unknown> | false; createPool?: boolean;
}): Promise<ExportDoc | undefined> {
  if (o.createPool !== false) {
    await ok(api, 'POST', '/v1/pools', {
      name: o.pool, sizeBytes: o.poolBytes ?? GiB, ...(o.extentSize ? { extentSize: o.extentSize } : {}),
    });
  }
  await ok(api, 'POST', `/v1/pools/${o.pool}/volumes`, { name: o.volume, sizeBytes: o.volumeBytes, thin: o.thin ?? true });
  if (o.exportSpec === false) return undefined;
  return ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: o.pool, volume: o.volume, allowedInitiators: null, ...o.exportSpec });
}

/** Runs `bin/berth --api API args…` (the real launcher, so the sh wrapper is tested too). */
export function berth(api: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(join(repoRoot, 'bin', 'berth'), ['--api', api, ...args], { check: false, env: { ...process.env, ...env }, timeoutMs: 30_000 });
}

/** Runs qemu-io commands against an iscsi:// URL; resolves with the output. */
export function qemuIo(url: string, commands: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url], {
    check: false, timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** qemu-io prints failures and pattern mismatches on its output; its exit code alone is not enough. */
export function assertQemuOk(r: RunResult, what: string): void {
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, `${what}: qemu-io exited ${r.code}\n${out}`);
  assert.doesNotMatch(out, /failed|error|Pattern verification/i, `${what}\n${out}`);
}

/** A scratch directory removed when `fn` ends, pass or fail. */
export async function withTmp<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `berth-${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An initiator name unique to this run, for ACL tests. */
export function initiatorName(tag: string): string {
  return `iqn.2026-11.io.berth.test:${tag}-${process.pid}`;
}

/** iscsi-readcapacity16 -s: the LUN's size in bytes as the initiator sees it. */
export async function readCapacityBytes(url: string, initiator?: string): Promise<number> {
  const r = await run('iscsi-readcapacity16', [...(initiator ? ['-i', initiator] : []), '-s', url], { timeoutMs: 20_000 });
  const n = Number(r.stdout.trim());
  assert.ok(Number.isSafeInteger(n), `iscsi-readcapacity16 -s printed '${r.stdout}'`);
  return n;
}
