/**
 * A loop device on a file served over FUSE (qemu-storage-daemon's export, or the
 * engine's own local attach): the node plugin's user-space attach paths share it.
 * Buffered (--direct-io=off): qemu 7.2's FUSE export corrupts data with more than one
 * O_DIRECT write in flight, and both paths must behave alike.
 */
import { stat } from 'node:fs/promises';
import { AttachError } from './csi_errors.ts';
import { runChecked, type CommandRunner } from './node_exec.ts';

/** How long a rescan waits for the file to show its new size, and how often it looks. */
const SIZE_WAIT_MS = 5_000;
const SIZE_POLL_MS = 100;

/** The loop device backed by `file`, if any (`losetup -j FILE`). */
export async function loopOfFile(runner: CommandRunner, file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  const r = await runner.run('losetup', ['-j', file]);
  if (r.code !== 0) return undefined;
  return /^(\/dev\/loop\d+):/m.exec(r.stdout)?.[1];
}

/** The loop device on `file`: the one already there (a retried NodeStage) or a new one. */
export async function loopOnFile(runner: CommandRunner, file: string, volumeId: string): Promise<string> {
  const loop = (await loopOfFile(runner, file)) ?? (await runChecked(runner, 'losetup', ['-f', '--show', '--direct-io=off', file])).stdout.trim();
  if (!loop.startsWith('/dev/loop')) throw new AttachError(`losetup gave no loop device for ${volumeId}`);
  return loop;
}

/** Detaches the loop device on `file`, if there is one. */
export async function detachLoopOfFile(runner: CommandRunner, file: string | undefined): Promise<void> {
  const loop = await loopOfFile(runner, file);
  if (loop) await runChecked(runner, 'losetup', ['-d', loop]);
}

/**
 * Grows `loop` once `file` shows `newSizeBytes`. The kernel caches a FUSE file's
 * attributes (for a second with both servers): until it asks again, `losetup -c` would
 * read the old size and grow nothing. `stale` names what still shows the old size.
 */
export async function growLoopOnFile(runner: CommandRunner, file: string, loop: string, newSizeBytes: number, stale: string): Promise<void> {
  const deadline = Date.now() + SIZE_WAIT_MS;
  while ((await stat(file)).size < newSizeBytes) {
    if (Date.now() > deadline) throw new AttachError(`${stale} still shows its old size`);
    await new Promise((r) => setTimeout(r, SIZE_POLL_MS));
  }
  await runChecked(runner, 'losetup', ['-c', loop]);
}
