/**
 * LocalFirstAttacher: when the volume's export is on this node's own engine, ask that
 * engine to serve it as a FUSE file (docs/local-attach.md) and put a loop device on it,
 * with no iSCSI and no qemu-storage-daemon between; otherwise attach as `inner` does.
 *
 * "Its own engine" is decided by the engine's own list: the publish context's portal,
 * IQN and LUN must be one of its exports. Volumes whose exports demand CHAP keep the
 * iSCSI path: their StorageClass asked for authenticated sessions. The staged record's
 * handle says which path a device took, so a restarted node plugin detaches it the same
 * way (the kind stays inner's: both paths live in one attacher).
 */
import type { AttachedDevice, AttachRequest, Attacher, TargetAddress } from './attacher.ts';
import { AttachError } from './csi_errors.ts';
import { detachLoopOfFile, growLoopOnFile, loopOfFile, loopOnFile } from './loop_file.ts';
import type { CommandRunner } from './node_exec.ts';

export interface LocalFirstAttacherOptions {
  inner: Attacher;
  runner: CommandRunner;
  /** This node's engine API, e.g. http://10.0.0.5:9500. */
  engineApi: string;
  /** The cluster token the engine's API demands (docs/security.md). */
  authToken?: string;
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

interface TargetsDoc { targets: { iqn: string; luns: { lun: number; pool: string; volume: string; state: string }[] }[] }
interface ExportsDoc { exports: { pool: string; volume: string; portal: string; targetIqn: string; lun: number }[] }

/** The engine records nexus exports under this pool name (src/engine/engine.ts). */
const NEXUS_POOL = '_nexus';

export class LocalFirstAttacher implements Attacher {
  readonly kind: string;
  readonly #o: LocalFirstAttacherOptions;

  constructor(o: LocalFirstAttacherOptions) {
    this.#o = o;
    this.kind = o.inner.kind;
  }

  async attach(req: AttachRequest): Promise<AttachedDevice> {
    const local = req.chap ? undefined : await this.#findExport(req).catch((err: Error) => {
      this.#o.log?.warn({ volumeId: req.volumeId, err: err.message }, 'local attach: the node\'s engine did not answer; attaching over iSCSI');
      return undefined;
    });
    if (!local) return this.#o.inner.attach(req);
    try {
      return await this.#attachLocal(req.volumeId, local);
    } catch (err) {
      // The iSCSI path still works: a failed local attach costs speed, not the volume.
      this.#o.log?.warn({ volumeId: req.volumeId, err: (err as Error).message }, 'local attach failed; attaching over iSCSI');
      await this.#call('DELETE', this.#route(local), [204, 404, 409]).catch(() => undefined);
      return this.#o.inner.attach(req);
    }
  }

  async #attachLocal(volumeId: string, local: { pool: string; volume: string }): Promise<AttachedDevice> {
    const doc = await this.#call<{ path?: string }>('POST', this.#route(local), [201, 409]);
    // 409: attached already (a retried NodeStage); the path is the engine's to name.
    const path = doc.path ?? (await this.#attachedPath(local));
    const loop = await loopOnFile(this.#o.runner, path, volumeId);
    this.#o.log?.info({ volumeId, path, loop }, 'attached through the engine\'s local attach');
    return { devicePath: loop, handle: { local: 'true', pool: local.pool, volume: local.volume, path, loop } };
  }

  async detach(volumeId: string, target: TargetAddress, device: AttachedDevice, lastUserOfTarget: boolean): Promise<void> {
    if (device.handle.local !== 'true') return this.#o.inner.detach(volumeId, target, device, lastUserOfTarget);
    await detachLoopOfFile(this.#o.runner, device.handle.path);
    await this.#call('DELETE', this.#route(device.handle as { pool: string; volume: string }), [204, 404]);
  }

  async rescan(volumeId: string, target: TargetAddress, device: AttachedDevice, newSizeBytes: number): Promise<void> {
    if (device.handle.local !== 'true') return this.#o.inner.rescan(volumeId, target, device, newSizeBytes);
    await growLoopOnFile(this.#o.runner, device.handle.path, device.devicePath, newSizeBytes, `the local attach of ${volumeId}`);
  }

  async problem(device: AttachedDevice): Promise<string | undefined> {
    if (device.handle.local !== 'true') return this.#o.inner.problem(device);
    const list = await this.#call<{ localAttaches?: { pool: string; volume: string }[] }>('GET', '/v1/local-attaches', [200]).catch(() => undefined);
    if (list && !list.localAttaches?.some((l) => l.pool === device.handle.pool && l.volume === device.handle.volume)) {
      return 'the engine no longer serves this local attach (did it restart?): the filesystem on it fails its I/O until the pod is restarted';
    }
    if (!(await loopOfFile(this.#o.runner, device.handle.path))) return `loop device ${device.devicePath} is no longer attached`;
    return undefined;
  }

  /** The export behind `req` on this node's engine, if it is one of its own. */
  async #findExport(req: AttachRequest): Promise<{ pool: string; volume: string } | undefined> {
    const [exps, targets] = await Promise.all([
      this.#call<ExportsDoc>('GET', '/v1/exports', [200]),
      this.#call<TargetsDoc>('GET', '/v1/targets', [200]),
    ]);
    const ex = exps.exports?.find((e) => e.targetIqn === req.iqn && e.lun === req.lun && e.portal === req.portal);
    const lun = targets.targets?.find((t) => t.iqn === req.iqn)?.luns.find((l) => l.lun === req.lun);
    if (!ex || !lun || lun.state !== 'online') return undefined;
    return { pool: ex.pool, volume: ex.volume };
  }

  async #attachedPath(v: { pool: string; volume: string }): Promise<string> {
    const list = await this.#call<{ localAttaches?: { pool: string; volume: string; path: string }[] }>('GET', '/v1/local-attaches', [200]);
    const found = list.localAttaches?.find((l) => l.pool === v.pool && l.volume === v.volume);
    if (!found) throw new AttachError(`the engine refused the local attach of ${v.pool}/${v.volume} and lists none`);
    return found.path;
  }

  #route(v: { pool: string; volume: string }): string {
    const e = encodeURIComponent;
    return v.pool === NEXUS_POOL ? `/v1/nexus/${e(v.volume)}/local-attach` : `/v1/exports/${e(v.pool)}/${e(v.volume)}/local-attach`;
  }

  async #call<T>(method: string, path: string, okStatus: number[]): Promise<T> {
    const res = await fetch(new URL(path, this.#o.engineApi), {
      method,
      headers: this.#o.authToken !== undefined ? { authorization: `Bearer ${this.#o.authToken}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!okStatus.includes(res.status)) {
      const msg = (() => { try { return (JSON.parse(text) as { error?: { message?: string } }).error?.message; } catch { return undefined; } })();
      throw new AttachError(`engine ${method} ${path}: ${res.status} ${msg ?? ''}`.trim());
    }
    return (text ? JSON.parse(text) : {}) as T;
  }
}
