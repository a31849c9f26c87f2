import { readFileSync, unlinkSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { PrStore } from '../scsi/types.ts';
import { writeFileAtomic, syncDirectory } from './state_file.ts';
import { dirname } from 'node:path';

/**
 * Persistent-reservation state of one logical unit, kept as a JSON file in the data
 * directory. Keyed by volume uuid (not name) so a volume deleted and recreated under
 * the same name never inherits the old registrations.
 */
export class FilePrStore implements PrStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  load(): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text);
    } catch {
      // A torn file cannot happen (atomic writes); an edited one is treated as no state.
      return undefined;
    }
  }

  async save(state: unknown): Promise<void> {
    if (state === undefined) {
      await unlink(this.path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
      await syncDirectory(dirname(this.path));
      return;
    }
    await writeFileAtomic(this.path, JSON.stringify(state), 0o600);
  }

  /** Forgets the state for good: the volume is gone. */
  removeSync(): void {
    try {
      unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
