import { ChildState, type ChildWriteSink, type NexusChild } from './nexus_child.ts';
import { ChildTimeoutError, NexusFaultedError } from './nexus_errors.ts';

/** What an I/O in flight needs from its nexus. */
export interface NexusIoHost {
  readonly opTimeoutMs: number;
  /** Retires the child (or fences the nexus for a stale-generation error). */
  childFailed(child: NexusChild, err: unknown): void;
  /** The op settled: stop tracking it, release its gate slot, mark missed regions. */
  mirrorDone(op: MirrorOp): void;
  readDone(op: ReadOp): void;
  /** Starts (or restarts) tracking an op's deadline. */
  track(op: MirrorOp | ReadOp): void;
  pickReadChild(): NexusChild | undefined;
  /** The error every op must fail with once the nexus is fenced. */
  fencedError(): Error | undefined;
  /** What a successful write, unmap or flush must still wait for before it is acknowledged. */
  ackBarrier(): Promise<void> | undefined;
}

export const MirrorKind = { WRITE: 0, UNMAP: 1, FLUSH: 2 } as const;
export type MirrorKindCode = (typeof MirrorKind)[keyof typeof MirrorKind];

/**
 * One write, unmap or flush fanned out to every healthy child. It settles when every
 * child it was sent to has answered or been retired (the timeout retires the slow
 * ones), and succeeds if at least one child that is still online acknowledged it.
 * Children are addressed by their index in the membership snapshot taken at dispatch
 * (the nexus replaces its child array on change, never mutates it).
 */
export class MirrorOp implements ChildWriteSink {
  readonly kind: MirrorKindCode;
  readonly members: readonly NexusChild[];
  readonly lba: number;
  readonly count: number;
  readonly epoch: number;
  deadline = 0;
  /** Children that acknowledged. */
  ackMask = 0;
  private pendingMask: number;
  private settled = false;
  /** A write's data and FUA bit, kept only while a deferred local write waits for its turn. */
  private data: Buffer | undefined;
  private fua = false;
  private lastError: unknown;
  private readonly host: NexusIoHost;
  private resolve!: (barrier: Promise<void> | undefined) => void;
  private reject!: (err: Error) => void;
  readonly promise: Promise<void>;

  constructor(host: NexusIoHost, kind: MirrorKindCode, members: readonly NexusChild[], mask: number, lba: number, count: number, epoch: number) {
    this.host = host;
    this.kind = kind;
    this.members = members;
    this.pendingMask = mask;
    this.lba = lba;
    this.count = count;
    this.epoch = epoch;
    this.promise = new Promise<void>((resolve, reject) => { this.resolve = resolve as (b: Promise<void> | undefined) => void; this.reject = reject; });
  }

  dispatch(data: Buffer | undefined, fua: boolean): void {
    const mask = this.pendingMask;
    const members = this.members;
    const slot = this.kind + 1;
    for (let i = 0; i < members.length; i++) {
      if ((mask & (1 << i)) === 0) continue;
      members[i].ioOps[slot]++;
      members[i].ioBytes[slot] += this.count * members[i].device.blockSize;
    }
    let submitted = 0;
    if (this.kind === MirrorKind.WRITE) {
      // Children reached over the network first: their requests join this tick's batch,
      // which leaves before the deferred local writes below run (see deferLocalWrite).
      for (let i = 0; i < members.length; i++) {
        const dev = members[i].device;
        if ((mask & (1 << i)) === 0 || dev.submitWrite === undefined) continue;
        dev.submitWrite(this.lba, data as Buffer, fua, this, i);
        submitted |= 1 << i;
      }
    }
    for (let i = 0; i < members.length; i++) {
      const bit = 1 << i;
      if ((mask & bit) === 0 || (submitted & bit) !== 0) continue;
      if (submitted !== 0) {
        this.data = data;
        this.fua = fua;
        deferLocalWrite(this, i);
      } else {
        this.send(i, data, fua);
      }
    }
  }

  /** The deferred write to child `i` (see deferLocalWrite). */
  sendDeferred(i: number): void {
    if (!this.settled) this.send(i, this.data, this.fua);
  }

  private send(i: number, data: Buffer | undefined, fua: boolean): void {
    const dev = this.members[i].device;
    let p: Promise<void>;
    try {
      p = this.kind === MirrorKind.WRITE ? dev.write(this.lba, data as Buffer, fua)
        : this.kind === MirrorKind.UNMAP ? dev.unmap(this.lba, this.count) : dev.flush();
    } catch (err) {
      // A device that throws instead of rejecting fails only its own part of the op.
      p = Promise.reject(err);
    }
    p.then(() => this.childDone(i, undefined), (err: unknown) => this.childDone(i, err ?? new Error('rejected')));
  }

  /** ChildWriteSink: child `tag` (its index) answered a submitted write. */
  writeDone(tag: number, err: Error | undefined): void {
    this.childDone(tag, err);
  }

  /** Past the deadline: every child still silent is retired, and the op settles. */
  expire(): void {
    if (this.settled) return;
    const silent = this.pendingMask;
    this.pendingMask = 0;
    for (let i = 0; i < this.members.length; i++) {
      if ((silent & (1 << i)) !== 0) {
        this.lastError = new ChildTimeoutError(this.members[i].name, this.host.opTimeoutMs);
        this.host.childFailed(this.members[i], this.lastError);
      }
    }
    this.finish();
  }

  private childDone(i: number, err: unknown): void {
    const bit = 1 << i;
    if (this.settled || (this.pendingMask & bit) === 0) return;
    this.pendingMask &= ~bit;
    if (err === undefined) {
      this.ackMask |= bit;
    } else {
      this.lastError = err;
      this.host.childFailed(this.members[i], err);
    }
    if (this.pendingMask === 0) this.finish();
  }

  private finish(): void {
    this.settled = true;
    this.data = undefined;
    this.host.mirrorDone(this);
    const fenced = this.host.fencedError();
    if (fenced) return this.reject(fenced);
    for (let i = 0; i < this.members.length; i++) {
      // Resolving with the barrier (usually undefined) costs no extra promise step when nothing waits.
      if ((this.ackMask & (1 << i)) !== 0 && this.members[i].state === ChildState.ONLINE) return this.resolve(this.host.ackBarrier());
    }
    this.reject(new NexusFaultedError('no in-sync replica acknowledged the I/O', { cause: this.lastError }));
  }
}

/**
 * Local writes of ops that also went to remote children, run once this tick's remote
 * requests have left. A local child (LocalReplica over a pool volume) usually writes
 * synchronously on the event loop, while remote requests wait in the socket's cork until
 * the tick ends: without this, a burst of N writes would make N local writes first and
 * only then send the remote batch, so the remote node sat idle while this one wrote and
 * each write's latency was the sum of both. Run in arrival order, so two writes queued
 * here reach the local child in the order they reached the nexus.
 */
const deferredOps: MirrorOp[] = [];
const deferredChildren: number[] = [];

function deferLocalWrite(op: MirrorOp, child: number): void {
  if (deferredOps.length === 0) process.nextTick(runDeferredWrites);
  deferredOps.push(op);
  deferredChildren.push(child);
}

function runDeferredWrites(): void {
  // Ops deferred while this runs join the same pass (the length is read every round).
  try {
    for (let k = 0; k < deferredOps.length; k++) deferredOps[k].sendDeferred(deferredChildren[k]);
  } finally {
    deferredOps.length = 0;
    deferredChildren.length = 0;
  }
}

export const ReadKind = { READ: 0, MAP_STATUS: 1 } as const;
export type ReadKindCode = (typeof ReadKind)[keyof typeof ReadKind];

/**
 * A read (or map query) served by one in-sync child; on an error or timeout that child
 * is retired and the op is retried on another, so the caller sees an error only when
 * no in-sync child is left.
 */
export class ReadOp {
  readonly kind: ReadKindCode;
  readonly lba: number;
  readonly count: number;
  deadline = 0;
  private readonly host: NexusIoHost;
  /** readInto's buffer: children with readInto fill it directly, others' reads are copied in. */
  private readonly dest: Buffer | undefined;
  /** The current attempt's readInto, while it may still be writing into `dest`. */
  private filling: Promise<unknown> | undefined;
  /**
   * Timed-out readIntos that may still write into `dest`. Later attempts read into a fresh
   * buffer, and the op settles (so the caller may reuse `dest`) only after these have.
   */
  private stragglers: Promise<unknown> | undefined;
  private attempt = 0;
  /** When the current attempt started (performance.now()). */
  startedAt = 0;
  private child: NexusChild | undefined;
  private settled = false;
  private lastError: unknown;
  private resolve!: (v: unknown) => void;
  private reject!: (err: Error) => void;
  readonly promise: Promise<unknown>;

  /** A rebuild's read, not the volume's user: the rebuild throttle does not count it as foreground I/O. */
  readonly background: boolean;

  constructor(host: NexusIoHost, kind: ReadKindCode, lba: number, count: number, dest?: Buffer, background = false) {
    this.host = host;
    this.background = background;
    this.kind = kind;
    this.lba = lba;
    this.count = count;
    this.dest = dest;
    this.promise = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
  }

  start(): void {
    const fenced = this.host.fencedError();
    const child = fenced ? undefined : this.host.pickReadChild();
    if (!child) {
      this.settled = true;
      this.host.readDone(this);
      const err = fenced ?? new NexusFaultedError('no in-sync replica to read from', { cause: this.lastError });
      this.afterStragglers(() => this.reject(err));
      return;
    }
    const attempt = ++this.attempt;
    this.child = child;
    child.outstanding++;
    this.startedAt = performance.now();
    this.host.track(this);
    const dev = child.device;
    const dest = this.dest;
    let p: Promise<unknown>;
    this.filling = undefined;
    if (this.kind === ReadKind.READ) {
      child.ioOps[0]++;
      child.ioBytes[0] += this.count * dev.blockSize;
    }
    if (this.kind !== ReadKind.READ) p = dev.mapStatus(this.lba, this.count);
    else if (dest !== undefined && dev.readInto !== undefined && this.stragglers === undefined) p = this.filling = dev.readInto(this.lba, this.count, dest);
    else p = dev.read(this.lba, this.count);
    p.then((v) => this.done(child, attempt, undefined, v), (err: unknown) => this.done(child, attempt, err ?? new Error('rejected'), undefined));
  }

  expire(): void {
    if (this.settled || !this.child) return;
    const child = this.child;
    this.attempt++; // a late answer from the retired child is ignored
    if (this.filling !== undefined) {
      const late = this.filling;
      this.stragglers = this.stragglers === undefined ? late.then(undefined, () => undefined) : Promise.allSettled([this.stragglers, late]);
    }
    this.lastError = new ChildTimeoutError(child.name, this.host.opTimeoutMs);
    this.host.childFailed(child, this.lastError);
    this.start();
  }

  private done(child: NexusChild, attempt: number, err: unknown, value: unknown): void {
    child.outstanding--;
    if (this.settled || attempt !== this.attempt) return;
    if (err !== undefined) {
      // A readInto that settled no longer writes into dest: the retry may use it again.
      this.lastError = err;
      this.host.childFailed(child, err);
      this.start();
      return;
    }
    // Moving average over ~8 reads: the balancer's estimate of what one more read costs here.
    child.readMs += (performance.now() - this.startedAt - child.readMs) / 8;
    this.settled = true;
    this.host.readDone(this);
    const fenced = this.host.fencedError();
    if (fenced) return this.afterStragglers(() => this.reject(fenced));
    const dest = this.dest;
    if (dest === undefined) return this.resolve(value);
    this.afterStragglers(() => {
      if (value !== undefined) (value as Buffer).copy(dest);
      this.resolve(undefined);
    });
  }

  private afterStragglers(fn: () => void): void {
    const late = this.stragglers;
    if (late === undefined) fn();
    else late.then(fn, fn);
  }
}
