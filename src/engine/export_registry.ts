import { join } from 'node:path';
import type { Logger } from '../util/log.ts';
import { IoStats, ScsiTargetDevice } from '../scsi/index.ts';
import type { IscsiServer } from '../iscsi/index.ts';
import type { ChapConfig, LunRecord, TargetRecord } from './engine_state.ts';
import type { BlockDevice } from '../block/block_device.ts';
import type { ExportRequest, ExportView, TargetView, SessionView } from './engine_types.ts';
import { FilePrStore } from './pr_store_file.ts';
import { defaultTargetIqn, naaIdForVolume, serialForVolume } from './lun_identity.ts';
import type { AttachableLun } from './local_attach.ts';
import { describeFault, ExportExistsError, ExportFaultedError, ExportNotFoundError, InvalidArgumentError, LunInUseError, TargetFullError } from './errors.ts';

/**
 * A SANITIZE rewrites the whole volume; paced like a rebuild so one LU's erase cannot
 * starve the other volumes sharing the pool's disk. Initiators poll its progress
 * (NOT READY, SANITIZE IN PROGRESS with a progress indication) meanwhile.
 */
const SANITIZE_BYTES_PER_SECOND = 128 * 1024 * 1024;

/** LUNs 0..255 fit SAM's single-level peripheral addressing, which every initiator takes. */
export const MAX_LUN = 255;

interface LiveLun {
  record: LunRecord;
  volume?: OpenVolume;
  prStore?: FilePrStore;
  ioStats?: IoStats;
  fault?: string;
}

/** One exported volume's I/O counters, for /metrics. */
export interface ExportIoStats {
  pool: string;
  volume: string;
  stats: IoStats;
}

interface LiveTarget {
  record: TargetRecord;
  scsi: ScsiTargetDevice;
  luns: Map<number, LiveLun>;
}

/** What a LUN serves: a pool volume or a nexus, with the uuid its LUN identity derives from. */
export type OpenVolume = BlockDevice & { readonly uuid: string };

/** Opens a pool volume (or nexus) for export; rejects when it is unavailable. */
export type VolumeOpener = (pool: string, volume: string) => Promise<OpenVolume>;

/**
 * The engine's iSCSI targets: one ScsiTargetDevice per target IQN holding the exported
 * volumes as LUNs, registered with the shared IscsiServer. Callers serialize mutations.
 */
export class ExportRegistry {
  readonly #server: IscsiServer;
  readonly #log: Logger;
  readonly #prDir: string;
  readonly #portal: string;
  readonly #targets = new Map<string, LiveTarget>();

  readonly #countIo: boolean;

  /** `countIo: false` leaves exports uncounted (BERTH_IO_METRICS=0), to measure what counting costs. */
  constructor(opts: { server: IscsiServer; logger: Logger; prDir: string; portal: { host: string; port: number }; countIo?: boolean }) {
    this.#countIo = opts.countIo ?? true;
    this.#server = opts.server;
    this.#log = opts.logger;
    this.#prDir = opts.prDir;
    this.#portal = `${opts.portal.host}:${opts.portal.port}`;
  }

  /** Re-creates saved targets; a LUN whose volume cannot be opened is kept, marked faulted. */
  async restore(records: TargetRecord[], open: VolumeOpener): Promise<void> {
    for (const rec of records) {
      const target = await this.#createTarget(rec.iqn, rec.allowedInitiators, rec.chap);
      for (const lunRec of rec.luns) {
        const live: LiveLun = { record: { ...lunRec } };
        target.record.luns.push(live.record);
        target.luns.set(lunRec.lun, live);
        try {
          await this.#attach(target, live, await open(lunRec.pool, lunRec.volume));
        } catch (err) {
          live.fault = describeFault(err);
          this.#log.warn({ iqn: rec.iqn, lun: lunRec.lun, pool: lunRec.pool, volume: lunRec.volume, reason: live.fault },
            'export restored as faulted');
        }
      }
    }
  }

  find(pool: string, volume: string): { target: LiveTarget; lun: LiveLun } | undefined {
    for (const target of this.#targets.values()) {
      for (const lun of target.luns.values()) {
        if (lun.record.pool === pool && lun.record.volume === volume) return { target, lun };
      }
    }
    return undefined;
  }

  /** The SCSI side of an export, for a local attach (src/engine/local_attach.ts). */
  attachable(pool: string, volume: string): AttachableLun {
    const found = this.find(pool, volume);
    if (!found) throw new ExportNotFoundError(pool, volume);
    const vol = found.lun.volume;
    if (!vol) throw new ExportFaultedError(pool, volume, found.lun.fault ?? 'not open');
    return {
      target: found.target.scsi, lun: found.lun.record.lun, iqn: found.target.record.iqn,
      geometry: () => ({ blockSize: vol.blockSize, blockCount: vol.blockCount, thin: vol.thin }),
    };
  }

  isPoolReferenced(pool: string): string | undefined {
    for (const target of this.#targets.values()) {
      for (const lun of target.luns.values()) if (lun.record.pool === pool) return lun.record.volume;
    }
    return undefined;
  }

  async export(req: ExportRequest, open: VolumeOpener): Promise<ExportView> {
    const existing = this.find(req.pool, req.volume);
    if (existing) throw new ExportExistsError(req.pool, req.volume, existing.target.record.iqn, existing.lun.record.lun);
    const iqn = (req.targetIqn ?? defaultTargetIqn(req.pool, req.volume)).toLowerCase();
    if (req.chap) checkChap(req.chap);
    const volume = await open(req.pool, req.volume);
    let target = this.#targets.get(iqn);
    const created = target === undefined;
    let live: LiveLun | undefined;
    try {
      if (!target) {
        target = await this.#createTarget(iqn, req.allowedInitiators ?? null, req.chap ?? undefined);
      }
      const lun = req.lun ?? lowestFreeLun(target);
      if (lun === undefined) throw new TargetFullError(iqn);
      if (target.luns.has(lun)) throw new LunInUseError(iqn, lun);
      live = { record: { lun, pool: req.pool, volume: req.volume } };
      await this.#attach(target, live, volume);
      target.luns.set(lun, live);
      target.record.luns.push(live.record);
      if (!created) await this.#applyAccess(target, req);
      this.#log.info({ iqn, lun, pool: req.pool, volume: req.volume }, 'volume exported');
      return this.#view(target, live);
    } catch (err) {
      if (target && live && target.luns.get(live.record.lun) === live) {
        await target.scsi.removeLun(live.record.lun);
        target.luns.delete(live.record.lun);
        target.record.luns = target.record.luns.filter((l) => l !== live!.record);
      }
      closeVolume(volume);
      if (created && target) await this.#dropTarget(target);
      throw err;
    }
  }

  async unexport(pool: string, volume: string): Promise<void> {
    const found = this.find(pool, volume);
    if (!found) throw new ExportNotFoundError(pool, volume);
    const { target, lun } = found;
    if (!lun.fault) await target.scsi.removeLun(lun.record.lun);
    if (lun.volume) closeVolume(lun.volume);
    target.luns.delete(lun.record.lun);
    target.record.luns = target.record.luns.filter((l) => l !== lun.record);
    if (target.luns.size === 0) await this.#dropTarget(target);
    this.#log.info({ iqn: target.record.iqn, lun: lun.record.lun, pool, volume }, 'volume unexported');
  }

  /** Tells initiators of the volume's LUN (if exported) that its capacity changed. */
  capacityChanged(pool: string, volume: string): void {
    const found = this.find(pool, volume);
    if (found && !found.lun.fault) found.target.scsi.capacityChanged(found.lun.record.lun);
  }

  /** The PR file of a volume, to be removed when the volume is deleted. */
  prStoreFor(uuid: string): FilePrStore {
    return new FilePrStore(join(this.#prDir, `${uuid}.json`));
  }

  records(): TargetRecord[] {
    return [...this.#targets.values()].map((t) => ({
      ...t.record,
      luns: [...t.record.luns].sort((a, b) => a.lun - b.lun),
    }));
  }

  exports(): ExportView[] {
    const out: ExportView[] = [];
    for (const t of this.#targets.values()) for (const l of t.luns.values()) out.push(this.#view(t, l));
    return out.sort((a, b) => a.targetIqn.localeCompare(b.targetIqn) || a.lun - b.lun);
  }

  exportOf(pool: string, volume: string): ExportView {
    const found = this.find(pool, volume);
    if (!found) throw new ExportNotFoundError(pool, volume);
    return this.#view(found.target, found.lun);
  }

  targets(): TargetView[] {
    return [...this.#targets.values()].sort((a, b) => a.record.iqn.localeCompare(b.record.iqn)).map((t) => ({
      iqn: t.record.iqn,
      allowedInitiators: t.record.allowedInitiators,
      chap: publicChap(t.record.chap),
      luns: [...t.luns.values()].sort((a, b) => a.record.lun - b.record.lun).map((l) => ({
        ...l.record, state: l.fault ? 'faulted' as const : 'online' as const, ...(l.fault ? { reason: l.fault } : {}),
      })),
      sessions: this.sessions(t.record.iqn),
    }));
  }

  sessions(iqn?: string): SessionView[] {
    return this.#server.sessions(iqn) as SessionView[];
  }

  ioStats(): ExportIoStats[] {
    const out: ExportIoStats[] = [];
    for (const t of this.#targets.values()) {
      for (const l of t.luns.values()) if (l.ioStats) out.push({ pool: l.record.pool, volume: l.record.volume, stats: l.ioStats });
    }
    return out;
  }

  exportCount(): number {
    let n = 0;
    for (const t of this.#targets.values()) n += t.luns.size;
    return n;
  }

  /** Closes every exported volume; the iSCSI server is closed by the caller first. */
  closeAll(): void {
    for (const t of this.#targets.values()) for (const l of t.luns.values()) if (l.volume) closeVolume(l.volume);
  }

  async #createTarget(iqn: string, acl: string[] | null, chap: ChapConfig | undefined): Promise<LiveTarget> {
    const scsi = new ScsiTargetDevice({ logger: this.#log.child({ iqn }) });
    const record: TargetRecord = { iqn, allowedInitiators: acl, ...(chap ? { chap: { ...chap } } : {}), luns: [] };
    await this.#server.addTarget({ iqn, allowedInitiators: acl ?? undefined, chap: record.chap, scsi });
    const target: LiveTarget = { record, scsi, luns: new Map() };
    this.#targets.set(iqn, target);
    return target;
  }

  async #dropTarget(target: LiveTarget): Promise<void> {
    this.#targets.delete(target.record.iqn);
    await this.#server.removeTarget(target.record.iqn);
  }

  async #applyAccess(target: LiveTarget, req: ExportRequest): Promise<void> {
    if (req.allowedInitiators === undefined && req.chap === undefined) return;
    if (req.allowedInitiators !== undefined) target.record.allowedInitiators = req.allowedInitiators;
    if (req.chap !== undefined) {
      if (req.chap === null) delete target.record.chap;
      else target.record.chap = { ...req.chap };
    }
    await this.#server.updateTarget(target.record.iqn, {
      allowedInitiators: target.record.allowedInitiators ?? undefined,
      chap: target.record.chap,
    });
  }

  async #attach(target: LiveTarget, live: LiveLun, volume: OpenVolume): Promise<void> {
    const prStore = this.prStoreFor(volume.uuid);
    const ioStats = this.#countIo ? new IoStats(volume.blockSize) : undefined;
    await target.scsi.addLun(live.record.lun, {
      ioStats,
      device: volume,
      naaId: naaIdForVolume(volume.uuid),
      serial: serialForVolume(volume.uuid),
      prStore,
      sanitizeBytesPerSecond: SANITIZE_BYTES_PER_SECOND,
    });
    live.volume = volume;
    live.prStore = prStore;
    live.ioStats = ioStats;
    delete live.fault;
  }

  #view(t: LiveTarget, l: LiveLun): ExportView {
    return {
      pool: l.record.pool,
      volume: l.record.volume,
      targetIqn: t.record.iqn,
      lun: l.record.lun,
      portal: this.#portal,
      url: `iscsi://${this.#portal}/${t.record.iqn}/${l.record.lun}`,
      allowedInitiators: t.record.allowedInitiators,
      chap: publicChap(t.record.chap),
      state: l.fault ? 'faulted' : 'online',
      ...(l.fault ? { reason: l.fault } : {}),
    };
  }
}

function lowestFreeLun(target: LiveTarget): number | undefined {
  for (let lun = 0; lun <= MAX_LUN; lun++) if (!target.luns.has(lun)) return lun;
  return undefined;
}

function publicChap(chap: ChapConfig | undefined): { user: string; mutualUser?: string } | null {
  if (!chap) return null;
  return chap.mutualUser ? { user: chap.user, mutualUser: chap.mutualUser } : { user: chap.user };
}

/** RFC 7143 12.1.3: the target must refuse a mutual secret equal to the initiator's. */
function checkChap(chap: ChapConfig): void {
  if ((chap.mutualUser === undefined) !== (chap.mutualSecret === undefined)) {
    throw new InvalidArgumentError('mutual CHAP needs both mutualUser and mutualSecret');
  }
  if (chap.mutualSecret !== undefined && chap.mutualSecret === chap.secret) {
    throw new InvalidArgumentError('the mutual CHAP secret must differ from the CHAP secret');
  }
}

function closeVolume(volume: OpenVolume): void {
  const closable = volume as unknown as { close?: () => unknown };
  if (typeof closable.close === 'function') {
    void Promise.resolve(closable.close()).catch(() => undefined);
  }
}
