import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode } from '../util/errors.ts';
import { decodePageToken, encodePageToken, pageOf } from './pagination.ts';

const items = Array.from({ length: 7 }, (_, i) => ({ id: `v${i}` }));
const id = (x: { id: string }) => x.id;

describe('page tokens', () => {
  it('walks every item once, page by page', () => {
    const seen: string[] = [];
    let token = '';
    do {
      const page = pageOf(items, id, { maxEntries: 3, startingToken: token });
      seen.push(...page.items.map(id));
      token = page.nextToken;
    } while (token);
    assert.deepEqual(seen, items.map(id));
  });

  it('survives a deletion between pages', () => {
    const first = pageOf(items, id, { maxEntries: 3, startingToken: '' });
    const rest = pageOf(items.filter((x) => x.id !== 'v2' && x.id !== 'v3'), id, { maxEntries: 10, startingToken: first.nextToken });
    assert.deepEqual(rest.items.map(id), ['v4', 'v5', 'v6']);
    assert.equal(rest.nextToken, '');
  });

  it('a last full page has no next token', () => {
    assert.equal(pageOf(items.slice(0, 3), id, { maxEntries: 3, startingToken: '' }).nextToken, '');
  });

  it('refuses tokens it did not issue', () => {
    for (const bad of ['x y', '%%', Buffer.from('before:v1').toString('base64url'), Buffer.from('after:').toString('base64url'), 'a'.repeat(2000)]) {
      assert.throws(() => decodePageToken(bad), (e) => errorCode(e) === 'CSI_INVALID_PAGE_TOKEN', bad);
    }
    assert.equal(decodePageToken(encodePageToken('vol-1')), 'vol-1');
  });
});
