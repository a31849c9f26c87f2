import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import { CHILD_IO_KINDS } from './nexus_child.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';

const slot = (k: (typeof CHILD_IO_KINDS)[number]): number => CHILD_IO_KINDS.indexOf(k);

test('each child counts the writes, unmaps and flushes mirrored to it and the reads it served', async () => {
  const devs = [new TestDevice(256), new TestDevice(256)];
  const nexus = await Nexus.create({ name: 'v', generation: 1, children: devs.map((device, i) => ({ name: `r${i}`, device })), regionBytes: 64 * 1024, opTimeoutMs: 2000 });
  try {
    await nexus.write(0, pattern(0, 8, 512, 1), false);
    await nexus.unmap(8, 4);
    await nexus.flush();
    await nexus.read(0, 8);
    await nexus.read(0, 2);
    const kids = nexus.children();
    for (const c of kids) {
      assert.equal(c.ioOps[slot('write')], 1, c.name);
      assert.equal(c.ioBytes[slot('write')], 8 * 512);
      assert.equal(c.ioOps[slot('unmap')], 1);
      assert.equal(c.ioBytes[slot('unmap')], 4 * 512);
      assert.equal(c.ioOps[slot('flush')], 1);
    }
    // Reads are balanced: each goes to one child, so the children's reads add up to the nexus's.
    assert.equal(kids[0].ioOps[slot('read')] + kids[1].ioOps[slot('read')], 2);
    assert.equal(kids[0].ioBytes[slot('read')] + kids[1].ioBytes[slot('read')], 10 * 512);
  } finally {
    nexus.close();
  }
});
