/**
 * The node plugin tells the control plane where volumes can be attached: its node id,
 * the iSCSI initiator name it logs in with, its zone and its volume limit (the facts of
 * NodeGetInfo). ControllerPublish then exports to that initiator — on any node with the
 * node plugin, including one that runs no engine (a compute-only node).
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../util/log.ts';

/** Where open-iscsi keeps the host's initiator name. */
export const OPEN_ISCSI_INITIATOR_FILE = '/etc/iscsi/initiatorname.iscsi';

/** The name the user-space initiator uses when none is given (one per node). */
export function generatedInitiatorName(nodeId: string): string {
  return `iqn.2025-01.io.berth:node-${nodeId.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`;
}

/** `InitiatorName=iqn…` from open-iscsi's file (pure); comments and blank lines skipped. */
export function parseInitiatorNameFile(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*InitiatorName\s*=\s*(\S+)\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The initiator name this node logs in with: the flag when given; for open-iscsi the
 * host's own name (the kernel initiator sends it, whatever Berth thinks); else generated.
 */
export async function resolveInitiatorName(
  o: { given: string | undefined; attacher: 'iscsiadm' | 'userspace'; nodeId: string },
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): Promise<string> {
  if (o.given) return o.given;
  if (o.attacher === 'iscsiadm') {
    const text = await read(OPEN_ISCSI_INITIATOR_FILE).catch(() => undefined);
    const name = text === undefined ? undefined : parseInitiatorNameFile(text);
    if (name === undefined) throw new Error(`no InitiatorName in ${OPEN_ISCSI_INITIATOR_FILE}; install open-iscsi on the host or pass --initiator-name`);
    return name;
  }
  return generatedInitiatorName(o.nodeId);
}

export interface AttachRegistration {
  initiatorIqn: string;
  zone?: string;
  maxVolumes?: number;
}

export interface NodeRegistrar {
  registerNode(nodeId: string, reg: AttachRegistration): Promise<void>;
}

export interface RegistrationLoop {
  /** Resolves once the first registration succeeded (tests wait on it). */
  readonly registered: Promise<void>;
  stop(): void;
}

/**
 * Registers at start and again every `refreshMs` (a control plane restored from an old
 * backup learns it back); a failure is retried after `retryMs`. Never throws: a control
 * plane that is down must not keep the node plugin from serving staged volumes.
 */
export function startRegistration(
  registrar: NodeRegistrar, nodeId: string, reg: AttachRegistration, log: Logger,
  timing: { retryMs: number; refreshMs: number } = { retryMs: 5_000, refreshMs: 300_000 },
): RegistrationLoop {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let done!: () => void;
  const registered = new Promise<void>((r) => (done = r));
  let first = true;
  const attempt = async (): Promise<void> => {
    if (stopped) return;
    try {
      await registrar.registerNode(nodeId, reg);
      if (first) log.info({ nodeId, initiatorIqn: reg.initiatorIqn, zone: reg.zone, maxVolumes: reg.maxVolumes }, 'registered with the control plane');
      first = false;
      done();
      schedule(timing.refreshMs);
    } catch (err) {
      log.warn({ err: (err as Error).message, retryMs: timing.retryMs }, 'cannot register with the control plane yet; volumes cannot be published to this node until it works');
      schedule(timing.retryMs);
    }
  };
  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => void attempt(), ms);
    timer.unref();
  };
  void attempt();
  return {
    registered,
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
