/**
 * Wire constants of RFC 7143 (iSCSI), each under the name the RFC gives it.
 * Opcodes are the low six bits of BHS byte 0.
 */

export const BHS_LENGTH = 48;
export const DIGEST_LENGTH = 4;
/** The Initiator Task Tag / Target Transfer Tag value meaning "none" (RFC 7143 §11.18, §11.19). */
export const RESERVED_TAG = 0xffffffff;

/** Initiator opcodes (RFC 7143 §11.2.1.2). */
export const InitiatorOpcode = {
  NOP_OUT: 0x00,
  SCSI_COMMAND: 0x01,
  SCSI_TASK_MGMT_REQUEST: 0x02,
  LOGIN_REQUEST: 0x03,
  TEXT_REQUEST: 0x04,
  SCSI_DATA_OUT: 0x05,
  LOGOUT_REQUEST: 0x06,
  SNACK_REQUEST: 0x10,
} as const;

/** Target opcodes (RFC 7143 §11.2.1.2). */
export const TargetOpcode = {
  NOP_IN: 0x20,
  SCSI_RESPONSE: 0x21,
  SCSI_TASK_MGMT_RESPONSE: 0x22,
  LOGIN_RESPONSE: 0x23,
  TEXT_RESPONSE: 0x24,
  SCSI_DATA_IN: 0x25,
  LOGOUT_RESPONSE: 0x26,
  R2T: 0x31,
  ASYNC_MESSAGE: 0x32,
  REJECT: 0x3f,
} as const;

/** BHS byte 0: immediate delivery bit (RFC 7143 §11.2.1.1). */
export const IMMEDIATE_BIT = 0x40;
/** Byte 1 flags shared by several PDUs. */
export const FINAL_BIT = 0x80;
export const CONTINUE_BIT = 0x40;

/** SCSI Command flags, byte 1 (RFC 7143 §11.3.1). */
export const ScsiCommandFlag = { FINAL: 0x80, READ: 0x40, WRITE: 0x20, ATTR_MASK: 0x07 } as const;
/** SCSI Response flags, byte 1 (RFC 7143 §11.4). */
export const ScsiResponseFlag = {
  BIDI_OVERFLOW: 0x10,
  BIDI_UNDERFLOW: 0x08,
  OVERFLOW: 0x04,
  UNDERFLOW: 0x02,
} as const;
/** SCSI Response "Response" byte (RFC 7143 §11.4.3). */
export const ScsiServiceResponse = { COMMAND_COMPLETED: 0x00, TARGET_FAILURE: 0x01 } as const;
/** Data-In flags, byte 1 (RFC 7143 §11.7). */
export const DataInFlag = { FINAL: 0x80, ACKNOWLEDGE: 0x40, OVERFLOW: 0x04, UNDERFLOW: 0x02, STATUS: 0x01 } as const;

/** Task management function codes (RFC 7143 §11.5.1). */
export const TaskMgmtFunction = {
  ABORT_TASK: 1,
  ABORT_TASK_SET: 2,
  CLEAR_ACA: 3,
  CLEAR_TASK_SET: 4,
  LOGICAL_UNIT_RESET: 5,
  TARGET_WARM_RESET: 6,
  TARGET_COLD_RESET: 7,
  TASK_REASSIGN: 8,
} as const;

/** Task management response codes (RFC 7143 §11.6.1). */
export const TaskMgmtResponse = {
  FUNCTION_COMPLETE: 0,
  TASK_DOES_NOT_EXIST: 1,
  LUN_DOES_NOT_EXIST: 2,
  TASK_STILL_ALLEGIANT: 3,
  TASK_ALLEGIANCE_REASSIGNMENT_NOT_SUPPORTED: 4,
  TASK_MANAGEMENT_FUNCTION_NOT_SUPPORTED: 5,
  FUNCTION_AUTHORIZATION_FAILED: 6,
  FUNCTION_REJECTED: 255,
} as const;

/** Reject reasons (RFC 7143 §11.17.1). */
export const RejectReason = {
  DATA_DIGEST_ERROR: 0x02,
  SNACK_REJECT: 0x03,
  PROTOCOL_ERROR: 0x04,
  COMMAND_NOT_SUPPORTED: 0x05,
  IMMEDIATE_COMMAND_REJECTED: 0x06,
  TASK_IN_PROGRESS: 0x07,
  INVALID_DATA_ACK: 0x08,
  INVALID_PDU_FIELD: 0x09,
  LONG_OPERATION_REJECT: 0x0a,
  NEGOTIATION_RESET: 0x0b,
  WAITING_FOR_LOGOUT: 0x0c,
} as const;

/** Login stages: CSG/NSG values (RFC 7143 §11.12.3). */
export const LoginStage = {
  SECURITY_NEGOTIATION: 0,
  LOGIN_OPERATIONAL_NEGOTIATION: 1,
  FULL_FEATURE_PHASE: 3,
} as const;

/** Login request/response flags, byte 1 (RFC 7143 §11.12). */
export const LoginFlag = { TRANSIT: 0x80, CONTINUE: 0x40 } as const;

/** Login status class and detail, as (class << 8) | detail (RFC 7143 §11.13.5). */
export const LoginStatus = {
  SUCCESS: 0x0000,
  TARGET_MOVED_TEMPORARILY: 0x0101,
  TARGET_MOVED_PERMANENTLY: 0x0102,
  INITIATOR_ERROR: 0x0200,
  AUTHENTICATION_FAILURE: 0x0201,
  AUTHORIZATION_FAILURE: 0x0202,
  NOT_FOUND: 0x0203,
  TARGET_REMOVED: 0x0204,
  UNSUPPORTED_VERSION: 0x0205,
  TOO_MANY_CONNECTIONS: 0x0206,
  MISSING_PARAMETER: 0x0207,
  CANT_INCLUDE_IN_SESSION: 0x0208,
  SESSION_TYPE_NOT_SUPPORTED: 0x0209,
  SESSION_DOES_NOT_EXIST: 0x020a,
  INVALID_DURING_LOGIN: 0x020b,
  TARGET_ERROR: 0x0300,
  SERVICE_UNAVAILABLE: 0x0301,
  OUT_OF_RESOURCES: 0x0302,
} as const;

/** Logout reason codes (RFC 7143 §11.14.1). */
export const LogoutReason = {
  CLOSE_SESSION: 0,
  CLOSE_CONNECTION: 1,
  REMOVE_CONNECTION_FOR_RECOVERY: 2,
} as const;

/** Logout response codes (RFC 7143 §11.15.1). */
export const LogoutResponse = {
  CLOSED_SUCCESSFULLY: 0,
  CID_NOT_FOUND: 1,
  CONNECTION_RECOVERY_NOT_SUPPORTED: 2,
  CLEANUP_FAILED: 3,
} as const;

/** Asynchronous events (RFC 7143 §11.9.1). */
export const AsyncEvent = {
  SCSI_ASYNC_EVENT: 0,
  LOGOUT_REQUESTED: 1,
  CONNECTION_DROP: 2,
  SESSION_DROP: 3,
  NEGOTIATION_REQUEST: 4,
  TASK_TERMINATION: 5,
} as const;

/** Only version 0x00 exists (RFC 7143 §11.12.4). */
export const ISCSI_VERSION = 0x00;
