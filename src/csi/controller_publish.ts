/**
 * ControllerPublishVolume and ControllerUnpublishVolume: grant or withdraw a node's
 * access to the volume's iSCSI target. The access-mode table lives in capabilities.ts.
 */
import { decidePublish, isReadOnlyMode, readCapability } from './capabilities.ts';
import { InvalidArgumentError, PublishConflictError, PublishedElsewhereError, VolumeNotFoundError } from './csi_errors.ts';
import { requireString } from './csi_wire.ts';
import type { ControllerDeps } from './controller_volumes.ts';
import type { ControllerPublishVolumeRequest } from './csi_types.ts';
import type { PublishContext } from './backend.ts';
import { chapModeOf, readChapSecrets } from './chap_secrets.ts';

/** publish_context keys the node plugin reads (node_stage.ts). */
export const PublishContextKey = {
  targetPortal: 'targetPortal',
  targetIqn: 'targetIqn',
  lun: 'lun',
  /** `oneway` or `mutual` when the volume's exports demand CHAP; absent when they do not. */
  chap: 'chap',
} as const;

export function publishContextToWire(ctx: PublishContext): Record<string, string> {
  const out: Record<string, string> = {
    [PublishContextKey.targetPortal]: ctx.targetPortal,
    [PublishContextKey.targetIqn]: ctx.targetIqn,
    [PublishContextKey.lun]: String(ctx.lun),
  };
  if (ctx.chap) out[PublishContextKey.chap] = ctx.chap;
  return out;
}

export async function controllerPublish(d: ControllerDeps, req: ControllerPublishVolumeRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const nodeId = requireString(req.node_id, 'node_id');
  const cap = readCapability(req.volume_capability, 'volume_capability');
  const readonly = req.readonly === true;
  // The StorageClass's controller-publish secret: the control plane makes every export demand it.
  const chap = readChapSecrets(req.secrets ?? {}, 'controller-publish');
  if (!readonly && isReadOnlyMode(cap.mode)) throw new InvalidArgumentError(`access mode ${cap.mode} needs readonly=true`);

  return d.locks.with([`volume:${volumeId}`], async () => {
    const v = await d.backend.getVolume(volumeId);
    if (!v) throw new VolumeNotFoundError(volumeId);
    const want = { nodeId, readonly, mode: cap.mode };
    const decision = decidePublish(v.publications, want);
    if (decision.kind === 'incompatible') throw new PublishConflictError(`volume ${volumeId}: ${decision.why}`);
    if (decision.kind === 'elsewhere') throw new PublishedElsewhereError(volumeId, decision.nodeIds);
    const ctx = await d.backend.publish(volumeId, want, chap);
    if (decision.kind === 'publish') d.log.info({ volumeId, nodeId, readonly, chap: chapModeOf(chap) ?? 'none' }, 'volume published');
    return { publish_context: publishContextToWire(ctx) };
  });
}

export async function controllerUnpublish(d: ControllerDeps, req: { volume_id: string; node_id: string }): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  return d.locks.with([`volume:${volumeId}`], async () => {
    const v = await d.backend.getVolume(volumeId);
    // A volume that is gone is unpublished everywhere: the spec's idempotent answer.
    if (!v) return {};
    // No node_id means every node, per the spec.
    const nodes = req.node_id ? [req.node_id] : v.publications.map((p) => p.nodeId);
    for (const nodeId of nodes) {
      if (!v.publications.some((p) => p.nodeId === nodeId)) continue;
      await d.backend.unpublish(volumeId, nodeId);
      d.log.info({ volumeId, nodeId }, 'volume unpublished');
    }
    return {};
  });
}
