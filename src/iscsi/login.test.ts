import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginStateMachine, type LoginHost, type LoginRequest, type LoginResult, type LoginTarget } from './login.ts';
import { chapResponse, decodeBinary } from './chap.ts';
import { encodeText } from './text.ts';

const T1 = 'iqn.2026-01.io.berth:t1';
const INIT = 'iqn.2026-01.io.test:init';

function host(targets: LoginTarget[], extra: Partial<LoginHost> = {}): LoginHost & { results: LoginResult[] } {
  const results: LoginResult[] = [];
  return {
    findTarget: (iqn) => targets.find((t) => t.iqn === iqn),
    discoveryChap: undefined,
    targetPortalGroupTag: 1,
    complete: (r) => (results.push(r), 7),
    results,
    ...extra,
  };
}

function req(p: Partial<LoginRequest>): LoginRequest {
  return { transit: true, continue: false, csg: 0, nsg: 1, versionMax: 0, versionMin: 0, isid: '400001370000', tsih: 0, itt: 1, cid: 0, cmdSN: 10, expStatSN: 0, ...p };
}

const text = (o: Record<string, string>): Buffer => encodeText(Object.entries(o));

test('normal login: security (None) → operational → full feature, TSIH from the host', () => {
  const h = host([{ iqn: T1 }]);
  const m = new LoginStateMachine(h);
  const r1 = m.handle(req({}), text({ InitiatorName: INIT, TargetName: T1, SessionType: 'Normal', AuthMethod: 'None' }));
  assert.equal(r1.status, 0);
  assert.equal(r1.transit, true);
  assert.equal(r1.nsg, 1);
  const a1 = Object.fromEntries(r1.pairs);
  assert.equal(a1.AuthMethod, 'None');
  assert.equal(a1.TargetPortalGroupTag, '1');
  const r2 = m.handle(req({ csg: 1, nsg: 3 }), text({ HeaderDigest: 'None', MaxRecvDataSegmentLength: '65536', ImmediateData: 'Yes' }));
  assert.equal(r2.status, 0);
  assert.equal(r2.tsih, 7);
  assert.equal(r2.nsg, 3);
  assert.ok(Object.fromEntries(r2.pairs).MaxRecvDataSegmentLength);
  assert.equal(h.results[0].params.initiatorMaxRecvDataSegmentLength, 65536);
  assert.equal(h.results[0].cmdSN, 10);
});

test('login failures carry the RFC 7143 status class and detail', () => {
  const status = (targets: LoginTarget[], keys: Record<string, string>, r: Partial<LoginRequest> = {}): number =>
    new LoginStateMachine(host(targets)).handle(req(r), text(keys)).status;
  assert.equal(status([], { InitiatorName: INIT, TargetName: T1 }), 0x0203);
  assert.equal(status([{ iqn: T1, allowedInitiators: [] }], { InitiatorName: INIT, TargetName: T1 }), 0x0202);
  assert.equal(status([{ iqn: T1, allowedInitiators: ['iqn.other'] }], { InitiatorName: INIT, TargetName: T1 }), 0x0202);
  assert.equal(status([{ iqn: T1 }], { TargetName: T1 }), 0x0207);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT }), 0x0207);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT, TargetName: `iqn.${'x'.repeat(300)}` }), 0x0207);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT, TargetName: T1 }, { versionMin: 2 }), 0x0205);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT, TargetName: T1, SessionType: 'Weird' }), 0x0209);
  assert.equal(status([{ iqn: T1, chap: { user: 'u', secret: 's' } }], { InitiatorName: INIT, TargetName: T1, AuthMethod: 'None' }), 0x0201);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT, TargetName: T1 }, { csg: 3 }), 0x0200);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT, TargetName: T1 }, { nsg: 2 }), 0x0200);
  assert.equal(status([{ iqn: T1 }], { InitiatorName: INIT, TargetName: T1, 'bad key': 'x' }), 0x0200);
});

test('CHAP login: AuthMethod=CHAP, CHAP_A, then CHAP_N/CHAP_R with transit', () => {
  const chap = { user: 'u1', secret: 'secret-one-12' };
  const m = new LoginStateMachine(host([{ iqn: T1, chap }]));
  const r1 = m.handle(req({ transit: false }), text({ InitiatorName: INIT, TargetName: T1, AuthMethod: 'CHAP,None' }));
  assert.equal(Object.fromEntries(r1.pairs).AuthMethod, 'CHAP');
  const r2 = Object.fromEntries(m.handle(req({ transit: false }), text({ CHAP_A: '5' })).pairs);
  const resp = chapResponse(Number(r2.CHAP_I), chap.secret, decodeBinary(r2.CHAP_C)!);
  // Transit requested before auth completes is held back (T=0), not granted.
  const r3 = m.handle(req({}), text({ CHAP_N: 'u1', CHAP_R: `0x${resp.toString('hex')}` }));
  assert.equal(r3.status, 0);
  assert.equal(r3.transit, true);
});

test('a transit out of security without authentication is refused when CHAP is required', () => {
  const m = new LoginStateMachine(host([{ iqn: T1, chap: { user: 'u', secret: 's' } }]));
  const r = m.handle(req({}), text({ InitiatorName: INIT, TargetName: T1 }));
  assert.equal(r.status, 0x0201);
  const skip = new LoginStateMachine(host([{ iqn: T1, chap: { user: 'u', secret: 's' } }]));
  assert.equal(skip.handle(req({ csg: 1, nsg: 3 }), text({ InitiatorName: INIT, TargetName: T1 })).status, 0x0201);
});

test('continued login text is acknowledged and assembled', () => {
  const m = new LoginStateMachine(host([{ iqn: T1 }]));
  const all = text({ InitiatorName: INIT, TargetName: T1, AuthMethod: 'None' });
  const r1 = m.handle(req({ transit: false, continue: true }), all.subarray(0, 10));
  assert.deepEqual([r1.status, r1.pairs.length, r1.transit], [0, 0, false]);
  const r2 = m.handle(req({}), all.subarray(10));
  assert.equal(Object.fromEntries(r2.pairs).AuthMethod, 'None');
});

test('discovery session needs no TargetName and reports no TargetPortalGroupTag', () => {
  const h = host([]);
  const m = new LoginStateMachine(h);
  const r = m.handle(req({ nsg: 3 }), text({ InitiatorName: INIT, SessionType: 'Discovery', AuthMethod: 'None' }));
  assert.equal(r.status, 0);
  assert.equal(h.results[0].discovery, true);
  assert.equal(Object.fromEntries(r.pairs).TargetPortalGroupTag, undefined);
});
