import type { FastifyInstance } from 'fastify';
import { EVENT_TYPES, parseEventQuery, type EventLog } from '../events/index.ts';
import { errorResponses } from './api_schemas.ts';

const str = { type: 'string' } as const;

export const eventSchema = {
  type: 'object',
  required: ['id', 'time', 'atMs', 'type', 'severity', 'object', 'reason', 'message', 'involved'],
  properties: {
    id: { ...str, description: 'Sortable and unique; the paging cursor' },
    time: { ...str, description: 'ISO 8601 UTC' },
    atMs: { type: 'integer' },
    type: { type: 'string', enum: [...EVENT_TYPES] },
    severity: { type: 'string', enum: ['normal', 'warning'] },
    object: {
      type: 'object', required: ['kind', 'id'],
      properties: { kind: { type: 'string', enum: ['node', 'pool', 'volume', 'snapshot'] }, id: str, name: str },
    },
    reason: str,
    message: str,
    involved: { type: 'object', properties: { volumeId: str, nodeId: str, poolId: str, replicaId: str, snapshotId: str } },
  },
} as const;

const eventQuery = {
  type: 'object',
  properties: {
    volume: { ...str, description: 'Only events involving this volume id' },
    node: { ...str, description: 'Only events involving this node id' },
    pool: { ...str, description: 'Only events involving this pool id' },
    snapshot: { ...str, description: 'Only events involving this snapshot id' },
    kind: { ...str, description: 'Only events about this kind of object: node, pool, volume, snapshot' },
    type: { ...str, description: 'Comma-separated event types' },
    since: { ...str, description: 'Milliseconds since the epoch or ISO 8601 time' },
    before: { ...str, description: 'The previous page\'s `next`: older events only' },
    limit: { ...str, description: 'Page size, 1–1000 (default 100)' },
  },
} as const;

const eventPage = {
  type: 'object', required: ['events'],
  properties: { events: { type: 'array', items: eventSchema }, next: { ...str, description: 'Cursor of the next, older page; absent on the last' } },
} as const;

/** The event log (docs/api.md "Events"): newest first, filtered, paged. */
export function registerEventRoutes(app: FastifyInstance, log: EventLog): void {
  app.get<{ Querystring: Record<string, string> }>('/v1/events', {
    schema: { tags: ['events'], summary: 'What the control plane did and why, newest first', querystring: eventQuery, response: { 200: eventPage, ...errorResponses } },
  }, async (req) => log.query(parseEventQuery(req.query)));
}
