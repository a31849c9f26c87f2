/**
 * CI for deploy/: renders every overlay with `kubectl kustomize` and checks what comes
 * out — kinds and required fields, that every reference (ServiceAccount, Role, Secret,
 * ConfigMap, PriorityClass, volume, port) resolves inside the render, that Berth
 * containers pass flags their entry points accept, and the CSI specifics (CSIDriver,
 * sidecars, node plugin mounts, engine host networking).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEngineArgs } from '../../src/engine/engine_args.ts';
import { parseCsiArgs } from '../../src/csi/csi_args.ts';
import { parseVolumeParameters } from '../../src/csi/parameters.ts';
import {
  DRIVER, NAMESPACE, REPO, allContainers, berthEntryPoint, container, containerEnv, entryPointFlags, expand, find,
  flagNames, flagValue, isClusterScoped, ofKind, overlayNames, renderOverlay, workload, workloads,
  type K8sObject, type Workload,
} from './render_kit.ts';
import { LEADER_ELECTION_NEEDS, SIDECAR_NEEDS, can } from './rbac_kit.ts';
import { provisionerView } from './provisioner_kit.ts';

/** Value checks by the entry points' own parsers, where they are exported. */
const PARSERS: Record<string, (args: string[], env: Record<string, string>) => unknown> = {
  'src/engine/main.ts': (args) => parseEngineArgs(args, {}),
  'src/csi/main.ts': (args, env) => parseCsiArgs(args, env),
};

const BASE_KINDS = [
  'Namespace', 'CSIDriver', 'Deployment', 'DaemonSet', 'Service', 'ServiceAccount', 'ClusterRole',
  'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap', 'Secret', 'StorageClass', 'VolumeSnapshotClass',
];
/**
 * Secrets holding real credentials are created by the operator, never rendered from git
 * (docs/security.md): they are referenced, and must be absent from the render.
 */
const OPERATOR_SECRETS = new Set(['berth-auth']);
const AUTH_DIR = '/etc/berth/auth';
const SIDECAR_IMAGE = /^registry\.k8s\.io\/sig-storage\/[a-z-]+:v\d+\.\d+\.\d+$/;

function berthWorkloads(objects: K8sObject[]): Workload[] {
  return workloads(objects).filter((w) => allContainers(w.pod).some((c) => berthEntryPoint(c) !== undefined));
}

function controllerPod(objects: K8sObject[]): Workload {
  return workload(objects, 'Deployment', 'berth-control');
}

const overlays = overlayNames();

test('there are overlays to render, dev and production among them', () => {
  assert.ok(overlays.includes('dev') && overlays.includes('production'), `overlays: ${overlays.join(', ')}`);
});

for (const overlay of overlays) {
  describe(`overlay ${overlay}`, () => {
    const objects = renderOverlay(overlay);

    test('every object has apiVersion, kind and a name; namespaced ones live in berth-system', () => {
      assert.ok(objects.length > 20, `only ${objects.length} objects`);
      const seen = new Set<string>();
      for (const o of objects) {
        assert.match(o.apiVersion ?? '', /^([a-z0-9.-]+\/)?v\d+(alpha\d+|beta\d+)?$/, `apiVersion of ${o.kind} ${o.metadata?.name}`);
        assert.match(o.kind ?? '', /^[A-Z][A-Za-z]+$/);
        assert.match(o.metadata?.name ?? '', /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, `name of a ${o.kind}`);
        if (isClusterScoped(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind} ${o.metadata.name} is cluster-scoped`);
        else assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind} ${o.metadata.name} namespace`);
        const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
        assert.ok(!seen.has(key), `duplicate ${key}`);
        seen.add(key);
      }
    });

    test('the kinds Berth needs are all there', () => {
      const kinds = new Set(objects.map((o) => o.kind));
      for (const k of BASE_KINDS) assert.ok(kinds.has(k), `no ${k}`);
      assert.ok(find(objects, 'Namespace', NAMESPACE));
      for (const [kind, name] of [['DaemonSet', 'berth-csi-node'], ['DaemonSet', 'berth-engine'], ['Deployment', 'berth-control'], ['Service', 'berth-control']]) {
        assert.ok(find(objects, kind, name, NAMESPACE), `no ${kind} ${name}`);
      }
      for (const sc of ['berth-replicated-ssd', 'berth-single', 'berth-xfs']) assert.ok(find(objects, 'StorageClass', sc), `no StorageClass ${sc}`);
    });

    test('the CSIDriver asks for attach, pod info on mount and capacity tracking', () => {
      const driver = find(objects, 'CSIDriver', DRIVER);
      assert.ok(driver, `no CSIDriver ${DRIVER}`);
      const spec = driver.spec as Record<string, unknown>;
      assert.equal(driver.apiVersion, 'storage.k8s.io/v1');
      assert.equal(spec.attachRequired, true);
      assert.equal(spec.podInfoOnMount, true);
      assert.equal(spec.storageCapacity, true);
      assert.deepEqual(spec.volumeLifecycleModes, ['Persistent']);
      assert.ok(['File', 'ReadWriteOnceWithFSType', 'None'].includes(spec.fsGroupPolicy as string), `fsGroupPolicy ${String(spec.fsGroupPolicy)}`);
      for (const o of [...ofKind(objects, 'StorageClass'), ...ofKind(objects, 'VolumeSnapshotClass')]) {
        assert.equal(o.provisioner ?? o.driver, DRIVER, `${o.kind} ${o.metadata.name} names another driver`);
      }
    });

    test('every container has a pinned image; the CSI sidecars come from sig-storage', () => {
      for (const w of workloads(objects)) {
        for (const c of allContainers(w.pod)) {
          const where = `${w.owner.metadata.name}/${c.name}`;
          assert.ok(c.image, `${where} has no image`);
          assert.match(c.image, /^[a-z0-9.:/_-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$/, `${where} image ${c.image} has no tag`);
          assert.doesNotMatch(c.image, /:latest$/, `${where} uses :latest`);
          if (c.name.startsWith('csi-') && berthEntryPoint(c) === undefined) assert.match(c.image, SIDECAR_IMAGE, where);
        }
      }
    });

    test('Berth containers pass only flags their entry points accept, with values their parsers take', () => {
      const berth = berthWorkloads(objects);
      assert.ok(berth.length >= 3, 'engine, node plugin and control plane run Berth');
      const entries = new Set<string>();
      const problems: string[] = [];
      for (const w of berth) {
        for (const c of allContainers(w.pod)) {
          const entry = berthEntryPoint(c);
          if (entry === undefined) continue;
          entries.add(entry);
          const where = `${w.owner.metadata.name}/${c.name}`;
          assert.ok(existsSync(join(REPO, entry)), `${where} runs ${entry}, which does not exist`);
          const { env, problems: envProblems } = containerEnv(objects, NAMESPACE, c);
          problems.push(...envProblems);
          const words = [...(c.command ?? []), ...(c.args ?? [])];
          const { args, unresolved } = expand(words.slice(words.indexOf(entry) + 1), env);
          if (unresolved.length > 0) problems.push(`${where}: $(${unresolved.join('), $(')}) not defined`);
          const accepted = entryPointFlags(entry);
          assert.ok(accepted.size > 0, `no parseArgs options found for ${entry}`);
          for (const f of flagNames(args)) if (!accepted.has(f)) problems.push(`${where}: ${entry} has no --${f} (it takes ${[...accepted].join(', ')})`);
          try {
            PARSERS[entry]?.(args, env);
          } catch (err) {
            problems.push(`${where}: ${entry} refuses ${args.join(' ')}: ${(err as Error).message}`);
          }
        }
      }
      assert.deepEqual(problems, []);
      assert.deepEqual([...entries].sort(), ['src/control/main.ts', 'src/csi/main.ts', 'src/engine/main.ts']);
    });

    test('every $(VAR) in any container resolves, and every container names its mounts and probe ports', () => {
      for (const w of workloads(objects)) {
        const volumes = new Set((w.pod.volumes ?? []).map((v) => v.name));
        const claimTemplates = ((w.owner.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] }).volumeClaimTemplates ?? []).map((t) => t.metadata.name);
        for (const c of allContainers(w.pod)) {
          const where = `${w.owner.metadata.name}/${c.name}`;
          const { env } = containerEnv(objects, NAMESPACE, c);
          assert.deepEqual(expand([...(c.command ?? []), ...(c.args ?? [])], env).unresolved, [], where);
          for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name) || claimTemplates.includes(m.name), `${where} mounts unknown volume ${m.name}`);
          const ports = new Set((c.ports ?? []).map((p) => p.name));
          for (const probe of [c.livenessProbe, c.readinessProbe]) {
            const port = probe?.httpGet?.port;
            if (typeof port === 'string') assert.ok(ports.has(port), `${where} probes unnamed port ${port}`);
          }
        }
      }
    });

    test('every referenced ServiceAccount, ConfigMap, Secret, PriorityClass and Role exists in the render', () => {
      for (const w of workloads(objects)) {
        const where = `${w.owner.kind} ${w.owner.metadata.name}`;
        const sa = w.pod.serviceAccountName;
        assert.ok(sa, `${where} names no ServiceAccount`);
        assert.ok(find(objects, 'ServiceAccount', sa, NAMESPACE), `${where}: ServiceAccount ${sa} missing`);
        const pc = w.pod.priorityClassName;
        if (pc !== undefined) assert.ok(find(objects, 'PriorityClass', pc), `${where}: PriorityClass ${pc} missing`);
        for (const v of w.pod.volumes ?? []) {
          if (v.configMap) assert.ok(find(objects, 'ConfigMap', v.configMap.name, NAMESPACE), `${where}: ConfigMap ${v.configMap.name}`);
          if (v.secret && OPERATOR_SECRETS.has(v.secret.secretName)) {
            assert.equal(find(objects, 'Secret', v.secret.secretName, NAMESPACE), undefined, `${where}: Secret ${v.secret.secretName} must not be in git`);
          } else if (v.secret) {
            assert.ok(find(objects, 'Secret', v.secret.secretName, NAMESPACE), `${where}: Secret ${v.secret.secretName}`);
          }
        }
        for (const c of allContainers(w.pod)) assert.deepEqual(containerEnv(objects, NAMESPACE, c).problems, [], where);
      }
      for (const b of [...ofKind(objects, 'RoleBinding'), ...ofKind(objects, 'ClusterRoleBinding')]) {
        const { roleRef, subjects } = b as unknown as { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
        assert.ok(find(objects, roleRef.kind, roleRef.name, b.metadata.namespace), `${b.kind} ${b.metadata.name}: ${roleRef.kind} ${roleRef.name} missing`);
        for (const s of subjects) {
          if (s.kind === 'ServiceAccount') assert.ok(find(objects, 'ServiceAccount', s.name, s.namespace ?? b.metadata.namespace), `${b.metadata.name}: ServiceAccount ${s.namespace}/${s.name} missing`);
        }
      }
      for (const pdb of ofKind(objects, 'PodDisruptionBudget')) {
        const sel = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
        const hit = workloads(objects).some((w) => Object.entries(sel).every(([k, v]) => w.labels[k] === v));
        assert.ok(hit, `PodDisruptionBudget ${pdb.metadata.name} selects no pod template`);
      }
    });

    test('StorageClasses: the provisioner accepts them, the driver takes what it passes on, expansion, late binding, CHAP Secret', () => {
      const defaultFs = flagValue(container(controllerPod(objects), 'csi-provisioner').args ?? [], 'default-fstype') ?? '';
      const asDriverSees = (name: string) => {
        const sc = find(objects, 'StorageClass', name);
        assert.ok(sc, `no StorageClass ${name}`);
        return provisionerView((sc.parameters ?? {}) as Record<string, string>, defaultFs);
      };
      for (const sc of ofKind(objects, 'StorageClass')) {
        const name = sc.metadata.name;
        const params = (sc.parameters ?? {}) as Record<string, string>;
        assert.equal(sc.allowVolumeExpansion, true, name);
        assert.equal(sc.volumeBindingMode, 'WaitForFirstConsumer', name);
        // Issue 11: "fstype specified in parameters with both "fstype" and "csi.storage.k8s.io/fstype" keys".
        const request = provisionerView(params, defaultFs);
        assert.doesNotThrow(() => parseVolumeParameters(request.parameters), `${name}: ${JSON.stringify(request.parameters)}`);
        assert.ok(['ext4', 'xfs'].includes(request.fsType), `${name}: fs_type ${request.fsType}`);
        for (const kind of ['provisioner', 'controller-publish', 'node-stage', 'node-publish', 'controller-expand', 'node-expand']) {
          const secret = params[`csi.storage.k8s.io/${kind}-secret-name`];
          if (secret === undefined) continue;
          const ns = params[`csi.storage.k8s.io/${kind}-secret-namespace`];
          assert.ok(find(objects, 'Secret', secret, ns), `${name}: ${kind} Secret ${ns}/${secret} is not in the render`);
        }
      }
      const replicated = parseVolumeParameters(asDriverSees('berth-replicated-ssd').parameters);
      assert.equal(replicated.replicas, 3);
      assert.equal(replicated.spreadStrict, true);
      assert.equal(parseVolumeParameters(asDriverSees('berth-single').parameters).thin, true);
      assert.equal(asDriverSees('berth-xfs').fsType, 'xfs');
      const chap = find(objects, 'Secret', 'berth-chap', NAMESPACE);
      assert.ok(chap, 'the CHAP example Secret is missing');
      assert.deepEqual(Object.keys((chap.data ?? chap.stringData) as object).sort(), ['chapPassword', 'chapUsername']);
    });

    test('the controller pod runs every sidecar on the shared socket, with the RBAC each needs', () => {
      const w = controllerPod(objects);
      const sa = { namespace: NAMESPACE, name: w.pod.serviceAccountName ?? '' };
      const socket = w.pod.volumes?.find((v) => v.name === 'socket-dir');
      assert.ok(socket?.emptyDir !== undefined, 'the CSI socket lives in an emptyDir');
      const csi = container(w, 'csi-controller');
      assert.equal(flagValue(csi.args ?? [], 'mode'), 'controller');
      assert.equal(flagValue(csi.args ?? [], 'endpoint'), 'unix:///csi/csi.sock');
      for (const name of ['csi-provisioner', 'csi-attacher', 'csi-resizer', 'csi-snapshotter', 'liveness-probe', 'csi-controller']) {
        const c = container(w, name);
        assert.ok(c.volumeMounts?.some((m) => m.name === 'socket-dir' && m.mountPath === '/csi'), `${name} lacks the socket`);
        if (name !== 'csi-controller') assert.equal(flagValue(c.args ?? [], 'csi-address'), '/csi/csi.sock', name);
        if (name.startsWith('csi-') && name !== 'csi-controller') {
          assert.ok(flagValue(c.args ?? [], 'leader-election'), `${name} runs without leader election`);
          for (const [verb, group, resource] of LEADER_ELECTION_NEEDS) assert.ok(can(objects, sa, verb, group, resource, NAMESPACE), `${name}: ${verb} ${resource}`);
          for (const [verb, group, resource, namespaced] of SIDECAR_NEEDS[name]) {
            assert.ok(can(objects, sa, verb, group, resource, namespaced ? NAMESPACE : undefined), `${name} may not ${verb} ${group || 'core'}/${resource}`);
          }
        }
      }
      const prov = container(w, 'csi-provisioner').args ?? [];
      assert.equal(flagValue(prov, 'feature-gates'), 'Topology=true');
      assert.equal(flagValue(prov, 'enable-capacity'), 'true');
      assert.ok(Number(flagValue(prov, 'capacity-ownerref-level')) >= 1);
      assert.equal(flagValue(prov, 'extra-create-metadata'), 'true');
      const provEnv = new Set((container(w, 'csi-provisioner').env ?? []).map((e) => e.name));
      assert.ok(provEnv.has('NAMESPACE') && provEnv.has('POD_NAME'), '--enable-capacity needs NAMESPACE and POD_NAME');
      assert.equal(can(objects, sa, 'delete', '', 'nodes'), false, 'no sidecar may delete nodes');
      const svc = find(objects, 'Service', 'berth-control', NAMESPACE);
      const selector = (svc?.spec as { selector: Record<string, string> }).selector;
      assert.ok(Object.entries(selector).every(([k, v]) => w.labels[k] === v), 'the Service selects the control-plane pods');
      assert.ok(container(w, 'control-plane').ports?.some((p) => p.name === 'api'));
    });

    test('the node plugin: privileged, registrar, Bidirectional kubelet dir, host /dev, /sys and iSCSI paths', () => {
      const w = workload(objects, 'DaemonSet', 'berth-csi-node');
      const node = container(w, 'csi-node');
      assert.equal(node.securityContext?.privileged, true);
      assert.equal(flagValue(node.args ?? [], 'mode'), 'node');
      const hostPath = (name: string) => w.pod.volumes?.find((v) => v.name === name)?.hostPath?.path;
      const mountOf = (path: string) => node.volumeMounts?.find((m) => m.mountPath === path);
      assert.equal(mountOf('/var/lib/kubelet')?.mountPropagation, 'Bidirectional');
      assert.equal(hostPath(mountOf('/var/lib/kubelet')?.name ?? ''), '/var/lib/kubelet');
      for (const path of ['/dev', '/sys', '/etc/iscsi']) assert.equal(hostPath(mountOf(path)?.name ?? ''), path, `host ${path}`);
      // The staged-volume records survive restarts on the host: the state dir is inside a
      // hostPath mount, and mounts made there reach the host (Bidirectional).
      const stateDir = flagValue(node.args ?? [], 'state-dir') ?? '';
      const holder = (node.volumeMounts ?? []).filter((m) => stateDir === m.mountPath || stateDir.startsWith(`${m.mountPath}/`))
        .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      assert.ok(hostPath(holder?.name ?? '')?.startsWith('/var/lib/'), `the state dir ${stateDir} is on the host`);
      assert.equal(holder?.mountPropagation, 'Bidirectional', 'the user-space attacher\'s FUSE mounts reach the host');
      // Bidirectional propagation needs a shared mount as its source; kubelet makes its own
      // dir one, "/" is shared only where systemd runs ("is mounted on / but it is not a shared mount").
      for (const w2 of workloads(objects)) {
        for (const c of allContainers(w2.pod)) {
          for (const m of c.volumeMounts ?? []) {
            if (m.mountPropagation !== 'Bidirectional') continue;
            const source = w2.pod.volumes?.find((v) => v.name === m.name)?.hostPath?.path ?? '';
            assert.ok(source === '/var/lib/kubelet' || source.startsWith('/var/lib/kubelet/'), `${w2.owner.metadata.name}/${c.name}: Bidirectional mount of ${source}, not under /var/lib/kubelet`);
          }
        }
      }
      // A kernel with everything built in has no /lib/modules; the plugin must start anyway.
      assert.equal(w.pod.volumes?.find((v) => v.hostPath?.path === '/lib/modules')?.hostPath?.type, 'DirectoryOrCreate');
      const registrar = container(w, 'node-driver-registrar');
      assert.match(registrar.image ?? '', /csi-node-driver-registrar:v\d/);
      const regPath = flagValue(registrar.args ?? [], 'kubelet-registration-path') ?? '';
      const pluginDir = hostPath(registrar.volumeMounts?.find((m) => m.mountPath === '/csi')?.name ?? '');
      assert.equal(regPath, `${pluginDir}/csi.sock`, 'kubelet finds the socket where the plugin creates it');
      assert.equal(pluginDir, `/var/lib/kubelet/plugins/${DRIVER}`);
      assert.equal(hostPath(registrar.volumeMounts?.find((m) => m.mountPath === '/registration')?.name ?? ''), '/var/lib/kubelet/plugins_registry');
      assert.ok(w.pod.containers.some((c) => /livenessprobe:v/.test(c.image ?? '')), 'no livenessprobe sidecar');
    });

    test('API authentication: every Berth process reads the cluster token from the operator-made Secret berth-auth', () => {
      const docs = readFileSync(join(REPO, 'docs', 'security.md'), 'utf8');
      assert.match(docs, /kubectl -n berth-system create secret generic berth-auth --from-literal=token=\$\(openssl rand -hex 32\)/);
      const wanted = [['DaemonSet', 'berth-engine', 'engine'], ['Deployment', 'berth-control', 'control-plane'], ['Deployment', 'berth-control', 'csi-controller'], ['DaemonSet', 'berth-csi-node', 'csi-node']];
      for (const [kind, name, containerName] of wanted) {
        const w = workload(objects, kind, name);
        const c = container(w, containerName);
        const where = `${name}/${containerName}`;
        const volume = (w.pod.volumes ?? []).find((v) => v.secret?.secretName === 'berth-auth');
        assert.ok(volume, `${where}: no berth-auth volume`);
        const mount = (c.volumeMounts ?? []).find((m) => m.name === volume.name);
        assert.equal(mount?.mountPath, AUTH_DIR, `${where}: berth-auth not mounted at ${AUTH_DIR}`);
        const { env } = containerEnv(objects, NAMESPACE, c);
        const flag = flagValue(c.args ?? [], 'auth-token-file');
        const file = flag !== undefined ? expand([flag], env).args[0] : env.BERTH_AUTH_TOKEN_FILE;
        assert.equal(file, `${AUTH_DIR}/token`, `${where}: token file`);
        // The API servers get the flag itself, so a missing setting cannot go unnoticed.
        if (containerName === 'engine' || containerName === 'control-plane') assert.ok(flag !== undefined, `${where}: --auth-token-file`);
        assert.ok(!flagNames(c.args ?? []).includes('insecure-no-auth'), `${where} runs without authentication`);
      }
    });

    test('the engine DaemonSet: hostNetwork, privileged, host data dir, ports matching its listen flags, storage nodes only', () => {
      const w = workload(objects, 'DaemonSet', 'berth-engine');
      assert.equal(w.pod.hostNetwork, true);
      assert.equal(w.pod.dnsPolicy, 'ClusterFirstWithHostNet', 'hostNetwork pods need it to resolve the control-plane Service');
      assert.ok(Object.keys(w.pod.nodeSelector ?? {}).length > 0, 'engines run on labelled storage nodes only');
      const engine = container(w, 'engine');
      assert.equal(engine.securityContext?.privileged, true);
      const args = engine.args ?? [];
      const dataDir = flagValue(args, 'data-dir') ?? '';
      const dataMount = engine.volumeMounts?.find((m) => m.mountPath === dataDir);
      assert.ok(w.pod.volumes?.find((v) => v.name === dataMount?.name)?.hostPath, 'the data dir is a hostPath');
      const ports = new Map((engine.ports ?? []).map((p) => [p.name, p.containerPort]));
      for (const [flag, port] of [['api-listen', 'api'], ['iscsi-listen', 'iscsi'], ['replica-listen', 'replica']]) {
        const value = flagValue(args, flag) ?? '';
        assert.equal(Number(value.slice(value.lastIndexOf(':') + 1)), ports.get(port), `--${flag} vs port ${port}`);
      }
      assert.match(flagValue(args, 'control-plane') ?? '', /^\$\(BERTH_CONTROL_PLANE_URL\)$|^http/);
    });

    if (overlay === 'dev') {
      test('dev: one control plane on SQLite with debug logs', () => {
        const w = controllerPod(objects);
        assert.equal(w.replicas, 1);
        const { env } = containerEnv(objects, NAMESPACE, container(w, 'control-plane'));
        assert.match(env.BERTH_STORE, /^sqlite:\//);
        assert.equal(env.BERTH_LOG_LEVEL, 'debug');
        const store = expand([flagValue(container(w, 'control-plane').args ?? [], 'store') ?? ''], env).args[0];
        const dir = store.slice('sqlite:'.length, store.lastIndexOf('/'));
        assert.ok(container(w, 'control-plane').volumeMounts?.some((m) => m.mountPath === dir), 'the SQLite file is on a mounted volume');
      });
    }

    if (overlay === 'production') {
      test('production: etcd StatefulSet of 3, two control planes apart, budgets, priorities and resources', () => {
        const w = controllerPod(objects);
        assert.ok((w.replicas ?? 1) >= 2);
        const affinity = (w.pod as { affinity?: { podAntiAffinity?: object } }).affinity;
        assert.ok(affinity?.podAntiAffinity, 'control planes on different nodes');
        const { env } = containerEnv(objects, NAMESPACE, container(w, 'control-plane'));
        assert.match(env.BERTH_STORE, /^etcd:/);
        const etcd = workload(objects, 'StatefulSet', 'berth-etcd');
        assert.equal(etcd.replicas, 3);
        const svc = (etcd.owner.spec as { serviceName: string }).serviceName;
        assert.ok(find(objects, 'Service', svc, NAMESPACE), `headless Service ${svc}`);
        const urls = env.BERTH_STORE.slice('etcd:'.length).split(',');
        assert.deepEqual(urls, [0, 1, 2].map((i) => `http://berth-etcd-${i}.${svc}:2379`));
        const cluster = flagValue(container(etcd, 'etcd').args ?? [], 'initial-cluster') ?? '';
        assert.equal(cluster.split(',').length, 3);
        for (const name of ['berth-control', 'berth-etcd']) assert.ok(find(objects, 'PodDisruptionBudget', name, NAMESPACE), `PDB ${name}`);
        for (const wl of workloads(objects)) {
          assert.ok(wl.pod.priorityClassName, `${wl.owner.metadata.name} has no priority class`);
          for (const c of allContainers(wl.pod)) assert.ok(c.resources?.requests?.memory && c.resources.limits?.memory, `${wl.owner.metadata.name}/${c.name} resources`);
        }
        assert.ok(!w.pod.volumes?.some((v) => v.hostPath), 'no SQLite host path with etcd');
      });
    }
  });
}
