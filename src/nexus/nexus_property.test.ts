import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Nexus } from './nexus.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';
import type { RebuildOutcome } from './nexus_options.ts';

const BLOCKS = 1024;
const BS = 512;

type Cmd =
  | { t: 'writes'; ranges: Array<[number, number]> }
  | { t: 'unmap'; lba: number; count: number }
  | { t: 'read'; lba: number; count: number }
  | { t: 'fail'; child: number }
  | { t: 'return'; child: number };

const range = fc.tuple(fc.nat(BLOCKS - 1), fc.integer({ min: 1, max: 40 }));
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('writes' as const), ranges: fc.array(range, { minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('unmap' as const), lba: fc.nat(BLOCKS - 1), count: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('read' as const), lba: fc.nat(BLOCKS - 1), count: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fail' as const), child: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('return' as const), child: fc.nat(2) }) },
);

/** Drops ranges that overlap an earlier one in the batch: concurrent overlapping writes have no defined order. */
function disjoint(ranges: Array<[number, number]>): Array<[number, number]> {
  const taken = new Uint8Array(BLOCKS);
  const out: Array<[number, number]> = [];
  for (const [lba, c] of ranges) {
    const count = Math.min(c, BLOCKS - lba);
    if (taken.subarray(lba, lba + count).some((b) => b)) continue;
    taken.fill(1, lba, lba + count);
    out.push([lba, count]);
  }
  return out;
}

test('nexus property: under random writes, failures and returns, reads match the model and in-sync children converge', async () => {
  await fc.assert(fc.asyncProperty(fc.array(cmd, { minLength: 5, maxLength: 40 }), async (cmds) => {
    const devs = [0, 1, 2].map(() => {
      const d = new TestDevice(BLOCKS, BS);
      d.latency = () => (Math.random() < 0.5 ? 0 : 1);
      return d;
    });
    const nexus = await Nexus.create({
      name: 'p', generation: 1, regionBytes: 16 * 1024, rebuildParallel: 2,
      children: devs.map((device, i) => ({ name: `c${i}`, device })),
    });
    const model = Buffer.alloc(BLOCKS * BS);
    const rebuilds: Array<Promise<RebuildOutcome>> = [];
    let version = 1;
    try {
      for (const c of cmds) {
        const info = nexus.children();
        if (c.t === 'writes') {
          await Promise.all(disjoint(c.ranges).map(async ([lba, count]) => {
            const data = pattern(lba, count, BS, version++);
            await nexus.write(lba, data, false);
            data.copy(model, lba * BS);
          }));
        } else if (c.t === 'unmap') {
          const count = Math.min(c.count, BLOCKS - c.lba);
          await nexus.unmap(c.lba, count);
          model.fill(0, c.lba * BS, (c.lba + count) * BS);
        } else if (c.t === 'read') {
          const count = Math.min(c.count, BLOCKS - c.lba);
          assert.ok((await nexus.read(c.lba, count)).equals(model.subarray(c.lba * BS, (c.lba + count) * BS)), 'read differs from model');
        } else if (c.t === 'fail') {
          // Keep one healthy online child so the volume must stay error-free.
          const healthy = info.filter((ch, i) => ch.state === 'online' && devs[i].mode === 'ok').length;
          if (healthy >= 2 && devs[c.child].mode === 'ok') devs[c.child].mode = 'error';
        } else if (info[c.child].state === 'faulted') {
          devs[c.child].mode = 'ok';
          const { done } = await nexus.addChild({ name: `c${c.child}`, device: devs[c.child] });
          rebuilds.push(done);
        }
      }
      await Promise.all(rebuilds);
      await nexus.flush();
      assert.notEqual(nexus.state, 'faulted');
      nexus.children().forEach((ch, i) => {
        if (ch.state === 'online') assert.ok(devs[i].data.equals(model), `online child c${i} differs from the model`);
      });
    } finally {
      nexus.close();
    }
  }), { numRuns: 40 });
});
