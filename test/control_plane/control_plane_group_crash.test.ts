/**
 * Group snapshots under kill -9, with real processes: a control plane (SQLite store) and
 * two engines on 127.0.0.1; a 2-replica volume (nexus on n1, replicas on n1 and n2) and
 * two single-replica volumes exported straight from n1, all written by qemu-io writers
 * whose acknowledgements the test logs (one sequence alternates across all three
 * volumes, so one prefix must fit every member at once).
 *
 * Each round starts a group snapshot create (even rounds) or delete (odd rounds) and
 * kills the control plane with SIGKILL in the middle: at a random moment, or at one of
 * the service's fault points (BERTH_TEST_FAULT, the process kills itself there; rounds
 * 0 to 2 always do, 3 never, later ones as the seed draws). In
 * every other pair of rounds the engine n2 (a replica of the 2-replica volume) is
 * killed too at a random moment and kept down for a random while, sometimes past the
 * heartbeat deadline. After the restart and reconciliation, either the group exists
 * with every member present, each copy on its engine, byte-identical across replicas
 * and holding exactly a prefix of the acknowledged writes, or nothing of it remains: no
 * member copy on any engine, no record (pending or not) in the store. Retrying the same
 * create then succeeds; a retried delete finishes and leaks nothing. Writes go on
 * while the control plane is dead (a pause it held ends by its lease) and afterwards.
 *
 * Rounds: GROUP_CRASH_ROUNDS, else 16 with BERTH_LONG_TESTS=1, else 4. Seed:
 * GROUP_CRASH_SEED (printed; every random choice follows from it, the moments a
 * timer fires on a busy machine do not).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { sleep, waitFor } from '../helpers/tools.ts';
import { prng } from '../pool/cow_crash_shared.ts';
import { groupSnapshotIdFor } from '../../src/control/service/group_snapshot_service.ts';
import { snapshotIdFor } from '../../src/control/service/service_records.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import {
  SLOW, drawRound, engineSnapshots as engineSnapshotsOf, readCopy as readCopyOf, settled, settledRecord, storeRecords as storeRecordsOf, type StoredRecord,
} from './snapshot_crash_kit.ts';
import { INITIATOR, MiB, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';
import { AckedWriter, WriteSequence, prefixMatching, type Target } from './acked_writer.ts';

interface Volume { id: string; publishedNodeId?: string; replicaStates: { id: string; nodeId: string }[]; target?: Target }
interface Snapshot { id: string; volumeId: string; replicaSnapshots: { replicaId: string; poolId: string }[] }
interface Group { id: string; volumeIds: string[]; snapshots: Snapshot[] }

const LONG = process.env.BERTH_LONG_TESTS === '1';
const ROUNDS = Number(process.env.GROUP_CRASH_ROUNDS ?? (LONG ? 16 : 4));
const SEED = Number(process.env.GROUP_CRASH_SEED ?? Date.now() % 100_000);
const CHUNK = 16 * 1024;
const CHUNKS = 16;
const REGION = CHUNK * CHUNKS;
/** Each round writes two fresh regions per volume, so a round's log alone says what its snapshot must hold. */
const SIZE = Math.max(16, Math.ceil((2 * ROUNDS * REGION) / MiB) + 1) * MiB;
/** Where the control plane may kill itself (src/control/service/service_faults.ts). */
const FAULTS = { create: ['group-create:after-cut', 'snapshot-barrier:held', 'group-create:after-member'], delete: ['group-remove:after-copy'] };

const dir = mkdtempSync(join(tmpdir(), `berth-cp-group-crash-${process.pid}-`));
const store = join(dir, 'control.db');
let plane: ControlPlaneProcess | undefined;
let port = 0;
const engines = new Map<string, EngineProcess>();
const writers: AckedWriter[] = [];
/** Sequences of the current round, stopped in `after` if a round fails midway. */
const live: WriteSequence[] = [];
let vols: Volume[] = [];
const url = (): string => plane!.url;

before(async () => {
  plane = await startControlPlane({ store: `sqlite:${store}` });
  port = Number(new URL(plane.url).port);
  for (const n of ['n1', 'n2']) {
    engines.set(n, await registeredEngine([plane.url], n, `zone=z-${n},storageGroup=r1,initiatorIqn=${INITIATOR}`));
    await nodeOnline(plane.url, n);
    await poolOnline(plane.url, n, 'p', 256 * MiB);
  }
  vols = [
    await published('pvc-gc-a', 2, { preferredNodes: ['n1'] }),
    await published('pvc-gc-b', 1, { zone: 'z-n1' }),
    await published('pvc-gc-c', 1, { zone: 'z-n1' }),
  ];
  assert.deepEqual(vols[0].replicaStates.map((r) => r.nodeId).sort(), ['n1', 'n2'], 'the 2-replica volume spans both engines');
  assert.ok(vols.every((v) => v.publishedNodeId === 'n1'), 'every volume is written through n1, so killing n2 stops no writer');
});

after(async () => {
  // A failed round leaves its sequences writing: stop them, and let closing their writers end the write in flight.
  const stopped = live.map((s) => s.stop().catch(() => undefined));
  for (const w of writers) await w.close();
  await Promise.all(stopped);
  await plane?.kill();
  for (const e of engines.values()) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function published(name: string, replicas: number, placement: object): Promise<Volume> {
  const made = await cp<Volume>(url(), 'POST', '/v1/volumes', { name, sizeBytes: SIZE, replicas, thin: true, placement });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const pub = await cp<Volume>(url(), 'POST', `/v1/volumes/${made.body.id}/publish`, { nodeId: 'n1' });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  return pub.body;
}

function writer(v: Volume): AckedWriter {
  const w = new AckedWriter(v.target!);
  writers.push(w);
  return w;
}

const storeRecords = (): Map<string, StoredRecord> => storeRecordsOf(store);
const engineSnapshots = (): Promise<string[]> => engineSnapshotsOf(engines);
const readCopy = (snapshotId: string, poolId: string): Promise<Buffer> => readCopyOf(engines, dir, snapshotId, poolId);

/**
 * The group as the control plane describes it is whole: a member per volume, each copy
 * on its engine; with `seqs`, every copy read back is identical to its volume's other
 * copies and every sequence finds one prefix of its writes in [lo, hi] that fits them all.
 */
async function assertWhole(g: Group, tag: string, check?: { seqs: WriteSequence[]; lo: number[]; hi: number[] }): Promise<void> {
  assert.equal(g.snapshots.length, vols.length, `${tag}: a member per volume ${JSON.stringify(g)}`);
  const onEngines = new Set(await engineSnapshots());
  for (const m of g.snapshots) {
    assert.ok(m.replicaSnapshots.length >= 1, `${tag}: member ${m.id} has a copy`);
    for (const c of m.replicaSnapshots) assert.ok(onEngines.has(`${c.poolId.split(':')[0]}:${m.id}`), `${tag}: copy of ${m.id} on ${c.poolId}`);
  }
  if (check === undefined) return;
  const images = new Map<string, Buffer>();
  for (const m of g.snapshots) {
    const copies = [];
    for (const c of m.replicaSnapshots) copies.push(await readCopy(m.id, c.poolId));
    for (const img of copies.slice(1)) assert.ok(img.equals(copies[0]), `${tag}: the copies of ${m.id} differ`);
    images.set(m.volumeId, copies[0]);
  }
  for (const [i, s] of check.seqs.entries()) {
    const k = prefixMatching(s.log, images, CHUNK, check.lo[i], check.hi[i]);
    assert.ok(k >= 0, `${tag}: sequence ${i} finds no single prefix of its writes in ${check.lo[i]}..${check.hi[i]} that fits every member`);
  }
}

/** Nothing of the group: no record in the store, no member copy on any engine. */
async function assertNoTrace(gid: string, tag: string): Promise<void> {
  const members = vols.map((v) => snapshotIdFor(`${gid}/${v.id}`));
  const keys = [...storeRecords().keys()].filter((k) => k.endsWith(gid) || members.some((m) => k.endsWith(m)));
  assert.deepEqual(keys, [], `${tag}: no record left in the store`);
  const copies = (await engineSnapshots()).filter((s) => members.some((m) => s.endsWith(`:${m}`)));
  assert.deepEqual(copies, [], `${tag}: no member copy left on any engine`);
}

const acks = (seqs: WriteSequence[]): number[] => seqs.map((s) => s.acked());

async function progress(seqs: WriteSequence[], past: number[], what: string): Promise<void> {
  await waitFor(what, () => (seqs.every((s, i) => s.acked() >= past[i]) ? true : undefined), SLOW, 50);
}

async function restartPlane(): Promise<void> {
  plane = await startControlPlane({ store: `sqlite:${store}`, port });
}

/** Request durations seen so far, to aim the random kills inside a request. */
const typicalMs = { create: 400, delete: 200 };

test(`group snapshot create and delete survive kill -9 of the control plane (and of an engine) mid-request (${ROUNDS} rounds, seed ${SEED})`, { timeout: 300_000 + ROUNDS * 300_000 }, async () => {
  process.stdout.write(`# group crash: seed ${SEED} (GROUP_CRASH_SEED=${SEED} replays its choices), ${ROUNDS} rounds\n`);
  const rnd = prng(SEED);
  const [a, b, c] = vols;
  const w = { a: writer(a), b: writer(b), c: writer(c), load: writer(a) };
  const outcomes: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const { kind, killEngine, fault, planeDelay, engineDelay, engineDown, tag } = drawRound(r, rnd, SEED, FAULTS, typicalMs, 1.5);
    const name = `grp-${SEED}-${r}`;
    const gid = groupSnapshotIdFor(name);
    const body = { name, volumeIds: vols.map((v) => v.id) };
    const seqs = [
      new WriteSequence([{ volume: a.id, writer: w.a, base: 2 * r * REGION }, { volume: b.id, writer: w.b, base: 2 * r * REGION }, { volume: c.id, writer: w.c, base: 2 * r * REGION }], CHUNK, CHUNKS, 100 + r),
      new WriteSequence([{ volume: a.id, writer: w.load, base: (2 * r + 1) * REGION }], CHUNK, CHUNKS, 200 + r),
    ];
    live.splice(0, live.length, ...seqs);
    await progress(seqs, [9, 6], `${tag}: writers started`);

    if (kind === 'delete') {
      const lo = acks(seqs);
      const t0 = performance.now();
      const made = await cp<Group>(url(), 'POST', '/v1/snapshot-groups', body);
      typicalMs.create = performance.now() - t0;
      const hi = acks(seqs).map((n) => n + 1);
      assert.equal(made.status, 201, `${tag}: ${JSON.stringify(made.body)}`);
      await assertWhole(made.body, `${tag}, before the delete`, { seqs, lo, hi });
    }
    if (fault !== undefined) {
      // The next control plane kills itself at the fault point.
      await plane!.stop();
      plane = await startControlPlane({ store: `sqlite:${store}`, port, env: { BERTH_TEST_FAULT: `${fault}=crash` } });
      for (const n of engines.keys()) await nodeOnline(url(), n, SLOW);
    }

    // The request, and the kills.
    const lo = acks(seqs);
    let answered: { status: number; acks: number[] } | undefined;
    const dying = plane!;
    const request = (kind === 'create'
      ? cp<Group>(dying.url, 'POST', '/v1/snapshot-groups', body)
      : cp(dying.url, 'DELETE', `/v1/snapshot-groups/${gid}`)
    ).then((res) => { answered = { status: res.status, acks: acks(seqs) }; }, () => undefined);
    let killedAt: number[] | undefined;
    let killMs = 0;
    // At a fault point the process kills itself; should the request end before it gets there, it is killed then.
    const planeKill = (fault !== undefined ? Promise.race([dying.exited, request]) : sleep(planeDelay)).then(async () => {
      killedAt ??= acks(seqs);
      killMs = performance.now();
      await dying.kill();
    });
    const n2 = engines.get('n2')!;
    const engineKill = killEngine ? sleep(engineDelay).then(() => n2.kill()) : Promise.resolve();
    await Promise.all([request, planeKill, engineKill]);
    const hi = (answered?.acks ?? killedAt!).map((n) => n + 1);
    // With no control plane to resume them, writes a barrier held go on once its lease ends.
    await progress(seqs, acks(seqs).map((n) => n + 3), `${tag}: writes go on while the control plane is dead`);
    // For the report: a write in flight at the kill that waited seconds was held by a pause only its lease ended.
    const stalled = Math.max(0, ...seqs.flatMap((q) => q.log.filter((l) => l.sentAt <= killMs && l.ackedAt >= killMs).map((l) => l.ackedAt - l.sentAt)));

    await restartPlane();
    if (killEngine) {
      await sleep(engineDown);
      await n2.restart();
    }
    for (const n of engines.keys()) await nodeOnline(url(), n, SLOW);
    const rec = await settledRecord(store, `berth/v1/snapshot-groups/${gid}`, tag);
    outcomes.push(`${r}:${kind}@${fault ?? `${planeDelay}ms`}${killEngine ? '+n2' : ''}:${answered?.status ?? 'killed'}->${rec}${stalled > 2_000 ? ` (writes held ${(stalled / 1000).toFixed(1)} s)` : ''}`);

    if (kind === 'create') {
      if (rec === 'created') {
        const g = await cp<Group>(url(), 'GET', `/v1/snapshot-groups/${gid}`);
        assert.equal(g.status, 200, tag);
        await assertWhole(g.body, tag, { seqs, lo, hi });
      } else {
        assert.notEqual(answered?.status, 201, `${tag}: an answered create is not rolled back`);
        await assertNoTrace(gid, tag);
      }
      const lo2 = acks(seqs);
      const t0 = performance.now();
      const again = await settled(`${tag}: the retried create`, () => cp<Group>(url(), 'POST', '/v1/snapshot-groups', body));
      const hi2 = acks(seqs).map((n) => n + 1);
      assert.equal(again.status, rec === 'created' ? 200 : 201, `${tag}: retried create ${JSON.stringify(again.body)}`);
      if (rec === 'absent') {
        typicalMs.create = performance.now() - t0;
        await assertWhole(again.body, `${tag}, retried`, { seqs, lo: lo2, hi: hi2 });
      }
    } else if (rec === 'created') {
      assert.notEqual(answered?.status, 204, `${tag}: an answered delete is not undone`);
      const g = await cp<Group>(url(), 'GET', `/v1/snapshot-groups/${gid}`);
      assert.equal(g.status, 200, tag);
      await assertWhole(g.body, `${tag}, the delete never began`);
    }
    // Either way the group is deleted now, and nothing of it is left anywhere.
    const t0 = performance.now();
    const del = await settled(`${tag}: the delete`, () => cp(url(), 'DELETE', `/v1/snapshot-groups/${gid}`));
    typicalMs.delete = performance.now() - t0;
    assert.equal(del.status, 204, `${tag}: ${JSON.stringify(del.body)}`);
    assert.equal((await cp(url(), 'GET', `/v1/snapshot-groups/${gid}`)).status, 404, tag);
    await assertNoTrace(gid, tag);
    assert.deepEqual(await engineSnapshots(), [], `${tag}: no snapshot of any round left on the engines`);
    assert.deepEqual([...storeRecords().keys()], [], `${tag}: no snapshot or group record left in the store`);

    // Writes went on: the pause the dead control plane held ended by its lease.
    await progress(seqs, acks(seqs).map((n) => n + 5), `${tag}: writes resumed`);
    for (const s of seqs) await s.stop();
  }
  process.stdout.write(`# group crash outcomes (round:kind@kill point[+n2 killed]:answer->record after recovery): ${outcomes.join(' ')}\n`);
});
