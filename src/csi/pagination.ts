/**
 * Token paging over a list ordered by id. The token names the last id returned, so a
 * page boundary survives inserts and deletes between calls; anything that does not
 * decode is a token this driver never issued (ABORTED, the CO starts over).
 */
import { InvalidPageTokenError } from './csi_errors.ts';
import type { Page, PageRequest } from './backend.ts';

const TOKEN_PREFIX = 'after:';
/** A cap so one ListVolumes reply stays well under gRPC's default 4 MiB message limit. */
export const MAX_PAGE_ENTRIES = 1000;

export function encodePageToken(lastId: string): string {
  return Buffer.from(TOKEN_PREFIX + lastId, 'utf8').toString('base64url');
}

export function decodePageToken(token: string): string {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(token)) throw new InvalidPageTokenError(token);
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith(TOKEN_PREFIX) || text.length === TOKEN_PREFIX.length) throw new InvalidPageTokenError(token);
  return text.slice(TOKEN_PREFIX.length);
}

/** One page of `sorted` (ascending by idOf) after the token's id. */
export function pageOf<T>(sorted: readonly T[], idOf: (item: T) => string, req: PageRequest): Page<T> {
  let start = 0;
  if (req.startingToken !== '') {
    const after = decodePageToken(req.startingToken);
    start = lowerBoundAfter(sorted, idOf, after);
  }
  const limit = req.maxEntries === 0 ? MAX_PAGE_ENTRIES : Math.min(req.maxEntries, MAX_PAGE_ENTRIES);
  const items = sorted.slice(start, start + limit);
  const more = start + limit < sorted.length;
  return { items, nextToken: more && items.length > 0 ? encodePageToken(idOf(items[items.length - 1])) : '' };
}

function lowerBoundAfter<T>(sorted: readonly T[], idOf: (item: T) => string, after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idOf(sorted[mid]) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
