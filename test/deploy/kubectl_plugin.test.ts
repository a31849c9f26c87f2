/**
 * `kubectl berth` (bin/kubectl-berth, also deploy/kubectl-berth) against a real control
 * plane with a real engine, and a stand-in `kubectl` on PATH: a shell script that records
 * its arguments and prints recorded JSON for `get pv`, `get pods -A` and `get svc`, and a
 * port-forward line naming the real control plane's port. It stands in for a cluster
 * because the lab cluster is not always running; test/k8s covers the real one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO } from './render_kit.ts';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { MiB, nodeOnline, poolOnline, registeredEngine } from '../control_plane/cp_kit.ts';

const dir = mkdtempSync(join(tmpdir(), `berth-kubectl-${process.pid}-`));
let plane: ControlPlaneProcess | undefined;
const engines: EngineProcess[] = [];
let volumeId = '';
const NODE = `kb-${process.pid}`;
const NODE2 = `kb2-${process.pid}`;

// Records every call; answers from files the test writes ($DIR/*.json).
writeFileSync(join(dir, 'kubectl'), `#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
  "get pv -o json") cat "$DIR/pv.json" ;;
  "get pods -A -o json") cat "$DIR/pods.json" ;;
  "get svc -n berth-system berth-control -o json") cat "$DIR/svc.json" ;;
  "port-forward -n berth-system svc/berth-control :9600") echo "Forwarding from 127.0.0.1:$CP_PORT -> 9600"; exec sleep 300 ;;
  "get secret -n berth-system berth-auth -o jsonpath={.data.token}")
    [ -n "$SECRET_B64" ] && { printf "%s" "$SECRET_B64"; exit 0; }
    echo 'Error from server (NotFound): secrets "berth-auth" not found' >&2; exit 1 ;;
  "get pods -n"*) printf "%s" "$PODS" ;;
esac
exit 0
`);
chmodSync(join(dir, 'kubectl'), 0o755);

interface Run { status: number | null; stdout: string; stderr: string; calls: string[] }

function plugin(args: string[], env: Record<string, string> = {}, bin = join(REPO, 'deploy', 'kubectl-berth')): Run {
  const calls = join(dir, `calls-${Math.random().toString(36).slice(2)}`);
  writeFileSync(calls, '');
  const r = spawnSync(bin, args, {
    encoding: 'utf8', timeout: 120_000,
    env: { PATH: `${dir}:/usr/bin:/bin`, CALLS: calls, DIR: dir, PODS: '', CP_PORT: plane ? new URL(plane.url).port : '1', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: readFileSync(calls, 'utf8').trim().split('\n').filter((l) => l !== '') };
}

before(async () => {
  plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}` });
  // The event recorder records what changes after its first pass (its baseline): let that pass come before the engines register.
  await waitFor('the event recorder\'s first pass', async () => {
    const text = await (await fetch(new URL('/metrics', plane!.url), { signal: AbortSignal.timeout(10_000) })).text();
    const runs = /^berth_reconcile_runs_total\{reconciler="events"\} (\d+)/m.exec(text);
    return runs !== null && Number(runs[1]) >= 1 ? true : undefined;
  }, 60_000, 100);
  for (const n of [NODE, NODE2]) {
    engines.push(await registeredEngine([plane.url], n));
    await nodeOnline(plane.url, n);
    await poolOnline(plane.url, n, 'fast', 64 * MiB);
  }
  // Two replicas: the published volume gets a nexus on NODE over both.
  const made = await cp<{ id: string }>(plane.url, 'POST', '/v1/volumes', { name: 'pvc-0f1e2d3c', sizeBytes: 8 * MiB, replicas: 2, spread: { domain: 'node', strict: true } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  volumeId = made.body.id;
  const pub = await cp(plane.url, 'POST', `/v1/volumes/${volumeId}/publish`, { nodeId: NODE });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  // `describe` ends with the volume's events: wait for the recorder's pass that writes the first.
  await waitFor('the VolumeCreated event', async () => {
    const ev = await cp<{ events: unknown[] }>(plane!.url, 'GET', '/v1/events?type=VolumeCreated');
    return ev.status === 200 && ev.body.events.length > 0 ? true : undefined;
  }, 60_000, 200);
  writeFileSync(join(dir, 'pv.json'), JSON.stringify({ kind: 'List', items: [
    { metadata: { name: 'pvc-0f1e2d3c' }, spec: { csi: { driver: 'csi.berth.io', volumeHandle: volumeId }, claimRef: { namespace: 'shop', name: 'orders-db' } }, status: { phase: 'Bound' } },
  ] }));
  writeFileSync(join(dir, 'pods.json'), JSON.stringify({ kind: 'List', items: [
    { metadata: { name: 'orders-0', namespace: 'shop' }, spec: { nodeName: NODE, volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'orders-db' } }] } },
  ] }));
  writeFileSync(join(dir, 'svc.json'), JSON.stringify({ metadata: { name: 'berth-control' }, spec: { ports: [{ name: 'api', port: 9600 }] } }));
});

after(async () => {
  await plane?.stop();
  for (const e of engines) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('volumes: PVC, namespace and pods from the cluster, found through the Service port-forward', () => {
  const r = plugin(['volumes']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /NAMESPACE.*PVC.*PODS.*VOLUME.*STATUS/);
  assert.match(r.stdout, /shop\s*│\s*orders-db\s*│\s*orders-0\s*│\s*pvc-0f1e2d3c\s*│\s*online/);
  assert.ok(r.calls.includes('get svc -n berth-system berth-control -o json'), r.calls.join('\n'));
  assert.ok(r.calls.includes('port-forward -n berth-system svc/berth-control :9600'));
  const y = plugin(['volumes', '-o', 'yaml']);
  assert.equal(y.status, 0, y.stderr);
  assert.deepEqual((parseYaml(y.stdout) as { volumes: { pvc: string; pods: string[]; id: string }[] }).volumes.map((v) => [v.id, v.pvc, v.pods]), [[volumeId, 'orders-db', ['orders-0']]]);
});

test('describe pvc: the chain from pod to node with states', () => {
  const r = plugin(['--control-plane', plane!.url, 'describe', 'pvc', 'orders-db', '-n', 'shop']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^pod {7}orders-0$/m);
  assert.match(r.stdout, /^pvc {7}shop\/orders-db$/m);
  assert.match(r.stdout, /^pv {8}pvc-0f1e2d3c \[Bound\]$/m);
  assert.match(r.stdout, new RegExp(`volume {4}pvc-0f1e2d3c \\(${volumeId}\\) \\[online\\] 2 replica`));
  assert.match(r.stdout, new RegExp(`nexus {2}\\S+ on ${NODE} \\[node online\\] generation 1`));
  for (const n of [NODE, NODE2]) assert.match(r.stdout, new RegExp(`pool fast \\(${n}:fast\\) \\[online, ssd\\] → node ${n} \\[online\\] zone z1`));
  assert.doesNotMatch(r.stdout, /not in the nexus/);
  assert.match(r.stdout, /^events\n {2}\S+ {2}VolumeCreated {2}Created: volume pvc-0f1e2d3c created with 2 of 2 replicas/m, 'the volume\'s latest events end the chain');
  assert.ok(!r.calls.some((c) => c.startsWith('port-forward')), 'a given --control-plane needs no port-forward');
  const j = plugin(['--control-plane', plane!.url, '-o', 'json', 'describe', 'pvc', 'orders-db', '-n', 'shop']);
  const chain = JSON.parse(j.stdout) as { nexus: { nodeId: string }; replicas: { status: string; node: { id: string } }[] };
  assert.equal(chain.nexus.nodeId, NODE);
  assert.deepEqual(chain.replicas.map((x) => [x.status, x.node.id]).sort(), [['online', NODE], ['online', NODE2]].sort());
  const missing = plugin(['--control-plane', plane!.url, 'describe', 'pvc', 'nope', '-n', 'shop']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no Berth PersistentVolume is bound to PVC shop\/nope/);
});

test('without kubectl: the volume by its PV name, pods from the node plugin\'s records only', () => {
  const r = plugin(['--control-plane', plane!.url, '--no-kubernetes', 'describe', 'pvc', 'pvc-0f1e2d3c']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /pvc {7}\(not known/);
  assert.deepEqual(r.calls, []);
  const none = plugin(['--no-kubernetes', 'volumes']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /give --control-plane URL/);
});

test('nodes, pools, rebuilds, events', async () => {
  const base = ['--control-plane', plane!.url, '--no-kubernetes'];
  const nodes = plugin([...base, 'nodes']);
  assert.match(nodes.stdout, new RegExp(`${NODE}\\s*│\\s*z1\\s*│\\s*r1\\s*│\\s*online`));
  const pools = JSON.parse(plugin([...base, '-o', 'json', 'pools']).stdout) as { pools: { name: string; nodeId: string; status: string }[] };
  assert.deepEqual(pools.pools.map((p) => [p.name, p.nodeId, p.status]).sort(), [['fast', NODE, 'online'], ['fast', NODE2, 'online']].sort());
  const rebuilds = plugin([...base, 'rebuilds']);
  assert.equal(rebuilds.status, 0, rebuilds.stderr);
  assert.equal(rebuilds.stdout, '(none)\n');
  // Events are written by the recorder's passes, which come when they come on a busy machine.
  const registered = new RegExp(`NodeOnline\\s*│\\s*node/${NODE}\\s*│\\s*Registered\\s*│\\s*node ${NODE} registered`);
  const events = await waitFor('the node\'s registration event', () => {
    const e = plugin([...base, 'events', '--node', NODE]);
    assert.equal(e.status, 0, e.stderr);
    return registered.test(e.stdout) ? e : undefined;
  }, 60_000, 500);
  assert.match(events.stdout, registered);
  const typed = await waitFor('the VolumeCreated event', () => {
    const t = JSON.parse(plugin([...base, '-o', 'json', 'events', '--type', 'VolumeCreated']).stdout) as { events: { type: string; object: { id: string } }[] };
    return t.events.length > 0 ? t : undefined;
  }, 60_000, 500);
  assert.deepEqual(typed.events.map((e) => [e.type, e.object.id]), [['VolumeCreated', volumeId]]);
  const bad = plugin([...base, 'events', '--type', 'Nope']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /INVALID_ARGUMENT: type: unknown "Nope"/);
});

test('a control plane with a token: read from the berth-auth Secret or --token-file, never printed', async () => {
  const token = randomBytes(32).toString('hex');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const guarded = await startControlPlane({ store: `sqlite:${join(dir, 'guarded.db')}`, args: ['--auth-token-file', tokenFile] });
  try {
    const port = new URL(guarded.url).port;
    const secret = plugin(['-o', 'json', 'nodes'], { CP_PORT: port, SECRET_B64: Buffer.from(token).toString('base64') });
    assert.equal(secret.status, 0, secret.stderr);
    assert.deepEqual(JSON.parse(secret.stdout), { nodes: [] });
    assert.ok(secret.calls.includes('get secret -n berth-system berth-auth -o jsonpath={.data.token}'), secret.calls.join('\n'));
    const file = plugin(['--token-file', tokenFile, 'nodes'], { CP_PORT: port });
    assert.equal(file.status, 0, file.stderr);
    assert.ok(!file.calls.some((c) => c.startsWith('get secret')), 'a given token file needs no Secret');
    const none = plugin(['nodes'], { CP_PORT: port });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--token-file/);
    for (const r of [secret, file, none]) assert.ok(!(r.stdout + r.stderr).includes(token), 'the token is never printed');
  } finally {
    await guarded.stop();
  }
});

test('bench without --class or a URL says what it needs (test/cli/kubectl_bench_cleanup.test.ts runs --class)', () => {
  const r = plugin(['bench']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /give --class STORAGECLASS \(Jobs in the cluster\), or --url iscsi:\/\//);
  assert.deepEqual(r.calls, [], 'nothing asked of the cluster');
});

test('-o must be table, json or yaml', () => {
  const r = plugin(['-o', 'xml', '--control-plane', plane!.url, 'nodes']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--output must be table, json or yaml, not 'xml'/);
});

// The engine-local commands still run the CLI in an engine pod, as the shell plugin did.
test('runs the CLI in the first engine pod', () => {
  const r = plugin(['pool', 'list', '-o', 'json'], { PODS: 'berth-engine-a berth-engine-b' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.calls[0], /^get pods -n berth-system -l app\.kubernetes\.io\/name=berth,app\.kubernetes\.io\/component=engine /);
  assert.equal(r.calls[1], 'exec -n berth-system -c engine berth-engine-a -- berth pool list -o json');
});

test('--node picks that node\'s engine', () => {
  const r = plugin(['--node', 'storage-2', 'volume', 'list'], { PODS: 'berth-engine-x' }, join(REPO, 'bin', 'kubectl-berth'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.calls[0], /--field-selector spec\.nodeName=storage-2/);
  assert.equal(r.calls[1], 'exec -n berth-system -c engine berth-engine-x -- berth volume list');
});

test('no engine pod: a clear error and no exec', () => {
  const r = plugin(['--node', 'nowhere', 'pool', 'list']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no Berth engine pod on node nowhere in namespace berth-system/);
  assert.equal(r.calls.length, 1);
});

test('--node without a name is a usage error', () => {
  const r = plugin(['--node'], { PODS: 'berth-engine-a' });
  assert.equal(r.status, 2);
  assert.deepEqual(r.calls, []);
});
