import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import { DeviceGoneError, MediumError } from '../block/errors.ts';
import { PoolInUseError } from './pool_errors.ts';
import { processIdentity, isProcessAlive, type ProcessIdentity } from './host_identity.ts';
import {
  decodeOwnerRecord, describeOwner, encodeOwnerRecord, OWNER_RECORD_BYTES, OWNER_RECORD_OFFSET, OwnerState,
  type OwnerRecord,
} from './pool_owner_record.ts';
import { claimSettleMs, DEFAULT_HEARTBEAT_MS, holderMoved, importWaitMs, judgeHolder, leaseMs } from './pool_owner_policy.ts';
import type { IoGuard } from './pool_file.ts';
import type { OwnerBlockIo } from './pool_owner_io.ts';

/** Monotonic time and timers, injectable so tests never depend on the machine's speed. */
export interface OwnerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Runs `fn` once after `ms`; the returned function cancels it. Must not keep the process alive (heartbeats). */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: OwnerClock = {
  now: () => performance.now(),
  // An import waiting on a claim keeps the process alive (an engine starting up has nothing else yet).
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface OwnershipOptions {
  /** Heartbeat interval (ms); every engine sharing pools should use the same one. */
  intervalMs?: number;
  /** How this engine is named to a refused importer (`--node-id`, default the host name). */
  nodeId?: string;
  clock?: OwnerClock;
  logger?: Logger;
  /** Called once when another engine took the pool over: every transfer fails from then on. */
  onLost?: (err: DeviceGoneError) => void;
  /** Flush the pool's data before each beat (a block device another host may see). */
  flushData?: () => Promise<void>;
  /** Tests: who we say we are. */
  identity?: ProcessIdentity;
  /** Tests: whether a holder in our pid namespace still runs. */
  isAlive?: (holder: Pick<OwnerRecord, 'pid' | 'pidStart' | 'instance'>) => boolean;
}

let defaults: Pick<OwnershipOptions, 'intervalMs' | 'nodeId'> = {};

/** Defaults for pools opened from now on (the engine's `--pool-heartbeat-ms` and `--node-id`). */
export function setDefaultOwnership(opts: Pick<OwnershipOptions, 'intervalMs' | 'nodeId'>): void {
  defaults = { ...opts };
}

/** Owner instances this process holds: a record naming our own pid is alive only if listed here. */
const heldHere = new Set<string>();

function defaultAlive(holder: Pick<OwnerRecord, 'pid' | 'pidStart' | 'instance'>): boolean {
  if (holder.pid === process.pid) return heldHere.has(holder.instance);
  return isProcessAlive(holder.pid, holder.pidStart);
}

/**
 * One engine's hold on one pool: the claim at import, the heartbeat that proves it, and
 * the lease that lets the pool's writes through (it is the PoolFile's IoGuard). A beat
 * reads the record before it writes: if someone else's claim is there, the pool is lost
 * and every transfer fails from then on — never two writers.
 */
export class PoolOwnership implements IoGuard {
  lost: DeviceGoneError | null = null;
  /** Who took the pool over, once it is lost. */
  lostTo: string | undefined;
  leaseUntil = -Infinity;
  readonly intervalMs: number;
  readonly #io: OwnerBlockIo;
  readonly #poolUuid: string;
  readonly #clock: OwnerClock;
  readonly #log: Logger;
  readonly #opts: OwnershipOptions;
  readonly #self: ProcessIdentity;
  readonly #instance = randomUUID();
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #beating: Promise<void> | null = null;
  #cancelTimer: (() => void) | null = null;
  #stopped = false;
  #failing = false;

  private constructor(io: OwnerBlockIo, poolUuid: string, opts: OwnershipOptions) {
    this.#io = io;
    this.#poolUuid = poolUuid;
    this.#opts = opts;
    this.intervalMs = opts.intervalMs ?? defaults.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'pool-owner' });
    this.#self = opts.identity ?? processIdentity();
  }

  get instance(): string {
    return this.#instance;
  }

  /**
   * Takes the pool over for this process or throws PoolInUseError naming the holder.
   * A holder we can ask the kernel about is judged at once; any other is watched for
   * importWaitMs and taken over only if its heartbeat stood still all that time.
   */
  static async acquire(io: OwnerBlockIo, poolUuid: string, opts: OwnershipOptions = {}): Promise<PoolOwnership> {
    const o = new PoolOwnership(io, poolUuid, opts);
    try {
      await o.#acquire();
    } catch (err) {
      o.#stop();
      await io.close().catch(() => undefined);
      throw err;
    }
    return o;
  }

  /** A freshly created pool: nobody else can know it yet, so the claim needs no wait. */
  static async claimNew(io: OwnerBlockIo, poolUuid: string, opts: OwnershipOptions = {}): Promise<PoolOwnership> {
    const o = new PoolOwnership(io, poolUuid, opts);
    await o.#write(await io.read(), OwnerState.held);
    o.#start();
    return o;
  }

  /**
   * Rewrites the primary superblock's first sector through the owner descriptor, between
   * beats: a beat on a block device rewrites the whole block and must not undo it. (Not
   * through the pool file: its writes may wait for a beat, which would wait for this.)
   */
  writeSuperblockHead(head: Buffer): Promise<void> {
    return this.#serialize(async () => {
      const block = await this.#io.read();
      head.copy(block, 0, 0, Math.min(head.length, OWNER_RECORD_OFFSET));
      await this.#io.writeHead(block);
    });
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  renew(cb: (err: DeviceGoneError | MediumError | null) => void): void {
    if (this.lost !== null) return cb(this.lost);
    this.#beat().then(() => cb(this.lost), (err: unknown) => cb(err instanceof MediumError ? err : new MediumError(String(err))));
  }

  /** Stops beating and marks the record released (a clean export: the next importer need not wait). */
  async release(): Promise<void> {
    this.#stop();
    await this.#serialize(async () => {
      if (this.lost !== null) return;
      const block = await this.#io.read();
      const rec = decodeOwnerRecord(block.subarray(OWNER_RECORD_OFFSET, OWNER_RECORD_OFFSET + OWNER_RECORD_BYTES));
      if (rec?.instance === this.#instance) await this.#write(block, OwnerState.released);
    }).finally(() => this.#io.close());
  }

  /** Stops beating and leaves the record as it is: what a crash leaves behind. */
  async abandon(): Promise<void> {
    this.#stop();
    await this.#chain;
    await this.#io.close();
  }

  async #acquire(): Promise<void> {
    const first = await this.#readRecord();
    const verdict = judgeHolder(first, this.#poolUuid, this.#self, this.#opts.isAlive ?? defaultAlive);
    if (verdict === 'alive') throw new PoolInUseError(describeOwner(first!), 'it is running on this host');
    if (verdict === 'unknown') await this.#watch(first!);
    else if (verdict === 'dead') this.#log.warn({ holder: describeOwner(first!) }, 'pool holder is gone; taking the pool over');
    // Claim, let any rival claim land, and read again: the last claim wins.
    await this.#write(await this.#io.read(), OwnerState.held);
    await this.#clock.sleep(claimSettleMs(first?.intervalMs, this.intervalMs));
    const after = await this.#readRecord();
    if (after?.instance !== this.#instance) {
      throw new PoolInUseError(after === null ? 'another importer' : describeOwner(after), 'it claimed the pool at the same time');
    }
    this.#start();
    await this.#beat();
    if (this.lostTo !== undefined) throw new PoolInUseError(this.lostTo, 'it claimed the pool at the same time');
  }

  /** Watches an unknown holder; returns once it stood still for the whole wait, throws if it moved. */
  async #watch(first: OwnerRecord): Promise<void> {
    const waitMs = importWaitMs(first.intervalMs, this.intervalMs);
    this.#log.info({ holder: describeOwner(first), waitMs }, 'pool is claimed by an engine we cannot ask; watching its heartbeat');
    const until = this.#clock.now() + waitMs;
    for (;;) {
      const left = until - this.#clock.now();
      if (left <= 0) break;
      await this.#clock.sleep(Math.min(left, this.intervalMs));
      const rec = await this.#readRecord();
      if (rec !== null && rec.state === OwnerState.released) return;
      if (holderMoved(first, rec)) {
        throw new PoolInUseError(describeOwner(rec ?? first), 'its heartbeat is current');
      }
    }
    this.#log.warn({ holder: describeOwner(first), waitMs }, 'pool holder sent no heartbeat for the whole wait; taking the pool over');
  }

  #start(): void {
    heldHere.add(this.#instance);
    this.#schedule();
  }

  #stop(): void {
    this.#stopped = true;
    heldHere.delete(this.#instance);
    this.#cancelTimer?.();
    this.#cancelTimer = null;
  }

  #schedule(): void {
    if (this.#stopped || this.lost !== null) return;
    this.#cancelTimer = this.#clock.after(this.intervalMs, () => {
      this.#beat().then(() => {
        if (this.#failing) this.#log.info('pool heartbeat written again');
        this.#failing = false;
      }, (err: unknown) => {
        // One line when beats start failing, not one a second.
        if (!this.#failing) this.#log.error({ err }, 'pool heartbeat failed; writes wait until a beat lands');
        this.#failing = true;
      }).finally(() => this.#schedule());
    });
  }

  /** One beat (shared by callers that arrive while it runs): read, check it is ours, write seq+1. */
  #beat(): Promise<void> {
    this.#beating ??= this.#serialize(async () => {
      if (this.lost !== null || this.#stopped) return;
      const started = this.#clock.now();
      // Data first, so none of ours can reach the device after a beat another host trusts.
      await this.#opts.flushData?.();
      const block = await this.#io.read();
      const rec = decodeOwnerRecord(block.subarray(OWNER_RECORD_OFFSET, OWNER_RECORD_OFFSET + OWNER_RECORD_BYTES));
      if (rec?.instance !== this.#instance || rec.state !== OwnerState.held) return this.#lose(rec);
      await this.#write(block, OwnerState.held);
      this.leaseUntil = started + leaseMs(this.intervalMs);
    }).finally(() => { this.#beating = null; });
    return this.#beating;
  }

  #lose(rec: OwnerRecord | null): void {
    const holder = rec === null ? 'an unknown writer (the owner record was overwritten)' : describeOwner(rec);
    this.lostTo = holder;
    this.lost = new DeviceGoneError(`pool ownership lost: now held by ${holder}`);
    this.leaseUntil = -Infinity;
    this.#stop();
    this.#log.error({ holder }, 'pool ownership lost to another engine; all I/O on this pool stops');
    this.#opts.onLost?.(this.lost);
  }

  async #readRecord(): Promise<OwnerRecord | null> {
    const block = await this.#io.read();
    return decodeOwnerRecord(block.subarray(OWNER_RECORD_OFFSET, OWNER_RECORD_OFFSET + OWNER_RECORD_BYTES));
  }

  async #write(block: Buffer, state: OwnerRecord['state']): Promise<void> {
    const self = this.#self;
    const rec: OwnerRecord = {
      poolUuid: this.#poolUuid, state, instance: this.#instance, seq: ++this.#seq, wallMs: Date.now(), intervalMs: this.intervalMs,
      pid: self.pid, pidStart: self.pidStart, bootId: self.bootId, pidNs: self.pidNs, host: self.host,
      nodeId: this.#opts.nodeId ?? defaults.nodeId ?? self.host,
    };
    const out = Buffer.from(block);
    encodeOwnerRecord(rec).copy(out, OWNER_RECORD_OFFSET);
    await this.#io.write(out);
  }
}
