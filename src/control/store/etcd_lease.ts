import { EtcdRequestError, GrpcCode, int, type EtcdClient } from './etcd_client.ts';

/**
 * etcd leases through the gateway. Lease ids are int64: they stay decimal strings,
 * since a JavaScript number would round them.
 */
export interface Lease {
  readonly id: string;
  /** The TTL etcd granted, in seconds (it raises requests below its minimum). */
  readonly ttlSeconds: number;
}

export async function grantLease(client: EtcdClient, ttlSeconds: number): Promise<Lease> {
  const r = await client.call<{ ID?: string; TTL?: string }>('/v3/lease/grant', { TTL: ttlSeconds });
  if (r.ID === undefined) throw new EtcdRequestError('/v3/lease/grant', -1, 'no lease id in the answer');
  return { id: r.ID, ttlSeconds: int(r.TTL) };
}

/**
 * One keep-alive. The gateway maps the streaming RPC to one request and one
 * `{"result": …}` answer. Returns the TTL left; 0 means the lease is gone.
 */
export async function keepAliveOnce(client: EtcdClient, id: string): Promise<number> {
  const r = await client.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: id });
  return int(r.result?.TTL);
}

/** Revoke the lease and with it every key bound to it; a lease already gone is fine. */
export async function revokeLease(client: EtcdClient, id: string): Promise<void> {
  try {
    await client.call('/v3/lease/revoke', { ID: id });
  } catch (err) {
    if (err instanceof EtcdRequestError && err.grpcCode === GrpcCode.NotFound) return;
    throw err;
  }
}
