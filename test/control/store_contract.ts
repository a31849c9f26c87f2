import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/control/store/store.ts';
import { compareKeys } from '../../src/control/store/store_keys.ts';

/**
 * The behaviour every Store must have, run against each implementation. `open` may be
 * called more than once and every store it returns must see the same data, as two
 * control-plane instances (or a restart) would.
 */
export interface StoreHarness {
  open(): Promise<Store>;
  /** Removes whatever the harness created (files, processes). */
  cleanup(): Promise<void>;
}

const code = (expected: string) => (err: unknown): boolean => {
  assert.equal((err as { code?: string }).code, expected, String(err));
  return true;
};

export function storeContract(name: string, harness: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let s: Store;
    let n = 0;
    /** A fresh key space per test, so tests never see each other's keys. */
    const space = (): string => `t${++n}/`;

    before(async () => {
      h = await harness();
      s = await h.open();
    });
    after(async () => {
      await s?.close();
      await h?.cleanup();
    });

    test('get of a missing key is undefined, not an error', async () => {
      assert.equal(await s.get(`${space()}missing`), undefined);
    });

    test('put returns the revision; revisions grow; version counts writes', async () => {
      const k = `${space()}k`;
      const r1 = await s.put(k, 'one');
      const kv1 = await s.get(k);
      assert.deepEqual(kv1, { key: k, value: 'one', createRevision: r1, modRevision: r1, version: 1 });
      const r2 = await s.put(k, 'two');
      assert.ok(r2 > r1);
      assert.deepEqual(await s.get(k), { key: k, value: 'two', createRevision: r1, modRevision: r2, version: 2 });
    });

    test('compare-and-swap on modRevision; 0 means create only', async () => {
      const k = `${space()}cas`;
      const r1 = await s.put(k, 'a', { ifRevision: 0 });
      await assert.rejects(s.put(k, 'b', { ifRevision: 0 }), (e: unknown) => {
        code('STORE_CONFLICT')(e);
        assert.equal((e as { actual: number }).actual, r1);
        return true;
      });
      await assert.rejects(s.put(k, 'b', { ifRevision: r1 - 1 }), code('STORE_CONFLICT'));
      const r2 = await s.put(k, 'b', { ifRevision: r1 });
      await assert.rejects(s.put(k, 'c', { ifRevision: r1 }), code('STORE_CONFLICT'));
      assert.equal((await s.get(k))?.value, 'b');
      assert.equal((await s.get(k))?.modRevision, r2);
      await assert.rejects(s.put(`${k}-absent`, 'x', { ifRevision: r2 }), code('STORE_CONFLICT'));
    });

    test('two writers racing on one revision: exactly one wins', async () => {
      const k = `${space()}race`;
      const r = await s.put(k, '0');
      const other = await h.open();
      try {
        const results = await Promise.allSettled([s.put(k, 'A', { ifRevision: r }), other.put(k, 'B', { ifRevision: r })]);
        assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
        const lost = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
        code('STORE_CONFLICT')(lost.reason);
      } finally {
        await other.close();
      }
    });

    test('delete: true when it existed, false when not; guarded by revision', async () => {
      const k = `${space()}del`;
      assert.equal(await s.delete(k), false);
      const r1 = await s.put(k, 'v');
      await assert.rejects(s.delete(k, { ifRevision: r1 + 1000 }), code('STORE_CONFLICT'));
      assert.equal((await s.get(k))?.value, 'v');
      assert.equal(await s.delete(k, { ifRevision: r1 }), true);
      assert.equal(await s.get(k), undefined);
      assert.equal(await s.delete(k), false);
      await assert.rejects(s.delete(k, { ifRevision: r1 }), code('STORE_CONFLICT'));
      const r2 = await s.put(k, 'again');
      assert.deepEqual(await s.get(k), { key: k, value: 'again', createRevision: r2, modRevision: r2, version: 1 });
    });

    test('list by prefix in code point order, without neighbours', async () => {
      const p = space();
      // U+FF5E sorts before U+1F600 by code point but after it by UTF-16 unit.
      const keys = [`${p}a/\uFF5E`, `${p}a/2`, `${p}a/10`, `${p}a/1`, `${p}a0`, `${p}a/é`, `${p}a/\u{1F600}`, `${p}b`, `${p}a`];
      for (const k of keys) await s.put(k, k.toUpperCase());
      const got = await s.list(`${p}a/`);
      assert.deepEqual(got.items.map((kv) => kv.key), [`${p}a/1`, `${p}a/10`, `${p}a/2`, `${p}a/é`, `${p}a/\uFF5E`, `${p}a/\u{1F600}`]);
      assert.equal(got.more, false);
      assert.equal(got.items[0].value, `${p}a/1`.toUpperCase());
      assert.equal((await s.list(p)).items.length, keys.length);
      assert.deepEqual((await s.list(`${p}zzz`)).items, []);
      const all = await s.list('');
      assert.ok(all.items.length >= keys.length);
      assert.ok(all.items.every((kv, i) => i === 0 || compareKeys(all.items[i - 1].key, kv.key) < 0));
    });

    test('list pages with limit and startAfter', async () => {
      const p = space();
      for (let i = 0; i < 7; i++) await s.put(`${p}${i}`, String(i));
      const seen: string[] = [];
      let startAfter: string | undefined;
      let pages = 0;
      while (true) {
        const page = await s.list(p, { limit: 3, startAfter });
        pages++;
        seen.push(...page.items.map((kv) => kv.value));
        if (!page.more) break;
        startAfter = page.items[page.items.length - 1].key;
      }
      assert.deepEqual(seen, ['0', '1', '2', '3', '4', '5', '6']);
      assert.equal(pages, 3);
      const exact = await s.list(p, { limit: 7 });
      assert.equal(exact.items.length, 7);
      assert.equal(exact.more, false);
    });

    test('values round-trip: empty, unicode, 256 KiB', async () => {
      const p = space();
      const big = 'x'.repeat(256 * 1024);
      for (const [k, v] of [['empty', ''], ['uni', 'zoë ✓ \u{1F4BE}'], ['big', big]]) {
        await s.put(p + k, v);
        assert.equal((await s.get(p + k))?.value, v);
      }
    });

    test('fenced writes apply only while the fence key holds its create revision', async () => {
      const p = space();
      const leaderKey = `${p}leader`;
      const k = `${p}state`;
      await assert.rejects(s.put(k, 'v', { fence: { key: leaderKey, createRevision: 1 } }), code('STORE_FENCED'));
      const lr = await s.put(leaderKey, 'me');
      const fence = { key: leaderKey, createRevision: lr };
      const r = await s.put(k, 'v1', { fence });
      await s.put(leaderKey, 'me, renewed');
      await s.put(k, 'v2', { fence, ifRevision: r });
      await assert.rejects(s.put(k, 'v3', { fence, ifRevision: r }), code('STORE_CONFLICT'));
      await s.delete(leaderKey);
      await s.put(leaderKey, 'successor');
      await assert.rejects(s.put(k, 'stale', { fence }), code('STORE_FENCED'));
      await assert.rejects(s.delete(k, { fence }), code('STORE_FENCED'));
      assert.equal((await s.get(k))?.value, 'v2');
    });

    test('another instance sees committed writes', async () => {
      const k = `${space()}shared`;
      const r = await s.put(k, 'durable');
      const other = await h.open();
      try {
        assert.deepEqual(await other.get(k), { key: k, value: 'durable', createRevision: r, modRevision: r, version: 1 });
      } finally {
        await other.close();
      }
    });

    test('bad arguments are refused with STORE_INVALID_ARGUMENT', async () => {
      await assert.rejects(s.get(''), code('STORE_INVALID_ARGUMENT'));
      await assert.rejects(s.put('', 'v'), code('STORE_INVALID_ARGUMENT'));
      await assert.rejects(s.put('k\uD800', 'v'), code('STORE_INVALID_ARGUMENT'));
      await assert.rejects(s.put('k', 'v', { ifRevision: -1 }), code('STORE_INVALID_ARGUMENT'));
      await assert.rejects(s.list('p', { limit: 0 }), code('STORE_INVALID_ARGUMENT'));
    });
  });
}
