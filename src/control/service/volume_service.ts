import { NotImplementedError } from '../engine_client/engine_client_errors.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { VolumeRebuildThrottle, VolumeSpread } from '../model/volume_spec.ts';
import { MAX_REPLICAS } from '../placement/placement_types.ts';
import type { ServiceContext } from './service_context.ts';
import { InvalidArgumentError, VolumeExistsError, VolumeNotFoundError, VolumeNotReadyError } from './service_errors.ts';
import { provisionVolume, resizeVolume, teardownVolume, unprovisionVolume } from './volume_acts.ts';
import { planReplicas, seededPlans, type PlacementHints } from './volume_placement.ts';
import { planFromSnapshot } from './snapshot_service.ts';
import {
  kindPrefixOf, listRecords, readRecord, replicasOf, volumeIdFor, volumeKey, type ReplicaPlan, type StoredVolume, type VolumeOp,
} from './service_records.ts';
import { newReplicaId } from './replica_operations.ts';
import { inSync } from './nexus_acts.ts';
import { OperationInProgressError } from '../model/intent_log.ts';

/** What a client (the CSI controller, the CLI) asks for; StorageClass parameters map onto it. */
export interface CreateVolumeInput {
  readonly name: string;
  readonly sizeBytes: number;
  readonly replicas?: number;
  readonly thin?: boolean;
  readonly media?: 'hdd' | 'ssd';
  readonly requiredTags?: readonly string[];
  readonly excludedTags?: readonly string[];
  readonly storageGroup?: string;
  readonly spread?: VolumeSpread;
  readonly encrypted?: boolean;
  readonly qos?: { readonly maxIops?: number; readonly maxBandwidthBytes?: number };
  /** Mode and byte cap of its rebuilds; see VolumeSpec.rebuildThrottle. */
  readonly rebuildThrottle?: VolumeRebuildThrottle;
  /** Restore: start as a copy of this snapshot (its id). */
  readonly sourceSnapshotId?: string;
  /** Clone: start as a copy of this volume (its id), as it is at the moment of the copy. */
  readonly sourceVolumeId?: string;
  /** The client's own facts, kept with the spec and part of its identity (see differences). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Where the pod will run (preferences) and, for a zone-local volume, its zone (kept in the spec). Not part of its identity. */
  readonly placement?: PlacementHints;
}

const BLOCK = 512;

/**
 * Volumes: the core agent's main resource. Every write has one shape — validate, look
 * up by name (idempotency), lock the volume, intent pending, act on the engines, commit —
 * and is written so the pending-intent reconciler can finish it after a crash.
 */
export class VolumeService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** Same name and parameters: the existing volume (`created: false`). Same name, other parameters: VOLUME_EXISTS. */
  async create(input: CreateVolumeInput): Promise<{ volume: StoredVolume; created: boolean }> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const wanted = specFromInput(input, ctx.now());
    const key = volumeKey(wanted.id);
    return await ctx.locks.with(key, async () => {
      const current = await readRecord<StoredVolume>(ctx.store, key);
      if (current?.record.pending) throw new OperationInProgressError(key);
      const existing = current?.record.spec;
      if (existing != null) {
        const diff = differences(existing, wanted);
        if (diff !== undefined) throw new VolumeExistsError(input.name, diff);
        return { volume: existing, created: false };
      }
      if (wanted.encrypted) throw new NotImplementedError('encryption at rest');
      const plans = wanted.sourceSnapshotId !== undefined ? await planFromSnapshot(ctx, wanted)
        : wanted.sourceVolumeId !== undefined ? await planFromVolume(ctx, wanted)
        : await planReplicas(ctx, wanted, wanted.replicas, { prefer: input.placement });
      const volume = await ctx.volumes.run(key, { type: 'create', spec: wanted, replicas: plans }, async () => {
        await ctx.faults.hit('volume-create:after-pending');
        return await provisionVolume(ctx, { type: 'create', spec: wanted, replicas: plans });
      }, async () => unprovisionVolume(ctx, plans));
      ctx.log.info({ volume: wanted.id, name: wanted.name, replicas: plans.map((p) => p.poolId) }, 'volume created');
      return { volume: volume as StoredVolume, created: true };
    });
  }

  async get(id: string): Promise<{ volume: StoredVolume; pending: string | undefined }> {
    const r = await readRecord<StoredVolume, VolumeOp>(this.#ctx.store, volumeKey(id));
    const op = r?.record.pending?.op;
    const spec = r?.record.spec ?? (op?.type === 'create' ? op.spec : undefined);
    if (r === undefined || spec == null) throw new VolumeNotFoundError(id);
    return { volume: spec, pending: r.record.pending?.op.type };
  }

  /** Every volume, including ones whose create is still pending. */
  async list(): Promise<{ volume: StoredVolume; pending: string | undefined }[]> {
    const out: { volume: StoredVolume; pending: string | undefined }[] = [];
    for (const r of await listRecords<StoredVolume, VolumeOp>(this.#ctx.store, kindPrefixOf(ResourceKind.Volume))) {
      const op = r.record.pending?.op;
      const spec = r.record.spec ?? (op?.type === 'create' ? op.spec : undefined);
      if (spec != null) out.push({ volume: spec, pending: op?.type });
    }
    return out;
  }

  /** The volume of this name, if any (zero or one entry): its id derives from the name, so one read. */
  async findByName(name: string): Promise<{ volume: StoredVolume; pending: string | undefined }[]> {
    const r = await readRecord<StoredVolume, VolumeOp>(this.#ctx.store, volumeKey(volumeIdFor(name)));
    const op = r?.record.pending?.op;
    const spec = r?.record.spec ?? (op?.type === 'create' ? op.spec : undefined);
    return spec == null || spec.name !== name ? [] : [{ volume: spec, pending: op?.type }];
  }

  /** Not an error when the volume does not exist (CSI DeleteVolume is idempotent). */
  async delete(id: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const key = volumeKey(id);
    await ctx.locks.with(key, async () => {
      const current = await readRecord<StoredVolume>(ctx.store, key);
      if (current === undefined) return;
      if (current.record.pending) throw new OperationInProgressError(key);
      await ctx.volumes.run(key, { type: 'delete' }, async () => {
        await teardownVolume(ctx, id);
        return null;
      });
      ctx.log.info({ volume: id }, 'volume deleted');
    });
  }

  /** Grow online; a smaller size is INVALID_ARGUMENT, the same size a no-op. */
  async resize(id: string, sizeBytes: number): Promise<StoredVolume> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    checkSize(sizeBytes);
    const key = volumeKey(id);
    return await ctx.locks.with(key, async () => {
      const volume = await this.#created(id);
      if (sizeBytes < volume.sizeBytes) throw new InvalidArgumentError(`volume ${id} has ${volume.sizeBytes} bytes; shrinking is not supported`);
      if (sizeBytes === volume.sizeBytes) return volume;
      return await ctx.volumes.run(key, { type: 'resize', sizeBytes }, async () => resizeVolume(ctx, volume, sizeBytes)) as StoredVolume;
    });
  }

  async #created(id: string): Promise<StoredVolume> {
    const r = await readRecord<StoredVolume>(this.#ctx.store, volumeKey(id));
    if (r?.record.pending) throw new OperationInProgressError(volumeKey(id));
    const v = r?.record.spec;
    if (v == null) throw new VolumeNotFoundError(id);
    if (v.lifecycle !== SpecLifecycle.Created) throw new VolumeNotReadyError(id, v.lifecycle);
    return v;
  }
}

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % BLOCK !== 0) {
    throw new InvalidArgumentError(`sizeBytes must be a positive multiple of ${BLOCK}`);
  }
}

/** Bounds on `attributes`, so a client cannot grow a record without limit. */
const MAX_ATTRIBUTES = 32;
const MAX_ATTRIBUTE_KEY = 128;
const MAX_ATTRIBUTE_VALUE = 1024;

function checkAttributes(a: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(a);
  if (entries.length > MAX_ATTRIBUTES) throw new InvalidArgumentError(`attributes: at most ${MAX_ATTRIBUTES} entries`);
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > MAX_ATTRIBUTE_KEY) throw new InvalidArgumentError(`attributes: keys are 1–${MAX_ATTRIBUTE_KEY} characters`);
    if (typeof v !== 'string' || v.length > MAX_ATTRIBUTE_VALUE) throw new InvalidArgumentError(`attributes: values are strings of at most ${MAX_ATTRIBUTE_VALUE} characters`);
  }
  // Sorted, so that two maps with the same entries compare equal as JSON.
  return Object.fromEntries(entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/**
 * Where a clone of a volume goes: engines copy within a pool, so one replica is seeded in
 * the pool of each healthy source replica on an online node (distinct nodes, up to the
 * count), all cut at one point (clone_seeds.ts); any others are blank and rebuilt from
 * them in the background or on first publish (as for restore).
 */
async function planFromVolume(ctx: ServiceContext, volume: StoredVolume): Promise<ReplicaPlan[]> {
  const id = volume.sourceVolumeId!;
  const source = (await readRecord<StoredVolume>(ctx.store, volumeKey(id)))?.record.spec;
  if (source == null) throw new VolumeNotFoundError(id);
  if (source.lifecycle !== SpecLifecycle.Created) throw new VolumeNotReadyError(id, source.lifecycle);
  if (volume.sizeBytes < source.sizeBytes) {
    throw new InvalidArgumentError(`sizeBytes ${volume.sizeBytes} is smaller than the source volume (${source.sizeBytes})`);
  }
  const healthy = (await replicasOf(ctx.store, id)).filter((r) => inSync(r) && ctx.nodeOnline(r.nodeId));
  if (healthy.length === 0) throw new VolumeNotReadyError(id, 'without a healthy replica on an online node');
  return await seededPlans(ctx, volume, healthy.map((r) => ({ id: newReplicaId(), poolId: r.poolId, nodeId: r.nodeId })));
}

function specFromInput(input: CreateVolumeInput, nowMs: number): StoredVolume {
  checkSize(input.sizeBytes);
  if (input.sourceSnapshotId !== undefined && input.sourceVolumeId !== undefined) {
    throw new InvalidArgumentError('sourceSnapshotId and sourceVolumeId exclude each other: a volume has one source');
  }
  const replicas = input.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new InvalidArgumentError(`replicas must be 1–${MAX_REPLICAS}`);
  }
  // Refused rather than recorded: a limit nobody enforces would tell the client it has one.
  if (input.qos !== undefined) throw new InvalidArgumentError('qos is not enforced by the Berth target yet; create the volume without it (a later release brings QoS)');
  return {
    id: volumeIdFor(input.name),
    name: input.name,
    sizeBytes: input.sizeBytes,
    replicas,
    thin: input.thin ?? true,
    ...(input.media !== undefined ? { media: input.media } : {}),
    requiredTags: [...(input.requiredTags ?? [])].sort(),
    excludedTags: [...(input.excludedTags ?? [])].sort(),
    ...(input.storageGroup !== undefined ? { storageGroup: input.storageGroup } : {}),
    spread: input.spread ?? { domain: 'zone', strict: false },
    encrypted: input.encrypted ?? false,
    ...(input.rebuildThrottle !== undefined ? { rebuildThrottle: { ...input.rebuildThrottle } } : {}),
    ...(input.sourceSnapshotId !== undefined ? { sourceSnapshotId: input.sourceSnapshotId } : {}),
    ...(input.sourceVolumeId !== undefined ? { sourceVolumeId: input.sourceVolumeId } : {}),
    ...(input.attributes !== undefined ? { attributes: checkAttributes(input.attributes) } : {}),
    ...(input.placement?.zone !== undefined ? { zone: input.placement.zone } : {}),
    lifecycle: SpecLifecycle.Creating,
    createdAtMs: nowMs,
  };
}

/** The parameters that make two requests "the same volume"; undefined when none differ. */
function differences(a: StoredVolume, b: StoredVolume): string | undefined {
  const fields = ['sizeBytes', 'replicas', 'thin', 'media', 'requiredTags', 'excludedTags', 'storageGroup', 'spread', 'encrypted', 'sourceSnapshotId', 'sourceVolumeId', 'attributes'] as const;
  const diff = fields.filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]));
  return diff.length === 0 ? undefined : diff.map((f) => `${f} ${JSON.stringify(a[f])} ≠ ${JSON.stringify(b[f])}`).join(', ');
}
