/**
 * Single snapshots under kill -9, with real processes: a control plane (SQLite store)
 * and two engines on 127.0.0.1; a 2-replica volume (nexus on n1, replicas on n1 and n2)
 * written by qemu-io writers whose acknowledgements the test logs.
 *
 * Each round starts a snapshot create (even rounds) or delete (odd rounds) and kills the
 * control plane with SIGKILL in the middle: at a random moment, or at one of the
 * service's fault points (BERTH_TEST_FAULT, the process kills itself there; rounds 0 to
 * 2 always do, 3 never, later ones as the seed draws). In every other pair of rounds
 * the engine n2 (the second replica) is killed too at a random moment and kept down for
 * a random while, sometimes past the heartbeat deadline. The restarted control plane's
 * reconciler runs its first pass before any node's first heartbeat: it must not forget
 * a copy then. After recovery either the snapshot exists with each copy it names on its
 * engine, the copies byte-identical and holding exactly a prefix of the acknowledged
 * writes, or nothing of it remains: no copy on any engine, no record (pending or not)
 * in the store. A retried create then succeeds; a retried delete finishes and leaks
 * nothing.
 *
 * Rounds: SNAPSHOT_CRASH_ROUNDS, else 16 with BERTH_LONG_TESTS=1, else 4. Seed:
 * SNAPSHOT_CRASH_SEED (printed; every random choice follows from it, the moments a timer
 * fires on a busy machine do not).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { sleep, waitFor } from '../helpers/tools.ts';
import { ok } from '../engine/engine_kit.ts';
import { prng } from '../pool/cow_crash_shared.ts';
import { snapshotIdFor } from '../../src/control/service/service_records.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { INITIATOR, MiB, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';
import { AckedWriter, WriteSequence, prefixMatching, type Target } from './acked_writer.ts';
import { SLOW, drawRound, engineSnapshots, readCopy, settled, settledRecord, storeRecords } from './snapshot_crash_kit.ts';

interface Volume { id: string; publishedNodeId?: string; replicaStates: { id: string; nodeId: string }[]; target?: Target }
interface Snapshot { id: string; volumeId: string; replicaSnapshots: { replicaId: string; poolId: string }[] }

const LONG = process.env.BERTH_LONG_TESTS === '1';
const ROUNDS = Number(process.env.SNAPSHOT_CRASH_ROUNDS ?? (LONG ? 16 : 4));
const SEED = Number(process.env.SNAPSHOT_CRASH_SEED ?? Date.now() % 100_000);
const CHUNK = 16 * 1024;
const CHUNKS = 16;
const REGION = CHUNK * CHUNKS;
/** Each round writes a fresh region, so a round's log alone says what its snapshot must hold. */
const SIZE = Math.max(16, Math.ceil((ROUNDS * REGION) / MiB) + 1) * MiB;
/** Where the control plane may kill itself (src/control/service/service_faults.ts). */
const FAULTS = { create: ['snapshot-create:after-cut', 'snapshot-barrier:held'], delete: ['snapshot-remove:after-copy'] };

const dir = mkdtempSync(join(tmpdir(), `berth-cp-snap-crash-${process.pid}-`));
const store = join(dir, 'control.db');
let plane: ControlPlaneProcess | undefined;
let port = 0;
const engines = new Map<string, EngineProcess>();
const writers: AckedWriter[] = [];
/** The sequence of the current round, stopped in `after` if a round fails midway. */
const live: WriteSequence[] = [];
let vol: Volume | undefined;
const url = (): string => plane!.url;

before(async () => {
  plane = await startControlPlane({ store: `sqlite:${store}` });
  port = Number(new URL(plane.url).port);
  for (const n of ['n1', 'n2']) {
    engines.set(n, await registeredEngine([plane.url], n, `zone=z-${n},storageGroup=r1,initiatorIqn=${INITIATOR}`));
    await nodeOnline(plane.url, n);
    await poolOnline(plane.url, n, 'p', 256 * MiB);
  }
  const made = await cp<Volume>(url(), 'POST', '/v1/volumes', { name: 'pvc-sc', sizeBytes: SIZE, replicas: 2, thin: true, placement: { preferredNodes: ['n1'] } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const pub = await cp<Volume>(url(), 'POST', `/v1/volumes/${made.body.id}/publish`, { nodeId: 'n1' });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  vol = pub.body;
  assert.deepEqual(vol.replicaStates.map((r) => r.nodeId).sort(), ['n1', 'n2'], 'the volume spans both engines');
});

after(async () => {
  const stopped = live.map((s) => s.stop().catch(() => undefined));
  for (const w of writers) await w.close();
  await Promise.all(stopped);
  await plane?.kill();
  for (const e of engines.values()) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

const snapshotRecord = (id: string): string => `berth/v1/snapshots/${id}`;

/** The snapshot is whole: each copy it names is on its engine; with `check`, the copies are identical and hold one prefix of the writes in [lo, hi]. */
async function assertWhole(s: Snapshot, tag: string, check?: { seq: WriteSequence; lo: number; hi: number }): Promise<void> {
  // A replica n2's kill left out of sync is cut no copy until it is rebuilt.
  assert.ok(s.replicaSnapshots.length >= 1, `${tag}: a copy ${JSON.stringify(s)}`);
  const onEngines = new Set(await engineSnapshots(engines));
  for (const c of s.replicaSnapshots) assert.ok(onEngines.has(`${c.poolId.split(':')[0]}:${s.id}`), `${tag}: copy on ${c.poolId}`);
  if (check === undefined) return;
  const copies = [];
  for (const c of s.replicaSnapshots) copies.push(await readCopy(engines, dir, s.id, c.poolId));
  for (const img of copies.slice(1)) assert.ok(img.equals(copies[0]), `${tag}: the copies differ`);
  const k = prefixMatching(check.seq.log, new Map([[s.volumeId, copies[0]]]), CHUNK, check.lo, check.hi);
  assert.ok(k >= 0, `${tag}: no prefix of the writes in ${check.lo}..${check.hi} fits the snapshot`);
}

/** Nothing of the snapshot: no record in the store, no copy on any engine. */
async function assertNoTrace(id: string, tag: string): Promise<void> {
  assert.equal(storeRecords(store).get(snapshotRecord(id)), undefined, `${tag}: no record left in the store`);
  assert.deepEqual((await engineSnapshots(engines)).filter((s) => s.endsWith(`:${id}`)), [], `${tag}: no copy left on any engine`);
}

async function progress(seq: WriteSequence, past: number, what: string): Promise<void> {
  await waitFor(what, () => (seq.acked() >= past ? true : undefined), SLOW, 50);
}

/** Request durations seen so far, to aim the random kills inside a request. */
const typicalMs = { create: 300, delete: 150 };

test(`snapshot create and delete survive kill -9 of the control plane (and of an engine) mid-request (${ROUNDS} rounds, seed ${SEED})`, { timeout: 300_000 + ROUNDS * 300_000 }, async () => {
  process.stdout.write(`# snapshot crash: seed ${SEED} (SNAPSHOT_CRASH_SEED=${SEED} replays its choices), ${ROUNDS} rounds\n`);
  const rnd = prng(SEED);
  const v = vol!;
  const w = new AckedWriter(v.target!);
  writers.push(w);
  const outcomes: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Up to 3x a typical request: about half the random kills land after the commit, so both outcomes are checked.
    const { kind, killEngine, fault, planeDelay, engineDelay, engineDown, tag } = drawRound(r, rnd, SEED, FAULTS, typicalMs, 3);
    const name = `snap-${SEED}-${r}`;
    const id = snapshotIdFor(name);
    const body = { name, volumeId: v.id };
    const seq = new WriteSequence([{ volume: v.id, writer: w, base: r * REGION }], CHUNK, CHUNKS, 100 + r);
    live.splice(0, live.length, seq);
    await progress(seq, 6, `${tag}: writer started`);

    if (kind === 'delete') {
      const lo = seq.acked();
      const t0 = performance.now();
      const made = await cp<Snapshot>(url(), 'POST', '/v1/snapshots', body);
      typicalMs.create = performance.now() - t0;
      assert.equal(made.status, 201, `${tag}: ${JSON.stringify(made.body)}`);
      await assertWhole(made.body, `${tag}, before the delete`, { seq, lo, hi: seq.acked() + 1 });
    }
    if (fault !== undefined) {
      // The next control plane kills itself at the fault point.
      await plane!.stop();
      plane = await startControlPlane({ store: `sqlite:${store}`, port, env: { BERTH_TEST_FAULT: `${fault}=crash` } });
      for (const n of engines.keys()) await nodeOnline(url(), n, SLOW);
    }

    const lo = seq.acked();
    let answered: { status: number; acked: number } | undefined;
    const dying = plane!;
    const request = (kind === 'create' ? cp<Snapshot>(dying.url, 'POST', '/v1/snapshots', body) : cp(dying.url, 'DELETE', `/v1/snapshots/${id}`))
      .then((res) => { answered = { status: res.status, acked: seq.acked() }; }, () => undefined);
    let killedAt: number | undefined;
    // At a fault point the process kills itself; should the request end before it gets there, it is killed then.
    const planeKill = (fault !== undefined ? Promise.race([dying.exited, request]) : sleep(planeDelay)).then(async () => {
      killedAt ??= seq.acked();
      await dying.kill();
    });
    const n2 = engines.get('n2')!;
    const engineKill = killEngine ? sleep(engineDelay).then(() => n2.kill()) : Promise.resolve();
    await Promise.all([request, planeKill, engineKill]);
    const hi = (answered?.acked ?? killedAt!) + 1;
    // With no control plane to resume it, a pause it held ends by its lease.
    await progress(seq, seq.acked() + 3, `${tag}: writes go on while the control plane is dead`);

    plane = await startControlPlane({ store: `sqlite:${store}`, port });
    if (killEngine) {
      await sleep(engineDown);
      await n2.restart();
    }
    for (const n of engines.keys()) await nodeOnline(url(), n, SLOW);
    const rec = await settledRecord(store, snapshotRecord(id), tag);
    outcomes.push(`${r}:${kind}@${fault ?? `${planeDelay}ms`}${killEngine ? '+n2' : ''}:${answered?.status ?? 'killed'}->${rec}`);

    if (kind === 'create') {
      if (rec === 'created') {
        const s = await cp<Snapshot>(url(), 'GET', `/v1/snapshots/${id}`);
        assert.equal(s.status, 200, tag);
        await assertWhole(s.body, tag, { seq, lo, hi });
      } else {
        assert.notEqual(answered?.status, 201, `${tag}: an answered create is not rolled back`);
        await assertNoTrace(id, tag);
      }
      const lo2 = seq.acked();
      const t0 = performance.now();
      const again = await settled(`${tag}: the retried create`, () => cp<Snapshot>(url(), 'POST', '/v1/snapshots', body));
      const hi2 = seq.acked() + 1;
      assert.equal(again.status, rec === 'created' ? 200 : 201, `${tag}: retried create ${JSON.stringify(again.body)}`);
      if (rec === 'absent') {
        typicalMs.create = performance.now() - t0;
        await assertWhole(again.body, `${tag}, retried`, { seq, lo: lo2, hi: hi2 });
      }
    } else if (rec === 'created') {
      assert.notEqual(answered?.status, 204, `${tag}: an answered delete is not undone`);
      const s = await cp<Snapshot>(url(), 'GET', `/v1/snapshots/${id}`);
      assert.equal(s.status, 200, tag);
      await assertWhole(s.body, `${tag}, the delete never began`);
    }
    // Either way the snapshot is deleted now, and nothing of it is left anywhere.
    const t0 = performance.now();
    const del = await settled(`${tag}: the delete`, () => cp(url(), 'DELETE', `/v1/snapshots/${id}`));
    typicalMs.delete = performance.now() - t0;
    assert.equal(del.status, 204, `${tag}: ${JSON.stringify(del.body)}`);
    assert.equal((await cp(url(), 'GET', `/v1/snapshots/${id}`)).status, 404, tag);
    await assertNoTrace(id, tag);
    assert.deepEqual(await engineSnapshots(engines), [], `${tag}: no snapshot of any round left on the engines`);
    assert.deepEqual([...storeRecords(store).keys()], [], `${tag}: no snapshot record left in the store`);

    await progress(seq, seq.acked() + 5, `${tag}: writes resumed`);
    await seq.stop();
  }
  process.stdout.write(`# snapshot crash outcomes (round:kind@kill point[+n2 killed]:answer->record after recovery): ${outcomes.join(' ')}\n`);
});

test('a snapshot copy no record names is removed by the snapshot_orphans reconciler; an operator\'s engine snapshot is never touched', { timeout: SLOW * 2 }, async () => {
  const v = vol!;
  const n1 = engines.get('n1')!;
  const replica = v.replicaStates.find((r) => r.nodeId === 'n1')!.id;
  const orphan = snapshotIdFor(`orphan-${process.pid}`);
  const operator = `operator-${process.pid}`;
  for (const name of [orphan, operator]) await ok(n1.api, 'POST', `/v1/pools/p/volumes/${replica}/snapshots`, { name }, 201);
  try {
    await plane!.stop();
    plane = await startControlPlane({ store: `sqlite:${store}`, port, args: ['--orphan-min-age-ms', '0', '--orphan-interval-ms', '500'] });
    for (const n of engines.keys()) await nodeOnline(url(), n, SLOW);
    await waitFor('the orphan copy removed', async () => ((await engineSnapshots(engines)).includes(`n1:${orphan}`) ? undefined : true), SLOW, 250);
    await plane.waitForLog('orphan snapshot copy removed', SLOW);
    assert.deepEqual(await engineSnapshots(engines), [`n1:${operator}`], 'the operator\'s snapshot stays');
  } finally {
    await ok(n1.api, 'DELETE', `/v1/pools/p/snapshots/${operator}`, undefined, 204);
  }
});
