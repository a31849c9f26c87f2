/**
 * The engine API's bearer authentication end to end (docs/security.md): a real engine
 * with a token file refuses requests without the token, accepts the token, keeps the
 * probes' health endpoint open, the CLI sends the token from --token-file, and the token
 * never reaches the log. Deny by default: a non-loopback API without a token does not start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine } from '../helpers/engine_process.ts';
import { apiRequest } from '../helpers/api.ts';
import { nodeBin, repoRoot } from '../helpers/tools.ts';

const CLI = join(repoRoot, 'src', 'cli', 'main.ts');
const ENGINE = join(repoRoot, 'src', 'engine', 'main.ts');

function run(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, args, { cwd: repoRoot, env: { ...process.env, BERTH_AUTH_TOKEN_FILE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('with a token the engine API answers 401 without it, 200 with it, keeps /v1/health open and never logs it', async () => {
  const token = randomBytes(32).toString('hex');
  const next = randomBytes(32).toString('base64url');
  const engine = await startEngine({ authToken: token, logLevel: 'debug' });
  const dir = mkdtempSync(join(tmpdir(), 'berth-auth-'));
  try {
    const health = await fetch(`${engine.api}/v1/health`);
    assert.equal(health.status, 200);
    await health.text();
    for (const headers of [{}, { authorization: `Bearer ${next}` }, { authorization: `Bearer ${token.slice(0, -1)}` }, { authorization: token }]) {
      for (const path of ['/v1/pools', '/metrics', '/v1/openapi.json', '/v1/no-such-route']) {
        const res = await fetch(`${engine.api}${path}`, { headers });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(Object.keys(headers))}`);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        const body = await res.json() as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'UNAUTHENTICATED');
        assert.ok(!JSON.stringify(body).includes(next) && !JSON.stringify(body).includes(token.slice(0, 20)));
      }
    }
    const del = await fetch(`${engine.api}/v1/pools/p1`, { method: 'DELETE' });
    assert.equal(del.status, 401);
    await del.text();

    // The helper registered the token for this URL: the test client sends it.
    await apiRequest(engine.api, 'POST', '/v1/pools', { name: 'p1', sizeBytes: 64 * 2 ** 20 });
    const pools = await fetch(`${engine.api}/v1/pools`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(pools.status, 200);
    assert.equal((await pools.json() as { pools: { name: string }[] }).pools[0].name, 'p1');
    const metrics = await fetch(`${engine.api}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(metrics.status, 200);
    await metrics.text();

    // The CLI: --token-file or BERTH_AUTH_TOKEN_FILE; without either a clear error.
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const ok = await run([CLI, '--api', engine.api, '--token-file', tokenFile, '-o', 'json', 'pool', 'list']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /"p1"/);
    const viaEnv = await run([CLI, '--api', engine.api, 'pool', 'list'], { BERTH_AUTH_TOKEN_FILE: tokenFile });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const denied = await run([CLI, '--api', engine.api, 'pool', 'list']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /UNAUTHENTICATED/);
    assert.match(denied.stderr, /--token-file/);
    for (const r of [ok, viaEnv, denied]) assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the CLI printed the token');
    // A file holding a wrong token is refused without echoing it.
    writeFileSync(tokenFile, 'short-and-secret\n');
    const bad = await run([CLI, '--api', engine.api, 'pool', 'list', '--token-file', tokenFile]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /AUTH_CONFIG/);
    assert.ok(!bad.stderr.includes('short-and-secret'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const log = engine.diagnostics();
    await engine.stop();
    assert.match(log, /api request refused: missing or wrong bearer token/);
    assert.match(log, /"remote":"127\.0\.0\.1"/);
    assert.ok(!log.includes(token), 'the token is in the engine log');
    assert.ok(!log.includes(next), 'a presented token is in the engine log');
  }
});

test('deny by default: a non-loopback API without a token refuses to start, naming the flag; --insecure-no-auth starts with a warning', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-auth-data-'));
  try {
    const refused = await run([ENGINE, '--data-dir', dataDir, '--api-listen', '0.0.0.0:0', '--iscsi-listen', '127.0.0.1:0']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /--api-listen 0\.0\.0\.0 is not a loopback address.*--auth-token-file/);
    assert.doesNotMatch(refused.stdout, /engine ready/);

    const engine = await startEngine({ dataDir, args: ['--api-listen', '0.0.0.0:0', '--insecure-no-auth'] });
    try {
      const log = engine.diagnostics();
      assert.match(log, /"level":40[^\n]*WITHOUT authentication/);
      const port = new URL(engine.api).port;
      const res = await fetch(`http://127.0.0.1:${port}/v1/pools`);
      assert.equal(res.status, 200);
      await res.text();
    } finally {
      await engine.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
