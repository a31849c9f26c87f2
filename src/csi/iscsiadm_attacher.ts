/**
 * IscsiadmAttacher: the kernel's open-iscsi initiator, for nodes that have one (every
 * real cluster). Discovery creates the node record, CHAP settings go into it, login
 * makes the SCSI disk, udev names it under /dev/disk/by-path. These machines have no
 * kernel initiator, so it is tested by its command lines and recorded outputs.
 */
import { realpath, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AttachedDevice, AttachRequest, Attacher, TargetAddress } from './attacher.ts';
import { AttachError, NodeCommandError, UnauthenticatedError } from './csi_errors.ts';
import { byPathLink, chapSettings, ISCSI_ERR_LOGIN_AUTH_FAILED, ISCSI_ERR_NO_OBJS_FOUND, ISCSI_ERR_SESS_EXISTS, parseDiscovery } from './iscsiadm_parse.ts';
import { runChecked, type CommandRunner } from './node_exec.ts';

export interface IscsiadmAttacherOptions {
  runner: CommandRunner;
  /** How long udev gets to create the by-path link after login. */
  deviceWaitMs?: number;
  /** Resolves a path to its device node, or undefined when absent (tests replace it). */
  resolveDevice?: (path: string) => Promise<string | undefined>;
  /** Writes a sysfs attribute (tests replace it). */
  writeSysfs?: (path: string, value: string) => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

const ISCSIADM = 'iscsiadm';

export class IscsiadmAttacher implements Attacher {
  readonly kind = 'iscsiadm';
  private readonly opts: Required<IscsiadmAttacherOptions>;

  constructor(opts: IscsiadmAttacherOptions) {
    this.opts = {
      deviceWaitMs: 20_000,
      resolveDevice: (p) => realpath(p).catch(() => undefined),
      writeSysfs: (p, v) => writeFile(p, v),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      ...opts,
    };
  }

  async attach(req: AttachRequest): Promise<AttachedDevice> {
    const link = byPathLink(req);
    const already = await this.opts.resolveDevice(link);
    if (already) return { devicePath: link, handle: { device: already } };

    const found = parseDiscovery((await this.iscsiadm(['-m', 'discovery', '-t', 'sendtargets', '-p', req.portal])).stdout);
    if (!found.some((t) => t.iqn === req.iqn)) throw new AttachError(`portal ${req.portal} does not offer target ${req.iqn}`);
    const node = ['-m', 'node', '-T', req.iqn, '-p', req.portal];
    // Kubelet stages again after a reboot; an automatic login at boot would race it.
    await this.iscsiadm([...node, '-o', 'update', '-n', 'node.startup', '-v', 'manual']);
    const settings: [string, string][] = req.chap ? chapSettings(req.chap) : [['node.session.auth.authmethod', 'None']];
    for (const [name, value] of settings) await this.iscsiadm([...node, '-o', 'update', '-n', name, '-v', value]);
    await this.iscsiadm([...node, '--login'], [0, ISCSI_ERR_SESS_EXISTS]).catch((err: unknown) => {
      if (err instanceof NodeCommandError && err.exitCode === ISCSI_ERR_LOGIN_AUTH_FAILED) {
        throw new UnauthenticatedError(`the target of volume ${req.volumeId} refused the login: wrong or missing CHAP credentials, or this node's initiator is not admitted (iscsiadm exit ${ISCSI_ERR_LOGIN_AUTH_FAILED})`);
      }
      throw err;
    });
    // A session that already existed (another LUN of the target) needs a rescan to show this LUN.
    await this.iscsiadm([...node, '-R'], [0, ISCSI_ERR_NO_OBJS_FOUND]);

    const device = await this.waitForDevice(link);
    return { devicePath: link, handle: { device } };
  }

  async detach(_volumeId: string, target: TargetAddress, device: AttachedDevice, lastUserOfTarget: boolean): Promise<void> {
    const node = ['-m', 'node', '-T', target.iqn, '-p', target.portal];
    if (lastUserOfTarget) {
      await this.iscsiadm([...node, '--logout'], [0, ISCSI_ERR_NO_OBJS_FOUND]);
      await this.iscsiadm([...node, '-o', 'delete'], [0, ISCSI_ERR_NO_OBJS_FOUND]);
      return;
    }
    // The session stays for the target's other LUNs: drop only this LUN's SCSI disk.
    const dev = await this.opts.resolveDevice(device.devicePath);
    if (dev) await this.opts.writeSysfs(`/sys/block/${basename(dev)}/device/delete`, '1');
  }

  async rescan(_volumeId: string, target: TargetAddress): Promise<void> {
    await this.iscsiadm(['-m', 'node', '-T', target.iqn, '-p', target.portal, '-R']);
  }

  async problem(device: AttachedDevice): Promise<string | undefined> {
    return (await this.opts.resolveDevice(device.devicePath)) ? undefined : `${device.devicePath} is gone: the iSCSI session was lost`;
  }

  private iscsiadm(args: string[], okCodes: readonly number[] = [0]) {
    return runChecked(this.opts.runner, ISCSIADM, args, { okCodes, timeoutMs: 60_000 });
  }

  private async waitForDevice(link: string): Promise<string> {
    const deadline = Date.now() + this.opts.deviceWaitMs;
    let delay = 50;
    while (true) {
      const dev = await this.opts.resolveDevice(link);
      if (dev) return dev;
      if (Date.now() >= deadline) throw new AttachError(`logged in, but ${link} did not appear within ${this.opts.deviceWaitMs} ms`);
      await this.opts.sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }
}
