/**
 * The event log on etcd (the highly available control plane's store), as on SQLite:
 * appended in time order, queried newest first with filters and a cursor, trimmed to its
 * bound by the oldest first, and a deposed leader's fence refuses its appends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdStore } from '../../src/control/store/etcd_store.ts';
import { EventLog, EventType, ObjectKind, parseEventQuery, type EventDraft } from '../../src/control/events/index.ts';
import { startEtcd } from './etcd_process.ts';

const draft = (i: number, nodeId: string): EventDraft => ({
  atMs: 1_000 + i, type: i % 2 === 0 ? EventType.NodeOffline : EventType.NodeBack, severity: 'normal',
  object: { kind: ObjectKind.Node, id: nodeId }, reason: 'Test', message: `event ${i}`, involved: { nodeId },
});

test('event log on etcd: order, filters, paging, trimming, fencing', { timeout: 120_000 }, async () => {
  const etcd = await startEtcd();
  const store = new EtcdStore({ endpoints: [etcd.endpoint] });
  try {
    const log = new EventLog({ store, maxEvents: 20 });
    await log.append(Array.from({ length: 22 }, (_, i) => draft(i, i < 11 ? 'n1' : 'n2')));
    assert.equal((await log.all()).length, 22, 'within the tenth of slack');
    await log.append([draft(22, 'n2')]);
    const all = await log.all();
    assert.equal(all.length, 20);
    assert.deepEqual(all.map((e) => e.message).slice(0, 2), ['event 3', 'event 4'], 'the oldest went first');
    const page = await log.query(parseEventQuery({ node: 'n1', type: 'NodeOffline', limit: '2' }));
    assert.deepEqual(page.events.map((e) => e.message), ['event 10', 'event 8']);
    const rest = await log.query(parseEventQuery({ node: 'n1', type: 'NodeOffline', limit: '2', before: page.next }));
    assert.deepEqual(rest.events.map((e) => e.message), ['event 6', 'event 4']);

    // A leader's fence: once its election key is gone, its appends are refused.
    const rev = await store.put('test/leader', 'me');
    const fenced = new EventLog({ store, fence: () => ({ key: 'test/leader', createRevision: rev }) });
    await fenced.append([draft(30, 'n3')]);
    await store.delete('test/leader');
    await assert.rejects(fenced.append([draft(31, 'n3')]));
    assert.deepEqual((await log.query(parseEventQuery({ node: 'n3' }))).events.map((e) => e.message), ['event 30']);
  } finally {
    await store.close();
    await etcd.stop();
  }
});
