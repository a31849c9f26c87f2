import { Opcode } from './constants.ts';
import { ScsiStatus, type ScsiResponse, type ScsiTask } from './types.ts';

/**
 * Per-LU I/O accounting for metrics. Plain numbers and typed arrays only: a command costs
 * a table lookup, a few additions and a short bucket search; the metrics layer reads the
 * fields at scrape time. Kept in src/scsi so the data path imports nothing of the API.
 */

/** Command classes counted apart; `other` is every command that is not I/O (INQUIRY, SYNCHRONIZE CACHE, …). */
export const IO_KINDS = ['read', 'write', 'unmap', 'other'] as const;
export type IoKindName = (typeof IO_KINDS)[number];
const READ = 0;
const WRITE = 1;
const UNMAP = 2;
const OTHER = 3;

/** Latency bucket upper bounds in seconds: 50 µs (a RAM-backed read) … 5 s (an initiator's timeout). */
export const LATENCY_BUCKETS_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const;
const BOUNDS_MS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
/** One slot per bound plus +Inf. */
const SLOTS = BOUNDS_MS.length + 1;

const KIND_OF_OPCODE = new Uint8Array(256).fill(OTHER);
for (const op of [Opcode.READ_6, Opcode.READ_10, Opcode.READ_12, Opcode.READ_16]) KIND_OF_OPCODE[op] = READ;
for (const op of [
  Opcode.WRITE_6, Opcode.WRITE_10, Opcode.WRITE_12, Opcode.WRITE_16, Opcode.WRITE_AND_VERIFY_10, Opcode.WRITE_AND_VERIFY_12,
  Opcode.WRITE_AND_VERIFY_16, Opcode.COMPARE_AND_WRITE, Opcode.ORWRITE_16, Opcode.WRITE_ATOMIC_16, Opcode.WRITE_SAME_10, Opcode.WRITE_SAME_16,
]) KIND_OF_OPCODE[op] = WRITE;
KIND_OF_OPCODE[Opcode.UNMAP] = UNMAP;

/** Sense keys are 4 bits (SPC-4 4.5.6). */
export const SENSE_KEY_COUNT = 16;

export class IoStats {
  /** Commands completed, by kind index (IO_KINDS order). */
  readonly ops = new Float64Array(IO_KINDS.length);
  /** Bytes moved (read, written) or deallocated (unmap), by kind. */
  readonly bytes = new Float64Array(IO_KINDS.length);
  /** Non-cumulative latency bucket counts, kind-major: kind * (bounds + 1) + slot. */
  readonly buckets = new Float64Array(IO_KINDS.length * SLOTS);
  /** Sum of latencies in seconds, by kind. */
  readonly latencySum = new Float64Array(IO_KINDS.length);
  /** CHECK CONDITION responses, by sense key. */
  readonly senseErrors = new Float64Array(SENSE_KEY_COUNT);
  /** Other non-GOOD statuses (reservation conflict, busy, task set full). */
  statusErrors = 0;
  inFlight = 0;
  readonly #blockSize: number;

  constructor(blockSize: number) {
    this.#blockSize = blockSize;
  }

  /** Called as a command starts; returns the start time to hand to finish(). */
  start(): number {
    this.inFlight++;
    return performance.now();
  }

  finish(task: ScsiTask, res: ScsiResponse, startedMs: number): void {
    const elapsed = performance.now() - startedMs;
    this.inFlight--;
    const kind = KIND_OF_OPCODE[task.cdb[0]];
    this.ops[kind]++;
    this.latencySum[kind] += elapsed / 1000;
    let slot = 0;
    while (slot < BOUNDS_MS.length && elapsed > BOUNDS_MS[slot]) slot++;
    this.buckets[kind * SLOTS + slot]++;
    if (res.status !== ScsiStatus.GOOD) {
      if (res.status === ScsiStatus.CHECK_CONDITION && res.sense !== undefined && res.sense.length > 2) this.senseErrors[res.sense[2] & 0x0f]++;
      else this.statusErrors++;
      return;
    }
    if (kind === READ) this.bytes[READ] += res.data?.length ?? 0;
    else if (kind === WRITE) this.bytes[WRITE] += task.dataOut?.length ?? 0;
    else if (kind === UNMAP) this.bytes[UNMAP] += unmapBlocks(task.dataOut) * this.#blockSize;
  }

  /** Cumulative bucket counts for one kind, in LATENCY_BUCKETS_SECONDS order then +Inf. */
  cumulativeBuckets(kind: number): number[] {
    const out: number[] = [];
    let total = 0;
    for (let slot = 0; slot < SLOTS; slot++) out.push((total += this.buckets[kind * SLOTS + slot]));
    return out;
  }
}

/** Blocks named by an UNMAP parameter list (SBC-3 5.28.2): 8-byte header, 16-byte descriptors. */
function unmapBlocks(list: Buffer | undefined): number {
  if (list === undefined || list.length < 8) return 0;
  const end = Math.min(list.length, 8 + list.readUInt16BE(2));
  let blocks = 0;
  for (let off = 8; off + 16 <= end; off += 16) blocks += list.readUInt32BE(off + 8);
  return blocks;
}
