import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsiArgs } from './csi_args.ts';

describe('CSI plugin arguments', () => {
  it('reads the node mode with NODE_NAME from the environment', () => {
    const a = parseCsiArgs(['--mode', 'node', '--attacher', 'userspace', '--zone', 'z1'], { NODE_NAME: 'worker-1' });
    assert.equal(a.nodeId, 'worker-1');
    assert.equal(a.attacher, 'userspace');
    assert.equal(a.initiatorName, undefined);
    assert.equal(parseCsiArgs(['--mode', 'node', '--node-id', 'n', '--initiator-name', 'iqn.2026-01.x:y']).initiatorName, 'iqn.2026-01.x:y');
    assert.equal(a.endpoint, 'unix:///csi/csi.sock');
  });

  it('takes fake or a list of control-plane URLs', () => {
    assert.deepEqual(parseCsiArgs(['--mode', 'controller']).controlPlane, { kind: 'fake' });
    assert.deepEqual(parseCsiArgs(['--mode', 'controller', '--control-plane=http://berth-control:9600']).controlPlane, { kind: 'rest', urls: ['http://berth-control:9600'] });
    assert.deepEqual(parseCsiArgs(['--mode', 'controller', '--control-plane', 'https://a:1/, http://10.0.0.2:9600']).controlPlane, {
      kind: 'rest',
      urls: ['https://a:1', 'http://10.0.0.2:9600'],
    });
  });

  it('takes this node\'s engine for local attaches from the flag or the environment; empty is off', () => {
    assert.equal(parseCsiArgs(['--mode', 'node', '--node-id', 'n']).localAttachEngine, undefined);
    assert.equal(parseCsiArgs(['--mode', 'node', '--node-id', 'n', '--local-attach-engine', 'http://10.0.0.5:9500/']).localAttachEngine, 'http://10.0.0.5:9500');
    assert.equal(parseCsiArgs(['--mode', 'node', '--node-id', 'n'], { BERTH_CSI_LOCAL_ATTACH_ENGINE: 'http://127.0.0.1:9500' }).localAttachEngine, 'http://127.0.0.1:9500');
    assert.equal(parseCsiArgs(['--mode', 'node', '--node-id', 'n'], { BERTH_CSI_LOCAL_ATTACH_ENGINE: '' }).localAttachEngine, undefined);
    assert.throws(() => parseCsiArgs(['--mode', 'node', '--node-id', 'n', '--local-attach-engine', 'http://u:pw@e:9500']), (e: Error) => /credentials/.test(e.message) && !e.message.includes('pw'));
    assert.throws(() => parseCsiArgs(['--mode', 'node', '--node-id', 'n', '--local-attach-engine', 'engine']), /not a URL/);
  });

  it('refuses what it cannot run', () => {
    assert.throws(() => parseCsiArgs(['--mode', 'both']), /--mode/);
    assert.throws(() => parseCsiArgs(['--mode', 'node']), /--node-id/);
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--control-plane', 'rest']), /not a URL/);
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--control-plane', 'ftp://cp:21']), /not http or https/);
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--control-plane', 'http://u:secret@cp:9600']), (e: Error) => /credentials/.test(e.message) && !e.message.includes('secret'));
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--control-plane', ',']), /no URL/);
    assert.throws(() => parseCsiArgs(['--mode', 'controller', '--bogus']), /bogus/);
    assert.throws(() => parseCsiArgs(['--mode', 'all', '--node-id', 'n', '--max-volumes', '0']), /max-volumes/);
  });
});
