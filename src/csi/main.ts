/**
 * The CSI plugin process. SIGTERM/SIGINT stop it gracefully: in-flight calls finish
 * (up to SHUTDOWN_GRACE_MS), then the socket is removed.
 */
import { createLogger } from '../util/log.ts';
import { CSI_USAGE, parseCsiArgs } from './csi_args.ts';
import { answerHelpOrVersion } from '../util/entry_point.ts';
import { controllerHandlers } from './controller.ts';
import { FakeControlPlane } from './fake_control_plane.ts';
import { identityHandlers } from './identity.ts';
import { groupControllerHandlers } from './group_controller.ts';
import { snapshotMetadataHandlers } from './snapshot_metadata.ts';
import { RestSnapshotGroups } from './rest_snapshot_groups.ts';
import { IscsiadmAttacher } from './iscsiadm_attacher.ts';
import { createNodeService, DEFAULT_MAX_VOLUMES_PER_NODE } from './node.ts';
import { resolveInitiatorName, startRegistration, type RegistrationLoop } from './node_registration.ts';
import { HostCommandRunner } from './node_exec.ts';
import { RestControlPlane } from './rest_control_plane.ts';
import { withPodRecords } from './rest_pod_records.ts';
import { CsiServer } from './server.ts';
import { UserSpaceAttacher } from './user_space_attacher.ts';
import { LocalFirstAttacher } from './local_first_attacher.ts';
import { loadTokenFile, tokenFilePath } from '../util/auth_token_file.ts';

/**
 * `--auth-token-file PATH` (or `=PATH`) is taken out before the CSI options are parsed:
 * it belongs to the REST client, which sends the cluster token (docs/security.md).
 * BERTH_AUTH_TOKEN_FILE does the same from the environment.
 */
function takeTokenFileFlag(argv: readonly string[]): { rest: string[]; tokenFile: string | undefined } {
  const rest: string[] = [];
  let tokenFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--auth-token-file') {
      if (i + 1 >= argv.length) throw new Error('--auth-token-file wants a PATH');
      tokenFile = argv[++i];
    } else if (a.startsWith('--auth-token-file=')) {
      tokenFile = a.slice('--auth-token-file='.length);
    } else {
      rest.push(a);
    }
  }
  return { rest, tokenFile };
}

async function main(): Promise<void> {
  answerHelpOrVersion(process.argv.slice(2), 'berth-csi', CSI_USAGE);
  let args;
  let authToken: string | undefined;
  try {
    const { rest: argv, tokenFile } = takeTokenFileFlag(process.argv.slice(2));
    args = parseCsiArgs(argv, process.env);
    const path = tokenFilePath(tokenFile, process.env);
    // The first line is the current token; a second one is only accepted by servers.
    if (path !== undefined && args.controlPlane.kind === 'rest') authToken = loadTokenFile(path)[0];
  } catch (err) {
    process.stderr.write(`berth-csi: ${(err as Error).message}\n(bin/berth-csi --help lists the options)\n`);
    process.exit(2);
  }
  const log = createLogger({ level: args.logLevel, name: 'berth-csi' });
  const runner = new HostCommandRunner();
  const rest = args.controlPlane.kind === 'rest' ? new RestControlPlane({ urls: args.controlPlane.urls, ...(authToken !== undefined ? { authToken } : {}) }) : undefined;
  let controller;
  let groupController;
  let snapshotMetadata;
  if (args.mode !== 'node') {
    if (rest) {
      log.info({ controlPlane: rest.urls }, 'controller uses the control plane REST API');
      controller = controllerHandlers(rest, log);
      // Group snapshots and changed-block tracking live in the control plane only (not in the fake).
      const groups = new RestSnapshotGroups({ urls: rest.urls, ...(authToken !== undefined ? { authToken } : {}) });
      groupController = groupControllerHandlers(groups, log);
      snapshotMetadata = snapshotMetadataHandlers(groups, log);
    } else {
      log.warn('controller runs on the in-memory FakeControlPlane (--control-plane fake): volumes are not real');
      controller = controllerHandlers(new FakeControlPlane(), log);
    }
  }
  let node;
  let registration: RegistrationLoop | undefined;
  if (args.mode !== 'controller') {
    let initiatorName: string;
    try {
      initiatorName = await resolveInitiatorName({ given: args.initiatorName, attacher: args.attacher, nodeId: args.nodeId });
    } catch (err) {
      process.stderr.write(`berth-csi: ${(err as Error).message}\n`);
      process.exit(2);
    }
    const inner =
      args.attacher === 'userspace'
        ? new UserSpaceAttacher({ runner, stateDir: args.stateDir, initiatorName })
        : new IscsiadmAttacher({ runner });
    const attacher = args.localAttachEngine === undefined ? inner : new LocalFirstAttacher({
      inner, runner, engineApi: args.localAttachEngine, log, ...(authToken !== undefined ? { authToken } : {}),
    });
    const topology: Record<string, string> = args.zone ? { 'topology.berth.io/zone': args.zone } : {};
    const maxVolumes = args.maxVolumes ?? DEFAULT_MAX_VOLUMES_PER_NODE;
    node = (await createNodeService({ nodeId: args.nodeId, stateDir: args.stateDir, attacher, runner, topology, maxVolumes, log })).handlers;
    if (rest) {
      // With a control plane, pods' mounts (podInfoOnMount) are recorded there, and the
      // node registers where volumes can be attached (any node, compute-only too).
      node = withPodRecords(node, rest, args.nodeId, log);
      registration = startRegistration(rest, args.nodeId, { initiatorIqn: initiatorName, ...(args.zone ? { zone: args.zone } : {}), maxVolumes }, log);
    }
  }
  const identity = identityHandlers({
    controller: controller !== undefined, groupController: groupController !== undefined, snapshotMetadata: snapshotMetadata !== undefined && args.advertiseSnapshotMetadata, ready: async () => true,
  });
  const server = new CsiServer({ endpoint: args.endpoint, identity, controller, node, groupController, snapshotMetadata, log });
  await server.start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    registration?.stop();
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
