import test from 'node:test';
import assert from 'node:assert/strict';
import { FlushGroup } from './pool_flush_group.ts';

/** A FlushGroup over a fake fdatasync that the test finishes by hand. */
function harness(): { g: FlushGroup; syncs: ((err: unknown) => void)[]; settled: (p: Promise<void>) => () => string } {
  const syncs: ((err: unknown) => void)[] = [];
  const g = new FlushGroup((done) => syncs.push(done));
  const settled = (p: Promise<void>): (() => string) => {
    let state = 'pending';
    p.then(() => { state = 'resolved'; }, (e: Error) => { state = `rejected: ${e.message}`; });
    return () => state;
  };
  return { g, syncs, settled };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a flush with no write since the last finished sync resolves without a sync', async () => {
  const { g, syncs, settled } = harness();
  const first = settled(g.flush());
  assert.equal(syncs.length, 1, 'a file just opened may hold a dead process\'s dirty pages: the first flush syncs');
  syncs[0](null);
  await tick();
  assert.equal(first(), 'resolved');
  const idle = settled(g.flush());
  await tick();
  assert.equal(idle(), 'resolved');
  assert.equal(syncs.length, 1);
  g.writeCompleted();
  const second = settled(g.flush());
  assert.equal(syncs.length, 2);
  syncs[1](null);
  await tick();
  assert.equal(second(), 'resolved');
  const third = settled(g.flush());
  await tick();
  assert.equal(syncs.length, 2, 'nothing written since the sync finished: no new sync');
  assert.equal(third(), 'resolved');
});

test('a flush arriving during a sync after a write completed waits for a sync that started after it', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const a = settled(g.flush());
  assert.equal(syncs.length, 1);
  g.writeCompleted(); // completed after sync #1 started: #1 may not hold it
  const b = settled(g.flush());
  assert.equal(syncs.length, 1, 'only one fdatasync at a time');
  syncs[0](null);
  await tick();
  assert.equal(a(), 'resolved');
  assert.equal(b(), 'pending', 'b must not be acknowledged by the sync that began before its write completed');
  assert.equal(syncs.length, 2, 'the next sync starts as soon as the running one ends');
  syncs[1](null);
  await tick();
  assert.equal(b(), 'resolved');
});

test('flushes queued behind a running sync share one next sync', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const first = settled(g.flush());
  g.writeCompleted();
  const queued = [settled(g.flush()), settled(g.flush())];
  g.writeCompleted();
  queued.push(settled(g.flush()));
  syncs[0](null);
  await tick();
  assert.equal(first(), 'resolved');
  assert.equal(syncs.length, 2);
  syncs[1](null);
  await tick();
  assert.deepEqual(queued.map((s) => s()), ['resolved', 'resolved', 'resolved']);
  assert.equal(syncs.length, 2);
});

test('a flush arriving during a sync with no write completed since it started joins it', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const a = settled(g.flush());
  const b = settled(g.flush());
  syncs[0](null);
  await tick();
  assert.deepEqual([a(), b()], ['resolved', 'resolved']);
  assert.equal(syncs.length, 1);
});

test('a failed sync fails its flushes, covers nothing, and fails every later flush without syncing', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const a = settled(g.flush());
  syncs[0](new Error('EIO'));
  await tick();
  assert.equal(a(), 'rejected: EIO');
  assert.equal(g.clean, false);
  assert.equal((g.failed as Error).message, 'EIO');
  // Linux reports a writeback error once: a second fdatasync could succeed without the
  // lost pages, so neither a flush nor a fresh sync may be answered by one.
  const b = settled(g.flush());
  const c = settled(g.fresh());
  g.writeCompleted();
  const d = settled(g.flush());
  await tick();
  assert.deepEqual([b(), c(), d()], ['rejected: EIO', 'rejected: EIO', 'rejected: EIO']);
  assert.equal(syncs.length, 1, 'no fdatasync after the failure');
  assert.equal(g.anticipate(), false);
});

test('a failed sync fails the flushes queued behind it too', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const a = settled(g.flush());
  g.writeCompleted();
  const b = settled(g.flush());
  syncs[0](new Error('EIO'));
  await tick();
  assert.equal(a(), 'rejected: EIO');
  assert.equal(b(), 'rejected: EIO', 'its write may have been in the failed writeback');
  assert.equal(syncs.length, 1);
});

test('an anticipated sync serves the flush that follows its write, joined or finished', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const mark = g.writesCompleted;
  assert.equal(g.anticipate(), true);
  assert.equal(syncs.length, 1);
  assert.equal(g.anticipate(), false, 'one round at a time');
  const joined = settled(g.flush(mark));
  assert.equal(syncs.length, 1, 'the flush joins the running round: its write completed before it began');
  syncs[0](null);
  await tick();
  assert.equal(joined(), 'resolved');
  g.writeCompleted();
  g.anticipate();
  syncs[1](null);
  await tick();
  const after = settled(g.flush());
  await tick();
  assert.equal(after(), 'resolved');
  assert.equal(syncs.length, 2, 'a flush after the round finished needs no sync of its own');
  assert.equal(g.anticipate(), false, 'nothing left to cover');
});

test('an anticipated sync does not answer a flush whose write completed after it began', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  g.anticipate();
  g.writeCompleted();
  const late = settled(g.flush());
  syncs[0](null);
  await tick();
  assert.equal(late(), 'pending');
  assert.equal(syncs.length, 2, 'it gets a round that starts after the first ends');
  syncs[1](null);
  await tick();
  assert.equal(late(), 'resolved');
});

test('a failed anticipated sync, with no flush waiting, fails the next flush', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const mark = g.writesCompleted;
  g.anticipate();
  syncs[0](new Error('EIO'));
  await tick();
  const f = settled(g.flush(mark));
  await tick();
  assert.equal(f(), 'rejected: EIO');
  assert.equal(syncs.length, 1);
});

test('a fresh sync always gets an fdatasync that starts after it, even with nothing counted', async () => {
  const { g, syncs, settled } = harness();
  const a = settled(g.fresh());
  assert.equal(syncs.length, 1);
  const b = settled(g.fresh());
  const c = settled(g.flush());
  assert.equal(syncs.length, 1, 'one fdatasync at a time');
  syncs[0](null);
  await tick();
  assert.deepEqual([a(), b(), c()], ['resolved', 'pending', 'resolved']);
  assert.equal(syncs.length, 2, 'b needs a sync that began after it');
  const d = settled(g.fresh());
  syncs[1](null);
  await tick();
  assert.deepEqual([b(), d()], ['resolved', 'pending']);
  assert.equal(syncs.length, 3);
  syncs[2](null);
  await tick();
  assert.equal(d(), 'resolved');
  const e = settled(g.flush());
  await tick();
  assert.equal(e(), 'resolved', 'nothing counted since the fresh sync began');
  assert.equal(syncs.length, 3);
});

test('a flush up to a mark ignores writes that completed after the mark', async () => {
  const { g, syncs, settled } = harness();
  g.writeCompleted();
  const mine = g.writesCompleted; // this volume's last write
  const a = settled(g.flush());
  g.writeCompleted(); // another volume writes while the sync runs
  const b = settled(g.flush(mine));
  const other = settled(g.flush());
  syncs[0](null);
  await tick();
  assert.deepEqual([a(), b(), other()], ['resolved', 'resolved', 'pending'], 'b joins the running sync; the other volume waits for the next');
  syncs[1](null);
  await tick();
  g.writeCompleted(); // only the other volume writes again
  const c = settled(g.flush(mine));
  await tick();
  assert.equal(c(), 'resolved', 'no write of mine since a finished sync began: no sync');
  assert.equal(syncs.length, 2);
});
