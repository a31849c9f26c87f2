/**
 * Per-resource mutual exclusion inside one process: operations on the same key run one
 * after another, others in parallel. Across processes the intent log's compare-and-swap
 * and the leader's fence do that job; this lock keeps a request and a reconciler of the
 * same leader from both acting on one volume.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with an operation running or queued (for tests and diagnostics). */
  get size(): number {
    return this.#tails.size;
  }
}
