import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { FailureLogLimiter, installBearerAuth } from './http_auth.ts';
import type { Logger } from './log.ts';

const TOKEN = 'k'.repeat(64);
const NEXT = 'n'.repeat(64);

function recordingLogger(): { logger: Logger; lines: unknown[][] } {
  const lines: unknown[][] = [];
  const logger = { warn: (...a: unknown[]) => lines.push(a), info: () => {}, debug: () => {}, error: () => {} } as unknown as Logger;
  return { logger, lines };
}

async function app(logger: Logger) {
  const a = Fastify();
  installBearerAuth(a, { tokens: [TOKEN, NEXT], openRoutes: ['/v1/health'] }, logger);
  a.get('/v1/health', async () => ({ status: 'ok' }));
  a.get('/v1/pools', async () => ({ pools: [] }));
  a.post('/v1/pools', async () => ({ made: true }));
  await a.ready();
  return a;
}

test('401 with WWW-Authenticate and a stable code without or with a wrong token; either configured token passes', async () => {
  const { logger, lines } = recordingLogger();
  const a = await app(logger);
  try {
    for (const authorization of [undefined, 'Bearer s3cr3tGuess', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const res = await a.inject({ method: 'GET', url: '/v1/pools', headers: authorization ? { authorization } : {} });
      assert.equal(res.statusCode, 401, String(authorization));
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
      assert.equal(res.json().error.code, 'UNAUTHENTICATED');
      assert.ok(!res.body.includes('s3cr3tGuess') && !res.body.includes(TOKEN));
    }
    // A body is not even read without a token.
    const post = await a.inject({ method: 'POST', url: '/v1/pools', payload: { name: 'x' } });
    assert.equal(post.statusCode, 401);
    assert.equal((await a.inject({ url: '/v1/pools', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
    assert.equal((await a.inject({ url: '/v1/pools', headers: { authorization: `bearer ${NEXT}` } })).statusCode, 200);
    // Unknown routes are closed too: no map of the API for strangers.
    assert.equal((await a.inject({ url: '/v1/nothing' })).statusCode, 401);
    assert.equal((await a.inject({ url: '/v1/nothing', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404);
    // The log names the remote address, never what was sent, and only once per window.
    assert.equal(lines.length, 1);
    assert.ok(!JSON.stringify(lines).includes('s3cr3tGuess') && !JSON.stringify(lines).includes(TOKEN));
    assert.ok('remote' in (lines[0][0] as object));
  } finally {
    await a.close();
  }
});

test('the health route stays open, also with a query string; other methods on it do not', async () => {
  const a = await app(recordingLogger().logger);
  try {
    assert.equal((await a.inject({ url: '/v1/health' })).statusCode, 200);
    assert.equal((await a.inject({ url: '/v1/health?x=1' })).statusCode, 200);
    assert.equal((await a.inject({ method: 'DELETE', url: '/v1/health' })).statusCode, 401);
  } finally {
    await a.close();
  }
});

test('failure log limiter: one line per window, then the count held back', () => {
  const l = new FailureLogLimiter(1000);
  assert.equal(l.admit(0), 0);
  assert.equal(l.admit(10), undefined);
  assert.equal(l.admit(999), undefined);
  assert.equal(l.admit(1000), 2);
  assert.equal(l.admit(5000), 0);
});
