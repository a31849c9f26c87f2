import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode } from '../util/errors.ts';
import { parseQuantity, parseVolumeParameters, volumeDefiningParameters } from './parameters.ts';

function problem(raw: Record<string, string>): string {
  try {
    parseVolumeParameters(raw);
  } catch (err) {
    assert.equal(errorCode(err), 'CSI_INVALID_ARGUMENT');
    return (err as Error).message;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

describe('StorageClass parameters', () => {
  it('defaults an empty class to one thick ext4 replica over iSCSI', () => {
    const p = parseVolumeParameters({});
    assert.deepEqual(p, { replicas: 1, fsType: 'ext4', thin: false, striping: false, encrypt: false, requiredTags: [], excludedTags: [], spreadStrict: false, transport: 'iscsi' });
  });

  it('reads every known key', () => {
    const p = parseVolumeParameters({
      replicas: '3', type: 'ssd', fsType: 'xfs', thin: 'TRUE', striping: 'false', encrypt: 'false',
      minVolumeSize: '1Gi', maxVolumeSize: '2T', requiredTags: 'nvme, fast ,nvme', excludedTags: 'old',
      storageGroup: 'rack-7', spreadStrict: 'true', transport: 'iscsi',
    });
    assert.equal(p.replicas, 3);
    assert.equal(p.media, 'ssd');
    assert.equal(p.fsType, 'xfs');
    assert.equal(p.thin, true);
    assert.equal(p.encrypt, false);
    assert.equal(p.minVolumeSize, 2 ** 30);
    assert.equal(p.maxVolumeSize, 2e12);
    assert.deepEqual(p.requiredTags, ['nvme', 'fast']);
    assert.deepEqual(p.excludedTags, ['old']);
    assert.equal(p.storageGroup, 'rack-7');
    assert.equal(p.spreadStrict, true);
  });

  it('explains each bad value', () => {
    assert.match(problem({ replicas: '0' }), /replicas: must be a whole number from 1 to 5 \(got "0"\)/);
    assert.match(problem({ replicas: '6' }), /replicas/);
    assert.match(problem({ replicas: '2.5' }), /replicas/);
    assert.match(problem({ type: 'nvme' }), /type: must be one of hdd, ssd, slice/);
    assert.match(problem({ fsType: 'btrfs' }), /fsType: must be one of ext4, xfs/);
    assert.match(problem({ thin: 'yes' }), /thin: must be true or false/);
    assert.match(problem({ minVolumeSize: '1 GB' }), /minVolumeSize: must be a size/);
    assert.match(problem({ minVolumeSize: '2Gi', maxVolumeSize: '1Gi' }), /minVolumeSize is larger than maxVolumeSize/);
    assert.match(problem({ requiredTags: 'a b' }), /tags must be/);
    assert.match(problem({ requiredTags: 'a', excludedTags: 'a' }), /both required and excluded: a/);
    assert.match(problem({ storageGroup: '-x' }), /storageGroup/);
    assert.match(problem({ transport: 'nvmf' }), /nvmf is not supported yet/);
    assert.match(problem({ transport: 'fc' }), /must be iscsi/);
  });

  it('refuses what nothing enforces yet instead of storing it (QoS, encryption, striping, slice media)', () => {
    assert.match(problem({ maxIops: '5000' }), /maxIops: QoS limits are not enforced by the Berth target yet/);
    assert.match(problem({ maxBandwidth: '200Mi' }), /maxBandwidth: QoS limits are not enforced/);
    assert.match(problem({ maxIops: '0' }), /maxIops: QoS limits are not enforced/);
    assert.match(problem({ encrypt: 'TRUE' }), /encrypt: encryption at rest is not implemented yet/);
    assert.match(problem({ striping: 'true' }), /striping: striping is not implemented yet/);
    assert.match(problem({ type: 'slice' }), /type: no pool serves slice media yet/);
    assert.match(problem({ maxIops: '1', replicas: '9' }), /maxIops.*replicas/, 'reported with the other problems, in one message');
    const off = parseVolumeParameters({ encrypt: 'false', striping: 'false', type: 'hdd' });
    assert.equal(off.encrypt, false);
    assert.equal(off.striping, false);
    assert.doesNotMatch(problem({ colour: 'red' }), /maxIops|maxBandwidth/);
  });

  it('rejects unknown keys but lets the sidecars\' csi.storage.k8s.io/ keys through', () => {
    assert.match(problem({ replica: '2' }), /unknown parameter "replica"; known: replicas/);
    assert.equal(parseVolumeParameters({ 'csi.storage.k8s.io/fstype': 'xfs', 'csi.storage.k8s.io/pvc/name': 'x' }).fsType, 'ext4');
  });

  it('reports every problem at once', () => {
    const m = problem({ replicas: '9', thin: 'maybe', colour: 'red' });
    assert.match(m, /replicas.*thin.*unknown parameter "colour"/);
  });

  it('is not fooled by keys inherited from Object.prototype', () => {
    assert.match(problem({ constructor: 'x', __proto__: 'y' } as Record<string, string>), /unknown parameter/);
  });

  it('compares classes without the sidecars\' keys', () => {
    assert.deepEqual(volumeDefiningParameters({ b: '1', 'csi.storage.k8s.io/pvc/name': 'n', a: '2' }), { a: '2', b: '1' });
  });

  it('reads Kubernetes quantities', () => {
    assert.equal(parseQuantity('10Gi'), 10 * 2 ** 30);
    assert.equal(parseQuantity('500M'), 5e8);
    assert.equal(parseQuantity('1.5Ki'), 1536);
    assert.equal(parseQuantity('4096'), 4096);
    for (const bad of ['', '0', '-1', '1GB', '1e9', 'Gi', '99999999999999999Pi']) assert.equal(parseQuantity(bad), undefined, bad);
  });
});
