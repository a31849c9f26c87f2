import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import {
  Nexus, NexusState, WriteIntentMap, NEXUS_REGION_BYTES_DEFAULT, restartQuorum, takeoverMinimum,
  type NexusChildSpec, type NexusEvent, type RebuildJob, type RebuildOutcome,
} from '../nexus/index.ts';
import { childName, type ChildOpener, type ReplicaRef } from './nexus_children.ts';
import { generationsOf, openForCreate, openForRestore } from './nexus_open.ts';
import { NexusDevice } from './nexus_device.ts';
import { REBUILD_THROTTLE_MODE_DEFAULT, type RebuildThrottleModeName } from '../nexus/rebuild_throttle.ts';
import { loadNexusRecords, saveNexusRecords, type NexusRecord, type ReplicaRecord } from './nexus_state.ts';
import { replicaView, type NexusView, type RebuildSummary } from './nexus_view.ts';
import { InvalidArgumentError } from './errors.ts';
import { NexusRetrier, type RetryClock } from './nexus_retry.ts';
import { NexusExistsError, NexusNotFoundError, NexusUnavailableError } from './nexus_registry_errors.ts';

/**
 * Spans a rebuild copies at once. Each span is up to 8 MiB of contiguous dirty regions
 * (REBUILD_SPAN_BYTES) with all its 1 MiB chunks in flight, so 4 spans keep ~32 MiB
 * on the link: enough to stream, while a foreground write that hits a locked span
 * waits for at most one span's copy.
 */
export const ENGINE_REBUILD_PARALLEL = 4;

export interface CreateNexusRequest {
  name: string;
  replicas: Array<ReplicaRef & { state?: 'online' | 'stale' }>;
  sizeBytes?: number;
  blockSize?: number;
  /** Default: one above the highest generation any replica has seen. */
  generation?: number;
  /**
   * Default: every replica given as online (what moving a live nexus needs). Never
   * below takeoverMinimum(replicas), so that an older incarnation restarting on its
   * saved membership cannot gather a majority the new one did not fence.
   */
  requireFenced?: number;
  uuid?: string;
  regionBytes?: number;
  rebuildThrottleBytesPerSec?: number;
  /** Kept with the nexus; without it the nexus follows the engine's default. */
  rebuildThrottleMode?: RebuildThrottleModeName;
}

interface LiveNexus {
  record: NexusRecord;
  nexus?: Nexus;
  device?: NexusDevice;
  fault?: string;
  /** A newer generation owns the volume (fault says how this one learnt it). */
  fenced?: boolean;
  refs: Map<string, ReplicaRef>;
  /** Child states as the nexus last reported them (cheaper than children() on every write). */
  states: Map<string, string>;
  lastRebuild: Map<string, RebuildSummary>;
  /** Membership changed since the last save began. */
  changed: boolean;
  /** Dirty regions of absent replicas captured by the last save. */
  savedDirty: number;
  off?: () => void;
}

/**
 * The nexuses this engine runs: creates them over local and remote replicas, keeps
 * membership, generation and the write-intent maps of absent replicas in the data dir
 * (nexuses.json), re-creates them at start with the right child states, and brings
 * faulted replicas back (NexusRetrier) with a delta resync. Mutations run one at a time.
 */
export class NexusRegistry {
  readonly #dataDir: string;
  readonly #opener: ChildOpener;
  readonly #log: Logger;
  readonly #live = new Map<string, LiveNexus>();
  readonly #retrier: NexusRetrier;
  #lock: Promise<unknown> = Promise.resolve();
  #saveLast: Promise<void> = Promise.resolve();
  #saveQueued: Promise<void> | undefined;
  /** For nexuses that do not set their own (`--rebuild-throttle-mode`). */
  #throttleMode: RebuildThrottleModeName = REBUILD_THROTTLE_MODE_DEFAULT;

  private constructor(dataDir: string, opener: ChildOpener, log: Logger, clock?: RetryClock) {
    this.#dataDir = dataDir;
    this.#opener = opener;
    this.#log = log.child({ component: 'nexus-registry' });
    this.#retrier = new NexusRetrier((name, child) => this.#revive(name, child), this.#log, clock);
  }

  static async open(opts: { dataDir: string; opener: ChildOpener; log: Logger; rebuildThrottleMode?: RebuildThrottleModeName; clock?: RetryClock }): Promise<NexusRegistry> {
    const reg = new NexusRegistry(opts.dataDir, opts.opener, opts.log, opts.clock);
    reg.#throttleMode = opts.rebuildThrottleMode ?? REBUILD_THROTTLE_MODE_DEFAULT;
    for (const record of await loadNexusRecords(opts.dataDir, opts.opener.self)) await reg.#restore(record);
    return reg;
  }

  list(): NexusView[] {
    return [...this.#live.values()].map((l) => this.#view(l)).sort((a, b) => a.name.localeCompare(b.name));
  }

  describe(name: string): NexusView { return this.#view(this.#get(name)); }

  has(name: string): boolean { return this.#live.has(name); }

  /** The nexus that uses this engine's volume as a replica, if any. */
  nexusUsing(pool: string, volume: string): string | undefined {
    const self = this.#opener.self;
    for (const live of this.#live.values()) {
      for (const ref of live.nexus ? live.refs.values() : live.record.replicas) {
        if (ref.node === self && ref.pool === pool && ref.volume === volume) return live.record.name;
      }
    }
    return undefined;
  }

  /** The device to export; rejects while the nexus could not be opened. */
  device(name: string): NexusDevice {
    const live = this.#get(name);
    if (!live.device) throw new NexusUnavailableError(name, live.fault ?? 'not open');
    return live.device;
  }

  create(req: CreateNexusRequest): Promise<NexusView> {
    return this.#serial(async () => {
      if (this.#live.has(req.name)) throw new NexusExistsError(req.name);
      const refs = req.replicas.map((r) => ({ ...this.#opener.normalize(r), state: r.state ?? 'online' as const }));
      checkReplicaList(refs);
      const generation = req.generation ?? 1 + Math.max(...await generationsOf(this.#opener, refs));
      const specs = await openForCreate(this.#opener, refs, generation, req, this.#log);
      const first = specs[0].device;
      const record: NexusRecord = {
        name: req.name, uuid: req.uuid ?? randomUUID(), generation, blockSize: first.blockSize,
        blockCount: Math.min(...specs.map((s) => s.device.blockCount)), thin: specs.every((s) => s.device.thin),
        regionBytes: req.regionBytes ?? NEXUS_REGION_BYTES_DEFAULT, rebuildThrottleBytesPerSec: req.rebuildThrottleBytesPerSec ?? 0,
        ...(req.rebuildThrottleMode ? { rebuildThrottleMode: req.rebuildThrottleMode } : {}),
        replicas: refs.map((r) => ({ node: r.node, pool: r.pool, volume: r.volume, state: r.state })),
      };
      const requireFenced = Math.max(req.requireFenced ?? refs.filter((r) => r.state === 'online').length, takeoverMinimum(refs.length));
      const live = await this.#start(record, specs, requireFenced, requireFenced);
      if (live.fault) throw new NexusUnavailableError(req.name, live.fault);
      this.#live.set(record.name, live);
      await this.#requestSave();
      this.#log.info({ nexus: record.name, generation, replicas: refs.length }, 'nexus created');
      return this.#view(live);
    });
  }

  /** Closes the nexus and forgets it; the replicas and their data stay. */
  destroy(name: string): Promise<void> {
    return this.#serial(async () => {
      const live = this.#get(name);
      this.#stop(live);
      this.#live.delete(name);
      await this.#requestSave();
      this.#log.info({ nexus: name }, 'nexus destroyed');
    });
  }

  addReplica(name: string, ref: ReplicaRef, opts: { full?: boolean } = {}): Promise<NexusView> {
    return this.#serial(async () => {
      const live = this.#get(name);
      const nexus = this.#serving(live);
      const r = this.#opener.normalize(ref);
      const cname = childName(r);
      const { device, release } = await this.#opener.open(r, nexus.generation);
      live.refs.set(cname, r);
      try {
        this.#track(live, cname, await nexus.addChild({ name: cname, device, release }, { full: opts.full, throttleBytesPerSec: live.record.rebuildThrottleBytesPerSec }));
      } catch (err) {
        if (!live.states.has(cname)) live.refs.delete(cname);
        release();
        throw err;
      }
      await this.#requestSave();
      return this.#view(live);
    });
  }

  removeReplica(name: string, child: string): Promise<NexusView> {
    return this.#serial(async () => {
      const live = this.#get(name);
      this.#serving(live).removeChild(child);
      live.refs.delete(child);
      live.states.delete(child);
      this.#retrier.forget(name, child);
      await this.#requestSave();
      return this.#view(live);
    });
  }

  /** Sets the rebuild byte cap and/or the throttle mode of one nexus (what is not given stays). */
  setThrottle(name: string, change: { bytesPerSec?: number; mode?: RebuildThrottleModeName }): Promise<NexusView> {
    return this.#serial(async () => {
      const live = this.#get(name);
      if (change.bytesPerSec !== undefined) live.record.rebuildThrottleBytesPerSec = change.bytesPerSec;
      if (change.mode !== undefined) live.record.rebuildThrottleMode = change.mode;
      live.nexus?.setRebuildThrottle(live.record.rebuildThrottleBytesPerSec, live.record.rebuildThrottleMode ?? this.#throttleMode);
      await this.#requestSave();
      return this.#view(live);
    });
  }

  async close(): Promise<void> {
    this.#retrier.close();
    await this.#lock.catch(() => undefined);
    for (const live of this.#live.values()) this.#stop(live);
    await this.#saveLast;
  }

  // ---- internals ----

  async #restore(record: NexusRecord): Promise<void> {
    const { specs, superseded } = await openForRestore(this.#opener, record);
    let live: LiveNexus;
    if (superseded) {
      for (const s of specs) s.release?.();
      live = this.#empty(record, `fenced by a newer generation: ${superseded}`);
      live.fenced = true;
    } else {
      // Its own replica alone is no proof that this generation still owns the volume:
      // serve only once a majority of the saved membership accepts it (nexus_quorum.ts).
      live = await this.#start(record, specs, 0, restartQuorum(record.replicas.length));
    }
    this.#live.set(record.name, live);
    if (live.fault) this.#log.error({ nexus: record.name, reason: live.fault }, 'nexus could not be re-created');
    else this.#log.info({ nexus: record.name, generation: record.generation, state: live.nexus?.state }, 'nexus re-created');
  }

  async #start(record: NexusRecord, specs: NexusChildSpec[], requireFenced: number, quorum: number): Promise<LiveNexus> {
    const live = this.#empty(record);
    for (const r of record.replicas) live.refs.set(childName(r), { node: r.node, pool: r.pool, volume: r.volume });
    try {
      live.nexus = await Nexus.create({
        name: record.name, generation: record.generation, children: specs, requireFenced, quorum,
        regionBytes: record.regionBytes, rebuildThrottleBytesPerSec: record.rebuildThrottleBytesPerSec,
        rebuildThrottleMode: record.rebuildThrottleMode ?? this.#throttleMode,
        rebuildParallel: ENGINE_REBUILD_PARALLEL, log: this.#log,
      });
    } catch (err) {
      live.fault = `${errorCode(err) ?? 'ERROR'}: ${(err as Error).message}`;
      live.fenced = errorCode(err) === 'NEXUS_FENCED';
      return live;
    }
    for (const c of live.nexus.children()) live.states.set(c.name, c.state);
    live.off = live.nexus.on((e) => this.#onEvent(live, e));
    live.device = new NexusDevice(live.nexus, record.uuid, () => this.#durable(live));
    for (const c of live.nexus.children()) if (c.state !== 'online') this.#retrier.due(record.name, c.name);
    return live;
  }

  #empty(record: NexusRecord, fault?: string): LiveNexus {
    return {
      record, refs: new Map(), states: new Map(), lastRebuild: new Map(), changed: true, savedDirty: 0,
      ...(fault ? { fault } : {}),
    };
  }

  #onEvent(live: LiveNexus, e: NexusEvent): void {
    const name = live.record.name;
    if (e.type === 'child-state') {
      if (e.to === 'removed') live.states.delete(e.child);
      else live.states.set(e.child, e.to);
      if (e.to === 'faulted' || e.to === 'stale') this.#retrier.due(name, e.child);
      if (e.to === 'online') this.#retrier.healed(name, e.child);
    } else if (e.to === NexusState.FENCED) {
      live.fault = e.reason ?? 'fenced by a newer generation';
      live.fenced = true;
      this.#retrier.forget(name);
      this.#log.error({ nexus: name, generation: live.record.generation, reason: live.fault }, 'nexus fenced: a newer generation owns the volume; it serves no I/O');
    } else if (e.from === NexusState.NO_QUORUM) {
      this.#log.info({ nexus: name, generation: live.record.generation, state: e.to }, 'nexus holds its generation on a quorum; serving');
      // Replicas that rejoined while it waited are stale: rebuild them now.
      for (const [child, state] of live.states) if (state !== 'online') this.#retrier.due(name, child);
    }
    live.changed = true;
    this.#requestSave().catch((err: unknown) => this.#log.error({ err, nexus: live.record.name }, 'saving nexus state failed'));
  }

  /** Brings one child back: reconnect a faulted one, restart the rebuild of a stale one. */
  async #revive(name: string, child: string): Promise<void> {
    const live = this.#live.get(name);
    const nexus = live?.nexus;
    const ref = live?.refs.get(child);
    if (!live || !nexus || !ref || live.fault || nexus.state === NexusState.CLOSED) return;
    const state = live.states.get(child);
    const waiting = nexus.state === NexusState.NO_QUORUM;
    if (state === 'stale') {
      // Nothing is copied before the nexus holds its quorum; reaching it marks this child due again.
      if (!waiting) this.#track(live, child, await nexus.rebuildChild(child));
      return;
    }
    if (state !== 'faulted') return;
    let opened: Awaited<ReturnType<ChildOpener['open']>>;
    try {
      opened = await this.#opener.open(ref, nexus.generation);
    } catch (err) {
      // The replica's HELLO says a newer generation owns the volume: stop at once, do not "try later".
      if (errorCode(err) === 'STALE_GENERATION') nexus.supersede(err);
      throw err;
    }
    const { device, release } = opened;
    try {
      // Removed by the operator while we connected: do not bring it back.
      if (!live.refs.has(child)) throw new NexusUnavailableError(name, `replica ${child} was removed`);
      if (nexus.state === NexusState.NO_QUORUM) {
        await nexus.rejoin({ name: child, device, release });
        this.#log.info({ nexus: name, child, ...nexus.quorumStatus() }, 'replica accepted the generation of a nexus waiting for its quorum');
        return;
      }
      this.#track(live, child, await nexus.addChild({ name: child, device, release }, { throttleBytesPerSec: live.record.rebuildThrottleBytesPerSec }));
    } catch (err) {
      release();
      throw err;
    }
    this.#log.info({ nexus: name, child }, 'replica reconnected; resyncing');
  }

  #track(live: LiveNexus, child: string, run: { job: RebuildJob; done: Promise<RebuildOutcome> }): void {
    const started = Date.now();
    run.done.then((outcome) => {
      const p = run.job.progress();
      live.lastRebuild.set(child, {
        outcome, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesCopied: p.bytesCopied,
        seconds: (Date.now() - started) / 1000, finishedAt: new Date().toISOString(),
      });
      this.#log.info({ nexus: live.record.name, child, outcome, bytesCopied: p.bytesCopied }, 'rebuild finished');
      if (outcome === 'faulted' || outcome === 'stale') {
        const reason = live.nexus?.children().find((c) => c.name === child)?.reason ?? `rebuild ended ${outcome}`;
        this.#retrier.failed(live.record.name, child, new Error(reason));
      }
    }, () => undefined);
  }

  /** After a write: undefined, or the save the write must wait for (see NexusDevice). */
  #durable(live: LiveNexus): Promise<void> | undefined {
    if (live.changed) return this.#requestSave();
    if (this.#absentDirty(live) <= live.savedDirty) return undefined;
    return this.#requestSave();
  }

  #absentDirty(live: LiveNexus): number {
    let n = 0;
    for (const [name, state] of live.states) {
      if (state === 'faulted' || state === 'stale') n += live.nexus?.intentMap(name)?.dirtyRegions ?? 0;
    }
    return n;
  }

  /** Saves every nexus; calls while one is queued share it, so a burst costs one write. */
  #requestSave(): Promise<void> {
    if (this.#saveQueued) return this.#saveQueued;
    const run = (): Promise<void> => {
      this.#saveQueued = undefined;
      return saveNexusRecords(this.#dataDir, this.#opener.self, [...this.#live.values()].map((l) => this.#snapshot(l)));
    };
    const next = this.#saveLast.then(run, run);
    this.#saveQueued = next;
    this.#saveLast = next.catch(() => undefined);
    return next;
  }

  #snapshot(live: LiveNexus): NexusRecord {
    const nexus = live.nexus;
    if (!nexus) return live.record;
    live.changed = false;
    live.savedDirty = this.#absentDirty(live);
    const replicas: ReplicaRecord[] = [];
    for (const c of nexus.children()) {
      const ref = live.refs.get(c.name);
      if (!ref) continue;
      const base = { node: ref.node, pool: ref.pool, volume: ref.volume };
      if (c.state === 'online') replicas.push({ ...base, state: 'online' });
      // A rebuilding replica's map has regions claimed but maybe not yet copied: copy it all again.
      else if (c.state === 'rebuilding') replicas.push({ ...base, state: 'stale' });
      else replicas.push({ ...base, state: 'stale', intents: (nexus.intentMap(c.name) as WriteIntentMap).toBuffer().toString('base64') });
    }
    live.record = { ...live.record, replicas };
    return live.record;
  }

  #view(live: LiveNexus): NexusView {
    const r = live.record;
    const infos = new Map((live.nexus?.children() ?? []).map((c) => [c.name, c]));
    const refs = live.nexus ? [...live.refs.entries()] : r.replicas.map((x) => [childName(x), x] as const);
    const state = live.fenced || live.nexus?.state === NexusState.FENCED ? NexusState.FENCED : live.fault ? 'faulted' : live.nexus?.state ?? 'faulted';
    const reason = live.fault ?? (live.nexus?.state === NexusState.NO_QUORUM ? noQuorumReason(live.nexus) : undefined);
    return {
      name: r.name, uuid: r.uuid, generation: r.generation, state, ...(reason ? { reason } : {}),
      sizeBytes: r.blockCount * r.blockSize, blockSize: r.blockSize, thin: r.thin,
      rebuildThrottleBytesPerSec: r.rebuildThrottleBytesPerSec, rebuildThrottleMode: r.rebuildThrottleMode ?? this.#throttleMode,
      replicas: refs.map(([name, ref]) => replicaView(ref, this.#opener.isLocal(ref), infos.get(name), live.lastRebuild.get(name), this.#retrier.status(r.name, name))),
    };
  }

  #stop(live: LiveNexus): void {
    live.off?.();
    live.nexus?.close();
    this.#retrier.forget(live.record.name);
  }

  #get(name: string): LiveNexus {
    const live = this.#live.get(name);
    if (!live) throw new NexusNotFoundError(name);
    return live;
  }

  #serving(live: LiveNexus): Nexus {
    if (!live.nexus || live.fault) throw new NexusUnavailableError(live.record.name, live.fault ?? 'not open');
    return live.nexus;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(fn, fn);
    this.#lock = next.catch(() => undefined);
    return next;
  }
}

function noQuorumReason(nexus: Nexus): string {
  const q = nexus.quorumStatus();
  return `waiting for a quorum: ${q.accepted} of the ${q.quorum} replicas needed have accepted generation ${nexus.generation}; `
    + 'no I/O is served until they do (or one reports a newer generation and fences it)';
}

function checkReplicaList(refs: ReplicaRef[]): void {
  if (refs.length < 1 || refs.length > 5) throw new InvalidArgumentError('a nexus has 1 to 5 replicas');
  const names = refs.map(childName);
  if (new Set(names).size !== names.length) throw new InvalidArgumentError('a replica is listed twice');
}
