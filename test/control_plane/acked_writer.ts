/**
 * A writer whose acknowledgements the test sees one by one: an interactive qemu-io over
 * iSCSI, fed one `write` at a time on stdin; each resolves when qemu-io prints that it
 * wrote (the target's SCSI status came back). The log of acknowledged writes, in order,
 * is what a snapshot must be a prefix of.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { INITIATOR } from './cp_kit.ts';

export interface Target { iqn: string; portal: string }

export class AckedWriter {
  readonly #proc: ChildProcessWithoutNullStreams;
  #buffer = '';
  #waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #exited: Error | undefined;

  constructor(target: Target) {
    const opts = `driver=iscsi,transport=tcp,portal=${target.portal},target=${target.iqn},lun=0,initiator-name=${INITIATOR}`;
    this.#proc = spawn('qemu-io', ['--image-opts', opts], { stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer): void => {
      this.#buffer += chunk.toString();
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        if (/wrote \d+\/\d+ bytes/.test(line)) this.#waiting.shift()?.resolve();
        else if (/error|failed/i.test(line)) this.#waiting.shift()?.reject(new Error(`qemu-io: ${line}`));
      }
    };
    this.#proc.stdout.on('data', onData);
    this.#proc.stderr.on('data', onData);
    this.#proc.on('exit', (code) => {
      this.#exited = new Error(`qemu-io exited (${code})`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#exited);
    });
  }

  /** One write of `length` bytes of `byte` at `offset`; resolves once acknowledged. */
  write(offset: number, length: number, byte: number): Promise<void> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#proc.stdin.write(`write -P ${byte} ${offset} ${length}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise<void>((resolve) => this.#proc.once('exit', () => resolve()));
    this.#proc.stdin.end('quit\n');
    const t = setTimeout(() => this.#proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
}

/** One write of a sequence: which volume, where, which byte; when it was sent and acknowledged (performance.now()). */
export interface LoggedWrite { volume: string; offset: number; byte: number; sentAt: number; ackedAt: number }

/**
 * Writes `steps` over `targets` one after another (each waits for the previous ack), so
 * the log order is a happens-before order; `acked()` counts acknowledged writes so far.
 */
export class WriteSequence {
  readonly log: LoggedWrite[] = [];
  #stop = false;
  readonly done: Promise<void>;

  constructor(targets: Array<{ volume: string; writer: AckedWriter; base: number }>, chunk: number, chunks: number, seed: number) {
    this.done = (async () => {
      for (let n = 0; !this.#stop; n++) {
        const t = targets[n % targets.length];
        const step = Math.floor(n / targets.length);
        const i = step % chunks;
        const pass = Math.floor(step / chunks);
        // Never 0 (unwritten) and never the byte this chunk held one pass before.
        const byte = 1 + ((seed * 37 + pass * 7 + i * 3) % 255);
        const sentAt = performance.now();
        await t.writer.write(t.base + i * chunk, chunk, byte);
        this.log.push({ volume: t.volume, offset: t.base + i * chunk, byte, sentAt, ackedAt: performance.now() });
      }
    })();
  }

  acked(): number { return this.log.length; }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.done;
  }
}

/**
 * The first k of `log` applied to empty volumes matches `images` (per volume) in every
 * chunk the log touches, for some k in [lo, hi]; returns that k or -1.
 */
export function prefixMatching(log: readonly LoggedWrite[], images: Map<string, Buffer>, chunk: number, lo: number, hi: number): number {
  const state = new Map<string, number>();
  const key = (w: LoggedWrite): string => `${w.volume}@${w.offset}`;
  const matches = (): boolean => {
    for (const w of log) {
      const want = state.get(key(w)) ?? 0;
      const img = images.get(w.volume)!;
      const c = img.subarray(w.offset, w.offset + chunk);
      if (c[0] !== want || c[chunk - 1] !== want || !c.equals(Buffer.alloc(chunk, want))) return false;
    }
    return true;
  };
  for (let k = 0; k <= Math.min(hi, log.length); k++) {
    if (k > 0) state.set(key(log[k - 1]), log[k - 1].byte);
    if (k >= lo && matches()) return k;
  }
  return -1;
}

/** Write latencies (ms) of the writes in flight at any time in [from, to], and of all the others, for the report. */
export function latencies(log: readonly LoggedWrite[], from: number, to: number): { during: number[]; outside: number[] } {
  const during: number[] = [];
  const outside: number[] = [];
  for (const w of log) (w.sentAt <= to && w.ackedAt >= from ? during : outside).push(w.ackedAt - w.sentAt);
  return { during, outside };
}
