/**
 * Renders the Kustomize overlays under deploy/ with `kubectl kustomize` and gives the
 * tests typed views of what came out: objects, pod templates, containers, and the
 * command-line flags each Berth entry point really accepts (read from its source).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NAMESPACE = 'berth-system';
export const DRIVER = 'csi.berth.io';

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string; readOnly?: boolean }[];
  securityContext?: { privileged?: boolean };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
}

export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: object;
  configMap?: { name: string };
  secret?: { secretName: string };
  persistentVolumeClaim?: { claimName: string };
}

export interface PodSpec {
  serviceAccountName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  // Every other field is read through the typed helpers below.
  [field: string]: unknown;
}

/** A workload's pod template together with the object that holds it. */
export interface Workload {
  owner: K8sObject;
  labels: Record<string, string>;
  pod: PodSpec;
  replicas: number | undefined;
}

export function overlayNames(): string[] {
  const root = join(REPO, 'deploy', 'overlays');
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();
}

/** `kubectl kustomize deploy/overlays/NAME`, parsed; a YAML error fails the caller. */
export function renderOverlay(name: string): K8sObject[] {
  return parseRendered(name, renderDir(join(REPO, 'deploy', 'overlays', name)));
}

/** An overlay with deploy/components/COMPONENT added, as a user's own overlay would add it. */
export function renderWithComponent(overlay: string, component: string): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), `berth-component-${process.pid}-`));
  try {
    // kustomize takes relative paths only.
    const deploy = relative(dir, join(REPO, 'deploy'));
    writeFileSync(join(dir, 'kustomization.yaml'), [
      'apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization',
      'resources:', `  - ${deploy}/overlays/${overlay}`, 'components:', `  - ${deploy}/components/${component}`, '',
    ].join('\n'));
    return parseRendered(`${overlay} + ${component}`, renderDir(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function renderDir(dir: string): string {
  return execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

function parseRendered(name: string, text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`overlay ${name}: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

const CLUSTER_SCOPED = new Set([
  'Namespace', 'CSIDriver', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass',
  'VolumeSnapshotClass', 'PersistentVolume', 'CustomResourceDefinition',
]);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export function find(objects: K8sObject[], kind: string, name: string, namespace?: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name
    && (namespace === undefined || isClusterScoped(kind) || o.metadata.namespace === namespace));
}

export function ofKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

const WORKLOAD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'ReplicaSet']);

export function workloads(objects: K8sObject[]): Workload[] {
  return objects.filter((o) => WORKLOAD_KINDS.has(o.kind)).map((owner) => {
    const spec = owner.spec as { replicas?: number; template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } };
    return { owner, labels: spec.template.metadata?.labels ?? {}, pod: spec.template.spec, replicas: spec.replicas };
  });
}

export function workload(objects: K8sObject[], kind: string, name: string): Workload {
  const w = workloads(objects).find((x) => x.owner.kind === kind && x.owner.metadata.name === name);
  if (w === undefined) throw new Error(`no ${kind} ${name} in the render`);
  return w;
}

export function container(w: Workload, name: string): Container {
  const c = w.pod.containers.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${w.owner.kind} ${w.owner.metadata.name} has no container ${name}`);
  return c;
}

export function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

/** The Berth entry point a container runs (`node src/x/main.ts`), if any. */
export function berthEntryPoint(c: Container): string | undefined {
  const words = [...(c.command ?? []), ...(c.args ?? [])];
  const i = words.indexOf('node');
  return i >= 0 && /^src\/.+\.ts$/.test(words[i + 1] ?? '') ? words[i + 1] : undefined;
}

/** Sample values the kubelet would fill in for the downward-API fields the pods use. */
const FIELD_SAMPLES: Record<string, string> = {
  'status.podIP': '10.1.2.3', 'status.hostIP': '10.1.2.3', 'spec.nodeName': 'node-a',
  'metadata.name': 'pod-0', 'metadata.namespace': NAMESPACE, 'spec.serviceAccountName': 'sa',
};

/**
 * The container's environment as the kubelet builds it: envFrom ConfigMaps from the
 * render, then env (values, downward API samples, ConfigMap keys). Unresolvable
 * references are reported, not guessed.
 */
export function containerEnv(objects: K8sObject[], namespace: string, c: Container): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef?.name ?? from.secretRef?.name;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const obj = ref === undefined ? undefined : find(objects, kind, ref, namespace);
    if (obj === undefined) problems.push(`${c.name}: envFrom ${kind} ${ref} is not in the render`);
    else Object.assign(env, (obj.data ?? obj.stringData ?? {}) as Record<string, string>);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      // The kubelet expands $(VAR) in a value from the variables defined before it.
      const { args, unresolved } = expand([e.value], env);
      if (unresolved.length > 0) problems.push(`${c.name}: env ${e.name} uses undefined $(${unresolved.join('), $(')})`);
      env[e.name] = args[0];
    }
    else if (e.valueFrom?.fieldRef) {
      const sample = FIELD_SAMPLES[e.valueFrom.fieldRef.fieldPath];
      if (sample === undefined) problems.push(`${c.name}: no sample for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      else env[e.name] = sample;
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const data = find(objects, 'ConfigMap', name, namespace)?.data as Record<string, string> | undefined;
      if (data?.[key] === undefined) problems.push(`${c.name}: env ${e.name} wants ConfigMap ${name} key ${key}`);
      else env[e.name] = data[key];
    } else if (e.valueFrom?.secretKeyRef) {
      const { name } = e.valueFrom.secretKeyRef;
      if (find(objects, 'Secret', name, namespace) === undefined) problems.push(`${c.name}: env ${e.name} wants Secret ${name}`);
      else env[e.name] = 'secret-sample';
    } else env[e.name] = '';
  }
  return { env, problems };
}

/** Replaces `$(VAR)` as the kubelet does; names it cannot resolve are returned. */
export function expand(args: string[], env: Record<string, string>): { args: string[]; unresolved: string[] } {
  const unresolved: string[] = [];
  const out = args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => {
    if (env[name] !== undefined) return env[name];
    unresolved.push(name);
    return whole;
  }));
  return { args: out, unresolved };
}

/**
 * The long options a Berth entry point accepts: the `options` of every `parseArgs` call
 * in the entry point and in the `*_args.ts` files it imports.
 */
export function entryPointFlags(entry: string): Set<string> {
  const main = join(REPO, entry);
  const files = [main];
  const text = readFileSync(main, 'utf8');
  for (const m of text.matchAll(/from '\.\/([a-z_]+_args)\.ts'/g)) files.push(join(dirname(main), `${m[1]}.ts`));
  const flags = new Set<string>();
  for (const file of files) for (const f of parseArgsOptions(readFileSync(file, 'utf8'))) flags.add(f);
  return flags;
}

function parseArgsOptions(source: string): string[] {
  const names: string[] = [];
  for (const call of source.matchAll(/parseArgs\(\{/g)) {
    const start = source.indexOf('options:', call.index);
    if (start < 0) continue;
    const block = balancedBlock(source, source.indexOf('{', start));
    for (const m of block.matchAll(/(?:'([a-z][a-z0-9-]*)'|\b([a-z][a-zA-Z0-9]*))\s*:\s*\{\s*type\s*:/g)) names.push(m[1] ?? m[2]);
  }
  return names;
}

function balancedBlock(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(open, i + 1);
  }
  throw new Error('unbalanced options block');
}

/** The manifests write flags as `--name=value`, or `--name` for a boolean. */
export function flagNames(args: string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]);
}

export function flagValue(args: string[], name: string): string | undefined {
  const hit = args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (hit === undefined) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : 'true';
}
