import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { silentLogger } from '../util/log.ts';
import { readChapSecrets } from './chap_secrets.ts';
import { controllerPublish } from './controller_publish.ts';
import { FakeControlPlane } from './fake_control_plane.ts';
import { KeyedLocks } from './csi_locks.ts';
import { DEFAULT_PARAMETERS } from './parameters.ts';
import { mapError } from './status_map.ts';

const SECRET = { chapUsername: 'pod-initiator', chapPassword: 'initiator-secret-1', chapMutualUsername: 'berth-target', chapMutualPassword: 'target-secret-22' };

describe('CHAP secrets', () => {
  it('reads the Secret\'s keys; empty values (the shipped example) mean no CHAP', () => {
    assert.deepEqual(readChapSecrets(SECRET, 'node-stage'), { username: 'pod-initiator', password: 'initiator-secret-1', mutualUsername: 'berth-target', mutualPassword: 'target-secret-22' });
    assert.deepEqual(readChapSecrets({ chapUsername: 'u', chapPassword: 'twelve-chars' }, 'node-stage'), { username: 'u', password: 'twelve-chars' });
    assert.equal(readChapSecrets({}, 'node-stage'), undefined);
    assert.equal(readChapSecrets({ chapUsername: '', chapPassword: '' }, 'controller-publish'), undefined);
  });

  it('refuses incomplete or weak credentials with INVALID_ARGUMENT naming keys, never values', () => {
    for (const [secrets, why] of [
      [{ chapUsername: 'u' }, /needs both chapUsername and chapPassword in the controller-publish secret/],
      [{ chapUsername: 'u', chapPassword: 'eleven-char' }, /chapPassword .* must be 12–255/],
      [{ chapUsername: 'u s', chapPassword: 'long-enough-pw' }, /chapUsername .* printable/],
      [{ chapUsername: 'u', chapPassword: 'long-enough-pw', chapMutualPassword: 'other-long-pw' }, /mutual CHAP needs both/],
      [{ chapUsername: 'u', chapPassword: 'long-enough-pw', chapMutualUsername: 't', chapMutualPassword: 'long-enough-pw' }, /must differ/],
    ] as const) {
      assert.throws(() => readChapSecrets(secrets, 'controller-publish'), (e: Error) => {
        assert.equal(mapError(e).code, status.INVALID_ARGUMENT);
        assert.match(e.message, why);
        assert.doesNotMatch(e.message, /eleven-char|long-enough-pw|other-long-pw/);
        return true;
      });
    }
  });
});

describe('ControllerPublishVolume with controller-publish secrets', () => {
  async function setup(): Promise<{ backend: FakeControlPlane; volumeId: string; publish: (secrets?: Record<string, string>) => Promise<Record<string, string>> }> {
    const backend = new FakeControlPlane();
    backend.addNode({ id: 'n1', segments: {}, freeBytes: 1 << 30 });
    const v = await backend.createVolume({ name: 'pvc-1', capacityBytes: 1 << 20, parameters: { ...DEFAULT_PARAMETERS, requiredTags: [], excludedTags: [] }, definingParameters: {} });
    const d = { backend, locks: new KeyedLocks(), log: silentLogger() };
    const cap = { mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '' }, access_type: 'mount' as const, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    const publish = async (secrets?: Record<string, string>) =>
      ((await controllerPublish(d, { volume_id: v.id, node_id: 'n1', volume_capability: cap, readonly: false, volume_context: {}, ...(secrets ? { secrets } : {}) })) as { publish_context: Record<string, string> }).publish_context;
    return { backend, volumeId: v.id, publish };
  }

  it('tells the node which CHAP the exports demand, and nothing of the secrets', async () => {
    const { publish } = await setup();
    const ctx = await publish(SECRET);
    assert.equal(ctx.chap, 'mutual');
    assert.doesNotMatch(JSON.stringify(ctx), /initiator-secret-1|target-secret-22/);
    const { publish: again } = await setup();
    assert.equal((await again({ chapUsername: 'u', chapPassword: 'one-way-secret' })).chap, 'oneway');
    const { publish: plain } = await setup();
    assert.equal((await plain()).chap, undefined);
  });

  it('refuses a bad controller-publish secret before calling the control plane', async () => {
    const { publish, backend } = await setup();
    await assert.rejects(publish({ chapUsername: 'u', chapPassword: 'short' }), (e: Error) => mapError(e).code === status.INVALID_ARGUMENT);
    assert.ok(!backend.calls.some((c) => c.startsWith('publish')));
  });
});
