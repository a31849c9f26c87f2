/**
 * The worker's side of the FUSE keeper (src/engine/fuse_keeper.ts): the /dev/fuse
 * descriptors it inherited, spare or bound to a file, and the messages that keep the
 * keeper's copy of that table true.
 */
import { decodeLayout, isKeeperMessage, KEEPER_LAYOUT_ENV, KeeperLayoutError, type KeptRecord, type KeptSlot, type WorkerMessage } from './fuse_keeper_protocol.ts';

export class KeptFds {
  readonly #spares: number[];
  readonly #inherited: KeptSlot[];
  readonly #send: (m: WorkerMessage) => void;

  constructor(slots: readonly KeptSlot[], send: (m: WorkerMessage) => void) {
    this.#spares = slots.filter((s) => s.record === undefined).map((s) => s.fd);
    this.#inherited = slots.filter((s) => s.record !== undefined);
    this.#send = send;
  }

  /** A worker's table, when the keeper started this process; undefined otherwise. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): KeptFds | undefined {
    const text = env[KEEPER_LAYOUT_ENV];
    if (text === undefined) return undefined;
    const send = process.send?.bind(process);
    if (send === undefined) throw new KeeperLayoutError(`${KEEPER_LAYOUT_ENV} is set but there is no IPC channel to a keeper`);
    return new KeptFds(decodeLayout(text), (m) => {
      // A closed channel means the keeper is gone, and this process is about to follow it.
      try { send(m); } catch { /* nothing to tell */ }
    });
  }

  get spareCount(): number {
    return this.#spares.length;
  }

  /** Connections a previous worker served: each is taken over once (the list empties). */
  takeInherited(): KeptSlot[] {
    return this.#inherited.splice(0);
  }

  /** An unused descriptor, told to the keeper as serving `record` before it is mounted. */
  takeSpare(record: KeptRecord): number | undefined {
    const fd = this.#spares.shift();
    if (fd !== undefined) this.#send({ t: 'bind', fd, record });
    return fd;
  }

  /** The connection ended (or never was): the keeper closes its copy. */
  release(fd: number): void {
    this.#send({ t: 'release', fd });
  }

  ready(): void {
    this.#send({ t: 'ready' });
  }

  /** The keeper asks this worker to hand over to a new one (SIGHUP to the keeper, fuse_keeper.ts). */
  onHandover(fn: () => void): void {
    process.on('message', (m: unknown) => { if (isKeeperMessage(m)) fn(); });
  }
}
