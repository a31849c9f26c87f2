/**
 * What this node has staged and published, one JSON file per volume under
 * <stateDir>/staged/, written atomically (temp file, fsync, rename, fsync dir), so a
 * restarted node plugin still knows which device to unmount and which target to leave.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccessMode } from './capabilities.ts';
import type { AttachedDevice, TargetAddress } from './attacher.ts';
import type { FsType } from './parameters.ts';

export interface NodePublication {
  targetPath: string;
  readonly: boolean;
}

export interface StagedVolume {
  volumeId: string;
  stagingPath: string;
  kind: 'block' | 'mount';
  fsType?: FsType;
  mountFlags: string[];
  accessMode: AccessMode;
  /** Which Attacher made the device; a restart must detach with the same one. */
  attacher: string;
  target: TargetAddress;
  device: AttachedDevice;
  /** 'attached': device made, filesystem not yet mounted (a crash here is cleaned by unstage). */
  phase: 'attached' | 'staged';
  publications: NodePublication[];
}

/** Volume ids become file names: anything outside a safe set is percent-encoded. */
export function safeFileName(id: string): string {
  return encodeURIComponent(id).replaceAll('.', '%2E').replaceAll('*', '%2A');
}

export class StagedStore {
  private readonly dir: string;
  private readonly records = new Map<string, StagedVolume>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'staged');
  }

  /** Reads every record; unreadable files are reported and left for an operator. */
  async load(): Promise<{ loaded: number; unreadable: string[] }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const unreadable: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as StagedVolume;
        if (typeof rec.volumeId !== 'string' || typeof rec.stagingPath !== 'string') throw new Error('not a staged record');
        this.records.set(rec.volumeId, rec);
      } catch {
        unreadable.push(name);
      }
    }
    return { loaded: this.records.size, unreadable };
  }

  get(volumeId: string): StagedVolume | undefined {
    const rec = this.records.get(volumeId);
    return rec ? structuredClone(rec) : undefined;
  }

  all(): StagedVolume[] {
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  async put(rec: StagedVolume): Promise<void> {
    const file = join(this.dir, `${safeFileName(rec.volumeId)}.json`);
    const tmp = `${file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(rec, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    await this.syncDir();
    this.records.set(rec.volumeId, structuredClone(rec));
  }

  async remove(volumeId: string): Promise<void> {
    await rm(join(this.dir, `${safeFileName(volumeId)}.json`), { force: true });
    await this.syncDir();
    this.records.delete(volumeId);
  }

  private async syncDir(): Promise<void> {
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
