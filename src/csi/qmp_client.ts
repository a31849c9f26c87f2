/**
 * Just enough QMP (QEMU's JSON monitor protocol) to tell a qemu-storage-daemon to
 * re-read its LUN's size: connect, negotiate capabilities, run one command.
 */
import { connect } from 'node:net';
import { AttachError } from './csi_errors.ts';

/** QMP replies are small; anything larger is not a reply we asked for. */
const QMP_MAX_BUFFER = 1024 * 1024;

export function qmpExecute(socketPath: string, command: string, args: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buffer = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const fail = (message: string) => {
      sock.destroy();
      reject(new AttachError(`qemu-storage-daemon monitor: ${message}`));
    };
    const timer = setTimeout(() => fail(`no answer to ${command} within ${timeoutMs} ms`), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (err) => {
      clearTimeout(timer);
      fail(err.message);
    });
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > QMP_MAX_BUFFER) return fail('reply too large');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line === '') continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return fail('reply is not JSON');
        }
        if ('event' in msg) continue;
        if (stage === 'greeting' && 'QMP' in msg) {
          stage = 'capabilities';
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if ('error' in msg) {
          clearTimeout(timer);
          const e = msg.error as { desc?: string };
          return fail(`${command} failed: ${e.desc ?? 'unknown error'}`);
        } else if (stage === 'capabilities' && 'return' in msg) {
          stage = 'command';
          sock.write(JSON.stringify({ execute: command, arguments: args }) + '\n');
        } else if (stage === 'command' && 'return' in msg) {
          clearTimeout(timer);
          sock.end();
          resolve(msg.return);
        }
      }
    });
  });
}
