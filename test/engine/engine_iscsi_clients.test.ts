/**
 * Exports seen through real initiators (libiscsi's tools, qemu-io): discovery, identity,
 * data, online resize, delete-and-recreate, initiator ACLs and CHAP (one-way, mutual).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { run } from '../helpers/tools.ts';
import { assertQemuOk, initiatorName, ok, provision, qemuIo, readCapacityBytes, GiB, MiB, type ExportDoc } from './engine_kit.ts';

let engine: EngineProcess;
const SECRET = 'initiator-secret-42';
const MUTUAL = 'target-secret-4242';

before(async () => {
  engine = await startEngine();
  await ok(engine.api, 'POST', '/v1/pools', { name: 'pool', sizeBytes: 4 * GiB });
});
after(async () => {
  await engine?.stop();
});

/** Runs an iscsi-* tool; CHAP credentials go through libiscsi's environment, not argv. */
function iscsiTool(tool: string, args: string[], chap?: Record<string, string>) {
  return run(tool, args, { check: false, timeoutMs: 20_000, env: { ...process.env, ...chap } });
}

test('iscsi-ls, iscsi-inq and iscsi-readcapacity16 see the exported volume', async () => {
  const ex = (await provision(engine.api, { pool: 'pool', createPool: false, volume: 'seen', volumeBytes: 96 * MiB }))!;
  const ls = await iscsiTool('iscsi-ls', ['-s', `iscsi://${ex.portal}`]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`Target:${ex.targetIqn.replace(/\./g, '\\.')}`));
  assert.match(ls.stdout, /Lun:0\s+Type:DIRECT_ACCESS/);
  const inq = await iscsiTool('iscsi-inq', [ex.url]);
  assert.equal(inq.code, 0, inq.stderr);
  assert.match(inq.stdout, /Peripheral Device Type:\s*0|DIRECT_ACCESS|Vendor/i);
  const ids = await iscsiTool('iscsi-inq', ['-e', '1', '-c', '131', ex.url]);
  assert.equal(ids.code, 0, ids.stderr);
  assert.match(ids.stdout, /Designator Type:\(3\) NAA/, 'NAA identifier in VPD 0x83');
  // libiscsi prints the NAA designator raw; the T10 vendor id carries the volume's uuid.
  const vol = await ok<{ uuid: string }>(engine.api, 'GET', '/v1/pools/pool/volumes/seen');
  assert.match(ids.stdout, new RegExp(`BERTH +${vol.uuid.replace(/-/g, '')}`), 'identity derives from the volume uuid');
  assert.equal(await readCapacityBytes(ex.url), 96 * MiB);
});

test('qemu-io writes patterns and reads them back; other ranges read zeros', async () => {
  const ex = (await provision(engine.api, { pool: 'pool', createPool: false, volume: 'data', volumeBytes: 64 * MiB }))!;
  assertQemuOk(await qemuIo(ex.url, ['write -P 0xab 0 1M', 'write -P 0x5c 40M 3M', 'flush']), 'write');
  assertQemuOk(await qemuIo(ex.url, ['read -P 0xab 0 1M', 'read -P 0x5c 40M 3M', 'read -P 0 8M 1M']), 'read back');
  const bad = await qemuIo(ex.url, ['read -P 0xcd 0 1M']);
  assert.match(bad.stdout + bad.stderr, /Pattern verification failed/, 'a wrong pattern is noticed: the check can fail');
});

test('online resize is seen by the initiator', async () => {
  const ex = (await provision(engine.api, { pool: 'pool', createPool: false, volume: 'grow', volumeBytes: 32 * MiB }))!;
  assertQemuOk(await qemuIo(ex.url, ['write -P 0x77 31M 1M']), 'write at the end');
  assert.equal(await readCapacityBytes(ex.url), 32 * MiB);
  await ok(engine.api, 'PATCH', '/v1/pools/pool/volumes/grow', { sizeBytes: 80 * MiB });
  assert.equal(await readCapacityBytes(ex.url), 80 * MiB);
  assertQemuOk(await qemuIo(ex.url, ['read -P 0x77 31M 1M', 'write -P 0x78 79M 1M', 'read -P 0x78 79M 1M']), 'after growth');
});

test('a deleted and recreated volume reads zeros', async () => {
  const ex = (await provision(engine.api, { pool: 'pool', createPool: false, volume: 'again', volumeBytes: 16 * MiB }))!;
  assertQemuOk(await qemuIo(ex.url, ['write -P 0xee 0 16M', 'flush']), 'fill');
  await ok(engine.api, 'DELETE', '/v1/exports/pool/again');
  await ok(engine.api, 'DELETE', '/v1/pools/pool/volumes/again');
  const ex2 = (await provision(engine.api, { pool: 'pool', createPool: false, volume: 'again', volumeBytes: 16 * MiB }))!;
  assert.equal(ex2.url, ex.url);
  assertQemuOk(await qemuIo(ex2.url, ['read -P 0 0 16M']), 'recreated volume is zeros');
});

test('initiator ACL admits listed initiators only', async () => {
  const allowed = initiatorName('allowed');
  const other = initiatorName('other');
  const ex = (await provision(engine.api, {
    pool: 'pool', createPool: false, volume: 'acl', volumeBytes: 16 * MiB, exportSpec: { allowedInitiators: [allowed] },
  }))!;
  const yes = await iscsiTool('iscsi-inq', ['-i', allowed, ex.url]);
  assert.equal(yes.code, 0, yes.stderr);
  const no = await iscsiTool('iscsi-inq', ['-i', other, ex.url]);
  assert.notEqual(no.code, 0, 'an initiator not on the list cannot log in');
  // Re-exporting to the same target with a new list applies at once.
  await ok(engine.api, 'POST', '/v1/pools/pool/volumes', { name: 'acl2', sizeBytes: 16 * MiB });
  await ok(engine.api, 'POST', '/v1/exports', { pool: 'pool', volume: 'acl2', targetIqn: ex.targetIqn, allowedInitiators: [other] });
  assert.equal((await iscsiTool('iscsi-inq', ['-i', other, ex.url])).code, 0);
  assert.notEqual((await iscsiTool('iscsi-inq', ['-i', allowed, ex.url])).code, 0);
});

test('one-way CHAP: right secret in, no or wrong secret out', async () => {
  const ex = (await provision(engine.api, {
    pool: 'pool', createPool: false, volume: 'chap', volumeBytes: 16 * MiB, exportSpec: { chap: { user: 'dave', secret: SECRET } },
  }))!;
  const good = { LIBISCSI_CHAP_USERNAME: 'dave', LIBISCSI_CHAP_PASSWORD: SECRET };
  const r = await iscsiTool('iscsi-readcapacity16', ['-s', ex.url], good);
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual((await iscsiTool('iscsi-readcapacity16', ['-s', ex.url])).code, 0, 'no credentials');
  const wrong = { LIBISCSI_CHAP_USERNAME: 'dave', LIBISCSI_CHAP_PASSWORD: 'not-the-secret-1' };
  assert.notEqual((await iscsiTool('iscsi-readcapacity16', ['-s', ex.url], wrong)).code, 0, 'wrong secret');
  const wrongUser = { LIBISCSI_CHAP_USERNAME: 'eve', LIBISCSI_CHAP_PASSWORD: SECRET };
  assert.notEqual((await iscsiTool('iscsi-readcapacity16', ['-s', ex.url], wrongUser)).code, 0, 'wrong user');
  // The URL form of credentials works too (qemu and fio use it).
  const [scheme, rest] = ex.url.split('://');
  const viaUrl = await iscsiTool('iscsi-inq', [`${scheme}://dave%${SECRET}@${rest}`]);
  assert.equal(viaUrl.code, 0, viaUrl.stderr);
});

test('mutual CHAP: the initiator checks the target too', async () => {
  const ex: ExportDoc = (await provision(engine.api, {
    pool: 'pool', createPool: false, volume: 'mutual', volumeBytes: 16 * MiB,
    exportSpec: { chap: { user: 'frank', secret: SECRET, mutualUser: 'berth-target', mutualSecret: MUTUAL } },
  }))!;
  const base = { LIBISCSI_CHAP_USERNAME: 'frank', LIBISCSI_CHAP_PASSWORD: SECRET };
  const good = await iscsiTool('iscsi-readcapacity16', ['-s', ex.url], {
    ...base, LIBISCSI_CHAP_TARGET_USERNAME: 'berth-target', LIBISCSI_CHAP_TARGET_PASSWORD: MUTUAL,
  });
  assert.equal(good.code, 0, good.stderr);
  assert.equal(Number(good.stdout.trim()), 16 * MiB);
  const impostor = await iscsiTool('iscsi-readcapacity16', ['-s', ex.url], {
    ...base, LIBISCSI_CHAP_TARGET_USERNAME: 'berth-target', LIBISCSI_CHAP_TARGET_PASSWORD: 'other-target-secret',
  });
  assert.notEqual(impostor.code, 0, 'a target that proves the wrong secret is refused by the initiator');
});
