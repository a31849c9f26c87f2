/**
 * Running host tools (iscsiadm, losetup, mount, mkfs, blkid...) behind a tiny interface,
 * so attachers and the mounter can be tested with recorded outputs. Arguments never
 * reach an error message or a log line: iscsiadm takes CHAP secrets as arguments.
 */
import { execFile } from 'node:child_process';
import { NodeCommandError } from './csi_errors.ts';

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface CommandRunner {
  /** Resolves whatever the exit code; rejects only when the tool cannot start or times out. */
  run(cmd: string, args: readonly string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
}

/** mkfs of a large volume and an iSCSI login on a slow network both take a while. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

export class HostCommandRunner implements CommandRunner {
  run(cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const timeout = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { timeout, killSignal: 'SIGKILL', maxBuffer: 8 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        if (e && (e.killed || typeof e.code === 'string')) {
          reject(new NodeCommandError(cmd, -1, e.killed ? `timed out after ${timeout} ms` : `cannot run: ${e.code}`));
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr), code: e ? Number(e.code ?? 1) : 0 });
      });
    });
  }
}

/** Runs a command that must exit with one of `okCodes` (default 0). */
export async function runChecked(
  runner: CommandRunner,
  cmd: string,
  args: readonly string[],
  opts: { okCodes?: readonly number[]; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const r = await runner.run(cmd, args, { timeoutMs: opts.timeoutMs });
  if (!(opts.okCodes ?? [0]).includes(r.code)) throw new NodeCommandError(cmd, r.code, tail(r.stderr || r.stdout));
  return r;
}

function tail(text: string): string {
  const t = text.trim();
  return t.length > 400 ? `…${t.slice(-400)}` : t || '(no output)';
}
