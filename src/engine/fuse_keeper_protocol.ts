/**
 * What the FUSE keeper (src/engine/fuse_keeper.ts) and the engine worker it runs tell each
 * other. Pure: the layout travels in an environment variable at spawn, the messages over
 * the IPC channel, and both are checked here, as anything read from outside is.
 *
 * Why a keeper at all: a FUSE connection lives as long as some process holds its
 * /dev/fuse descriptor. Node can hand descriptors to a child only at spawn (stdio
 * inheritance) and cannot receive one without native code, so the keeper opens spare
 * descriptors, gives them to each worker it starts, and keeps its own copies: a worker
 * that dies leaves every local attach connected, and the next worker takes the same
 * descriptors back, with a record of which file each one serves.
 */
import { BerthError } from '../util/errors.ts';

/** The environment variable that carries the layout: its presence makes a process a worker. */
export const KEEPER_LAYOUT_ENV = 'BERTH_FUSE_KEEPER_LAYOUT';

/** The first descriptor number the kept ones take in the worker: 0-2 are stdio, 3 the IPC channel. */
export const FIRST_KEPT_FD = 4;

/** What a bound descriptor serves. */
export interface KeptRecord {
  pool: string;
  volume: string;
  /** The file the connection is mounted on. */
  path: string;
}

/** One descriptor the worker inherits: bound (serving `record`) or a spare. */
export interface KeptSlot {
  fd: number;
  record?: KeptRecord;
}

export type WorkerMessage =
  | { t: 'ready' }
  /** Sent before mount(2): a worker that dies mid-mount leaves a record the next one checks. */
  | { t: 'bind'; fd: number; record: KeptRecord }
  /** The connection ended or was never made: the keeper closes its copy. */
  | { t: 'release'; fd: number };

/**
 * What the keeper tells its worker. `handover`: stop cleanly (pools closed, ownership
 * released) but leave every kept connection mounted, then exit 0; the keeper starts the
 * next worker at once, from the code the keeper's code directory names by then.
 */
export type KeeperMessage = { t: 'handover' };

export function isKeeperMessage(x: unknown): x is KeeperMessage {
  return typeof x === 'object' && x !== null && (x as { t?: unknown }).t === 'handover';
}

export class KeeperLayoutError extends BerthError {
  constructor(message: string) { super('KEEPER_LAYOUT', message); }
}

const NAME = /^[A-Za-z0-9._-]{1,255}$/;

function isRecord(x: unknown): x is KeptRecord {
  const r = x as Partial<KeptRecord> | null;
  return typeof r === 'object' && r !== null && typeof r.pool === 'string' && typeof r.volume === 'string' && typeof r.path === 'string'
    && NAME.test(r.pool) && NAME.test(r.volume) && r.path.startsWith('/');
}

export function encodeLayout(slots: readonly KeptSlot[]): string {
  return JSON.stringify(slots.map((s) => (s.record ? [s.fd, s.record.pool, s.record.volume, s.record.path] : s.fd)));
}

export function decodeLayout(text: string): KeptSlot[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new KeeperLayoutError('the keeper layout is not JSON');
  }
  if (!Array.isArray(raw)) throw new KeeperLayoutError('the keeper layout is not a list');
  const seen = new Set<number>();
  return raw.map((item: unknown) => {
    const fd = Array.isArray(item) ? item[0] : item;
    if (!Number.isInteger(fd) || (fd as number) < FIRST_KEPT_FD || seen.has(fd as number)) throw new KeeperLayoutError(`bad descriptor ${JSON.stringify(fd)} in the keeper layout`);
    seen.add(fd as number);
    if (!Array.isArray(item)) return { fd: fd as number };
    const record = { pool: item[1], volume: item[2], path: item[3] };
    if (item.length !== 4 || !isRecord(record)) throw new KeeperLayoutError(`bad record for descriptor ${fd as number} in the keeper layout`);
    return { fd: fd as number, record };
  });
}

export function isWorkerMessage(x: unknown): x is WorkerMessage {
  const m = x as { t?: unknown; fd?: unknown; record?: unknown } | null;
  if (typeof m !== 'object' || m === null) return false;
  if (m.t === 'ready') return true;
  if (!Number.isInteger(m.fd)) return false;
  if (m.t === 'release') return true;
  return m.t === 'bind' && isRecord(m.record);
}

/** Worker restarts within this window count towards the back-off. */
export const CRASH_WINDOW_MS = 10 * 60_000;
const MAX_RESPAWN_DELAY_MS = 30_000;

/**
 * How long the keeper waits before starting the next worker: at once after a first crash
 * (the kernel holds the attaches' I/O meanwhile, so every second counts), then doubling
 * from 1 s to 30 s while crashes keep coming within the window.
 */
export function respawnDelayMs(crashTimes: readonly number[], now: number): number {
  const recent = crashTimes.filter((t) => now - t < CRASH_WINDOW_MS).length;
  if (recent <= 1) return 0;
  return Math.min(MAX_RESPAWN_DELAY_MS, 1000 * 2 ** (recent - 2));
}
