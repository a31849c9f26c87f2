import { BerthError } from '../../util/errors.ts';
import type { TopologyKey } from './placement_types.ts';

/** What the filter chain did to the fleet, for people and for the API. */
export interface PlacementFailure {
  /** Replicas the request asked for. */
  readonly needed: number;
  /** The domain the replicas had to be distinct in (node unless spread is strict). */
  readonly domain: TopologyKey;
  /** Distinct domains with at least one pool that passed every filter. */
  readonly available: number;
  /** Pools considered. */
  readonly pools: number;
  /** Per filter, the pools it was the first to reject (filters that rejected none are left out). */
  readonly ruledOut: Readonly<Record<string, number>>;
}

/** No set of pools satisfies the request; the message says which filter ruled out what. */
export class PlacementError extends BerthError {
  readonly failure: PlacementFailure;
  constructor(message: string, failure: PlacementFailure) {
    super('PLACEMENT_FAILED', message);
    this.failure = failure;
  }
}

/** The request itself is malformed (replica count, size); not a capacity problem. */
export class PlacementRequestError extends BerthError {
  constructor(message: string) {
    super('PLACEMENT_INVALID_REQUEST', message);
  }
}
