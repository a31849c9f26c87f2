/** QMP exchanges against a scripted monitor on a unix socket (the real daemon needs a growable LUN). */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { qmpExecute } from './qmp_client.ts';

describe('QMP client', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'berth-qmp-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  async function monitor(name: string, reply: (cmd: { execute: string; arguments?: unknown }) => object): Promise<{ path: string; server: Server; seen: unknown[] }> {
    const path = join(dir, name);
    const seen: unknown[] = [];
    const server = createServer((sock) => {
      sock.write('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}\r\n');
      let buf = '';
      sock.on('data', (c) => {
        buf += c.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const cmd = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          seen.push(cmd);
          sock.write('{"event": "SOMETHING", "data": {}}\n' + JSON.stringify(reply(cmd)) + '\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { path, server, seen };
  }

  it('negotiates capabilities, runs the command and skips events', async () => {
    const m = await monitor('ok.sock', () => ({ return: {} }));
    try {
      await qmpExecute(m.path, 'block_resize', { 'node-name': 'lun', size: 1024 });
      assert.deepEqual(m.seen, [{ execute: 'qmp_capabilities' }, { execute: 'block_resize', arguments: { 'node-name': 'lun', size: 1024 } }]);
    } finally {
      m.server.close();
    }
  });

  it('turns a QMP error into an attach error with its description', async () => {
    const m = await monitor('err.sock', (cmd) => (cmd.execute === 'qmp_capabilities' ? { return: {} } : { error: { class: 'GenericError', desc: 'Cannot grow device beyond its capacity' } }));
    try {
      await assert.rejects(qmpExecute(m.path, 'block_resize', { size: 1 }), /Cannot grow device/);
    } finally {
      m.server.close();
    }
  });

  it('fails cleanly when nothing listens, or nothing answers', async () => {
    await assert.rejects(qmpExecute(join(dir, 'absent.sock'), 'x', {}), /monitor/);
    const silent = createServer(() => undefined);
    const path = join(dir, 'silent.sock');
    await new Promise<void>((r) => silent.listen(path, r));
    try {
      await assert.rejects(qmpExecute(path, 'x', {}, 100), /no answer/);
    } finally {
      silent.close();
    }
  });
});
