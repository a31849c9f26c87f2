/**
 * Guesses whether a volume's write that just completed will be followed by a flush
 * before the volume's next write: the commit pattern of a database (write the log,
 * flush, answer the client). When it will, the pool starts the fdatasync as the write
 * completes (FlushGroup.anticipate) instead of when the flush arrives, so the flush's
 * round trip through the initiator (for the node's attach path: the response to qemu,
 * FUSE, the loop device's fsync and the SYNCHRONIZE CACHE back) overlaps the device's
 * work. Pure, no clock: it sees only the order of writes and flushes.
 *
 * The score is a moving average, in 1/1024ths, of "a write was followed by a flush"
 * (weight 1/8 per write); the guess is yes from 3/4 up. A volume written in bulk
 * without flushes never reaches it, so it costs no extra fdatasyncs; a commit pattern
 * reaches it after about eleven commits. A wrong guess costs one fdatasync that a flush
 * arriving after a later write may have to wait out, and never durability: a flush is
 * answered only by a sync that began after its writes completed.
 */
const SCALE = 1024;
const THRESHOLD = (SCALE * 3) / 4;
const SHIFT = 3;

export class CommitPredictor {
  #score = 0;
  /** A write completed since the last flush. */
  #open = false;

  /** A write of the volume completed; true when a flush is expected before its next write. */
  writeCompleted(): boolean {
    // The write before this one had no flush after it.
    if (this.#open) this.#score -= this.#score >> SHIFT;
    this.#open = true;
    return this.#score >= THRESHOLD;
  }

  /** The volume was flushed (SYNCHRONIZE CACHE, or a FUA write's flush). */
  flushed(): void {
    if (!this.#open) return;
    this.#score += (SCALE - this.#score) >> SHIFT;
    this.#open = false;
  }

  /** The score, in 1/1024ths, for tests and diagnostics. */
  get score(): number {
    return this.#score;
  }
}
