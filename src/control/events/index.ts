/** The control plane's event log: what it did and why (docs/api.md "Events"). */
export * from './event_types.ts';
export { diffObservations, type Observation } from './event_build.ts';
export { refusalEvents, type RefusalRecord } from './event_refusal.ts';
export { parseEventQuery, selectEvents, type EventQuery, type EventPage } from './event_query.ts';
export { EventLog, EVENTS_PREFIX, eventId } from './event_log.ts';
export { EventRecorder, observe } from './event_recorder.ts';
