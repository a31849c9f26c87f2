import { checkRange, cutTo, readLba64 } from './cdb.ts';
import type { CommandSpec, TargetServices } from './command.ts';
import { Asc, CopyResultsAction, Opcode, SenseKey } from './constants.ts';
import type { CopyStatusRecord, LogicalUnit } from './logical_unit.ts';
import { good, goodDataOut, requireWritable, writeBlocks } from './lu_io.ts';
import { CheckConditionError, invalidFieldInCdb, invalidFieldInParameterList, parameterListLengthError } from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

/** Copy-manager limits reported by RECEIVE COPY RESULTS / OPERATING PARAMETERS. */
const MAX_CSCD_DESCRIPTORS = 2;
const MAX_SEGMENT_DESCRIPTORS = 64;
const MAX_DESCRIPTOR_LIST_LENGTH = 4096;
const MAX_SEGMENT_BLOCKS = 0xffff;
const HEADER = 16;
const CSCD_LENGTH = 32;
const CSCD_IDENTIFICATION = 0xe4;
const SEGMENT_BLOCK_TO_BLOCK = 0x02;
const DESIGNATOR_NAA = 0x3;
const LIST_ID_USAGE_NONE = 0x3;
const LIST_ID_USAGE_DISCARD = 0x2;
const STATUS_GOOD = 0x01;
const STATUS_ERROR = 0x02;

interface Segment { src: number; dst: number; blocks: number; srcLba: number; dstLba: number }

function copyAborted(asc: number): CheckConditionError { return new CheckConditionError(SenseKey.COPY_ABORTED, asc); }

/** Finds the LU of this target whose NAA designator the CSCD descriptor names. */
function resolveCscd(desc: Buffer, target: TargetServices): LogicalUnit | undefined {
  const designatorType = desc[5] & 0x0f;
  const length = desc[7];
  if (designatorType !== DESIGNATOR_NAA || length > 20) return undefined;
  const value = desc.subarray(8, 8 + length);
  for (const lu of target.units()) if (lu.naa.equals(value)) return lu;
  return undefined;
}

function parseSegments(list: Buffer): Segment[] {
  const segments: Segment[] = [];
  let at = 0;
  while (at < list.length) {
    if (at + 4 > list.length) throw parameterListLengthError();
    const type = list[at];
    const length = 4 + list.readUInt16BE(at + 2);
    if (type !== SEGMENT_BLOCK_TO_BLOCK) throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE);
    if (length !== 28 || at + length > list.length) throw invalidFieldInParameterList(HEADER + at + 2);
    if (segments.length === MAX_SEGMENT_DESCRIPTORS) throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.TOO_MANY_SEGMENT_DESCRIPTORS);
    segments.push({
      src: list.readUInt16BE(at + 4), dst: list.readUInt16BE(at + 6), blocks: list.readUInt16BE(at + 10),
      srcLba: readLba64(list, at + 12), dstLba: readLba64(list, at + 20),
    });
    at += length;
  }
  return segments;
}

async function copySegment(seg: Segment, units: (LogicalUnit | undefined)[]): Promise<number> {
  const src = units[seg.src];
  const dst = units[seg.dst];
  if (seg.src >= units.length || seg.dst >= units.length || !src || !dst) throw copyAborted(Asc.UNREACHABLE_COPY_TARGET);
  if (src.device.blockSize !== dst.device.blockSize) throw copyAborted(Asc.NO_ADDITIONAL_SENSE);
  try {
    checkRange(seg.srcLba, seg.blocks, src.device.blockCount);
    checkRange(seg.dstLba, seg.blocks, dst.device.blockCount);
  } catch {
    throw copyAborted(Asc.NO_ADDITIONAL_SENSE);
  }
  requireWritable(dst);
  const step = Math.min(src.limits.maxTransfer, dst.limits.maxTransfer);
  for (let done = 0; done < seg.blocks; done += step) {
    const n = Math.min(step, seg.blocks - done);
    const data = await src.device.read(seg.srcLba + done, n);
    await writeBlocks(dst, seg.dstLba + done, data, false);
  }
  return seg.blocks * src.device.blockSize;
}

/**
 * EXTENDED COPY (LID1) between logical units of this target: identification CSCD
 * descriptors by NAA designator, block-to-block segments. Descriptor lists are
 * checked whole before any block moves; failures while copying are COPY ABORTED.
 */
async function extendedCopy(task: ScsiTask, lu: LogicalUnit, target: TargetServices): Promise<ScsiResponse> {
  const length = task.cdb.readUInt32BE(10);
  if (length === 0) return goodDataOut(0);
  const data = task.dataOut;
  if (length < HEADER || !data || data.length < length) throw parameterListLengthError();
  const params = data.subarray(0, length);
  const listId = params[0];
  const usage = (params[1] >> 3) & 0x3;
  if (params[1] & 0x20) throw invalidFieldInParameterList(1, 5);
  if (usage === LIST_ID_USAGE_NONE && listId !== 0) throw invalidFieldInParameterList(0);
  const cscdLength = params.readUInt16BE(2);
  const segmentLength = params.readUInt32BE(8);
  const inlineLength = params.readUInt32BE(12);
  if (HEADER + cscdLength + segmentLength + inlineLength > length) throw parameterListLengthError();
  if (cscdLength + segmentLength > MAX_DESCRIPTOR_LIST_LENGTH) throw parameterListLengthError();
  if (inlineLength !== 0) throw invalidFieldInParameterList(12);
  if (cscdLength % CSCD_LENGTH !== 0) throw parameterListLengthError();
  const cscdCount = cscdLength / CSCD_LENGTH;
  if (cscdCount > MAX_CSCD_DESCRIPTORS) throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.TOO_MANY_TARGET_DESCRIPTORS);
  const units: (LogicalUnit | undefined)[] = [];
  for (let i = 0; i < cscdCount; i++) {
    const desc = params.subarray(HEADER + i * CSCD_LENGTH, HEADER + (i + 1) * CSCD_LENGTH);
    if (desc[0] !== CSCD_IDENTIFICATION) throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE);
    if ((desc[1] & 0x1f) !== 0) throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE);
    units.push(resolveCscd(desc, target));
  }
  const segments = parseSegments(params.subarray(HEADER + cscdLength, HEADER + cscdLength + segmentLength));
  const record: CopyStatusRecord = { status: 0, segmentsProcessed: 0, transferCount: 0 };
  if (usage !== LIST_ID_USAGE_NONE && usage !== LIST_ID_USAGE_DISCARD) lu.copyResults.set(`${task.nexus.id}/${listId}`, record);
  try {
    for (const seg of segments) {
      record.transferCount += await copySegment(seg, units);
      record.segmentsProcessed++;
    }
    record.status = STATUS_GOOD;
  } catch (err) {
    record.status = STATUS_ERROR;
    throw err;
  }
  return goodDataOut(length);
}

function operatingParameters(): Buffer {
  const implemented = [SEGMENT_BLOCK_TO_BLOCK, CSCD_IDENTIFICATION];
  const out = Buffer.alloc(44 + implemented.length);
  out.writeUInt32BE(out.length - 4, 0);
  out[4] = 0x01;
  out.writeUInt16BE(MAX_CSCD_DESCRIPTORS, 8);
  out.writeUInt16BE(MAX_SEGMENT_DESCRIPTORS, 10);
  out.writeUInt32BE(MAX_DESCRIPTOR_LIST_LENGTH, 12);
  out.writeUInt32BE(MAX_SEGMENT_BLOCKS * 512, 16);
  out.writeUInt16BE(1, 34);
  out[36] = 1;
  out[37] = 9;
  out[43] = implemented.length;
  Buffer.from(implemented).copy(out, 44);
  return out;
}

function copyStatus(record: CopyStatusRecord): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32BE(8, 0);
  out[4] = record.status & 0x7f;
  out.writeUInt16BE(record.segmentsProcessed & 0xffff, 5);
  out[7] = 0;
  out.writeUInt32BE(Math.min(record.transferCount, 0xffffffff), 8);
  return out;
}

/** RECEIVE COPY RESULTS: OPERATING PARAMETERS, and COPY STATUS of a held list id of this nexus. */
function receiveCopyResults(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  const cdb = task.cdb;
  const allocation = cdb.readUInt32BE(10);
  switch (cdb[1] & 0x1f) {
    case CopyResultsAction.OPERATING_PARAMETERS:
      return good(cutTo(operatingParameters(), allocation));
    case CopyResultsAction.COPY_STATUS: {
      const key = `${task.nexus.id}/${cdb[2]}`;
      const record = lu.copyResults.get(key);
      if (!record) throw invalidFieldInCdb(2);
      if (record.status !== 0) lu.copyResults.delete(key);
      return good(cutTo(copyStatus(record), allocation));
    }
    default:
      throw invalidFieldInCdb(1, 4);
  }
}

const RCR_USAGE = [0x84, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00];

export const copyCommands: CommandSpec[] = [
  {
    opcode: Opcode.EXTENDED_COPY, sa: 0x00, name: 'EXTENDED COPY(LID1)', reservation: 'write', handler: extendedCopy,
    usage: [0x83, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  },
  {
    opcode: Opcode.RECEIVE_COPY_RESULTS, sa: CopyResultsAction.COPY_STATUS, name: 'RECEIVE COPY RESULTS(COPY STATUS)',
    reservation: 'read', handler: receiveCopyResults, usage: RCR_USAGE,
  },
  {
    opcode: Opcode.RECEIVE_COPY_RESULTS, sa: CopyResultsAction.OPERATING_PARAMETERS, name: 'RECEIVE COPY RESULTS(OPERATING PARAMETERS)',
    reservation: 'read', handler: receiveCopyResults, usage: RCR_USAGE.map((b, i) => (i === 1 ? 0x03 : b)),
  },
];
