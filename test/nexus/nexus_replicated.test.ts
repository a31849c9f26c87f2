import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ReplicaServer } from '../../src/replica/replica_server.ts';
import { RemoteReplica } from '../../src/replica/remote_replica.ts';
import { GenerationRegistry, MemoryGenerationStore } from '../../src/replica/replica_generations.ts';
import { LocalReplica } from '../../src/replica/local_replica.ts';
import { Nexus } from '../../src/nexus/nexus.ts';
import { TestDevice, pattern } from '../../src/nexus/nexus_test_devices.ts';

const BLOCKS = 4096; // 2 MiB of 512-byte blocks
const REGION = 128 * 1024;
const cleanups: Array<() => unknown> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

interface Node { device: TestDevice; server: ReplicaServer; port: number; store: MemoryGenerationStore }

async function startNode(device = new TestDevice(BLOCKS), store = new MemoryGenerationStore()): Promise<Node> {
  const server = new ReplicaServer({ resolve: (v) => (v === 'pvc-1' ? device : undefined), generations: store });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  return { device, server, port, store };
}

async function remote(port: number, generation: number, opTimeoutMs = 1000): Promise<RemoteReplica> {
  const r = await RemoteReplica.connect({ host: '127.0.0.1', port, volume: 'pvc-1', generation, opTimeoutMs });
  cleanups.push(() => r.close());
  return r;
}

async function nexusOver(ports: number[], generation: number, opTimeoutMs = 1000): Promise<Nexus> {
  const children = await Promise.all(ports.map(async (port, i) => {
    const device = await remote(port, generation, opTimeoutMs);
    return { name: `r${i}`, device, release: () => device.close() };
  }));
  const nexus = await Nexus.create({ name: 'pvc-1', generation, children, regionBytes: REGION, opTimeoutMs });
  cleanups.push(() => nexus.close());
  return nexus;
}

/** Writes of distinct block ranges, `inFlight` at once; returns the model of the volume. */
async function load(nexus: Nexus, model: Buffer, ops: number, inFlight: number, stop?: () => boolean): Promise<void> {
  let next = 0;
  let version = 1;
  const worker = async (w: number): Promise<void> => {
    while (next < ops && !stop?.()) {
      next++;
      // Each worker owns a stripe: nothing overlaps in flight.
      const stripe = BLOCKS / inFlight;
      const count = 1 + Math.floor(Math.random() * 16);
      const lba = w * stripe + Math.floor(Math.random() * (stripe - count));
      const data = pattern(lba, count, 512, version++);
      await nexus.write(lba, data, false);
      data.copy(model, lba * 512);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
}

test('nexus_tcp: 3 remote replicas stay byte-identical under pipelined writes', async () => {
  const nodes = await Promise.all([startNode(), startNode(), startNode()]);
  const nexus = await nexusOver(nodes.map((n) => n.port), 1);
  const model = Buffer.alloc(BLOCKS * 512);
  await load(nexus, model, 600, 32);
  await nexus.flush();
  for (const n of nodes) assert.ok(n.device.data.equals(model));
  assert.ok((await nexus.read(0, BLOCKS)).equals(model));
});

test('nexus_tcp_server_killed: kill -9 of a replica process mid-I/O — no error, faulted within the bound', async () => {
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  for (let i = 0; i < 2; i++) {
    const p = spawn(process.execPath, [new URL('./replica_server_process.ts', import.meta.url).pathname, 'pvc-1', String(BLOCKS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(p);
    cleanups.push(() => { if (p.exitCode === null) p.kill('SIGKILL'); });
    const [line] = await once(p.stdout!, 'data') as [Buffer];
    ports.push(JSON.parse(line.toString()).port);
  }
  const local = await startNode();
  const nexus = await nexusOver([...ports, local.port], 1, 1000);
  const model = Buffer.alloc(BLOCKS * 512);
  let killedAt = 0;
  let faultedAt = 0;
  nexus.on((e) => { if (e.type === 'child-state' && e.to === 'faulted' && !faultedAt) faultedAt = Date.now(); });
  let loadDone = false;
  const running = load(nexus, model, 1500, 16).finally(() => { loadDone = true; });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(loadDone, false, 'the kill must land mid-I/O');
  killedAt = Date.now();
  procs[0].kill('SIGKILL');
  await running; // any I/O error would reject here
  const states = nexus.children().map((c) => c.state);
  assert.deepEqual(states, ['faulted', 'online', 'online']);
  assert.ok(faultedAt - killedAt < 2500, `faulted ${faultedAt - killedAt} ms after the kill`);
  assert.ok((await nexus.read(0, BLOCKS)).equals(model));
  assert.ok(local.device.data.equals(model));
});

test('nexus_tcp_link_cut: a destroyed socket and a hung replica are retired, writes go on', async () => {
  const nodes = await Promise.all([startNode(), startNode(), startNode()]);
  const nexus = await nexusOver(nodes.map((n) => n.port), 1, 300);
  const model = Buffer.alloc(BLOCKS * 512);
  await load(nexus, model, 50, 8);
  nodes[1].device.mode = 'hang';
  const t0 = Date.now();
  const running = load(nexus, model, 300, 8);
  await nodes[0].server.close(); // the link to r0 drops
  await running;
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(nexus.children().map((c) => c.state), ['faulted', 'faulted', 'online']);
  assert.ok(nodes[2].device.data.equals(model));
  assert.equal(nexus.state, 'degraded');
});

test('nexus_tcp_delta_resync: a replica back after an absence copies only what it missed', async () => {
  const nodes = await Promise.all([startNode(), startNode(), startNode()]);
  const nexus = await nexusOver(nodes.map((n) => n.port), 1);
  const model = Buffer.alloc(BLOCKS * 512);
  await load(nexus, model, 300, 8);
  // r2's engine goes away (its pool survives: same device, same generation store).
  await nodes[2].server.close();
  await nexus.write(0, pattern(0, 8, 512, 1000), false);
  pattern(0, 8, 512, 1000).copy(model, 0);
  assert.equal(nexus.children()[2].state, 'faulted');
  // A few regions written while away: 3 of the 16.
  for (const lba of [1024, 2048 + 5]) {
    const d = pattern(lba, 64, 512, 2000 + lba);
    await nexus.write(lba, d, false);
    d.copy(model, lba * 512);
  }
  const back = await startNode(nodes[2].device, nodes[2].store);
  const device = await remote(back.port, 1);
  const before = nodes[2].device.bytesWritten;
  let stop = false;
  const { job, done } = await nexus.addChild({ name: 'r2', device, release: () => device.close() });
  const during = load(nexus, model, 100_000, 4, () => stop); // foreground writes go on meanwhile
  assert.equal(await done, 'online');
  stop = true;
  await during;
  const copied = job.progress().bytesCopied;
  assert.ok(copied > 0 && copied <= 3 * REGION, `copied ${copied} bytes for 3 dirty regions`);
  assert.ok(nodes[2].device.bytesWritten - before >= copied);
  await nexus.flush();
  for (const n of nodes) assert.ok(n.device.data.equals(model));
  assert.equal(nexus.state, 'online');
});

test('nexus_tcp_fencing: once a newer nexus fenced the replicas, the older one cannot write', async () => {
  const nodes = await Promise.all([startNode(), startNode()]);
  const oldNexus = await nexusOver(nodes.map((n) => n.port), 1);
  await oldNexus.write(0, pattern(0, 8, 512, 1), false);
  const newNexus = await nexusOver(nodes.map((n) => n.port), 2);
  await assert.rejects(oldNexus.write(0, pattern(0, 8, 512, 2), false), { code: 'NEXUS_FENCED' });
  assert.equal(oldNexus.state, 'fenced');
  await assert.rejects(oldNexus.read(0, 8), { code: 'NEXUS_FENCED' });
  await newNexus.write(8, pattern(8, 8, 512, 3), false);
  for (const n of nodes) assert.ok(n.device.data.subarray(0, 4096).equals(pattern(0, 8, 512, 1)), 'the stale write never landed');
  // An incarnation with an older generation cannot even attach.
  await assert.rejects(nexusOver(nodes.map((n) => n.port), 1), { code: 'STALE_GENERATION' });
});

test('nexus_local_child: a local replica shares the node fence with the network path', async () => {
  const registry = new GenerationRegistry(new MemoryGenerationStore());
  const device0 = new TestDevice(BLOCKS);
  const server0 = new ReplicaServer({ resolve: () => device0, generations: registry });
  const { port: port0 } = await server0.listen(0, '127.0.0.1');
  cleanups.push(() => server0.close());
  const node1 = await startNode();
  const remote1 = await remote(node1.port, 1);
  const oldNexus = await Nexus.create({
    name: 'pvc-1', generation: 1, regionBytes: REGION,
    children: [{ name: 'r0', device: new LocalReplica(device0, 'pvc-1', 1, registry) }, { name: 'r1', device: remote1 }],
  });
  cleanups.push(() => oldNexus.close());
  await oldNexus.write(0, pattern(0, 8, 512, 1), false);
  assert.ok(device0.data.subarray(0, 4096).equals(pattern(0, 8, 512, 1)));
  // The nexus moves: a new incarnation on another node reaches r0 over TCP.
  const newNexus = await nexusOver([port0, node1.port], 2);
  await assert.rejects(oldNexus.write(0, pattern(0, 8, 512, 2), false), { code: 'NEXUS_FENCED' });
  await newNexus.write(0, pattern(0, 8, 512, 3), false);
  assert.ok(device0.data.subarray(0, 4096).equals(pattern(0, 8, 512, 3)));
});

test('nexus_require_fenced: a new incarnation that cannot fence every replica it must is refused', async () => {
  const nodes = await Promise.all([startNode(), startNode()]);
  const r0 = await remote(nodes[0].port, 3);
  const r1 = await remote(nodes[1].port, 3);
  await nodes[1].server.close(); // r1 unreachable: its fence fails
  await assert.rejects(Nexus.create({
    name: 'pvc-1', generation: 4, requireFenced: 2,
    children: [{ name: 'r0', device: r0 }, { name: 'r1', device: r1 }],
  }), { code: 'NEXUS_FAULTED' });
});
