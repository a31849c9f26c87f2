import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../store/sqlite_store.ts';
import { IntentLog } from './intent_log.ts';
import { specKey, ResourceKind, kindPrefix } from './spec_common.ts';

interface Vol { size: number; replicas: string[] }
type Op = { kind: 'create'; size: number } | { kind: 'resize'; size: number } | { kind: 'delete' };

/** A temp SQLite file; `reopen` simulates a control-plane restart. */
async function withStore(body: (open: () => SqliteStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-intent-'));
  const opened: SqliteStore[] = [];
  try {
    await body(() => { const s = new SqliteStore({ path: join(dir, 'state.db') }); opened.push(s); return s; });
  } finally {
    for (const s of opened) await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const key = specKey(ResourceKind.Volume, 'v1');

test('run: pending → act → commit leaves the new spec and no mark', async () => {
  await withStore(async (open) => {
    const log = new IntentLog<Vol, Op>({ store: open() });
    let seenDuringAct: unknown;
    const spec = await log.run(key, { kind: 'create', size: 10 }, async (before) => {
      assert.equal(before, null);
      seenDuringAct = (await log.read(key))?.record.pending?.op;
      return { size: 10, replicas: ['r1'] };
    });
    assert.deepEqual(spec, { size: 10, replicas: ['r1'] });
    assert.deepEqual(seenDuringAct, { kind: 'create', size: 10 }, 'the intent is saved before acting');
    assert.deepEqual((await log.read(key))?.record, { spec: { size: 10, replicas: ['r1'] }, pending: null });
  });
});

test('run: a failed act is undone and rolled back to the old spec', async () => {
  await withStore(async (open) => {
    const log = new IntentLog<Vol, Op>({ store: open() });
    await log.run(key, { kind: 'create', size: 10 }, async () => ({ size: 10, replicas: ['r1'] }));
    const undone: Op[] = [];
    await assert.rejects(
      log.run(key, { kind: 'resize', size: 20 }, async () => { throw new Error('engine said no'); },
        async (_spec, op) => { undone.push(op); }),
      /engine said no/);
    assert.deepEqual(undone, [{ kind: 'resize', size: 20 }]);
    assert.deepEqual((await log.read(key))?.record, { spec: { size: 10, replicas: ['r1'] }, pending: null });
    // A failed create rolls back to nothing at all.
    const k2 = specKey(ResourceKind.Volume, 'v2');
    await assert.rejects(log.run(k2, { kind: 'create', size: 1 }, async () => { throw new Error('no'); }));
    assert.equal(await log.read(k2), undefined);
  });
});

test('run: when undo fails too, the mark stays for the reconciler', async () => {
  await withStore(async (open) => {
    const log = new IntentLog<Vol, Op>({ store: open() });
    await assert.rejects(log.run(key, { kind: 'create', size: 5 },
      async () => { throw new Error('act failed'); }, async () => { throw new Error('undo failed'); }), /act failed/);
    const pending = await log.pending(kindPrefix(ResourceKind.Volume));
    assert.equal(pending.length, 1);
    assert.deepEqual(pending[0].pending.op, { kind: 'create', size: 5 });
  });
});

test('one operation at a time per resource', async () => {
  await withStore(async (open) => {
    const log = new IntentLog<Vol, Op>({ store: open() });
    const t = await log.begin(key, { kind: 'create', size: 1 });
    await assert.rejects(log.begin(key, { kind: 'delete' }), { code: 'OPERATION_IN_PROGRESS' });
    // Two instances racing to begin: one wins, the other is told it is in progress.
    await log.commit(t, { size: 1, replicas: [] });
    const other = new IntentLog<Vol, Op>({ store: open() });
    const results = await Promise.allSettled([log.begin(key, { kind: 'delete' }), other.begin(key, { kind: 'resize', size: 2 })]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.code, 'OPERATION_IN_PROGRESS');
  });
});

test('a crash mid-operation is finished or rolled back after restart', async () => {
  await withStore(async (open) => {
    const before = open();
    const log1 = new IntentLog<Vol, Op>({ store: before, now: () => 1000 });
    const existing = specKey(ResourceKind.Volume, 'a');
    const created = specKey(ResourceKind.Volume, 'b');
    const deleted = specKey(ResourceKind.Volume, 'c');
    await log1.run(existing, { kind: 'create', size: 1 }, async () => ({ size: 1, replicas: ['r1'] }));
    await log1.run(deleted, { kind: 'create', size: 3 }, async () => ({ size: 3, replicas: ['r3'] }));
    // The process dies after saving these intents and before committing them.
    await log1.begin(existing, { kind: 'resize', size: 2 });
    await log1.begin(created, { kind: 'create', size: 9 });
    await log1.begin(deleted, { kind: 'delete' });
    await before.close();

    const log2 = new IntentLog<Vol, Op>({ store: open() });
    // The engines report: the resize happened, the create did not, the delete did.
    const finished = await log2.recover(kindPrefix(ResourceKind.Volume), async (t) => {
      if (t.pending.op.kind === 'resize') return { commit: { ...(t.spec as Vol), size: 2 } };
      if (t.pending.op.kind === 'delete') return { commit: null };
      return { rollback: true };
    });
    assert.equal(finished, 3);
    assert.deepEqual((await log2.read(existing))?.record, { spec: { size: 2, replicas: ['r1'] }, pending: null });
    assert.equal(await log2.read(created), undefined);
    assert.equal(await log2.read(deleted), undefined);
    assert.deepEqual(await log2.pending(kindPrefix(ResourceKind.Volume)), []);
  });
});

test('recover leaves an operation pending when the data plane cannot be asked', async () => {
  await withStore(async (open) => {
    const log = new IntentLog<Vol, Op>({ store: open() });
    await log.begin(key, { kind: 'create', size: 1 });
    assert.equal(await log.recover(kindPrefix(ResourceKind.Volume), async () => { throw new Error('engine unreachable'); }), 0);
    assert.equal((await log.pending(kindPrefix(ResourceKind.Volume))).length, 1);
  });
});

test('a stale ticket cannot commit over a newer write', async () => {
  await withStore(async (open) => {
    const store = open();
    const log = new IntentLog<Vol, Op>({ store });
    const t = await log.begin(key, { kind: 'create', size: 1 });
    await store.put(key, JSON.stringify({ spec: { size: 7, replicas: [] }, pending: null }));
    await assert.rejects(log.commit(t, { size: 1, replicas: [] }), { code: 'STORE_CONFLICT' });
  });
});

test('writes carry the leader fence: a deposed leader cannot begin', async () => {
  await withStore(async (open) => {
    const store = open();
    const rev = await store.put('berth/v1/leader', 'me');
    let fence = { key: 'berth/v1/leader', createRevision: rev };
    const log = new IntentLog<Vol, Op>({ store, fence: () => fence });
    await log.run(key, { kind: 'create', size: 1 }, async () => ({ size: 1, replicas: [] }));
    fence = { key: 'berth/v1/leader', createRevision: rev + 1000 };
    await assert.rejects(log.begin(key, { kind: 'delete' }), { code: 'STORE_FENCED' });
  });
});
