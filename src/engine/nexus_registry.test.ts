import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../util/log.ts';
import { DeviceGoneError } from '../block/errors.ts';
import { StaleGenerationError } from '../replica/replica_errors.ts';
import { TestDevice, pattern } from '../nexus/nexus_test_devices.ts';
import { NexusRegistry } from './nexus_registry.ts';
import { saveNexusRecords, type NexusRecord } from './nexus_state.ts';
import type { ChildOpener, ReplicaRef } from './nexus_children.ts';
import { ManualClock } from './retry_test_clock.ts';

const A = '10.0.0.1:9520';
const B = '10.0.0.2:9520'; // this engine
const C = '10.0.0.3:9520';
const BLOCKS = 256;

/** A replica with a fence generation; `reachable` false fails its connect like a cut link. */
class Replica extends TestDevice {
  gen = 0;
  reachable = true;
  async fence(generation: number): Promise<void> {
    if (generation < this.gen) throw new StaleGenerationError(this.gen);
    this.gen = generation;
  }
}

/** Opens replicas as ChildOpener does: HELLO refuses a lower generation, a cut link times out. */
class FakeOpener {
  readonly self = B;
  readonly replicas = new Map<string, Replica>([[A, new Replica(BLOCKS)], [B, new Replica(BLOCKS)], [C, new Replica(BLOCKS)]]);
  normalize(ref: ReplicaRef): ReplicaRef { return ref.node === 'local' ? { ...ref, node: B } : ref; }
  isLocal(ref: ReplicaRef): boolean { return ref.node === B || ref.node === 'local'; }
  async open(ref: ReplicaRef, generation: number) {
    const r = this.replicas.get(ref.node) as Replica;
    if (!r.reachable) throw new DeviceGoneError(`connect to ${ref.node} timed out`);
    if (generation < r.gen) throw new StaleGenerationError(r.gen);
    return { device: r, release: () => undefined };
  }
  async currentGeneration(ref: ReplicaRef): Promise<number> {
    const r = this.replicas.get(ref.node) as Replica;
    if (!r.reachable) throw new DeviceGoneError(`connect to ${ref.node} timed out`);
    return r.gen;
  }
}

const record: NexusRecord = {
  name: 'vol', uuid: '7c1d2f0e-0000-4000-8000-000000000002', generation: 2, blockSize: 512, blockCount: BLOCKS, thin: true,
  regionBytes: 65536, rebuildThrottleBytesPerSec: 0,
  replicas: [A, B, C].map((node) => ({ node, pool: 'p', volume: 'v', state: 'online' as const })),
};

/** Lets timers' work (opens, fences, state-file saves) finish: real file I/O, so a real pause. */
const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

async function until(what: string, reg: NexusRegistry, clock: ManualClock, pred: (state: string) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (pred(reg.describe('vol').state)) return;
    await clock.advance(1000, pause);
  }
  assert.fail(`${what}: ${JSON.stringify(reg.describe('vol'))}`);
}

async function withRegistry(fn: (reg: NexusRegistry, opener: FakeOpener, clock: ManualClock, dir: string) => Promise<void>, prepare: (o: FakeOpener) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-nexus-reg-'));
  const opener = new FakeOpener();
  const clock = new ManualClock();
  prepare(opener);
  await saveNexusRecords(dir, B, [record]);
  const reg = await NexusRegistry.open({ dataDir: dir, opener: opener as unknown as ChildOpener, log: silentLogger(), clock });
  try {
    await fn(reg, opener, clock, dir);
  } finally {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('nexus_registry split-brain: restarted cut off from its peers, the old incarnation serves nothing, then a STALE_GENERATION answer to its reconnect fences it', async () => {
  await withRegistry(async (reg, opener, clock) => {
    const view = reg.describe('vol');
    assert.equal(view.state, 'no-quorum');
    assert.match(view.reason ?? '', /1 of the 2 replicas/);
    await assert.rejects(reg.device('vol').write(0, pattern(0, 1, 512, 9), false), { code: 'NEXUS_NO_QUORUM' });
    assert.equal(opener.replicas.get(B)!.writes, 0, 'nothing was written to the local replica');
    // Routes heal: A and C hold generation 3 and refuse the HELLO of generation 2.
    for (const n of [A, C]) opener.replicas.get(n)!.reachable = true;
    await until('fenced by the reconnect', reg, clock, (s) => s === 'fenced');
    assert.match(reg.describe('vol').reason ?? '', /generation/);
    await assert.rejects(reg.device('vol').write(0, pattern(0, 1, 512, 9), false), { code: 'NEXUS_FENCED' });
  }, (o) => {
    o.replicas.get(B)!.gen = 2;
    for (const n of [A, C]) Object.assign(o.replicas.get(n)!, { gen: 3, reachable: false });
  });
});

test('nexus_registry quorum: peers that return at the same generation restore the quorum; the nexus serves and resyncs them', async () => {
  await withRegistry(async (reg, opener, clock) => {
    assert.equal(reg.describe('vol').state, 'no-quorum');
    opener.replicas.get(A)!.reachable = true;
    await until('serving on B and A', reg, clock, (s) => s === 'degraded');
    await until('A rebuilt', reg, clock, () => reg.describe('vol').replicas.find((r) => r.node === A)?.state === 'online');
    await reg.device('vol').write(0, pattern(0, 1, 512, 9), false);
    const c = reg.describe('vol').replicas.find((r) => r.node === C)!;
    assert.equal(c.state, 'faulted');
    assert.match(c.lastError ?? '', /timed out/, 'why C is not back is visible');
    assert.ok(c.retryAt !== null);
  }, (o) => {
    for (const r of o.replicas.values()) r.gen = 2;
    for (const n of [A, C]) o.replicas.get(n)!.reachable = false;
  });
});

test('nexus_registry create: an unreachable replica joins as a placeholder (recovery of a dead nexus node), not below the takeover floor', async () => {
  await withRegistry(async (reg, opener) => {
    await reg.destroy('vol');
    const refs = [{ node: 'local', pool: 'p', volume: 'v' }, { node: A, pool: 'p', volume: 'v' }];
    const made = await reg.create({ name: 'vol', generation: 3, requireFenced: 1, replicas: refs });
    assert.equal(made.state, 'degraded');
    assert.equal(made.replicas.find((r) => r.node === A)?.state, 'faulted');
    assert.equal(opener.replicas.get(B)!.gen, 3);
    await reg.destroy('vol');
    // Three replicas, two unreachable: fencing one would let an old majority come back.
    await assert.rejects(reg.create({ name: 'vol', generation: 4, requireFenced: 1, replicas: [...refs, { node: C, pool: 'p', volume: 'v' }] }), { code: 'NEXUS_UNAVAILABLE' });
  }, (o) => {
    for (const n of [A, C]) o.replicas.get(n)!.reachable = false;
  });
});
