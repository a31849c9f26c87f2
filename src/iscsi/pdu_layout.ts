import { InitiatorOpcode as I, TargetOpcode as T } from './constants.ts';

/**
 * Field layouts of every BHS (RFC 7143 §11), as data: one table drives a generic
 * encoder and decoder, so every PDU type round-trips by construction, and the
 * hand-written hot-path codecs in pdu.ts are tested against it.
 *
 * kinds: u8/u16/u24/u32 big-endian at `offset`; `flag`/`bits` are masks within the
 * byte at `offset`; `lun` is the 8-byte SAM LUN; `isid` is 6 bytes shown as 12 hex
 * digits; `cdb` is 16 bytes.
 */
export type FieldKind = 'u8' | 'u16' | 'u24' | 'u32' | 'flag' | 'bits' | 'lun' | 'isid' | 'cdb';
export interface FieldSpec {
  readonly name: string;
  readonly offset: number;
  readonly kind: FieldKind;
  readonly mask?: number;
}
export interface PduLayout {
  readonly name: string;
  /** Bits of byte 1 that RFC 7143 requires set (e.g. the F bit of responses). */
  readonly fixedFlags: number;
  readonly fields: readonly FieldSpec[];
}

const f = (name: string, offset: number, kind: FieldKind, mask?: number): FieldSpec => ({ name, offset, kind, mask });

const COMMON: FieldSpec[] = [f('immediate', 0, 'flag', 0x40), f('totalAhsLength', 4, 'u8'), f('dataSegmentLength', 5, 'u24')];
const SN_TRIPLE: FieldSpec[] = [f('statSN', 24, 'u32'), f('expCmdSN', 28, 'u32'), f('maxCmdSN', 32, 'u32')];

function layout(name: string, fixedFlags: number, fields: FieldSpec[]): PduLayout {
  return { name, fixedFlags, fields: [...COMMON, ...fields] };
}

export const PDU_LAYOUTS: ReadonlyMap<number, PduLayout> = new Map<number, PduLayout>([
  [I.NOP_OUT, layout('NopOut', 0x80, [f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('ttt', 20, 'u32'), f('cmdSN', 24, 'u32'), f('expStatSN', 28, 'u32')])],
  [I.SCSI_COMMAND, layout('ScsiCommand', 0, [
    f('final', 1, 'flag', 0x80), f('read', 1, 'flag', 0x40), f('write', 1, 'flag', 0x20), f('attribute', 1, 'bits', 0x07),
    f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('expectedDataTransferLength', 20, 'u32'),
    f('cmdSN', 24, 'u32'), f('expStatSN', 28, 'u32'), f('cdb', 32, 'cdb'),
  ])],
  [I.SCSI_TASK_MGMT_REQUEST, layout('TaskMgmtRequest', 0x80, [
    f('function', 1, 'bits', 0x7f), f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('referencedTaskTag', 20, 'u32'),
    f('cmdSN', 24, 'u32'), f('expStatSN', 28, 'u32'), f('refCmdSN', 32, 'u32'), f('expDataSN', 36, 'u32'),
  ])],
  [I.LOGIN_REQUEST, layout('LoginRequest', 0, [
    f('transit', 1, 'flag', 0x80), f('continue', 1, 'flag', 0x40), f('csg', 1, 'bits', 0x0c), f('nsg', 1, 'bits', 0x03),
    f('versionMax', 2, 'u8'), f('versionMin', 3, 'u8'), f('isid', 8, 'isid'), f('tsih', 14, 'u16'),
    f('itt', 16, 'u32'), f('cid', 20, 'u16'), f('cmdSN', 24, 'u32'), f('expStatSN', 28, 'u32'),
  ])],
  [I.TEXT_REQUEST, layout('TextRequest', 0, [
    f('final', 1, 'flag', 0x80), f('continue', 1, 'flag', 0x40), f('lun', 8, 'lun'), f('itt', 16, 'u32'),
    f('ttt', 20, 'u32'), f('cmdSN', 24, 'u32'), f('expStatSN', 28, 'u32'),
  ])],
  [I.SCSI_DATA_OUT, layout('DataOut', 0, [
    f('final', 1, 'flag', 0x80), f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('ttt', 20, 'u32'),
    f('expStatSN', 28, 'u32'), f('dataSN', 36, 'u32'), f('bufferOffset', 40, 'u32'),
  ])],
  [I.LOGOUT_REQUEST, layout('LogoutRequest', 0x80, [
    f('reasonCode', 1, 'bits', 0x7f), f('itt', 16, 'u32'), f('cid', 20, 'u16'), f('cmdSN', 24, 'u32'), f('expStatSN', 28, 'u32'),
  ])],
  [I.SNACK_REQUEST, layout('SnackRequest', 0x80, [
    f('type', 1, 'bits', 0x0f), f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('ttt', 20, 'u32'),
    f('expStatSN', 28, 'u32'), f('begRun', 40, 'u32'), f('runLength', 44, 'u32'),
  ])],
  [T.NOP_IN, layout('NopIn', 0x80, [f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('ttt', 20, 'u32'), ...SN_TRIPLE])],
  [T.SCSI_RESPONSE, layout('ScsiResponse', 0x80, [
    f('overflow', 1, 'flag', 0x04), f('underflow', 1, 'flag', 0x02), f('response', 2, 'u8'), f('status', 3, 'u8'),
    f('itt', 16, 'u32'), ...SN_TRIPLE, f('expDataSN', 36, 'u32'), f('residualCount', 44, 'u32'),
  ])],
  [T.SCSI_TASK_MGMT_RESPONSE, layout('TaskMgmtResponse', 0x80, [f('response', 2, 'u8'), f('itt', 16, 'u32'), ...SN_TRIPLE])],
  [T.LOGIN_RESPONSE, layout('LoginResponse', 0, [
    f('transit', 1, 'flag', 0x80), f('continue', 1, 'flag', 0x40), f('csg', 1, 'bits', 0x0c), f('nsg', 1, 'bits', 0x03),
    f('versionMax', 2, 'u8'), f('versionActive', 3, 'u8'), f('isid', 8, 'isid'), f('tsih', 14, 'u16'),
    f('itt', 16, 'u32'), ...SN_TRIPLE, f('statusClass', 36, 'u8'), f('statusDetail', 37, 'u8'),
  ])],
  [T.TEXT_RESPONSE, layout('TextResponse', 0, [
    f('final', 1, 'flag', 0x80), f('continue', 1, 'flag', 0x40), f('lun', 8, 'lun'), f('itt', 16, 'u32'),
    f('ttt', 20, 'u32'), ...SN_TRIPLE,
  ])],
  [T.SCSI_DATA_IN, layout('DataIn', 0, [
    f('final', 1, 'flag', 0x80), f('acknowledge', 1, 'flag', 0x40), f('overflow', 1, 'flag', 0x04),
    f('underflow', 1, 'flag', 0x02), f('statusPresent', 1, 'flag', 0x01), f('status', 3, 'u8'),
    f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('ttt', 20, 'u32'), ...SN_TRIPLE,
    f('dataSN', 36, 'u32'), f('bufferOffset', 40, 'u32'), f('residualCount', 44, 'u32'),
  ])],
  [T.LOGOUT_RESPONSE, layout('LogoutResponse', 0x80, [
    f('response', 2, 'u8'), f('itt', 16, 'u32'), ...SN_TRIPLE, f('time2Wait', 40, 'u16'), f('time2Retain', 42, 'u16'),
  ])],
  [T.R2T, layout('R2T', 0x80, [
    f('lun', 8, 'lun'), f('itt', 16, 'u32'), f('ttt', 20, 'u32'), ...SN_TRIPLE,
    f('r2tSN', 36, 'u32'), f('bufferOffset', 40, 'u32'), f('desiredDataTransferLength', 44, 'u32'),
  ])],
  [T.ASYNC_MESSAGE, layout('AsyncMessage', 0x80, [
    f('lun', 8, 'lun'), f('itt', 16, 'u32'), ...SN_TRIPLE, f('asyncEvent', 36, 'u8'), f('asyncVCode', 37, 'u8'),
    f('parameter1', 38, 'u16'), f('parameter2', 40, 'u16'), f('parameter3', 42, 'u16'),
  ])],
  [T.REJECT, layout('Reject', 0x80, [f('reason', 2, 'u8'), f('itt', 16, 'u32'), ...SN_TRIPLE, f('dataSN', 36, 'u32')])],
]);
