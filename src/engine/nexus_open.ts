import type { Logger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import { WriteIntentMap, NEXUS_REGION_BYTES_DEFAULT, type NexusChildSpec } from '../nexus/index.ts';
import { AbsentReplica, childName, isUnreachable, type ChildOpener, type ReplicaRef } from './nexus_children.ts';
import type { NexusRecord } from './nexus_state.ts';
import { InvalidArgumentError } from './errors.ts';

/**
 * How the registry opens a nexus's replicas: at create (a replica that cannot be reached
 * joins as a placeholder) and at restart (each replica as saved, with its map).
 */

/** What a create asks of the replicas' geometry. */
export interface GeometryRequest {
  name: string;
  sizeBytes?: number;
  blockSize?: number;
  regionBytes?: number;
}

/** The generation in force on each replica that answers; an unreachable one is skipped (one that returns with a higher one fences the nexus). */
export async function generationsOf(opener: ChildOpener, refs: ReplicaRef[]): Promise<number[]> {
  const got = await Promise.allSettled(refs.map((r) => opener.currentGeneration(r)));
  const gens: number[] = [];
  for (const g of got) {
    if (g.status === 'fulfilled') gens.push(g.value);
    else if (!isUnreachable(g.reason)) throw g.reason;
  }
  if (gens.length === 0) throw (got[0] as PromiseRejectedResult).reason;
  return gens;
}

/**
 * Opens every listed replica. One that cannot be reached (its node is down or cut
 * off) joins as a placeholder that refuses the fence, so the nexus retires it and the
 * retry loop brings it back: given `online` it is taken to hold the data up to now
 * (it misses only what this incarnation writes), given `stale` it is copied whole.
 * Any other refusal (no such volume, a newer generation, a bad address) fails the create.
 */
export async function openForCreate(
  opener: ChildOpener, refs: Array<ReplicaRef & { state: 'online' | 'stale' }>, generation: number, req: GeometryRequest, log: Logger,
): Promise<NexusChildSpec[]> {
  const opened = await Promise.allSettled(refs.map((r) => opener.open(r, generation)));
  const reachable: NexusChildSpec[] = [];
  const failure = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected' && !isUnreachable(o.reason));
  opened.forEach((o, i) => { if (o.status === 'fulfilled') reachable.push({ name: childName(refs[i]), device: o.value.device, release: o.value.release, state: refs[i].state }); });
  try {
    if (failure) throw failure.reason;
    if (reachable.length === 0) throw (opened[0] as PromiseRejectedResult).reason;
    checkGeometry(reachable, req);
  } catch (err) {
    for (const s of reachable) s.release?.();
    throw err;
  }
  const geometry = reachable[0].device;
  const regionBlocks = Math.max(1, Math.floor((req.regionBytes ?? NEXUS_REGION_BYTES_DEFAULT) / geometry.blockSize));
  return opened.map((o, i) => {
    const name = childName(refs[i]);
    if (o.status === 'fulfilled') return reachable.find((s) => s.name === name) as NexusChildSpec;
    const why = (o.reason as Error).message;
    log.warn({ nexus: req.name, replica: name, reason: why }, 'replica unreachable at create; it joins when it answers');
    const intents = refs[i].state === 'online' ? new WriteIntentMap(geometry.blockCount, regionBlocks) : fullMap(geometry.blockCount, regionBlocks);
    return { name, device: new AbsentReplica(geometry, why), state: 'stale' as const, intents };
  });
}

/**
 * Opens the replicas of a saved nexus, in parallel (each unreachable one costs a connect
 * timeout): reachable ones as saved (stale ones with their maps), unreachable ones as
 * placeholders that keep their map (empty for one saved online: nothing was written
 * while the engine was down). `superseded` is set when a replica holds a newer generation.
 */
export async function openForRestore(opener: ChildOpener, record: NexusRecord): Promise<{ specs: NexusChildSpec[]; superseded?: string }> {
  const specs: NexusChildSpec[] = [];
  const regionBlocks = Math.max(1, Math.floor(record.regionBytes / record.blockSize));
  let superseded: string | undefined;
  const opened = await Promise.allSettled(record.replicas.map((r) => opener.open(r, record.generation)));
  record.replicas.forEach((r, i) => {
    const name = childName(r);
    const map = r.intents !== undefined
      ? WriteIntentMap.fromBuffer(record.blockCount, regionBlocks, Buffer.from(r.intents, 'base64'))
      : r.state === 'stale' ? fullMap(record.blockCount, regionBlocks) : new WriteIntentMap(record.blockCount, regionBlocks);
    const o = opened[i];
    if (o.status === 'fulfilled') {
      specs.push({ name, device: o.value.device, release: o.value.release, state: r.state, ...(r.state === 'stale' ? { intents: map } : {}) });
      return;
    }
    const err = o.reason as Error;
    if (errorCode(err) === 'STALE_GENERATION') superseded = err.message;
    specs.push({ name, device: new AbsentReplica(record, err.message), state: 'stale', intents: map });
  });
  return { specs, ...(superseded !== undefined ? { superseded } : {}) };
}

export function fullMap(blockCount: number, regionBlocks: number): WriteIntentMap {
  const m = new WriteIntentMap(blockCount, regionBlocks);
  m.markAll();
  return m;
}

function checkGeometry(specs: NexusChildSpec[], req: GeometryRequest): void {
  for (const s of specs) {
    const d = s.device;
    if (req.blockSize !== undefined && d.blockSize !== req.blockSize) throw new InvalidArgumentError(`replica ${s.name} has block size ${d.blockSize}, not ${req.blockSize}`);
    if (req.sizeBytes !== undefined && d.blockCount * d.blockSize !== req.sizeBytes) {
      throw new InvalidArgumentError(`replica ${s.name} holds ${d.blockCount * d.blockSize} bytes, not ${req.sizeBytes}`);
    }
  }
}
