import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../util/errors.ts';
import { httpError, statusForCode } from './http_errors.ts';

test('codes map to statuses by table, then by suffix', () => {
  assert.equal(statusForCode('VOLUME_NOT_FOUND'), 404);
  assert.equal(statusForCode('POOL_NOT_FOUND'), 404);
  assert.equal(statusForCode('VOLUME_EXISTS'), 409);
  assert.equal(statusForCode('NO_SPACE'), 507);
  assert.equal(statusForCode('INVALID_SIZE'), 400);
  assert.equal(statusForCode('VOLUME_EXPORTED'), 409);
  assert.equal(statusForCode('SHRINK_NOT_SUPPORTED'), 422);
  assert.equal(statusForCode('SOMETHING_NEW'), 500);
});

test('BerthError keeps its code and message', () => {
  const r = httpError(new BerthError('POOL_EXISTS', 'nope'));
  assert.deepEqual(r, { status: 409, body: { error: { code: 'POOL_EXISTS', message: 'nope' } } });
});

test('errno and validation errors are 4xx, unknown errors hide their message', () => {
  const enoent = Object.assign(new Error('ENOENT: x'), { code: 'ENOENT' });
  assert.equal(httpError(enoent).status, 404);
  assert.equal(httpError(Object.assign(new Error('body/name'), { validation: [] })).body.error.code, 'INVALID_ARGUMENT');
  const r = httpError(new Error('secret=hunter2 leaked'));
  assert.equal(r.status, 500);
  assert.doesNotMatch(r.body.error.message, /hunter2/);
});
