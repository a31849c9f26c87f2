/**
 * The desired-state store: a small ordered key-value interface with etcd's revision
 * model, so the embedded SQLite store and etcd behave the same to the control plane.
 *
 * Every write bumps one store-wide revision. A key remembers the revision that created
 * it, the revision of its last write (`modRevision`, the compare-and-swap token) and how
 * many times it was written since creation (`version`).
 */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

/**
 * A leadership fence: the write applies only while `key` still exists with this
 * create revision, so a leader that lost its lease cannot write after a successor won.
 */
export interface Fence {
  readonly key: string;
  readonly createRevision: number;
}

export interface PutOptions {
  /** Compare-and-swap: the key's modRevision must equal this; 0 means "must not exist". */
  readonly ifRevision?: number;
  readonly fence?: Fence;
  /** etcd lease id the key is bound to; the key goes when the lease expires. etcd only. */
  readonly lease?: string;
}

export interface DeleteOptions {
  /** The key's modRevision must equal this. */
  readonly ifRevision?: number;
  readonly fence?: Fence;
}

export interface ListOptions {
  /** At most this many items (default: all). */
  readonly limit?: number;
  /** Resume after this key (the last key of the previous page). */
  readonly startAfter?: string;
}

export interface ListResult {
  /** Items in key order (UTF-8 byte order, which is code point order). */
  readonly items: readonly KeyValue[];
  /** More keys under the prefix follow the last item. */
  readonly more: boolean;
}

export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KeyValue }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number };

export interface Store {
  /** The key, or undefined when it does not exist. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Write the key; returns the new store revision (= the key's modRevision). */
  put(key: string, value: string, options?: PutOptions): Promise<number>;
  /**
   * Delete the key. True when it existed; false (not an error) when it did not and no
   * `ifRevision` was given.
   */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Keys starting with `prefix` ('' lists everything). */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** Changes under `prefix` after the call; returns the function that stops watching. */
  watch?(prefix: string, listener: (event: WatchEvent) => void): () => void;
  close(): Promise<void>;
}
