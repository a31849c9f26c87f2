/**
 * ControllerModifyVolume (MODIFY_VOLUME, Kubernetes VolumeAttributesClass): validate →
 * look up → lock → apply the mutable parameters (mutable_parameters.ts) → respond.
 */
import { VolumeNotFoundError } from './csi_errors.ts';
import type { ControllerDeps } from './controller_volumes.ts';
import type { ControllerModifyVolumeRequest } from './csi_types.ts';
import { requireString } from './csi_wire.ts';
import { parseMutableParameters } from './mutable_parameters.ts';

export async function modifyVolume(d: ControllerDeps, req: ControllerModifyVolumeRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const wanted = parseMutableParameters(req.mutable_parameters);
  return d.locks.with([`volume:${volumeId}`], async () => {
    const v = await d.backend.getVolume(volumeId);
    if (!v) throw new VolumeNotFoundError(volumeId);
    if (wanted.replicas !== undefined && wanted.replicas !== v.parameters.replicas) {
      await d.backend.modifyVolume(volumeId, { replicas: wanted.replicas });
      d.log.info({ volumeId, from: v.parameters.replicas, to: wanted.replicas }, 'replica count changed');
    }
    return {};
  });
}
