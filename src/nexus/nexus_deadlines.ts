export interface Expirable {
  deadline: number;
  /** Called once the deadline has passed; the op is no longer tracked. */
  expire(): void;
}

/**
 * Deadlines of ops in flight that all share one timeout, kept with a single timer: the
 * ops sit in insertion order, which is deadline order, so only the oldest is looked at.
 * O(1) per op, no timer per op, no polling while nothing is in flight.
 */
export class DeadlineTracker {
  private readonly timeoutMs: number;
  private readonly ops = new Set<Expirable>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(timeoutMs: number) { this.timeoutMs = timeoutMs; }

  /** Starts (or restarts, moving it to the back) the op's deadline. */
  track(op: Expirable): void {
    op.deadline = Date.now() + this.timeoutMs;
    this.ops.delete(op);
    this.ops.add(op);
    if (!this.closed) this.timer ??= setTimeout(this.check, this.timeoutMs);
  }

  untrack(op: Expirable): void { this.ops.delete(op); }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    this.timer = undefined;
    const now = Date.now();
    for (const op of this.ops) {
      if (op.deadline > now) {
        this.timer = setTimeout(this.check, op.deadline - now);
        return;
      }
      this.ops.delete(op);
      op.expire();
    }
  };
}
