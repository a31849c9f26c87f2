import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../util/log.ts';
import { Pool } from '../pool/index.ts';
import { IscsiServer } from '../iscsi/index.ts';
import { loadEngineState, saveEngineState, ENGINE_STATE_VERSION, type PoolRecord } from './engine_state.ts';
import { ExportRegistry, type ExportIoStats } from './export_registry.ts';
import { LocalAttaches, type AttachableLun, type LocalAttachView } from './local_attach.ts';
import type { KeptFds } from './kept_fds.ts';
import type { LogicalUnit } from '../scsi/logical_unit.ts';
import { lockDataDir, type DataDirLock } from './data_dir_lock.ts';
import { checkPoolPath } from './pool_paths.ts';
import type { OwnershipOptions } from '../pool/pool_owner.ts';
import { describeFault, EngineClosedError, PoolExistsError, PoolFaultedError, PoolNotFoundError, VolumeExportedError } from './errors.ts';
import { ReplicaService } from './replica_service.ts';
import { ReplicaAuthKeys } from '../replica/index.ts';
import { NexusRegistry } from './nexus_registry.ts';
import { VolumeInUseError } from './nexus_registry_errors.ts';
import { ChildOpener } from './nexus_children.ts';
import { NEXUS_OP_TIMEOUT_MS_DEFAULT, type RebuildThrottleModeName } from '../nexus/index.ts';
import type { ExportRequest, ExportView, PoolView, SessionView, TargetView, VolumeInfo } from './engine_types.ts';

export interface EngineOptions {
  dataDir: string;
  iscsi: { host: string; port: number };
  /** Where other engines' nexuses reach this one's replicas; default the iSCSI host, port 0. */
  replica?: { host: string; port: number };
  /**
   * The cluster token(s) (`--auth-token-file`): replica clients must prove they hold one,
   * and this engine's nexuses demand the same of the replica servers they reach.
   */
  replicaAuthTokens?: readonly string[];
  /** Where pool files may be created or imported from besides the data dir (`--pool-root`). Block devices: /dev. */
  poolRoots?: readonly string[];
  /** Heartbeat interval and node id written into the owner record of every pool (docs/pool-format.md "Ownership"). */
  poolOwnership?: Pick<OwnershipOptions, 'intervalMs' | 'nodeId'>;
  /** Whether nexus rebuilds yield to foreground I/O where a nexus does not say (`--rebuild-throttle-mode`; default adaptive). */
  rebuildThrottleMode?: RebuildThrottleModeName;
  /** Where local attaches (exports served over FUSE to this node) put their files (`--local-attach-dir`); unset: off. */
  localAttachDir?: string;
  /** The /dev/fuse descriptors the FUSE keeper gave this worker (src/engine/fuse_keeper.ts). */
  keptFds?: KeptFds;
  logger: Logger;
}

/** Exports of nexuses are recorded under this pool name, which no real pool can take (names start alphanumeric). */
export const NEXUS_EXPORT_POOL = '_nexus';

interface PoolEntry {
  record: PoolRecord;
  pool?: Pool;
  fault?: string;
}

/**
 * One storage node's engine: the pools it has imported, their volumes, and the iSCSI
 * exports of those volumes. Plain methods, no HTTP, so the API server and a control
 * plane in the same process can both drive it. Every mutation runs under one lock and
 * ends by saving the engine state, so what the API acknowledged survives a restart.
 */
export class Engine {
  readonly dataDir: string;
  readonly #log: Logger;
  readonly #pools = new Map<string, PoolEntry>();
  readonly #server: IscsiServer;
  #exports!: ExportRegistry;
  #replicas: ReplicaService | undefined;
  #nexuses: NexusRegistry | undefined;
  readonly #replicaListen: { host: string; port: number };
  readonly #replicaAuth: ReplicaAuthKeys | undefined;
  readonly #rebuildThrottleMode: RebuildThrottleModeName | undefined;
  #portal = { host: '', port: 0 };
  #lock: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #poolRoots: readonly string[];
  readonly #poolOwnership: Pick<OwnershipOptions, 'intervalMs' | 'nodeId'>;
  #dataDirLock: DataDirLock | undefined;
  readonly #local: LocalAttaches;
  readonly #localDir: string | undefined;

  private constructor(opts: EngineOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.#log = opts.logger;
    this.#localDir = opts.localAttachDir === undefined ? undefined : resolve(opts.localAttachDir);
    this.#local = new LocalAttaches(this.#localDir, opts.logger, opts.keptFds);
    this.#server = new IscsiServer({ ...opts.iscsi, logger: opts.logger });
    this.#replicaListen = opts.replica ?? { host: opts.iscsi.host, port: 0 };
    // The data dir is always a root: the engine's own pools live there.
    this.#poolRoots = [this.dataDir, ...(opts.poolRoots ?? []).map((r) => resolve(r))];
    this.#poolOwnership = opts.poolOwnership ?? {};
    this.#replicaAuth = opts.replicaAuthTokens ? new ReplicaAuthKeys(opts.replicaAuthTokens) : undefined;
    this.#rebuildThrottleMode = opts.rebuildThrottleMode;
  }

  /** Loads the state, imports every registered pool, starts iSCSI and re-exports. */
  static async open(opts: EngineOptions): Promise<Engine> {
    const engine = new Engine(opts);
    try {
      await engine.#start();
    } catch (err) {
      // Pools imported before the failure must be closed cleanly, not left open.
      await engine.close();
      throw err;
    }
    return engine;
  }

  get portal(): { host: string; port: number } {
    return { ...this.#portal };
  }

  /** host:port of the replica protocol server. */
  get replicaEndpoint(): string {
    return this.#replicas?.endpoint ?? '';
  }

  /** The replicated volumes this engine fronts (see nexus_registry.ts). */
  get nexuses(): NexusRegistry {
    if (!this.#nexuses) throw new EngineClosedError();
    return this.#nexuses;
  }

  async #start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    this.#dataDirLock = await lockDataDir(this.dataDir, this.#poolOwnership.nodeId ?? '');
    await mkdir(join(this.dataDir, 'pools'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.dataDir, 'pr'), { recursive: true, mode: 0o700 });
    const state = await loadEngineState(this.dataDir);
    // All at once: each import may wait on its pool's previous owner (docs/pool-format.md §13).
    await Promise.all(state.pools.map(async (record) => {
      const entry: PoolEntry = { record: { ...record } };
      this.#pools.set(record.name, entry);
      try {
        entry.pool = await Pool.import(record.path, { logger: this.#log, ownership: this.#poolOwnership });
      } catch (err) {
        entry.fault = describeFault(err);
        this.#log.error({ pool: record.name, path: record.path, reason: entry.fault }, 'pool faulted at import');
      }
    }));
    this.#replicas = await ReplicaService.start({
      dataDir: this.dataDir, ...this.#replicaListen, log: this.#log, lookup: (p, v) => this.#replicaVolume(p, v),
      ...(this.#replicaAuth ? { auth: this.#replicaAuth } : {}),
    });
    this.#nexuses = await NexusRegistry.open({
      dataDir: this.dataDir, opener: new ChildOpener(this.#replicas, NEXUS_OP_TIMEOUT_MS_DEFAULT), log: this.#log,
      ...(this.#rebuildThrottleMode ? { rebuildThrottleMode: this.#rebuildThrottleMode } : {}),
    });
    this.#portal = await this.#server.listen();
    this.#exports = new ExportRegistry({
      server: this.#server,
      logger: this.#log,
      prDir: join(this.dataDir, 'pr'),
      portal: this.#portal,
      // An escape hatch to measure what per-command accounting costs (docs/monitoring.md).
      countIo: process.env.BERTH_IO_METRICS !== '0',
    });
    await this.#exports.restore(state.targets, (p, v) => this.#openVolume(p, v));
    if (this.#localDir !== undefined) {
      await mkdir(this.#localDir, { recursive: true, mode: 0o700 });
      await this.#local.start((p, v) => this.#attachableOrNone(p, v));
    }
  }

  // ---- pools ----

  listPools(): PoolView[] {
    return [...this.#pools.values()].map((e) => this.#poolView(e)).sort((a, b) => a.name.localeCompare(b.name));
  }

  describePool(name: string): PoolView {
    return this.#poolView(this.#entry(name));
  }

  createPool(req: { name: string; path?: string; sizeBytes?: number; extentSize?: number; thick?: boolean; force?: boolean }): Promise<PoolView> {
    return this.#mutate(async () => {
      const path = req.path === undefined ? join(this.dataDir, 'pools', `${req.name}.pool`) : checkPoolPath(req.path, this.#poolRoots);
      this.#checkNewPool(req.name, path);
      const pool = await Pool.create(path, {
        name: req.name,
        ...(req.sizeBytes !== undefined ? { sizeBytes: req.sizeBytes } : {}),
        ...(req.extentSize !== undefined ? { extentSize: req.extentSize } : {}),
        ...(req.thick === true ? { thick: true } : {}),
        ...(req.force === true ? { force: true } : {}),
        ownership: this.#poolOwnership,
        logger: this.#log,
      });
      const entry: PoolEntry = { record: { name: req.name, path }, pool };
      this.#pools.set(req.name, entry);
      return this.#poolView(entry);
    });
  }

  importPool(req: { path: string }): Promise<PoolView> {
    return this.#mutate(async () => {
      const path = checkPoolPath(req.path, this.#poolRoots);
      for (const e of this.#pools.values()) {
        if (e.record.path === path) throw new PoolExistsError(`pool file ${path} is already registered as '${e.record.name}'`);
      }
      const pool = await Pool.import(path, { logger: this.#log, ownership: this.#poolOwnership });
      const name = pool.info().name;
      if (this.#pools.has(name)) {
        await pool.close();
        throw new PoolExistsError(`a pool named '${name}' is already registered`);
      }
      const entry: PoolEntry = { record: { name, path }, pool };
      this.#pools.set(name, entry);
      this.#log.info({ pool: name, path }, 'pool imported');
      return this.#poolView(entry);
    });
  }

  /** Destroys the pool's on-disk data; a faulted pool is only forgotten, its file left alone. */
  destroyPool(name: string): Promise<void> {
    return this.#mutate(async () => {
      const entry = this.#entry(name);
      const exported = this.#exports.isPoolReferenced(name);
      if (exported !== undefined) throw new VolumeExportedError(name, exported);
      if (entry.pool?.lostOwnership) {
        // Another engine owns it now: forget it here, never touch its bytes.
        await entry.pool.close();
      } else if (entry.pool) {
        await entry.pool.destroy();
        // A file the engine made in its own pools directory goes too; one the user named stays.
        if (dirname(entry.record.path) === join(this.dataDir, 'pools')) await rm(entry.record.path, { force: true });
      }
      this.#pools.delete(name);
      this.#log.info({ pool: name }, entry.pool ? 'pool destroyed' : 'faulted pool forgotten');
    });
  }

  // ---- volumes ----

  async listVolumes(pool: string): Promise<VolumeInfo[]> {
    return [...await this.#pool(pool).listVolumes()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The imported pool `name`, for snapshot and clone requests: they run outside the
   * engine lock because a copy can take a while, and the pool orders them itself.
   */
  importedPool(name: string): Pool {
    if (this.#closed) throw new EngineClosedError();
    return this.#pool(name);
  }

  async describeVolume(pool: string, volume: string): Promise<VolumeInfo> {
    return this.#pool(pool).volumeInfo(volume);
  }

  createVolume(pool: string, req: { name: string; sizeBytes: number; blockSize?: 512 | 4096; thin?: boolean }): Promise<VolumeInfo> {
    return this.#mutate(async () => {
      return this.#pool(pool).createVolume(req);
    }, false);
  }

  resizeVolume(pool: string, volume: string, sizeBytes: number): Promise<VolumeInfo> {
    return this.#mutate(async () => {
      const p = this.#pool(pool);
      await p.resizeVolume(volume, sizeBytes);
      this.#exports.capacityChanged(pool, volume);
      this.#log.info({ pool, volume, sizeBytes }, 'volume resized');
      return p.volumeInfo(volume);
    }, false);
  }

  deleteVolume(pool: string, volume: string): Promise<void> {
    return this.#mutate(async () => {
      const p = this.#pool(pool);
      if (this.#exports.find(pool, volume)) throw new VolumeExportedError(pool, volume);
      const user = this.#nexuses?.nexusUsing(pool, volume);
      if (user !== undefined) throw new VolumeInUseError(pool, volume, user);
      const info = await p.volumeInfo(volume);
      await p.deleteVolume(volume);
      this.#exports.prStoreFor(info.uuid).removeSync();
      this.#log.info({ pool, volume }, 'volume deleted');
    }, false);
  }

  // ---- exports ----

  /** Per-export I/O counters, read by /metrics. */
  exportIoStats(): ExportIoStats[] {
    return this.#exports.ioStats();
  }

  listExports(): ExportView[] {
    return this.#exports.exports();
  }

  describeExport(pool: string, volume: string): ExportView {
    return this.#exports.exportOf(pool, volume);
  }

  /** The SCSI logical unit an export serves (the snapshot barrier holds its writes), or undefined. */
  exportUnit(pool: string, volume: string): LogicalUnit | undefined {
    const found = this.#exports.find(pool, volume);
    return found ? found.target.scsi.unit(found.lun.record.lun) : undefined;
  }

  createExport(req: ExportRequest): Promise<ExportView> {
    return this.#mutate(async () => {
      const view = await this.#exports.export(req, (p, v) => this.#openVolume(p, v));
      // A local attach waiting for this export (a nexus replaced by a grown one) is served again.
      if (this.#local.has(req.pool, req.volume) !== undefined) {
        const unit = this.#attachableOrNone(req.pool, req.volume);
        if (unit) this.#local.rebind(req.pool, req.volume, unit);
      }
      return view;
    });
  }

  /** A local attach of the volume stays mounted: its requests wait for the export to come back (local_attach.ts). */
  deleteExport(pool: string, volume: string): Promise<void> {
    return this.#mutate(async () => {
      const attached = this.#local.has(pool, volume) !== undefined;
      const before = attached ? this.#attachableOrNone(pool, volume) : undefined;
      if (attached) this.#local.unbind(pool, volume);
      try {
        await this.#exports.unexport(pool, volume);
      } catch (err) {
        if (before) this.#local.rebind(pool, volume, before);
        throw err;
      }
    });
  }

  /** A faulted export serves no local attach: its requests keep waiting, then fail. */
  #attachableOrNone(pool: string, volume: string): AttachableLun | undefined {
    try {
      return this.#exports.attachable(pool, volume);
    } catch {
      return undefined;
    }
  }

  /** Serves an exported volume to this node over FUSE (src/engine/local_attach.ts). */
  createLocalAttach(pool: string, volume: string): Promise<LocalAttachView> {
    return this.#mutate(() => this.#local.attach(pool, volume, this.#exports.attachable(pool, volume)), false);
  }

  deleteLocalAttach(pool: string, volume: string): Promise<void> {
    return this.#mutate(() => this.#local.detach(pool, volume), false);
  }

  listLocalAttaches(): LocalAttachView[] {
    return this.#local.list();
  }

  listTargets(): TargetView[] {
    return this.#exports.targets();
  }

  sessions(): SessionView[] {
    return this.#exports.sessions();
  }

  exportCount(): number {
    return this.#exports.exportCount();
  }

  /**
   * Stops serving: sessions end, volumes close, pools flush and close. Idempotent.
   * `handover`: kept local attaches stay mounted for the next worker (fuse_keeper.ts).
   */
  async close(o: { handover?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lock.catch(() => undefined);
    await this.#local.closeAll(o.handover === true);
    await this.#server.close();
    this.#exports?.closeAll();
    await this.#nexuses?.close();
    await this.#replicas?.close();
    for (const e of this.#pools.values()) {
      if (!e.pool) continue;
      try {
        await e.pool.close();
      } catch (err) {
        this.#log.error({ pool: e.record.name, err }, 'pool close failed');
      }
    }
    await this.#dataDirLock?.release();
    this.#log.info('engine closed');
  }

  // ---- internals ----

  /** Runs `fn` alone; afterwards saves the state when `persist` (volume ops live in the pool). */
  #mutate<T>(fn: () => Promise<T>, persist = true): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.#closed) throw new EngineClosedError();
      const result = await fn();
      if (persist) await this.#save();
      return result;
    };
    const next = this.#lock.then(run, run);
    this.#lock = next.catch(() => undefined);
    return next;
  }

  async #save(): Promise<void> {
    await saveEngineState(this.dataDir, {
      version: ENGINE_STATE_VERSION,
      pools: [...this.#pools.values()].map((e) => e.record),
      targets: this.#exports.records(),
    });
  }

  async #openVolume(pool: string, volume: string) {
    if (pool === NEXUS_EXPORT_POOL) return this.nexuses.device(volume);
    return this.#pool(pool).openVolume(volume);
  }

  /** A pool volume for the replica server; undefined when the pool or volume is unknown. */
  #replicaVolume(pool: string, volume: string) {
    const e = this.#pools.get(pool);
    if (!e?.pool || e.pool.lostOwnership !== null) return undefined;
    try {
      return e.pool.openVolume(volume);
    } catch {
      return undefined;
    }
  }

  #checkNewPool(name: string, path: string): void {
    if (this.#pools.has(name)) throw new PoolExistsError(`a pool named '${name}' is already registered`);
    for (const e of this.#pools.values()) {
      if (e.record.path === path) throw new PoolExistsError(`pool file ${path} is already registered as '${e.record.name}'`);
    }
  }

  #entry(name: string): PoolEntry {
    const e = this.#pools.get(name);
    if (!e) throw new PoolNotFoundError(name);
    return e;
  }

  #pool(name: string): Pool {
    const e = this.#entry(name);
    if (!e.pool) throw new PoolFaultedError(name, e.fault ?? 'not imported');
    const lost = e.pool.lostOwnership;
    if (lost !== null) throw new PoolFaultedError(name, describeFault(lost));
    return e.pool;
  }

  #poolView(e: PoolEntry): PoolView {
    if (!e.pool) return { name: e.record.name, path: e.record.path, state: 'faulted', reason: e.fault ?? 'not imported' };
    const lost = e.pool.lostOwnership;
    if (lost !== null) return { name: e.record.name, path: e.record.path, state: 'faulted', reason: describeFault(lost) };
    return { ...e.pool.info(), state: 'online' };
  }
}
