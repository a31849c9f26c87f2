/**
 * Local attach: an exported volume (or nexus) served to this node's kernel as a file over
 * FUSE by the engine itself, for a loop device to sit on, with no iSCSI initiator and no
 * qemu-storage-daemon between. It shares the export's logical unit with the iSCSI
 * sessions (src/fuse/fuse_front.ts), so a volume must be exported first.
 *
 * The files live in one directory given at start-up (`--local-attach-dir`); without it
 * the feature is off. A mount does not outlive the engine: when the engine exits the
 * kernel fails the file's I/O (ENOTCONN), and the next start unmounts what is left.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.ts';
import { BerthError } from '../util/errors.ts';
import { FuseFront, type FuseGeometry } from '../fuse/fuse_front.ts';
import { FuseMount, FuseMountError, unmountLazy } from '../fuse/fuse_mount.ts';
import type { ITNexus, ScsiTarget } from '../scsi/types.ts';

export class LocalAttachDisabledError extends BerthError {
  constructor() { super('LOCAL_ATTACH_DISABLED', 'local attach is off: start the engine with --local-attach-dir DIR'); }
}
export class LocalAttachExistsError extends BerthError {
  constructor(key: string, path: string) { super('LOCAL_ATTACH_EXISTS', `volume '${key}' is already attached locally at ${path}`); }
}
export class LocalAttachNotFoundError extends BerthError {
  constructor(key: string) { super('LOCAL_ATTACH_NOT_FOUND', `volume '${key}' has no local attach`); }
}
export class LocalAttachInUseError extends BerthError {
  constructor(path: string) { super('LOCAL_ATTACH_IN_USE', `${path} is in use (a loop device or an open file); detach that first`); }
}

/** WRITE requests up to 128 KiB: the loop device's usual request size, and qemu's export's. */
export const LOCAL_ATTACH_MAX_WRITE = 128 * 1024;

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
}

interface Live {
  pool: string;
  volume: string;
  mount: FuseMount;
  front: FuseFront;
  nexus: ITNexus;
  /** The export currently served (swapped by rebind). */
  unit: AttachableLun;
}

/** The file name for a volume: pool and volume names are [A-Za-z0-9._-] (docs/api.md), joined by '@'. */
function fileName(pool: string, volume: string): string {
  return `${pool}@${volume}`.replace(/[^A-Za-z0-9._@-]/g, '_');
}

export class LocalAttaches {
  readonly #dir: string | undefined;
  readonly #log: Logger;
  readonly #live = new Map<string, Live>();

  constructor(dir: string | undefined, log: Logger) {
    this.#dir = dir;
    this.#log = log;
  }

  /** A previous engine's mounts are dead (ENOTCONN): take them down so the names can be reused. */
  async clearStale(): Promise<void> {
    if (this.#dir === undefined) return;
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    for (const n of names) await unmountLazy(join(this.#dir, n));
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
    // The attach's own SCSI initiator port (I_T nexus): reservations and unit attentions key on it.
    const nexus: ITNexus = {
      id: `local:${key}`, initiatorName: `${unit.iqn}:local-attach`, isid: '000000000000',
      targetName: unit.iqn, tpgt: 1, relativeTargetPortId: 1,
    };
    // Set before the first request can arrive: the socket reads only in a later poll phase.
    let mount: FuseMount | undefined;
    const front = new FuseFront({
      unit, nexus, maxWrite: LOCAL_ATTACH_MAX_WRITE,
      send: (reply) => {
        try {
          mount?.send(reply);
        } catch (err) {
          // A reply the kernel refused (EINVAL) is our bug; the request fails in the kernel, the engine goes on.
          this.#log.error({ pool, volume, err }, 'local attach reply refused by the kernel');
        }
      },
    });
    await unmountLazy(path);
    unit.target.nexusAdded(nexus);
    try {
      mount = await FuseMount.mount({
        path, source: `berth:${key}`, maxWrite: LOCAL_ATTACH_MAX_WRITE,
        onRequest: (buf, n) => {
          try {
            front.handle(buf, n);
          } catch (err) {
            this.#log.error({ pool, volume, err }, 'local attach request failed');
          }
        },
        onGone: (why) => this.#gone(key, why),
      });
    } catch (err) {
      unit.target.nexusRemoved(nexus);
      throw err;
    }
    const live: Live = { pool, volume, mount, front, nexus, unit };
    this.#live.set(key, live);
    this.#log.info({ pool, volume, path }, 'local attach mounted');
    return this.#view(live);
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
    live.unit.target.nexusRemoved(live.nexus);
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

  /** Engine shutdown: the mounts cannot outlive the process; detach them lazily. */
  async closeAll(): Promise<void> {
    for (const [key, live] of this.#live) {
      await live.mount.unmount(true).catch(() => undefined);
      this.#drop(key, live);
    }
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
    live.unit.target.nexusRemoved(live.nexus);
  }

  #view(l: Live): LocalAttachView {
    const errors: Record<string, number> = {};
    for (const [errno, n] of l.front.errors) errors[String(errno)] = n;
    return { pool: l.pool, volume: l.volume, path: l.mount.path, errors };
  }
}
