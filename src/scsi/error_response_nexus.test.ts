import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type Logger } from '../util/log.ts';
import { NexusFencedError, NexusNoQuorumError } from '../nexus/nexus_errors.ts';
import { errorResponse } from './error_response.ts';
import { parseSense } from './sense.ts';
import { Asc, SenseKey } from './constants.ts';
import { ScsiStatus } from './types.ts';

/** A logger that records error lines: an expected nexus state must not log as a target failure. */
function recording(): { log: Logger; errors: number } {
  const box = { log: silentLogger(), errors: 0 };
  const base = box.log;
  box.log = new Proxy(base, { get: (t, k) => (k === 'error' ? () => { box.errors++; } : Reflect.get(t, k)) });
  return box;
}

test('a fenced nexus fails I/O with NOT READY / MANUAL INTERVENTION REQUIRED, not a target failure', () => {
  const r = recording();
  for (const dir of ['read', 'write'] as const) {
    const res = errorResponse(new NexusFencedError(), dir, r.log);
    assert.equal(res.status, ScsiStatus.CHECK_CONDITION);
    const sense = parseSense(res.sense as Buffer);
    assert.equal(sense.key, SenseKey.NOT_READY);
    assert.equal(sense.asc, Asc.LU_NOT_READY_MANUAL_INTERVENTION_REQUIRED);
  }
  assert.equal(r.errors, 0);
});

test('a nexus waiting for its quorum fails I/O with NOT READY / BECOMING READY', () => {
  const r = recording();
  const res = errorResponse(new NexusNoQuorumError(), 'write', r.log);
  const sense = parseSense(res.sense as Buffer);
  assert.equal(sense.key, SenseKey.NOT_READY);
  assert.equal(sense.asc, 0x0401);
  assert.equal(r.errors, 0);
});
