/**
 * Unmounting ext4 in a test, and checking what its device holds afterwards.
 *
 * umount(8) takes the mount out of this mount namespace only. A process that cloned the
 * namespace while the filesystem was mounted (`ip netns exec`, `unshare -m`, a container
 * starting: other suites and the lab cluster do all three on these machines) holds a copy,
 * and the kernel shuts the filesystem down (checkpoints the journal, clears the
 * needs-recovery flag) only when the last copy goes. Until then the device holds a crash
 * image: consistent once its journal is replayed, which `e2fsck -n` never does. Checked as
 * if it were unmounted, such an image reads as "entry references an unused inode" — a
 * false alarm that once got a sound change reverted. And a second mount of the same data
 * through another device while the first still lives would be two filesystems writing one
 * disk. So a test waits for the shutdown, and if a foreign copy outlives the wait, it
 * checks (and reads) a journal-replayed copy of the device instead.
 */
import { readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run, sleep } from './tools.ts';

/** How long a foreign mount namespace may keep the filesystem alive after umount. */
const SHUTDOWN_WAIT_MS = 30_000;

export interface Ext4Unmounted {
  /** The kernel shut the filesystem down: the device holds its final, clean state. */
  shutDown: boolean;
  /** When not: the processes whose mount namespace still has it, for the log. */
  holders: string[];
}

/** Processes (one per mount namespace) that still have a mount of device `rdev`. */
async function holdersOf(rdev: number): Promise<string[]> {
  const id = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const ns = await readlink(`/proc/${pid}/ns/mnt`).catch(() => '');
    if (ns === '' || seen.has(ns)) continue;
    seen.add(ns);
    const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
    if (info.split('\n').some((l) => l.split(' ')[2] === id)) {
      out.push(`${pid} (${(await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim()})`);
    }
  }
  return out;
}

/** Unmounts `mnt` (ext4 on `dev`) and waits for the kernel to shut the filesystem down. */
export async function unmountExt4(mnt: string, dev: string, waitMs = SHUTDOWN_WAIT_MS): Promise<Ext4Unmounted> {
  const name = basename(await realpath(dev));
  await run('umount', [mnt]);
  const until = Date.now() + waitMs;
  while (existsSync(`/sys/fs/ext4/${name}`)) {
    if (Date.now() >= until) {
      const holders = await holdersOf((await stat(dev)).rdev);
      process.stderr.write(`# ext4 on ${dev} is still mounted in another mount namespace (${holders.join(', ') || 'holder not found'}): checking a journal-replayed copy\n`);
      return { shutDown: false, holders };
    }
    await sleep(100);
  }
  return { shutDown: true, holders: [] };
}

/**
 * `e2fsck -fn` on what `source` holds, and the path a read-only mount should use. A device
 * after a shutdown is checked in place. A file (a local attach's FUSE file) is first copied
 * into `scratch` with O_DIRECT reads, each one a request its server answers, so what is
 * checked is what the server holds, past the page cache; so is a device whose filesystem
 * still lives elsewhere, and then the copy's journal is replayed first. Throws with
 * e2fsck's report when it finds a problem.
 */
export async function checkedExt4(source: string, u: Ext4Unmounted, scratch: string): Promise<string> {
  let target = source;
  if (!u.shutDown || (await stat(source)).isFile()) {
    target = join(scratch, `copy-${basename(source)}.img`);
    await rm(target, { force: true });
    await run('dd', [`if=${source}`, `of=${target}`, 'bs=1M', 'iflag=direct', 'status=none'], { timeoutMs: 120_000 });
  }
  if (!u.shutDown) {
    const replay = await run('e2fsck', ['-E', 'journal_only', '-y', target], { check: false, timeoutMs: 120_000 });
    if (replay.code > 1) throw new Error(`journal replay failed (${replay.code}):\n${replay.stdout}${replay.stderr}`);
  }
  const fsck = await run('e2fsck', ['-fn', target], { check: false, timeoutMs: 120_000 });
  if (fsck.code !== 0) throw new Error(`e2fsck -fn ${target} found problems (exit ${fsck.code}):\n${fsck.stdout}${fsck.stderr}`);
  return target;
}

/** Mounts what checkedExt4 returned read-only at `mnt`: a device as it is, a copy through a loop device. */
export async function mountChecked(checked: string, mnt: string): Promise<void> {
  await run('mount', ['-o', (await stat(checked)).isFile() ? 'loop,ro' : 'ro', checked, mnt]);
}
