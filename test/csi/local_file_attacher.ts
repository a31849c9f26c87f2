/**
 * LocalFileAttacher — for tests only. It "attaches" a volume by putting a loop device
 * on a local sparse file, standing in for the iSCSI LUN while the Berth target is built
 * elsewhere, so the node plugin's real mkfs/mount/bind/expand/stats paths run here.
 */
import type { AttachedDevice, AttachRequest, Attacher } from '../../src/csi/attacher.ts';
import { runChecked, type CommandRunner } from '../../src/csi/node_exec.ts';

export class LocalFileAttacher implements Attacher {
  readonly kind = 'local-file-test';
  private readonly files = new Map<string, string>();
  private readonly runner: CommandRunner;
  readonly attachCalls: string[] = [];
  readonly detachCalls: { volumeId: string; lastUserOfTarget: boolean }[] = [];

  constructor(runner: CommandRunner) {
    this.runner = runner;
  }

  /** Says which file backs a volume id. */
  addVolume(volumeId: string, file: string): void {
    this.files.set(volumeId, file);
  }

  async attach(req: AttachRequest): Promise<AttachedDevice> {
    this.attachCalls.push(req.volumeId);
    const file = this.fileOf(req.volumeId);
    const loop = (await this.loopOf(file)) ?? (await runChecked(this.runner, 'losetup', ['-f', '--show', file])).stdout.trim();
    return { devicePath: loop, handle: { file } };
  }

  async detach(volumeId: string, _t: unknown, device: AttachedDevice, lastUserOfTarget: boolean): Promise<void> {
    this.detachCalls.push({ volumeId, lastUserOfTarget });
    const loop = await this.loopOf(device.handle.file);
    if (loop) await runChecked(this.runner, 'losetup', ['-d', loop]);
  }

  async rescan(_v: string, _t: unknown, device: AttachedDevice): Promise<void> {
    await runChecked(this.runner, 'losetup', ['-c', device.devicePath]);
  }

  async problem(device: AttachedDevice): Promise<string | undefined> {
    return (await this.loopOf(device.handle.file)) === device.devicePath ? undefined : `${device.devicePath} no longer backs ${device.handle.file}`;
  }

  async loopOf(file: string): Promise<string | undefined> {
    const r = await this.runner.run('losetup', ['-j', file]);
    return /^(\/dev\/loop\d+):/m.exec(r.stdout)?.[1];
  }

  private fileOf(volumeId: string): string {
    const f = this.files.get(volumeId);
    if (!f) throw new Error(`test attacher: no file for ${volumeId}`);
    return f;
  }
}
