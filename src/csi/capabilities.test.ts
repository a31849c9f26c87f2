import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AccessMode, capabilityProblem, decidePublish, readCapability, type Publication } from './capabilities.ts';

const mount = (mode: string, fs_type = '', mount_flags: string[] = []) => ({ access_type: 'mount' as const, mount: { fs_type, mount_flags, volume_mount_group: '' }, access_mode: { mode } });
const block = (mode: string) => ({ access_type: 'block' as const, block: {}, access_mode: { mode } });

describe('volume capabilities', () => {
  it('serves single-node modes, read-only sharing, and multi-writer only raw', () => {
    for (const m of ['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER', 'MULTI_NODE_READER_ONLY']) {
      assert.equal(capabilityProblem(mount(m, 'ext4')), undefined, m);
    }
    assert.match(capabilityProblem(mount('MULTI_NODE_MULTI_WRITER'))!, /one node only/);
    assert.equal(capabilityProblem(block('MULTI_NODE_MULTI_WRITER')), undefined);
    assert.match(capabilityProblem(block('MULTI_NODE_SINGLE_WRITER'))!, /not supported/);
    assert.match(capabilityProblem(mount('BOGUS'))!, /not a known mode/);
    assert.match(capabilityProblem(mount('SINGLE_NODE_WRITER', 'zfs'))!, /zfs/);
    assert.match(capabilityProblem(mount('SINGLE_NODE_WRITER', 'ext4', ['rbind']))!, /rbind/);
    assert.match(capabilityProblem({ access_mode: { mode: 'SINGLE_NODE_WRITER' } })!, /block or mount/);
  });

  it('readCapability names the field that is missing', () => {
    assert.throws(() => readCapability(undefined, 'volume_capability'), /volume_capability is required/);
    assert.throws(() => readCapability({ access_type: 'mount', mount: null }, 'vc'), /vc.access_mode is required/);
    assert.deepEqual(readCapability(mount('SINGLE_NODE_WRITER', 'xfs', ['noatime']), 'vc'), { kind: 'mount', mode: 'SINGLE_NODE_WRITER', fsType: 'xfs', mountFlags: ['noatime'] });
  });
});

describe('publish decisions (the spec table)', () => {
  const p = (nodeId: string, mode: AccessMode, readonly = false): Publication => ({ nodeId, mode, readonly });

  it('same node, same arguments: idempotent; other arguments: conflict', () => {
    assert.deepEqual(decidePublish([p('a', 'SINGLE_NODE_WRITER')], p('a', 'SINGLE_NODE_WRITER')), { kind: 'already' });
    assert.equal(decidePublish([p('a', 'SINGLE_NODE_WRITER')], p('a', 'SINGLE_NODE_WRITER', true)).kind, 'incompatible');
  });

  it('another node: only when every publication is multi-node', () => {
    assert.deepEqual(decidePublish([p('a', 'SINGLE_NODE_MULTI_WRITER')], p('b', 'SINGLE_NODE_MULTI_WRITER')), { kind: 'elsewhere', nodeIds: ['a'] });
    assert.equal(decidePublish([p('a', 'MULTI_NODE_READER_ONLY', true)], p('b', 'MULTI_NODE_READER_ONLY', true)).kind, 'publish');
    assert.equal(decidePublish([p('a', 'SINGLE_NODE_WRITER')], p('b', 'MULTI_NODE_READER_ONLY', true)).kind, 'elsewhere');
  });

  it('never lets two nodes hold a single-node volume (property)', () => {
    const modes = Object.values(AccessMode);
    fc.assert(
      fc.property(fc.array(fc.record({ node: fc.constantFrom('a', 'b', 'c'), mode: fc.constantFrom(...modes), ro: fc.boolean() }), { maxLength: 12 }), (ops) => {
        let pubs: Publication[] = [];
        for (const op of ops) {
          const d = decidePublish(pubs, p(op.node, op.mode, op.ro));
          if (d.kind === 'publish') pubs = [...pubs, p(op.node, op.mode, op.ro)];
        }
        const single = pubs.filter((x) => ['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER'].includes(x.mode));
        return single.length === 0 || pubs.length === 1;
      }),
    );
  });
});
