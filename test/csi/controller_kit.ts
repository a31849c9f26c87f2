/**
 * Starts the CSI Identity + Controller services on a real unix socket in a temp dir,
 * over a FakeControlPlane: an in-memory stand-in for the control plane REST API, which
 * does not exist yet. Three nodes in zones a, b, c with 100 GiB each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeControlPlane } from '../../src/csi/fake_control_plane.ts';
import { controllerHandlers } from '../../src/csi/controller.ts';
import { identityHandlers } from '../../src/csi/identity.ts';
import { CsiServer } from '../../src/csi/server.ts';
import { silentLogger } from '../../src/util/log.ts';
import { CsiClient } from './csi_client.ts';

export const GiB = 2 ** 30;
export const MiB = 2 ** 20;
export const ZONE_KEY = 'topology.berth.io/zone';

export interface ControllerKit {
  fake: FakeControlPlane;
  server: CsiServer;
  client: CsiClient;
  socketPath: string;
  close(): Promise<void>;
}

export async function startController(fake = new FakeControlPlane()): Promise<ControllerKit> {
  for (const zone of ['a', 'b', 'c']) {
    fake.addNode({ id: `node-${zone}`, segments: { [ZONE_KEY]: zone }, freeBytes: 100 * GiB, media: 'ssd', maxVolumes: 3, portal: `127.0.0.1:${3260}` });
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-csi-'));
  const socketPath = join(dir, 'csi.sock');
  const log = silentLogger();
  const server = new CsiServer({
    endpoint: `unix://${socketPath}`,
    identity: identityHandlers({ controller: true, ready: async () => true }),
    controller: controllerHandlers(fake, log),
    log,
  });
  await server.start();
  const client = new CsiClient(socketPath);
  return {
    fake,
    server,
    client,
    socketPath,
    async close() {
      client.close();
      await server.stop(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const mountCap = (mode = 'SINGLE_NODE_WRITER', fs_type = '') => ({ mount: { fs_type, mount_flags: [] }, access_mode: { mode } });
export const blockCap = (mode = 'SINGLE_NODE_WRITER') => ({ block: {}, access_mode: { mode } });

let seq = 0;
/** A CreateVolume request with a fresh name. */
export function createReq(over: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return {
    name: `pvc-${process.pid}-${seq}`,
    capacity_range: { required_bytes: String(GiB), limit_bytes: '0' },
    volume_capabilities: [mountCap()],
    parameters: { replicas: '2', fsType: 'ext4' },
    ...over,
  };
}
