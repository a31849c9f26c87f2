import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PoolOwnership, type OwnerClock, type OwnershipOptions } from './pool_owner.ts';
import type { OwnerBlockIo } from './pool_owner_io.ts';
import { decodeOwnerRecord, encodeOwnerRecord, OWNER_RECORD_BYTES, OWNER_RECORD_OFFSET, OwnerState } from './pool_owner_record.ts';
import { IMPORT_WAIT_INTERVALS, LEASE_INTERVALS } from './pool_owner_policy.ts';
import type { ProcessIdentity } from './host_identity.ts';
import { errorCode } from '../util/errors.ts';
import { POOL_FORMAT_VERSION } from './pool_layout.ts';

/** Virtual time: nothing here depends on how fast the machine is. */
class FakeClock implements OwnerClock {
  t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  now(): number { return this.t; }
  after(ms: number, fn: () => void): () => void {
    const e = { at: this.t + ms, fn };
    this.timers.push(e);
    return () => { this.timers = this.timers.filter((x) => x !== e); };
  }
  sleep(ms: number): Promise<void> { return new Promise((r) => this.after(ms, r)); }
  /** Fires every timer due up to now+ms, in order, letting promise chains settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** One shared "device": every owner reads and writes the same 4 KiB. */
function sharedBlock(): { block: Buffer; io: () => OwnerBlockIo } {
  const block = Buffer.alloc(4096);
  return {
    block,
    io: () => ({
      read: async () => Buffer.from(block),
      write: async (b) => { b.copy(block); },
      writeHead: async (b) => { b.copy(block, 0, 0, 512); },
      close: async () => undefined,
    }),
  };
}

const POOL = randomUUID();
const BOOT = randomUUID();
const hostA: ProcessIdentity = { host: 'a', bootId: BOOT, pidNs: 1, pid: 100, pidStart: 5 };
/** Another pid namespace (another host, as far as liveness goes). */
const hostB: ProcessIdentity = { host: 'b', bootId: randomUUID(), pidNs: 2, pid: 200, pidStart: 7 };

function opts(clock: FakeClock, identity: ProcessIdentity, extra: Partial<OwnershipOptions> = {}): OwnershipOptions {
  return { clock, identity, intervalMs: 100, nodeId: identity.host, ...extra };
}

const record = (block: Buffer) => decodeOwnerRecord(block.subarray(OWNER_RECORD_OFFSET, OWNER_RECORD_OFFSET + OWNER_RECORD_BYTES));

test('owner record: round trip; a flipped byte reads as no record', () => {
  const r = {
    poolUuid: POOL, state: OwnerState.held, instance: randomUUID(), seq: 42, wallMs: 1_700_000_000_000, intervalMs: 1000,
    pid: 4321, pidStart: 99, bootId: BOOT, pidNs: 4026531836, host: 'node-1.example', nodeId: 'node-1',
  } as const;
  const buf = encodeOwnerRecord(r);
  assert.deepEqual(decodeOwnerRecord(buf), r);
  for (let i = 0; i < OWNER_RECORD_BYTES; i += 7) {
    const bad = Buffer.from(buf);
    bad[i] ^= 0x10;
    assert.equal(decodeOwnerRecord(bad), null, `byte ${i}`);
  }
  assert.equal(decodeOwnerRecord(Buffer.alloc(OWNER_RECORD_BYTES)), null);
});

test('a beating holder we cannot ask about is never taken over: POOL_IN_USE names it', async () => {
  const clock = new FakeClock();
  const dev = sharedBlock();
  const a = await PoolOwnership.claimNew(dev.io(), POOL, opts(clock, hostA));
  const b = PoolOwnership.acquire(dev.io(), POOL, opts(clock, hostB));
  const outcome = b.then(() => 'owned', (e: unknown) => e);
  await clock.advance(IMPORT_WAIT_INTERVALS * 100 * 3);
  const err = await outcome;
  assert.equal(errorCode(err), 'POOL_IN_USE');
  assert.match((err as Error).message, /engine a on a \(pid 100\)/);
  assert.equal(record(dev.block)?.instance, a.instance, 'the holder keeps its record');
  assert.equal(a.lost, null);
  await a.release();
});

test('a silent holder is taken over only after the bounded wait; when it wakes it stops', async () => {
  // A and B have clocks of their own: A's never advances while B waits, as if A were SIGSTOPped.
  const aClock = new FakeClock();
  const bClock = new FakeClock();
  const dev = sharedBlock();
  const aIo = dev.io();
  let aWrites = 0;
  const a = await PoolOwnership.claimNew({ ...aIo, write: async (blk) => { aWrites++; await aIo.write(blk); } }, POOL, opts(aClock, hostA));
  const b = PoolOwnership.acquire(dev.io(), POOL, opts(bClock, hostB));
  let owned = false;
  b.then(() => { owned = true; }, () => undefined);
  await bClock.advance(IMPORT_WAIT_INTERVALS * 100 - 1);
  assert.equal(owned, false, 'no takeover before the wait is over');
  await bClock.advance(1000);
  const bOwner = await b;
  assert.equal(record(dev.block)?.instance, bOwner.instance);
  // A wakes: its lease ran out long ago, so its next write asks for a beat first, which finds B.
  const writesBefore = aWrites;
  aClock.t += 10_000;
  assert.ok(aClock.now() >= a.leaseUntil, 'the lease is over after the pause');
  const err = await new Promise((r) => a.renew(r));
  assert.equal(errorCode(err), 'DEVICE_GONE');
  assert.match(String((err as Error).message), /engine b on b/);
  assert.equal(aWrites, writesBefore, 'the woken holder wrote nothing, not even a heartbeat');
  assert.equal(record(dev.block)?.instance, bOwner.instance);
  await bClock.advance(1000);
  assert.equal(bOwner.lost, null);
  await bOwner.release();
  await a.release();
});

test('same host: a live holder is refused at once, a dead one taken over without the wait', async () => {
  const clock = new FakeClock();
  const dev = sharedBlock();
  const a = await PoolOwnership.claimNew(dev.io(), POOL, opts(clock, hostA));
  await a.abandon();
  const alive = PoolOwnership.acquire(dev.io(), POOL, opts(clock, { ...hostA, pid: 300 }, { isAlive: () => true }));
  await assert.rejects(alive, (e) => errorCode(e) === 'POOL_IN_USE' && /running on this host/.test((e as Error).message));
  const start = clock.now();
  const taking = PoolOwnership.acquire(dev.io(), POOL, opts(clock, { ...hostA, pid: 300 }, { isAlive: () => false }));
  await clock.advance(250);
  const c = await taking;
  assert.ok(clock.now() - start < IMPORT_WAIT_INTERVALS * 100, 'no heartbeat wait for a holder the kernel says is gone');
  assert.equal(record(dev.block)?.instance, c.instance);
  await c.release();
  assert.equal(record(dev.block)?.state, OwnerState.released);
});

test('two importers racing for a free pool: exactly one wins', async () => {
  for (let skew = 0; skew <= 150; skew += 50) {
    const clock = new FakeClock();
    const dev = sharedBlock();
    const results: string[] = [];
    const go = (id: ProcessIdentity) => PoolOwnership.acquire(dev.io(), POOL, opts(clock, id))
      .then((o) => { results.push('owned'); return o; }, (e: unknown) => { results.push(errorCode(e) ?? String(e)); return null; });
    const first = go(hostA);
    await clock.advance(skew);
    const second = go(hostB);
    await clock.advance(5000);
    const owners = (await Promise.all([first, second])).filter((o) => o !== null);
    assert.deepEqual(results.sort(), ['POOL_IN_USE', 'owned'], `skew ${skew}`);
    // The winner keeps beating for many intervals without losing the pool.
    await clock.advance(2000);
    assert.equal(owners[0]!.lost, null);
    assert.equal(record(dev.block)?.instance, owners[0]!.instance);
    await owners[0]!.release();
  }
});

test('the lease: writes go ahead for LEASE_INTERVALS after a beat, then wait for the next one', async () => {
  const clock = new FakeClock();
  const dev = sharedBlock();
  const a = await PoolOwnership.claimNew(dev.io(), POOL, opts(clock, hostA));
  await clock.advance(100);
  assert.ok(a.leaseUntil > clock.now() && a.leaseUntil <= clock.now() + LEASE_INTERVALS * 100);
  const seq = record(dev.block)!.seq;
  clock.t = a.leaseUntil + 1; // a pause: no timer ran
  const err = await new Promise((r) => a.renew(r));
  assert.equal(err, null);
  assert.ok(record(dev.block)!.seq > seq, 'renewing wrote a beat');
  assert.ok(a.leaseUntil > clock.now());
  await a.release();
});

test('an import whose lease runs out while it upgrades the superblock finishes (no beat waits on a write that waits on a beat)', async (t) => {
  const { tempDir } = await import('./pool_test_util.ts');
  const { Pool } = await import('./pool.ts');
  const { decodeSuperblock, encodeSuperblock } = await import('./pool_superblock.ts');
  const fs = await import('node:fs');
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = `${dir}/p`;
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 32 * 1024 * 1024, extentSize: 64 * 1024 });
  await pool.createVolume({ name: 'v', sizeBytes: 1024 * 1024 });
  await pool.close();
  const fd = fs.openSync(file, 'r+');
  const sb = Buffer.alloc(4096);
  fs.readSync(fd, sb, 0, 4096, 0);
  const v2 = encodeSuperblock({ ...decodeSuperblock(sb), formatVersion: 2 });
  fs.writeSync(fd, v2, 0, 4096, 0);
  fs.writeSync(fd, v2, 0, 4096, 4096);
  fs.closeSync(fd);
  // A clock far in the past: every lease this ownership grants has already run out, so every write asks for a beat.
  const real = (await import('./pool_owner.ts')).realClock;
  const stale: OwnerClock = { now: () => -1e12, sleep: (ms) => real.sleep(ms), after: (ms, fn) => real.after(ms, fn) };
  const again = await Pool.import(file, { ownership: { clock: stale, intervalMs: 10 } });
  assert.equal(again.info().formatVersion, POOL_FORMAT_VERSION);
  await again.openVolume('v').write(0, Buffer.alloc(512, 7), true);
  await again.close();
});
