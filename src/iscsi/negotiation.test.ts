import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Negotiator, parseNumber, rfcDefaults, TARGET_PREFERENCES } from './negotiation.ts';
import { LoginFailure } from './errors.ts';

const answer = (pairs: Array<[string, string]>, discovery = false): Record<string, string> => Object.fromEntries(new Negotiator().respond(pairs, discovery));

test('list keys: digests pick the first offered value we support', () => {
  const n = new Negotiator();
  assert.deepEqual(n.respond([['HeaderDigest', 'CRC32C,None'], ['DataDigest', 'None,CRC32C']], false), [['HeaderDigest', 'CRC32C'], ['DataDigest', 'None']]);
  assert.equal(n.params.headerDigest, true);
  assert.equal(n.params.dataDigest, false);
  assert.equal(answer([['HeaderDigest', 'MD5']]).HeaderDigest, 'Reject');
});

test('numerical keys: min for bursts and R2T, max for Time2Wait, range checked', () => {
  const n = new Negotiator();
  const a = Object.fromEntries(n.respond([
    ['MaxBurstLength', '262144'], ['FirstBurstLength', '0x100000'], ['MaxOutstandingR2T', '64'], ['DefaultTime2Wait', '0'], ['DefaultTime2Retain', '5'], ['ErrorRecoveryLevel', '2'], ['MaxConnections', '8'],
  ], false));
  assert.equal(a.MaxBurstLength, '262144');
  assert.equal(a.FirstBurstLength, String(TARGET_PREFERENCES.firstBurstLength));
  assert.equal(a.MaxOutstandingR2T, '16');
  assert.equal(a.DefaultTime2Wait, '2');
  assert.equal(a.DefaultTime2Retain, '5');
  assert.equal(a.ErrorRecoveryLevel, '0');
  assert.equal(a.MaxConnections, '1');
  assert.ok(n.params.firstBurstLength <= n.params.maxBurstLength);
  assert.equal(answer([['MaxBurstLength', '100']]).MaxBurstLength, 'Reject');
  assert.equal(answer([['MaxBurstLength', '16777216']]).MaxBurstLength, 'Reject');
  assert.equal(answer([['MaxBurstLength', 'lots']]).MaxBurstLength, 'Reject');
  assert.equal(answer([['MaxOutstandingR2T', '0']]).MaxOutstandingR2T, 'Reject');
});

test('boolean keys: ImmediateData is AND, InitialR2T is OR', () => {
  assert.deepEqual(answer([['ImmediateData', 'Yes'], ['InitialR2T', 'No']]), { ImmediateData: 'Yes', InitialR2T: 'No' });
  assert.deepEqual(answer([['ImmediateData', 'No'], ['InitialR2T', 'Yes']]), { ImmediateData: 'No', InitialR2T: 'Yes' });
  assert.equal(answer([['ImmediateData', 'maybe']]).ImmediateData, 'Reject');
});

test('declarative MaxRecvDataSegmentLength records theirs and declares ours', () => {
  const n = new Negotiator();
  assert.deepEqual(n.respond([['MaxRecvDataSegmentLength', '65536']], false), [['MaxRecvDataSegmentLength', String(TARGET_PREFERENCES.targetMaxRecvDataSegmentLength)]]);
  assert.equal(n.params.initiatorMaxRecvDataSegmentLength, 65536);
  assert.equal(answer([['MaxRecvDataSegmentLength', '100']]).MaxRecvDataSegmentLength, 'Reject');
});

test('unknown keys get NotUnderstood, session keys in discovery Irrelevant, long values Reject', () => {
  assert.equal(answer([['X-com.example.thing', 'x']])['X-com.example.thing'], 'NotUnderstood');
  assert.equal(answer([['MaxBurstLength', '65536']], true).MaxBurstLength, 'Irrelevant');
  assert.equal(answer([['ImmediateData', 'Yes']], true).ImmediateData, 'Irrelevant');
  assert.equal(answer([['HeaderDigest', `None${',CRC32C'.repeat(50)}`]]).HeaderDigest, 'Reject');
  assert.equal(answer([['OFMarker', 'Yes']]).OFMarker, 'No');
  assert.equal(answer([['iSCSIProtocolLevel', '2']]).iSCSIProtocolLevel, '1');
  assert.equal(answer([['iSCSIProtocolLevel', '0']]).iSCSIProtocolLevel, '0');
  assert.equal(answer([['iSCSIProtocolLevel', 'x']]).iSCSIProtocolLevel, 'Reject');
});

test('a key negotiated twice fails the login with 02/00', () => {
  const n = new Negotiator();
  n.respond([['MaxBurstLength', '65536']], false);
  assert.throws(() => n.respond([['MaxBurstLength', '65536']], false), (e: unknown) => e instanceof LoginFailure && e.status === 0x0200);
});

test('defaults are RFC 7143 section 13 values; numbers parse as decimal or hex only', () => {
  const d = rfcDefaults();
  assert.equal(d.maxBurstLength, 262144);
  assert.equal(d.firstBurstLength, 65536);
  assert.equal(d.initialR2T, true);
  assert.equal(parseNumber('0x10'), 16);
  assert.equal(parseNumber('-1'), undefined);
  assert.equal(parseNumber('1e3'), undefined);
  assert.equal(parseNumber(''), undefined);
});
