import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChapAuthenticator, chapResponse, decodeBinary } from './chap.ts';
import { LoginFailure } from './errors.ts';

const cfg = { user: 'alice', secret: 'alice-secret-12', mutualUser: 'target', mutualSecret: 'target-secret-34' };
const fixed = (n: number): Buffer => Buffer.alloc(n, 0x5a);

test('chapResponse is MD5(id || secret || challenge) (RFC 1994), checked with node:crypto', () => {
  const challenge = Buffer.from('0123456789abcdef', 'hex');
  const want = createHash('md5').update(Buffer.concat([Buffer.of(7), Buffer.from('s3cret'), challenge])).digest();
  assert.deepEqual(chapResponse(7, 's3cret', challenge), want);
  // A fixed vector, so the construction itself cannot drift.
  assert.equal(chapResponse(1, 'secret', Buffer.from('00112233', 'hex')).toString('hex'), createHash('md5').update(Buffer.from('01736563726574' + '00112233', 'hex')).digest('hex'));
});

test('binary values decode from 0x hex and 0b base64', () => {
  assert.deepEqual(decodeBinary('0x0a0B'), Buffer.from([10, 11]));
  assert.deepEqual(decodeBinary('0x abc'), undefined);
  assert.deepEqual(decodeBinary('0bAAE='), Buffer.from([0, 1]));
  assert.equal(decodeBinary('zz'), undefined);
});

function exchange(a: ChapAuthenticator): { id: number; challenge: Buffer } {
  const out = Object.fromEntries(a.start('7,5'));
  assert.equal(out.CHAP_A, '5');
  return { id: Number(out.CHAP_I), challenge: decodeBinary(out.CHAP_C)! };
}

test('one-way CHAP accepts the right response and answers nothing more', () => {
  const a = new ChapAuthenticator(cfg, fixed);
  const { id, challenge } = exchange(a);
  const r = `0x${chapResponse(id, cfg.secret, challenge).toString('hex')}`;
  assert.deepEqual(a.verify(new Map([['CHAP_N', 'alice'], ['CHAP_R', r]])), []);
});

test('mutual CHAP answers the initiator challenge with the mutual secret', () => {
  const a = new ChapAuthenticator(cfg, fixed);
  const { id, challenge } = exchange(a);
  const r = `0x${chapResponse(id, cfg.secret, challenge).toString('hex')}`;
  const mine = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const out = Object.fromEntries(a.verify(new Map([['CHAP_N', 'alice'], ['CHAP_R', r], ['CHAP_I', '9'], ['CHAP_C', `0x${mine.toString('hex')}`]])));
  assert.equal(out.CHAP_N, 'target');
  assert.deepEqual(decodeBinary(out.CHAP_R), chapResponse(9, cfg.mutualSecret, mine));
});

test('CHAP failures are 02/01 and never mention secrets', () => {
  const fails = (fn: () => unknown, code: string): void => {
    assert.throws(fn, (e: unknown) => e instanceof LoginFailure && e.status === 0x0201 && e.code === code && !e.message.includes('secret-'));
  };
  const a = new ChapAuthenticator(cfg, fixed);
  const { id, challenge } = exchange(a);
  const good = `0x${chapResponse(id, cfg.secret, challenge).toString('hex')}`;
  fails(() => a.verify(new Map([['CHAP_N', 'alice'], ['CHAP_R', '0x00']])), 'CHAP_BAD_RESPONSE');
  fails(() => a.verify(new Map([['CHAP_N', 'mallory'], ['CHAP_R', good]])), 'CHAP_BAD_RESPONSE');
  fails(() => a.verify(new Map([['CHAP_N', 'alice'], ['CHAP_R', good], ['CHAP_I', '1'], ['CHAP_C', `0x${challenge.toString('hex')}`]])), 'CHAP_REFLECTION');
  fails(() => a.verify(new Map([['CHAP_N', 'alice'], ['CHAP_R', good], ['CHAP_I', '1']])), 'CHAP_MUTUAL_INCOMPLETE');
  const oneWay = new ChapAuthenticator({ user: 'alice', secret: cfg.secret }, fixed);
  const ex = exchange(oneWay);
  const r = `0x${chapResponse(ex.id, cfg.secret, ex.challenge).toString('hex')}`;
  fails(() => oneWay.verify(new Map([['CHAP_N', 'alice'], ['CHAP_R', r], ['CHAP_I', '1'], ['CHAP_C', '0x0102']])), 'CHAP_MUTUAL_NOT_CONFIGURED');
  fails(() => new ChapAuthenticator(cfg).start('6,7'), 'CHAP_ALGORITHM');
});
