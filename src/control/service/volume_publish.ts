import { OperationInProgressError } from '../model/intent_log.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import { INITIATOR_LABEL, IQN, NodeVolumeLimitError, attachFacts } from './attach_nodes.ts';
import type { ServiceContext } from './service_context.ts';
import { InvalidArgumentError, NoInSyncReplicaError, VolumeNotFoundError, VolumeNotReadyError, VolumePublishedError } from './service_errors.ts';
import { exportVolume, unexportVolume } from './volume_acts.ts';
import { buildNexus, chooseNexusNode } from './nexus_acts.ts';
import { endSyncNexus } from './sync_nexus_acts.ts';
import { ChapConflictError, checkChapCredentials, sameChap, type ChapCredentials, type SealedChap } from './chap_seal.ts';
import {
  PODS_PREFIX, TARGET_IQN_PREFIX, deleteSpec, listRecords, listSpecs, podKey, putSpec, readRecord, replicasOf, volumeKey,
  type PodMount, type StoredVolume,
} from './service_records.ts';


/**
 * Publishing makes a volume reachable from one node: an iSCSI export whose ACL admits
 * only that node's initiator. A single-replica volume is exported straight from the
 * engine holding its replica; a replicated one through a nexus over its replicas (on the
 * publishing node when that holds an in-sync replica), created with the next generation
 * the volume's record has issued. Also keeps the pod → volume records of podInfoOnMount.
 *
 * With `chap`, every export of the volume (the replica's or the nexus's, and any the
 * reconcilers make again later) demands it; the record keeps it sealed (chap_seal.ts).
 */
export class VolumePublishService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** Publishing again to the same node, initiator and CHAP returns the same target. */
  async publish(id: string, req: { nodeId: string; initiatorIqn?: string; chap?: ChapCredentials }): Promise<StoredVolume> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    if (req.chap !== undefined) {
      checkChapCredentials(req.chap);
      if (ctx.chap === undefined) throw new InvalidArgumentError('publishing with CHAP needs the control plane to run with --auth-token-file: its token seals the CHAP secrets in the store');
    }
    const key = volumeKey(id);
    const limited = (await attachFacts(ctx, req.nodeId)).maxVolumes !== undefined;
    const locked = async (): Promise<StoredVolume> => await ctx.locks.with(key, async () => {
      const volume = await created(ctx, id);
      // The node plugin's registration (any node, compute-only too), else an engine node's label.
      const facts = await attachFacts(ctx, req.nodeId);
      const initiatorIqn = req.initiatorIqn ?? facts.initiatorIqn;
      if (initiatorIqn === undefined) throw new InvalidArgumentError(`node ${req.nodeId} has no registered node plugin and no '${INITIATOR_LABEL}' label; give initiatorIqn`);
      if (!IQN.test(initiatorIqn)) throw new InvalidArgumentError(`initiatorIqn '${initiatorIqn.slice(0, 64)}' is not an iSCSI name`);
      // Dropping CHAP from a published volume takes an unpublish: a publish that merely lacks the secrets must not.
      if (volume.publishedNodeId !== undefined && volume.chap !== undefined && req.chap === undefined) throw new ChapConflictError(id);
      const chap = this.#seal(volume, req.chap);
      if (volume.publishedNodeId !== undefined) {
        if (volume.publishedNodeId !== req.nodeId) throw new VolumePublishedError(id, volume.publishedNodeId);
        if (volume.initiatorIqn === initiatorIqn && volume.target !== undefined && chap?.sealed === volume.chap?.sealed) return volume;
      } else if (facts.maxVolumes !== undefined) {
        await checkVolumeLimit(ctx, req.nodeId, facts.maxVolumes);
      }
      const chapOp = chap !== undefined ? { chap } : {};
      const healthy = (await replicasOf(ctx.store, id)).filter((r) => r.faulted === undefined && r.lifecycle === SpecLifecycle.Created);
      if (healthy.length === 0) throw new VolumeNotReadyError(id, 'faulted (no healthy replica)');
      const targetIqn = `${TARGET_IQN_PREFIX}${id}`;
      if (volume.replicas > 1) {
        const nexusNodeId = chooseNexusNode(ctx, healthy, req.nodeId);
        if (nexusNodeId === undefined) throw new NoInSyncReplicaError(id);
        // A republish to the same node with another initiator keeps the live incarnation.
        // A background rebuild's nexus goes first (publish wins; its generation is already
        // counted in nexusGeneration, so the new incarnation fences it); the new nexus
        // takes the unfinished replicas as stale and rebuilds them itself.
        const live = volume.nexus;
        const generation = live !== undefined && ctx.nodeOnline(live.nodeId) ? live.generation : (volume.nexusGeneration ?? 0) + 1;
        const op = { type: 'publish-nexus' as const, nodeId: req.nodeId, initiatorIqn, targetIqn, nexusNodeId: live?.generation === generation ? live.nodeId : nexusNodeId, generation, ...chapOp };
        const next = await ctx.volumes.run(key, op, async () => buildNexus(ctx, await endSyncNexus(ctx, volume), op));
        ctx.log.info({ volume: id, node: req.nodeId, nexusNode: op.nexusNodeId, generation, chap: chap !== undefined }, 'replicated volume published');
        return next as StoredVolume;
      }
      const op = { type: 'publish' as const, nodeId: req.nodeId, initiatorIqn, replicaId: healthy[0].id, targetIqn, ...chapOp };
      const next = await ctx.volumes.run(key, op, async () => exportVolume(ctx, volume, op));
      ctx.log.info({ volume: id, node: req.nodeId, chap: chap !== undefined }, 'volume published');
      return next as StoredVolume;
    });
    // A node with a volume limit takes one publish at a time, so two cannot race for its last slot.
    return limited ? await ctx.locks.with(`attach-limit/${req.nodeId}`, locked) : await locked();
  }

  /** The volume's own sealed form when the credentials are the same (so nothing is redone), else a new seal. */
  #seal(volume: StoredVolume, chap: ChapCredentials | undefined): SealedChap | undefined {
    const sealer = this.#ctx.chap;
    if (chap === undefined || sealer === undefined) return undefined;
    if (volume.chap !== undefined) {
      try {
        if (sameChap(sealer.open(volume.id, volume.chap), chap)) return volume.chap;
      } catch {
        // Sealed under a token no longer held: seal again below.
      }
    }
    return sealer.seal(volume.id, chap);
  }

  /** Not an error when the volume is not published (or published elsewhere and nodeId is given). */
  async unpublish(id: string, req: { nodeId?: string } = {}): Promise<StoredVolume> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const key = volumeKey(id);
    return await ctx.locks.with(key, async () => {
      const volume = await created(ctx, id);
      if (volume.publishedNodeId === undefined) return volume;
      if (req.nodeId !== undefined && req.nodeId !== volume.publishedNodeId) return volume;
      const next = await ctx.volumes.run(key, { type: 'unpublish' }, async () => unexportVolume(ctx, volume));
      ctx.log.info({ volume: id }, 'volume unpublished');
      return next as StoredVolume;
    });
  }

  /** Record (or refresh) that a pod mounts the volume. */
  async recordPod(volumeId: string, pod: { podUid: string; podName: string; podNamespace: string; nodeId?: string }): Promise<PodMount> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    await this.#ctxVolume(volumeId);
    const mount: PodMount = { volumeId, ...pod, recordedAtMs: ctx.now() };
    await putSpec(ctx.store, podKey(volumeId, pod.podUid), mount, ctx.fence());
    return mount;
  }

  /** Not an error when the record is already gone. */
  async forgetPod(volumeId: string, podUid: string): Promise<void> {
    await this.#ctx.requireLeader();
    await deleteSpec(this.#ctx.store, podKey(volumeId, podUid), this.#ctx.fence());
  }

  async pods(volumeId: string): Promise<PodMount[]> {
    const out: PodMount[] = [];
    for (const r of await listRecords<PodMount>(this.#ctx.store, `${PODS_PREFIX}${volumeId}/`)) if (r.record.spec !== null) out.push(r.record.spec);
    return out;
  }

  async #ctxVolume(id: string): Promise<void> {
    const r = await readRecord<StoredVolume>(this.#ctx.store, volumeKey(id));
    if (r === undefined) throw new VolumeNotFoundError(id);
  }
}

/** CSI max_volumes_per_node, enforced where the CO attaches (ControllerPublish), not only when the node stages. */
async function checkVolumeLimit(ctx: ServiceContext, nodeId: string, max: number): Promise<void> {
  const held = (await listSpecs<StoredVolume>(ctx.store, ResourceKind.Volume)).filter((v) => v.publishedNodeId === nodeId).length;
  if (held >= max) throw new NodeVolumeLimitError(nodeId, max);
}

async function created(ctx: ServiceContext, id: string): Promise<StoredVolume> {
  const r = await readRecord<StoredVolume>(ctx.store, volumeKey(id));
  if (r?.record.pending) throw new OperationInProgressError(volumeKey(id));
  const v = r?.record.spec;
  if (v == null) throw new VolumeNotFoundError(id);
  if (v.lifecycle !== SpecLifecycle.Created) throw new VolumeNotReadyError(id, v.lifecycle);
  return v;
}
