/**
 * Command-line options of the CSI plugin process (pure). One binary serves the
 * controller Deployment (--mode controller), the node DaemonSet (--mode node), or both.
 */
import { parseArgs } from 'node:util';

export type ControlPlaneChoice = { kind: 'fake' } | { kind: 'rest'; urls: string[] };

export interface CsiArgs {
  endpoint: string;
  mode: 'controller' | 'node' | 'all';
  nodeId: string;
  stateDir: string;
  attacher: 'iscsiadm' | 'userspace';
  /** As given; when absent the node plugin reads open-iscsi's or generates one (node_registration.ts). */
  initiatorName?: string;
  /** The in-memory stand-in (tests, demos), or the control plane's REST API at these URLs. */
  controlPlane: ControlPlaneChoice;
  zone?: string;
  maxVolumes?: number;
  /**
   * Whether GetPluginCapabilities lists SNAPSHOT_METADATA_SERVICE. Off by default: the
   * service is served either way, and csi-sanity before v5.5 fails a plugin listing it.
   */
  advertiseSnapshotMetadata: boolean;
  /** `--local-attach-engine URL`: volumes exported by this engine are attached through its local attach (docs/local-attach.md). */
  localAttachEngine?: string;
  logLevel: string;
}

export const CSI_USAGE = `usage: bin/berth-csi --endpoint unix:///csi/csi.sock --mode controller|node|all [options]
       (or: node src/csi/main.ts with Node 24)

The CSI driver (spec v1.10) on a unix socket: the controller talks to the control plane,
the node service attaches, formats and mounts volumes (docs/csi.md).

options:
  --endpoint unix://PATH          gRPC socket (default unix:///csi/csi.sock, or $CSI_ENDPOINT)
  --mode controller|node|all      which services to serve (default all)
  --node-id ID                    this node's name (default $NODE_NAME; needed by the node service)
  --zone Z                        topology zone reported for this node
  --state-dir DIR                 staged volumes and user-space sessions (default /var/lib/berth-csi)
  --attacher iscsiadm|userspace   how the node attaches volumes (default iscsiadm)
  --initiator-name IQN            this node's initiator name (default: from the host, or one made from --node-id)
  --control-plane fake|URL[,URL…] the control plane's REST API, or an in-memory stand-in (default fake)
  --auth-token-file PATH          bearer token for the control plane (or $BERTH_AUTH_TOKEN_FILE)
  --max-volumes N                 volumes this node may attach
  --local-attach-engine URL       this node's engine API: volumes it exports (without CHAP) are served to the
                                  node over FUSE by that engine, not over iSCSI (docs/local-attach.md; off by default)
  --advertise-snapshot-metadata   list SNAPSHOT_METADATA_SERVICE in the plugin capabilities (for the
                                  external-snapshot-metadata sidecar; the service answers either way)
  --log-level LEVEL               trace, debug, info, warn, error, fatal, silent (default info, or $BERTH_LOG_LEVEL)
  -h, --help                      print this help and exit
  --version                       print the version and exit`;

export function parseCsiArgs(argv: string[], env: NodeJS.ProcessEnv = {}): CsiArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      endpoint: { type: 'string', default: env.CSI_ENDPOINT ?? 'unix:///csi/csi.sock' },
      mode: { type: 'string', default: 'all' },
      'node-id': { type: 'string', default: env.NODE_NAME ?? '' },
      zone: { type: 'string' },
      'state-dir': { type: 'string', default: '/var/lib/berth-csi' },
      attacher: { type: 'string', default: 'iscsiadm' },
      'initiator-name': { type: 'string' },
      'control-plane': { type: 'string', default: 'fake' },
      'max-volumes': { type: 'string' },
      'local-attach-engine': { type: 'string' },
      'advertise-snapshot-metadata': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: env.BERTH_LOG_LEVEL ?? 'info' },
    },
  });
  const mode = values.mode;
  if (mode !== 'controller' && mode !== 'node' && mode !== 'all') throw new Error('--mode must be controller, node or all');
  const attacher = values.attacher;
  if (attacher !== 'iscsiadm' && attacher !== 'userspace') throw new Error('--attacher must be iscsiadm or userspace');
  const cpText = values['control-plane'] ?? 'fake';
  const controlPlane: ControlPlaneChoice = cpText === 'fake' ? { kind: 'fake' } : { kind: 'rest', urls: parseControlPlaneUrls(cpText) };
  const nodeId = values['node-id'] ?? '';
  if (mode !== 'controller' && nodeId === '') throw new Error('--node-id (or NODE_NAME) is required for the node service');
  let maxVolumes: number | undefined;
  if (values['max-volumes'] !== undefined) {
    maxVolumes = Number(values['max-volumes']);
    if (!Number.isInteger(maxVolumes) || maxVolumes < 1) throw new Error('--max-volumes must be a whole number ≥ 1');
  }
  const localAttachText = values['local-attach-engine'] ?? env.BERTH_CSI_LOCAL_ATTACH_ENGINE;
  // An empty value (an unset ConfigMap key) means off, as no flag does.
  const localAttachEngine = localAttachText ? parseEngineUrl(localAttachText) : undefined;
  return {
    endpoint: values.endpoint ?? '',
    mode,
    nodeId,
    stateDir: values['state-dir'] ?? '',
    attacher,
    ...(values['initiator-name'] ? { initiatorName: values['initiator-name'] } : {}),
    controlPlane,
    zone: values.zone,
    maxVolumes,
    advertiseSnapshotMetadata: values['advertise-snapshot-metadata'] === true,
    ...(localAttachEngine !== undefined ? { localAttachEngine } : {}),
    logLevel: values['log-level'] ?? 'info',
  };
}

/** Checks the --local-attach-engine URL (pure): http(s)://host:port, no credentials. */
export function parseEngineUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    throw new Error(`--local-attach-engine: ${JSON.stringify(text.slice(0, 80))} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--local-attach-engine: ${u.protocol} is not http or https`);
  if (u.username !== '' || u.password !== '') throw new Error('--local-attach-engine: credentials do not belong in the URL');
  return u.origin;
}

/** Checks a --control-plane URL list (pure): http(s)://host:port[/…], comma separated. */
export function parseControlPlaneUrls(text: string): string[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new Error('--control-plane: no URL given');
  return parts.map((p) => {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new Error(`--control-plane: ${JSON.stringify(p.slice(0, 80))} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--control-plane: ${u.protocol} is not http or https`);
    if (u.username !== '' || u.password !== '') throw new Error('--control-plane: credentials do not belong in the URL');
    return u.origin + u.pathname.replace(/\/+$/, '');
  });
}
