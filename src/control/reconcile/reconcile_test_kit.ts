/**
 * Test kit for services and reconcilers: an in-memory engine per node behind the
 * EngineApi interface, an in-memory SQLite store, a registry fed by hand-made
 * heartbeats, and a clock the test moves. No processes, no timers.
 */
import { EngineRequestError, EngineUnreachableError, NotImplementedError } from '../engine_client/engine_client_errors.ts';
import type {
  CreateExportRequest, CreateNexusRequest, CreateReplicaRequest, CreateSnapshotRequest, EngineApi, EngineFlush, EngineNexusPause, EngineExport, EngineNexus, EnginePool, EngineReplica,
  EngineSnapshot, ExportChap, NexusReplicaRef, SnapshotBlockPage,
} from '../engine_client/engine_client_types.ts';
import { NodeRegistry } from '../registry/node_registry.ts';
import type { Heartbeat } from '../registry/registry_heartbeat.ts';
import { SqliteStore } from '../store/sqlite_store.ts';
import { ServiceContext, createServices, type Leadership, type Services } from '../service/index.ts';
import { silentLogger } from '../../util/log.ts';
import { ChapSealer } from '../service/chap_seal.ts';

/** The token the kit's CHAP sealer derives its key from (a control plane's --auth-token-file). */
export const KIT_TOKEN = 'kit-token-0123456789abcdef0123456789abcdef0123';

export const MiB = 1024 * 1024;

export class FakeEngine implements EngineApi {
  readonly endpoint: string;
  readonly pools = new Map<string, { capacityBytes: number; replicas: Map<string, EngineReplica> }>();
  readonly exports = new Map<string, EngineExport>();
  /** The CHAP secret each export was given (what a real engine keeps in its 0600 state file). */
  readonly chapSecrets = new Map<string, string>();
  readonly nexuses = new Map<string, EngineNexus>();
  down = false;
  /** Next createReplica fails with this code (once). */
  failNextCreate: string | undefined;

  constructor(endpoint: string) {
    this.endpoint = endpoint;
  }

  #check(): void {
    if (this.down) throw new EngineUnreachableError(this.endpoint);
  }

  #pool(name: string) {
    const p = this.pools.get(name);
    if (p === undefined) throw new EngineRequestError('POOL_NOT_FOUND', 404, `no pool ${name}`);
    return p;
  }

  async health() { this.#check(); return { status: 'ok', version: 'fake', iscsiPortal: '127.0.0.1:3260' }; }
  async listPools(): Promise<EnginePool[]> {
    this.#check();
    return [...this.pools].map(([name, p]) => ({ name, state: 'online', capacityBytes: p.capacityBytes }));
  }
  async createPool(req: { name: string; sizeBytes?: number }): Promise<EnginePool> {
    this.#check();
    this.pools.set(req.name, { capacityBytes: req.sizeBytes ?? 0, replicas: new Map() });
    return { name: req.name, state: 'online', capacityBytes: req.sizeBytes ?? 0 };
  }
  async destroyPool(name: string) { this.#check(); this.pools.delete(name); }
  async listReplicas(pool: string) { this.#check(); return [...this.#pool(pool).replicas.values()]; }
  async getReplica(pool: string, name: string) { this.#check(); return this.pools.get(pool)?.replicas.get(name); }
  async createReplica(req: CreateReplicaRequest): Promise<EngineReplica> {
    this.#check();
    const fail = this.failNextCreate;
    this.failNextCreate = undefined;
    if (fail !== undefined) throw new EngineRequestError(fail, 507, `injected ${fail}`);
    const p = this.#pool(req.pool);
    if (p.replicas.has(req.name)) throw new EngineRequestError('VOLUME_EXISTS', 409, `volume ${req.name} exists`);
    const r: EngineReplica = {
      pool: req.pool, name: req.name, uuid: req.name, sizeBytes: req.sizeBytes, thin: req.thin, allocatedBytes: 0,
      createdAt: new Date(0).toISOString(), export: null,
    };
    p.replicas.set(req.name, r);
    return r;
  }
  async resizeReplica(pool: string, name: string, sizeBytes: number) {
    this.#check();
    const r = { ...(this.#pool(pool).replicas.get(name) as EngineReplica), sizeBytes };
    this.#pool(pool).replicas.set(name, r);
    return r;
  }
  async destroyReplica(pool: string, name: string) {
    this.#check();
    if (this.exports.has(`${pool}/${name}`)) throw new EngineRequestError('VOLUME_EXPORTED', 409, 'exported');
    this.pools.get(pool)?.replicas.delete(name);
  }
  async listExports() { this.#check(); return [...this.exports.values()]; }
  async getExport(pool: string, volume: string) { this.#check(); return this.exports.get(`${pool}/${volume}`); }
  async createExport(req: CreateExportRequest): Promise<EngineExport> {
    this.#check();
    const iqn = req.targetIqn ?? `iqn.2026-11.io.berth:${req.pool}.${req.volume}`;
    const e: EngineExport = {
      pool: req.pool, volume: req.volume, targetIqn: iqn, lun: 0, portal: '127.0.0.1:3260',
      url: `iscsi://127.0.0.1:3260/${iqn}/0`, allowedInitiators: req.allowedInitiators ?? null, state: 'online',
      ...(req.chap ? { chap: req.chap.mutualUser === undefined ? { user: req.chap.user } : { user: req.chap.user, mutualUser: req.chap.mutualUser } } : {}),
    };
    if (req.chap) this.chapSecrets.set(`${req.pool}/${req.volume}`, req.chap.secret);
    this.exports.set(`${req.pool}/${req.volume}`, e);
    return e;
  }
  async destroyExport(pool: string, volume: string) { this.#check(); this.exports.delete(`${pool}/${volume}`); }
  async replicaService(): Promise<{ endpoint: string }> { this.#check(); return { endpoint: `${this.endpoint}:9520` }; }
  async createNexus(req: CreateNexusRequest): Promise<EngineNexus> {
    this.#check();
    if (this.nexuses.has(req.name)) throw new EngineRequestError('NEXUS_EXISTS', 409, `nexus ${req.name} exists`);
    const n: EngineNexus = {
      name: req.name, generation: req.generation ?? 1, export: null,
      replicas: req.replicas.map((r) => ({ ...fakeChild(this.endpoint, r), state: (r as { state?: string }).state ?? 'online' })),
    };
    this.nexuses.set(req.name, n);
    return n;
  }
  async listNexuses() { this.#check(); return [...this.nexuses.values()]; }
  async getNexus(name: string) { this.#check(); return this.nexuses.get(name); }
  async destroyNexus(name: string) {
    this.#check();
    if (this.exports.has(`_nexus/${name}`)) throw new EngineRequestError('VOLUME_EXPORTED', 409, 'exported');
    this.nexuses.delete(name);
  }
  async exportNexus(name: string, req: { targetIqn: string; allowedInitiators: readonly string[]; chap?: ExportChap | null }) {
    if (!this.nexuses.has(name)) throw new EngineRequestError('NEXUS_NOT_FOUND', 404, `no nexus ${name}`);
    return await this.createExport({ pool: '_nexus', volume: name, ...req });
  }
  async unexportNexus(name: string) { await this.destroyExport('_nexus', name); }
  async addNexusReplica(name: string, ref: NexusReplicaRef): Promise<EngineNexus> {
    this.#check();
    const n = this.nexuses.get(name) as EngineNexus;
    const next = { ...n, replicas: [...n.replicas, { ...fakeChild(this.endpoint, ref), state: 'rebuilding' }] };
    this.nexuses.set(name, next);
    return next;
  }
  async removeNexusReplica(name: string, replica: string): Promise<EngineNexus> {
    this.#check();
    const n = this.nexuses.get(name) as EngineNexus;
    const next = { ...n, replicas: n.replicas.filter((c) => c.name !== replica) };
    this.nexuses.set(name, next);
    return next;
  }
  /** Finish every rebuild of the nexus (a test's stand-in for the engine's copy). */
  finishRebuilds(name: string): void {
    const n = this.nexuses.get(name) as EngineNexus;
    this.nexuses.set(name, { ...n, replicas: n.replicas.map((c) => ({ ...c, state: 'online' })) });
  }
  /** Off by default (the kit's engines cut no snapshots); on, snapshots are names per pool and `trace` records barrier steps. */
  snapshotsEnabled = false;
  readonly snapshots = new Map<string, string>();
  /** When each snapshot (`pool/name`) was cut, as listSnapshots reports it; unset ones date from the epoch. */
  readonly snapshotTimes = new Map<string, string>();
  readonly trace: string[] = [];
  /** The next resume answers NEXUS_PAUSE_LOST (a lease that ran out). */
  loseNextPause = false;
  async createSnapshot(req: CreateSnapshotRequest): Promise<{ name: string }> {
    this.#check();
    if (!this.snapshotsEnabled) throw new NotImplementedError('snapshots');
    const key = `${req.pool}/${req.name}`;
    if (this.snapshots.has(key)) throw new EngineRequestError('SNAPSHOT_EXISTS', 409, `snapshot ${req.name} exists`);
    this.snapshots.set(key, req.volume);
    this.trace.push(`snap ${req.volume}`);
    return { name: req.name };
  }
  async destroySnapshot(pool: string, _volume: string, name: string) {
    this.#check();
    if (!this.snapshotsEnabled) throw new NotImplementedError('snapshots');
    this.snapshots.delete(`${pool}/${name}`);
  }
  async listSnapshots(pool: string): Promise<EngineSnapshot[]> {
    this.#check();
    if (!this.snapshotsEnabled) throw new NotImplementedError('snapshots');
    return [...this.snapshots.keys()].filter((k) => k.startsWith(`${pool}/`)).map((k) => ({
      name: k.slice(pool.length + 1), createdAt: this.snapshotTimes.get(k) ?? new Date(0).toISOString(),
    }));
  }
  async flushNexus(name: string): Promise<EngineFlush> {
    this.#check();
    if (!this.nexuses.has(name)) throw new EngineRequestError('NEXUS_NOT_FOUND', 404, `no nexus ${name}`);
    this.trace.push(`flush ${name}`);
    return { rounds: 1, flushMs: 0 };
  }
  async flushExport(pool: string, volume: string): Promise<EngineFlush> {
    this.#check();
    if (!this.exports.has(`${pool}/${volume}`)) throw new EngineRequestError('EXPORT_NOT_FOUND', 404, `${pool}/${volume} is not exported`);
    this.trace.push(`flush ${volume}`);
    return { rounds: 1, flushMs: 0 };
  }
  async pauseNexus(name: string, req: { token: string; leaseMs: number }): Promise<EngineNexusPause> {
    this.#check();
    const n = this.nexuses.get(name);
    if (!n) throw new EngineRequestError('NEXUS_NOT_FOUND', 404, `no nexus ${name}`);
    this.trace.push(`pause ${name}`);
    return { token: req.token, leaseMs: req.leaseMs, pausedMs: 0, online: n.replicas.filter((c) => c.state === 'online') };
  }
  async resumeNexus(name: string): Promise<void> {
    this.#check();
    this.trace.push(`resume ${name}`);
    if (this.loseNextPause) {
      this.loseNextPause = false;
      throw new EngineRequestError('NEXUS_PAUSE_LOST', 409, 'lease ran out');
    }
  }
  async pauseExport(pool: string, volume: string, req: { token: string; leaseMs: number }): Promise<EngineNexusPause> {
    this.#check();
    if (!this.exports.has(`${pool}/${volume}`)) throw new EngineRequestError('EXPORT_NOT_FOUND', 404, `${pool}/${volume} is not exported`);
    this.trace.push(`pause ${volume}`);
    return { token: req.token, leaseMs: req.leaseMs, pausedMs: 0, online: [{ name: `${pool}/${volume}`, node: 'local', pool, volume }] };
  }
  async resumeExport(_pool: string, volume: string): Promise<void> {
    this.#check();
    this.trace.push(`resume ${volume}`);
  }
  async snapshotBlocks(_req: { pool: string; snapshot: string; base?: string }): Promise<SnapshotBlockPage> {
    this.#check();
    throw new NotImplementedError('changed-block tracking');
  }

  replicaNames(): string[] {
    return [...this.pools.values()].flatMap((p) => [...p.replicas.keys()]).sort();
  }
}

function fakeChild(self: string, r: NexusReplicaRef) {
  const node = r.node === 'local' ? `${self}:9520` : r.node;
  return { name: `${node}/${r.pool}/${r.volume}`, node, pool: r.pool, volume: r.volume };
}

export interface Kit {
  services: Services;
  engines: Map<string, FakeEngine>;
  clock: { now: number };
  /** Send a heartbeat for the node from what its fake engine holds. */
  beat(nodeId: string): Promise<void>;
  store: SqliteStore;
  close(): Promise<void>;
}

/** Nodes `n1…nN`, each in its own zone with one 1 GiB pool `p`. */
export async function makeKit(
  nodes: number, timing = { heartbeatDeadlineMs: 15_000, nodeLossGraceMs: 300_000 }, leadership?: Leadership,
): Promise<Kit> {
  const clock = { now: 1_000_000 };
  const store = new SqliteStore({ path: ':memory:' });
  const registry = new NodeRegistry(clock.now, { timing });
  const engines = new Map<string, FakeEngine>();
  const ctx = new ServiceContext({
    store, registry, logger: silentLogger(), now: () => clock.now, leadership,
    engines: (endpoint) => engines.get(endpoint) as FakeEngine, chap: new ChapSealer([KIT_TOKEN]),
  });
  const services = createServices(ctx);
  const beat = async (nodeId: string): Promise<void> => {
    const e = engines.get(nodeId) as FakeEngine;
    const hb: Heartbeat = {
      nodeId, endpoint: nodeId, zone: `zone-${nodeId}`, storageGroup: 'rack', labels: { initiatorIqn: `iqn.2026-11.io.test:${nodeId}` },
      engineVersion: 'fake',
      pools: [...e.pools].map(([name, p]) => {
        const committed = [...p.replicas.values()].reduce((s, r) => s + r.sizeBytes, 0);
        return { id: `${nodeId}:${name}`, media: 'ssd', tags: [], status: 'online', capacityBytes: p.capacityBytes, usedBytes: 0, committedBytes: committed, replicaCount: p.replicas.size };
      }),
    };
    await services.nodes.heartbeat(hb);
  };
  for (let i = 1; i <= nodes; i++) {
    const id = `n${i}`;
    const e = new FakeEngine(id);
    await e.createPool({ name: 'p', sizeBytes: 1024 * MiB });
    engines.set(id, e);
    await beat(id);
  }
  return { services, engines, clock, beat, store, close: () => store.close() };
}

/** A 2-replica 4 MiB volume published on the node of its first replica. */
export async function publishedVolume(kit: Kit, name: string): Promise<{ id: string; nodes: string[] }> {
  const { volume } = await kit.services.volumes.create({ name, sizeBytes: 4 * MiB, replicas: 2 });
  const nodes = (await kit.services.replicas.list({ volumeId: volume.id })).map((r) => r.nodeId);
  await kit.services.publish.publish(volume.id, { nodeId: nodes[0] });
  return { id: volume.id, nodes };
}

/** The clock moves `ms` on (past the heartbeat deadline by default) while every node but `down` beats, so `down` goes offline. */
export async function takeNodeOffline(kit: Kit, down: string, ms = 16_000): Promise<void> {
  kit.clock.now += ms;
  for (const n of kit.engines.keys()) if (n !== down) await kit.beat(n);
  kit.services.ctx.registry.tick(kit.clock.now);
  if (kit.services.ctx.nodeOnline(down)) throw new Error(`${down} is still online`);
}

/** Snapshot copies on every fake engine. */
export const snapshotCopyCount = (kit: Kit): number => [...kit.engines.values()].reduce((n, e) => n + e.snapshots.size, 0);

/** As after a kill -9 between the cut and the commit: the create of snapshot `name` fails after both copies are cut and its undo reaches no engine, so the intent stays pending with the copies on the engines. */
export async function pendingSnapshotCreate(kit: Kit, name: string, volumeId: string): Promise<void> {
  const saved = [...kit.engines.values()].map((e) => ({ e, create: e.createSnapshot.bind(e), destroy: e.destroySnapshot.bind(e) }));
  let cuts = 0;
  for (const { e, create } of saved) {
    e.createSnapshot = async (req) => {
      const made = await create(req);
      if (++cuts === 2) throw new EngineUnreachableError(e.endpoint);
      return made;
    };
    e.destroySnapshot = async () => { throw new EngineUnreachableError(e.endpoint); };
  }
  try {
    await kit.services.snapshots.create({ name, volumeId }).then(() => { throw new Error('the create committed'); }, () => undefined);
  } finally {
    for (const { e, create, destroy } of saved) { e.createSnapshot = create; e.destroySnapshot = destroy; }
  }
}
