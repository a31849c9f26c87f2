import type { BlockDevice } from '../block/block_device.ts';
import { DeviceGoneError, OutOfRangeError } from '../block/errors.ts';
import { errorCode } from '../util/errors.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import {
  NEXUS_INTENT_GRAIN_BYTES_DEFAULT, NEXUS_MAX_CHILDREN, NEXUS_OP_TIMEOUT_MS_DEFAULT, NEXUS_READ_POLICY_DEFAULT, NEXUS_REGION_BYTES_DEFAULT,
  type AddChildOptions, type NexusOptions, type RebuildOutcome,
} from './nexus_options.ts';
import { NexusEvents, type NexusEvent } from './nexus_events.ts';
import { ChildState, NexusChild, NexusState, childGeometry, type ChildInfo, type ChildStateName, type NexusChildSpec, type NexusStateName } from './nexus_child.ts';
import { MirrorKind, MirrorOp, ReadKind, ReadOp, type MirrorKindCode, type NexusIoHost } from './nexus_io.ts';
import { NexusIoGate } from './nexus_io_gate.ts';
import { DeadlineTracker } from './nexus_deadlines.ts';
import { ChildInvalidError, ChildNotFoundError, NexusFaultedError, NexusFencedError, NexusNoQuorumError, RebuildTargetError } from './nexus_errors.ts';
import { QuorumVerdict, quorumVerdict } from './nexus_quorum.ts';
import { WriteIntentMap } from './write_intent_map.ts';
import { RebuildMap } from './rebuild_map.ts';
import { RebuildJob, type RebuildSource } from './rebuild_job.ts';
import { RebuildThrottle, REBUILD_THROTTLE_MODE_DEFAULT, type RebuildThrottleModeName } from './rebuild_throttle.ts';
import { NexusReadChooser } from './nexus_read_policy.ts';
import { NexusWriteHold } from './nexus_write_hold.ts';

/**
 * The volume's front end: an n-way mirror over local and remote replicas, itself a
 * BlockDevice. Writes, unmaps and flushes go to every online and rebuilding child and
 * succeed once every one has answered (or been retired) and at least one online child
 * acknowledged. Reads go to an online child chosen by the read policy (NexusReadPolicy:
 * by default the local replica while it keeps up) and move to another on error.
 * A child that fails or stays silent for `opTimeoutMs` is retired (faulted) without the
 * caller seeing an error while another online child remains. A stale-generation answer
 * from any child fences the nexus: it then fails every I/O rather than diverge. Until
 * `quorum` children have accepted its generation it serves nothing (no-quorum).
 */
export class Nexus implements BlockDevice, NexusIoHost {
  readonly name: string;
  readonly generation: number;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly thin: boolean;
  readonly opTimeoutMs: number;
  private readonly regionBlocks: number;
  private readonly log: Logger;
  private members: readonly NexusChild[] = [];
  /** What each not-in-sync child (by name, removed ones included) is missing. */
  private readonly intents = new Map<string, WriteIntentMap>();
  private readonly gate = new NexusIoGate();
  /** The snapshot barrier's pause (pauseWrites). */
  private readonly hold: NexusWriteHold;
  private readonly deadlines: DeadlineTracker;
  private readonly events: NexusEvents;
  /** Names whose addChild is waiting on the fence: a second one must not race it. */
  private readonly joining = new Set<string>();
  private fenced: NexusFencedError | undefined;
  /** Children that accepted this generation in this incarnation, by name (see NexusOptions.quorum). */
  private readonly accepted = new Set<string>();
  private quorum: number;
  /** accepted.size >= quorum, kept so the I/O path tests one boolean. */
  private quorate = false;
  private closed = false;
  private lastState: NexusStateName = NexusState.ONLINE;
  private readonly reader: NexusReadChooser;
  private throttle: number;
  private readonly parallel: number;
  private readonly grainBlocks: number;
  /** Whether rebuilds yield to foreground I/O; fed every foreground latency while one runs, a sample otherwise. */
  private readonly pacer: RebuildThrottle;
  private rebuilding = 0;
  /** Deadline of the last foreground op that finished (a stamp the deadline tracker already took: no clock read per I/O). */
  private lastIoDeadline = -Infinity;
  /** Counts foreground ops while no rebuild runs: one in 64 is timed, for the throttle's baseline. */
  private ioSeq = 0;
  private barrier: (() => Promise<void> | undefined) | undefined;

  private constructor(opts: NexusOptions) {
    const specs = opts.children;
    const geometry = childGeometry(specs, NEXUS_MAX_CHILDREN);
    this.blockSize = geometry.blockSize;
    this.blockCount = geometry.blockCount;
    this.thin = geometry.thin;
    this.name = opts.name;
    this.hold = new NexusWriteHold(opts.name, opts.holdTimer);
    this.generation = opts.generation;
    this.opTimeoutMs = opts.opTimeoutMs ?? NEXUS_OP_TIMEOUT_MS_DEFAULT;
    this.deadlines = new DeadlineTracker(this.opTimeoutMs);
    this.regionBlocks = Math.max(1, Math.floor((opts.regionBytes ?? NEXUS_REGION_BYTES_DEFAULT) / this.blockSize));
    this.throttle = opts.rebuildThrottleBytesPerSec ?? 0;
    this.grainBlocks = Math.max(1, Math.floor((opts.intentGrainBytes ?? NEXUS_INTENT_GRAIN_BYTES_DEFAULT) / this.blockSize));
    this.pacer = new RebuildThrottle(opts.rebuildThrottleMode ?? REBUILD_THROTTLE_MODE_DEFAULT, Date.now);
    this.parallel = opts.rebuildParallel ?? 2;
    this.quorum = Math.max(1, opts.quorum ?? opts.requireFenced ?? 1);
    this.reader = new NexusReadChooser(opts.readPolicy ?? NEXUS_READ_POLICY_DEFAULT);
    this.log = (opts.log ?? silentLogger()).child({ component: 'nexus', nexus: opts.name });
    this.events = new NexusEvents(this.log);
    for (const spec of specs) {
      const child = new NexusChild(spec, spec.state ?? ChildState.ONLINE);
      if (child.state === ChildState.STALE) {
        const map = spec.intents ?? this.fullMap();
        if (map.blockCount !== this.blockCount || map.regionBlocks !== this.regionBlocks) throw new ChildInvalidError(`intent map of ${spec.name} has another geometry`);
        // A map handed back (the engine persists the coarse level only) gains this nexus's grain for what it misses next.
        this.intents.set(spec.name, map.grainBlocks === this.grainBlocks ? map : this.emptyMap(map));
      }
      this.watch(child);
      this.members = [...this.members, child];
    }
    this.lastState = this.computeState();
  }

  /**
   * Creates a nexus and fences every child that supports it to this generation. Fails
   * unless at least `requireFenced` children (default 1) accepted the fence. With fewer
   * than `quorum` accepted it is created `no-quorum` and serves once enough rejoin.
   */
  static async create(opts: NexusOptions): Promise<Nexus> {
    const nexus = new Nexus(opts);
    let fencedOk = 0;
    await Promise.all(nexus.members.map((c) => nexus.fenceChild(c).then(() => { fencedOk++; }, (err) => nexus.childFailed(c, err))));
    nexus.checkNexusState();
    const need = opts.requireFenced ?? 1;
    if (nexus.fenced || fencedOk < need) {
      nexus.close();
      throw nexus.fenced ?? new NexusFaultedError(`only ${fencedOk} of ${need} required replicas accepted generation ${nexus.generation}`);
    }
    return nexus;
  }

  get state(): NexusStateName { return this.computeState(); }

  /** How many children hold this generation, of how many the nexus needs before it serves. */
  quorumStatus(): { accepted: number; quorum: number } { return { accepted: this.accepted.size, quorum: this.quorum }; }

  /** Subscribes to state changes (for the engine to persist membership); returns unsubscribe. */
  on(listener: (e: NexusEvent) => void): () => void { return this.events.on(listener); }

  children(): ChildInfo[] {
    return this.members.map((c) => ({
      name: c.name,
      state: c.state,
      reason: c.reason,
      missingBytes: (this.intents.get(c.name)?.dirtyBlocks() ?? 0) * this.blockSize,
      rebuild: c.rebuild?.progress(),
      ioOps: c.ioOps,
      ioBytes: c.ioBytes,
    }));
  }

  /** The regions a child (present or removed) is known to miss, for persistence. */
  intentMap(name: string): WriteIntentMap | undefined { return this.intents.get(name); }

  read(lba: number, count: number): Promise<Buffer> {
    const bad = this.refuse(lba, count);
    if (bad) return Promise.reject(bad);
    const op = new ReadOp(this, ReadKind.READ, lba, count);
    op.start();
    return op.promise as Promise<Buffer>;
  }

  /**
   * Reads into `dest` (count x blockSize bytes) through a child's own readInto where it
   * has one; settles only when no child writes into `dest` any more (see ReadOp).
   */
  readInto(lba: number, count: number, dest: Buffer): Promise<void> {
    const bad = this.refuse(lba, count);
    if (bad) return Promise.reject(bad);
    const op = new ReadOp(this, ReadKind.READ, lba, count, dest);
    op.start();
    return op.promise as Promise<void>;
  }

  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> {
    const bad = this.refuse(lba, count);
    if (bad) return Promise.reject(bad);
    const op = new ReadOp(this, ReadKind.MAP_STATUS, lba, count);
    op.start();
    return op.promise as Promise<{ mapped: boolean; count: number }>;
  }

  write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    const count = data.length / this.blockSize;
    const bad = this.refuse(lba, count);
    if (bad) return Promise.reject(bad);
    return this.mirror(MirrorKind.WRITE, lba, count, data, fua);
  }

  unmap(lba: number, count: number): Promise<void> {
    const bad = this.refuse(lba, count);
    if (bad) return Promise.reject(bad);
    return this.mirror(MirrorKind.UNMAP, lba, count, undefined, false);
  }

  flush(): Promise<void> {
    const bad = this.refuse(0, 0);
    if (bad) return Promise.reject(bad);
    return this.mirror(MirrorKind.FLUSH, 0, 0, undefined, false);
  }

  /**
   * Brings a new or returning replica into the nexus and starts its rebuild. A child
   * that returns under a name the nexus tracked (faulted, stale or removed with its
   * intents kept) is resynced only for the regions it missed, unless `full`.
   * Resolves once the child receives writes; `done` tells how the rebuild ended. If it
   * rejects, the device was not taken: the caller still owns it.
   */
  async addChild(spec: NexusChildSpec, opts: AddChildOptions = {}): Promise<{ job: RebuildJob; done: Promise<RebuildOutcome> }> {
    const bad = this.refuse(0, 0);
    if (bad) throw bad;
    const existing = this.members.find((c) => c.name === spec.name);
    if (existing && (existing.state === ChildState.ONLINE || existing.state === ChildState.REBUILDING)) {
      throw new ChildInvalidError(`replica ${spec.name} is already ${existing.state}`);
    }
    if (!existing && this.members.length >= NEXUS_MAX_CHILDREN) throw new ChildInvalidError(`a nexus has at most ${NEXUS_MAX_CHILDREN} children`);
    const child = await this.admit(spec, ChildState.REBUILDING);
    const late = this.refuse(0, 0);
    if (late) throw late;
    if (opts.full || !this.intents.has(spec.name)) this.intents.set(spec.name, this.fullMap());
    if (existing) existing.letGo();
    this.members = existing ? this.members.map((c) => (c === existing ? child : c)) : [...this.members, child];
    this.watch(child);
    this.emitChild(child, existing?.state ?? 'absent', ChildState.REBUILDING);
    return this.startRebuild(child, opts);
  }

  /** Starts a rebuild of a stale child that is still attached. */
  async rebuildChild(name: string, opts: AddChildOptions = {}): Promise<{ job: RebuildJob; done: Promise<RebuildOutcome> }> {
    const bad = this.refuse(0, 0);
    if (bad) throw bad;
    const child = this.find(name);
    if (child.state !== ChildState.STALE) throw new ChildInvalidError(`replica ${name} is ${child.state}, not stale`);
    if (opts.full) this.intents.set(name, this.fullMap());
    this.setState(child, ChildState.REBUILDING);
    return this.startRebuild(child, opts);
  }

  /**
   * How a nexus without quorum gathers it: fences a returning child and attaches it
   * stale (its write-intent map kept, no rebuild: nothing may be copied before the nexus
   * owns the volume). Counts toward the quorum; once that is reached the nexus serves and
   * the stale children can be rebuilt (rebuildChild). Rejects, leaving the device to the
   * caller, if the nexus serves already (use addChild), is fenced or the fence fails.
   */
  async rejoin(spec: NexusChildSpec): Promise<void> {
    if (this.closed) throw new DeviceGoneError(`nexus ${this.name} is closed`);
    if (this.fenced) throw this.fenced;
    if (this.quorate) throw new ChildInvalidError(`nexus ${this.name} holds its quorum: add ${spec.name} with addChild`);
    const existing = this.members.find((c) => c.name === spec.name);
    if (!existing || existing.state !== ChildState.FAULTED) throw new ChildInvalidError(`replica ${spec.name} is not a retired member`);
    const child = await this.admit(spec, ChildState.STALE);
    if (this.closed || this.fenced || !this.members.includes(existing)) {
      this.accepted.delete(spec.name);
      throw this.fenced ?? new DeviceGoneError(`nexus ${this.name} is closed or ${spec.name} was removed`);
    }
    if (!this.intents.has(spec.name)) this.intents.set(spec.name, this.fullMap());
    existing.letGo();
    this.members = this.members.map((c) => (c === existing ? child : c));
    this.watch(child);
    this.emitChild(child, existing.state, ChildState.STALE, 'rejoined; rebuilt once the nexus holds its quorum');
  }

  /**
   * A replica answered with a newer generation outside any I/O (e.g. to a reconnect's
   * HELLO): the nexus is fenced at once, as if an I/O had been refused.
   */
  supersede(err: unknown): void { this.fenceOff(err); }

  /** Stops a running rebuild; the child stays attached as stale (rebuildChild resumes it). */
  cancelRebuild(name: string): void {
    const child = this.find(name);
    if (child.state !== ChildState.REBUILDING) throw new ChildInvalidError(`replica ${name} is not rebuilding`);
    child.rebuild?.cancel();
  }

  /** Retires a child on the operator's word. */
  faultChild(name: string, reason = 'faulted by operator'): void {
    this.retire(this.find(name), new Error(reason));
  }

  /**
   * Takes a child out. With `keepIntents` the nexus keeps tracking what it misses so it
   * can return by name with a delta resync. The last online child cannot be removed.
   */
  removeChild(name: string, opts: { keepIntents?: boolean } = {}): void {
    const child = this.find(name);
    if (child.state === ChildState.ONLINE && this.members.filter((c) => c.state === ChildState.ONLINE).length === 1) {
      throw new ChildInvalidError(`replica ${name} is the last in-sync replica`);
    }
    child.rebuild?.cancel();
    if (opts.keepIntents) {
      if (!this.intents.has(name)) this.intents.set(name, this.emptyMap());
    } else {
      this.intents.delete(name);
    }
    this.members = this.members.filter((c) => c !== child);
    // Removing a member is a reconfiguration the caller vouches for: the quorum shrinks with the membership.
    this.accepted.delete(name);
    this.quorum = Math.max(1, Math.min(this.quorum, Math.floor(this.members.length / 2) + 1));
    this.quorate ||= this.accepted.size >= this.quorum;
    const from = child.state;
    child.state = ChildState.FAULTED;
    child.letGo();
    this.events.emit({ type: 'child-state', child: name, from, to: 'removed' });
    this.checkNexusState();
  }

  /**
   * The snapshot barrier: new writes and unmaps wait (for at most `leaseMs`), and once
   * every write in flight has finished on every child this resolves with the children
   * that are in sync — each now holds exactly the writes acknowledged so far, so a
   * snapshot cut on each of them before resumeWrites is one point in time.
   */
  async pauseWrites(token: string, leaseMs: number): Promise<{ online: string[] }> {
    const bad = this.refuse(0, 0);
    if (bad) throw bad;
    this.hold.hold(token, leaseMs);
    await this.gate.drain();
    const late = this.refuse(0, 0);
    if (late) this.hold.cancel(late.message);
    // Throws when the lease ran out (or the nexus closed) while writes drained.
    if (!this.hold.holds(token)) this.hold.release(token);
    return { online: this.members.filter((c) => c.state === ChildState.ONLINE).map((c) => c.name) };
  }

  /** Ends the pause; throws WriteHoldLostError (NEXUS_PAUSE_LOST) when its lease had already run out. */
  resumeWrites(token: string): void { this.hold.release(token); }

  /** Sets the hard cap (bytes/s, 0 = none) and, if given, whether rebuilds yield to foreground I/O. */
  setRebuildThrottle(bytesPerSec: number, mode?: RebuildThrottleModeName): void {
    this.throttle = bytesPerSec;
    if (mode !== undefined) this.pacer.mode = mode;
    for (const c of this.members) c.rebuild?.setThrottle(bytesPerSec);
  }

  /** Stops serving; rebuilds are cancelled and every child device is let go. */
  close(): void {
    if (this.closed) return;
    const from = this.computeState();
    this.closed = true;
    this.hold.cancel('the nexus closed');
    this.deadlines.close();
    for (const c of this.members) {
      c.rebuild?.cancel();
      c.letGo();
    }
    this.events.emit({ type: 'nexus-state', from, to: NexusState.CLOSED });
  }

  // ---- NexusIoHost: called by ops in flight ----

  childFailed(child: NexusChild, err: unknown): void {
    if (errorCode(err) === 'STALE_GENERATION') this.fenceOff(err);
    else this.retire(child, err);
  }

  mirrorDone(op: MirrorOp): void {
    this.deadlines.untrack(op);
    this.lastIoDeadline = op.deadline;
    if (this.rebuilding > 0) this.pacer.foreground(Date.now() - op.deadline + this.opTimeoutMs);
    else if ((++this.ioSeq & 63) === 0) this.pacer.quiet(Date.now() - op.deadline + this.opTimeoutMs);
    if (op.kind === MirrorKind.FLUSH) return;
    this.gate.leave(op.epoch);
    if (this.intents.size === 0) return;
    for (const [name, map] of this.intents) {
      const i = op.members.findIndex((c) => c.name === name);
      if (i < 0 || (op.ackMask & (1 << i)) === 0) map.mark(op.lba, op.count);
    }
  }

  readDone(op: ReadOp): void {
    this.deadlines.untrack(op);
    if (op.background) return;
    this.lastIoDeadline = op.deadline;
    if (this.rebuilding > 0) this.pacer.foreground(performance.now() - op.startedAt);
    else if ((++this.ioSeq & 63) === 0) this.pacer.quiet(performance.now() - op.startedAt);
  }

  track(op: MirrorOp | ReadOp): void { this.deadlines.track(op); }

  pickReadChild(): NexusChild | undefined { return this.reader.pick(this.members); }

  fencedError(): Error | undefined { return this.fenced; }

  ackBarrier(): Promise<void> | undefined { return this.barrier?.(); }

  /**
   * Sets what every successful write, unmap and flush waits for before it resolves
   * (the engine's save of membership and intent maps); `fn` returns undefined when
   * nothing is pending, which adds no promise step to the I/O.
   */
  setAckBarrier(fn: (() => Promise<void> | undefined) | undefined): void { this.barrier = fn; }

  // ---- internals ----

  /** Fast path (no rebuild locking the range): no await, no extra promise hop. */
  private mirror(kind: MirrorKindCode, lba: number, count: number, data: Buffer | undefined, fua: boolean): Promise<void> {
    if (kind !== MirrorKind.FLUSH && ((this.gate.locked && this.gate.blocker(lba, count)) || this.hold.blocker)) return this.mirrorLater(kind, lba, count, data, fua);
    const members = this.members;
    let mask = 0;
    let online = false;
    for (let i = 0; i < members.length; i++) {
      const s = members[i].state;
      if (s === ChildState.ONLINE) online = true;
      if (s === ChildState.ONLINE || s === ChildState.REBUILDING) mask |= 1 << i;
    }
    if (!online) return Promise.reject(new NexusFaultedError());
    const epoch = kind === MirrorKind.FLUSH ? -1 : this.gate.enter();
    const op = new MirrorOp(this, kind, members, mask, lba, count, epoch);
    this.track(op);
    op.dispatch(data, fua);
    return op.promise;
  }

  /** The range is being copied by a rebuild, or a snapshot barrier holds writes: wait for it, then go. */
  private async mirrorLater(kind: MirrorKindCode, lba: number, count: number, data: Buffer | undefined, fua: boolean): Promise<void> {
    for (let b = this.hold.blocker ?? this.gate.blocker(lba, count); b; b = this.hold.blocker ?? this.gate.blocker(lba, count)) await b;
    const bad = this.refuse(lba, count);
    if (bad) throw bad;
    return this.mirror(kind, lba, count, data, fua);
  }

  private refuse(lba: number, count: number): Error | undefined {
    if (this.closed) return new DeviceGoneError(`nexus ${this.name} is closed`);
    if (this.fenced) return this.fenced;
    if (!this.quorate) {
      return new NexusNoQuorumError(`nexus ${this.name} generation ${this.generation} is accepted by ${this.accepted.size} of the ${this.quorum} replicas it needs`);
    }
    if (!Number.isInteger(count) || lba < 0 || count < 0 || lba + count > this.blockCount) {
      return new OutOfRangeError(`I/O of ${count} blocks at ${lba} is outside the volume`);
    }
    return undefined;
  }

  /** Checks that a joining device fits, then fences it; a newer generation there fences this nexus. */
  private async admit(spec: NexusChildSpec, state: ChildStateName): Promise<NexusChild> {
    if (spec.device.blockSize !== this.blockSize || spec.device.blockCount < this.blockCount) {
      throw new ChildInvalidError(`replica ${spec.name} does not fit: block size ${spec.device.blockSize}, ${spec.device.blockCount} blocks`);
    }
    if (this.joining.has(spec.name)) throw new ChildInvalidError(`replica ${spec.name} is already joining`);
    const child = new NexusChild(spec, state);
    this.joining.add(spec.name);
    try {
      await this.fenceChild(child);
    } catch (err) {
      if (errorCode(err) === 'STALE_GENERATION') this.fenceOff(err);
      throw err;
    } finally {
      this.joining.delete(spec.name);
    }
    return child;
  }

  private async fenceChild(child: NexusChild): Promise<void> {
    if (typeof child.device.fence === 'function') await child.device.fence(this.generation);
    this.accepted.add(child.name);
    // Sticky: an incarnation that held its generation on a quorum owns the volume until fenced.
    this.quorate ||= quorumVerdict({ accepted: this.accepted.size, quorum: this.quorum, staleAnswers: 0 }) === QuorumVerdict.SERVE;
  }

  private watch(child: NexusChild): void {
    child.device.onFailed?.((err) => {
      if (this.members.includes(child)) this.childFailed(child, err);
    });
  }

  private async startRebuild(child: NexusChild, opts: AddChildOptions): Promise<{ job: RebuildJob; done: Promise<RebuildOutcome> }> {
    const map = this.intents.get(child.name) as WriteIntentMap;
    const job = new RebuildJob({
      source: this.rebuildSource(), target: child.device, map: new RebuildMap(map), gate: this.gate,
      blankTarget: opts.blankTarget, throttleBytesPerSec: opts.throttleBytesPerSec ?? this.throttle, parallel: this.parallel,
      opTimeoutMs: this.opTimeoutMs, limits: () => this.pacer.limits(),
    });
    child.rebuild = job;
    if (map.coarsened > 0) this.log.info({ child: child.name, regions: map.coarsened }, 'write-intent grain budget was spent: some regions are resynced whole');
    // Writes sent before the child joined did not reach it: let them finish (marking the map) first.
    await this.gate.drain();
    this.rebuilding++;
    this.pacer.seenAt(this.lastIoDeadline - this.opTimeoutMs);
    const done = job.run().then(() => this.rebuildSucceeded(child), (err: unknown) => this.rebuildFailed(child, err));
    const ended = (): void => { this.rebuilding--; };
    done.then(ended, ended); // a branch that never rejects: `done` itself is the caller's
    return { job, done };
  }

  private rebuildSucceeded(child: NexusChild): RebuildOutcome {
    if (!this.members.includes(child)) return 'removed';
    if (child.state !== ChildState.REBUILDING) return child.state;
    child.rebuild = undefined;
    const map = this.intents.get(child.name);
    if (map && map.dirtyRegions > 0) {
      // Cannot happen while every write reaches the target; if it does, stay honest.
      this.setState(child, ChildState.STALE, 'regions were dirtied during the rebuild');
      return ChildState.STALE;
    }
    this.intents.delete(child.name);
    this.setState(child, ChildState.ONLINE);
    return ChildState.ONLINE;
  }

  private rebuildFailed(child: NexusChild, err: unknown): RebuildOutcome {
    if (!this.members.includes(child)) return 'removed';
    child.rebuild = undefined;
    if (err instanceof RebuildTargetError) this.childFailed(child, err.cause);
    else if (child.state === ChildState.REBUILDING) this.setState(child, ChildState.STALE, `rebuild stopped: ${(err as Error).message}`);
    return child.state;
  }

  private retire(child: NexusChild, err: unknown): void {
    if (child.state === ChildState.FAULTED || !this.members.includes(child)) return;
    if (!this.intents.has(child.name)) this.intents.set(child.name, this.emptyMap());
    const reason = (err as Error)?.message ?? String(err);
    this.log.warn({ child: child.name, reason }, 'replica retired');
    this.setState(child, ChildState.FAULTED, reason);
    child.rebuild?.cancel();
    child.letGo();
  }

  private fenceOff(err: unknown): void {
    if (this.fenced) return;
    const from = this.computeState();
    this.fenced = new NexusFencedError(`nexus ${this.name} generation ${this.generation} is fenced: ${(err as Error)?.message ?? err}`);
    this.log.warn({ generation: this.generation }, 'nexus fenced by a newer generation');
    for (const c of this.members) c.rebuild?.cancel(this.fenced);
    this.lastState = NexusState.FENCED;
    this.events.emit({ type: 'nexus-state', from, to: NexusState.FENCED, reason: this.fenced.message });
  }

  private setState(child: NexusChild, to: ChildStateName, reason?: string): void {
    const from = child.state;
    child.state = to;
    child.reason = reason;
    this.emitChild(child, from, to, reason);
  }

  private emitChild(child: NexusChild, from: ChildStateName | 'absent', to: ChildStateName, reason?: string): void {
    this.events.emit({ type: 'child-state', child: child.name, from, to, reason });
    this.checkNexusState();
  }

  private checkNexusState(): void {
    const to = this.computeState();
    if (to === this.lastState) return;
    const from = this.lastState;
    this.lastState = to;
    this.events.emit({ type: 'nexus-state', from, to });
  }

  private computeState(): NexusStateName {
    if (this.closed) return NexusState.CLOSED;
    if (this.fenced) return NexusState.FENCED;
    if (!this.quorate) return NexusState.NO_QUORUM;
    let online = 0;
    for (const c of this.members) if (c.state === ChildState.ONLINE) online++;
    if (online === 0) return NexusState.FAULTED;
    return online === this.members.length ? NexusState.ONLINE : NexusState.DEGRADED;
  }

  private find(name: string): NexusChild {
    const c = this.members.find((m) => m.name === name);
    if (!c) throw new ChildNotFoundError(name);
    return c;
  }

  private fullMap(): WriteIntentMap {
    const m = this.emptyMap();
    m.markAll();
    return m;
  }

  /** A map with this nexus's region and grain, holding the marks of `from` if given. */
  private emptyMap(from?: WriteIntentMap): WriteIntentMap {
    const m = new WriteIntentMap(this.blockCount, this.regionBlocks, { grainBlocks: this.grainBlocks });
    if (from) m.merge(from);
    return m;
  }

  /** The nexus as a rebuild reads it: its reads, marked background so the rebuild throttle does not take them for the user's. */
  private rebuildSource(): RebuildSource {
    const start = (kind: typeof ReadKind.READ | typeof ReadKind.MAP_STATUS, lba: number, count: number, dest?: Buffer): Promise<unknown> => {
      const bad = this.refuse(lba, count);
      if (bad) return Promise.reject(bad);
      const op = new ReadOp(this, kind, lba, count, dest, true);
      op.start();
      return op.promise;
    };
    return {
      blockSize: this.blockSize, thin: this.thin,
      read: (lba, count) => start(ReadKind.READ, lba, count) as Promise<Buffer>,
      readInto: (lba, count, dest) => start(ReadKind.READ, lba, count, dest) as Promise<void>,
      mapStatus: (lba, count) => start(ReadKind.MAP_STATUS, lba, count) as Promise<{ mapped: boolean; count: number }>,
    };
  }
}
