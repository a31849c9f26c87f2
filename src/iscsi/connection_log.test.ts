import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionEvent, ConnectionLogGate, heldBackMessage, remoteHost } from './connection_log.ts';

test('a flood of short connections costs a few lines per window, then one summary per host', () => {
  const gate = new ConnectionLogGate({ windowMs: 10_000, perWindow: 3 });
  let t = 1_000_000;
  let logged = 0;
  for (let i = 0; i < 25_000; i++) {
    if (gate.admit(ConnectionEvent.LOGIN, i % 5 === 0 ? '10.0.0.9' : '10.0.0.7', t)) logged++;
    t += 0.2; // 25,000 logins in 5 s: one window
  }
  assert.equal(logged, 3);
  assert.deepEqual(gate.drain(t), [], 'nothing is summarised before the window ends');
  const held = gate.drain(1_000_000 + 10_000);
  assert.deepEqual(held.map((h) => [h.host, h.count]), [['10.0.0.7', 19_998], ['10.0.0.9', 4_999]]);
  assert.equal(heldBackMessage(held[0]), '19998 more iSCSI logins from 10.0.0.7 in the last 10 s (not logged one by one)');
  assert.deepEqual(gate.drain(1_000_000 + 20_000), [], 'each summary is given once');
  // A new window logs in full again; kinds have budgets of their own.
  assert.equal(gate.admit(ConnectionEvent.LOGIN, '10.0.0.7', 1_000_000 + 20_001), true);
  assert.equal(gate.admit(ConnectionEvent.DROPPED, '10.0.0.7', 1_000_000 + 20_002), true);
});

test('quiet traffic is logged line by line', () => {
  const gate = new ConnectionLogGate({ windowMs: 10_000, perWindow: 20 });
  for (let i = 0; i < 100; i++) assert.equal(gate.admit(ConnectionEvent.LOGIN_FAILED, '127.0.0.1', i * 1000), true);
  assert.deepEqual(gate.drain(1_000_000), []);
});

test('the remote host of an address and port', () => {
  assert.equal(remoteHost('10.1.2.3:51234'), '10.1.2.3');
  assert.equal(remoteHost('::ffff:127.0.0.1:3260'), '127.0.0.1');
  assert.equal(remoteHost('[fd00::1]:3260'), 'fd00::1');
});
