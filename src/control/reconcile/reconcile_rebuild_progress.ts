import type { EngineNexusReplica } from '../engine_client/engine_client_types.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { saveReplica } from '../service/replica_operations.ts';
import type { StoredReplica } from '../service/service_records.ts';

/** The engine's word for a child that is in sync and serving. */
export const CHILD_ONLINE = 'online';

/**
 * Record what a nexus says of a replica awaiting its rebuild: `online` clears the mark
 * (it is a healthy copy again and may seed the next incarnation); otherwise the rebuild's
 * progress is kept on the replica (0–1) for the API, written only when it moved.
 * Returns 1 when the replica came in sync.
 */
export async function noteRebuild(ctx: ServiceContext, r: StoredReplica, child: EngineNexusReplica, via: string): Promise<number> {
  if (child.state === CHILD_ONLINE) {
    const { awaitingRebuild: _a, rebuildProgress: _p, ...rebuilt } = r;
    await saveReplica(ctx, rebuilt);
    ctx.log.info({ volume: r.volumeId, replica: r.id, via }, 'replica rebuilt: in sync');
    return 1;
  }
  const percent = child.rebuild?.percent;
  const progress = typeof percent === 'number' ? Math.min(1, Math.max(0, percent / 100)) : undefined;
  if (progress === undefined || progress === r.rebuildProgress) return 0;
  await saveReplica(ctx, { ...r, rebuildProgress: progress });
  return 0;
}
