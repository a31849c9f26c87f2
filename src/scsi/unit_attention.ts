import { Asc } from './constants.ts';

/**
 * Unit attention conditions of one logical unit, queued per I_T nexus (SAM-5 5.14).
 * A nexus seen for the first time starts with POWER ON, RESET, OR BUS DEVICE RESET
 * OCCURRED, as SAM-5 requires after the nexus is formed. `pending` lets the hot path
 * skip the lookup entirely when nothing is queued for anybody.
 */
export class UnitAttentions {
  readonly #queues = new Map<string, number[]>();
  #pending = 0;

  /** Total conditions queued across all nexuses. */
  get pending(): number { return this.#pending; }

  /** Whether this nexus has been seen by the LU (its power-on UA was queued). */
  knows(nexusId: string): boolean { return this.#queues.has(nexusId); }

  /** Registers a nexus with its power-on condition; idempotent. */
  addNexus(nexusId: string): void {
    if (this.#queues.has(nexusId)) return;
    this.#queues.set(nexusId, [Asc.POWER_ON_RESET]);
    this.#pending++;
  }

  removeNexus(nexusId: string): void {
    const q = this.#queues.get(nexusId);
    if (!q) return;
    this.#pending -= q.length;
    this.#queues.delete(nexusId);
  }

  nexusIds(): IterableIterator<string> { return this.#queues.keys(); }

  /** Queues `asc` for one nexus, once: a condition already queued is not repeated. */
  establish(nexusId: string, asc: number): void {
    let q = this.#queues.get(nexusId);
    if (!q) { q = []; this.#queues.set(nexusId, q); }
    if (q.includes(asc)) return;
    q.push(asc);
    this.#pending++;
  }

  /** Queues `asc` for every known nexus except `exceptNexusId`. */
  establishAll(asc: number, exceptNexusId?: string): void {
    for (const id of this.#queues.keys()) if (id !== exceptNexusId) this.establish(id, asc);
  }

  /** Removes and returns the oldest condition for this nexus. */
  take(nexusId: string): number | undefined {
    if (this.#pending === 0) return undefined;
    const q = this.#queues.get(nexusId);
    if (!q || q.length === 0) return undefined;
    this.#pending--;
    return q.shift();
  }

  /** Drops every queued condition of one nexus (a reset replaces them with its own). */
  clear(nexusId: string): void {
    const q = this.#queues.get(nexusId);
    if (!q) return;
    this.#pending -= q.length;
    q.length = 0;
  }
}
