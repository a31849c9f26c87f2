import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLogLine } from './log_pretty.ts';
import { logFormat } from './log.ts';

const at = new Date(2026, 0, 2, 3, 4, 5).getTime();

test('a JSON log line becomes time, level, message and key=value fields', () => {
  const line = JSON.stringify({ level: 30, time: at, pid: 1, hostname: 'h', name: 'berth', component: 'api', msg: 'engine ready', api: 'http://127.0.0.1:9500', note: 'two words' });
  assert.equal(formatLogLine(line), '03:04:05 INFO  engine ready component=api api=http://127.0.0.1:9500 note="two words"\n');
});

test('an error shows its code and message; the stack only at error level', () => {
  const err = { type: 'BerthError', code: 'NO_SPACE', message: 'pool full', stack: 'BerthError: pool full\n    at here' };
  assert.equal(formatLogLine(JSON.stringify({ level: 40, time: at, msg: 'refused', err })), '03:04:05 WARN  refused error="NO_SPACE: pool full"\n');
  assert.match(formatLogLine(JSON.stringify({ level: 50, time: at, msg: 'failed', err })), /error="NO_SPACE: pool full"\n {4}at here\n$/);
});

test('a line that is not JSON passes through', () => {
  assert.equal(formatLogLine('plain'), 'plain\n');
});

test('readable on a terminal, JSON otherwise, BERTH_LOG_FORMAT decides when set', () => {
  assert.equal(logFormat({}, true), 'pretty');
  assert.equal(logFormat({}, false), 'json');
  assert.equal(logFormat({ BERTH_LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(logFormat({ BERTH_LOG_FORMAT: 'pretty' }, false), 'pretty');
});
