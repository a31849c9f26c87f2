/**
 * A flood of short connections to the portal costs a few log lines and one summary per
 * remote host per window, not a line each (25,000 connections once wrote 13.9 MB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pino } from 'pino';
import { IscsiServer } from '../../src/iscsi/index.ts';
import { ConnectionLogGate } from '../../src/iscsi/connection_log.ts';
import type { Logger } from '../../src/util/log.ts';

/** Connects, sends half a PDU header and hangs up: the server logs "ended in the middle of a PDU". */
function halfPdu(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(Buffer.alloc(10)));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

test('short broken connections: a few lines in full, then one summary for the window', { timeout: 120_000 }, async () => {
  const lines: { level: number; msg: string; count?: number; remoteHost?: string }[] = [];
  const logger: Logger = pino<never>({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s)); } });
  let now = 5_000_000;
  const server = new IscsiServer({
    host: '127.0.0.1', port: 0, logger,
    connectionLog: { gate: new ConnectionLogGate({ windowMs: 10_000, perWindow: 3 }), now: () => now },
  });
  const { port } = await server.listen();
  try {
    for (let batch = 0; batch < 10; batch++) await Promise.all(Array.from({ length: 20 }, () => halfPdu(port)));
    // The server may see the last hang-ups a moment after the client does: wait until it has closed them all.
    const open = (server as unknown as { connections: Set<unknown> }).connections;
    for (const until = Date.now() + 30_000; open.size > 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    assert.equal(open.size, 0);
    assert.equal(lines.filter((l) => /middle of a PDU/.test(l.msg)).length, 3, 'only the window\'s budget is logged one by one');
    now += 10_000;
    server.flushConnectionLog();
    const summary = lines.filter((l) => /not logged one by one/.test(l.msg));
    assert.equal(summary.length, 1);
    assert.equal(summary[0].remoteHost, '127.0.0.1');
    assert.equal(summary[0].count, 197);
    assert.equal(summary[0].msg, '197 more iSCSI dropped connections from 127.0.0.1 in the last 10 s (not logged one by one)');
    assert.equal(summary[0].level, 40);
  } finally {
    await server.close();
  }
});
