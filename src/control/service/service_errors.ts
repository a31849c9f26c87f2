import { BerthError } from '../../util/errors.ts';

/** Errors of the core agent, named Object+Problem; only src/control/api maps them to HTTP. */

export class InvalidArgumentError extends BerthError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

export class VolumeNotFoundError extends BerthError {
  constructor(id: string) {
    super('VOLUME_NOT_FOUND', `volume ${id} does not exist`);
  }
}

/** Same name, other parameters: CSI's ALREADY_EXISTS. */
export class VolumeExistsError extends BerthError {
  constructor(name: string, why: string) {
    super('VOLUME_EXISTS', `volume '${name}' already exists with other parameters (${why})`);
  }
}

export class VolumeNotReadyError extends BerthError {
  constructor(id: string, lifecycle: string) {
    super('VOLUME_NOT_READY', `volume ${id} is ${lifecycle}, not created`);
  }
}

/** A replicated volume cannot be served: no in-sync replica is on an online node (yet). */
export class NoInSyncReplicaError extends BerthError {
  constructor(id: string) {
    super('VOLUME_NOT_READY', `volume ${id} has no in-sync replica on an online node to serve it`);
  }
}

/** Published to another node; unpublish there first. */
export class VolumePublishedError extends BerthError {
  constructor(id: string, nodeId: string) {
    super('VOLUME_PUBLISHED', `volume ${id} is published to node ${nodeId}`);
  }
}

export class NodeNotFoundError extends BerthError {
  constructor(id: string) {
    super('NODE_NOT_FOUND', `node ${id} is not registered`);
  }
}

/** The node is registered but not heartbeating: the engine cannot be asked now. */
export class NodeOfflineError extends BerthError {
  constructor(id: string) {
    super('NODE_OFFLINE', `node ${id} is not online`);
  }
}

export class PoolNotFoundError extends BerthError {
  constructor(id: string) {
    super('POOL_NOT_FOUND', `pool ${id} is not known`);
  }
}

export class ReplicaNotFoundError extends BerthError {
  constructor(id: string) {
    super('REPLICA_NOT_FOUND', `replica ${id} does not exist`);
  }
}

export class NexusNotFoundError extends BerthError {
  constructor(id: string) {
    super('NEXUS_NOT_FOUND', `nexus ${id} does not exist`);
  }
}

export class SnapshotNotFoundError extends BerthError {
  constructor(id: string) {
    super('SNAPSHOT_NOT_FOUND', `snapshot ${id} does not exist`);
  }
}

export class SnapshotExistsError extends BerthError {
  constructor(name: string) {
    super('SNAPSHOT_EXISTS', `snapshot '${name}' already exists for another volume`);
  }
}

/** This instance is a follower; `leader` is the URL of the leader when known. */
export class NotLeaderError extends BerthError {
  readonly leader: string | undefined;
  constructor(leader: string | undefined) {
    super('NOT_LEADER', leader === undefined ? 'this control plane is not the leader and no leader is known yet' : `this control plane is not the leader; the leader is ${leader}`);
    this.leader = leader;
  }
}

/** A nexus's write pause ended by its lease before every copy was cut: the copies are not one point in time (retry). */
export class SnapshotBarrierLostError extends BerthError {
  constructor(volumes: readonly string[]) {
    super('SNAPSHOT_BARRIER_LOST', `the write pause of volume(s) ${volumes.join(', ')} ran out before every replica was snapshotted; nothing was kept, retry`);
  }
}

export class GroupSnapshotNotFoundError extends BerthError {
  constructor(id: string) { super('GROUP_SNAPSHOT_NOT_FOUND', `group snapshot ${id} does not exist`); }
}

export class GroupSnapshotExistsError extends BerthError {
  constructor(name: string) { super('GROUP_SNAPSHOT_EXISTS', `group snapshot '${name}' already exists for other volumes`); }
}

/** A delta needs two snapshots of one volume held by one replica. */
export class SnapshotsNotComparableError extends BerthError {
  constructor(why: string) { super('SNAPSHOTS_NOT_COMPARABLE', why); }
}
