import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { run, startServer } from './harness.ts';
import { ConnectionLogGate } from '../../src/iscsi/connection_log.ts';
import type { IscsiServer } from '../../src/iscsi/index.ts';

/**
 * Real clients (libiscsi's iscsi-ls / iscsi-inq, qemu-io) against the target in this
 * process. The SCSI side is the in-memory test double (test/iscsi/memory_scsi_target.ts).
 */
const OPEN = 'iqn.2026-01.io.berth:open';
const ACL = 'iqn.2026-01.io.berth:acl';
const NOBODY = 'iqn.2026-01.io.berth:nobody';
const CHAP1 = 'iqn.2026-01.io.berth:chap';
const MUTUAL = 'iqn.2026-01.io.berth:mutual';
const ALLOWED = 'iqn.2026-01.io.test:allowed';
const SECRET = 'chap-secret-123';
const TSECRET = 'target-secret-456';

let server: IscsiServer;
let port: number;
const logLines: string[] = [];

before(async () => {
  const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  const s = await startServer([
    { iqn: OPEN, alias: 'open-volume' },
    { iqn: ACL, allowedInitiators: [ALLOWED] },
    { iqn: NOBODY, allowedInitiators: [] },
    { iqn: CHAP1, chap: { user: 'alice', secret: SECRET } },
    { iqn: MUTUAL, chap: { user: 'bob', secret: SECRET, mutualUser: 'tgt', mutualSecret: TSECRET } },
  // Every login is logged in full here: these tests read the lines (the budget has its own test).
  ], { logger: pino({ level: 'info' }, sink), connectionLog: { gate: new ConnectionLogGate({ perWindow: Number.MAX_SAFE_INTEGER }) } });
  server = s.server;
  port = s.port;
});

after(async () => {
  await server.close();
});

const url = (iqn: string, cred = ''): string => `iscsi://${cred}127.0.0.1:${port}/${iqn}/0`;

test('iscsi-ls discovers exactly the targets the initiator may see (SendTargets=All)', async () => {
  const r = await run('iscsi-ls', [`iscsi://127.0.0.1:${port}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Target:${OPEN} Portal:127.0.0.1:${port},1`));
  assert.match(r.stdout, new RegExp(CHAP1));
  assert.doesNotMatch(r.stdout, new RegExp(`${ACL}\\b`));
  assert.doesNotMatch(r.stdout, new RegExp(NOBODY));
  const allowed = await run('iscsi-ls', ['-i', ALLOWED, `iscsi://127.0.0.1:${port}`]);
  assert.match(allowed.stdout, new RegExp(`Target:${ACL} `));
});

test('iscsi-ls -s logs in to each target and lists its LUN', async () => {
  // iscsi-ls stops at the first target it cannot log in to, so this server has one.
  const one = await startServer([{ iqn: OPEN }]);
  try {
    const r = await run('iscsi-ls', ['-s', `iscsi://127.0.0.1:${one.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lun:0\s+Type:DIRECT_ACCESS \(Size:1[56]M\)/);
  } finally {
    await one.server.close();
  }
});

test('iscsi-inq reads the standard INQUIRY through a normal session', async () => {
  const r = await run('iscsi-inq', [url(OPEN)]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Vendor:BERTHTST/);
});

test('qemu-io writes patterns and reads them back (immediate data, R2T, multi-PDU Data-In)', async () => {
  const r = await run('qemu-io', ['-f', 'raw',
    '-c', 'write -P 0xab 0 4k', '-c', 'read -P 0xab 0 4k',
    '-c', 'write -P 0x5c 64k 1M', '-c', 'read -P 0x5c 64k 1M',
    '-c', 'write -P 0x11 2M 3M', '-c', 'read -P 0x11 2M 3M', '-c', 'read -P 0xab 0 4k', url(OPEN)]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /Pattern verification failed|error/i);
  assert.equal((r.stdout.match(/^read /gm) ?? []).length, 4);
});

test('qemu-io with a CRC32C header digest negotiated', async () => {
  const opts = `driver=iscsi,transport=tcp,portal=127.0.0.1:${port},target=${OPEN},lun=0,header-digest=crc32c`;
  const r = await run('qemu-io', ['--image-opts', '-c', 'write -P 0x77 0 512k', '-c', 'read -P 0x77 0 512k', opts]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /Pattern verification failed/);
  const line = logLines.filter((l) => l.includes('login complete') && l.includes('"headerDigest":true')).length;
  assert.ok(line > 0, 'a session with header digests was logged');
});

test('ACL: an initiator not in the list is refused (02/02), an allowed one logs in', async () => {
  const denied = await run('iscsi-inq', [url(ACL)]);
  assert.notEqual(denied.code, 0);
  const none = await run('iscsi-inq', ['-i', ALLOWED, url(NOBODY)]);
  assert.notEqual(none.code, 0);
  const ok = await run('iscsi-inq', ['-i', ALLOWED, url(ACL)]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(logLines.some((l) => l.includes('INITIATOR_NOT_ALLOWED') && l.includes('"initiator"')));
});

test('unknown target: login fails (02/03) and is logged without secrets', async () => {
  const r = await run('iscsi-inq', [url('iqn.2026-01.io.berth:missing')]);
  assert.notEqual(r.code, 0);
  assert.ok(logLines.some((l) => l.includes('TARGET_NOT_FOUND')));
});

test('one-way CHAP: right secret logs in; wrong secret and no credentials fail', async () => {
  const ok = await run('iscsi-inq', [url(CHAP1, `alice%${SECRET}@`)]);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await run('iscsi-inq', [url(CHAP1, 'alice%wrong-secret-99@')]);
  assert.notEqual(bad.code, 0);
  const none = await run('iscsi-inq', [url(CHAP1)]);
  assert.notEqual(none.code, 0);
  const wrongUser = await run('iscsi-inq', [url(CHAP1, `mallory%${SECRET}@`)]);
  assert.notEqual(wrongUser.code, 0);
});

test('mutual CHAP: the initiator checks our response; a wrong target secret fails', async () => {
  const ok = await run('iscsi-inq', [url(MUTUAL, `bob%${SECRET}@`)], { LIBISCSI_CHAP_TARGET_USERNAME: 'tgt', LIBISCSI_CHAP_TARGET_PASSWORD: TSECRET });
  assert.equal(ok.code, 0, ok.stderr);
  const viaUrl = await run('iscsi-inq', [`${url(MUTUAL, `bob%${SECRET}@`)}?target_user=tgt&target_password=${TSECRET}`]);
  assert.equal(viaUrl.code, 0, viaUrl.stderr);
  const bad = await run('iscsi-inq', [url(MUTUAL, `bob%${SECRET}@`)], { LIBISCSI_CHAP_TARGET_USERNAME: 'tgt', LIBISCSI_CHAP_TARGET_PASSWORD: 'not-the-secret' });
  assert.notEqual(bad.code, 0);
  // Mutual asked of a target with one-way credentials only: refused.
  const oneWay = await run('iscsi-inq', [url(CHAP1, `alice%${SECRET}@`)], { LIBISCSI_CHAP_TARGET_USERNAME: 'tgt', LIBISCSI_CHAP_TARGET_PASSWORD: TSECRET });
  assert.notEqual(oneWay.code, 0);
});

test('discovery CHAP: iscsi-ls needs the discovery credentials when they are configured', async () => {
  const d = await startServer([{ iqn: OPEN }], { discoveryChap: { user: 'disc', secret: 'discovery-secret-1' } });
  try {
    const ok = await run('iscsi-ls', ['iscsi://disc%discovery-secret-1@127.0.0.1:' + d.port]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`Target:${OPEN} `));
    const no = await run('iscsi-ls', [`iscsi://127.0.0.1:${d.port}`]);
    assert.doesNotMatch(no.stdout, new RegExp(`Target:${OPEN} `));
  } finally {
    await d.server.close();
  }
});

test('no log line ever contains a CHAP secret', () => {
  const all = logLines.join('\n');
  assert.ok(all.length > 0);
  assert.ok(!all.includes(SECRET) && !all.includes(TSECRET) && !all.includes('wrong-secret-99'));
});

test('sessions() is empty once the clients have logged out', async () => {
  for (let i = 0; i < 50 && server.sessions().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(server.sessions(), []);
});
