/**
 * Placement refusals as events. A reconciler that cannot place a replacement retries
 * every pass, so the same refusal (same volume, same reason) is logged once per window
 * rather than every few seconds. Pure: the caller keeps `lastLogged` between calls.
 */
import { EventType, ObjectKind, type EventDraft } from './event_types.ts';

/** What placement_refusals.ts remembers of one PLACEMENT_FAILED. */
export interface RefusalRecord {
  readonly atMs: number;
  readonly volumeId: string;
  readonly volumeName: string;
  readonly needed: number;
  /** The placement error's message: which filter ruled out how many pools. */
  readonly message: string;
  readonly ruledOut: Readonly<Record<string, number>>;
}

/** The same refusal is logged again after this long (10 minutes). */
export const REFUSAL_REPEAT_MS = 600_000;

export function refusalEvents(refusals: readonly RefusalRecord[], lastLogged: Map<string, number>, repeatMs = REFUSAL_REPEAT_MS): EventDraft[] {
  const out: EventDraft[] = [];
  for (const r of refusals) {
    const key = `${r.volumeId}\n${r.message}`;
    const last = lastLogged.get(key);
    if (last !== undefined && r.atMs - last < repeatMs) continue;
    lastLogged.set(key, r.atMs);
    const filters = Object.entries(r.ruledOut).sort(([, a], [, b]) => b - a);
    out.push({
      atMs: r.atMs, type: EventType.PlacementRefused, severity: 'warning',
      object: { kind: ObjectKind.Volume, id: r.volumeId, name: r.volumeName },
      // The filter that ruled out the most pools is the reason; the message has them all.
      reason: filters.length > 0 ? `FilterRuledOut:${filters[0][0]}` : 'NoPools',
      message: `placement refused ${r.needed} replica${r.needed === 1 ? '' : 's'} for volume ${r.volumeName}: ${r.message}`,
      involved: { volumeId: r.volumeId },
    });
  }
  // Entries older than the window suppress nothing any more: dropped, so the map stays small.
  for (const [key, at] of lastLogged) {
    if (refusals.length > 0 && refusals[refusals.length - 1].atMs - at >= repeatMs) lastLogged.delete(key);
  }
  return out;
}
