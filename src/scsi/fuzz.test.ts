import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cdb as build, harness, nexus, task } from './testing.ts';
import { ScsiStatus } from './types.ts';

const STATUSES = new Set<number>(Object.values(ScsiStatus));
/** Opcodes the target implements, so random CDBs reach the handlers and not only the lookup. */
const OPCODES = [0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x16, 0x17, 0x1a, 0x1b, 0x25, 0x28, 0x2a, 0x2e, 0x2f, 0x34, 0x35,
  0x37, 0x41, 0x42, 0x48, 0x55, 0x56, 0x57, 0x5a, 0x5e, 0x5f, 0x83, 0x84, 0x88, 0x89, 0x8a, 0x8b, 0x8e, 0x8f, 0x90,
  0x91, 0x93, 0x9c, 0x9e, 0xa0, 0xa3, 0xa8, 0xaa, 0xae, 0xaf, 0xb7];

test('random CDBs and parameter data never make execute reject, and answer a valid status', async () => {
  const h = harness({ blockCount: 4096 });
  await h.run(build.tur());
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...OPCODES),
    fc.uint8Array({ minLength: 15, maxLength: 15 }),
    fc.option(fc.uint8Array({ maxLength: 2048 }), { nil: undefined }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 2 }),
    async (opcode, rest, data, attribute, lun) => {
      const cdb = Buffer.from([opcode, ...rest]);
      const out = data ? Buffer.from(data) : undefined;
      const r = await h.target.execute(task(cdb, nexus(1 + (rest[0] & 1)), lun, out, out?.length ?? rest[1] * 16, attribute));
      assert.ok(STATUSES.has(r.status), `status ${r.status}`);
      if (r.status === ScsiStatus.CHECK_CONDITION) {
        assert.equal(r.sense?.length, 18);
        // HARDWARE ERROR would mean a handler threw something it did not mean to.
        assert.notEqual(r.sense![2] & 0x0f, 0x4, `internal failure for ${cdb.toString('hex')} data ${out?.length}`);
      }
    },
  ), { numRuns: Number(process.env.BERTH_FUZZ_RUNS ?? 3000) });
});

/** Parameter-list commands with the length field matching the data, so the parsers see random lists. */
const PARAMETER_LISTS: ((length: number, sa: number) => number[])[] = [
  (n, sa) => [0x5f, sa & 7, (sa >> 3) & 0xff, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff, 0],
  (n) => [0x42, 0, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff, 0],
  (n) => [0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff, 0, 0],
  (n) => [0x15, 0x10, 0, 0, n & 0xff, 0],
  (n) => [0x55, 0x10, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff, 0],
  (n) => [0x48, 0x01, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff, 0],
];

test('random parameter lists never cause an internal failure', async () => {
  const h = harness({ blockCount: 4096 });
  await h.run(build.tur());
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 0, max: PARAMETER_LISTS.length - 1 }),
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ maxLength: 600 }),
    async (which, sa, bytes) => {
      const data = Buffer.from(bytes);
      if (which === 0 && data.length >= 16) data.writeUInt32BE(0, 8);
      const cdb = Buffer.from(PARAMETER_LISTS[which](data.length, sa));
      const r = await h.target.execute(task(cdb, nexus(1), 0, data));
      assert.ok(STATUSES.has(r.status));
      if (r.status === ScsiStatus.CHECK_CONDITION) assert.notEqual(r.sense![2] & 0x0f, 0x4, `internal failure for ${cdb.toString('hex')}`);
    },
  ), { numRuns: Number(process.env.BERTH_FUZZ_RUNS ?? 3000) });
});
