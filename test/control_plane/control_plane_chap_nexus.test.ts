/**
 * CHAP on a replicated volume's nexus export, with real processes sharing one cluster
 * token: a control plane and two engines (whose nexus reaches the remote replica over
 * the token-authenticated replica protocol). Publishing with `chap` makes the nexus's
 * export demand it: libiscsi without credentials is refused, with them it reads and
 * writes through the mirror; the engines and the control plane show user names only.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { run, waitFor } from '../helpers/tools.ts';
import { startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { INITIATOR, MiB } from './cp_kit.ts';

const TOKEN = randomBytes(32).toString('hex');
const CHAP = { user: 'nexus-initiator', secret: `nexus-chap-${randomBytes(10).toString('hex')}` };
const dir = mkdtempSync(join(tmpdir(), `berth-cp-chap-${process.pid}-`));
let plane: ControlPlaneProcess | undefined;
const engines: EngineProcess[] = [];

after(async () => {
  await plane?.stop();
  for (const e of engines) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, text, json: (text.startsWith('{') ? JSON.parse(text) : undefined) as T };
}

test('a 2-replica volume published with CHAP: the nexus export demands it; with the secret the mirror reads and writes', { timeout: 240_000 }, async () => {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}`, args: ['--auth-token-file', tokenFile] });
  const url = plane.url;
  for (const n of ['n1', 'n2']) {
    engines.push(await startEngine({
      authToken: TOKEN, args: ['--control-plane', url, '--node-id', n, '--labels', `zone=z-${n},storageGroup=r1,initiatorIqn=${INITIATOR}`, '--replica-listen', '127.0.0.1:0'],
    }));
    await waitFor(`node ${n} online`, async () => ((await api<{ state?: { status?: string } }>(url, 'GET', `/v1/nodes/${n}`)).json?.state?.status === 'online' ? true : undefined), 30_000, 200);
    const pool = await api<{ id: string }>(url, 'POST', '/v1/pools', { nodeId: n, name: 'p', sizeBytes: 64 * MiB });
    assert.equal(pool.status, 201, pool.text);
    await waitFor(`pool on ${n} online`, async () => ((await api<{ status: string }>(url, 'GET', `/v1/pools/${encodeURIComponent(pool.json.id)}`)).json?.status === 'online' ? true : undefined), 30_000, 200);
  }
  const made = await api<{ id: string; replicaStates: Array<{ nodeId: string }> }>(url, 'POST', '/v1/volumes', { name: 'pvc-chap-nexus', sizeBytes: 8 * MiB, replicas: 2, spread: { domain: 'zone', strict: true } });
  assert.equal(made.status, 201, made.text);
  const front = made.json.replicaStates[0].nodeId;
  const pub = await api<{ target: { iqn: string; portal: string }; chap: unknown; nexus?: unknown }>(url, 'POST', `/v1/volumes/${made.json.id}/publish`, { nodeId: front, chap: CHAP });
  assert.equal(pub.status, 200, pub.text);
  assert.deepEqual(pub.json.chap, { user: CHAP.user });
  const { iqn, portal } = pub.json.target;

  const bare = await run('iscsi-inq', ['-i', INITIATOR, `iscsi://${portal}/${iqn}/0`], { check: false });
  assert.notEqual(bare.code, 0, 'no credentials: refused');
  assert.match(bare.stdout + bare.stderr, /Authentication failure/);
  const good = await run('iscsi-inq', ['-i', INITIATOR, `iscsi://${CHAP.user}%${CHAP.secret}@${portal}/${iqn}/0`], { check: false });
  assert.equal(good.code, 0, good.stdout + good.stderr);

  // Through the mirror, with the password in a 0600 file rather than on the command line.
  const secretFile = join(dir, 'chap.secret');
  writeFileSync(secretFile, CHAP.secret, { mode: 0o600 });
  const opts = `driver=iscsi,transport=tcp,portal=${portal},target=${iqn},lun=0,initiator-name=${INITIATOR},user=${CHAP.user},password-secret=chap`;
  const io = await run('qemu-io', ['--object', `secret,id=chap,file=${secretFile}`, '--image-opts', '-c', 'write -P 0x5c 0 1M', '-c', 'read -P 0x5c 0 1M', opts], { timeoutMs: 120_000, check: false });
  assert.equal(io.code, 0, io.stdout + io.stderr);
  assert.doesNotMatch(io.stdout + io.stderr, /error|fail|mismatch/i);

  const frontEngine = engines[['n1', 'n2'].indexOf(front)];
  const mirror = await api<{ replicas: Array<{ local: boolean; state: string }> }>(frontEngine.api, 'GET', `/v1/nexus/${made.json.id}`);
  assert.deepEqual(mirror.json.replicas.map((r) => [r.local, r.state]).sort(), [[false, 'online'], [true, 'online']], 'the remote replica joined over the token-authenticated replica protocol');
  const exports = await api<{ exports: Array<{ pool: string; chap?: unknown }> }>(frontEngine.api, 'GET', '/v1/exports');
  assert.deepEqual(exports.json.exports.find((e) => e.pool === '_nexus')?.chap, { user: CHAP.user }, 'the nexus export');
  for (const [what, text] of [['volume', pub.text], ['exports', exports.text], ['control-plane log', plane.lines().join('\n')], ['engine logs', engines.map((e) => e.diagnostics()).join('\n')]]) {
    assert.ok(!text.includes(CHAP.secret), `${what} holds the CHAP secret`);
  }
});
