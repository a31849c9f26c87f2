/**
 * Command-line options of the CSI plugin process (pure). One binary serves the
 * controller Deployment (--mode controller), the node DaemonSet (--mode node), or both.
 */
import { parseArgs } from 'node:util';

export interface CsiArgs {
  endpoint: string;
  mode: 'controller' | 'node' | 'all';
  nodeId: string;
  stateDir: string;
  attacher: 'iscsiadm' | 'userspace';
  initiatorName: string;
  /** Only 'fake' exists until the control plane's REST API lands. */
  controlPlane: 'fake';
  zone?: string;
  maxVolumes?: number;
  logLevel: string;
}

export const CSI_USAGE = `usage: node src/csi/main.ts --endpoint unix:///csi/csi.sock --mode controller|node|all
  [--node-id ID] [--zone Z] [--state-dir DIR] [--attacher iscsiadm|userspace]
  [--initiator-name IQN] [--control-plane fake] [--max-volumes N] [--log-level L]`;

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
      'initiator-name': { type: 'string', default: '' },
      'control-plane': { type: 'string', default: 'fake' },
      'max-volumes': { type: 'string' },
      'log-level': { type: 'string', default: env.BERTH_LOG_LEVEL ?? 'info' },
    },
  });
  const mode = values.mode;
  if (mode !== 'controller' && mode !== 'node' && mode !== 'all') throw new Error(`--mode must be controller, node or all\n${CSI_USAGE}`);
  const attacher = values.attacher;
  if (attacher !== 'iscsiadm' && attacher !== 'userspace') throw new Error('--attacher must be iscsiadm or userspace');
  if (values['control-plane'] !== 'fake') throw new Error('--control-plane: only "fake" exists until the control plane REST API lands');
  const nodeId = values['node-id'] ?? '';
  if (mode !== 'controller' && nodeId === '') throw new Error('--node-id (or NODE_NAME) is required for the node service');
  let maxVolumes: number | undefined;
  if (values['max-volumes'] !== undefined) {
    maxVolumes = Number(values['max-volumes']);
    if (!Number.isInteger(maxVolumes) || maxVolumes < 1) throw new Error('--max-volumes must be a whole number ≥ 1');
  }
  return {
    endpoint: values.endpoint ?? '',
    mode,
    nodeId,
    stateDir: values['state-dir'] ?? '',
    attacher,
    initiatorName: values['initiator-name'] || `iqn.2025-01.io.berth:node-${nodeId || 'controller'}`,
    controlPlane: 'fake',
    zone: values.zone,
    maxVolumes,
    logLevel: values['log-level'] ?? 'info',
  };
}
