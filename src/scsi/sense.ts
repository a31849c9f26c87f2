import { BerthError } from '../util/errors.ts';
import { Asc, SenseKey } from './constants.ts';

/** Fixed-format sense data is 18 bytes: 8 of header and ADDITIONAL SENSE LENGTH 10. */
export const FIXED_SENSE_LENGTH = 18;
const RESPONSE_CODE_CURRENT_FIXED = 0x70;
const VALID = 0x80;
const SKSV = 0x80;
const SKS_CD = 0x40;
const SKS_BPV = 0x08;

export interface SenseDetails {
  /** INFORMATION field (VALID bit set when present), e.g. the miscompare offset. */
  information?: number;
  /** Sense-key specific field pointer for ILLEGAL REQUEST: which byte was wrong. */
  fieldPointer?: { byte: number; bit?: number; inCdb: boolean };
  /** Sense-key specific progress indication for NOT READY: fraction done, 0..65535. */
  progress?: number;
}

/** Builds fixed-format sense data (SPC-4 4.5.3). */
export function buildSense(key: number, ascq: number, details?: SenseDetails): Buffer {
  const sense = Buffer.alloc(FIXED_SENSE_LENGTH);
  sense[0] = RESPONSE_CODE_CURRENT_FIXED;
  sense[2] = key & 0x0f;
  sense[7] = FIXED_SENSE_LENGTH - 8;
  sense[12] = ascq >> 8;
  sense[13] = ascq & 0xff;
  if (details?.information !== undefined) {
    sense[0] |= VALID;
    sense.writeUInt32BE(details.information >>> 0, 3);
  }
  if (details?.fieldPointer) {
    const fp = details.fieldPointer;
    sense[15] = SKSV | (fp.inCdb ? SKS_CD : 0) | (fp.bit !== undefined ? SKS_BPV | (fp.bit & 7) : 0);
    sense.writeUInt16BE(fp.byte, 16);
  } else if (details?.progress !== undefined) {
    sense[15] = SKSV;
    sense.writeUInt16BE(details.progress & 0xffff, 16);
  }
  return sense;
}

/** Reads back key and ASC/ASCQ, for tests and logs. */
export function parseSense(sense: Buffer): { key: number; asc: number; information?: number; fieldPointer?: number } {
  const out: { key: number; asc: number; information?: number; fieldPointer?: number } = {
    key: sense[2] & 0x0f, asc: (sense[12] << 8) | sense[13],
  };
  if (sense[0] & VALID) out.information = sense.readUInt32BE(3);
  if (sense[15] & SKSV) out.fieldPointer = sense.readUInt16BE(16);
  return out;
}

/** A command ends in CHECK CONDITION with this sense; thrown by handlers, answered by the target. */
export class CheckConditionError extends BerthError {
  readonly key: number;
  readonly ascq: number;
  readonly details?: SenseDetails;
  constructor(key: number, ascq: number, details?: SenseDetails) {
    super('SCSI_CHECK_CONDITION', `check condition ${key.toString(16)}/${ascq.toString(16).padStart(4, '0')}`);
    this.key = key;
    this.ascq = ascq;
    this.details = details;
  }
  toSense(): Buffer { return buildSense(this.key, this.ascq, this.details); }
}

/** The command conflicts with a reservation held through another I_T nexus. */
export class ReservationConflictError extends BerthError {
  constructor() { super('SCSI_RESERVATION_CONFLICT', 'reservation conflict'); }
}

export function invalidFieldInCdb(byte: number, bit?: number): CheckConditionError {
  return new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB, { fieldPointer: { byte, bit, inCdb: true } });
}

export function invalidFieldInParameterList(byte: number, bit?: number): CheckConditionError {
  return new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_PARAMETER_LIST, { fieldPointer: { byte, bit, inCdb: false } });
}

export function parameterListLengthError(): CheckConditionError {
  return new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.PARAMETER_LIST_LENGTH_ERROR);
}

export function lbaOutOfRange(): CheckConditionError {
  return new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE);
}

export function invalidOpcode(): CheckConditionError {
  return new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_COMMAND_OPERATION_CODE, { fieldPointer: { byte: 0, inCdb: true } });
}

export function miscompare(offset: number): CheckConditionError {
  return new CheckConditionError(SenseKey.MISCOMPARE, Asc.MISCOMPARE_DURING_VERIFY, { information: offset });
}

export function writeProtected(asc: number = Asc.WRITE_PROTECTED): CheckConditionError {
  return new CheckConditionError(SenseKey.DATA_PROTECT, asc);
}
