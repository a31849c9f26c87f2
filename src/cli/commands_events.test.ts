import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from './api_client.ts';
import { eventQuery, fetchEvents, recentEventLines, sinceValue } from './commands_events.ts';

test('events query: filters pass through, --since takes durations back from now', () => {
  assert.equal(eventQuery({}, 0), '');
  assert.equal(eventQuery({ volume: 'v 1', type: 'NodeOffline,NodeLost', limit: '5' }, 0), '?volume=v+1&type=NodeOffline%2CNodeLost&limit=5');
  assert.equal(sinceValue('10m', 1_000_000), String(1_000_000 - 600_000));
  assert.equal(sinceValue('2h', 10_000_000), String(10_000_000 - 7_200_000));
  assert.equal(sinceValue('2026-12-06T22:00:00Z', 0), '2026-12-06T22:00:00Z', 'anything else is for the API to check');
  assert.equal(eventQuery({ since: '1d' }, 86_400_000, 'c1'), '?since=0&before=c1');
});

test('events --all follows the pages; an engine URL by mistake gets a clear error', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (!(req.url ?? '').startsWith('/v1/events')) {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'ROUTE_NOT_FOUND', message: 'no route' } }));
      return;
    }
    const before = new URL(req.url ?? '', 'http://x').searchParams.get('before');
    const ev = (id: string) => ({ id, time: 't', atMs: 1, type: 'NodeOffline', severity: 'warning', object: { kind: 'node', id: 'n1' }, reason: 'r', message: 'm', involved: {} });
    res.end(JSON.stringify(before === null ? { events: [ev('3'), ev('2')], next: '2' } : { events: [ev('1')] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const all = await fetchEvents(new ApiClient(url), { all: true, node: 'n1' });
    assert.deepEqual(all.events.map((e) => e.id), ['3', '2', '1']);
    assert.deepEqual(seen, ['/v1/events?node=n1', '/v1/events?node=n1&before=2']);
    const one = await fetchEvents(new ApiClient(url), {});
    assert.equal(one.events.length, 2, 'one page without --all');
    await assert.rejects(fetchEvents(new ApiClient(`${url}/engine`), {}), { code: 'NOT_AVAILABLE' });
  } finally {
    server.close();
  }
});

test('describe ends with the volume\'s latest events, warnings marked', () => {
  assert.deepEqual(recentEventLines([]), ['events    (none recorded)']);
  assert.deepEqual(recentEventLines([{
    id: '1', time: '2026-12-06T22:00:00.000Z', atMs: 0, type: 'VolumeDegraded', severity: 'warning', object: { kind: 'volume', id: 'v' },
    reason: 'ReplicasNotOnline', message: 'volume pvc-a is degraded: 1 of 2 replicas online; r2 missing', involved: {},
  }]), ['events', '  2026-12-06T22:00:00.000Z  VolumeDegraded (!)  ReplicasNotOnline: volume pvc-a is degraded: 1 of 2 replicas online; r2 missing']);
});
