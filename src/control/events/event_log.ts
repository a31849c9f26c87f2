/**
 * The bounded event log in the control plane's store (SQLite or etcd, like every other
 * record), one key per event under berth/v1/events/, keyed by its sortable id so the
 * store lists them in time order. When it holds more than `maxEvents` (plus a tenth, so
 * trimming is not a write per event) the oldest are deleted. Only the leader appends.
 */
import { KEY_ROOT } from '../model/spec_common.ts';
import type { Fence, KeyValue, Store } from '../store/store.ts';
import type { ControlEvent, EventDraft } from './event_types.ts';
import { selectEvents, type EventPage, type EventQuery } from './event_query.ts';

export const EVENTS_PREFIX = `${KEY_ROOT}events/`;
export const DEFAULT_MAX_EVENTS = 5000;

export function eventId(atMs: number, seq: number): string {
  return `${String(Math.max(0, Math.floor(atMs))).padStart(15, '0')}-${String(seq % 1_000_000).padStart(6, '0')}`;
}

export interface EventLogOptions {
  readonly store: Store;
  readonly fence?: () => Fence | undefined;
  readonly maxEvents?: number;
}

export class EventLog {
  readonly #store: Store;
  readonly #fence: () => Fence | undefined;
  readonly #max: number;
  #seq = 0;
  /** Events in the store, once counted (the first append counts them). */
  #count: number | undefined;

  constructor(o: EventLogOptions) {
    this.#store = o.store;
    this.#fence = o.fence ?? (() => undefined);
    this.#max = Math.max(1, o.maxEvents ?? DEFAULT_MAX_EVENTS);
  }

  async append(drafts: readonly EventDraft[]): Promise<ControlEvent[]> {
    if (drafts.length === 0) return [];
    this.#count ??= (await this.#keys()).length;
    const out: ControlEvent[] = [];
    for (const d of drafts) {
      const e: ControlEvent = { id: eventId(d.atMs, this.#seq++), time: new Date(d.atMs).toISOString(), ...d };
      await this.#store.put(EVENTS_PREFIX + e.id, JSON.stringify(e), { fence: this.#fence() });
      this.#count++;
      out.push(e);
    }
    if (this.#count > this.#max + Math.ceil(this.#max / 10)) await this.#trim();
    return out;
  }

  /** Every event, oldest first. */
  async all(): Promise<ControlEvent[]> {
    const out: ControlEvent[] = [];
    for await (const kv of this.#entries()) {
      try {
        out.push(JSON.parse(kv.value) as ControlEvent);
      } catch {
        // A record this version cannot read is skipped, not an error for every reader.
      }
    }
    return out;
  }

  async query(q: EventQuery): Promise<EventPage> {
    return selectEvents(await this.all(), q);
  }

  async #keys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const kv of this.#entries()) keys.push(kv.key);
    return keys;
  }

  /** The log's store entries in key (= time) order, read a page at a time. */
  async *#entries(): AsyncGenerator<KeyValue> {
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.#store.list(EVENTS_PREFIX, { limit: 500, startAfter });
      yield* page.items;
      if (!page.more || page.items.length === 0) return;
      startAfter = page.items[page.items.length - 1].key;
    }
  }

  async #trim(): Promise<void> {
    const keys = await this.#keys();
    const excess = keys.length - this.#max;
    for (let i = 0; i < excess; i++) await this.#store.delete(keys[i], { fence: this.#fence() });
    this.#count = Math.min(keys.length, this.#max);
  }
}
