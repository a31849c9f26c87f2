import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartGeometry, eventObject, filterEvents, formatMs, formatRate, niceMax, snapshotSpaceText, type EventInfo } from './live_model.ts';

const ev = (type: string, kind: string, id: string, message: string, name?: string): EventInfo => ({
  id: `${type}-${id}`, time: 't', atMs: 0, type, severity: 'normal', object: { kind, id, ...(name ? { name } : {}) }, reason: 'r', message,
});

test('events: object names, filter by type and by text in the object or message', () => {
  const events = [ev('NodeOffline', 'node', 'n1', 'node n1 is offline'), ev('VolumeDegraded', 'volume', 'v1', 'volume pvc-a is degraded', 'pvc-a'), ev('NodeBack', 'node', 'n2', 'node n2 is back')];
  assert.equal(eventObject(events[1]), 'volume/pvc-a');
  assert.equal(eventObject(events[0]), 'node/n1');
  assert.deepEqual(filterEvents(events, { type: 'NodeOffline', text: '' }).map((e) => e.object.id), ['n1']);
  assert.deepEqual(filterEvents(events, { type: '', text: 'PVC-A' }).map((e) => e.object.id), ['v1']);
  assert.deepEqual(filterEvents(events, { type: '', text: 'back' }).map((e) => e.object.id), ['n2']);
  assert.equal(filterEvents(events, { type: '', text: '' }).length, 3);
});

test('chart geometry: a round axis top, lines scaled with 0 at the bottom, gaps where there is no value', () => {
  assert.deepEqual([niceMax(0), niceMax(0.3), niceMax(7), niceMax(1000), niceMax(1001), niceMax(3500)], [1, 0.5, 10, 1000, 2000, 5000]);
  const g = chartGeometry([0, 1000, 2000, 3000], [
    { label: 'read', values: [0, 40, 80, 20] },
    { label: 'write', values: [10, null, 50, 100] },
  ], 300, 100);
  assert.equal(g.max, 100);
  assert.equal(g.lines[0].d, 'M0,100L100,60L200,20L300,80');
  assert.equal(g.lines[1].d, 'M0,90M200,50L300,0', 'a null breaks the line');
  assert.deepEqual(g.lines.map((l) => [l.last, l.lastAt]), [[20, { x: 300, y: 80 }], [100, { x: 300, y: 0 }]]);
  assert.deepEqual(chartGeometry([], [{ label: 'read', values: [] }], 300, 100).lines[0], { label: 'read', d: '', last: null, lastAt: null });
  assert.deepEqual(chartGeometry([5000], [{ label: 'read', values: [7] }], 300, 100).lines[0].lastAt, { x: 0, y: 30 }, 'one sample: a dot');
});

test('numbers for people: rates and latencies', () => {
  assert.deepEqual([formatRate(0), formatRate(3.25), formatRate(42), formatRate(1234), formatRate(2_500_000), formatRate(null)], ['0', '3.3', '42', '1.2k', '2.5M', '—']);
  assert.deepEqual([formatMs(0.0843), formatMs(1.27), formatMs(250), formatMs(null)], ['0.084 ms', '1.3 ms', '250 ms', '—']);
});

test('snapshot space: per copy, equal copies once, unreported copies counted, none reported is undefined', () => {
  const MiB = 1024 * 1024;
  assert.equal(snapshotSpaceText([{ exclusiveBytes: 3 * MiB }, { exclusiveBytes: 3 * MiB }]), '3.0 MiB');
  assert.equal(snapshotSpaceText([{ exclusiveBytes: 3 * MiB }, { exclusiveBytes: 0 }]), '3.0 MiB / 0 B');
  assert.equal(snapshotSpaceText([{ exclusiveBytes: 3 * MiB }, { exclusiveBytes: null }]), '3.0 MiB (1 copy not reported)');
  assert.equal(snapshotSpaceText([{ exclusiveBytes: null }]), undefined);
  assert.equal(snapshotSpaceText(undefined), undefined);
});
