import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsiArgs } from './csi_args.ts';

describe('CSI plugin arguments', () => {
  it('reads the node mode with NODE_NAME from the environment', () => {
    const a = parseCsiArgs(['--mode', 'node', '--attacher', 'userspace', '--zone', 'z1'], { NODE_NAME: 'worker-1' });
    assert.equal(a.nodeId, 'worker-1');
    assert.equal(a.attacher, 'userspace');
    assert.equal(a.initiatorName, 'iqn.2025-01.io.berth:node-worker-1');
    assert.equal(a.endpoint, 'unix:///csi/csi.sock');
  });

  it('refuses what it cannot run', () => {
    assert.throws(() => parseCsiArgs(['--mode', 'both']), /--mode/);
    assert.throws(() => parseCsiArgs(['--mode', 'node']), /--node-id/);
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--control-plane', 'rest']), /only "fake"/);
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--bogus']), /bogus/);
    assert.throws(() => parseCsiArgs(['--mode', 'all', '--node-id', 'n', '--max-volumes', '0']), /max-volumes/);
  });
});
