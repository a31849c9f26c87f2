/** The registry: engines' heartbeats, node liveness and loss, and the fleet for placement. */
export { NodeRegistry, DEFAULT_TIMING, type RegistryTiming, type NodeTransition } from './node_registry.ts';
export { parseHeartbeat, InvalidHeartbeatError, type Heartbeat, type PoolReport } from './registry_heartbeat.ts';
