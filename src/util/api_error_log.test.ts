import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorLevel } from './api_error_log.ts';

test('only an unexpected failure is an error; refusals are answers; unreachable peers are warnings', () => {
  assert.equal(apiErrorLevel(500, 'INTERNAL'), 'error');
  assert.equal(apiErrorLevel(507, 'NO_SPACE'), 'debug');
  assert.equal(apiErrorLevel(409, 'VOLUME_EXISTS'), 'debug');
  assert.equal(apiErrorLevel(422, 'PLACEMENT_FAILED'), 'debug');
  assert.equal(apiErrorLevel(504, 'REPLICA_TIMEOUT'), 'warn');
  assert.equal(apiErrorLevel(503, 'DEVICE_GONE'), 'warn');
  assert.equal(apiErrorLevel(503, 'NOT_LEADER'), 'debug');
});
