import { PlacementRequestError } from './placement_error.ts';
import { MAX_REPLICAS, MediaType, TOPOLOGY_LEVELS, type PlacementRequest } from './placement_types.ts';

const MEDIA = new Set<string>(Object.values(MediaType));

/** Rejects requests no fleet could satisfy, before any pool is looked at. */
export function validateRequest(r: PlacementRequest): void {
  if (!Number.isInteger(r.replicas) || r.replicas < 1 || r.replicas > MAX_REPLICAS) {
    throw new PlacementRequestError(`replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${r.replicas}`);
  }
  const total = r.replicas + (r.existingPools?.length ?? 0);
  if (total > MAX_REPLICAS) {
    throw new PlacementRequestError(`a volume has at most ${MAX_REPLICAS} replicas; ${total} requested with the existing ones`);
  }
  if (!Number.isSafeInteger(r.sizeBytes) || r.sizeBytes <= 0) {
    throw new PlacementRequestError(`sizeBytes must be a positive integer, got ${r.sizeBytes}`);
  }
  if (r.media !== undefined && !MEDIA.has(r.media)) {
    throw new PlacementRequestError(`media must be one of ${[...MEDIA].join(', ')}, got ${String(r.media)}`);
  }
  if (r.spread !== undefined && !TOPOLOGY_LEVELS.includes(r.spread.domain)) {
    throw new PlacementRequestError(`spread domain must be one of ${TOPOLOGY_LEVELS.join(', ')}, got ${String(r.spread.domain)}`);
  }
}
