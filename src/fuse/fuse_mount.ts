/**
 * A FUSE mount on a regular file, served by this process: open /dev/fuse, let `mount(8)`
 * bind it (`fd=3`, inherited), then read requests on the event loop and write replies.
 *
 * Why these mechanics:
 * - `mount -i` calls mount(2) itself with the descriptor it inherited; no fusermount3
 *   (not installed everywhere) and no native code. It needs CAP_SYS_ADMIN, which the
 *   engine has wherever it serves storage to its node.
 * - Node offers no public way to poll a character device: `fs.read` would park a
 *   thread-pool thread per outstanding read and pay a hand-off and a wake-up for every
 *   request (measured: 1-client pgbench at 0.61-0.90 of qemu-storage-daemon's export).
 *   libuv's pipe handle polls any descriptor and reads it on the loop, so the descriptor
 *   is opened as one (`pipe_wrap`, reached through process.binding, which Node keeps for
 *   exactly such uses) and wrapped in a net.Socket that reads into one reusable buffer:
 *   each read(2) of /dev/fuse returns exactly one request.
 * - Replies are single write(2)s (the protocol wants each in one call); /dev/fuse never
 *   blocks a write, so a synchronous write on the loop is the cheapest.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { BerthError } from '../util/errors.ts';
import { IN_HEADER_BYTES, notifyResend } from './fuse_codec.ts';

export class FuseMountError extends BerthError {
  constructor(message: string) { super('FUSE_MOUNT_FAILED', message); }
}

interface PipeHandle { open(fd: number): number }
interface PipeWrap { Pipe: new (type: number) => PipeHandle; constants: { SOCKET: number } }

function pipeOn(fd: number): PipeHandle {
  const binding = (process as unknown as { binding(name: string): PipeWrap }).binding('pipe_wrap');
  const handle = new binding.Pipe(binding.constants.SOCKET);
  const rc = handle.open(fd);
  if (rc !== 0) throw new FuseMountError(`cannot poll /dev/fuse (libuv error ${rc})`);
  return handle;
}

/** Runs a command to its end; rejects with its stderr when it fails. */
function runTool(cmd: string, args: string[], extraFd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', ...(extraFd === undefined ? [] : [extraFd])] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString(); });
    child.on('error', (e) => reject(new FuseMountError(`${cmd}: ${e.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new FuseMountError(`${cmd} ${args.at(-1)} failed (${code}): ${err.trim()}`))));
  });
}

/**
 * Lazily unmounts whatever is mounted on `path` (a dead server's mount answers ENOTCONN
 * to everything); nothing mounted, or no umount, is not an error.
 */
export function unmountLazy(path: string): Promise<void> {
  return runTool('umount', ['-l', path]).catch(() => undefined);
}

export interface FuseServeOptions {
  /** Largest WRITE the kernel may send: sizes the read buffer. */
  maxWrite: number;
  /** Each request; the buffer is reused once this returns. */
  onRequest: (buf: Buffer, n: number) => void;
  /** The connection ended (unmounted, or aborted through /sys/fs/fuse/connections). */
  onGone: (why: string) => void;
}

export interface FuseMountOptions extends FuseServeOptions {
  /** The regular file to mount on (created if missing). */
  path: string;
  /** What /proc/mounts shows as the source. */
  source: string;
  /**
   * An open, unused /dev/fuse descriptor to mount with (one a keeper process also holds,
   * so the connection outlives this process); by default one is opened. Closed on failure.
   */
  fd?: number;
}

export interface FuseAdoptOptions extends FuseServeOptions {
  /** Where the connection is mounted (for unmount and messages). */
  path: string;
  /** A /dev/fuse descriptor of a live connection whose previous server died. */
  fd: number;
}

/** The descriptor was never mounted, or its connection has ended: nothing to take over. */
export class FuseNotConnectedError extends BerthError {
  constructor(path: string, why: string) { super('FUSE_NOT_CONNECTED', `no FUSE connection to take over at ${path}: ${why}`); }
}

export class FuseMount {
  readonly path: string;
  readonly #fd: number;
  readonly #socket: Socket;
  #closed = false;
  /** Set by unmount(): the connection's end is then expected, not news. */
  #unmounting = false;

  private constructor(path: string, fd: number, socket: Socket) {
    this.path = path;
    this.#fd = fd;
    this.#socket = socket;
  }

  static async mount(o: FuseMountOptions): Promise<FuseMount> {
    writeFileSync(o.path, '', { flag: 'a', mode: 0o600 });
    const fd = o.fd ?? openSync('/dev/fuse', 'r+');
    try {
      const opts = `fd=3,rootmode=100000,user_id=0,group_id=0,allow_other,default_permissions,subtype=berth,max_read=${o.maxWrite}`;
      await runTool('mount', ['-i', '-t', 'fuse', '-o', opts, o.source, o.path], fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    // Reading before mount(2) bound the descriptor fails with EPERM: start only now.
    try {
      return FuseMount.#serve(o.path, fd, o);
    } catch (err) {
      // A Node without the pipe binding: no mount may be left without a server.
      await unmountLazy(o.path);
      closeSync(fd);
      throw err;
    }
  }

  /**
   * Serves a connection another process mounted and served until it died (the keeper
   * kept the descriptor open, src/engine/fuse_keeper.ts). The kernel is first asked to
   * send again what the dead server read and never answered (FUSE_NOTIFY_RESEND, Linux
   * 6.9); those requests arrive with UNIQUE_RESEND_BIT set. `resend` says whether the
   * kernel took that notification; an older kernel's requests in flight stay unanswered.
   */
  static adopt(o: FuseAdoptOptions): { mount: FuseMount; resend: boolean } {
    let resend = true;
    try {
      writeSync(o.fd, notifyResend());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EPERM: never mounted; ENODEV: the connection has ended (unmounted or aborted).
      if (code === 'EPERM' || code === 'ENODEV') {
        closeSync(o.fd);
        throw new FuseNotConnectedError(o.path, code === 'EPERM' ? 'the descriptor was never mounted' : 'the connection has ended');
      }
      if (code !== 'EINVAL') throw err;
      resend = false;
    }
    try {
      return { mount: FuseMount.#serve(o.path, o.fd, o), resend };
    } catch (err) {
      closeSync(o.fd);
      throw err;
    }
  }

  static #serve(path: string, fd: number, o: FuseServeOptions): FuseMount {
    const buffer = Buffer.allocUnsafe(o.maxWrite + IN_HEADER_BYTES + 4096);
    let socket: Socket;
    try {
      socket = new Socket({
        handle: pipeOn(fd), readable: true, writable: false,
        onread: { buffer, callback: (n: number, buf: Uint8Array) => { o.onRequest(buf as Buffer, n); return true; } },
      } as unknown as ConstructorParameters<typeof Socket>[0]);
    } catch (err) {
      throw err instanceof FuseMountError ? err : new FuseMountError(`cannot serve /dev/fuse: ${(err as Error).message}`);
    }
    const m = new FuseMount(path, fd, socket);
    socket.on('error', (err: NodeJS.ErrnoException) => m.#gone(o, err.code === 'ENODEV' ? 'unmounted' : err.message));
    socket.on('end', () => m.#gone(o, 'unmounted'));
    return m;
  }

  /** One reply. ENOENT: the kernel gave up on the request (interrupted, or the mount is going). */
  send(reply: Buffer): void {
    if (this.#closed) return;
    try {
      writeSync(this.#fd, reply);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENODEV') throw err;
    }
  }

  /** Unmounts; `lazy` detaches even while a loop device holds the file (its I/O then fails). */
  async unmount(lazy = false): Promise<void> {
    if (this.#closed) return;
    this.#unmounting = true;
    try {
      await runTool('umount', [...(lazy ? ['-l'] : []), this.path]);
    } catch (err) {
      this.#unmounting = false;
      // Refused (busy) while the connection lives on: still mounted, still served.
      if (!this.#closed) throw err;
    }
    this.#close();
  }

  /** Stops reading requests: the kernel queues them (for this process to resume, or for the next server after leave()). */
  pause(): void {
    this.#socket.pause();
  }

  /**
   * Stops serving without unmounting: only this process's descriptor closes. The
   * connection lives on while another process (the FUSE keeper) holds a copy.
   */
  leave(): void {
    this.#unmounting = true;
    this.#close();
  }

  #gone(o: FuseServeOptions, why: string): void {
    if (this.#closed) return;
    this.#close();
    if (!this.#unmounting) o.onGone(why);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Destroying the socket closes the descriptor it owns.
    this.#socket.destroy();
  }
}
