/**
 * The Kubernetes objects the lab e2e creates: claims, pods (busybox, imported by the
 * lab's up.sh), classes and snapshots, as plain JSON for `kubectl apply`.
 */
export const BUSYBOX = 'localhost/busybox:1';

export interface ClaimOptions {
  storageClass: string;
  size: string;
  block?: boolean;
  from?: { kind: 'VolumeSnapshot' | 'PersistentVolumeClaim'; name: string };
}

export function claim(ns: string, name: string, o: ClaimOptions): object {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: ns },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: o.storageClass,
      volumeMode: o.block ? 'Block' : 'Filesystem',
      resources: { requests: { storage: o.size } },
      ...(o.from ? { dataSource: { name: o.from.name, kind: o.from.kind, ...(o.from.kind === 'VolumeSnapshot' ? { apiGroup: 'snapshot.storage.k8s.io' } : {}) } } : {}),
    },
  };
}

/** A pod that runs `script` in busybox with the claim at /data (or /dev/xvda for a block claim). */
export function pod(ns: string, name: string, claimName: string, script: string, o: { block?: boolean } = {}): object {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'c', image: BUSYBOX, imagePullPolicy: 'Never', command: ['/bin/sh', '-c', script],
        ...(o.block ? { volumeDevices: [{ name: 'v', devicePath: '/dev/xvda' }] } : { volumeMounts: [{ name: 'v', mountPath: '/data' }] }),
      }],
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName } }],
    },
  };
}

export function storageClass(name: string, parameters: Record<string, string>): object {
  return {
    apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name, labels: { 'berth.io/e2e': 'true' } },
    provisioner: 'csi.berth.io', reclaimPolicy: 'Delete', allowVolumeExpansion: true, volumeBindingMode: 'WaitForFirstConsumer',
    parameters,
  };
}

export function snapshot(ns: string, name: string, claimName: string): object {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name, namespace: ns },
    spec: { volumeSnapshotClassName: 'berth-snapshots', source: { persistentVolumeClaimName: claimName } },
  };
}

/** Writes 16 MiB of random bytes and their checksum; the checksum is printed. */
export const WRITE_CHECKSUM = 'set -e; dd if=/dev/urandom of=/data/blob bs=1M count=16 2>/dev/null; sha256sum /data/blob > /data/blob.sha256; sync; cat /data/blob.sha256';
/** Verifies the checksum a WRITE_CHECKSUM pod left (prints "/data/blob: OK"). */
export const READ_CHECKSUM = 'set -e; cat /data/blob.sha256; sha256sum -c /data/blob.sha256';
/** Raw block: writes 4 MiB at offset 1 MiB with O_SYNC-like fsync and reads them back. */
export const BLOCK_ROUND_TRIP = 'set -e; dd if=/dev/urandom of=/tmp/w bs=1M count=4 2>/dev/null; '
  + 'dd if=/tmp/w of=/dev/xvda bs=1M seek=1 conv=fsync 2>/dev/null; '
  + 'dd if=/dev/xvda of=/tmp/r bs=1M skip=1 count=4 2>/dev/null; cmp /tmp/w /tmp/r; '
  + 'echo "block device $(blockdev --getsize64 /dev/xvda) bytes: 4 MiB written and read back identical"';
