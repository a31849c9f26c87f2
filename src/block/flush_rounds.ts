/**
 * Flushes repeated until one is quick: each round has only what was written during the
 * one before, a geometric series while the disk writes back faster than the device is
 * dirtied, so once a round costs what a flush with almost nothing to write costs
 * (QUICK_FLUSH_MS on a disk) the next flush, the one that matters, will be short too. On an
 * idle device the first round costs nothing and is the last. Used before a write pause
 * (a pool's snapshot, the snapshot barrier), so that the pause's own flush is short.
 */
export const QUICK_FLUSH_MS = 3;
/** Bounds a device dirtied as fast as it writes back, where no round is ever quick. */
export const MAX_FLUSH_ROUNDS = 8;

export interface FlushRoundsOptions {
  /** Milliseconds from some origin (default performance.now). */
  readonly now?: () => number;
  /** A round shorter than this ends the rounds (default QUICK_FLUSH_MS). */
  readonly quickMs?: number;
  /** At most this many rounds (default MAX_FLUSH_ROUNDS). */
  readonly maxRounds?: number;
}

export interface FlushRounds {
  /** Rounds run, the last one quick unless maxRounds ran out. */
  readonly rounds: number;
  /** Milliseconds all rounds took. */
  readonly ms: number;
}

/** Runs `flush` until a round takes less than quickMs, at most maxRounds times; a failed flush rejects. */
export async function flushUntilQuick(flush: () => Promise<void>, opts: FlushRoundsOptions = {}): Promise<FlushRounds> {
  const now = opts.now ?? (() => performance.now());
  const quickMs = opts.quickMs ?? QUICK_FLUSH_MS;
  const maxRounds = Math.max(1, opts.maxRounds ?? MAX_FLUSH_ROUNDS);
  const started = now();
  let rounds = 0;
  while (rounds < maxRounds) {
    const t0 = now();
    await flush();
    rounds++;
    if (now() - t0 < quickMs) break;
  }
  return { rounds, ms: now() - started };
}
