import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StaleGenerationError } from '../replica/replica_errors.ts';
import { DeviceGoneError } from '../block/errors.ts';
import { Nexus } from './nexus.ts';
import { QuorumVerdict, quorumVerdict, restartQuorum, safeTakeover, takeoverMinimum } from './nexus_quorum.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';

const BLOCKS = 256;

/** A replica with a fence generation, as a ReplicaSession keeps it; `reachable` false refuses like a cut link. */
class Replica extends TestDevice {
  gen = 0;
  reachable = true;
  async fence(generation: number): Promise<void> {
    if (!this.reachable) throw new DeviceGoneError('connect timed out');
    if (generation < this.gen) throw new StaleGenerationError(this.gen);
    this.gen = generation;
  }
}

test('nexus_quorum rule: a restart needs a majority; a takeover needs enough that every old majority meets it', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(restartQuorum), [1, 2, 2, 3, 3]);
  assert.deepEqual([1, 2, 3, 4, 5].map(takeoverMinimum), [1, 1, 2, 2, 3]);
  // The two sets always overlap: takeover + restart quorum exceeds the membership.
  for (let n = 1; n <= 5; n++) assert.ok(takeoverMinimum(n) + restartQuorum(n) > n, `n=${n}`);
  assert.throws(() => restartQuorum(0), RangeError);
  // A local replica alone is no quorum for a multi-replica volume.
  assert.equal(quorumVerdict({ accepted: 1, quorum: restartQuorum(3), staleAnswers: 0 }), QuorumVerdict.WAIT);
  assert.equal(quorumVerdict({ accepted: 2, quorum: restartQuorum(3), staleAnswers: 0 }), QuorumVerdict.SERVE);
  // One STALE_GENERATION answer outweighs any number of accepts.
  assert.equal(quorumVerdict({ accepted: 3, quorum: 2, staleAnswers: 1 }), QuorumVerdict.FENCED);
  assert.equal(safeTakeover(3, 1), false);
  assert.equal(safeTakeover(3, 2), true);
  assert.equal(safeTakeover(2, 1), true);
});

test('nexus_quorum: a restarted nexus that reaches only its local replica serves nothing', async () => {
  const [a, b, c] = [new Replica(BLOCKS), new Replica(BLOCKS), new Replica(BLOCKS)];
  for (const r of [a, b, c]) r.gen = 2;
  a.reachable = false;
  c.reachable = false;
  const nexus = await Nexus.create({
    name: 'v', generation: 2, requireFenced: 0, quorum: restartQuorum(3),
    children: [{ name: 'a', device: a }, { name: 'b', device: b }, { name: 'c', device: c }],
  });
  assert.equal(nexus.state, 'no-quorum');
  assert.deepEqual(nexus.quorumStatus(), { accepted: 1, quorum: 2 });
  await assert.rejects(nexus.write(0, pattern(0, 1, 512, 7), false), { code: 'NEXUS_NO_QUORUM' });
  await assert.rejects(nexus.read(0, 1), { code: 'NEXUS_NO_QUORUM' });
  await assert.rejects(nexus.flush(), { code: 'NEXUS_NO_QUORUM' });
  assert.equal(b.writes, 0, 'nothing reached the local replica');
  nexus.close();
});

test('nexus_quorum: a rejoining replica that holds a newer generation fences the waiting nexus', async () => {
  const [a, b, c] = [new Replica(BLOCKS), new Replica(BLOCKS), new Replica(BLOCKS)];
  b.gen = 2;
  a.gen = 3; // the generation-3 nexus fenced a and c while b was away
  c.gen = 3;
  a.reachable = false;
  c.reachable = false;
  const nexus = await Nexus.create({
    name: 'v', generation: 2, requireFenced: 0, quorum: 2,
    children: [{ name: 'a', device: a }, { name: 'b', device: b }, { name: 'c', device: c }],
  });
  assert.equal(nexus.state, 'no-quorum');
  a.reachable = true; // routes heal
  await assert.rejects(nexus.rejoin({ name: 'a', device: a }), { code: 'STALE_GENERATION' });
  assert.equal(nexus.state, 'fenced');
  await assert.rejects(nexus.write(0, pattern(0, 1, 512, 7), false), { code: 'NEXUS_FENCED' });
  nexus.close();
});

test('nexus_quorum: replicas that rejoin at the same generation restore the quorum; then the nexus serves', async () => {
  const [a, b, c] = [new Replica(BLOCKS), new Replica(BLOCKS), new Replica(BLOCKS)];
  for (const r of [a, b, c]) r.gen = 2;
  a.reachable = false;
  c.reachable = false;
  const nexus = await Nexus.create({
    name: 'v', generation: 2, requireFenced: 0, quorum: 2,
    children: [{ name: 'a', device: a }, { name: 'b', device: b }, { name: 'c', device: c }],
  });
  const states: string[] = [];
  nexus.on((e) => { if (e.type === 'nexus-state') states.push(e.to); });
  a.reachable = true;
  await nexus.rejoin({ name: 'a', device: a });
  assert.deepEqual(states, ['degraded']);
  assert.equal(nexus.children().find((x) => x.name === 'a')?.state, 'stale', 'rejoined without a copy');
  await nexus.write(0, pattern(0, 1, 512, 7), false);
  assert.equal(b.writes, 1);
  assert.equal(a.writes, 0, 'a stale child gets no writes until rebuilt');
  // Once serving, a rejoin is refused (addChild is the way) and the stale child is rebuilt.
  c.reachable = true;
  await assert.rejects(nexus.rejoin({ name: 'c', device: c }), { code: 'NEXUS_CHILD_INVALID' });
  const run = await nexus.rebuildChild('a');
  assert.equal(await run.done, 'online');
  assert.deepEqual(a.data.subarray(0, 512), b.data.subarray(0, 512));
  nexus.close();
});

test('nexus_quorum: a STALE_GENERATION reported outside any I/O fences the nexus at once', async () => {
  const [a, b] = [new Replica(BLOCKS), new Replica(BLOCKS)];
  const nexus = await Nexus.create({ name: 'v', generation: 2, children: [{ name: 'a', device: a }, { name: 'b', device: b }] });
  nexus.faultChild('a');
  await nexus.write(0, pattern(0, 1, 512, 1), false);
  nexus.supersede(new StaleGenerationError(3));
  assert.equal(nexus.state, 'fenced');
  await assert.rejects(nexus.write(0, pattern(0, 1, 512, 2), false), { code: 'NEXUS_FENCED' });
  nexus.close();
});
