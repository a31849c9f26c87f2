import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdStore } from '../../src/control/store/etcd_store.ts';
import { freePort, startEtcd } from './etcd_process.ts';
import { storeContract } from './store_contract.ts';

storeContract('etcd', async () => {
  const etcd = await startEtcd();
  return {
    open: async () => new EtcdStore({ endpoints: [etcd.endpoint] }),
    cleanup: () => etcd.stop(),
  };
});

test('etcd client: a refused member is skipped; no member at all is STORE_UNAVAILABLE', async () => {
  const etcd = await startEtcd();
  try {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const store = new EtcdStore({ endpoints: [dead, etcd.endpoint] });
    const rev = await store.put('failover/k', 'v');
    assert.equal((await store.get('failover/k'))?.modRevision, rev);
    const none = new EtcdStore({ endpoints: [dead] });
    await assert.rejects(none.get('failover/k'), { code: 'STORE_UNAVAILABLE' });
  } finally {
    await etcd.stop();
  }
});
