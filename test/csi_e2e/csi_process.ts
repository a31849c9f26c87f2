/**
 * Starts the real CSI plugin process (`node src/csi/main.ts`) for the end-to-end suite,
 * waits until its socket answers Identity.Probe, and stops it by PID (SIGTERM, then
 * SIGKILL). Its log is kept for failure messages.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { nodeBin, repoRoot, sleep, waitFor } from '../helpers/tools.ts';
import { CsiClient } from '../csi/csi_client.ts';

const MAIN = join(repoRoot, 'src', 'csi', 'main.ts');

export interface CsiProcess {
  pid: number;
  socketPath: string;
  client: CsiClient;
  diagnostics(): string;
  stop(): Promise<void>;
}

export async function startCsiPlugin(socketPath: string, args: string[]): Promise<CsiProcess> {
  const child = spawn(nodeBin, [MAIN, '--endpoint', `unix://${socketPath}`, '--log-level', 'debug', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let log = '';
  const keep = (c: string): void => {
    log = (log + c).slice(-32_000);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const diagnostics = (): string => `--- CSI plugin log (tail) ---\n${log}`;

  const client = new CsiClient(socketPath);
  try {
    await waitFor('CSI plugin to answer Probe', async () => {
      if (!alive()) throw new Error(`CSI plugin exited (${child.exitCode ?? child.signalCode})\n${diagnostics()}`);
      return client.call('Identity', 'Probe', {}).then(() => true, () => undefined);
    }, 20_000, 100);
  } catch (err) {
    client.close();
    child.kill('SIGKILL');
    await exited;
    process.off('exit', killOnExit);
    throw err;
  }
  return {
    pid: child.pid as number,
    socketPath,
    client,
    diagnostics,
    async stop() {
      client.close();
      if (alive()) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(15_000)]);
        if (alive()) child.kill('SIGKILL');
      }
      await exited;
      process.off('exit', killOnExit);
    },
  };
}
