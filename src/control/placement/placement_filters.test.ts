import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  excludeExisting, excludedTags, filterContext, firstRejecting, hasRoom, healthyPools, mediaType, minFreeSpace,
  onlineNodes, requiredTags, storageGroup, DEFAULT_FILTERS,
} from './placement_filters.ts';
import { GiB, node, pool } from './placement_test_fleet.ts';
import { MediaType, PoolHealth, type PlacementRequest } from './placement_types.ts';

const base: PlacementRequest = { replicas: 1, sizeBytes: 10 * GiB, thin: false };
const n1 = node('n1', 'z1', 'rack-1');

test('online_nodes rejects pools of offline or unknown nodes', () => {
  const ctx = filterContext(base);
  assert.equal(onlineNodes.accepts(pool('p', 'n1'), n1, ctx), true);
  assert.equal(onlineNodes.accepts(pool('p', 'n1'), node('n1', 'z1', 'r', false), ctx), false);
  assert.equal(onlineNodes.accepts(pool('p', 'nx'), undefined, ctx), false);
});

test('healthy_pools rejects degraded and faulted pools', () => {
  const ctx = filterContext(base);
  assert.equal(healthyPools.accepts(pool('p', 'n1'), n1, ctx), true);
  assert.equal(healthyPools.accepts(pool('p', 'n1', { health: PoolHealth.Degraded }), n1, ctx), false);
  assert.equal(healthyPools.accepts(pool('p', 'n1', { health: PoolHealth.Faulted }), n1, ctx), false);
});

test('media_type matches only the requested media and is inactive without one', () => {
  const ctx = filterContext({ ...base, media: MediaType.Hdd });
  assert.equal(mediaType.active(ctx), true);
  assert.equal(mediaType.accepts(pool('p', 'n1', { media: MediaType.Hdd }), n1, ctx), true);
  assert.equal(mediaType.accepts(pool('p', 'n1', { media: MediaType.Ssd }), n1, ctx), false);
  assert.equal(mediaType.active(filterContext(base)), false);
});

test('storage_group keeps pools whose node is in the group', () => {
  const ctx = filterContext({ ...base, storageGroup: 'rack-1' });
  assert.equal(storageGroup.accepts(pool('p', 'n1'), n1, ctx), true);
  assert.equal(storageGroup.accepts(pool('p', 'n2'), node('n2', 'z1', 'rack-2'), ctx), false);
});

test('required_tags needs every tag; excluded_tags refuses any', () => {
  const tagged = pool('p', 'n1', { tags: ['fast', 'encrypted'] });
  assert.equal(requiredTags.accepts(tagged, n1, filterContext({ ...base, requiredTags: ['fast', 'encrypted'] })), true);
  assert.equal(requiredTags.accepts(tagged, n1, filterContext({ ...base, requiredTags: ['fast', 'gold'] })), false);
  assert.equal(excludedTags.accepts(tagged, n1, filterContext({ ...base, excludedTags: ['gold'] })), true);
  assert.equal(excludedTags.accepts(tagged, n1, filterContext({ ...base, excludedTags: ['gold', 'fast'] })), false);
});

test('exclude_existing refuses pools holding or leaving a replica', () => {
  const ctx = filterContext({ ...base, existingPools: ['a'], avoidPools: ['b'] });
  assert.equal(excludeExisting.accepts(pool('a', 'n1'), n1, ctx), false);
  assert.equal(excludeExisting.accepts(pool('b', 'n1'), n1, ctx), false);
  assert.equal(excludeExisting.accepts(pool('c', 'n1'), n1, ctx), true);
});

test('min_free_space: thick replicas never over-commit', () => {
  const p = pool('p', 'n1', { capacityBytes: 100 * GiB, committedBytes: 90 * GiB, usedBytes: 10 * GiB, overcommitRatio: 3 });
  assert.equal(hasRoom(p, 10 * GiB, false), true);
  assert.equal(hasRoom(p, 10 * GiB + 1, false), false);
  assert.equal(minFreeSpace.accepts(p, n1, filterContext({ ...base, sizeBytes: 11 * GiB })), false);
});

test('min_free_space: thin replicas over-commit up to the ratio but not onto a full pool', () => {
  const p = pool('p', 'n1', { capacityBytes: 100 * GiB, committedBytes: 190 * GiB, usedBytes: 50 * GiB, overcommitRatio: 2 });
  assert.equal(hasRoom(p, 10 * GiB, true), true);
  assert.equal(hasRoom(p, 10 * GiB + 1, true), false);
  assert.equal(hasRoom({ ...p, committedBytes: 0, usedBytes: 100 * GiB }, GiB, true), false);
  assert.equal(hasRoom({ ...p, overcommitRatio: 1 }, GiB, true), false);
});

test('firstRejecting names the first filter of the chain that refuses', () => {
  const ctx = filterContext({ ...base, media: MediaType.Hdd, sizeBytes: 1000 * GiB });
  const names = DEFAULT_FILTERS.map((f) => f.name);
  assert.equal(names[firstRejecting(DEFAULT_FILTERS, pool('p', 'n1'), n1, ctx)], 'media_type');
  const hdd = pool('p', 'n1', { media: MediaType.Hdd });
  assert.equal(names[firstRejecting(DEFAULT_FILTERS, hdd, n1, ctx)], 'min_free_space');
  assert.equal(firstRejecting(DEFAULT_FILTERS, hdd, n1, filterContext({ ...base, media: MediaType.Hdd })), -1);
});
