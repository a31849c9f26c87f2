import { spawn } from 'node:child_process';

/**
 * Runs a crash worker (`node ARGS`) and kills it with SIGKILL `killAfterMs` after it
 * prints READY, so the kill lands somewhere in the operations it runs from then on.
 */
export function runWorker(args: string[], killAfterMs: number): Promise<{ err: string; code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (timer === undefined && out.includes('READY\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ err, code, signal }); });
  });
}
