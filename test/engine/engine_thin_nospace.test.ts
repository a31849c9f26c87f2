/**
 * A thin pool running out of space: writes that need a new extent fail with DATA
 * PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (27/07) — qemu's iSCSI driver turns
 * exactly that sense into ENOSPC — while other volumes keep working on their extents,
 * and space given back (UNMAP via qemu-io discard, or deleting a volume) is usable again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from '../helpers/engine_process.ts';
import { assertQemuOk, call, ok, provision, qemuIo, GiB, MiB } from './engine_kit.ts';

interface PoolDoc {
  condition: string;
  reason?: string;
  freeBytes: number;
  usedBytes: number;
  capacityBytes: number;
}

test('thin out-of-space is a precise error, contained, and recoverable', async () => {
  const engine = await startEngine();
  try {
    const api = engine.api;
    const extent = MiB;
    const big = (await provision(api, { pool: 'tiny', poolBytes: 96 * MiB, extentSize: extent, volume: 'big', volumeBytes: GiB }))!;
    const small = (await provision(api, { pool: 'tiny', createPool: false, volume: 'small', volumeBytes: 32 * MiB }))!;
    assertQemuOk(await qemuIo(small.url, ['write -P 0x5a 0 4M', 'flush']), 'the small volume takes 4 MiB first');

    const fill = await qemuIo(big.url, ['write -P 0xb1 0 200M'], { timeoutMs: 120_000 });
    assert.match(fill.stdout + fill.stderr, /No space left on device/, `expected ENOSPC (27/07)\n${fill.stdout}${fill.stderr}`);
    const full = await ok<PoolDoc>(api, 'GET', '/v1/pools/tiny');
    assert.ok(full.freeBytes < extent, `pool is full (free ${full.freeBytes})`);
    assert.equal(full.condition, 'full', 'a pool out of extents says so');
    assert.equal(full.reason, 'no free extents left in the pool');
    assert.ok((await call(api, 'GET', '/metrics')).text.split('\n').includes('berth_pool_condition{pool="tiny",condition="full"} 1'));

    // The other volume still reads and rewrites what it owns.
    assertQemuOk(await qemuIo(small.url, ['read -P 0x5a 0 4M', 'write -P 0x5b 0 4M', 'read -P 0x5b 0 4M']), 'small volume in a full pool');
    // Engine and API are fine.
    assert.equal((await ok(api, 'GET', '/v1/health')).status, 'ok');

    // UNMAP gives extents back; writes to the big volume work again.
    assertQemuOk(await qemuIo(big.url, ['discard 0 200M']), 'discard');
    const freed = await ok<PoolDoc>(api, 'GET', '/v1/pools/tiny');
    assert.ok(freed.freeBytes >= 32 * MiB, `discard freed space (free ${freed.freeBytes})`);
    assert.equal(freed.condition, 'ok');
    const log = engine.diagnostics();
    assert.equal(log.split('\n').filter((l) => l.includes('"msg":"pool is full"')).length, 1, 'one line when it filled');
    assert.equal(log.split('\n').filter((l) => l.includes('"msg":"pool can allocate again"')).length, 1, 'one when it had room again');
    assertQemuOk(await qemuIo(big.url, ['write -P 0xb2 0 8M', 'read -P 0xb2 0 8M', 'read -P 0 8M 8M']), 'writable after discard');

    // Fill again, then delete the big volume: the small one can grow into the space.
    const again = await qemuIo(big.url, ['write -P 0xb3 0 200M'], { timeoutMs: 120_000 });
    assert.match(again.stdout + again.stderr, /No space left on device/);
    const stuck = await qemuIo(small.url, ['write -P 0x5c 8M 4M']);
    assert.match(stuck.stdout + stuck.stderr, /No space left on device/, 'a new extent for the small volume is refused too');
    await ok(api, 'DELETE', '/v1/exports/tiny/big');
    await ok(api, 'DELETE', '/v1/pools/tiny/volumes/big');
    assertQemuOk(await qemuIo(small.url, ['write -P 0x5c 8M 4M', 'read -P 0x5c 8M 4M', 'read -P 0x5b 0 4M']), 'after delete');
  } finally {
    await engine.stop();
  }
});
