import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthConfigError, MIN_TOKEN_CHARS, TokenVerifier, decideListenAuth, isLoopbackHost, parseBearer, parseTokenFile,
} from './auth_token.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(43);

test('token file: one or two tokens, whitespace and blank lines ignored, first line first', () => {
  assert.deepEqual(parseTokenFile(`${A}\n`), [A]);
  assert.deepEqual(parseTokenFile(`\n  ${B}  \r\n\n${A}\n`), [B, A]);
});

test('token file: empty, too many, too short, too long or odd characters are refused without echoing the content', () => {
  const secretish = 'x'.repeat(MIN_TOKEN_CHARS - 1);
  for (const text of ['', '\n \n', `${A}\n${A}\n${A}`, secretish, 'y'.repeat(2000), `${'z'.repeat(50)} ${'z'.repeat(50)}`, `${'q'.repeat(50)}"`]) {
    assert.throws(() => parseTokenFile(text), (err: unknown) => {
      assert.ok(err instanceof AuthConfigError);
      assert.equal(err.code, 'AUTH_CONFIG');
      assert.ok(!err.message.includes('xxxxxxxx') && !err.message.includes('zzzzzzzz') && !err.message.includes('qqqqqqqq'), err.message);
      return true;
    }, JSON.stringify(text.slice(0, 20)));
  }
});

test('bearer header: scheme case-insensitive, exactly one token', () => {
  assert.equal(parseBearer(`Bearer ${A}`), A);
  assert.equal(parseBearer(`bearer   ${A}`), A);
  assert.equal(parseBearer(undefined), undefined);
  assert.equal(parseBearer(''), undefined);
  assert.equal(parseBearer('Bearer'), undefined);
  assert.equal(parseBearer(`Basic ${A}`), undefined);
  assert.equal(parseBearer(`Bearer ${A} extra`), undefined);
  assert.equal(parseBearer(`Bearer ${'c'.repeat(5000)}`), undefined);
});

test('verifier: accepts each configured token, nothing else', () => {
  const v = new TokenVerifier([A, B]);
  assert.equal(v.verify(A), true);
  assert.equal(v.verify(B), true);
  assert.equal(v.verify(undefined), false);
  assert.equal(v.verify(''), false);
  assert.equal(v.verify(A.slice(1)), false);
  assert.equal(v.verify(`${A}a`), false);
  assert.equal(v.verify(A.toUpperCase()), false);
  assert.equal(JSON.stringify({ v }), '{"v":"[TokenVerifier]"}');
  assert.throws(() => new TokenVerifier([]), AuthConfigError);
});

test('loopback: 127/8, ::1 and localhost only', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', 'engine.local', '128.0.0.1', '127.0.0.1.nip.io']) assert.equal(isLoopbackHost(h), false, h);
});

test('deny by default: a non-loopback listener without a token refuses to start, naming the flags', () => {
  const base = { listenFlag: '--api-listen', tokenConfigured: false, insecureNoAuth: false };
  assert.equal(decideListenAuth({ ...base, host: '127.0.0.1' }), 'loopback-open');
  assert.equal(decideListenAuth({ ...base, host: '0.0.0.0', tokenConfigured: true }), 'authenticated');
  assert.equal(decideListenAuth({ ...base, host: '127.0.0.1', tokenConfigured: true }), 'authenticated');
  assert.equal(decideListenAuth({ ...base, host: '10.1.2.3', insecureNoAuth: true }), 'insecure-open');
  assert.throws(() => decideListenAuth({ ...base, host: '0.0.0.0' }), (err: unknown) => {
    assert.ok(err instanceof AuthConfigError);
    assert.match(err.message, /--api-listen 0\.0\.0\.0/);
    assert.match(err.message, /--auth-token-file/);
    assert.match(err.message, /BERTH_AUTH_TOKEN_FILE/);
    assert.match(err.message, /--insecure-no-auth/);
    return true;
  });
});
