import { BHS_LENGTH, DataInFlag, InitiatorOpcode, ScsiCommandFlag, TargetOpcode } from './constants.ts';
import { PduFieldError } from './errors.ts';
import { PDU_LAYOUTS, type FieldSpec } from './pdu_layout.ts';

/**
 * Pure BHS codecs. `decodePdu`/`encodePdu` are table-driven and cover every PDU type;
 * the few PDUs on the I/O path (SCSI Command, Data-Out in; Data-In, SCSI Response,
 * R2T out) also have hand-written codecs that avoid the generic loop.
 */

/** A LUN we cannot represent (SAM address methods other than peripheral/flat). */
export const LUN_UNSUPPORTED = 0xffff_ffff;

/** SAM-5 §4.7: peripheral device addressing below 256, flat space addressing to 16383. */
export function readLun(b: Buffer, off: number): number {
  const method = b[off] >> 6;
  if (method === 0) {
    if ((b[off] & 0x3f) !== 0) return LUN_UNSUPPORTED;
    return b[off + 1];
  }
  if (method === 1) return ((b[off] & 0x3f) << 8) | b[off + 1];
  return LUN_UNSUPPORTED;
}

export function writeLun(b: Buffer, off: number, lun: number): void {
  b.fill(0, off, off + 8);
  if (lun < 256) {
    b[off + 1] = lun;
  } else if (lun < 16384) {
    b[off] = 0x40 | (lun >> 8);
    b[off + 1] = lun & 0xff;
  } else {
    throw new PduFieldError(`LUN ${lun} cannot be encoded`);
  }
}

export type PduFields = Record<string, number | boolean | string | Buffer>;
export interface DecodedPdu {
  opcode: number;
  name: string;
  fields: PduFields;
}

function shiftOf(mask: number): number {
  return 31 - Math.clz32(mask & -mask);
}

function readField(b: Buffer, s: FieldSpec): number | boolean | string | Buffer {
  switch (s.kind) {
    case 'u8': return b[s.offset];
    case 'u16': return b.readUInt16BE(s.offset);
    case 'u24': return (b[s.offset] << 16) | (b[s.offset + 1] << 8) | b[s.offset + 2];
    case 'u32': return b.readUInt32BE(s.offset);
    case 'flag': return (b[s.offset] & s.mask!) !== 0;
    case 'bits': return (b[s.offset] & s.mask!) >>> shiftOf(s.mask!);
    case 'lun': return readLun(b, s.offset);
    case 'isid': return b.toString('hex', s.offset, s.offset + 6);
    case 'cdb': return b.subarray(s.offset, s.offset + 16);
  }
}

function writeField(b: Buffer, s: FieldSpec, v: number | boolean | string | Buffer | undefined): void {
  if (v === undefined) return;
  switch (s.kind) {
    case 'u8': b[s.offset] = v as number; return;
    case 'u16': b.writeUInt16BE(v as number, s.offset); return;
    case 'u24': b[s.offset] = (v as number) >>> 16; b[s.offset + 1] = (v as number) >>> 8; b[s.offset + 2] = v as number; return;
    case 'u32': b.writeUInt32BE((v as number) >>> 0, s.offset); return;
    case 'flag': if (v) b[s.offset] |= s.mask!; return;
    case 'bits': b[s.offset] |= ((v as number) << shiftOf(s.mask!)) & s.mask!; return;
    case 'lun': writeLun(b, s.offset, v as number); return;
    case 'isid': {
      const hex = v as string;
      if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new PduFieldError('ISID must be 12 hex digits');
      b.write(hex, s.offset, 6, 'hex');
      return;
    }
    case 'cdb': (v as Buffer).copy(b, s.offset, 0, 16); return;
  }
}

/** Decodes any BHS. Throws PduFieldError for an opcode RFC 7143 does not define. */
export function decodePdu(bhs: Buffer): DecodedPdu {
  if (bhs.length < BHS_LENGTH) throw new PduFieldError('BHS shorter than 48 bytes');
  const opcode = bhs[0] & 0x3f;
  const layout = PDU_LAYOUTS.get(opcode);
  if (!layout) throw new PduFieldError(`unknown opcode 0x${opcode.toString(16)}`);
  const fields: PduFields = {};
  for (const s of layout.fields) fields[s.name] = readField(bhs, s);
  return { opcode, name: layout.name, fields };
}

/** Encodes any BHS; fields left out are zero. */
export function encodePdu(opcode: number, fields: PduFields): Buffer {
  const layout = PDU_LAYOUTS.get(opcode);
  if (!layout) throw new PduFieldError(`unknown opcode 0x${opcode.toString(16)}`);
  const b = Buffer.alloc(BHS_LENGTH);
  b[0] = opcode;
  b[1] = layout.fixedFlags;
  for (const s of layout.fields) writeField(b, s, fields[s.name]);
  return b;
}

// ---- hot path: initiator → target ----

export interface ScsiCommandPdu {
  immediate: boolean;
  final: boolean;
  read: boolean;
  write: boolean;
  attribute: number;
  lun: number;
  itt: number;
  expectedDataTransferLength: number;
  cmdSN: number;
  expStatSN: number;
  cdb: Buffer;
}

export function decodeScsiCommand(b: Buffer): ScsiCommandPdu {
  const flags = b[1];
  return {
    immediate: (b[0] & 0x40) !== 0,
    final: (flags & ScsiCommandFlag.FINAL) !== 0,
    read: (flags & ScsiCommandFlag.READ) !== 0,
    write: (flags & ScsiCommandFlag.WRITE) !== 0,
    attribute: flags & ScsiCommandFlag.ATTR_MASK,
    lun: readLun(b, 8),
    itt: b.readUInt32BE(16),
    expectedDataTransferLength: b.readUInt32BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    cdb: b.subarray(32, 48),
  };
}

export interface DataOutPdu {
  final: boolean;
  lun: number;
  itt: number;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
}

export function decodeDataOut(b: Buffer): DataOutPdu {
  return {
    final: (b[1] & 0x80) !== 0,
    lun: readLun(b, 8),
    itt: b.readUInt32BE(16),
    ttt: b.readUInt32BE(20),
    expStatSN: b.readUInt32BE(28),
    dataSN: b.readUInt32BE(36),
    bufferOffset: b.readUInt32BE(40),
  };
}

// ---- hot path: target → initiator ----

function header(opcode: number, flags: number, dataLength: number): Buffer {
  const b = Buffer.allocUnsafe(BHS_LENGTH).fill(0);
  b[0] = opcode;
  b[1] = flags;
  b[5] = dataLength >>> 16;
  b[6] = dataLength >>> 8;
  b[7] = dataLength;
  return b;
}

export interface SnState {
  expCmdSN: number;
  maxCmdSN: number;
}

function writeSn(b: Buffer, statSN: number, sn: SnState): void {
  b.writeUInt32BE(statSN >>> 0, 24);
  b.writeUInt32BE(sn.expCmdSN >>> 0, 28);
  b.writeUInt32BE(sn.maxCmdSN >>> 0, 32);
}

/** Data-In; `statusFlags` carries F/O/U/S bits; statSN only counts when S is set. */
export function encodeDataIn(
  flags: number, status: number, lun: number, itt: number, statSN: number, sn: SnState,
  dataSN: number, bufferOffset: number, residual: number, dataLength: number,
): Buffer {
  const b = header(TargetOpcode.SCSI_DATA_IN, flags, dataLength);
  if (flags & DataInFlag.STATUS) b[3] = status;
  if (lun !== 0 && lun < 16384) writeLun(b, 8, lun);
  b.writeUInt32BE(itt >>> 0, 16);
  b.writeUInt32BE(0xffffffff, 20);
  writeSn(b, statSN, sn);
  b.writeUInt32BE(dataSN >>> 0, 36);
  b.writeUInt32BE(bufferOffset >>> 0, 40);
  b.writeUInt32BE(residual >>> 0, 44);
  return b;
}

export function encodeScsiResponse(
  flags: number, response: number, status: number, itt: number, statSN: number, sn: SnState,
  expDataSN: number, residual: number, dataLength: number,
): Buffer {
  const b = header(TargetOpcode.SCSI_RESPONSE, 0x80 | flags, dataLength);
  b[2] = response;
  b[3] = status;
  b.writeUInt32BE(itt >>> 0, 16);
  writeSn(b, statSN, sn);
  b.writeUInt32BE(expDataSN >>> 0, 36);
  b.writeUInt32BE(residual >>> 0, 44);
  return b;
}

export function encodeR2T(
  lun: number, itt: number, ttt: number, statSN: number, sn: SnState, r2tSN: number, bufferOffset: number, length: number,
): Buffer {
  const b = header(TargetOpcode.R2T, 0x80, 0);
  if (lun < 16384) writeLun(b, 8, lun);
  b.writeUInt32BE(itt >>> 0, 16);
  b.writeUInt32BE(ttt >>> 0, 20);
  writeSn(b, statSN, sn);
  b.writeUInt32BE(r2tSN >>> 0, 36);
  b.writeUInt32BE(bufferOffset >>> 0, 40);
  b.writeUInt32BE(length >>> 0, 44);
  return b;
}

export function isInitiatorOpcode(opcode: number): boolean {
  return opcode <= InitiatorOpcode.LOGOUT_REQUEST || opcode === InitiatorOpcode.SNACK_REQUEST;
}
