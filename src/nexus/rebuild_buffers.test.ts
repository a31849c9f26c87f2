import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RebuildJob } from './rebuild_job.ts';
import { RebuildMap } from './rebuild_map.ts';
import { WriteIntentMap } from './write_intent_map.ts';
import { NexusIoGate } from './nexus_io_gate.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';

const BS = 4096;
const BLOCKS = (32 * 1024 * 1024) / BS; // four spans of eight 1 MiB chunks

/** Buffers (by their memory) currently lent to a read or a write, shared by source and target. */
class Lending {
  readonly busy = new Set<ArrayBufferLike>();
  readonly seen = new Set<ArrayBufferLike>();
  clash = '';

  take(buf: Buffer, who: string): void {
    if (this.busy.has(buf.buffer)) this.clash ||= `${who} got a buffer still in use`;
    this.busy.add(buf.buffer);
    this.seen.add(buf.buffer);
  }
}

/** A source with readInto; its promise settles only once the copy into dest is done. */
class IntoSource extends TestDevice {
  readonly lending: Lending;
  intoCalls = 0;
  constructor(lending: Lending) { super(BLOCKS, BS); this.lending = lending; }
  readInto(lba: number, count: number, dest: Buffer): Promise<void> {
    this.intoCalls++;
    this.lending.take(dest, 'readInto');
    return this.read(lba, count).then((b) => { b.copy(dest); }).finally(() => this.lending.busy.delete(dest.buffer));
  }
}

/** A target that may declare releasesWriteBuffers and holds each write's buffer until it settles. */
class HoldingTarget extends TestDevice {
  readonly releasesWriteBuffers: boolean;
  readonly lending: Lending;
  /** Write data that reached a failing write, by memory. */
  readonly failedWith: ArrayBufferLike[] = [];
  failAt = -1;
  constructor(lending: Lending, releases: boolean) { super(BLOCKS, BS); this.lending = lending; this.releasesWriteBuffers = releases; }
  override write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    this.lending.take(data, 'write');
    if (lba === this.failAt) {
      this.failedWith.push(data.buffer);
      return new Promise<void>((_, reject) => setTimeout(() => reject(new Error('injected target failure')), 2));
    }
    return super.write(lba, data, fua).finally(() => this.lending.busy.delete(data.buffer));
  }
}

function job(source: TestDevice, target: TestDevice, parallel: number): RebuildJob {
  const intents = new WriteIntentMap(BLOCKS, 64);
  intents.markAll();
  return new RebuildJob({ source, target, map: new RebuildMap(intents), gate: new NexusIoGate(), blankTarget: true, parallel });
}

async function fill(source: TestDevice): Promise<void> {
  for (let lba = 0; lba < BLOCKS; lba += 256) await source.write(lba, pattern(lba, 256, BS, 7), false);
}

function spare(j: RebuildJob): Buffer[] { return (j as unknown as { spare: Buffer[] }).spare; }

test('rebuild_buffers: chunks are read into recycled buffers, each reused only after its target write settled', async () => {
  const lending = new Lending();
  const source = new IntoSource(lending);
  const target = new HoldingTarget(lending, true);
  await fill(source);
  source.latency = () => Math.floor(Math.random() * 3);
  target.latency = () => Math.floor(Math.random() * 3);
  await job(source, target, 2).run();
  assert.equal(lending.clash, '');
  assert.ok(target.data.equals(source.data));
  assert.equal(source.intoCalls, 32, 'every chunk went through readInto');
  assert.ok(lending.seen.size <= 16, `${lending.seen.size} buffers for 32 chunks with two spans in flight`);
});

test('rebuild_buffers: a target that may keep write buffers gets a fresh one per chunk', async () => {
  const lending = new Lending();
  const source = new IntoSource(lending);
  const target = new HoldingTarget(lending, false);
  await fill(source);
  await job(source, target, 2).run();
  assert.ok(target.data.equals(source.data));
  assert.equal(lending.seen.size, 32);
});

test('rebuild_buffers: the buffer of a failed target write is never recycled', async () => {
  const lending = new Lending();
  const source = new IntoSource(lending);
  const target = new HoldingTarget(lending, true);
  await fill(source);
  target.failAt = BLOCKS / 2 + 256; // a chunk of the third span: the first two recycled theirs
  const j = job(source, target, 1);
  await assert.rejects(j.run(), { code: 'REBUILD_TARGET_FAILED' });
  assert.equal(target.failedWith.length, 1);
  assert.ok(spare(j).length > 0, 'the successful chunks were recycled');
  assert.ok(!spare(j).some((b) => b.buffer === target.failedWith[0]), 'the failed write\'s buffer went back to the pool');
  assert.equal(lending.clash, '');
});

test('rebuild_buffers: a source without readInto is read with read, and nothing is pooled', async () => {
  const lending = new Lending();
  const source = new TestDevice(BLOCKS, BS);
  const target = new HoldingTarget(lending, true);
  await fill(source);
  const j = job(source, target, 2);
  await j.run();
  assert.ok(target.data.equals(source.data));
  assert.equal(spare(j).length, 0);
});
