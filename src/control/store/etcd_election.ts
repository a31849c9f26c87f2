import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdRequestError, GrpcCode, b64, int, unb64, type EtcdClient } from './etcd_client.ts';
import { StoreUnavailableError } from './store_errors.ts';
import { grantLease, keepAliveOnce, revokeLease, type Lease } from './etcd_lease.ts';
import type { Fence } from './store.ts';

/**
 * Leader election on an etcd lease. The leader holds one key bound to its lease; the
 * key is created only if absent (a transaction on create_revision = 0), so one candidate
 * wins. The leader keeps the lease alive every TTL/3; if its process dies or is cut off,
 * the lease expires after the TTL, etcd deletes the key, and a waiting candidate's next
 * attempt wins. Writes carry `fence` so a deposed leader's late writes are refused.
 */
export interface ElectionOptions {
  readonly client: EtcdClient;
  /** The election key, e.g. `berth/control/leader`. */
  readonly key: string;
  /** This candidate's identity, stored as the key's value (shown to operators). */
  readonly candidate: string;
  /** Lease TTL in seconds; etcd raises values below its minimum (about 2 s by default). */
  readonly ttlSeconds?: number;
  /** How often a waiting candidate tries again, in ms (default: a third of the TTL). */
  readonly retryMs?: number;
  /** Called once when leadership ends without `resign` (lease expired or unreachable). */
  readonly onLost?: (reason: string) => void;
}

export interface Leadership {
  readonly candidate: string;
  readonly leaseId: string;
  readonly fence: Fence;
}

interface TxnAnswer {
  header?: { revision?: string };
  succeeded?: boolean;
}

export class EtcdElection {
  readonly #o: ElectionOptions;
  readonly #ttl: number;
  #lease: Lease | undefined;
  #leadership: Leadership | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRenewal = 0;
  #closed = false;

  constructor(options: ElectionOptions) {
    this.#o = options;
    this.#ttl = options.ttlSeconds ?? 5;
  }

  get leadership(): Leadership | undefined {
    return this.#leadership;
  }

  /**
   * Resolves when this candidate leads. Keeps trying through etcd outages; rejects only
   * when aborted (its lease is then revoked) or resigned meanwhile.
   */
  async campaign(signal?: AbortSignal): Promise<Leadership> {
    this.#closed = false;
    try {
      while (true) {
        signal?.throwIfAborted();
        if (this.#closed) throw new Error('election resigned');
        const won = await this.#attempt();
        if (won !== undefined) return won;
        await sleep(this.#o.retryMs ?? Math.max(100, (this.#ttl * 1000) / 3), undefined, { signal });
      }
    } catch (err) {
      if (signal?.aborted === true) await this.resign().catch(() => undefined);
      throw err;
    }
  }

  /** One try: create the key bound to our lease if nobody holds it. */
  async #attempt(): Promise<Leadership | undefined> {
    try {
      const lease = this.#lease ?? await this.#grant();
      const key = b64(this.#o.key);
      const r = await this.#o.client.call<TxnAnswer>('/v3/kv/txn', {
        compare: [{ key, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
        success: [{ request_put: { key, value: b64(this.#o.candidate), lease: lease.id } }],
      });
      if (r.succeeded !== true || this.#lease !== lease) return undefined;
      const createRevision = int(r.header?.revision);
      this.#leadership = { candidate: this.#o.candidate, leaseId: lease.id, fence: { key: this.#o.key, createRevision } };
      return this.#leadership;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      // Our lease expired while we waited: take a fresh one next time.
      if (err instanceof EtcdRequestError && err.grpcCode === GrpcCode.NotFound) this.#stop();
      return undefined;
    }
  }

  /** Who leads now, as stored in the election key. */
  async leader(): Promise<{ candidate: string; createRevision: number } | undefined> {
    const r = await this.#o.client.call<{ kvs?: Array<{ value?: string; create_revision?: string }> }>(
      '/v3/kv/range', { key: b64(this.#o.key) });
    const kv = r.kvs?.[0];
    return kv === undefined ? undefined : { candidate: unb64(kv.value), createRevision: int(kv.create_revision) };
  }

  /** Step down (or stop campaigning): revoking the lease deletes the key at once. */
  async resign(): Promise<void> {
    this.#closed = true;
    const lease = this.#lease;
    this.#stop();
    this.#leadership = undefined;
    if (lease !== undefined) await revokeLease(this.#o.client, lease.id);
  }

  async #grant(): Promise<Lease> {
    const lease = await grantLease(this.#o.client, this.#ttl);
    this.#lease = lease;
    this.#lastRenewal = Date.now();
    this.#schedule(lease);
    return lease;
  }

  #schedule(lease: Lease): void {
    const every = Math.max(100, (lease.ttlSeconds * 1000) / 3);
    this.#timer = setTimeout(() => { void this.#renew(lease); }, every);
  }

  async #renew(lease: Lease): Promise<void> {
    if (this.#lease !== lease) return;
    try {
      const left = await keepAliveOnce(this.#o.client, lease.id);
      if (this.#lease !== lease) return;
      if (left <= 0) { this.#lose('lease expired'); return; }
      this.#lastRenewal = Date.now();
    } catch {
      if (this.#lease !== lease) return;
      // Unreachable for a whole TTL means the lease may have expired: assume it has.
      if (Date.now() - this.#lastRenewal >= lease.ttlSeconds * 1000) { this.#lose('etcd unreachable for a lease TTL'); return; }
    }
    this.#schedule(lease);
  }

  #lose(reason: string): void {
    const wasLeader = this.#leadership !== undefined;
    this.#stop();
    this.#leadership = undefined;
    if (wasLeader) this.#o.onLost?.(reason);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lease = undefined;
  }
}
