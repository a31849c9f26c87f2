/**
 * Changed-block tracking answers as pages: byte ranges sorted by offset, a page starts
 * at the first range that ends after `startingOffset` (a range that straddles it is cut
 * there) and holds at most `maxResults` ranges; `nextOffset` says where the next page
 * starts, null after the last one. Pure: no pool, no I/O.
 */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

export interface RangePage {
  readonly ranges: ByteRange[];
  readonly nextOffset: number | null;
}

export const RANGES_PAGE_DEFAULT = 10_000;
export const RANGES_PAGE_MAX = 100_000;

/** Sorts and merges touching or overlapping ranges (a pool may answer per grain). */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: { offset: number; length: number }[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

export function pageRanges(ranges: readonly ByteRange[], startingOffset = 0, maxResults = RANGES_PAGE_DEFAULT): RangePage {
  const limit = Math.max(1, Math.min(RANGES_PAGE_MAX, Math.floor(maxResults) || RANGES_PAGE_DEFAULT));
  const all = coalesceRanges(ranges);
  // Binary search: the first range ending after startingOffset.
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (all[mid].offset + all[mid].length <= startingOffset) lo = mid + 1;
    else hi = mid;
  }
  const page = all.slice(lo, lo + limit).map((r) => (r.offset < startingOffset ? { offset: startingOffset, length: r.offset + r.length - startingOffset } : r));
  const next = lo + limit < all.length ? all[lo + limit].offset : null;
  return { ranges: page, nextOffset: next };
}
