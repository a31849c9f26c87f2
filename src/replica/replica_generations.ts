/**
 * Where a replica server keeps each volume's fence generation across restarts. The
 * engine backs it with the pool's metadata; tests use `MemoryGenerationStore`.
 * `get` is synchronous because it is consulted on every I/O (through the cache below).
 */
export interface GenerationStore {
  /** The persisted generation, 0 for a volume never fenced. */
  get(volume: string): number;
  /** Persists a (higher) generation; resolves once it would survive a crash. */
  set(volume: string, generation: number): Promise<void>;
}

export class MemoryGenerationStore implements GenerationStore {
  private readonly map = new Map<string, number>();
  get(volume: string): number { return this.map.get(volume) ?? 0; }
  async set(volume: string, generation: number): Promise<void> { this.map.set(volume, generation); }
}

/**
 * The generations in force on one server: raised in memory at once (so fencing takes
 * effect before the store write finishes — being strict early is always safe) and
 * persisted in order per volume, so a slower store call can never write a lower value last.
 */
export class GenerationRegistry {
  private readonly store: GenerationStore;
  private readonly current = new Map<string, number>();
  private readonly persisting = new Map<string, Promise<void>>();

  constructor(store: GenerationStore) { this.store = store; }

  get(volume: string): number {
    let gen = this.current.get(volume);
    if (gen === undefined) {
      gen = this.store.get(volume);
      this.current.set(volume, gen);
    }
    return gen;
  }

  /** Raises the volume's generation to at least `generation` and persists it. */
  raise(volume: string, generation: number): Promise<void> {
    if (generation <= this.get(volume)) return this.persisting.get(volume) ?? Promise.resolve();
    this.current.set(volume, generation);
    const prev = this.persisting.get(volume) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.store.set(volume, this.get(volume)));
    this.persisting.set(volume, next);
    return next;
  }
}
