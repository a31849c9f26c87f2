/**
 * The snapshot barrier with real processes: a control plane and three engines on
 * 127.0.0.1; replicated volumes published (a nexus on one engine, replicas on the
 * others), written by several interactive qemu-io writers whose every acknowledgement
 * the test logs. A snapshot (and a group snapshot of two volumes) is taken mid-load;
 * then each replica's copy is read back from its own engine and must (1) be byte-identical
 * to every other copy and (2) hold exactly a prefix of each writer's acknowledged
 * writes: all those acknowledged before the request, none sent after the answer. For
 * the group, one writer alternates between the two volumes, so one prefix must fit
 * both members at once (crash consistency across volumes), also for single-replica
 * volumes held at their exports. A restore and a clone of a 3-replica volume are seeded
 * on every replica (no rebuild) with identical bytes. A degraded volume (a replica's
 * engine killed under load) is cut on its in-sync replica only. Changed-block tracking is
 * read through the control plane and the CLI.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { repoRoot, run } from '../helpers/tools.ts';
import { ok, type ExportDoc } from '../engine/engine_kit.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { INITIATOR, MiB, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';
import { AckedWriter, WriteSequence, latencies, prefixMatching, type Target } from './acked_writer.ts';

interface Volume { id: string; replicaStates: { id: string; nodeId: string; poolId: string; status: string }[]; target?: Target }
interface Snapshot { id: string; volumeId: string; replicaSnapshots: { replicaId: string; poolId: string }[] }
interface Group { id: string; snapshots: Snapshot[] }

const CHUNK = 64 * 1024;
const CHUNKS = 32;
const REGION = CHUNK * CHUNKS;
const SIZE = 16 * MiB;
const NODES = ['n1', 'n2', 'n3'];

const dir = mkdtempSync(join(tmpdir(), `berth-cp-barrier-${process.pid}-`));
let plane: ControlPlaneProcess | undefined;
const engines = new Map<string, EngineProcess>();
const writers: AckedWriter[] = [];

before(async () => {
  plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}` });
  for (const n of NODES) {
    engines.set(n, await registeredEngine([plane.url], n, `zone=z-${n},storageGroup=r1,initiatorIqn=${INITIATOR}`));
    await nodeOnline(plane.url, n);
    await poolOnline(plane.url, n, 'p', 256 * MiB);
  }
});

after(async () => {
  for (const w of writers) await w.close();
  await plane?.stop();
  for (const e of engines.values()) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function publishedVolume(name: string, replicas: number): Promise<Volume> {
  const made = await cp<Volume>(plane!.url, 'POST', '/v1/volumes', { name, sizeBytes: SIZE, replicas, thin: true });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const pub = await cp<Volume>(plane!.url, 'POST', `/v1/volumes/${made.body.id}/publish`, { nodeId: made.body.replicaStates[0].nodeId });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  return pub.body;
}

function writer(target: Target): AckedWriter {
  const w = new AckedWriter(target);
  writers.push(w);
  return w;
}

async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 120_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('writers made no progress');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A snapshot copy as its own engine holds it: a volume made from it in that pool, read whole over iSCSI. */
async function readCopy(snapshotId: string, copy: { replicaId: string; poolId: string }, tag: string): Promise<Buffer> {
  const node = copy.poolId.slice(0, copy.poolId.indexOf(':'));
  const api = engines.get(node)!.api;
  const name = `chk-${tag}`;
  await ok(api, 'POST', '/v1/pools/p/volumes', { name, fromSnapshot: snapshotId });
  const ex = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'p', volume: name, allowedInitiators: null });
  const file = join(dir, `${name}.raw`);
  const r = await run('qemu-img', ['convert', '-O', 'raw', ex.url, file], { timeoutMs: 120_000, check: false });
  assert.equal(r.code, 0, r.stderr);
  const img = readFileSync(file);
  rmSync(file);
  await ok(api, 'DELETE', `/v1/exports/p/${name}`, undefined, 204);
  await ok(api, 'DELETE', `/v1/pools/p/volumes/${name}`, undefined, 204);
  return img;
}

/** A replica volume as its engine holds it, read whole over an export of its own. */
async function readReplica(r: { id: string; nodeId: string }): Promise<Buffer> {
  const api = engines.get(r.nodeId)!.api;
  const ex = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'p', volume: r.id, allowedInitiators: null });
  const file = join(dir, `replica-${r.id}.raw`);
  const conv = await run('qemu-img', ['convert', '-O', 'raw', ex.url, file], { timeoutMs: 120_000, check: false });
  assert.equal(conv.code, 0, conv.stderr);
  const img = readFileSync(file);
  rmSync(file);
  await ok(api, 'DELETE', `/v1/exports/p/${r.id}`, undefined, 204);
  return img;
}

/** Every copy of the snapshot, read back; asserts they are byte-identical and returns one. */
async function identicalCopies(s: Snapshot, replicas: number): Promise<Buffer> {
  assert.equal(s.replicaSnapshots.length, replicas, 'a copy on every in-sync replica');
  const images: Buffer[] = [];
  for (const [i, c] of s.replicaSnapshots.entries()) images.push(await readCopy(s.id, c, `${s.id.slice(2, 10)}-${i}`));
  for (let i = 1; i < images.length; i++) assert.ok(images[i].equals(images[0]), `replica copy ${i} of ${s.id} differs from copy 0`);
  return images[0];
}

test('a snapshot of a 3-replica volume under 3 writers: every replica\'s copy is identical and holds exactly the acknowledged writes', { timeout: 600_000 }, async () => {
  const v = await publishedVolume('pvc-barrier', 3);
  const seqs = [0, 1, 2].map((k) => new WriteSequence([{ volume: v.id, writer: writer(v.target!), base: k * REGION }], CHUNK, CHUNKS, k + 1));
  await until(() => seqs.every((s) => s.acked() >= 40));
  const lo = seqs.map((s) => s.acked());
  const started = performance.now();
  const snap = await cp<Snapshot>(plane!.url, 'POST', '/v1/snapshots', { name: 'snap-under-load', volumeId: v.id });
  const answered = performance.now();
  const hi = seqs.map((s) => s.acked() + 1);
  assert.equal(snap.status, 201, JSON.stringify(snap.body));
  await until(() => seqs.every((s, i) => s.acked() >= hi[i] + 5));
  for (const s of seqs) await s.stop();
  const lat = seqs.map((s) => latencies(s.log, started, answered));
  const during = lat.flatMap((l) => l.during);
  const outside = lat.flatMap((l) => l.outside).sort((a, b) => a - b);
  process.stdout.write(`# snapshot under load: ${(answered - started).toFixed(0)} ms request to answer; longest write in flight meanwhile ${Math.max(...during).toFixed(0)} ms `
    + `(median write otherwise ${outside[outside.length >> 1].toFixed(1)} ms, p99 ${outside[Math.floor(outside.length * 0.99)].toFixed(1)} ms); acks before/after: ${lo.join(',')} / ${hi.join(',')}\n`);

  const image = await identicalCopies(snap.body, 3);
  for (const [i, s] of seqs.entries()) {
    const k = prefixMatching(s.log, new Map([[v.id, image]]), CHUNK, lo[i], hi[i]);
    assert.ok(k >= 0, `writer ${i}: the snapshot is no prefix of its writes between ${lo[i]} and ${hi[i]}`);
  }
  // The live volume went on: writes after the answer are not in the snapshot.
  assert.ok(seqs.every((s, i) => s.acked() > hi[i]));

  // A 3-replica restore is seeded on every replica from the copy in its pool: no rebuild, the snapshot's bytes everywhere.
  const restored = await cp<Volume>(
    plane!.url, 'POST', '/v1/volumes', { name: 'pvc-restored3', sizeBytes: SIZE, replicas: 3, thin: true, sourceSnapshotId: snap.body.id },
  );
  assert.equal(restored.status, 201, JSON.stringify(restored.body));
  assert.deepEqual(restored.body.replicaStates.map((r) => r.status), ['online', 'online', 'online'], JSON.stringify(restored.body.replicaStates));
  for (const r of restored.body.replicaStates) assert.ok((await readReplica(r)).equals(image), `restored replica on ${r.nodeId} holds the snapshot's bytes`);
});

test('a clone of a live 3-replica volume under writers: every replica seeded at one point, identical, a prefix of the acknowledged writes', { timeout: 600_000 }, async () => {
  const v = await publishedVolume('pvc-clone-src', 3);
  const seqs = [0, 1].map((k) => new WriteSequence([{ volume: v.id, writer: writer(v.target!), base: k * REGION }], CHUNK, CHUNKS, 21 + k));
  await until(() => seqs.every((s) => s.acked() >= 30));
  const lo = seqs.map((s) => s.acked());
  const made = await cp<Volume>(plane!.url, 'POST', '/v1/volumes', { name: 'pvc-clone3', sizeBytes: SIZE, replicas: 3, thin: true, sourceVolumeId: v.id });
  const hi = seqs.map((s) => s.acked() + 1);
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await until(() => seqs.every((s, i) => s.acked() >= hi[i] + 3));
  for (const s of seqs) await s.stop();
  assert.deepEqual(made.body.replicaStates.map((r) => r.status), ['online', 'online', 'online'], 'no replica waits for a rebuild');
  const images = [];
  for (const r of made.body.replicaStates) images.push(await readReplica(r));
  for (let i = 1; i < images.length; i++) assert.ok(images[i].equals(images[0]), `clone replica ${i} differs from replica 0`);
  for (const [i, s] of seqs.entries()) {
    assert.ok(prefixMatching(s.log, new Map([[v.id, images[0]]]), CHUNK, lo[i], hi[i]) >= 0, `writer ${i}: the clone is no prefix of its writes between ${lo[i]} and ${hi[i]}`);
  }
});

test('a group snapshot of two volumes is one point in time: a writer alternating between them finds one prefix in both', { timeout: 600_000 }, async () => {
  const x = await publishedVolume('pvc-group-x', 2);
  const y = await publishedVolume('pvc-group-y', 2);
  const cross = new WriteSequence([
    { volume: x.id, writer: writer(x.target!), base: 0 },
    { volume: y.id, writer: writer(y.target!), base: 0 },
  ], CHUNK, CHUNKS, 11);
  const loadX = new WriteSequence([{ volume: x.id, writer: writer(x.target!), base: REGION }], CHUNK, CHUNKS, 12);
  const loadY = new WriteSequence([{ volume: y.id, writer: writer(y.target!), base: REGION }], CHUNK, CHUNKS, 13);
  const seqs = [cross, loadX, loadY];
  await until(() => seqs.every((s) => s.acked() >= 30));
  const lo = seqs.map((s) => s.acked());
  const made = await cp<Group>(plane!.url, 'POST', '/v1/snapshot-groups', { name: 'grp-under-load', volumeIds: [x.id, y.id] });
  const hi = seqs.map((s) => s.acked() + 1);
  assert.equal(made.status, 201, JSON.stringify(made.body));
  for (const s of seqs) await s.stop();

  const [sx, sy] = [x.id, y.id].map((id) => made.body.snapshots.find((s) => s.volumeId === id)!);
  const images = new Map([[x.id, await identicalCopies(sx, 2)], [y.id, await identicalCopies(sy, 2)]]);
  for (const [i, s] of seqs.entries()) {
    const k = prefixMatching(s.log, images, CHUNK, lo[i], hi[i]);
    assert.ok(k >= 0, `sequence ${i}: no single prefix of its writes (${lo[i]}..${hi[i]}) fits both members`);
  }

  // Changed blocks: what the member holds, and what a later snapshot of x changed.
  const alloc = await cp<{ ranges: { offset: number; length: number }[]; nextOffset: number | null }>(plane!.url, 'GET', `/v1/snapshots/${sx.id}/blocks`);
  assert.equal(alloc.status, 200, JSON.stringify(alloc.body));
  const covered = (ranges: { offset: number; length: number }[], off: number): boolean => ranges.some((r) => r.offset <= off && off + CHUNK <= r.offset + r.length);
  for (const w of cross.log.filter((l) => l.volume === x.id)) assert.ok(covered(alloc.body.ranges, w.offset), `written chunk at ${w.offset} is allocated`);
  assert.ok(!alloc.body.ranges.some((r) => r.offset >= 2 * REGION), 'nothing beyond the written regions');
  const tail = new WriteSequence([{ volume: x.id, writer: writer(x.target!), base: 4 * REGION }], CHUNK, 2, 14);
  await until(() => tail.acked() >= 2);
  await tail.stop();
  const later = await cp<Snapshot>(plane!.url, 'POST', '/v1/snapshots', { name: 'after-group', volumeId: x.id });
  assert.equal(later.status, 201, JSON.stringify(later.body));
  const delta = await cp<{ ranges: { offset: number; length: number }[] }>(plane!.url, 'GET', `/v1/snapshots/${later.body.id}/blocks?base=${sx.id}`);
  assert.equal(delta.status, 200, JSON.stringify(delta.body));
  assert.ok(covered(delta.body.ranges, 4 * REGION) && covered(delta.body.ranges, 4 * REGION + CHUNK), JSON.stringify(delta.body.ranges));
  assert.ok(!delta.body.ranges.some((r) => r.offset + r.length <= 2 * REGION && r.offset < 0), 'sane ranges');

  // The CLI reads the same through the control plane.
  const cli = await run(process.execPath, [join(repoRoot, 'src/cli/main.ts'), '-o', 'json', 'snapshot', 'blocks', later.body.id, '--base', sx.id, '--control-plane', plane!.url], { check: false });
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual((JSON.parse(cli.stdout) as { ranges: unknown[] }).ranges, delta.body.ranges);
  const desc = await run(process.execPath, [join(repoRoot, 'src/cli/main.ts'), '-o', 'json', 'snapshot', 'group', 'describe', made.body.id, '--control-plane', plane!.url], { check: false });
  assert.equal(desc.code, 0, desc.stderr);
  assert.equal((JSON.parse(desc.stdout) as Group).snapshots.length, 2);

  const del = await cp(plane!.url, 'DELETE', `/v1/snapshot-groups/${made.body.id}`);
  assert.equal(del.status, 204);
  for (const e of engines.values()) {
    const left = await ok<{ snapshots: { name: string }[] }>(e.api, 'GET', '/v1/pools/p/snapshots');
    assert.ok(!left.snapshots.some((s) => s.name === sx.id || s.name === sy.id), 'member copies removed from every engine');
  }
});

test('a group snapshot of two single-replica volumes published straight from their engines: held at the exports, one prefix in both', { timeout: 600_000 }, async () => {
  const x = await publishedVolume('pvc-single-x', 1);
  const y = await publishedVolume('pvc-single-y', 1);
  const cross = new WriteSequence([
    { volume: x.id, writer: writer(x.target!), base: 0 },
    { volume: y.id, writer: writer(y.target!), base: 0 },
  ], CHUNK, CHUNKS, 31);
  const load = new WriteSequence([{ volume: x.id, writer: writer(x.target!), base: REGION }], CHUNK, CHUNKS, 32);
  const seqs = [cross, load];
  await until(() => seqs.every((s) => s.acked() >= 30));
  const lo = seqs.map((s) => s.acked());
  const made = await cp<Group>(plane!.url, 'POST', '/v1/snapshot-groups', { name: 'grp-single', volumeIds: [x.id, y.id] });
  const hi = seqs.map((s) => s.acked() + 1);
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await until(() => seqs.every((s, i) => s.acked() >= hi[i] + 3));
  for (const s of seqs) await s.stop();
  const [sx, sy] = [x.id, y.id].map((id) => made.body.snapshots.find((s) => s.volumeId === id)!);
  const images = new Map([[x.id, await identicalCopies(sx, 1)], [y.id, await identicalCopies(sy, 1)]]);
  for (const [i, s] of seqs.entries()) {
    assert.ok(prefixMatching(s.log, images, CHUNK, lo[i], hi[i]) >= 0, `sequence ${i}: no single prefix of its writes (${lo[i]}..${hi[i]}) fits both members`);
  }
});

// Last: it kills an engine.
test('a snapshot of a degraded volume (a replica\'s engine killed under load) is cut on the in-sync replica only, and holds the acknowledged writes', { timeout: 600_000 }, async () => {
  const v = await publishedVolume('pvc-degraded', 2);
  const front = v.replicaStates[0].nodeId;
  const other = v.replicaStates[1];
  const seq = new WriteSequence([{ volume: v.id, writer: writer(v.target!), base: 0 }], CHUNK, CHUNKS, 41);
  await until(() => seq.acked() >= 20);
  await engines.get(other.nodeId)!.kill();
  const killedAt = seq.acked();
  // The nexus retires the dead replica on its next writes; none of them fails.
  await until(() => seq.acked() >= killedAt + 20);
  const lo = seq.acked();
  const snap = await cp<Snapshot>(plane!.url, 'POST', '/v1/snapshots', { name: 'snap-degraded', volumeId: v.id });
  const hi = seq.acked() + 1;
  assert.equal(snap.status, 201, JSON.stringify(snap.body));
  await seq.stop();
  assert.deepEqual(snap.body.replicaSnapshots.map((c) => c.replicaId), [v.replicaStates[0].id], 'only the replica that holds every acknowledged write');
  assert.equal(snap.body.replicaSnapshots[0].poolId.split(':')[0], front);
  const image = await readCopy(snap.body.id, snap.body.replicaSnapshots[0], 'degraded');
  assert.ok(prefixMatching(seq.log, new Map([[v.id, image]]), CHUNK, lo, hi) >= 0, `the snapshot is no prefix of the writes between ${lo} and ${hi}`);
});
