/**
 * Local attach: an exported volume (or nexus) served to this node's kernel as a file over
 * FUSE by the engine itself, for a loop device to sit on, with no iSCSI initiator and no
 * qemu-storage-daemon between. It shares the export's logical unit with the iSCSI
 * sessions (src/fuse/fuse_front.ts), so a volume must be exported first.
 *
 * The files live in one directory given at start-up (`--local-attach-dir`); without it
 * the feature is off. Under the FUSE keeper (src/engine/fuse_keeper.ts) a mount outlives
 * this process: the next worker takes its connection over (`resume`). Without the keeper,
 * or when the keeper itself dies, the kernel fails the file's I/O (ENOTCONN), and the
 * next start unmounts what is left.
 */
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.ts';
import { BerthError } from '../util/errors.ts';
import { FuseFront, type FuseGeometry } from '../fuse/fuse_front.ts';
import { FuseMount, FuseMountError, unmountLazy } from '../fuse/fuse_mount.ts';
import type { ITNexus, ScsiTarget } from '../scsi/types.ts';
import type { KeptFds } from './kept_fds.ts';

export class LocalAttachDisabledError extends BerthError {
  constructor() { super('LOCAL_ATTACH_DISABLED', 'local attach is off: start the engine with --local-attach-dir DIR'); }
}
export class LocalAttachExistsError extends BerthError {
  constructor(key: string, path: string) { super('LOCAL_ATTACH_EXISTS', `volume '${key}' is already attached locally at ${path}`); }
}
export class LocalAttachNotFoundError extends BerthError {
  constructor(key: string) { super('LOCAL_ATTACH_NOT_FOUND', `volume '${key}' has no local attach`); }
}
export class LocalAttachExhaustedError extends BerthError {
  constructor() {
    super('LOCAL_ATTACH_EXHAUSTED', 'no spare /dev/fuse descriptor is left in this engine worker (--local-attach-spares); a restart of the engine tops them up');
  }
}
export class LocalAttachInUseError extends BerthError {
  constructor(path: string) { super('LOCAL_ATTACH_IN_USE', `${path} is in use (a loop device or an open file); detach that first`); }
}

/** WRITE requests up to 128 KiB: the loop device's usual request size, and qemu's export's. */
export const LOCAL_ATTACH_MAX_WRITE = 128 * 1024;
/** How long a handover waits for the requests already read to be answered. */
const HANDOVER_DRAIN_MS = 5_000;

/** What the engine hands over for one export: its SCSI target, LUN and volume geometry. */
export interface AttachableLun {
  target: Pick<ScsiTarget, 'execute' | 'dataOutReusable' | 'nexusAdded' | 'nexusRemoved'>;
  lun: number;
  iqn: string;
  geometry: () => FuseGeometry;
}

export interface LocalAttachView {
  pool: string;
  volume: string;
  path: string;
  /** Requests answered with an error since the attach, by errno number. */
  errors: Record<string, number>;
  /** Whether the connection outlives this engine process (held by the FUSE keeper). */
  kept: boolean;
  /** Requests the kernel sent again after this process took the connection over. */
  resent: number;
  /** Requests read and not yet answered. */
  inFlight: number;
}

interface Live {
  pool: string;
  volume: string;
  mount: FuseMount;
  front: FuseFront;
  nexus: ITNexus;
  /** The export currently served (swapped by rebind); none while it is replaced or not yet back. */
  unit: AttachableLun | undefined;
  /** The kept descriptor (fuse_keeper.ts), if the keeper holds this connection. */
  keptFd: number | undefined;
}

/** The file name for a volume: pool and volume names are [A-Za-z0-9._-] (docs/api.md), joined by '@'. */
function fileName(pool: string, volume: string): string {
  return `${pool}@${volume}`.replace(/[^A-Za-z0-9._@-]/g, '_');
}

export class LocalAttaches {
  readonly #dir: string | undefined;
  readonly #log: Logger;
  readonly #kept: KeptFds | undefined;
  readonly #live = new Map<string, Live>();

  constructor(dir: string | undefined, log: Logger, kept?: KeptFds) {
    this.#dir = dir;
    this.#log = log;
    this.#kept = kept;
  }

  /**
   * At start: takes over the connections a dead worker served (under the keeper), then
   * unmounts every other file in the directory: a previous engine's mounts there are dead
   * (ENOTCONN), and their names must be free for new attaches.
   */
  async start(unitOf: (pool: string, volume: string) => AttachableLun | undefined): Promise<void> {
    if (this.#dir === undefined) return;
    for (const slot of this.#kept?.takeInherited() ?? []) {
      const { pool, volume, path } = slot.record!;
      try {
        this.#resume(pool, volume, path, slot.fd, unitOf(pool, volume));
      } catch (err) {
        this.#kept!.release(slot.fd);
        this.#log.warn({ pool, volume, path, err }, 'local attach not taken over');
      }
    }
    const served = new Set([...this.#live.values()].map((l) => l.mount.path));
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    for (const n of names) if (!served.has(join(this.#dir, n))) await unmountLazy(join(this.#dir, n));
  }

  has(pool: string, volume: string): string | undefined {
    return this.#live.get(`${pool}/${volume}`)?.mount.path;
  }

  async attach(pool: string, volume: string, unit: AttachableLun): Promise<LocalAttachView> {
    if (this.#dir === undefined) throw new LocalAttachDisabledError();
    const key = `${pool}/${volume}`;
    const existing = this.#live.get(key);
    if (existing) throw new LocalAttachExistsError(key, existing.mount.path);
    const path = join(this.#dir, fileName(pool, volume));
    let keptFd: number | undefined;
    if (this.#kept) {
      // Under the keeper every attach is kept: one that would die with this process is refused, so callers take the iSCSI path.
      keptFd = this.#kept.takeSpare({ pool, volume, path });
      if (keptFd === undefined) throw new LocalAttachExhaustedError();
    }
    const live = this.#newLive(pool, volume, unit, keptFd);
    await unmountLazy(path);
    try {
      live.mount = await FuseMount.mount({
        path, source: `berth:${key}`, maxWrite: LOCAL_ATTACH_MAX_WRITE, onRequest: live.onRequest, onGone: (why) => this.#gone(key, why),
        ...(keptFd !== undefined ? { fd: keptFd } : {}),
      });
    } catch (err) {
      unit.target.nexusRemoved(live.nexus);
      if (keptFd !== undefined) this.#kept!.release(keptFd);
      throw err;
    }
    this.#live.set(key, live);
    this.#log.info({ pool, volume, path, kept: keptFd !== undefined }, 'local attach mounted');
    return this.#view(live);
  }

  /** A connection whose server died: served again, from the export if it is back (else its requests wait, as after unbind). */
  #resume(pool: string, volume: string, path: string, fd: number, unit: AttachableLun | undefined): void {
    const key = `${pool}/${volume}`;
    const live = this.#newLive(pool, volume, unit, fd);
    let adopted;
    try {
      adopted = FuseMount.adopt({ path, fd, maxWrite: LOCAL_ATTACH_MAX_WRITE, onRequest: live.onRequest, onGone: (why) => this.#gone(key, why) });
    } catch (err) {
      unit?.target.nexusRemoved(live.nexus);
      throw err;
    }
    live.mount = adopted.mount;
    this.#live.set(key, live);
    if (!adopted.resend) this.#log.error({ pool, volume, path }, 'the kernel does not resend requests (FUSE_NOTIFY_RESEND needs Linux 6.9): those in flight when the last engine died stay unanswered');
    this.#log.info({ pool, volume, path, bound: unit !== undefined }, 'local attach taken over from the previous engine worker');
  }

  /** The parts of an attach that exist before its mount (the mount is set once made). */
  #newLive(pool: string, volume: string, unit: AttachableLun | undefined, keptFd: number | undefined): Live & { onRequest: (buf: Buffer, n: number) => void } {
    const key = `${pool}/${volume}`;
    // The attach's own SCSI initiator port (I_T nexus): reservations and unit attentions key on it.
    const iqn = unit?.iqn ?? `berth:${key}`;
    const nexus: ITNexus = {
      id: `local:${key}`, initiatorName: `${iqn}:local-attach`, isid: '000000000000',
      targetName: iqn, tpgt: 1, relativeTargetPortId: 1,
    };
    const live = { pool, volume, nexus, unit, keptFd } as Live & { onRequest: (buf: Buffer, n: number) => void };
    live.front = new FuseFront({
      ...(unit ? { unit } : {}), nexus, maxWrite: LOCAL_ATTACH_MAX_WRITE,
      // The mount is set before the first request can arrive: the socket reads only in a later poll phase.
      send: (reply) => {
        try {
          live.mount?.send(reply);
        } catch (err) {
          // A reply the kernel refused (EINVAL) is our bug; the request fails in the kernel, the engine goes on.
          this.#log.error({ pool, volume, err }, 'local attach reply refused by the kernel');
        }
      },
    });
    live.onRequest = (buf, n) => {
      try {
        live.front.handle(buf, n);
      } catch (err) {
        this.#log.error({ pool, volume, err }, 'local attach request failed');
      }
    };
    unit?.target.nexusAdded(nexus);
    return live;
  }

  async detach(pool: string, volume: string): Promise<void> {
    const key = `${pool}/${volume}`;
    const live = this.#live.get(key);
    if (!live) throw new LocalAttachNotFoundError(key);
    try {
      await live.mount.unmount();
    } catch (err) {
      if (err instanceof FuseMountError && /busy/i.test(err.message)) throw new LocalAttachInUseError(live.mount.path);
      throw err;
    }
    this.#drop(key, live);
  }

  /**
   * The volume's export is about to be removed (a nexus being replaced by a grown one, or
   * an unexport): the file stays mounted and its requests wait for `rebind`, then fail.
   */
  unbind(pool: string, volume: string): void {
    const live = this.#live.get(`${pool}/${volume}`);
    if (!live) return;
    live.front.unbind();
    live.unit?.target.nexusRemoved(live.nexus);
    live.unit = undefined;
  }

  /** The volume is exported again: its file is served from the new logical unit. */
  rebind(pool: string, volume: string, unit: AttachableLun): void {
    const live = this.#live.get(`${pool}/${volume}`);
    if (!live) return;
    unit.target.nexusAdded(live.nexus);
    live.unit = unit;
    live.front.rebind(unit);
    this.#log.info({ pool, volume, path: live.mount.path }, 'local attach served from the new export');
  }

  list(): LocalAttachView[] {
    return [...this.#live.values()].map((l) => this.#view(l));
  }

  /**
   * Engine shutdown: the mounts do not outlive a clean stop; detach them lazily. On a
   * handover (fuse_keeper.ts) the kept ones stay mounted for the next worker instead.
   */
  async closeAll(handover = false): Promise<void> {
    if (handover) await this.#leaveKept();
    for (const [key, live] of this.#live) {
      await live.mount.unmount(true).catch(() => undefined);
      this.#drop(key, live);
    }
  }

  /**
   * Reading stops, the requests already read are answered (for up to HANDOVER_DRAIN_MS;
   * the kernel sends any still unanswered to the next worker), and this process's
   * descriptor closes. The keeper's copy keeps each connection, and its record, for the
   * next worker: nothing is released.
   */
  async #leaveKept(): Promise<void> {
    const kept = [...this.#live].filter(([, l]) => l.keptFd !== undefined);
    for (const [, l] of kept) l.mount.pause();
    const until = Date.now() + HANDOVER_DRAIN_MS;
    while (kept.some(([, l]) => l.front.inFlight > 0) && Date.now() < until) await sleep(5);
    for (const [key, l] of kept) {
      l.mount.leave();
      this.#live.delete(key);
      l.unit?.target.nexusRemoved(l.nexus);
    }
    if (kept.length > 0) this.#log.info({ localAttaches: kept.length }, 'local attaches left mounted for the next engine worker');
  }

  #gone(key: string, why: string): void {
    const live = this.#live.get(key);
    if (!live) return;
    this.#log.warn({ pool: live.pool, volume: live.volume, path: live.mount.path, why }, 'local attach ended');
    this.#drop(key, live);
  }

  #drop(key: string, live: Live): void {
    if (this.#live.get(key) !== live) return;
    this.#live.delete(key);
    live.unit?.target.nexusRemoved(live.nexus);
    if (live.keptFd !== undefined) this.#kept?.release(live.keptFd);
  }

  #view(l: Live): LocalAttachView {
    const errors: Record<string, number> = {};
    for (const [errno, n] of l.front.errors) errors[String(errno)] = n;
    return {
      pool: l.pool, volume: l.volume, path: l.mount.path, errors, kept: l.keptFd !== undefined, resent: l.front.resent, inFlight: l.front.inFlight,
    };
  }
}
