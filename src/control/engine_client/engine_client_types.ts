/**
 * What the control plane needs from an engine, as a small interface: the service and
 * the reconcilers depend on this, tests give them a fake, `EngineClient` speaks HTTP.
 * Shapes follow docs/api.md; a control-plane replica is an engine volume.
 */

export interface EnginePool {
  readonly name: string;
  readonly state: 'online' | 'faulted';
  readonly capacityBytes?: number;
  readonly usedBytes?: number;
  readonly freeBytes?: number;
  readonly volumeCount?: number;
  /** Sum of the volume sizes: what the control plane calls committed bytes. */
  readonly thinProvisionedBytes?: number;
  readonly reason?: string;
}

export interface EngineReplica {
  readonly pool: string;
  readonly name: string;
  readonly uuid: string;
  readonly sizeBytes: number;
  readonly thin: boolean;
  readonly allocatedBytes: number;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly export: { readonly targetIqn: string; readonly lun: number; readonly url: string } | null;
}

/** A snapshot as its engine lists it (the fields the control plane reads). */
export interface EngineSnapshot {
  readonly name: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

export interface EngineExport {
  readonly pool: string;
  readonly volume: string;
  readonly targetIqn: string;
  readonly lun: number;
  readonly portal: string;
  readonly url: string;
  readonly allowedInitiators: readonly string[] | null;
  /** CHAP the target demands: names only (the engine never shows secrets); null or absent: none. */
  readonly chap?: { readonly user: string; readonly mutualUser?: string } | null;
  readonly state: 'online' | 'faulted';
}

/** CHAP for an export, secrets in clear: only ever sent to the engine, never stored or logged. */
export interface ExportChap {
  readonly user: string;
  readonly secret: string;
  readonly mutualUser?: string;
  readonly mutualSecret?: string;
}

export interface CreateReplicaRequest {
  readonly pool: string;
  readonly name: string;
  readonly sizeBytes: number;
  readonly thin: boolean;
  /** Fill the replica with a copy of this snapshot, which must be in the same pool. */
  readonly fromSnapshot?: string;
  /** Or with a copy of this volume (writes held while it copies), also in the same pool. */
  readonly fromVolume?: string;
}

export interface CreateExportRequest {
  readonly pool: string;
  readonly volume: string;
  readonly targetIqn?: string;
  readonly allowedInitiators?: readonly string[] | null;
  readonly chap?: ExportChap | null;
}

/** A replica as a nexus reaches it: the replica service (host:port, or `local`) of its engine, pool, volume. */
export interface NexusReplicaRef {
  readonly node: string;
  readonly pool: string;
  readonly volume: string;
}

/** Body of the engine's `POST /v1/nexus` (src/engine/api/routes_nexus.ts). */
export interface CreateNexusRequest {
  readonly name: string;
  readonly replicas: readonly NexusReplicaRef[];
  readonly sizeBytes?: number;
  readonly generation?: number;
  /** How many replicas must accept the generation; default every one given `online`. */
  readonly requireFenced?: number;
  /** adaptive (rebuilds yield to foreground I/O) or fixed; default the engine's. */
  readonly rebuildThrottleMode?: 'adaptive' | 'fixed';
  /** A hard cap on rebuild bytes per second; 0 = none. */
  readonly rebuildThrottleBytesPerSec?: number;
}

/** One replica as the nexus sees it (`GET /v1/nexus/:name`). */
export interface EngineNexusReplica {
  /** `node/pool/volume`: the key of add/remove. */
  readonly name: string;
  readonly node: string;
  readonly pool: string;
  readonly volume: string;
  /** online, rebuilding, faulted, stale… (the engine's words). */
  readonly state: string;
  /** Progress of the rebuild running into it, if any (percent 0–100). */
  readonly rebuild?: { readonly percent?: number } | null;
}

export interface EngineNexus {
  readonly name: string;
  readonly generation: number;
  readonly replicas: readonly EngineNexusReplica[];
  readonly export: { readonly targetIqn: string; readonly lun: number; readonly url: string } | null;
}

export interface CreateSnapshotRequest {
  readonly pool: string;
  readonly volume: string;
  readonly name: string;
}

/** The answer to a nexus pause (the snapshot barrier): the replicas in sync at the barrier. */
export interface EngineNexusPause {
  readonly token: string;
  readonly leaseMs: number;
  /** How long the drain of writes in flight took on the engine. */
  readonly pausedMs: number;
  readonly online: readonly { readonly name: string; readonly node: string; readonly pool: string; readonly volume: string }[];
}

/** The answer to a flush before a pause: rounds of flushes until one was quick. */
export interface EngineFlush {
  readonly rounds: number;
  /** How long all rounds took on the engine. */
  readonly flushMs: number;
}

/** One page of changed-block ranges (bytes), from `startingOffset`; nextOffset null after the last page. */
export interface SnapshotBlockPage {
  readonly sizeBytes: number;
  readonly blockSize: number;
  readonly ranges: readonly { readonly offset: number; readonly length: number }[];
  readonly nextOffset: number | null;
}

export interface EngineHealth {
  readonly status: string;
  readonly version: string;
  readonly iscsiPortal: string;
}

export interface EngineApi {
  readonly endpoint: string;
  health(): Promise<EngineHealth>;
  listPools(): Promise<EnginePool[]>;
  createPool(req: { name: string; path?: string; sizeBytes?: number }): Promise<EnginePool>;
  /** Not an error when the pool is already gone. */
  destroyPool(name: string): Promise<void>;
  listReplicas(pool: string): Promise<EngineReplica[]>;
  /** undefined when the pool has no such volume. */
  getReplica(pool: string, name: string): Promise<EngineReplica | undefined>;
  createReplica(req: CreateReplicaRequest): Promise<EngineReplica>;
  resizeReplica(pool: string, name: string, sizeBytes: number): Promise<EngineReplica>;
  /** Not an error when it is already gone. */
  destroyReplica(pool: string, name: string): Promise<void>;
  listExports(): Promise<EngineExport[]>;
  /** undefined when the volume is not exported. */
  getExport(pool: string, volume: string): Promise<EngineExport | undefined>;
  createExport(req: CreateExportRequest): Promise<EngineExport>;
  /** Not an error when it is already gone. */
  destroyExport(pool: string, volume: string): Promise<void>;
  /** Where other engines' nexuses reach this engine's replicas (host:port). */
  replicaService(): Promise<{ endpoint: string }>;
  /** NOT_IMPLEMENTED from an engine without the nexus API. */
  createNexus(req: CreateNexusRequest): Promise<EngineNexus>;
  /** Every nexus the engine runs (NOT_IMPLEMENTED from an engine without the nexus API). */
  listNexuses(): Promise<EngineNexus[]>;
  /** undefined when the engine runs no such nexus. */
  getNexus(name: string): Promise<EngineNexus | undefined>;
  /** Not an error when it is already gone (unexport it first). */
  destroyNexus(name: string): Promise<void>;
  /** Export the nexus as an iSCSI target (portal and URL as for a replica export). */
  exportNexus(name: string, req: { targetIqn: string; allowedInitiators: readonly string[]; chap?: ExportChap | null }): Promise<EngineExport>;
  /** Not an error when it is not exported. */
  unexportNexus(name: string): Promise<void>;
  /** Add a replica to a live nexus; the engine rebuilds it (full copy when `full`). */
  addNexusReplica(name: string, ref: NexusReplicaRef & { full?: boolean }): Promise<EngineNexus>;
  /** Remove a replica (by the nexus's `node/pool/volume` name); its volume stays. */
  removeNexusReplica(name: string, replica: string): Promise<EngineNexus>;
  /** NOT_IMPLEMENTED from an engine without snapshots. */
  createSnapshot(req: CreateSnapshotRequest): Promise<{ name: string }>;
  /** Every snapshot of the pool (NOT_IMPLEMENTED from an engine without snapshots). */
  listSnapshots(pool: string): Promise<EngineSnapshot[]>;
  /** Not an error when it is already gone. Snapshots are pool-wide on the engine; `volume` is informational. */
  destroySnapshot(pool: string, volume: string, name: string): Promise<void>;
  /**
   * A shortcut before a pause: flushes every replica of the nexus (rounds until one is
   * quick) while writes still flow, so the pool's flush inside the pause has little left.
   * NOT_IMPLEMENTED from an older engine.
   */
  flushNexus(name: string): Promise<EngineFlush>;
  /** The same shortcut for a volume exported straight from this engine; NOT_IMPLEMENTED from an older engine. */
  flushExport(pool: string, volume: string): Promise<EngineFlush>;
  /** The snapshot barrier: holds the nexus's new writes (for at most leaseMs) once writes in flight are done. */
  pauseNexus(name: string, req: { token: string; leaseMs: number }): Promise<EngineNexusPause>;
  /** Lets the writes go; NEXUS_PAUSE_LOST when the lease had already ended the pause. */
  resumeNexus(name: string, token: string): Promise<void>;
  /** The same barrier on a volume exported straight from this engine (one replica, no nexus). */
  pauseExport(pool: string, volume: string, req: { token: string; leaseMs: number }): Promise<EngineNexusPause>;
  resumeExport(pool: string, volume: string, token: string): Promise<void>;
  /** The ranges a snapshot holds data for, or (with `base`) those that differ from snapshot `base`; NOT_IMPLEMENTED from a pool without it. */
  snapshotBlocks(req: { pool: string; snapshot: string; base?: string; startingOffset?: number; maxResults?: number }): Promise<SnapshotBlockPage>;
}

/** Finds the engine of a node (by its endpoint); the service never builds clients itself. */
export type EngineConnector = (endpoint: string) => EngineApi;
