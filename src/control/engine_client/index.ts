/** Typed HTTP client of the engine API, and the interface the service depends on. */
export { EngineClient, connectEngine, type EngineClientOptions } from './engine_client.ts';
export * from './engine_client_errors.ts';
export type * from './engine_client_types.ts';
