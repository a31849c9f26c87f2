import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdClient } from '../../src/control/store/etcd_client.ts';
import { EtcdElection } from '../../src/control/store/etcd_election.ts';
import { EtcdStore } from '../../src/control/store/etcd_store.ts';
import { startEtcdCluster } from './etcd_process.ts';

test('three etcd members: losing the one the leader talks to keeps leadership and state', async () => {
  const cluster = await startEtcdCluster(3);
  const lost: string[] = [];
  const client = new EtcdClient({ endpoints: cluster.endpoints, timeoutMs: 3000 });
  const election = new EtcdElection({ client, key: 'berth/v1/leader', candidate: 'cp-1', ttlSeconds: 5, onLost: (r) => lost.push(r) });
  try {
    const store = new EtcdStore({ client });
    const leadership = await election.campaign();
    await store.put('berth/v1/volumes/v1', '{"size":1}', { fence: leadership.fence });

    await cluster.members[0].kill();
    // Two keep-alive rounds (every TTL/3) must go through the surviving members.
    await sleep(4000);
    assert.deepEqual(lost, []);
    assert.equal((await election.leader())?.candidate, 'cp-1');
    assert.equal((await store.get('berth/v1/volumes/v1'))?.value, '{"size":1}');
    await store.put('berth/v1/volumes/v2', '{"size":2}', { fence: leadership.fence });
    assert.equal((await store.list('berth/v1/volumes/')).items.length, 2);
  } finally {
    await election.resign().catch(() => undefined);
    await cluster.stop();
  }
});
