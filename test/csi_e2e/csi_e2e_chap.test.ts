/**
 * CHAP end to end, with real processes sharing one cluster token: the control plane
 * (SQLite), an engine registered by heartbeat, and the CSI plugin (controller + node,
 * user-space attach through qemu-storage-daemon). A StorageClass's controller-publish
 * secret makes the volume's export demand CHAP (a plain libiscsi client without
 * credentials is refused); NodeStage with the right node-stage secret attaches and the
 * data reads back, with a wrong or missing one it fails UNAUTHENTICATED, with one for a
 * volume published without CHAP it fails FAILED_PRECONDITION. The secrets appear in no
 * log, no store file, no API answer, no /metrics and no command line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { run, waitFor } from '../helpers/tools.ts';
import { startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { INITIATOR, MiB } from '../control_plane/cp_kit.ts';
import { startCsiPlugin, type CsiProcess } from './csi_process.ts';
import { clearLeftovers, leftovers } from './csi_e2e_kit.ts';

const NODE = `node-chap-${process.pid}`;
const TOKEN = randomBytes(32).toString('hex');
const PASSWORD = `chap-pw-${randomBytes(12).toString('hex')}`;
const WRONG = `chap-wrong-${randomBytes(12).toString('hex')}`;
const TARGET_PASSWORD = `chap-tgt-${randomBytes(12).toString('hex')}`;
const SECRET = { chapUsername: 'pod-initiator', chapPassword: PASSWORD };
const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

describe('CHAP end to end: control plane, engine and CSI plugin', () => {
  let dir: string;
  let plane: ControlPlaneProcess;
  let engine: EngineProcess;
  let csi: CsiProcess;

  const api = async <T>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: T }> => {
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    return { status: res.status, text, json: (text.length > 0 && text.startsWith('{') ? JSON.parse(text) : undefined) as T };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `berth-chap-e2e-${process.pid}-`));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}`, args: ['--auth-token-file', tokenFile, '--log-level', 'debug'] });
    engine = await startEngine({
      authToken: TOKEN, logLevel: 'debug',
      args: ['--control-plane', plane.url, '--node-id', NODE, '--labels', `zone=z1,storageGroup=r1,media=ssd,initiatorIqn=${INITIATOR}`],
    });
    await waitFor(`node ${NODE} online`, async () => {
      const r = await api<{ state?: { status?: string } }>(plane.url, 'GET', `/v1/nodes/${NODE}`);
      return r.json?.state?.status === 'online' ? true : undefined;
    }, 30_000, 200);
    const pool = await api<{ id: string }>(plane.url, 'POST', '/v1/pools', { nodeId: NODE, name: 'p1', sizeBytes: 256 * MiB });
    assert.equal(pool.status, 201, pool.text);
    await waitFor('pool online', async () => {
      const r = await api<{ status: string; capacityBytes: number }>(plane.url, 'GET', `/v1/pools/${encodeURIComponent(pool.json.id)}`);
      return r.json?.status === 'online' && r.json.capacityBytes > 0 ? true : undefined;
    }, 30_000, 200);
    csi = await startCsiPlugin(join(dir, 'csi.sock'), [
      '--mode', 'all', '--node-id', NODE, '--state-dir', join(dir, 'state'), '--attacher', 'userspace',
      '--initiator-name', INITIATOR, '--control-plane', plane.url, '--auth-token-file', tokenFile,
    ]);
  });

  after(async () => {
    await csi?.stop();
    await clearLeftovers(dir);
    await engine?.stop();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (service: 'Controller' | 'Node', method: string, req: object) => csi.client.call(service, method, req);
  const callError = (service: 'Controller' | 'Node', method: string, req: object) => csi.client.callError(service, method, req);

  async function volume(name: string): Promise<{ volumeId: string; context: Record<string, string>; staging: string }> {
    const created = await call('Controller', 'CreateVolume', { name, capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: [cap], parameters: { replicas: '1' } });
    const staging = join(dir, 'kubelet', 'staging', name);
    await mkdir(staging, { recursive: true });
    return { volumeId: created.volume.volume_id, context: created.volume.volume_context, staging };
  }

  it('a CHAP class: the export demands CHAP, the right secret attaches and reads back, a wrong or missing one is UNAUTHENTICATED', async () => {
    const v = await volume('pvc-chap-1');
    const published = await call('Controller', 'ControllerPublishVolume', { volume_id: v.volumeId, node_id: NODE, volume_capability: cap, readonly: false, secrets: SECRET });
    const ctx: Record<string, string> = published.publish_context;
    assert.equal(ctx.chap, 'oneway', 'the node is told the target demands CHAP');
    assert.ok(!JSON.stringify(ctx).includes(PASSWORD));

    // The engine's export really demands it: a plain libiscsi client without credentials is refused, with them it gets in.
    const url = `iscsi://${ctx.targetPortal}/${ctx.targetIqn}/${ctx.lun}`;
    const bare = await run('iscsi-inq', ['-i', INITIATOR, url], { check: false });
    assert.notEqual(bare.code, 0);
    assert.match(bare.stdout + bare.stderr, /Authentication failure/);
    const wrongInq = await run('iscsi-inq', ['-i', INITIATOR, `iscsi://pod-initiator%${WRONG}@${ctx.targetPortal}/${ctx.targetIqn}/${ctx.lun}`], { check: false });
    assert.notEqual(wrongInq.code, 0);
    const withCreds = await run('iscsi-inq', ['-i', INITIATOR, `iscsi://pod-initiator%${PASSWORD}@${ctx.targetPortal}/${ctx.targetIqn}/${ctx.lun}`], { check: false });
    assert.equal(withCreds.code, 0, withCreds.stderr);
    const exported = await api<{ exports: Array<{ targetIqn: string; chap?: { user: string } | null }> }>(engine.api, 'GET', '/v1/exports');
    assert.deepEqual(exported.json.exports.find((e) => e.targetIqn === ctx.targetIqn)?.chap, { user: 'pod-initiator' });

    const stage = { volume_id: v.volumeId, staging_target_path: v.staging, volume_capability: cap, publish_context: ctx, volume_context: v.context };
    const missing = await callError('Node', 'NodeStageVolume', stage);
    assert.equal(missing.code, status.UNAUTHENTICATED, missing.details);
    const empty = await callError('Node', 'NodeStageVolume', { ...stage, secrets: { chapUsername: '', chapPassword: '' } });
    assert.equal(empty.code, status.UNAUTHENTICATED, 'the shipped empty Secret: no credentials');
    const wrong = await callError('Node', 'NodeStageVolume', { ...stage, secrets: { ...SECRET, chapPassword: WRONG } });
    assert.equal(wrong.code, status.UNAUTHENTICATED, wrong.details);
    assert.match(wrong.details, /refused the login/, 'the target itself refused it');
    for (const e of [missing, empty, wrong]) assert.ok(!e.details.includes(PASSWORD) && !e.details.includes(WRONG));
    assert.deepEqual(await leftovers(dir), { mounts: [], loops: [], processes: [] }, 'a refused attach leaves nothing behind');

    await call('Node', 'NodeStageVolume', { ...stage, secrets: SECRET });
    const daemons = (await leftovers(dir)).processes;
    assert.equal(daemons.length, 1);
    const cmdline = await readFile(`/proc/${daemons[0].split(' ')[0]}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(PASSWORD), 'the password is not on the daemon\'s command line');
    assert.deepEqual((await readdir(join(dir, 'state', 'userspace', v.volumeId))).filter((f) => f.includes('secret')), [], 'its secret file is gone');
    await writeFile(join(v.staging, 'hello.txt'), 'behind CHAP\n', { flush: true });
    await call('Node', 'NodeUnstageVolume', { volume_id: v.volumeId, staging_target_path: v.staging });
    await call('Node', 'NodeStageVolume', { ...stage, secrets: SECRET });
    assert.equal(await readFile(join(v.staging, 'hello.txt'), 'utf8'), 'behind CHAP\n', 'a new CHAP session reads the data back');
    await call('Node', 'NodeUnstageVolume', { volume_id: v.volumeId, staging_target_path: v.staging });

    // Publishing again without the secret cannot take CHAP off the export.
    const dropped = await callError('Controller', 'ControllerPublishVolume', { volume_id: v.volumeId, node_id: NODE, volume_capability: cap, readonly: false });
    assert.equal(dropped.code, status.FAILED_PRECONDITION, dropped.details);
    assert.notEqual((await run('iscsi-inq', ['-i', INITIATOR, url], { check: false })).code, 0, 'still demanded');
    await call('Controller', 'ControllerUnpublishVolume', { volume_id: v.volumeId, node_id: NODE });
    await call('Controller', 'DeleteVolume', { volume_id: v.volumeId });
  });

  it('a node-stage secret for a volume published without CHAP is FAILED_PRECONDITION, not a silent attach without it', async () => {
    const v = await volume('pvc-chap-2');
    const published = await call('Controller', 'ControllerPublishVolume', { volume_id: v.volumeId, node_id: NODE, volume_capability: cap, readonly: false });
    assert.equal(published.publish_context.chap, undefined);
    const stage = { volume_id: v.volumeId, staging_target_path: v.staging, volume_capability: cap, publish_context: published.publish_context, volume_context: v.context };
    const e = await callError('Node', 'NodeStageVolume', { ...stage, secrets: SECRET });
    assert.equal(e.code, status.FAILED_PRECONDITION, e.details);
    assert.match(e.details, /controller-publish-secret-name/);
    assert.deepEqual(await leftovers(dir), { mounts: [], loops: [], processes: [] });
    await call('Controller', 'ControllerUnpublishVolume', { volume_id: v.volumeId, node_id: NODE });
    await call('Controller', 'DeleteVolume', { volume_id: v.volumeId });
  });

  it('a mutual CHAP class: the target proves itself with the target secret; the user-space path says it cannot check that', async () => {
    const v = await volume('pvc-chap-3');
    const mutual = { ...SECRET, chapMutualUsername: 'berth-target', chapMutualPassword: TARGET_PASSWORD };
    const published = await call('Controller', 'ControllerPublishVolume', { volume_id: v.volumeId, node_id: NODE, volume_capability: cap, readonly: false, secrets: mutual });
    const ctx: Record<string, string> = published.publish_context;
    assert.equal(ctx.chap, 'mutual');
    const base = `${ctx.targetPortal}/${ctx.targetIqn}/${ctx.lun}`;
    const good = await run('iscsi-inq', ['-i', INITIATOR, `iscsi://pod-initiator%${PASSWORD}@${base}?target_user=berth-target&target_password=${TARGET_PASSWORD}`], { check: false });
    assert.equal(good.code, 0, good.stdout + good.stderr);
    const impostor = await run('iscsi-inq', ['-i', INITIATOR, `iscsi://pod-initiator%${PASSWORD}@${base}?target_user=berth-target&target_password=${WRONG}`], { check: false });
    assert.notEqual(impostor.code, 0, 'an initiator expecting another target secret refuses this target');
    const stage = { volume_id: v.volumeId, staging_target_path: v.staging, volume_capability: cap, publish_context: ctx, volume_context: v.context };
    assert.equal((await callError('Node', 'NodeStageVolume', { ...stage, secrets: SECRET })).code, status.UNAUTHENTICATED, 'nothing to check the target with');
    assert.equal((await callError('Node', 'NodeStageVolume', { ...stage, secrets: mutual })).code, status.UNIMPLEMENTED, 'qemu\'s iSCSI driver sends no target credentials');
    await call('Controller', 'ControllerUnpublishVolume', { volume_id: v.volumeId, node_id: NODE });
    await call('Controller', 'DeleteVolume', { volume_id: v.volumeId });
  });

  it('the secrets reach no log, no store file, no API answer, no /metrics', async () => {
    const texts: Array<[string, string]> = [
      ['control-plane log', plane.lines().join('\n')],
      ['engine log', engine.diagnostics()],
      ['CSI plugin log', csi.diagnostics()],
      ['control-plane /metrics', (await api(plane.url, 'GET', '/metrics')).text],
      ['engine /metrics', (await api(engine.api, 'GET', '/metrics')).text],
      ['control-plane volumes', (await api(plane.url, 'GET', '/v1/volumes')).text],
      ['engine exports', (await api(engine.api, 'GET', '/v1/exports')).text],
    ];
    for (const f of await readdir(dir)) {
      if (f.startsWith('control.db')) texts.push([`store file ${f}`, (await readFile(join(dir, f))).toString('latin1')]);
    }
    assert.ok(texts.some(([what]) => what === 'store file control.db'));
    assert.ok(texts[0][1].includes('volume published'), 'the control plane did log the publish');
    for (const [what, text] of texts) {
      assert.ok(!text.includes(PASSWORD), `${what} holds the CHAP password`);
      assert.ok(!text.includes(WRONG), `${what} holds the wrong password tried`);
      assert.ok(!text.includes(TARGET_PASSWORD), `${what} holds the target's CHAP password`);
      assert.ok(!text.includes(TOKEN), `${what} holds the cluster token`);
    }
  });
});
