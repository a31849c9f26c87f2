/**
 * The control plane's bearer authentication end to end (docs/security.md): one token
 * file shared by a control plane and an engine. The REST API refuses requests without
 * the token and keeps /v1/health open; the engine's heartbeats and the control plane's
 * calls to the engine carry the token (a pool created through the control plane comes
 * online); the token never reaches either log. A non-loopback listener without a token
 * does not start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine } from '../helpers/engine_process.ts';
import { nodeBin, repoRoot, waitFor } from '../helpers/tools.ts';
import { startControlPlane } from './control_plane_process.ts';
import { RestError, RestTransport } from '../../src/csi/rest_transport.ts';

async function call(url: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: unknown; wwwAuthenticate: string | null }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined, wwwAuthenticate: res.headers.get('www-authenticate') };
}

test('control plane with a token: 401 without it, health open, heartbeats and engine calls authenticated, token not logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cp-auth-'));
  const token = randomBytes(32).toString('hex');
  const previous = randomBytes(32).toString('hex');
  const tokenFile = join(dir, 'token');
  // Mid-rotation: the control plane accepts both, clients send the first.
  writeFileSync(tokenFile, `${token}\n${previous}\n`, { mode: 0o600 });
  const control = await startControlPlane({ store: `sqlite:${join(dir, 'cp.db')}`, args: ['--auth-token-file', tokenFile] });
  const engine = await startEngine({
    authToken: token,
    args: ['--control-plane', control.url, '--node-id', 'n1', '--labels', 'zone=z1,storageGroup=r1,media=ssd'],
  });
  try {
    assert.equal((await call(control.url, 'GET', '/v1/health', undefined)).status, 200);
    for (const t of [undefined, randomBytes(32).toString('hex')]) {
      for (const [method, path] of [['GET', '/v1/nodes'], ['GET', '/v1/volumes'], ['POST', '/v1/heartbeats'], ['DELETE', '/v1/volumes/x']]) {
        const r = await call(control.url, method, path, t);
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.match(r.wwwAuthenticate ?? '', /^Bearer/);
        assert.equal((r.body as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
      }
    }
    assert.equal((await call(control.url, 'GET', '/v1/nodes', previous)).status, 200, 'the second token of the file is accepted too');

    // The engine's heartbeat got through: the node is online.
    await waitFor('node n1 online', async () => {
      const r = await call(control.url, 'GET', '/v1/nodes/n1', token);
      return r.status === 200 && (r.body as { state?: { status?: string } }).state?.status === 'online' ? true : undefined;
    }, 20_000, 200);
    // The control plane's call to the engine API carries the token: the pool is made and reported.
    const made = await call(control.url, 'POST', '/v1/pools', token, { nodeId: 'n1', name: 'p1', sizeBytes: 64 * 2 ** 20 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const id = (made.body as { id: string }).id;
    await waitFor('pool online', async () => {
      const r = await call(control.url, 'GET', `/v1/pools/${encodeURIComponent(id)}`, token);
      return (r.body as { status?: string }).status === 'online' ? true : undefined;
    }, 15_000, 200);
    const direct = await call(engine.api, 'GET', '/v1/pools/p1', undefined);
    assert.equal(direct.status, 401, 'the engine itself demands the token');

    // The CSI plugin's REST client sends the token it is given, and without one is refused.
    const csi = await new RestTransport({ urls: [control.url], authToken: token }).request<{ nodes: unknown[] }>('GET', '/v1/nodes');
    assert.equal(csi.status, 200);
    await assert.rejects(new RestTransport({ urls: [control.url] }).request('GET', '/v1/nodes'), (err: unknown) => {
      assert.ok(err instanceof RestError);
      assert.equal(err.status, 401);
      assert.equal(err.restCode, 'UNAUTHENTICATED');
      return true;
    });
  } finally {
    const engineLog = engine.diagnostics();
    await engine.stop();
    await control.stop();
    const cpLog = control.diagnostics() + control.lines().join('\n');
    rmSync(dir, { recursive: true, force: true });
    for (const [name, log] of [['engine', engineLog], ['control plane', cpLog]]) {
      assert.ok(!log.includes(token) && !log.includes(previous), `the token is in the ${name} log`);
    }
    assert.match(cpLog, /api request refused: missing or wrong bearer token/);
  }
});

test('deny by default: the control plane refuses a non-loopback --listen without a token, naming the flags', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cp-auth-'));
  try {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(nodeBin, [join(repoRoot, 'src', 'control', 'main.ts'), '--listen', '0.0.0.0:0', '--store', `sqlite:${join(dir, 'cp.db')}`],
        { cwd: repoRoot, env: { ...process.env, BERTH_AUTH_TOKEN_FILE: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('error', reject);
      child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--listen 0\.0\.0\.0 is not a loopback address.*--auth-token-file.*--insecure-no-auth/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
