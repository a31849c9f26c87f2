import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/control/store/sqlite_store.ts';
import { storeContract } from './store_contract.ts';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-sqlite-'));
  return {
    open: async () => new SqliteStore({ path: join(dir, 'state.db') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('sqlite: revision survives reopening and watch reports puts and deletes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-sqlite-'));
  try {
    const path = join(dir, 'state.db');
    const a = new SqliteStore({ path });
    const events: string[] = [];
    const stop = a.watch('v/', (e) => events.push(e.type === 'put' ? `put ${e.kv.key}` : `delete ${e.key}`));
    await a.put('v/1', 'x');
    await a.put('other', 'x');
    await a.delete('v/1');
    stop();
    await a.put('v/2', 'x');
    const rev = a.revision();
    await a.close();
    assert.deepEqual(events, ['put v/1', 'delete v/1']);
    const b = new SqliteStore({ path });
    assert.equal(b.revision(), rev);
    assert.ok(await b.put('v/3', 'y') > rev);
    await b.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
