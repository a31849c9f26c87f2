/**
 * Filesystems and mounts on the node: detect, format (a blank device only), mount,
 * bind for publish, remount read-only, grow, and report usage.
 */
import { existsSync } from 'node:fs';
import { open, readFile, realpath, statfs } from 'node:fs/promises';
import { basename } from 'node:path';
import { NodeCommandError, PreconditionError } from './csi_errors.ts';
import { mountAt, parseMountInfo, type MountEntry } from './mount_info.ts';
import { runChecked, type CommandRunner } from './node_exec.ts';
import type { FsType } from './parameters.ts';

/** blkid's exit code when it finds no signature. */
const BLKID_NOTHING_FOUND = 2;
/** How much of a signature-less device must be zero before Berth calls it blank. */
export const BLANK_CHECK_BYTES = 1024 * 1024;

export interface DeviceContent {
  /** Filesystem type blkid found, or undefined. */
  fsType?: string;
  /** A partition table, RAID member or other non-filesystem signature. */
  otherSignature?: string;
}

export interface Usage {
  totalBytes: number;
  availableBytes: number;
  usedBytes: number;
  totalInodes: number;
  freeInodes: number;
  usedInodes: number;
}

export class Mounter {
  private readonly runner: CommandRunner;

  constructor(runner: CommandRunner) {
    this.runner = runner;
  }

  async probe(device: string): Promise<DeviceContent> {
    const r = await this.runner.run('blkid', ['-p', '-o', 'export', device]);
    if (r.code === BLKID_NOTHING_FOUND) return {};
    if (r.code !== 0) throw new NodeCommandError('blkid', r.code, r.stderr.trim());
    const tags = Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    if (tags.USAGE === 'filesystem' && tags.TYPE) return { fsType: tags.TYPE };
    return { otherSignature: tags.PTTYPE ? `partition table ${tags.PTTYPE}` : (tags.TYPE ?? tags.USAGE ?? 'unknown signature') };
  }

  /**
   * Formats the device only when it is blank: no signature blkid knows and zeros in its
   * first MiB. Data without a signature (a raw database, an unknown filesystem) is never
   * overwritten. Returns true when it formatted.
   */
  async ensureFilesystem(device: string, fsType: FsType): Promise<boolean> {
    const content = await this.probe(device);
    if (content.fsType) {
      if (content.fsType !== fsType) throw new PreconditionError(`the volume holds ${content.fsType}, not ${fsType}; Berth never reformats a volume with data`);
      return false;
    }
    if (content.otherSignature) throw new PreconditionError(`the volume holds a ${content.otherSignature}; Berth never reformats a volume with data`);
    if (!(await this.startsWithZeros(device))) throw new PreconditionError('the volume holds data without a filesystem signature; Berth never reformats a volume with data');
    if (fsType === 'ext4') {
      await runChecked(this.runner, 'mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', device]);
    } else {
      await runChecked(this.runner, 'mkfs.xfs', ['-q', '-K', device]);
    }
    return true;
  }

  async mount(device: string, target: string, fsType: FsType, flags: readonly string[]): Promise<void> {
    // Clones and snapshots of an xfs volume share its UUID; xfs refuses a second mount without nouuid.
    const options = fsType === 'xfs' ? [...flags, 'nouuid'] : [...flags];
    const args = ['-t', fsType];
    if (options.length > 0) args.push('-o', options.join(','));
    await runChecked(this.runner, 'mount', [...args, device, target]);
  }

  /** Bind-mounts source onto target; a read-only bind needs a second, remounting step. */
  async bind(source: string, target: string, readonly: boolean): Promise<void> {
    await runChecked(this.runner, 'mount', ['--bind', source, target]);
    if (readonly) {
      try {
        await runChecked(this.runner, 'mount', ['-o', 'remount,bind,ro', target]);
      } catch (err) {
        await this.unmount(target);
        throw err;
      }
    }
  }

  /**
   * syncfs(2) on the filesystem mounted at `target`, if one is. NodeUnstage calls it before
   * the unmount: umount writes a filesystem back only when it removes its last mount, and
   * a process that cloned a mount namespace while the volume was staged (unshare -m, a
   * container runtime, ip netns exec) holds another, so without this what a pod wrote and
   * did not fsync could still sit in the page cache when the attach under it goes away.
   * Returns the error's words when the sync fails (a transport already gone); the caller
   * logs them and unstages anyway: the unmount could write no more.
   */
  async syncFilesystem(target: string): Promise<string | undefined> {
    if (!(await this.mountAt(target))) return undefined;
    const r = await this.runner.run('sync', ['-f', target]);
    return r.code === 0 ? undefined : (r.stderr.trim() || `sync -f exited ${r.code}`);
  }

  /** Whether the kernel still has a filesystem on `device` (ext4 or xfs), mounted anywhere. */
  async filesystemLives(device: string): Promise<boolean> {
    const name = basename(await realpath(device).catch(() => device));
    return existsSync(`/sys/fs/ext4/${name}`) || existsSync(`/sys/fs/xfs/${name}`);
  }

  /** Unmounts every layer at the path; not an error when nothing is mounted there. */
  async unmount(target: string): Promise<void> {
    for (let i = 0; i < 8 && (await this.mountAt(target)); i++) await runChecked(this.runner, 'umount', [target]);
  }

  async mountAt(path: string): Promise<MountEntry | undefined> {
    return mountAt(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), path);
  }

  async growFilesystem(device: string, mountPoint: string, fsType: FsType): Promise<void> {
    if (fsType === 'xfs') {
      await runChecked(this.runner, 'xfs_growfs', [mountPoint]);
      return;
    }
    const r = await this.runner.run('resize2fs', [device]);
    if (r.code === 0) return;
    // ext4's online-resize ioctl demands CAP_SYS_RESOURCE; say so rather than a bare EPERM.
    const hint = /Permission denied/.test(r.stderr) ? ' (online ext4 resize needs CAP_SYS_RESOURCE in the node plugin)' : '';
    throw new NodeCommandError('resize2fs', r.code, `${r.stderr.trim().split('\n').at(-1) ?? ''}${hint}`);
  }

  async setDeviceReadOnly(device: string, readonly: boolean): Promise<void> {
    await runChecked(this.runner, 'blockdev', [readonly ? '--setro' : '--setrw', device]);
  }

  async blockDeviceBytes(device: string): Promise<number> {
    const r = await runChecked(this.runner, 'blockdev', ['--getsize64', device]);
    return Number(r.stdout.trim());
  }

  async usage(path: string): Promise<Usage> {
    const s = await statfs(path, { bigint: true });
    const bsize = s.bsize;
    const num = (v: bigint) => Number(v);
    return {
      totalBytes: num(s.blocks * bsize),
      availableBytes: num(s.bavail * bsize),
      usedBytes: num((s.blocks - s.bfree) * bsize),
      totalInodes: num(s.files),
      freeInodes: num(s.ffree),
      usedInodes: num(s.files - s.ffree),
    };
  }

  private async startsWithZeros(device: string): Promise<boolean> {
    const fh = await open(device, 'r');
    try {
      const buf = Buffer.alloc(BLANK_CHECK_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0) return false;
      return true;
    } finally {
      await fh.close();
    }
  }
}
