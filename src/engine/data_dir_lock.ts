import net from 'node:net';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../util/errors.ts';
import { isProcessAlive, processIdentity } from '../pool/host_identity.ts';
import { writeFileAtomic } from './state_file.ts';

/** Another engine runs on this data dir. */
export class DataDirInUseError extends BerthError {
  constructor(message: string) { super('DATA_DIR_IN_USE', message); }
}

export const DATA_DIR_LOCK_FILE = 'engine.lock';

interface LockRecord {
  pid: number;
  pidStart: number;
  bootId: string;
  pidNs: number;
  host: string;
  nodeId: string;
  startedAt: string;
}

export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * One engine per data dir. The claim is a listening socket in Linux's abstract
 * namespace, named after the directory's device and inode: the kernel refuses a second
 * one at once and drops it when its process dies, even by kill -9, so there is no stale
 * lock to clean up. Abstract names are per network namespace, so the lock file beside
 * it (who holds the dir) is also checked: a holder in another network namespace but our
 * pid namespace is refused when its process still runs. Pools never depend on this:
 * each carries its own owner record (docs/pool-format.md "Ownership").
 */
export async function lockDataDir(dataDir: string, nodeId: string): Promise<DataDirLock> {
  const st = await stat(dataDir);
  const file = join(dataDir, DATA_DIR_LOCK_FILE);
  const server = net.createServer((socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(`\0berth-engine-data-dir:${st.dev}:${st.ino}`, () => resolve());
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new DataDirInUseError(`data dir ${dataDir} is in use by ${describeHolder(await readLock(file))}`);
  }
  server.unref();
  const self = processIdentity();
  const prev = await readLock(file);
  if (prev !== undefined && prev.pid !== self.pid && prev.bootId === self.bootId && prev.pidNs === self.pidNs
    && isProcessAlive(prev.pid, prev.pidStart)) {
    server.close();
    throw new DataDirInUseError(`data dir ${dataDir} is in use by ${describeHolder(prev)}`);
  }
  const mine: LockRecord = {
    pid: self.pid, pidStart: self.pidStart, bootId: self.bootId, pidNs: self.pidNs, host: self.host, nodeId,
    startedAt: new Date().toISOString(),
  };
  await writeFileAtomic(file, JSON.stringify(mine) + '\n', 0o600);
  return {
    release: async () => {
      server.close();
      const now = await readLock(file);
      if (now?.pid === mine.pid && now.pidStart === mine.pidStart) await rm(file, { force: true });
    },
  };
}

async function readLock(file: string): Promise<LockRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Partial<LockRecord>;
    if (typeof r.pid === 'number' && typeof r.bootId === 'string') return r as LockRecord;
  } catch {
    // Missing or unreadable: nobody we can name.
  }
  return undefined;
}

function describeHolder(r: LockRecord | undefined): string {
  if (r === undefined) return 'another engine';
  return `engine ${r.nodeId || '?'} on ${r.host || '?'} (pid ${r.pid}, since ${r.startedAt ?? '?'})`;
}
