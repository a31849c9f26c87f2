import { randomUUID } from 'node:crypto';
import { BerthError } from '../../util/errors.ts';
import { StoreConflictError } from '../store/store_errors.ts';
import type { Fence, Store } from '../store/store.ts';

/**
 * Intent log: every change to the data plane is bracketed by two store writes.
 *   1. begin: save the spec with the operation marked pending;
 *   2. act: call the engines;
 *   3. commit: save the new spec and clear the mark (or roll back: clear it, old spec).
 * A crash between 1 and 3 leaves the mark, and a reconciler calls `recover`, which asks
 * the data plane what happened and finishes or rolls back. Nothing stays half done.
 */
export interface PendingOperation<Op> {
  readonly id: string;
  readonly op: Op;
  readonly startedAtMs: number;
}

/** What is stored under a spec's key. `spec` is null while a create is pending. */
export interface IntentRecord<S, Op> {
  readonly spec: S | null;
  readonly pending: PendingOperation<Op> | null;
}

/** Proof that `begin` succeeded; commit and rollback need it. */
export interface Ticket<S, Op> {
  readonly key: string;
  /** The spec before the operation (null for a create). */
  readonly spec: S | null;
  readonly pending: PendingOperation<Op>;
  /** The record's modRevision after begin, for compare-and-swap. */
  readonly revision: number;
}

/** Another operation on the resource is pending; try later (the reconciler will end it). */
export class OperationInProgressError extends BerthError {
  constructor(key: string) {
    super('OPERATION_IN_PROGRESS', `an operation on ${key} is still in progress`);
  }
}

/** What a reconciler decided about an operation found pending. */
export type Resolution<S> = { readonly commit: S | null } | { readonly rollback: true };

export interface IntentLogOptions {
  readonly store: Store;
  /** The leader's fence, if writes must stop when leadership is lost. */
  readonly fence?: () => Fence | undefined;
  readonly now?: () => number;
}

export class IntentLog<S, Op> {
  readonly #store: Store;
  readonly #fence: () => Fence | undefined;
  readonly #now: () => number;

  constructor(options: IntentLogOptions) {
    this.#store = options.store;
    this.#fence = options.fence ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  async read(key: string): Promise<{ record: IntentRecord<S, Op>; revision: number } | undefined> {
    const kv = await this.#store.get(key);
    return kv === undefined ? undefined : { record: JSON.parse(kv.value) as IntentRecord<S, Op>, revision: kv.modRevision };
  }

  /** Mark `op` pending on the key; refuses if another operation is pending there. */
  async begin(key: string, op: Op): Promise<Ticket<S, Op>> {
    const current = await this.read(key);
    if (current?.record.pending) throw new OperationInProgressError(key);
    const spec = current?.record.spec ?? null;
    const pending: PendingOperation<Op> = { id: randomUUID(), op, startedAtMs: this.#now() };
    try {
      const revision = await this.#write(key, { spec, pending }, current?.revision ?? 0);
      return { key, spec, pending, revision };
    } catch (err) {
      // Someone else wrote in between; if it was a begin, theirs holds the resource.
      if (err instanceof StoreConflictError) throw new OperationInProgressError(key);
      throw err;
    }
  }

  /** Save the spec the operation produced (null deletes it) and clear the mark. */
  async commit(ticket: Ticket<S, Op>, spec: S | null): Promise<void> {
    await this.#finish(ticket.key, ticket.revision, spec);
  }

  /** Restore the spec from before the operation and clear the mark. */
  async rollback(ticket: Ticket<S, Op>): Promise<void> {
    await this.#finish(ticket.key, ticket.revision, ticket.spec);
  }

  /**
   * begin → act → commit. If `act` fails, `undo` (if given) reverses what it may have
   * done and the mark is rolled back; if `undo` fails too, the mark stays for `recover`.
   */
  async run(
    key: string, op: Op, act: (spec: S | null) => Promise<S | null>,
    undo?: (spec: S | null, op: Op) => Promise<void>,
  ): Promise<S | null> {
    const ticket = await this.begin(key, op);
    let next: S | null;
    try {
      next = await act(ticket.spec);
    } catch (err) {
      if (undo !== undefined) {
        try {
          await undo(ticket.spec, op);
        } catch {
          throw err;
        }
      }
      await this.rollback(ticket);
      throw err;
    }
    await this.commit(ticket, next);
    return next;
  }

  /** Every record under `prefix` with an operation pending, oldest first. */
  async pending(prefix: string): Promise<Ticket<S, Op>[]> {
    const out: Ticket<S, Op>[] = [];
    let startAfter: string | undefined;
    while (true) {
      const page = await this.#store.list(prefix, { limit: 500, startAfter });
      for (const kv of page.items) {
        const record = JSON.parse(kv.value) as IntentRecord<S, Op>;
        if (record.pending) out.push({ key: kv.key, spec: record.spec, pending: record.pending, revision: kv.modRevision });
      }
      if (!page.more || page.items.length === 0) break;
      startAfter = page.items[page.items.length - 1].key;
    }
    return out.sort((a, b) => a.pending.startedAtMs - b.pending.startedAtMs);
  }

  /**
   * Given operations left pending under `prefix` (by a crash or a failed undo),
   * when `resolve` has checked the data plane and decided,
   * then each is committed or rolled back. Returns how many were finished; ones whose
   * resolve throws stay pending for the next pass.
   */
  async recover(prefix: string, resolve: (ticket: Ticket<S, Op>) => Promise<Resolution<S>>): Promise<number> {
    let finished = 0;
    for (const ticket of await this.pending(prefix)) {
      let resolution: Resolution<S>;
      try {
        resolution = await resolve(ticket);
      } catch {
        continue;
      }
      if ('rollback' in resolution) await this.rollback(ticket);
      else await this.commit(ticket, resolution.commit);
      finished++;
    }
    return finished;
  }

  async #finish(key: string, revision: number, spec: S | null): Promise<void> {
    if (spec === null) {
      await this.#store.delete(key, { ifRevision: revision, fence: this.#fence() });
    } else {
      await this.#write(key, { spec, pending: null }, revision);
    }
  }

  async #write(key: string, record: IntentRecord<S, Op>, ifRevision: number): Promise<number> {
    return await this.#store.put(key, JSON.stringify(record), { ifRevision, fence: this.#fence() });
  }
}
