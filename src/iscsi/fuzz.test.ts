import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BerthError } from '../util/errors.ts';
import { PduFramer } from './framer.ts';
import { decodePdu, decodeDataOut, decodeScsiCommand } from './pdu.ts';
import { decodeText } from './text.ts';
import { Negotiator } from './negotiation.ts';
import { LoginStateMachine, type LoginRequest } from './login.ts';

/** Bounded property tests: bad input may only ever raise BerthError subclasses. */
const onlyBerth = (fn: () => unknown): void => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BerthError, `unexpected ${String(e)}`);
  }
};

test('framer never throws anything but BerthError and never allocates past its limit', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.boolean(), fc.boolean(), (chunks, hd, dd) => {
      const f = new PduFramer({ maxDataSegmentLength: 1024, headerDigest: hd, dataDigest: dd });
      onlyBerth(() => {
        for (const c of chunks) {
          f.push(Buffer.from(c), (p) => {
            assert.ok(p.data.length <= 1024);
            assert.equal(p.bhs.length, 48);
          });
        }
      });
    }),
    { numRuns: 400 },
  );
});

test('BHS decoders never throw anything but BerthError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 48, maxLength: 48 }), (bytes) => {
      const b = Buffer.from(bytes);
      onlyBerth(() => decodePdu(b));
      decodeScsiCommand(b);
      decodeDataOut(b);
    }),
    { numRuns: 500 },
  );
});

test('text codec and negotiation never throw anything but BerthError', () => {
  const keys = fc.constantFrom('HeaderDigest', 'DataDigest', 'MaxBurstLength', 'FirstBurstLength', 'ImmediateData', 'InitialR2T', 'MaxRecvDataSegmentLength', 'ErrorRecoveryLevel', 'MaxOutstandingR2T', 'X-y', 'DefaultTime2Wait');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.tuple(keys, fc.string({ maxLength: 300 })), { maxLength: 12 }), fc.boolean(), (raw, pairs, discovery) => {
      onlyBerth(() => decodeText(Buffer.from(raw)));
      onlyBerth(() => {
        const n = new Negotiator();
        for (const [k, v] of n.respond(pairs, discovery)) assert.ok(k.length > 0 && v.length <= 300);
        assert.ok(n.params.firstBurstLength <= n.params.maxBurstLength);
      });
    }),
    { numRuns: 300 },
  );
});

test('login state machine answers any request sequence with a status, never a crash', () => {
  const reqArb = fc.record({
    transit: fc.boolean(), continue: fc.boolean(), csg: fc.integer({ min: 0, max: 3 }), nsg: fc.integer({ min: 0, max: 3 }),
    versionMax: fc.constant(0), versionMin: fc.integer({ min: 0, max: 1 }), isid: fc.constant('400001370000'), tsih: fc.constant(0),
    itt: fc.nat(), cid: fc.constant(0), cmdSN: fc.nat(), expStatSN: fc.nat(),
  });
  fc.assert(
    fc.property(fc.array(fc.tuple(reqArb, fc.uint8Array({ maxLength: 200 })), { maxLength: 5 }), (steps) => {
      const m = new LoginStateMachine({ findTarget: () => ({ iqn: 'iqn.x' }), discoveryChap: undefined, targetPortalGroupTag: 1, complete: () => 1 });
      for (const [r, data] of steps) {
        const reply = m.handle(r as LoginRequest, Buffer.from(data));
        assert.equal(typeof reply.status, 'number');
        if (reply.failure) break;
      }
    }),
    { numRuns: 300 },
  );
});
