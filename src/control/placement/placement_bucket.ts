import { IndexedHeap, type HeapItem } from './placement_heap.ts';
import { better } from './placement_rankers.ts';
import { SpreadPenalty, type Domains, type SpreadTracker } from './placement_spread.ts';
import type { FleetNode, FleetPool } from './placement_types.ts';

/** What a bucket needs from a pool entry: its rank key and id, and a heap slot. */
export interface RankedPool extends HeapItem {
  readonly id: string;
  key: number;
}

/**
 * Pools of one storage group with the same media and tags. Static filters and the
 * spread penalty are decided once per bucket; its heap's head is its best pool.
 */
export interface Bucket<E extends RankedPool> {
  /** The pool that created the bucket: it stands for all of them in static filters. */
  readonly sample: FleetPool;
  readonly sampleNode: FleetNode | undefined;
  /** Zone and group of the bucket; the node part is blank. */
  readonly domains: Domains;
  readonly heap: IndexedHeap<E>;
  /** This bucket's place in each queue it belongs to. */
  handles: BucketHandle<E>[];
}

export interface BucketHandle<E extends RankedPool> extends HeapItem {
  readonly bucket: Bucket<E>;
  readonly queue: BucketQueue<E>;
  /** Key and id of the bucket's head pool when last refreshed; +∞ when empty. */
  key: number;
  id: string;
  nonEmpty: boolean;
}

export function newBucket<E extends RankedPool>(sample: FleetPool, node: FleetNode | undefined, domains: Domains): Bucket<E> {
  return {
    sample, sampleNode: node, domains: { ...domains, node: '' },
    heap: new IndexedHeap<E>((a, b) => better(0, a.key, a.id, 0, b.key, b.id)), handles: [],
  };
}

const lessHandle = <E extends RankedPool>(a: BucketHandle<E>, b: BucketHandle<E>): boolean =>
  better(0, a.key, a.id, 0, b.key, b.id);

/**
 * The buckets one kind of request may use, ordered by their head pool, so the best
 * bucket is found without looking at all of them. It also counts non-empty buckets per
 * zone and group, which bounds the best spread penalty still reachable.
 */
export class BucketQueue<E extends RankedPool> {
  readonly heap = new IndexedHeap<BucketHandle<E>>(lessHandle);
  readonly #zones = new Map<string, number>();
  readonly #groups = new Map<string, number>();

  add(bucket: Bucket<E>): void {
    const handle: BucketHandle<E> = { bucket, queue: this, key: 0, id: '', nonEmpty: false, heapIndex: -1 };
    bucket.handles.push(handle);
    this.#read(handle);
    this.heap.push(handle);
  }

  /** Re-read the bucket's head after its heap changed; re-sort if the handle is queued. */
  refresh(handle: BucketHandle<E>): void {
    this.#read(handle);
    if (this.heap.has(handle)) this.heap.update(handle);
  }

  /** The lowest spread penalty any queued pool could still have, given the chosen replicas. */
  minPenalty(spread: SpreadTracker): number {
    if (this.#zones.size > countIn(spread.zones, this.#zones)) return SpreadPenalty.NewZone;
    if (this.#groups.size > countIn(spread.groups, this.#groups)) return SpreadPenalty.NewGroup;
    return SpreadPenalty.NewNode;
  }

  #read(handle: BucketHandle<E>): void {
    const top = handle.bucket.heap.peek();
    handle.key = top === undefined ? Number.POSITIVE_INFINITY : top.key;
    handle.id = top === undefined ? '' : top.id;
    const nonEmpty = top !== undefined;
    if (nonEmpty !== handle.nonEmpty) {
      handle.nonEmpty = nonEmpty;
      const d = nonEmpty ? 1 : -1;
      bump(this.#zones, handle.bucket.domains.zone, d);
      bump(this.#groups, handle.bucket.domains.group, d);
    }
  }
}

function bump(counts: Map<string, number>, key: string, d: number): void {
  const n = (counts.get(key) ?? 0) + d;
  if (n === 0) counts.delete(key);
  else counts.set(key, n);
}

function countIn(chosen: ReadonlySet<string>, counts: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const c of chosen) if (counts.has(c)) n++;
  return n;
}
