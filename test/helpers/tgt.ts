/**
 * Debian's tgt (tgtd + tgtadm) as the peer iSCSI target that Berth is compared with.
 * One tgtd per call, on its own portal and its own management socket (-C N), with one
 * target whose disk is LUN 1 (tgt reserves LUN 0 for a controller).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, iscsiUrl, pidAlive, run, sleep, waitFor } from './tools.ts';

const TGT_SOCKET_DIR = '/var/run/tgtd';
/** tgt's disk LUN; LUN 0 is its controller. */
export const TGT_DISK_LUN = 1;

export interface TgtOptions {
  /** Existing file (or block device) that backs LUN 1. */
  backingFile: string;
  port?: number;
  iqn?: string;
  blockSize?: 512 | 4096;
  /** Advertise thin provisioning (tgt then supports UNMAP and friends). */
  thin?: boolean;
  /** Passed to tgtd -t; tgt's default is used when absent. */
  ioThreads?: number;
}

export interface TgtTarget {
  host: string;
  port: number;
  iqn: string;
  lun: number;
  url: string;
  pid: number;
  controlPort: number;
  /** tgtd's log so far (the tail of its stderr, kept in a temp file until stop()). */
  log(): string;
  stop(): Promise<void>;
}

export async function startTgt(opts: TgtOptions): Promise<TgtTarget> {
  const host = '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const controlPort = pickControlPort();
  const iqn = opts.iqn ?? `iqn.2025-01.io.berth.test:tgt-${process.pid}-${controlPort}`;
  const args = ['-f', '--iscsi', `portal=${host}:${port}`, '-C', String(controlPort)];
  if (opts.ioThreads) args.push('-t', String(opts.ioThreads));
  // tgtd logs to a file, not a pipe: a caller that blocks its event loop (execFileSync)
  // would stop draining a pipe, tgtd would block on a full one, and the I/O would hang.
  const logPath = join(tmpdir(), `berth-tgtd-${process.pid}-${controlPort}.log`);
  const logFd = openSync(logPath, 'w');
  const child = spawn('tgtd', args, { stdio: ['ignore', 'ignore', logFd] });
  closeSync(logFd);
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8').slice(-64 * 1024);
    } catch {
      return '';
    }
  };
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const adm = (...a: string[]) => run('tgtadm', ['-C', String(controlPort), ...a], { timeoutMs: 15_000 });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // tgtd ignores SIGTERM while targets exist: delete them, then ask it to exit.
      await adm('--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', '1').catch(() => undefined);
      await adm('--mode', 'system', '--op', 'delete').catch(() => undefined);
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    process.off('exit', killOnExit);
    removeSockets(controlPort);
    rmSync(logPath, { force: true });
  };

  try {
    await waitFor('tgtd management socket', async () => {
      if (child.exitCode !== null) throw new Error(`tgtd exited ${child.exitCode}: ${log()}`);
      const r = await run('tgtadm', ['-C', String(controlPort), '--mode', 'system', '--op', 'show'], { check: false, timeoutMs: 5_000 });
      return r.code === 0 ? true : undefined;
    }, 10_000, 50);
    await adm('--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '1', '--targetname', iqn);
    const lu = ['--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', String(TGT_DISK_LUN), '--backing-store', opts.backingFile];
    if (opts.blockSize) lu.push('--blocksize', String(opts.blockSize));
    await adm(...lu);
    if (opts.thin) {
      await adm('--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', String(TGT_DISK_LUN), '--params', 'thin_provisioning=1');
    }
    await adm('--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', '1', '--initiator-address', 'ALL');
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    host, port, iqn, lun: TGT_DISK_LUN, controlPort,
    url: iscsiUrl({ host, port, iqn, lun: TGT_DISK_LUN }),
    pid: child.pid ?? -1,
    log,
    stop,
  };
}

/** tgtd's -C number names a unix socket, not a TCP port: pick one nobody holds. */
function pickControlPort(): number {
  for (let i = 0; i < 100; i++) {
    const n = 2000 + Math.floor(Math.random() * 30_000); // tgtd accepts 0..32767
    if (!existsSync(`${TGT_SOCKET_DIR}/socket.${n}`)) return n;
  }
  throw new Error(`no free tgtd control socket number in ${TGT_SOCKET_DIR}`);
}

function removeSockets(controlPort: number): void {
  for (const f of [`socket.${controlPort}`, `socket.${controlPort}.lock`]) {
    rmSync(`${TGT_SOCKET_DIR}/${f}`, { force: true });
  }
}

/** For tests that must prove tgtd went away. */
export function tgtAlive(t: Pick<TgtTarget, 'pid'>): boolean {
  return pidAlive(t.pid);
}
