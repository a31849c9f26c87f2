/**
 * What a volume's snapshots take, as their engines measure it: for each copy (one per
 * replica the snapshot was cut on) the bytes only that snapshot holds (`exclusiveBytes`,
 * freed when it is deleted) and the bytes it has allocated, read from the copy's engine
 * (GET /v1/pools/:pool/snapshots/:id; the engine names a copy after the snapshot id). A
 * copy whose node is offline or whose engine does not report the figure says why
 * instead. The control plane keeps none of this: it is read when asked.
 */
import type { ServiceContext } from '../service/service_context.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import { ResourceKind } from '../model/spec_common.ts';
import { listSpecs, splitPoolId } from '../service/service_records.ts';

export interface SnapshotCopySpace {
  readonly replicaId: string;
  readonly poolId: string;
  readonly nodeId: string;
  /** Bytes only this snapshot holds in that pool; null when not known (see `note`). */
  readonly exclusiveBytes: number | null;
  readonly allocatedBytes: number | null;
  readonly note?: string;
}

export interface SnapshotSpace {
  readonly id: string;
  readonly name: string;
  readonly sizeBytes: number;
  readonly copies: readonly SnapshotCopySpace[];
}

/** GET a path of an engine's API as JSON (with the cluster token). */
export type EngineGet = (endpoint: string, path: string) => Promise<unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export async function snapshotSpace(ctx: ServiceContext, volumeId: string, get: EngineGet): Promise<SnapshotSpace[]> {
  const snapshots = (await listSpecs<SnapshotSpec>(ctx.store, ResourceKind.Snapshot)).filter((s) => s.volumeId === volumeId);
  return Promise.all(snapshots.map(async (s) => ({
    id: s.id, name: s.name, sizeBytes: s.sizeBytes,
    copies: await Promise.all(s.replicaSnapshots.map(async (c): Promise<SnapshotCopySpace> => {
      const { nodeId, pool } = splitPoolId(c.poolId);
      const base = { replicaId: c.replicaId, poolId: c.poolId, nodeId };
      if (!ctx.nodeOnline(nodeId)) return { ...base, exclusiveBytes: null, allocatedBytes: null, note: `node ${nodeId} is not online` };
      try {
        const endpoint = (await ctx.node(nodeId)).endpoint;
        const info = (await get(endpoint, `/v1/pools/${encodeURIComponent(pool)}/snapshots/${encodeURIComponent(s.id)}`)) as Record<string, unknown>;
        const exclusiveBytes = num(info.exclusiveBytes);
        return {
          ...base, exclusiveBytes, allocatedBytes: num(info.allocatedBytes),
          ...(exclusiveBytes === null ? { note: `the engine on ${nodeId} does not report exclusiveBytes` } : {}),
        };
      } catch (err) {
        return { ...base, exclusiveBytes: null, allocatedBytes: null, note: `cannot read the copy from ${nodeId}: ${(err as Error).message}` };
      }
    })),
  })));
}
