// The replica protocol's front door: serve replicas, reach them, and the pure codec.
export { ReplicaServer, type ReplicaServerOptions } from './replica_server.ts';
export { RemoteReplica, type RemoteReplicaOptions } from './remote_replica.ts';
export { LocalReplica } from './local_replica.ts';
export { GenerationRegistry, MemoryGenerationStore, type GenerationStore } from './replica_generations.ts';
export type { ReplicaResolver } from './replica_session.ts';
export { ReplicaFramer } from './replica_framer.ts';
export { decodeRequest, encodeRequest, type ReplicaRequest } from './replica_codec.ts';
export { REPLICA_PROTOCOL_VERSION, ReplicaOp, ReplicaStatus } from './replica_protocol.ts';
export { ReplicaAuthError, ReplicaAuthKeys } from './replica_auth.ts';
export {
  ReplicaFrameTooLargeError, ReplicaNotFoundError, ReplicaProtocolError, ReplicaRemoteError, ReplicaTimeoutError,
  ReplicaTruncatedFrameError, ReplicaVersionMismatchError, StaleGenerationError,
} from './replica_errors.ts';
