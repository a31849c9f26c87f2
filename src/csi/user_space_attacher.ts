/**
 * UserSpaceAttacher: for nodes whose kernel has no iSCSI initiator. qemu-storage-daemon
 * logs in with libiscsi and exports the LUN as a file over FUSE; a loop device on that
 * file is the block device. The loop uses buffered I/O (--direct-io=off) because qemu
 * 7.2's FUSE export corrupts data with more than one O_DIRECT write in flight.
 * One daemon per volume; its pid file, QMP socket and export file live in the state
 * dir, so a restarted node plugin can find and stop them.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttachedDevice, AttachRequest, Attacher, TargetAddress } from './attacher.ts';
import { NodeCommandError, PermissionDeniedError, UnauthenticatedError, UnsupportedError } from './csi_errors.ts';
import { detachLoopOfFile, growLoopOnFile, loopOfFile, loopOnFile } from './loop_file.ts';
import { runChecked, type CommandRunner } from './node_exec.ts';
import { qmpExecute } from './qmp_client.ts';
import { safeFileName } from './staged_store.ts';

export interface UserSpaceAttacherOptions {
  runner: CommandRunner;
  /** Node plugin state dir; daemons' files go under <stateDir>/userspace/. */
  stateDir: string;
  /** This node's initiator IQN (what target ACLs name). */
  initiatorName: string;
  qsdBinary?: string;
}

/** The block node and export names inside each daemon. */
const NODE_NAME = 'lun';
const EXPORT_ID = 'exp';

/** qemu option values escape a comma by doubling it. */
function qemuValue(v: string): string {
  return v.replaceAll(',', ',,');
}

export class UserSpaceAttacher implements Attacher {
  readonly kind = 'userspace';
  private readonly opts: Required<UserSpaceAttacherOptions>;

  constructor(opts: UserSpaceAttacherOptions) {
    this.opts = { qsdBinary: 'qemu-storage-daemon', ...opts };
  }

  paths(volumeId: string): { dir: string; exportFile: string; pidFile: string; qmpSocket: string; secretFile: string } {
    const dir = join(this.opts.stateDir, 'userspace', safeFileName(volumeId));
    return { dir, exportFile: join(dir, 'lun.img'), pidFile: join(dir, 'qsd.pid'), qmpSocket: join(dir, 'qmp.sock'), secretFile: join(dir, 'chap.secret') };
  }

  /** The qemu-storage-daemon command line; the CHAP password goes through a file, never argv. */
  daemonArgs(req: AttachRequest): string[] {
    const p = this.paths(req.volumeId);
    const blockdev = [
      'driver=iscsi',
      `node-name=${NODE_NAME}`,
      'transport=tcp',
      `portal=${qemuValue(req.portal)}`,
      `target=${qemuValue(req.iqn)}`,
      `lun=${req.lun}`,
      `initiator-name=${qemuValue(this.opts.initiatorName)}`,
    ];
    const args = ['--daemonize', '--pidfile', p.pidFile, '--chardev', `socket,id=qmp,path=${qemuValue(p.qmpSocket)},server=on,wait=off`, '--monitor', 'chardev=qmp'];
    if (req.chap) {
      args.push('--object', `secret,id=chap,file=${qemuValue(p.secretFile)}`);
      blockdev.push(`user=${qemuValue(req.chap.username)}`, 'password-secret=chap');
    }
    args.push('--blockdev', blockdev.join(','));
    args.push('--export', `type=fuse,id=${EXPORT_ID},node-name=${NODE_NAME},mountpoint=${qemuValue(p.exportFile)},writable=on`);
    return args;
  }

  async attach(req: AttachRequest): Promise<AttachedDevice> {
    if (req.chap?.mutualUsername) throw new UnsupportedError('mutual CHAP on the user-space attach path (libiscsi in qemu offers one-way CHAP only)');
    const p = this.paths(req.volumeId);
    const existing = await loopOfFile(this.opts.runner, p.exportFile);
    if (existing && (await this.daemonPid(p.pidFile))) return this.device(req.volumeId, existing);

    await this.stopDaemon(p.pidFile, p.exportFile);
    await mkdir(p.dir, { recursive: true, mode: 0o700 });
    await writeFile(p.exportFile, '', { flag: 'a' });
    if (req.chap) {
      // Created afresh with 0600 (never an older file's mode), in the 0700 dir; gone once the daemon has read it.
      await rm(p.secretFile, { force: true });
      await writeFile(p.secretFile, req.chap.password, { mode: 0o600, flag: 'wx' });
      await chmod(p.secretFile, 0o600);
    }
    try {
      await runChecked(this.opts.runner, this.opts.qsdBinary, this.daemonArgs(req), { timeoutMs: 60_000 });
    } catch (err) {
      throw loginRefusal(err, req.volumeId) ?? err;
    } finally {
      // The daemon read the secret at startup; it need not stay on disk.
      await rm(p.secretFile, { force: true });
    }
    return this.device(req.volumeId, await loopOnFile(this.opts.runner, p.exportFile, req.volumeId));
  }

  async detach(volumeId: string): Promise<void> {
    const p = this.paths(volumeId);
    await detachLoopOfFile(this.opts.runner, p.exportFile);
    await this.stopDaemon(p.pidFile, p.exportFile);
    await rm(p.dir, { recursive: true, force: true });
  }

  async rescan(volumeId: string, _target: TargetAddress, device: AttachedDevice, newSizeBytes: number): Promise<void> {
    const p = this.paths(volumeId);
    // block_resize on an iSCSI node re-reads the LUN's capacity and refuses a size beyond it.
    await qmpExecute(p.qmpSocket, 'block_resize', { 'node-name': NODE_NAME, size: newSizeBytes });
    await growLoopOnFile(this.opts.runner, p.exportFile, device.devicePath, newSizeBytes, `the FUSE export of ${volumeId} after block_resize`);
  }

  async problem(device: AttachedDevice): Promise<string | undefined> {
    const pidFile = device.handle.pidFile;
    if (!pidFile || !(await this.daemonPid(pidFile))) return 'the qemu-storage-daemon serving this volume is not running';
    if (!(await loopOfFile(this.opts.runner, device.handle.exportFile))) return `loop device ${device.devicePath} is no longer attached`;
    return undefined;
  }

  private device(volumeId: string, loop: string): AttachedDevice {
    const p = this.paths(volumeId);
    return { devicePath: loop, handle: { loop, exportFile: p.exportFile, pidFile: p.pidFile, qmpSocket: p.qmpSocket } };
  }

  private async daemonPid(pidFile: string): Promise<number | undefined> {
    const text = await readFile(pidFile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    // A stale pid file may name a recycled pid: trust it only if it is still a storage daemon.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes('qemu-storage-daemon') ? pid : undefined;
  }

  private async stopDaemon(pidFile: string, exportFile: string): Promise<void> {
    const pid = await this.daemonPid(pidFile);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while ((await this.daemonPid(pidFile)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (await this.daemonPid(pidFile)) process.kill(pid, 'SIGKILL');
    }
    // A daemon killed hard leaves its FUSE mount behind; a lazy unmount clears it.
    await this.opts.runner.run('umount', ['-l', exportFile]);
  }
}

/**
 * libiscsi's login status in the daemon's error (RFC 7143 11.13.5): 0x0201 the target
 * did not accept the CHAP credentials (or got none), 0x0202 it accepted them but this
 * initiator may not use the target (its ACL).
 */
export function loginRefusal(err: unknown, volumeId: string): Error | undefined {
  if (!(err instanceof NodeCommandError)) return undefined;
  if (/Status: Authentication failure/i.test(err.message)) {
    return new UnauthenticatedError(`the target of volume ${volumeId} refused the login: wrong or missing CHAP credentials (check the node-stage secret against the controller-publish secret)`);
  }
  if (/Status: Authorization failure/i.test(err.message)) {
    return new PermissionDeniedError(`the target of volume ${volumeId} does not admit this node's initiator (its ACL names another; is --initiator-name the node's registered one?)`);
  }
  return undefined;
}

