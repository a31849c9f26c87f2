/**
 * podInfoOnMount: with the CSIDriver's podInfoOnMount, kubelet passes the pod's name,
 * namespace and uid in NodePublishVolume's volume_context. The node plugin records
 * them in the control plane (PUT /v1/volumes/:id/pods/:uid) so the API shows which pod
 * uses which volume, and forgets them on NodeUnpublishVolume (whose request carries no
 * pod facts: the uid is read from kubelet's target path). Recording is best effort: a
 * control plane that is down must not keep a pod from starting or stopping.
 */
import type { Logger } from '../util/log.ts';
import type { HandlerTable, NodePublishVolumeRequest } from './csi_types.ts';
import type { PodMountInfo } from './rest_control_plane.ts';

/** volume_context keys kubelet sets when podInfoOnMount is true. */
export const PodInfoKey = {
  name: 'csi.storage.k8s.io/pod.name',
  namespace: 'csi.storage.k8s.io/pod.namespace',
  uid: 'csi.storage.k8s.io/pod.uid',
} as const;

export interface PodRecorder {
  recordPod(volumeId: string, pod: PodMountInfo): Promise<void>;
  forgetPod(volumeId: string, podUid: string): Promise<void>;
}

/** The pod facts in a NodePublishVolume request, when kubelet sent them (pure). */
export function podInfoOf(volumeContext: Readonly<Record<string, string>> | undefined, nodeId: string): PodMountInfo | undefined {
  const podUid = volumeContext?.[PodInfoKey.uid];
  const podName = volumeContext?.[PodInfoKey.name];
  const podNamespace = volumeContext?.[PodInfoKey.namespace];
  if (!podUid || !podName || !podNamespace) return undefined;
  return { podUid, podName, podNamespace, nodeId };
}

/** kubelet's target paths are …/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount (pure). */
export function podUidOfTargetPath(targetPath: string): string | undefined {
  const m = /\/pods\/([A-Za-z0-9-]{1,64})\/volumes\//.exec(targetPath);
  return m?.[1];
}

/** The node handlers with pod records added to publish and unpublish. */
export function withPodRecords(handlers: HandlerTable, recorder: PodRecorder, nodeId: string, log: Logger): HandlerTable {
  const publish = handlers.NodePublishVolume;
  const unpublish = handlers.NodeUnpublishVolume;
  return {
    ...handlers,
    NodePublishVolume: async (req) => {
      const reply = await publish(req);
      const r = req as NodePublishVolumeRequest;
      const pod = podInfoOf(r.volume_context, nodeId);
      if (pod) {
        await recorder.recordPod(r.volume_id, pod).catch((err: unknown) => {
          log.warn({ volumeId: r.volume_id, podUid: pod.podUid, err: (err as Error).message }, 'pod mount not recorded in the control plane');
        });
      }
      return reply;
    },
    NodeUnpublishVolume: async (req) => {
      const reply = await unpublish(req);
      const r = req as { volume_id: string; target_path: string };
      const podUid = podUidOfTargetPath(r.target_path ?? '');
      if (podUid) {
        await recorder.forgetPod(r.volume_id, podUid).catch((err: unknown) => {
          log.warn({ volumeId: r.volume_id, podUid, err: (err as Error).message }, 'pod mount record not removed from the control plane');
        });
      }
      return reply;
    },
  };
}
