import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../util/log.ts';
import { requireClear } from './cdb.ts';
import type { CommandSpec, TargetServices } from './command.ts';
import { Opcode, SanitizeAction } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { goodDataOut, requireWritable } from './lu_io.ts';
import { invalidFieldInCdb, invalidFieldInParameterList, parameterListLengthError } from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const IMMED = 0x80;
const AUSE = 0x20;
const OVERWRITE_HEADER = 4;
const INVERT = 0x80;

/** How a whole-medium sanitize rewrites one span of blocks. */
type SpanWriter = (lba: number, count: number) => Promise<void>;

/**
 * Runs a sanitize over the whole medium in spans of MAXIMUM TRANSFER LENGTH, keeping
 * `lu.sanitize` current so other commands see NOT READY with the progress indication.
 */
async function sweep(lu: LogicalUnit, write: SpanWriter): Promise<void> {
  const total = lu.device.blockCount;
  const step = lu.limits.maxTransfer;
  const rate = lu.config.sanitizeBytesPerSecond;
  const started = Date.now();
  lu.sanitize = { done: 0, total };
  try {
    for (let lba = 0; lba < total; lba += step) {
      const n = Math.min(step, total - lba);
      await write(lba, n);
      lu.sanitize.done = lba + n;
      if (rate) {
        const due = started + ((lba + n) * lu.device.blockSize * 1000) / rate;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
  } finally {
    lu.sanitize = undefined;
  }
}

/** The block image an OVERWRITE writes: the pattern repeated, inverted on even pass counts when INVERT is set. */
function overwriteImage(params: Buffer, blockSize: number): Buffer {
  const count = params[0] & 0x1f;
  const patternLength = params.readUInt16BE(2);
  if (count === 0) throw invalidFieldInParameterList(0, 4);
  if (patternLength === 0 || patternLength > blockSize) throw invalidFieldInParameterList(2);
  if (patternLength !== params.length - OVERWRITE_HEADER) throw invalidFieldInParameterList(2);
  const pattern = params.subarray(OVERWRITE_HEADER);
  const block = Buffer.alloc(blockSize);
  for (let at = 0; at < blockSize; at += patternLength) pattern.copy(block, at, 0, Math.min(patternLength, blockSize - at));
  if ((params[0] & INVERT) && count % 2 === 0) for (let i = 0; i < blockSize; i++) block[i] ^= 0xff;
  return block;
}

function fillWriter(lu: LogicalUnit, block: Buffer): SpanWriter {
  const bs = lu.device.blockSize;
  const chunk = Buffer.alloc(lu.limits.maxTransfer * bs);
  for (let at = 0; at < chunk.length; at += bs) block.copy(chunk, at);
  return (lba, count) => lu.device.write(lba, chunk.subarray(0, count * bs), true);
}

/**
 * SANITIZE: OVERWRITE with the given pattern, BLOCK ERASE (deallocate everything),
 * CRYPTO ERASE (no keys are held yet, so it deallocates like BLOCK ERASE), both on
 * thin LUs only, and EXIT FAILURE MODE (nothing can fail into that mode here). With IMMED the command completes first and the sanitize
 * runs on; meanwhile other commands are answered NOT READY, SANITIZE IN PROGRESS.
 */
async function sanitize(task: ScsiTask, lu: LogicalUnit, target: TargetServices): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireClear(cdb, 1, 0x40);
  for (let b = 2; b <= 6; b++) requireClear(cdb, b, 0xff);
  const action = cdb[1] & 0x1f;
  const length = cdb.readUInt16BE(7);
  if (cdb[1] & AUSE) throw invalidFieldInCdb(1, 5);
  let writer: SpanWriter;
  switch (action) {
    case SanitizeAction.OVERWRITE: {
      const bs = lu.device.blockSize;
      if (length <= OVERWRITE_HEADER || length > bs + OVERWRITE_HEADER) throw invalidFieldInCdb(7);
      const data = task.dataOut;
      if (!data || data.length < length) throw parameterListLengthError();
      const block = overwriteImage(data.subarray(0, length), bs);
      requireWritable(lu);
      writer = fillWriter(lu, block);
      break;
    }
    case SanitizeAction.BLOCK_ERASE:
    case SanitizeAction.CRYPTO_ERASE:
      if (length !== 0) throw invalidFieldInCdb(7);
      if (!lu.thin) throw invalidFieldInCdb(1, 4);
      requireWritable(lu);
      writer = (lba, count) => lu.device.unmap(lba, count);
      break;
    case SanitizeAction.EXIT_FAILURE_MODE:
      if (length !== 0) throw invalidFieldInCdb(7);
      return goodDataOut(0);
    default:
      throw invalidFieldInCdb(1, 4);
  }
  const done = lu.locks.acquire(0, lu.device.blockCount).then(async (release) => {
    try {
      await lu.writes.drain();
      await sweep(lu, writer);
      await lu.device.flush();
    } finally {
      release();
    }
  });
  if (cdb[1] & IMMED) {
    background(done, target.logger);
    return goodDataOut(length);
  }
  await done;
  return goodDataOut(length);
}

function background(work: Promise<void>, logger: Logger): void {
  work.catch((err: unknown) => logger.error({ err }, 'background SANITIZE failed'));
}

const USAGE = [0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00];
const LONG = { nominal: 0, recommended: 3600 };

export const sanitizeCommands: CommandSpec[] = [
  { opcode: Opcode.SANITIZE, sa: SanitizeAction.OVERWRITE, name: 'SANITIZE OVERWRITE', reservation: 'write', handler: sanitize, usage: USAGE.map((b, i) => (i === 1 ? 0x81 : b)), timeouts: LONG },
  {
    opcode: Opcode.SANITIZE, sa: SanitizeAction.BLOCK_ERASE, name: 'SANITIZE BLOCK ERASE', reservation: 'write', handler: sanitize,
    usage: USAGE.map((b, i) => (i === 1 ? 0x82 : i === 7 || i === 8 ? 0 : b)), timeouts: LONG, supported: (lu) => lu.thin,
  },
  {
    opcode: Opcode.SANITIZE, sa: SanitizeAction.CRYPTO_ERASE, name: 'SANITIZE CRYPTO ERASE', reservation: 'write', handler: sanitize,
    usage: USAGE.map((b, i) => (i === 1 ? 0x83 : i === 7 || i === 8 ? 0 : b)), timeouts: LONG, supported: (lu) => lu.thin,
  },
  { opcode: Opcode.SANITIZE, sa: SanitizeAction.EXIT_FAILURE_MODE, name: 'SANITIZE EXIT FAILURE MODE', reservation: 'write', handler: sanitize, usage: USAGE.map((b, i) => (i === 1 ? 0x9f : i === 7 || i === 8 ? 0 : b)), timeouts: LONG },
];
