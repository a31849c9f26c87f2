import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEngineArgs, parseHostPort, formatHostPort } from './engine_args.ts';

test('defaults come from the environment, then built-ins', () => {
  const a = parseEngineArgs([], {});
  assert.equal(a.dataDir, './data');
  assert.deepEqual(a.apiListen, { host: '127.0.0.1', port: 9500 });
  assert.deepEqual(a.iscsiListen, { host: '127.0.0.1', port: 3260 });
  assert.equal(parseEngineArgs([], { BERTH_DATA_DIR: '/d' }).dataDir, '/d');
});

test('flags override', () => {
  const a = parseEngineArgs(['--data-dir', '/x', '--api-listen', '0.0.0.0:0', '--iscsi-listen', '[::1]:3261', '--log-level', 'warn'], {});
  assert.equal(a.dataDir, '/x');
  assert.deepEqual(a.apiListen, { host: '0.0.0.0', port: 0 });
  assert.deepEqual(a.iscsiListen, { host: '::1', port: 3261 });
  assert.equal(formatHostPort(a.iscsiListen), '[::1]:3261');
  assert.equal(a.logLevel, 'warn');
});

test('bad values are INVALID_ARGUMENT, unknown flags throw', () => {
  assert.throws(() => parseHostPort('nohost', '--x'), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseHostPort('h:70000', '--x'), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseEngineArgs(['--log-level', 'loud'], {}), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseEngineArgs(['--bogus'], {}));
});

test('--io-mode: auto by default, BERTH_IO_MODE or the flag choose, anything else is refused', () => {
  assert.equal(parseEngineArgs([], {}).ioMode, 'auto');
  assert.equal(parseEngineArgs([], { BERTH_IO_MODE: 'async' }).ioMode, 'async');
  assert.equal(parseEngineArgs(['--io-mode', 'sync'], { BERTH_IO_MODE: 'async' }).ioMode, 'sync');
  assert.throws(() => parseEngineArgs(['--io-mode', 'fast'], {}), { code: 'INVALID_ARGUMENT' });
});

test('--thick-zeroing: lazy by default, BERTH_THICK_ZEROING or the flag choose, anything else is refused', () => {
  assert.equal(parseEngineArgs([], {}).thickZeroing, 'lazy');
  assert.equal(parseEngineArgs([], { BERTH_THICK_ZEROING: 'eager' }).thickZeroing, 'eager');
  assert.equal(parseEngineArgs(['--thick-zeroing', 'lazy'], { BERTH_THICK_ZEROING: 'eager' }).thickZeroing, 'lazy');
  assert.throws(() => parseEngineArgs(['--thick-zeroing', 'zero'], {}), { code: 'INVALID_ARGUMENT' });
});

test('--rebuild-throttle-mode: unset by default (the engine then uses adaptive), BERTH_REBUILD_THROTTLE_MODE or the flag choose, anything else is refused', () => {
  assert.equal(parseEngineArgs([], {}).rebuildThrottleMode, undefined);
  assert.equal(parseEngineArgs([], { BERTH_REBUILD_THROTTLE_MODE: 'fixed' }).rebuildThrottleMode, 'fixed');
  assert.equal(parseEngineArgs(['--rebuild-throttle-mode', 'adaptive'], { BERTH_REBUILD_THROTTLE_MODE: 'fixed' }).rebuildThrottleMode, 'adaptive');
  assert.throws(() => parseEngineArgs(['--rebuild-throttle-mode', 'fast'], {}), { code: 'INVALID_ARGUMENT' });
});

test('--pool-root repeats and must be absolute; --pool-heartbeat-ms is bounded', () => {
  assert.equal(parseEngineArgs([], {}).poolRoots, undefined);
  assert.deepEqual(parseEngineArgs(['--pool-root', '/a', '--pool-root', '/b'], {}).poolRoots, ['/a', '/b']);
  assert.throws(() => parseEngineArgs(['--pool-root', 'rel'], {}), { code: 'INVALID_ARGUMENT' });
  assert.equal(parseEngineArgs([], {}).poolHeartbeatMs, undefined);
  assert.equal(parseEngineArgs(['--pool-heartbeat-ms', '100'], {}).poolHeartbeatMs, 100);
  assert.equal(parseEngineArgs([], { BERTH_POOL_HEARTBEAT_MS: '250' }).poolHeartbeatMs, 250);
  assert.throws(() => parseEngineArgs(['--pool-heartbeat-ms', '1'], {}), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseEngineArgs(['--pool-heartbeat-ms', 'fast'], {}), { code: 'INVALID_ARGUMENT' });
});

test('local attach spares: 256 by default, 0 turns the keeper off, anything else is refused', () => {
  assert.equal(parseEngineArgs([], {}).localAttachSpares, 256);
  assert.equal(parseEngineArgs(['--local-attach-spares', '0'], {}).localAttachSpares, 0);
  assert.equal(parseEngineArgs([], { BERTH_LOCAL_ATTACH_SPARES: '12' }).localAttachSpares, 12);
  for (const bad of ['-1', '1.5', 'many', '4097', '']) {
    assert.throws(() => parseEngineArgs([`--local-attach-spares=${bad}`], {}), { code: 'INVALID_ARGUMENT' }, bad);
  }
});
