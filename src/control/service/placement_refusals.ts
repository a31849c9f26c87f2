import { PlacementError } from '../placement/placement_error.ts';
import type { RefusalRecord } from '../events/event_refusal.ts';

/**
 * Placement refusals the API answered with PLACEMENT_FAILED, and per filter the pools it
 * was first to rule out in them, for /metrics. Process-wide plain counters: they only grow.
 */
export const placementRefusals = {
  total: 0,
  poolsRuledOutByFilter: new Map<string, number>(),
  /** The latest refusals with their volume, until the event recorder takes them (src/control/events). */
  recent: [] as RefusalRecord[],
};

/** Refusals kept for the event recorder when nothing takes them (a control plane without it). */
const RECENT_MAX = 100;

/** Hands the refusals noted since the last call to the event recorder. */
export function takeRecentRefusals(): RefusalRecord[] {
  return placementRefusals.recent.splice(0);
}

/** Counts `err` when it is a placement refusal; returns it, so callers can `throw countRefusal(err)`. */
export function countRefusal(err: unknown, volume?: { id: string; name: string }, atMs = Date.now()): unknown {
  if (err instanceof PlacementError) {
    placementRefusals.total++;
    if (volume !== undefined) {
      placementRefusals.recent.push({ atMs, volumeId: volume.id, volumeName: volume.name, needed: err.failure.needed, message: err.message, ruledOut: err.failure.ruledOut });
      if (placementRefusals.recent.length > RECENT_MAX) placementRefusals.recent.shift();
    }
    for (const [filter, n] of Object.entries(err.failure.ruledOut)) {
      placementRefusals.poolsRuledOutByFilter.set(filter, (placementRefusals.poolsRuledOutByFilter.get(filter) ?? 0) + n);
    }
  }
  return err;
}
