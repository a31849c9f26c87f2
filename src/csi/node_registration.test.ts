import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../util/log.ts';
import { generatedInitiatorName, parseInitiatorNameFile, resolveInitiatorName, startRegistration, type AttachRegistration } from './node_registration.ts';

describe('node plugin registration', () => {
  it('reads open-iscsi\'s initiator name, else takes the flag or generates one', async () => {
    assert.equal(parseInitiatorNameFile('## DO NOT EDIT\n# InitiatorName=iqn.bogus\nInitiatorName=iqn.1993-08.org.debian:01:abc\n'), 'iqn.1993-08.org.debian:01:abc');
    assert.equal(parseInitiatorNameFile('nothing here'), undefined);
    const file = async () => 'InitiatorName=iqn.1993-08.org.debian:01:host\n';
    assert.equal(await resolveInitiatorName({ given: undefined, attacher: 'iscsiadm', nodeId: 'w1' }, file), 'iqn.1993-08.org.debian:01:host');
    assert.equal(await resolveInitiatorName({ given: 'iqn.2026-01.x:y', attacher: 'iscsiadm', nodeId: 'w1' }, file), 'iqn.2026-01.x:y');
    assert.equal(await resolveInitiatorName({ given: undefined, attacher: 'userspace', nodeId: 'Compute_1' }, file), 'iqn.2025-01.io.berth:node-compute-1');
    await assert.rejects(resolveInitiatorName({ given: undefined, attacher: 'iscsiadm', nodeId: 'w1' }, async () => { throw new Error('ENOENT'); }), /open-iscsi/);
    assert.match(generatedInitiatorName('node-a'), /^iqn\.2025-01\.io\.berth:node-node-a$/);
  });

  it('registers at start, retries while the control plane is down, and stops', async () => {
    const calls: [string, AttachRegistration][] = [];
    let failures = 2;
    const registrar = {
      registerNode: async (nodeId: string, reg: AttachRegistration) => {
        calls.push([nodeId, reg]);
        if (failures-- > 0) throw new Error('connection refused');
      },
    };
    const loop = startRegistration(registrar, 'compute-1', { initiatorIqn: 'iqn.2026-01.x:c1', maxVolumes: 4 }, silentLogger(), { retryMs: 1, refreshMs: 60_000 });
    await loop.registered;
    loop.stop();
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[2], ['compute-1', { initiatorIqn: 'iqn.2026-01.x:c1', maxVolumes: 4 }]);
  });
});
