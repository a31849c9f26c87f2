import { randomUUID } from 'node:crypto';
import { errorCode } from '../../util/errors.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { NodeOfflineError, SnapshotBarrierLostError, VolumeNotReadyError } from './service_errors.ts';
import type { EngineApi } from '../engine_client/engine_client_types.ts';
import { inSync, nexusNameOf } from './nexus_acts.ts';
import { replicasOf, splitPoolId, type StoredReplica, type StoredVolume } from './service_records.ts';

export type SnapshotCopy = SnapshotSpec['replicaSnapshots'][number];

/**
 * How long a nexus may hold writes for one snapshot (or group). The engine drains
 * writes in flight, then the control plane asks each replica's engine for an instant
 * snapshot: milliseconds on an idle machine; the lease only bounds a lost control plane.
 */
export const SNAPSHOT_PAUSE_LEASE_MS = 5_000;

export interface CutTarget {
  readonly volume: StoredVolume;
  readonly snapshotId: string;
}

export interface CutResult {
  readonly volumeId: string;
  readonly snapshotId: string;
  readonly copies: SnapshotCopy[];
  /** Milliseconds the engine took to drain writes in flight (absent: the volume had no nexus to pause). */
  readonly drainMs?: number;
}

/** Every replica a snapshot of the volume could be cut on: what an interrupted create cleans up. */
export async function possibleCopies(ctx: ServiceContext, volumeId: string): Promise<SnapshotCopy[]> {
  return (await replicasOf(ctx.store, volumeId)).map((r) => ({ replicaId: r.id, poolId: r.poolId }));
}

/** The node running the volume's nexus, published or syncing; undefined when no nexus writes to it. */
function nexusNodeOf(volume: StoredVolume): string | undefined {
  return volume.nexus?.nodeId ?? volume.syncNexus?.nodeId;
}

/** A volume whose writes are held, with the replicas that hold every acknowledged write. */
export interface HeldVolume {
  readonly volume: StoredVolume;
  readonly replicas: readonly StoredReplica[];
  /** Milliseconds the engine took to drain writes in flight (absent: no nexus to pause). */
  readonly drainMs?: number;
  /** The engines of the replicas' nodes by node id, looked up before the pause (a failed lookup fails its cut). */
  readonly engines: ReadonlyMap<string, Promise<EngineApi>>;
}

/**
 * Runs `act` while no write reaches any of the volumes (docs/nexus.md "Snapshot barrier"):
 * flushes each published volume's replicas while writes still flow, then pauses each
 * volume's nexus (lease-bounded; the engine answers once writes in flight are done on
 * every child and names the in-sync children), then `act`, then resumes every nexus.
 * What `act` cuts on the held replicas is one point in time. A single-replica volume
 * published straight from its engine is held at that export's logical unit; an
 * unpublished one is written by nobody. If any pause ended by
 * its lease before its resume, SnapshotBarrierLostError: the caller must discard what
 * `act` made. A degraded volume is held with its in-sync replicas only.
 */
export async function withWritesHeld<T>(
  ctx: ServiceContext, volumes: readonly StoredVolume[], act: (held: HeldVolume[]) => Promise<T>, leaseMs = SNAPSHOT_PAUSE_LEASE_MS,
): Promise<T> {
  const token = `snap-${randomUUID()}`;
  const paused: Paused[] = [];
  let result: T | undefined;
  let failure: unknown;
  try {
    // Every store read and engine lookup first: none of them belongs inside the pause,
    // and one volume's must not lengthen another's pause in a group.
    const ready = await Promise.all(volumes.map((v) => prepare(ctx, v)));
    // Likewise each replica's write-back of what it holds dirty: done while writes flow,
    // the flush each cut starts with (inside the pause) has only what came since.
    await Promise.all(ready.map((r) => flushBeforePause(ctx, r)));
    const held = await Promise.all(ready.map((r) => hold(r, token, leaseMs, paused)));
    result = await act(held);
  } catch (err) {
    failure = err;
  }
  const lost: string[] = [];
  await Promise.all(paused.map(async (p) => {
    try {
      await p.resume();
    } catch (err) {
      // Not resumed by us: either the lease already let the writes go, or the engine is gone (its lease will).
      lost.push(p.volumeId);
      ctx.log.warn({ volume: p.volumeId, code: errorCode(err) }, 'snapshot barrier: resume failed');
    }
  }));
  if (failure !== undefined) throw failure;
  if (lost.length > 0) throw new SnapshotBarrierLostError(lost.sort());
  return result as T;
}

/** Cuts a snapshot of every target at one point in time, on each target's held replicas. */
export async function cutAtOnePoint(ctx: ServiceContext, targets: readonly CutTarget[], leaseMs = SNAPSHOT_PAUSE_LEASE_MS): Promise<CutResult[]> {
  return await withWritesHeld(ctx, targets.map((t) => t.volume), async (held) => {
    const results: CutResult[] = held.map((h, i) => ({
      volumeId: h.volume.id, snapshotId: targets[i].snapshotId, copies: h.replicas.map((r) => ({ replicaId: r.id, poolId: r.poolId })),
      ...(h.drainMs !== undefined ? { drainMs: h.drainMs } : {}),
    }));
    await ctx.faults.hit('snapshot-barrier:held');
    await Promise.all(results.flatMap((r, i) => r.copies.map((c) => cutCopy(held[i].engines, c, r.snapshotId))));
    return results;
  }, leaseMs);
}

interface Paused { readonly volumeId: string; resume(): Promise<void> }

/** What pausing a volume needs, read before any pause. */
interface Prepared {
  readonly volume: StoredVolume;
  readonly replicas: readonly StoredReplica[];
  /** The engine to pause (the nexus's, or the direct export's) and what it pauses; none when unpublished. */
  readonly pauser?: { engine: EngineApi; nexus?: string; direct?: StoredReplica };
  readonly engines: ReadonlyMap<string, Promise<EngineApi>>;
}

async function prepare(ctx: ServiceContext, volume: StoredVolume): Promise<Prepared> {
  const replicas = await replicasOf(ctx.store, volume.id);
  const engines = new Map<string, Promise<EngineApi>>();
  for (const r of replicas) if (!engines.has(r.nodeId)) engines.set(r.nodeId, ctx.engineOf(r.nodeId));
  // A node found offline now fails only a cut on it (as it did when looked up inside the pause).
  await Promise.allSettled(engines.values());
  const engineOf = (n: string): Promise<EngineApi> => engines.get(n) ?? ctx.engineOf(n);
  const node = nexusNodeOf(volume);
  const direct = volume.target?.replicaId === undefined ? undefined : replicas.find((r) => r.id === volume.target?.replicaId);
  if (node === undefined && direct !== undefined) return { volume, replicas, engines, pauser: { engine: await engineOf(direct.nodeId), direct } };
  if (node === undefined) return { volume, replicas, engines };
  return { volume, replicas, engines, pauser: { engine: await engineOf(node), nexus: nexusNameOf(volume.id) } };
}

/**
 * Only a shortcut: the pool's own flush inside each cut is what the snapshot's guarantees
 * rest on, so any failure here (an older engine without the route, a timeout) is ignored.
 */
async function flushBeforePause(ctx: ServiceContext, p: Prepared): Promise<void> {
  const { pauser } = p;
  try {
    if (pauser?.direct !== undefined) await pauser.engine.flushExport(splitPoolId(pauser.direct.poolId).pool, pauser.direct.id);
    else if (pauser?.nexus !== undefined) await pauser.engine.flushNexus(pauser.nexus);
  } catch (err) {
    ctx.log.debug({ volume: p.volume.id, code: errorCode(err) }, 'snapshot barrier: flush before the pause failed');
  }
}

async function hold(p: Prepared, token: string, leaseMs: number, paused: Paused[]): Promise<HeldVolume> {
  const { volume, replicas, engines, pauser } = p;
  let held: StoredReplica[];
  let drainMs: number | undefined;
  if (pauser?.direct !== undefined) {
    // One replica served straight from its engine: that export's logical unit holds the writes.
    const { engine, direct } = pauser;
    const { pool } = splitPoolId(direct.poolId);
    const pause = await engine.pauseExport(pool, direct.id, { token, leaseMs });
    paused.push({ volumeId: volume.id, resume: () => engine.resumeExport(pool, direct.id, token) });
    drainMs = pause.pausedMs;
    held = [direct];
  } else if (pauser?.nexus === undefined) {
    // Unpublished: nobody writes. A replica still awaiting its rebuild (a replacement, a blank copy of a clone) holds no valid image.
    held = replicas.filter(inSync);
  } else {
    const { engine, nexus } = pauser;
    const pause = await engine.pauseNexus(nexus, { token, leaseMs });
    paused.push({ volumeId: volume.id, resume: () => engine.resumeNexus(nexus, token) });
    drainMs = pause.pausedMs;
    // The nexus, not the record, knows who holds every acknowledged write right now.
    const online = new Set(pause.online.map((c) => `${c.pool}/${c.volume}`));
    held = replicas.filter((r) => online.has(`${splitPoolId(r.poolId).pool}/${r.id}`));
  }
  if (held.length === 0) throw new VolumeNotReadyError(volume.id, 'without a healthy replica');
  return { volume, replicas: held, engines, ...(drainMs !== undefined ? { drainMs } : {}) };
}

/**
 * A copy left by an earlier attempt (SNAPSHOT_EXISTS) is from another point in time, so
 * it fails the cut rather than being adopted: the caller's undo removes it with the rest.
 */
async function cutCopy(engines: ReadonlyMap<string, Promise<EngineApi>>, c: SnapshotCopy, snapshotId: string): Promise<void> {
  const { nodeId, pool } = splitPoolId(c.poolId);
  const engine = engines.get(nodeId);
  if (engine === undefined) throw new NodeOfflineError(nodeId);
  await (await engine).createSnapshot({ pool, volume: c.replicaId, name: snapshotId });
}
