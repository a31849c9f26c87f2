import type { HeapItem } from './placement_heap.ts';
import { BucketQueue, newBucket, type Bucket, type BucketHandle } from './placement_bucket.ts';
import { DEFAULT_FILTERS, filterContext, firstRejecting, type FilterContext, type PoolFilter } from './placement_filters.ts';
import { explainFailure, type ExplainEntry } from './placement_explain.ts';
import { better, rankKey } from './placement_rankers.ts';
import { SpreadTracker, domainsOf, type Domains } from './placement_spread.ts';
import { validateRequest } from './placement_validate.ts';
import {
  DEFAULT_RANK_WEIGHTS, DEFAULT_SPREAD, PoolHealth,
  type Fleet, type FleetNode, type FleetPool, type PlacementRequest, type PlacementResult, type RankWeights,
} from './placement_types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A pool as the index tracks it: the reported pool plus usage reserved since. */
interface Entry extends Mutable<FleetPool>, HeapItem {
  node: FleetNode | undefined;
  domains: Domains | undefined;
  key: number;
  bucket: Bucket<Entry>;
}

export interface PlacementIndexOptions {
  readonly weights?: RankWeights;
  readonly filters?: readonly PoolFilter[];
}

/** Distinct static signatures (roughly, StorageClasses) remembered at once. */
const QUEUE_CACHE_LIMIT = 64;

const NO_DOMAINS: Domains = { zone: '', group: '', node: '' };

/**
 * The fleet indexed for placement. Usable pools (node online, pool healthy) sit in
 * buckets (one storage group, one media, one tag set), each a heap by rank key; the
 * buckets a request may use sit in a queue ordered by their best pool. Choosing a
 * replica pops buckets best first and stops as soon as no remaining bucket can beat
 * the best candidate, so a volume costs about O((r + k) log pools) where k counts pools
 * and buckets skipped for failing a filter, instead of O(pools).
 */
export class PlacementIndex {
  readonly #weights: RankWeights;
  readonly #filters: readonly PoolFilter[];
  readonly #staticFilters: readonly PoolFilter[];
  readonly #nodes = new Map<string, FleetNode>();
  readonly #entries = new Map<string, Entry>();
  readonly #buckets = new Map<string, Bucket<Entry>>();
  readonly #queues = new Map<string, BucketQueue<Entry>>();

  constructor(fleet: Fleet, options: PlacementIndexOptions = {}) {
    this.#weights = options.weights ?? DEFAULT_RANK_WEIGHTS;
    this.#filters = options.filters ?? DEFAULT_FILTERS;
    this.#staticFilters = this.#filters.filter((f) => f.static === true);
    for (const n of fleet.nodes) this.#nodes.set(n.id, n);
    for (const p of fleet.pools) this.upsertPool(p);
  }

  /** The pool as placement currently sees it (reported values plus reservations). */
  pool(id: string): FleetPool | undefined {
    return this.#entries.get(id);
  }

  node(id: string): FleetNode | undefined {
    return this.#nodes.get(id);
  }

  /** Add or replace a pool; reported figures replace reservations made since. */
  upsertPool(pool: FleetPool): void {
    this.removePool(pool.id);
    const node = this.#nodes.get(pool.nodeId);
    const domains = node === undefined ? undefined : domainsOf(node);
    const tags = [...new Set(pool.tags)].sort();
    const bucket = this.#bucket({ ...pool, tags }, node, domains);
    const entry: Entry = { ...pool, tags, node, domains, key: 0, bucket, heapIndex: -1 };
    entry.key = rankKey(entry, this.#weights);
    this.#entries.set(entry.id, entry);
    if (usable(entry)) {
      bucket.heap.push(entry);
      touch(bucket);
    }
  }

  removePool(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    if (entry.bucket.heap.has(entry)) {
      entry.bucket.heap.remove(entry);
      touch(entry.bucket);
    }
    this.#entries.delete(id);
  }

  /** Add or replace a node (online state, labels); its pools follow. */
  upsertNode(node: FleetNode): void {
    this.#nodes.set(node.id, node);
    for (const e of [...this.#entries.values()]) {
      if (e.nodeId === node.id) this.upsertPool(e);
    }
  }

  /** Record replicas placed on `poolIds` so the next placement sees them. */
  reserve(poolIds: readonly string[], sizeBytes: number, thin: boolean): void {
    this.#adjust(poolIds, sizeBytes, thin, 1);
  }

  /** Undo `reserve` (replica deleted or placement abandoned). */
  release(poolIds: readonly string[], sizeBytes: number, thin: boolean): void {
    this.#adjust(poolIds, sizeBytes, thin, -1);
  }

  /** Choose pools for the request; throws PlacementError saying what ruled pools out. */
  place(request: PlacementRequest): PlacementResult {
    validateRequest(request);
    const ctx = filterContext(request);
    const spread = new SpreadTracker(request.spread ?? DEFAULT_SPREAD);
    const existing: Domains[] = [];
    for (const id of request.existingPools ?? []) {
      const d = this.#entries.get(id)?.domains;
      if (d !== undefined) { existing.push(d); spread.add(d); }
    }
    const queue = this.#queue(ctx);
    const setAside: Entry[] = [];
    const chosen: Entry[] = [];
    try {
      for (let r = 0; r < request.replicas; r++) {
        const best = this.#best(queue, ctx, spread, setAside);
        if (best === undefined) {
          throw explainFailure(explainEntries(this.#entries.values()), this.#filters, ctx, existing);
        }
        chosen.push(best);
        spread.add(best.domains as Domains);
      }
    } finally {
      // Put back what this request set aside and let every queue see the restored heads.
      const touched = new Set<Bucket<Entry>>();
      for (const e of setAside) { e.bucket.heap.push(e); touched.add(e.bucket); }
      for (const b of touched) touch(b);
    }
    return { pools: chosen.map((e) => e.id) };
  }

  /**
   * The best candidate for the next replica: least spread penalty, then rank key.
   * Buckets come out of the queue best head first; the search stops when the next head,
   * even with the lowest penalty still reachable, cannot beat the best found. The chosen
   * pool and pools failing a filter are set aside until the request ends.
   */
  #best(queue: BucketQueue<Entry>, ctx: FilterContext, spread: SpreadTracker, setAside: Entry[]): Entry | undefined {
    const floor = queue.minPenalty(spread);
    const popped: BucketHandle<Entry>[] = [];
    let best: Entry | undefined;
    let bestPenalty = 0;
    while (true) {
      const h = queue.heap.peek();
      if (h === undefined || !h.nonEmpty) break;
      if (best !== undefined && !better(floor, h.key, h.id, bestPenalty, best.key, best.id)) break;
      queue.heap.pop();
      popped.push(h);
      const bucket = h.bucket;
      if (spread.forbids(bucket.domains)) continue;
      const penalty = spread.penalty(bucket.domains);
      const head = this.#head(bucket, ctx, spread, setAside);
      if (head !== undefined && (best === undefined || better(penalty, head.key, head.id, bestPenalty, best.key, best.id))) {
        best = head;
        bestPenalty = penalty;
      }
    }
    if (best !== undefined) {
      best.bucket.heap.remove(best);
      setAside.push(best);
    }
    for (const h of popped) { queue.refresh(h); queue.heap.push(h); }
    return best;
  }

  /** The bucket's best pool that passes every filter; pools that fail are set aside. */
  #head(bucket: Bucket<Entry>, ctx: FilterContext, spread: SpreadTracker, setAside: Entry[]): Entry | undefined {
    while (true) {
      const top = bucket.heap.peek();
      if (top === undefined) return undefined;
      if (firstRejecting(this.#filters, top, top.node, ctx) < 0 && !spread.forbids(top.domains as Domains)) return top;
      bucket.heap.remove(top);
      setAside.push(top);
    }
  }

  /**
   * The queue of buckets whose media, tags and storage group pass the static filters.
   * Requests of one StorageClass share it; it is rebuilt when a bucket is added.
   */
  #queue(ctx: FilterContext): BucketQueue<Entry> {
    const r = ctx.request;
    const signature = JSON.stringify([r.media, r.storageGroup, r.requiredTags, r.excludedTags]);
    let queue = this.#queues.get(signature);
    if (queue === undefined) {
      if (this.#queues.size >= QUEUE_CACHE_LIMIT) this.#dropQueues();
      queue = new BucketQueue<Entry>();
      for (const b of this.#buckets.values()) {
        if (this.#staticFilters.every((f) => f.accepts(b.sample, b.sampleNode, ctx))) queue.add(b);
      }
      this.#queues.set(signature, queue);
    }
    return queue;
  }

  #dropQueues(): void {
    if (this.#queues.size === 0) return;
    this.#queues.clear();
    for (const b of this.#buckets.values()) b.handles = [];
  }

  #bucket(pool: FleetPool, node: FleetNode | undefined, domains: Domains | undefined): Bucket<Entry> {
    const d = domains ?? NO_DOMAINS;
    const name = [pool.media, d.group, ...pool.tags].join('\u001e');
    let bucket = this.#buckets.get(name);
    if (bucket === undefined) {
      bucket = newBucket<Entry>(pool, node, d);
      this.#buckets.set(name, bucket);
      this.#dropQueues();
    }
    return bucket;
  }

  #adjust(poolIds: readonly string[], sizeBytes: number, thin: boolean, sign: 1 | -1): void {
    for (const id of poolIds) {
      const e = this.#entries.get(id);
      if (e === undefined) continue;
      e.committedBytes = Math.max(0, e.committedBytes + sign * sizeBytes);
      if (!thin) e.usedBytes = Math.max(0, e.usedBytes + sign * sizeBytes);
      e.replicaCount = Math.max(0, e.replicaCount + sign);
      e.key = rankKey(e, this.#weights);
      if (e.bucket.heap.has(e)) {
        e.bucket.heap.update(e);
        touch(e.bucket);
      }
    }
  }
}

/** Tell every queue holding the bucket that its head may have changed. */
function touch(bucket: Bucket<Entry>): void {
  for (const h of bucket.handles) h.queue.refresh(h);
}

function* explainEntries(entries: Iterable<Entry>): Iterable<ExplainEntry> {
  for (const e of entries) yield { pool: e, node: e.node, domains: e.domains };
}

function usable(e: Entry): boolean {
  return e.node !== undefined && e.node.online && e.health === PoolHealth.Online;
}

/** Place one request on a fleet without keeping the index (tests, one-off calls). */
export function placeReplicas(fleet: Fleet, request: PlacementRequest, options?: PlacementIndexOptions): PlacementResult {
  return new PlacementIndex(fleet, options).place(request);
}
