import { execFile } from 'node:child_process';
import { IscsiServer, type IscsiServerOptions, type TargetConfig } from '../../src/iscsi/index.ts';
import { MemoryScsiTarget } from './memory_scsi_target.ts';
import { silentLogger, type Logger } from '../../src/util/log.ts';

/** Starts an in-process server on 127.0.0.1:0 with the given targets (SCSI test doubles). */
export async function startServer(
  targets: Array<Omit<TargetConfig, 'scsi'> & { scsi?: MemoryScsiTarget }>,
  opts: { logger?: Logger; nopInIntervalMs?: number; loginTimeoutMs?: number; discoveryChap?: TargetConfig['chap']; connectionLog?: IscsiServerOptions['connectionLog'] } = {},
): Promise<{ server: IscsiServer; port: number; scsi: Map<string, MemoryScsiTarget> }> {
  const server = new IscsiServer({ host: '127.0.0.1', port: 0, logger: opts.logger ?? silentLogger(), nopInIntervalMs: opts.nopInIntervalMs, loginTimeoutMs: opts.loginTimeoutMs, discoveryChap: opts.discoveryChap, connectionLog: opts.connectionLog });
  const scsi = new Map<string, MemoryScsiTarget>();
  for (const t of targets) {
    const double = t.scsi ?? new MemoryScsiTarget({ 0: 16 * 1024 * 1024 });
    scsi.set(t.iqn, double);
    server.addTarget({ ...t, scsi: double });
  }
  const { port } = await server.listen();
  return { server, port, scsi };
}

/** Runs a client program without blocking this process's event loop (the server runs here). */
export function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 30000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
