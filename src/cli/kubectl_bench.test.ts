import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  benchClaim, benchJob, claimSizeFor, fioCells, jobState, parseJobLog, pgbenchCells, shQuote, type ClusterBenchPlan,
} from './kubectl_bench.ts';
import { clusterBenchOptions, type ClusterBenchFlags } from './kubectl_bench_run.ts';

const plan: ClusterBenchPlan = {
  runId: 'berth-bench-abc123', namespace: 'team-a', storageClass: 'berth-single', image: 'reg/berth-bench:1', claimSize: '1Gi',
  fileBytes: 64 * 2 ** 20, runtimeS: 3, rampS: 1, hostDir: '/var/tmp/berth-bench', fio: true, pgbench: { scale: 1, clients: 2 },
};

interface JobDoc {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    backoffLimit: number; activeDeadlineSeconds: number;
    template: { spec: { affinity?: unknown; containers: { image: string; command: string[]; volumeMounts: { mountPath: string }[] }[]; volumes: Record<string, unknown>[] } };
  };
}

test('the Berth side mounts the PVC of the class, the local side a hostPath directory; no retries, a deadline', () => {
  const claim = benchClaim(plan) as { metadata: { name: string; labels: Record<string, string> }; spec: { storageClassName: string; resources: { requests: { storage: string } } } };
  assert.equal(claim.spec.storageClassName, 'berth-single');
  assert.equal(claim.spec.resources.requests.storage, '1Gi');
  assert.equal(claim.metadata.labels['bench.berth.io/run'], plan.runId);
  const berth = benchJob(plan, 'fio', 'berth') as JobDoc;
  const local = benchJob(plan, 'fio', 'local', 'node-7') as JobDoc;
  assert.equal(berth.metadata.name, 'berth-bench-abc123-fio-berth');
  assert.equal(berth.metadata.namespace, 'team-a');
  assert.equal(berth.metadata.labels['bench.berth.io/run'], plan.runId, 'cleanup finds it by label');
  assert.deepEqual(berth.spec.template.spec.volumes[0].persistentVolumeClaim, { claimName: claim.metadata.name });
  assert.deepEqual(local.spec.template.spec.volumes[0].hostPath, { path: '/var/tmp/berth-bench', type: 'DirectoryOrCreate' });
  assert.equal(berth.spec.backoffLimit, 0);
  assert.ok(berth.spec.activeDeadlineSeconds > 4 * (3 + 1));
  assert.equal(berth.spec.template.spec.containers[0].image, 'reg/berth-bench:1');
  assert.equal(berth.spec.template.spec.affinity, undefined, 'the Berth side goes where the scheduler puts it');
  // Pinned by node name through the scheduler (nodeName would skip WaitForFirstConsumer provisioning).
  assert.match(JSON.stringify(local.spec.template.spec.affinity), /"matchFields":\[\{"key":"metadata.name","operator":"In","values":\["node-7"\]\}\]/);
});

test('the fio Job runs the host bench\'s four rows with the same arguments; pgbench runs both modes', () => {
  const script = (benchJob(plan, 'fio', 'local') as JobDoc).spec.template.spec.containers[0].command[2];
  for (const id of ['randread-4k-qd32', 'randwrite-4k-qd32', 'read-1m-qd8', 'write-1m-qd8']) assert.match(script, new RegExp(`begin ${id}"`));
  assert.match(script, /'--ioengine=libaio'/);
  assert.match(script, /'--filename=\/bench\/berth-bench-abc123-fio-local\/fio.img'/);
  assert.match(script, /'--size=67108864'/);
  assert.match(script, /'--runtime=3'.*'--ramp_time=1'/);
  assert.match(script, /--direct=\$direct/);
  const pg = (benchJob(plan, 'pgbench', 'berth') as JobDoc).spec.template.spec.containers[0].command[2];
  assert.match(pg, /pgbench" -h "\$sock" -U postgres -i -q -s 1 postgres/);
  assert.match(pg, /begin pgbench-tpcb"[\s\S]*-c 2 -j 2 -T 3 postgres[\s\S]*begin pgbench-select"[\s\S]*-S -c 2 -j 2 -T 3 postgres/);
});

test('shell quoting survives a quote', () => {
  assert.equal(shQuote("it's"), `'it'\\''s'`);
});

const fioJson = (iops: number, bw: number): string => JSON.stringify({
  jobs: [{ read: { iops, bw_bytes: bw, io_bytes: 1, runtime: 1000, clat_ns: { percentile: { '50.000000': 1000, '99.000000': 5000 } } }, write: { iops, bw_bytes: bw, io_bytes: 1, runtime: 1000 } }],
});

test('a Job log splits at the markers: each row\'s fio JSON, a tool error, a missing row', () => {
  const log = [
    'fio: some warning before the markers',
    '@@berth-bench direct=0',
    '@@berth-bench begin randread-4k-qd32', 'note: fio says hi', fioJson(5000, 20 * 2 ** 20), '@@berth-bench end randread-4k-qd32 rc=0',
    '@@berth-bench begin randwrite-4k-qd32', 'fio: io_u error on file: No space left on device', '@@berth-bench end randwrite-4k-qd32 rc=1',
    '@@berth-bench begin read-1m-qd8', fioJson(300, 300 * 2 ** 20), '@@berth-bench end read-1m-qd8 rc=0',
  ].join('\n');
  const parsed = parseJobLog(log);
  assert.equal(parsed.direct, false);
  const cells = fioCells(parsed, 'DeadlineExceeded');
  assert.equal((cells[0] as { iops: number }).iops, 5000);
  assert.equal((cells[0] as { p99us: number }).p99us, 5);
  assert.match((cells[1] as { error: string }).error, /exit 1: fio: io_u error .*No space left/);
  assert.equal((cells[2] as { mibPerSec: number }).mibPerSec, 300);
  assert.deepEqual(cells[3], { error: 'DeadlineExceeded' }, 'a row the Job never reached carries the Job\'s failure');
});

test('a setup failure fails every row with its reason', () => {
  const parsed = parseJobLog('@@berth-bench fail initdb: could not create directory: Permission denied \n');
  assert.deepEqual(pgbenchCells(parsed), [{ error: 'initdb: could not create directory: Permission denied' }, { error: 'initdb: could not create directory: Permission denied' }]);
  const ok = parseJobLog('@@berth-bench begin pgbench-tpcb\ntps = 321.5 (without initial connection time)\n@@berth-bench end pgbench-tpcb rc=0\n');
  assert.deepEqual(pgbenchCells(ok)[0], { tps: 321.5 });
  assert.match((pgbenchCells(ok)[1] as { error: string }).error, /no result for this row/);
});

test('job state: done, failed with the reason, an image that cannot be pulled fails at once with a hint', () => {
  const pod = (waiting?: string) => ({ spec: { nodeName: 'n1' }, status: { containerStatuses: [{ state: waiting ? { waiting: { reason: waiting, message: 'not found' } } : {} }] } });
  assert.deepEqual(jobState({ status: { succeeded: 1 } }, [pod()], 'img'), { state: 'succeeded', node: 'n1' });
  assert.deepEqual(jobState({ status: {} }, [pod()], 'img'), { state: 'running', node: 'n1' });
  assert.deepEqual(jobState({ status: {} }, [], 'img'), { state: 'running' });
  assert.deepEqual(jobState({ status: { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] } }, [pod()], 'img'),
    { state: 'failed', reason: 'Job was active longer than specified deadline', node: 'n1' });
  const pull = jobState({ status: {} }, [pod('ErrImageNeverPull')], 'berth-bench:dev');
  assert.equal(pull.state, 'failed');
  assert.match((pull as { reason: string }).reason, /^ErrImageNeverPull: not found \(image berth-bench:dev: build it with deploy\/bench\/build-image.sh/);
  assert.deepEqual(jobState({ status: {} }, [pod('ContainerCreating')], 'img'), { state: 'running', node: 'n1', waiting: 'ContainerCreating' });
  const unscheduled = { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'pod has unbound immediate PersistentVolumeClaims' }] } };
  assert.deepEqual(jobState({ status: {} }, [unscheduled], 'img'), { state: 'running', waiting: 'unscheduled: pod has unbound immediate PersistentVolumeClaims' });
});

test('--quick shortens what was not given; given flags win; the claim fits the file and pgbench\'s data', () => {
  const flags: ClusterBenchFlags = {
    class: 'berth-single', image: 'i', hostDir: '/h', quick: true, fioRows: true, pgbenchRows: true,
    localDir: '/tmp', size: '256MiB', runtime: '20', ramp: '2', pgbenchScale: '10', pgbenchClients: '4',
  };
  const o = clusterBenchOptions(flags, 'ns', (k) => k !== 'runtime', () => undefined);
  assert.equal(o.runtimeS, 20, '--runtime was given');
  assert.equal(o.rampS, 1);
  assert.equal(o.fileBytes, 64 * 2 ** 20);
  assert.deepEqual(o.pgbench, { scale: 1, clients: 2 });
  assert.equal(clusterBenchOptions({ ...flags, quick: false, pgbenchRows: false }, 'ns', () => true, () => undefined).pgbench, undefined);
  assert.throws(() => clusterBenchOptions({ ...flags, runtime: '0', quick: false }, 'ns', () => true, () => undefined), /--runtime must be a whole number from 1/);
  assert.equal(claimSizeFor(64 * 2 ** 20, 1), '1Gi');
  assert.equal(claimSizeFor(2 ** 30, 10), '2Gi');
});
