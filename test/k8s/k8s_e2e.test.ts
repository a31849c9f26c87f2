/**
 * Berth in a real Kubernetes cluster (`npm run e2e:k8s`): the lab of ../shared/k8s-lab
 * (v1.26, the kubernetes-csi sidecars built from source), Berth's image built offline by
 * scripts/build-image.sh, deploy/ applied as shipped through test/k8s/overlay (images,
 * pull policy and the lab's missing Service routing only). Then, as a user would:
 *   PVC → pod writes a checksum → a new pod reads it → xfs online expansion → raw block
 *   → snapshot → restore → clone → a 2-replica class (a storage-only engine runs outside
 *   the cluster as a host process) → the shipped 3-replica class (a second one) → a
 *   volume on a storage-only engine → the same with the cluster node's engine removed
 *   (a compute-only node) → a zone-strict class → `kubectl berth bench --class` (fio and
 *   pgbench Jobs, deploy/bench's image) → delete everything,
 * and nothing may be left: PVs, VolumeAttachments, Berth volumes and snapshots, loop
 * devices, mounts, daemons. Without a running lab it skips, loudly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_IMAGE, BERTH_IMAGE, KUBECONFIG, buildAndImportBench, buildAndImportBerth, importSidecars, kubectl, kubectlJson, labProblem, until } from './lab_kit.ts';
import { repoRoot, run } from '../helpers/tools.ts';
import { BLOCK_ROUND_TRIP, READ_CHECKSUM, WRITE_CHECKSUM, claim, pod, snapshot, storageClass } from './k8s_objects.ts';
import { LOCAL_ATTACH, LabBerth, apply, berthAttachments, berthPVs, daemonSetReady, engineWorkers, hostLeftovers } from './lab_berth.ts';

const GiB = 2 ** 30;
const problem = await labProblem();
const started = Date.now();
const log = (line: string): void => {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

if (problem !== undefined) {
  const bar = '!'.repeat(78);
  process.stdout.write(`${bar}\n!! e2e:k8s SKIPPED: no lab cluster is running — ${problem}\n!! Start one with ../shared/k8s-lab/up.sh (docs/kubernetes.md), then npm run e2e:k8s\n${bar}\n`);
}

interface PodStatus { status: { phase: string } }
interface Claim { spec: { volumeName?: string }; status: { phase: string; capacity?: { storage: string } } }
interface CpVolume { id: string; name: string; status: string; replicaStates: { nodeId: string; status: string }[] }

describe('Berth on the lab Kubernetes cluster', { skip: problem !== undefined, timeout: 3_600_000 }, () => {
  const lab = new LabBerth();
  const ns = `berth-e2e-${process.pid}`;
  const storageNode = `lab-storage-${process.pid}`;
  const cls = (name: string): string => `berth-e2e-${name}-${process.pid}`;

  /** Runs a pod to completion and returns its log; a failed pod fails with its log and events. */
  async function runPod(name: string, claimName: string, script: string, o: { block?: boolean } = {}): Promise<string> {
    await apply(pod(ns, name, claimName, script, o));
    const phase = await until(`pod ${name} to finish`, async () => {
      const p = await kubectlJson<PodStatus>(['-n', ns, 'get', 'pod', name]);
      return ['Succeeded', 'Failed'].includes(p.status.phase) ? p.status.phase : undefined;
    }, 600_000).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${(await kubectl(['-n', ns, 'describe', 'pod', name], { check: false })).stdout.slice(-3000)}`);
    });
    const out = (await kubectl(['-n', ns, 'logs', name], { check: false })).stdout.trim();
    assert.equal(phase, 'Succeeded', `pod ${name}: ${out}`);
    await kubectl(['-n', ns, 'delete', 'pod', name, '--wait=true']);
    log(`pod ${name}: ${out.split('\n').join(' | ')}`);
    return out;
  }

  async function boundVolume(claimName: string): Promise<CpVolume> {
    const c = await kubectlJson<Claim>(['-n', ns, 'get', 'pvc', claimName]);
    assert.equal(c.status.phase, 'Bound');
    const pv = await kubectlJson<{ spec: { csi: { volumeHandle: string } } }>(['get', 'pv', c.spec.volumeName ?? '']);
    return await lab.api<CpVolume>('GET', `/v1/volumes/${encodeURIComponent(pv.spec.csi.volumeHandle)}`);
  }

  before(async () => {
    log(`lab cluster answers; building ${BERTH_IMAGE} with scripts/build-image.sh`);
    await buildAndImportBerth(log);
    await importSidecars(log);
    await lab.startSnapshotSupport();
    await lab.deploy(log);
    log(`deploy/ applied and rolled out on node ${lab.node}`);
    await lab.pool(lab.node, 'lab', 8 * GiB);
    await lab.storageEngine(storageNode, 'lab-z2');
    await lab.pool(storageNode, 'store', 8 * GiB);
    log(`pools online: ${lab.node}/lab (in-cluster engine), ${storageNode}/store (host process, zone lab-z2)`);
    await kubectl(['create', 'namespace', ns]);
  });

  // Undoes whatever this run started, however far `before` or the tests got (idempotent).
  after(async () => {
    await lab.teardown(ns, log);
  });

  it('PVC → pod writes a checksum → a recreated pod reads it (berth-single, ext4)', async () => {
    await apply(claim(ns, 'data', { storageClass: 'berth-single', size: '256Mi' }));
    const written = await runPod('writer', 'data', WRITE_CHECKSUM);
    const read = await runPod('reader', 'data', READ_CHECKSUM);
    assert.match(read, /\/data\/blob: OK/);
    assert.equal(read.split('\n')[0], written.split('\n').at(-1));
    const v = await boundVolume('data');
    log(`volume ${v.id}: ${v.replicaStates.length} replica(s) on ${v.replicaStates.map((r) => r.nodeId).join(', ')}`);
  });

  // This deployment's local attaches only: other suites on the machine mount fuse.berth files too.
  const fuse = (): string[] => readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => / fuse\.berth /.test(l) && /csi\.berth\.io\/local\//.test(l));

  /** A pod writing 64 KiB files with fsync in a loop on a berth-single volume staged through a local attach; returns its FUSE mount line. */
  async function keptWriter(name: string): Promise<string[]> {
    await apply(claim(ns, name, { storageClass: 'berth-single', size: '256Mi' }));
    const script = 'n=0; while [ ! -f /data/stop ]; do dd if=/dev/urandom of=/data/w$((n % 16)) bs=64k count=1 conv=fsync 2>/dev/null'
      + ' || { echo "write $n failed"; exit 1; }; n=$((n+1)); done; sync; echo "$n fsynced writes, none failed"';
    await apply(pod(ns, name, name, script));
    await until('the writer running on a local attach', async () => {
      const p = await kubectlJson<PodStatus>(['-n', ns, 'get', 'pod', name]);
      return p.status.phase === 'Running' && fuse().length > 0 ? true : undefined;
    }, 300_000);
    await until('writes under way', async () => ((await kubectl(['-n', ns, 'exec', name, '--', 'ls', '/data/w3'], { check: false })).code === 0 ? true : undefined), 120_000);
    const mounted = fuse();
    assert.equal(mounted.length, 1, 'the writer\'s volume is staged through a local attach');
    return mounted;
  }

  /** Stops the writer through its mount (so the current worker serves it) and checks that no write failed. */
  async function stopKeptWriter(name: string): Promise<string> {
    await kubectl(['-n', ns, 'exec', name, '--', 'touch', '/data/stop'], { timeoutMs: 180_000 });
    const phase = await until('the writer to finish', async () => {
      const p = await kubectlJson<PodStatus>(['-n', ns, 'get', 'pod', name]);
      return ['Succeeded', 'Failed'].includes(p.status.phase) ? p.status.phase : undefined;
    }, 300_000);
    const out = (await kubectl(['-n', ns, 'logs', name], { check: false })).stdout.trim();
    assert.equal(phase, 'Succeeded', out);
    assert.match(out, /fsynced writes, none failed/);
    await kubectl(['-n', ns, 'delete', 'pod', name, '--wait=true']);
    await kubectl(['-n', ns, 'delete', 'pvc', name, '--wait=true']);
    return out;
  }

  it('local attach: a pod\'s fsynced writes ride through a kill -9 of the engine worker (its FUSE keeper holds the mount)', {
    skip: LOCAL_ATTACH ? false : 'runs with BERTH_E2E_OVERLAY=local-attach',
  }, async () => {
    const mounted = await keptWriter('kept');
    const [worker, ...more] = engineWorkers();
    assert.ok(worker !== undefined && more.length === 0, `one engine worker under its keeper, found ${[worker, ...more].join(', ')}`);
    process.kill(worker, 'SIGKILL');
    log(`killed engine worker ${worker} (SIGKILL) under the writer`);
    const next = await until('the next engine worker', async () => {
      const w = engineWorkers();
      return w.length === 1 && w[0] !== worker ? w[0] : undefined;
    }, 180_000);
    // Checked while the pod still holds the volume: once it ends, the volume is unstaged.
    assert.deepEqual(fuse(), mounted, 'the same FUSE mount, never remounted');
    log(`worker ${next} took over: ${await stopKeptWriter('kept')}`);
  });

  it('local attach: an engine upgrade through berth-engine-code, then SIGHUP, hand the worker over in place under a pod\'s fsynced writes', {
    skip: LOCAL_ATTACH ? false : 'runs with BERTH_E2E_OVERLAY=local-attach',
  }, async () => {
    const code = '/var/lib/berth/engine-code';
    const workerCode = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((a) => a.endsWith('src/engine/main.ts')) ?? '';
    // berth-engine-code installed the image's tree, and the keeper runs its worker from it.
    const installed = await until('the worker running the installed tree', async () => {
      const w = engineWorkers();
      const tree = existsSync(`${code}/current`) ? realpathSync(`${code}/current`) : undefined;
      return w.length === 1 && tree !== undefined && workerCode(w[0]!) === `${tree}/src/engine/main.ts` ? { pid: w[0]!, tree } : undefined;
    }, 300_000);
    const mounted = await keptWriter('upgraded');
    // The installer run again on the same image (a restarted pod): the same content, so no handover.
    await kubectl(['-n', 'berth-system', 'rollout', 'restart', 'daemonset/berth-engine-code']);
    await kubectl(['-n', 'berth-system', 'rollout', 'status', 'daemonset/berth-engine-code', '--timeout=300s'], { timeoutMs: 320_000 });
    assert.deepEqual(engineWorkers(), [installed.pid], 'the same content installed again hands nothing over');
    // A new release, as its installer lays it down: another tree, then `current` switched in one rename.
    const next = `${code}/e2e-next-${process.pid}`;
    await run('cp', ['-a', installed.tree, next], { timeoutMs: 300_000 });
    await run('sh', ['-c', `echo e2e > ${next}/RELEASE && ln -s ${next} ${code}/.current-e2e && mv -T ${code}/.current-e2e ${code}/current`]);
    const upgraded = await until('a worker from the new tree', async () => {
      const w = engineWorkers();
      return w.length === 1 && w[0] !== installed.pid && workerCode(w[0]!) === `${next}/src/engine/main.ts` ? w[0] : undefined;
    }, 180_000);
    log(`engine worker ${installed.pid} handed over to ${upgraded} running ${next}`);
    // A fresh worker of the same tree, as docs/security.md rotates the token: SIGHUP to the pod's PID 1 (tini), passed on to the keeper.
    const enginePod = (await kubectl(['-n', 'berth-system', 'get', 'pod', '-l', 'app.kubernetes.io/component=engine', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout.trim();
    await kubectl(['-n', 'berth-system', 'exec', enginePod, '-c', 'engine', '--', 'sh', '-c', 'kill -HUP 1']);
    const refreshed = await until('a fresh worker after SIGHUP', async () => {
      const w = engineWorkers();
      return w.length === 1 && w[0] !== upgraded && workerCode(w[0]!) === `${next}/src/engine/main.ts` ? w[0] : undefined;
    }, 180_000);
    log(`SIGHUP through tini: worker ${upgraded} handed over to ${refreshed}`);
    assert.deepEqual(fuse(), mounted, 'the same FUSE mount, never remounted');
    log(`after the upgrade: ${await stopKeptWriter('upgraded')}`);
  });

  it('grows an xfs volume online (berth-xfs is 2 replicas; xfs_growfs while the pod runs)', async () => {
    await apply(claim(ns, 'grow', { storageClass: 'berth-xfs', size: '512Mi' }));
    await apply(pod(ns, 'grower', 'grow', 'set -e; df -k /data; while [ ! -f /data/stop ]; do sleep 1; done; df -k /data'));
    await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/grower', '--timeout=600s'], { timeoutMs: 620_000 });
    const sizeKiB = async () => Number((await kubectl(['-n', ns, 'exec', 'grower', '--', 'df', '-k', '/data'])).stdout.trim().split('\n').at(-1)?.split(/\s+/)[1]);
    const before = await sizeKiB();
    await kubectl(['-n', ns, 'patch', 'pvc', 'grow', '--type=merge', '-p', '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}']);
    const grown = await until('the filesystem to grow', async () => {
      const now = await sizeKiB();
      return now > before * 1.5 ? now : undefined;
    }, 600_000);
    const c = await until('PVC capacity 1Gi', async () => {
      const got = await kubectlJson<Claim>(['-n', ns, 'get', 'pvc', 'grow']);
      return got.status.capacity?.storage === '1Gi' ? got : undefined;
    }, 300_000);
    assert.equal(c.status.capacity?.storage, '1Gi');
    await kubectl(['-n', ns, 'exec', 'grower', '--', 'touch', '/data/stop']);
    await kubectl(['-n', ns, 'delete', 'pod', 'grower', '--wait=true']);
    log(`xfs grew online from ${before} KiB to ${grown} KiB`);
  });

  it('raw block PVC: bytes written to the device read back the same', async () => {
    await apply(claim(ns, 'raw', { storageClass: 'berth-single', size: '64Mi', block: true }));
    const out = await runPod('blocker', 'raw', BLOCK_ROUND_TRIP, { block: true });
    assert.match(out, /read back identical/);
  });

  it('snapshot → restore → clone: both new volumes hold the original checksum', async () => {
    await apply(snapshot(ns, 'snap', 'data'));
    await until('snapshot readyToUse', async () => {
      const s = await kubectlJson<{ status?: { readyToUse?: boolean } }>(['-n', ns, 'get', 'volumesnapshot', 'snap']);
      return s.status?.readyToUse === true ? true : undefined;
    }, 300_000);
    log('snapshot snap is readyToUse');
    await apply(claim(ns, 'restored', { storageClass: 'berth-single', size: '256Mi', from: { kind: 'VolumeSnapshot', name: 'snap' } }));
    assert.match(await runPod('restore-reader', 'restored', READ_CHECKSUM), /\/data\/blob: OK/);
    await apply(claim(ns, 'cloned', { storageClass: 'berth-single', size: '256Mi', from: { kind: 'PersistentVolumeClaim', name: 'data' } }));
    assert.match(await runPod('clone-reader', 'cloned', READ_CHECKSUM), /\/data\/blob: OK/);
  });

  it('a 2-replica class: replicas on the cluster node and the storage-only host engine, data round trip', async () => {
    await apply(storageClass(cls('2r'), { replicas: '2', thin: 'true', spreadStrict: 'true', 'csi.storage.k8s.io/fstype': 'ext4' }));
    await apply(claim(ns, 'mirrored', { storageClass: cls('2r'), size: '256Mi' }));
    await runPod('mirror-writer', 'mirrored', WRITE_CHECKSUM);
    assert.match(await runPod('mirror-reader', 'mirrored', READ_CHECKSUM), /\/data\/blob: OK/);
    const v = await boundVolume('mirrored');
    assert.deepEqual(v.replicaStates.map((r) => r.nodeId).sort(), [lab.node, storageNode].sort());
    log(`volume ${v.id}: replicas on ${v.replicaStates.map((r) => `${r.nodeId} (${r.status})`).join(', ')}`);
  });

  it('the shipped berth-replicated-ssd class: 3 thick replicas in 3 zones (a second storage-only engine), CHAP Secret named', async () => {
    const third = `lab-storage-b-${process.pid}`;
    await lab.storageEngine(third, 'lab-z3');
    await lab.pool(third, 'store', 8 * GiB);
    await apply(claim(ns, 'triple', { storageClass: 'berth-replicated-ssd', size: '128Mi' }));
    await runPod('triple-writer', 'triple', WRITE_CHECKSUM);
    assert.match(await runPod('triple-reader', 'triple', READ_CHECKSUM), /\/data\/blob: OK/);
    const v = await boundVolume('triple');
    assert.deepEqual(v.replicaStates.map((r) => r.nodeId).sort(), [lab.node, storageNode, third].sort());
    log(`volume ${v.id}: replicas on ${v.replicaStates.map((r) => `${r.nodeId} (${r.status})`).join(', ')}`);
  });

  it('a volume whose only replica is on the storage-only engine attaches to the compute node', async () => {
    await apply(storageClass(cls('remote'), { replicas: '1', storageGroup: storageNode, 'csi.storage.k8s.io/fstype': 'ext4' }));
    await apply(claim(ns, 'remote', { storageClass: cls('remote'), size: '128Mi' }));
    await runPod('remote-writer', 'remote', WRITE_CHECKSUM);
    assert.match(await runPod('remote-reader', 'remote', READ_CHECKSUM), /\/data\/blob: OK/);
    const v = await boundVolume('remote');
    assert.deepEqual(v.replicaStates.map((r) => r.nodeId), [storageNode]);
    // Issue 11: the PV once got the replica's zone as node affinity, and the pod's node was refused.
    const c = await kubectlJson<Claim>(['-n', ns, 'get', 'pvc', 'remote']);
    const affinity = JSON.stringify((await kubectlJson<{ spec: { nodeAffinity?: unknown } }>(['get', 'pv', c.spec.volumeName ?? ''])).spec.nodeAffinity ?? {});
    assert.doesNotMatch(affinity, /lab-z2/, 'an iSCSI volume is attachable from every node');
    log(`volume ${v.id}: its one replica on ${storageNode} (zone lab-z2), used from ${lab.node}; PV node affinity ${affinity}`);
  });

  it('a compute-only node: with the cluster node\'s engine gone, a volume on the storage-only engine serves its pod', async () => {
    await kubectl(['label', 'node', lab.node, 'berth.io/engine-']);
    await until('the engine pod to go', async () => {
      const pods = await kubectlJson<{ items: unknown[] }>(['-n', 'berth-system', 'get', 'pods', '-l', 'app.kubernetes.io/component=engine']);
      return pods.items.length === 0 ? true : undefined;
    }, 300_000);
    log(`${lab.node} runs no engine now (label berth.io/engine removed, engine pod gone)`);
    await apply(claim(ns, 'compute-only', { storageClass: cls('remote'), size: '128Mi' }));
    await runPod('co-writer', 'compute-only', WRITE_CHECKSUM);
    assert.match(await runPod('co-reader', 'compute-only', READ_CHECKSUM), /\/data\/blob: OK/);
    const v = await boundVolume('compute-only');
    assert.deepEqual(v.replicaStates.map((r) => r.nodeId), [storageNode]);
    // The engine comes back on its host data dir (pools re-imported) for the deletes below.
    await kubectl(['label', 'node', lab.node, 'berth.io/engine=true']);
    await daemonSetReady('berth-engine');
    await lab.nodeOnline(lab.node);
    log(`compute-only attach served ${v.id}; the engine on ${lab.node} is back online`);
  });

  it('a zone-strict class (locality: zone) places the replica in the pod\'s zone', async () => {
    await apply(storageClass(cls('zone'), { replicas: '1', locality: 'zone', 'csi.storage.k8s.io/fstype': 'ext4' }));
    await apply(claim(ns, 'zonal', { storageClass: cls('zone'), size: '128Mi' }));
    assert.match(await runPod('zonal-writer', 'zonal', WRITE_CHECKSUM), /blob/);
    const v = await boundVolume('zonal');
    assert.deepEqual(v.replicaStates.map((r) => r.nodeId), [lab.node], 'the pod runs in zone "default"; the host engine is in lab-z2');
    const c = await kubectlJson<Claim>(['-n', ns, 'get', 'pvc', 'zonal']);
    const affinity = JSON.stringify((await kubectlJson<{ spec: { nodeAffinity?: unknown } }>(['get', 'pv', c.spec.volumeName ?? ''])).spec.nodeAffinity ?? {});
    assert.match(affinity, /topology\.berth\.io\/zone.*default/, `the volume is attachable in its zone only: ${affinity}`);
    log(`zone-strict volume ${v.id} on ${lab.node}; PV node affinity ${affinity}`);
  });

  it('kubectl berth bench --class berth-single --quick: fio and pgbench Jobs on Berth and hostPath, a ratio table, nothing left', async () => {
    await buildAndImportBench(log);
    const hostDir = `/var/tmp/berth-e2e-bench-${process.pid}`;
    const r = await run(join(repoRoot, 'bin', 'kubectl-berth'), ['-n', ns, 'bench', '--class', 'berth-single', '--quick', '--image', BENCH_IMAGE, '--host-dir', hostDir], {
      env: { ...process.env, KUBECONFIG }, check: false, timeoutMs: 2_400_000,
    });
    rmSync(hostDir, { recursive: true, force: true });
    log(`kubectl berth bench:\n${r.stdout}`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(-3000)}`);
    const lines = r.stdout.split('\n');
    assert.ok(lines.some((l) => /│ Workload\s+│ Berth\s+│ Local\s+│ Berth\/local │/.test(l)), 'both columns and the ratio');
    for (const row of ['4k randread QD32', '4k randwrite QD32', '1M seq read QD8', '1M seq write QD8', 'pgbench TPC-B-like', 'pgbench select-only']) {
      const line = lines.find((l) => l.includes(row));
      assert.match(line ?? '', /│ \d+\.\d\d×\s+│$/, `a numeric ratio for ${row}: ${line}`);
    }
    const left = await kubectlJson<{ items: unknown[] }>(['-n', ns, 'get', 'jobs,pvc,pods', '-l', 'app.kubernetes.io/managed-by=kubectl-berth-bench']);
    assert.deepEqual(left.items, [], 'the bench removed its Jobs, pods and PVC');
  });

  it('deleting everything leaves no PV, VolumeAttachment, Berth volume, snapshot, loop device, mount or daemon', async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=600s'], { timeoutMs: 620_000 });
    await kubectl(['delete', 'storageclass', '-l', 'berth.io/e2e=true']);
    await until('no Berth PV', async () => ((await berthPVs()).length === 0 ? true : undefined), 600_000);
    await until('no Berth VolumeAttachment', async () => ((await berthAttachments()).length === 0 ? true : undefined), 300_000);
    const volumes = await until('no Berth volume', async () => {
      const list = await lab.api<{ volumes: CpVolume[] }>('GET', '/v1/volumes');
      return list.volumes.length === 0 ? list.volumes : undefined;
    }, 300_000);
    assert.deepEqual(volumes, []);
    assert.deepEqual((await lab.api<{ snapshots: unknown[] }>('GET', '/v1/snapshots')).snapshots, []);
    await lab.teardown(undefined, log);
    const left = await until('the host to be clean', async () => {
      const l = await hostLeftovers();
      return l.length === 0 ? l : undefined;
    }, 120_000).catch(async () => await hostLeftovers());
    assert.deepEqual(left, []);
    const ds = await kubectl(['get', 'csinode', lab.node, '-o', 'jsonpath={.spec.drivers[*].name}']);
    assert.doesNotMatch(ds.stdout, /csi\.berth\.io/, 'the node plugin unregistered');
    const labels = (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(['get', 'node', lab.node])).metadata.labels;
    assert.deepEqual(Object.keys(labels).filter((k) => k.includes('berth.io')), [], 'no Berth label left on the node');
    log('nothing left: no PV, VolumeAttachment, Berth volume or snapshot, loop device, mount, daemon or socket');
  });
});
