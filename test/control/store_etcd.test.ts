import { EtcdStore } from '../../src/control/store/etcd_store.ts';
import { startEtcd } from './etcd_process.ts';
import { storeContract } from './store_contract.ts';

storeContract('etcd', async () => {
  const etcd = await startEtcd();
  return {
    open: async () => new EtcdStore({ endpoints: [etcd.endpoint] }),
    cleanup: () => etcd.stop(),
  };
});
