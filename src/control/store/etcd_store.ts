import { EtcdClient, b64, b64Bytes, etcdPrefixEnd, int, unb64, type EtcdClientOptions } from './etcd_client.ts';
import { StoreConflictError, StoreFencedError } from './store_errors.ts';
import { checkKey, checkList, checkPut, checkRevision, compareKeys } from './store_keys.ts';
import type { DeleteOptions, Fence, KeyValue, ListOptions, ListResult, PutOptions, Store } from './store.ts';

/** mvccpb.KeyValue as the gateway prints it. */
interface RawKv {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
}

interface Header {
  revision?: string;
}

interface RangeResponse {
  header?: Header;
  kvs?: RawKv[];
  more?: boolean;
}

interface TxnResponse {
  header?: Header;
  succeeded?: boolean;
  responses?: Array<{
    response_range?: RangeResponse;
    response_delete_range?: { deleted?: string };
  }>;
}

type Compare = Record<string, string>;

/**
 * The highly available store: etcd through its JSON gateway. Compare-and-swap and
 * fences are etcd transactions, so they hold across control-plane instances.
 * `watch` is not offered yet; callers list and compare revisions instead.
 */
export class EtcdStore implements Store {
  readonly client: EtcdClient;

  constructor(options: EtcdClientOptions | { client: EtcdClient }) {
    this.client = 'client' in options ? options.client : new EtcdClient(options);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key);
    const r = await this.client.call<RangeResponse>('/v3/kv/range', { key: b64(key) });
    const raw = r.kvs?.[0];
    return raw === undefined ? undefined : toKeyValue(raw);
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<number> {
    checkPut(key, value, options);
    const put: Record<string, string> = { key: b64(key), value: b64(value) };
    if (options.lease !== undefined) put.lease = options.lease;
    if (options.ifRevision === undefined && options.fence === undefined) {
      const r = await this.client.call<{ header?: Header }>('/v3/kv/put', put);
      return int(r.header?.revision);
    }
    const r = await this.#guarded(key, options.ifRevision, options.fence, { request_put: put });
    return int(r.header?.revision);
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    checkKey(key);
    checkRevision(options.ifRevision, 'ifRevision');
    if (options.ifRevision === undefined && options.fence === undefined) {
      const r = await this.client.call<{ deleted?: string }>('/v3/kv/deleterange', { key: b64(key) });
      return int(r.deleted) > 0;
    }
    const r = await this.#guarded(key, options.ifRevision, options.fence, { request_delete_range: { key: b64(key) } });
    return int(r.responses?.[0]?.response_delete_range?.deleted) > 0;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    checkList(prefix, options);
    // etcd keys cannot be empty: the empty prefix starts at "\0", the smallest key.
    let start = prefix === '' ? '\u0000' : prefix;
    if (options.startAfter !== undefined && compareKeys(options.startAfter, start) >= 0) start = options.startAfter + '\u0000';
    const body: Record<string, unknown> = { key: b64(start), range_end: b64Bytes(etcdPrefixEnd(prefix)) };
    if (options.limit !== undefined) body.limit = options.limit;
    const r = await this.client.call<RangeResponse>('/v3/kv/range', body);
    return { items: (r.kvs ?? []).map(toKeyValue), more: r.more === true };
  }

  async close(): Promise<void> {
    // Nothing held: every call is one HTTP request.
  }

  /** One transaction: apply `op` only if the fence holds and the key is at `ifRevision`. */
  async #guarded(key: string, ifRevision: number | undefined, fence: Fence | undefined, op: unknown): Promise<TxnResponse> {
    const compare: Compare[] = [];
    const onFailure: unknown[] = [];
    if (fence !== undefined) {
      compare.push({ key: b64(fence.key), target: 'CREATE', result: 'EQUAL', create_revision: String(fence.createRevision) });
      onFailure.push({ request_range: { key: b64(fence.key) } });
    }
    if (ifRevision !== undefined) {
      compare.push({ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(ifRevision) });
    }
    onFailure.push({ request_range: { key: b64(key) } });
    const r = await this.client.call<TxnResponse>('/v3/kv/txn', { compare, success: [op], failure: onFailure });
    if (r.succeeded === true) return r;
    if (fence !== undefined) {
      const holder = r.responses?.[0]?.response_range?.kvs?.[0];
      if (holder === undefined || int(holder.create_revision) !== fence.createRevision) throw new StoreFencedError(fence.key);
    }
    const current = r.responses?.[fence === undefined ? 0 : 1]?.response_range?.kvs?.[0];
    throw new StoreConflictError(key, ifRevision ?? 0, int(current?.mod_revision));
  }
}

function toKeyValue(raw: RawKv): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: int(raw.create_revision),
    modRevision: int(raw.mod_revision),
    version: int(raw.version),
  };
}
