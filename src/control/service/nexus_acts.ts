import type { EngineApi, EngineNexus, ExportChap, NexusReplicaRef } from '../engine_client/engine_client_types.ts';
import { SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import { NoInSyncReplicaError, VolumeNotReadyError } from './service_errors.ts';
import { replicasOf, splitPoolId, type StoredReplica, type StoredVolume, type VolumeOp } from './service_records.ts';
import type { SealedChap } from './chap_seal.ts';
import { chapField, exportChapOf, exportHasChap } from './export_chap.ts';

/**
 * The data-plane steps of a replicated volume's nexus ("act" in the intent log): build
 * an incarnation over the replicas and export it, tear it down, reach a replica from it.
 * The REST path, the pending-intent reconciler and the nexus reconcilers share them, and
 * each is idempotent, so an operation a crash cut short is finished the same way.
 */

type PublishNexusOp = Extract<VolumeOp, { type: 'publish-nexus' }>;
type MoveNexusOp = Extract<VolumeOp, { type: 'move-nexus' }>;

/** Engine nexus names follow the volume id (a UUID fits the engine's name rule). */
export function nexusNameOf(volumeId: string): string {
  return volumeId;
}

/** A replica that holds the volume's data: created, not faulted, not waiting for a rebuild. */
export function inSync(r: StoredReplica): boolean {
  return r.lifecycle === SpecLifecycle.Created && r.faulted === undefined && r.awaitingRebuild !== true;
}

/**
 * Where the nexus runs: on the publishing node when it holds an in-sync replica (that
 * replica is then read and written without the network), else on the first online node,
 * by id, holding one; none when no in-sync replica is reachable.
 */
export function chooseNexusNode(ctx: ServiceContext, replicas: readonly StoredReplica[], preferred: string | undefined, avoid?: string): string | undefined {
  const candidates = replicas.filter((r) => inSync(r) && r.nodeId !== avoid && ctx.nodeOnline(r.nodeId)).map((r) => r.nodeId).sort();
  if (preferred !== undefined && candidates.includes(preferred)) return preferred;
  return candidates[0];
}

/** How the nexus on `nexusNodeId` reaches a replica: directly when local, else the owner's replica service. */
export async function nexusRefOf(ctx: ServiceContext, r: StoredReplica, nexusNodeId: string): Promise<NexusReplicaRef> {
  const { pool } = splitPoolId(r.poolId);
  if (r.nodeId === nexusNodeId) return { node: 'local', pool, volume: r.id };
  const { endpoint } = await (await ctx.engineOf(r.nodeId)).replicaService();
  return { node: endpoint, pool, volume: r.id };
}

/** The nexus's entry for a replica (engine names are `node/pool/volume`; replica ids are unique). */
export function nexusChildOf(nexus: EngineNexus, r: StoredReplica): EngineNexus['replicas'][number] | undefined {
  const { pool } = splitPoolId(r.poolId);
  return nexus.replicas.find((c) => c.pool === pool && c.volume === r.id);
}

/**
 * Create the incarnation `generation` of the volume's nexus on `nexusNodeId` over every
 * reachable replica — in-sync ones `online` (the engine fences each with the generation
 * before it serves), replacements `stale` (rebuilt before they serve a read) — and export
 * it to the one initiator. A nexus of the same generation left by an earlier try is
 * reused; one of another generation is an older incarnation and is replaced.
 */
export async function buildNexus(
  ctx: ServiceContext, volume: StoredVolume, op: PublishNexusOp | MoveNexusOp,
): Promise<StoredVolume> {
  const initiatorIqn = op.type === 'publish-nexus' ? op.initiatorIqn : volume.initiatorIqn;
  const targetIqn = op.type === 'publish-nexus' ? op.targetIqn : volume.target?.iqn;
  if (initiatorIqn === undefined || targetIqn === undefined) throw new VolumeNotReadyError(volume.id, 'not published');
  // A publish brings its own CHAP (sealed); a move keeps the volume's.
  const sealed = op.type === 'publish-nexus' ? op.chap : volume.chap;
  const chap = exportChapOf(ctx, volume.id, sealed);
  const { engine, name, replicas, created } = await ensureNexusIncarnation(ctx, volume, op.nexusNodeId, op.generation);
  if (created) ctx.log.info({ volume: volume.id, node: op.nexusNodeId, generation: op.generation }, 'nexus created');
  const ex = await exportNexus(engine, name, { targetIqn, initiatorIqn, chap, sealed, renew: sealed?.sealed !== volume.chap?.sealed });
  const { chap: _old, ...rest } = volume;
  return {
    ...rest,
    ...(sealed !== undefined ? { chap: sealed } : {}),
    publishedNodeId: op.type === 'publish-nexus' ? op.nodeId : volume.publishedNodeId,
    initiatorIqn,
    target: { iqn: ex.targetIqn, portal: ex.portal, url: ex.url },
    nexus: {
      id: name, volumeId: volume.id, nodeId: op.nexusNodeId, children: replicas.map((r) => r.id),
      generation: op.generation, protocol: 'iscsi', lifecycle: SpecLifecycle.Created,
    },
    nexusGeneration: Math.max(op.generation, volume.nexusGeneration ?? 0),
  };
}

/**
 * The volume's nexus incarnation `generation` on `nodeId`, over its usable replicas
 * (in-sync ones `online`, the others `stale`, rebuilt before they serve a read). A nexus
 * of that generation left by an earlier try is reused; one of another generation is an
 * older incarnation (the new one fences it anyway) and is replaced.
 */
export async function ensureNexusIncarnation(
  ctx: ServiceContext, volume: StoredVolume, nodeId: string, generation: number,
): Promise<{ engine: EngineApi; name: string; replicas: StoredReplica[]; created: boolean }> {
  const name = nexusNameOf(volume.id);
  const replicas = (await replicasOf(ctx.store, volume.id))
    .filter((r) => r.lifecycle === SpecLifecycle.Created && r.faulted === undefined && ctx.nodeOnline(r.nodeId));
  if (!replicas.some(inSync)) throw new NoInSyncReplicaError(volume.id);
  const engine = await ctx.engineOf(nodeId);
  let nexus = await engine.getNexus(name);
  if (nexus !== undefined && nexus.generation !== generation) {
    await engine.unexportNexus(name); // absent-ok, so no need to ask whether it is exported
    await engine.destroyNexus(name);
    nexus = undefined;
  }
  if (nexus !== undefined) return { engine, name, replicas, created: false };
  const refs = await Promise.all(replicas.map(async (r) => ({ ...await nexusRefOf(ctx, r, nodeId), state: inSync(r) ? 'online' as const : 'stale' as const })));
  const throttle = volume.rebuildThrottle;
  const mode = throttle?.mode ?? ctx.rebuildThrottleMode;
  await engine.createNexus({
    name, replicas: refs, sizeBytes: volume.sizeBytes, generation, requireFenced: replicas.filter(inSync).length,
    ...(mode !== undefined ? { rebuildThrottleMode: mode } : {}),
    ...(throttle?.bytesPerSec !== undefined ? { rebuildThrottleBytesPerSec: throttle.bytesPerSec } : {}),
  });
  return { engine, name, replicas, created: true };
}

/**
 * Export once, with exactly this target name, ACL and CHAP; a different export left
 * behind is redone, and so is one whose CHAP secrets changed (`renew`: a new seal).
 */
async function exportNexus(
  engine: EngineApi, name: string,
  w: { targetIqn: string; initiatorIqn: string; chap: ExportChap | undefined; sealed: SealedChap | undefined; renew: boolean },
) {
  // Listed rather than fetched by name: the export routes' pool parameter rejects the reserved pool name.
  const existing = (await engine.listExports()).find((e) => e.pool === NEXUS_EXPORT_POOL && e.volume === name);
  const same = existing !== undefined && existing.targetIqn === w.targetIqn &&
    existing.allowedInitiators?.length === 1 && existing.allowedInitiators[0] === w.initiatorIqn &&
    exportHasChap(existing, w.sealed) && !w.renew;
  if (same) return existing;
  if (existing !== undefined) await engine.unexportNexus(name);
  return await engine.exportNexus(name, { targetIqn: w.targetIqn, allowedInitiators: [w.initiatorIqn], ...chapField(w.chap) });
}

/** The engine records nexus exports under this pool name (src/engine/engine.ts NEXUS_EXPORT_POOL). */
export const NEXUS_EXPORT_POOL = '_nexus';

/**
 * Stop serving: unexport and destroy the nexus; the replicas keep their data. A nexus on
 * a node that is not online is left to that engine (its generation is fenced by the
 * next incarnation), so unpublish never waits for a dead node.
 */
export async function teardownNexus(ctx: ServiceContext, volume: StoredVolume): Promise<void> {
  const n = volume.nexus;
  if (n === undefined || !ctx.nodeOnline(n.nodeId)) return;
  const engine = await ctx.engineOf(n.nodeId);
  await engine.unexportNexus(n.id);
  await engine.destroyNexus(n.id);
  ctx.log.info({ volume: volume.id, node: n.nodeId, generation: n.generation }, 'nexus destroyed');
}
