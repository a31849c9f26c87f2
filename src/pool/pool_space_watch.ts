import type { Logger } from '../util/log.ts';
import type { PoolFile } from './pool_file.ts';
import { PoolConditionTracker, type ConditionChange, type PoolCondition } from './pool_condition.ts';
import { hostSpace } from './pool_host_space.ts';

/** How often a pool whose host filesystem is full looks for room again. */
export const HOST_PROBE_MS = 1000;

export interface SpaceView {
  condition: PoolCondition;
  reason?: string;
  /** Pool files only: bytes the host filesystem has allocated to the file. */
  backedBytes?: number;
  /** Pool files only: bytes the host filesystem can still allocate. */
  hostAvailableBytes?: number;
}

/**
 * The I/O side of a pool's condition (pool_condition.ts): hears of host refusals from
 * the pool file, looks at the host filesystem while it is full (on a timer and whenever
 * someone asks), and logs one line per change — a warning without a stack, because a
 * full filesystem is an expected state, not a fault in Berth.
 */
export class PoolSpaceWatch {
  readonly #tracker = new PoolConditionTracker();
  readonly #file: PoolFile;
  readonly #path: string;
  readonly #needBytes: number;
  readonly #log: Logger;
  readonly #probeMs: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(o: { file: PoolFile; path: string; needBytes: number; log: Logger; probeMs?: number }) {
    this.#file = o.file;
    this.#path = o.path;
    this.#needBytes = o.needBytes;
    this.#log = o.log;
    this.#probeMs = o.probeMs ?? HOST_PROBE_MS;
    this.#file.onNoSpace = (code) => this.refused(code);
    this.#file.onSyncFailed = (code) => this.#report(this.#tracker.syncFailed(code));
  }

  get condition(): PoolCondition {
    return this.#tracker.condition;
  }

  /** The host refused a write (ENOSPC or EDQUOT). */
  refused(code: string): void {
    if (this.#tracker.hostFull) return;
    const space = hostSpace(this.#file, this.#path);
    this.#report(this.#tracker.hostRefused(code, space ?? { availableBytes: 0, backedBytes: 0 }));
    if (this.#tracker.hostFull && this.#timer === null) {
      this.#timer = setInterval(() => this.probe(), this.#probeMs);
      this.#timer.unref();
    }
  }

  setFull(full: boolean): void {
    this.#report(this.#tracker.setFull(full));
  }

  /** While the host is full: is there room again? */
  probe(): void {
    if (!this.#tracker.hostFull) return;
    const space = hostSpace(this.#file, this.#path);
    if (space === undefined) return;
    this.#report(this.#tracker.hostProbe(space, this.#needBytes));
    if (!this.#tracker.hostFull) this.#stop();
  }

  /**
   * At import nothing has failed yet: a sparse pool file on a filesystem without room
   * for one more extent starts out `hostFull` so the API says so before a write fails.
   */
  checkHost(): void {
    const space = hostSpace(this.#file, this.#path);
    if (space !== undefined && space.backedBytes < space.fileBytes && space.availableBytes < this.#needBytes) this.refused('ENOSPC');
  }

  view(): SpaceView {
    this.probe();
    const space = hostSpace(this.#file, this.#path);
    const reason = this.#tracker.reason;
    return {
      condition: this.#tracker.condition,
      ...(reason !== undefined ? { reason } : {}),
      ...(space !== undefined ? { backedBytes: space.backedBytes, hostAvailableBytes: space.availableBytes } : {}),
    };
  }

  close(): void {
    this.#stop();
    this.#file.onNoSpace = null;
    this.#file.onSyncFailed = null;
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #report(change: ConditionChange | null): void {
    if (change === null) return;
    const fields = { condition: change.condition, previous: change.previous, ...(change.reason !== undefined ? { reason: change.reason } : {}) };
    if (change.condition === 'ok') this.#log.info(fields, 'pool can allocate again');
    else if (change.condition === 'full') this.#log.warn(fields, 'pool is full');
    else if (change.condition === 'syncFailed') this.#log.error(fields, 'pool file fdatasync failed');
    else this.#log.warn(fields, 'pool host filesystem is full');
  }
}
