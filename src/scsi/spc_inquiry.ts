import { cutTo } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Opcode, PeripheralDeviceType, VersionDescriptor } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { good } from './lu_io.ts';
import { invalidFieldInCdb } from './sense.ts';
import type { ITNexus, ScsiResponse, ScsiTask } from './types.ts';

const STANDARD_INQUIRY_LENGTH = 96;
const VERSION_SPC_4 = 0x06;
const RESPONSE_DATA_FORMAT = 0x02;
const HISUP = 0x10;
const THIRD_PARTY_COPY = 0x08;
const CMDQUE = 0x02;
/** Peripheral qualifier 011b, device type 1Fh: no logical unit here (SPC-4 6.6.2). */
const NO_LOGICAL_UNIT = 0x7f;

const VPD_SUPPORTED_PAGES = 0x00;
const VPD_UNIT_SERIAL = 0x80;
const VPD_DEVICE_IDENTIFICATION = 0x83;
const VPD_BLOCK_LIMITS = 0xb0;
const VPD_BLOCK_DEVICE_CHARACTERISTICS = 0xb1;
const VPD_LOGICAL_BLOCK_PROVISIONING = 0xb2;
const SUPPORTED_PAGES = [VPD_SUPPORTED_PAGES, VPD_UNIT_SERIAL, VPD_DEVICE_IDENTIFICATION, VPD_BLOCK_LIMITS,
  VPD_BLOCK_DEVICE_CHARACTERISTICS, VPD_LOGICAL_BLOCK_PROVISIONING];

const PROTOCOL_ISCSI = 0x5;
const CODE_SET_BINARY = 0x1;
const CODE_SET_ASCII = 0x2;
const CODE_SET_UTF8 = 0x3;
const ASSOC_LU = 0x00;
const ASSOC_TARGET_PORT = 0x10;
const ASSOC_TARGET_DEVICE = 0x20;
const PIV = 0x80;
const DESIG_T10_VENDOR = 0x1;
const DESIG_NAA = 0x3;
const DESIG_RELATIVE_PORT = 0x4;
const DESIG_SCSI_NAME = 0x8;

/** Space-padded ASCII of exactly `length` bytes; anything outside printable ASCII becomes a space. */
function ascii(text: string, length: number): Buffer {
  const clean = text.replace(/[^\x20-\x7e]/g, ' ').slice(0, length).padEnd(length, ' ');
  return Buffer.from(clean, 'latin1');
}

export function standardInquiry(lu: LogicalUnit | undefined): Buffer {
  const out = Buffer.alloc(STANDARD_INQUIRY_LENGTH);
  out[0] = lu ? PeripheralDeviceType.DIRECT_ACCESS : NO_LOGICAL_UNIT;
  out[2] = VERSION_SPC_4;
  out[3] = HISUP | RESPONSE_DATA_FORMAT;
  out[4] = STANDARD_INQUIRY_LENGTH - 5;
  out[5] = THIRD_PARTY_COPY;
  out[7] = CMDQUE;
  ascii(lu?.config.vendor ?? 'BERTH', 8).copy(out, 8);
  ascii(lu?.config.product ?? 'VOLUME', 16).copy(out, 16);
  ascii(lu?.config.revision ?? '0001', 4).copy(out, 32);
  const versions = [VersionDescriptor.SAM_5, VersionDescriptor.ISCSI, VersionDescriptor.SPC_4, VersionDescriptor.SBC_3];
  versions.forEach((v, i) => out.writeUInt16BE(v, 58 + 2 * i));
  return out;
}

function page(code: number, body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out[1] = code;
  out.writeUInt16BE(body.length, 2);
  body.copy(out, 4);
  return out;
}

function designator(codeSet: number, assocType: number, value: Buffer, protocolId = 0): Buffer {
  const d = Buffer.alloc(4 + value.length);
  d[0] = (protocolId << 4) | codeSet;
  d[1] = assocType;
  d[3] = value.length;
  value.copy(d, 4);
  return d;
}

/** A SCSI name string: UTF-8, null-terminated, padded to a multiple of 4 bytes. */
function scsiName(name: string): Buffer {
  const raw = Buffer.from(name, 'utf8');
  const out = Buffer.alloc((raw.length + 4) & ~3);
  raw.copy(out);
  return out;
}

/** Device Identification: NAA for the LU (EXTENDED COPY matches on it), T10 vendor id, port designators. */
export function deviceIdentification(lu: LogicalUnit, nexus: ITNexus): Buffer {
  const vendor = Buffer.concat([ascii(lu.config.vendor ?? 'BERTH', 8), Buffer.from(lu.config.serial, 'latin1')]);
  const relPort = Buffer.alloc(4);
  relPort.writeUInt16BE(nexus.relativeTargetPortId & 0xffff, 2);
  const portName = `${nexus.targetName},t,0x${nexus.tpgt.toString(16).padStart(4, '0')}`;
  return Buffer.concat([
    designator(CODE_SET_BINARY, ASSOC_LU | DESIG_NAA, lu.naa),
    designator(CODE_SET_ASCII, ASSOC_LU | DESIG_T10_VENDOR, vendor),
    designator(CODE_SET_BINARY, PIV | ASSOC_TARGET_PORT | DESIG_RELATIVE_PORT, relPort, PROTOCOL_ISCSI),
    designator(CODE_SET_UTF8, PIV | ASSOC_TARGET_PORT | DESIG_SCSI_NAME, scsiName(portName), PROTOCOL_ISCSI),
    designator(CODE_SET_UTF8, PIV | ASSOC_TARGET_DEVICE | DESIG_SCSI_NAME, scsiName(nexus.targetName), PROTOCOL_ISCSI),
  ]);
}

export function blockLimits(lu: LogicalUnit): Buffer {
  const l = lu.limits;
  const b = Buffer.alloc(0x3c);
  const physical = 1 << l.lbppbExponent;
  b[1] = l.maxCompareAndWrite;
  b.writeUInt16BE(physical, 2);
  b.writeUInt32BE(l.maxTransfer, 4);
  b.writeUInt32BE(l.maxTransfer, 8);
  b.writeUInt32BE(l.maxTransfer, 12);
  if (lu.thin) {
    b.writeUInt32BE(l.maxUnmapLbaCount, 16);
    b.writeUInt32BE(l.maxUnmapDescriptors, 20);
    b.writeUInt32BE(physical, 24);
  }
  b.writeBigUInt64BE(BigInt(l.maxWriteSame), 32);
  b.writeUInt32BE(l.maxAtomicTransfer, 40);
  return page(VPD_BLOCK_LIMITS, b);
}

/**
 * Block Device Characteristics: non-rotating medium. On thin LUs, the only ones that
 * implement BLOCK ERASE and CRYPTO ERASE, WABEREQ and WACEREQ are 01b: a read after
 * the erase succeeds and returns zeros. 00b elsewhere says the erase is not there.
 */
function blockDeviceCharacteristics(lu: LogicalUnit): Buffer {
  const b = Buffer.alloc(0x3c);
  b.writeUInt16BE(0x0001, 0);
  b[3] = lu.thin ? 0x50 : 0;
  return page(VPD_BLOCK_DEVICE_CHARACTERISTICS, b);
}

const LBPU = 0x80;
const LBPWS = 0x40;
const LBPWS10 = 0x20;
const LBPRZ = 0x04;
const PROVISIONING_THIN = 0x02;

function logicalBlockProvisioning(lu: LogicalUnit): Buffer {
  const b = Buffer.alloc(4);
  if (lu.thin) {
    b[1] = LBPU | LBPWS | LBPWS10 | LBPRZ;
    b[2] = PROVISIONING_THIN;
  }
  return page(VPD_LOGICAL_BLOCK_PROVISIONING, b);
}

function vpdPage(code: number, lu: LogicalUnit, nexus: ITNexus): Buffer {
  switch (code) {
    case VPD_SUPPORTED_PAGES: return page(code, Buffer.from(SUPPORTED_PAGES));
    case VPD_UNIT_SERIAL: return page(code, Buffer.from(lu.config.serial.replace(/[^\x20-\x7e]/g, ' '), 'latin1'));
    case VPD_DEVICE_IDENTIFICATION: return page(code, deviceIdentification(lu, nexus));
    case VPD_BLOCK_LIMITS: return blockLimits(lu);
    case VPD_BLOCK_DEVICE_CHARACTERISTICS: return blockDeviceCharacteristics(lu);
    case VPD_LOGICAL_BLOCK_PROVISIONING: return logicalBlockProvisioning(lu);
    default: throw invalidFieldInCdb(2);
  }
}

/**
 * INQUIRY answers for any LUN: to a LUN with no logical unit the standard data says
 * so with peripheral qualifier 011b, and VPD pages are refused.
 */
function inquiry(task: ScsiTask, lu: LogicalUnit | undefined): ScsiResponse {
  const cdb = task.cdb;
  const evpd = (cdb[1] & 0x01) !== 0;
  if (cdb[1] & 0xfe) throw invalidFieldInCdb(1, 31 - Math.clz32(cdb[1] & 0xfe));
  const allocation = cdb.readUInt16BE(3);
  if (!evpd) {
    if (cdb[2] !== 0) throw invalidFieldInCdb(2);
    return good(cutTo(standardInquiry(lu), allocation));
  }
  if (!lu) throw invalidFieldInCdb(1, 0);
  const data = vpdPage(cdb[2], lu, task.nexus);
  return good(cutTo(data, allocation));
}

export const inquiryCommands: CommandSpec[] = [
  {
    opcode: Opcode.INQUIRY, name: 'INQUIRY', reservation: 'allowed', reportsUnitAttention: false, allowedDuringSanitize: true,
    anyLun: true, handler: inquiry, usage: [0x12, 0x01, 0xff, 0xff, 0xff, 0x00],
  },
];
