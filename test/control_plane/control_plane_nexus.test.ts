/**
 * Replicated volumes end to end with real processes: three engines on 127.0.0.1 (a
 * "lost node" is an engine killed with SIGKILL), one control plane. A 2-replica volume
 * is published (a nexus on the publishing replica node), written with qemu-io over
 * iSCSI; the other replica's engine is killed mid-write (no I/O error), the control
 * plane replaces that replica on the spare engine and the nexus rebuilds it to online;
 * then the nexus's own engine is killed and the nexus is recreated, generation + 1, on
 * the surviving replica's node, where every written byte reads back.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { run, waitFor } from '../helpers/tools.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { INITIATOR, MiB, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';

interface Replica { id: string; nodeId: string; status: string }
interface Volume { id: string; status: string; replicaStates: Replica[]; target?: { iqn: string; portal: string } }
interface Nexus { id: string; nodeId: string; generation: number; children: string[] }

const CHUNK = 64 * 1024;
/** Chunks the writer writes, one every WRITE_GAP_MS: long enough to span the replica's retirement. */
const CHUNKS = 48;
const WRITE_GAP_MS = 150;

const dir = mkdtempSync(join(tmpdir(), 'berth-cp-nexus-'));
let plane: ControlPlaneProcess | undefined;
const engines = new Map<string, EngineProcess>();

after(async () => {
  await plane?.stop();
  for (const e of engines.values()) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Chunk i's byte pattern: never 0, so an unwritten (zero) chunk never passes. */
const pattern = (i: number, round: number): number => 1 + ((i * 7 + round * 31) % 250);

async function qemuIo(target: { iqn: string; portal: string }, cmds: string[]): Promise<string> {
  const opts = `driver=iscsi,transport=tcp,portal=${target.portal},target=${target.iqn},lun=0,initiator-name=${INITIATOR}`;
  const r = await run('qemu-io', ['--image-opts', ...cmds.flatMap((c) => ['-c', c]), opts], { timeoutMs: 120_000, check: false });
  const out = r.stdout + r.stderr;
  if (r.code !== 0 || /error|fail|mismatch|Pattern verification/i.test(out)) throw new Error(`qemu-io failed (${r.code}):\n${out.slice(-3000)}`);
  return out;
}

/** Each round writes its own range, so a later round never hides what an earlier one left. */
const at = (i: number, round: number): number => (round * CHUNKS + i) * CHUNK;
const writes = (round: number): string[] => Array.from({ length: CHUNKS }, (_, i) => [`write -P ${pattern(i, round)} ${at(i, round)} ${CHUNK}`, `sleep ${WRITE_GAP_MS}`]).flat();
const reads = (round: number): string[] => Array.from({ length: CHUNKS }, (_, i) => `read -P ${pattern(i, round)} ${at(i, round)} ${CHUNK}`);

async function volume(url: string, id: string): Promise<Volume> {
  const v = await cp<Volume>(url, 'GET', `/v1/volumes/${id}`);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  return v.body;
}

async function nexus(url: string, id: string): Promise<Nexus> {
  const n = await cp<Nexus>(url, 'GET', `/v1/nexuses/${id}`);
  assert.equal(n.status, 200, JSON.stringify(n.body));
  return n.body;
}

test('a published 2-replica volume survives a replica node and then its nexus node, with rebuild and no I/O error', { timeout: 240_000 }, async () => {
  plane = await startControlPlane({
    store: `sqlite:${join(dir, 'control.db')}`,
    args: ['--heartbeat-deadline-ms', '6000', '--node-loss-grace-ms', '1000'],
  });
  const url = plane.url;
  for (const n of ['n1', 'n2', 'n3']) {
    engines.set(n, await registeredEngine([url], n, `zone=z-${n},storageGroup=r1,initiatorIqn=${INITIATOR}`));
    await nodeOnline(url, n);
    await poolOnline(url, n, 'p', 64 * MiB);
  }
  const made = await cp<Volume>(url, 'POST', '/v1/volumes', { name: 'pvc-nexus', sizeBytes: 8 * MiB, replicas: 2, spread: { domain: 'zone', strict: true } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const id = made.body.id;
  const [front, other] = made.body.replicaStates.map((r) => r.nodeId);
  const spare = ['n1', 'n2', 'n3'].find((n) => n !== front && n !== other) as string;

  const pub = await cp<Volume>(url, 'POST', `/v1/volumes/${id}/publish`, { nodeId: front });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  const target = pub.body.target as { iqn: string; portal: string };
  assert.equal(target.portal, `127.0.0.1:${(engines.get(front) as EngineProcess).iscsi.port}`, 'the nexus runs on the publishing replica node');
  const first = await nexus(url, id);
  assert.equal(first.nodeId, front);
  assert.equal(first.generation, 1);
  const again = await cp<Volume>(url, 'POST', `/v1/volumes/${id}/publish`, { nodeId: front });
  assert.deepEqual(again.body.target, pub.body.target, 'publish is idempotent');

  // Kill the non-nexus replica's engine while a writer is busy: every write must complete.
  const writer = qemuIo(target, writes(0));
  setTimeout(() => { void (engines.get(other) as EngineProcess).kill(); }, 1500);
  await writer;
  await qemuIo(target, reads(0));

  const rebuilt = await waitFor('replacement rebuilt to online on the spare node', async () => {
    const v = await volume(url, id);
    const r = v.replicaStates.find((x) => x.nodeId === spare);
    return r?.status === 'online' && v.status === 'online' ? { v, r } : undefined;
  }, 90_000, 500);
  assert.equal(rebuilt.v.replicaStates.find((x) => x.nodeId === other)?.status, 'faulted');
  const members = await nexus(url, id);
  assert.equal(members.generation, 1, 'the same incarnation healed itself');
  const onEngine = await waitFor('the faulted replica removed from the engine\'s nexus', async () => {
    const res = await fetch(`${(engines.get(front) as EngineProcess).api}/v1/nexus/${id}`);
    const doc = (await res.json()) as { replicas: { volume: string; state: string }[] };
    return doc.replicas.length === 2 ? doc : undefined;
  }, 20_000, 250);
  assert.deepEqual(onEngine.replicas.map((r) => r.state), ['online', 'online']);
  assert.ok(!onEngine.replicas.some((r) => r.volume === made.body.replicaStates[1].id), 'the lost replica is no member');
  await qemuIo(target, [...writes(1).filter((c) => !c.startsWith('sleep')), ...reads(1)]);

  // Now the nexus's own node: the nexus comes back on the spare (the only in-sync replica left).
  await (engines.get(front) as EngineProcess).kill();
  const moved = await waitFor('nexus recreated on another node', async () => {
    const n = await nexus(url, id);
    return n.nodeId !== front ? n : undefined;
  }, 60_000, 500);
  assert.equal(moved.nodeId, spare);
  assert.equal(moved.generation, 2, 'a new incarnation fences the old one');
  const after2 = await volume(url, id);
  const newTarget = after2.target as { iqn: string; portal: string };
  assert.equal(newTarget.iqn, target.iqn, 'the target name stays with the volume');
  assert.equal(newTarget.portal, `127.0.0.1:${(engines.get(spare) as EngineProcess).iscsi.port}`);
  // Round 0 reached the spare only through the rebuild, round 1 through mirrored writes.
  await qemuIo(newTarget, [...reads(0), ...reads(1)]);

  // Unpublish destroys the nexus and keeps the replica.
  const off = await cp<Volume>(url, 'POST', `/v1/volumes/${id}/unpublish`, {});
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal((await cp(url, 'GET', `/v1/nexuses/${id}`)).status, 404);
  const res = await fetch(`${(engines.get(spare) as EngineProcess).api}/v1/nexus`);
  assert.deepEqual(((await res.json()) as { nexuses: unknown[] }).nexuses, []);
});
