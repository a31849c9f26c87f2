import { BerthError } from '../util/errors.ts';

/**
 * Errors of the iSCSI transport. Codes are stable strings; the wire reason (Reject
 * reason, login status) is chosen where the PDU is answered, not here.
 */

/** A PDU or stream the peer sent breaks RFC 7143 framing; the connection cannot continue. */
export class PduFramingError extends BerthError {
  constructor(code: 'PDU_TOO_LONG' | 'AHS_TOO_LONG' | 'HEADER_DIGEST' | 'TRUNCATED_PDU', message: string) {
    super(code, message);
  }
}

/** A header field has a value RFC 7143 does not allow. */
export class PduFieldError extends BerthError {
  constructor(message: string) {
    super('INVALID_PDU_FIELD', message);
  }
}

/** Text key=value data breaks RFC 7143 §6 rules or our limits. */
export class TextFormatError extends BerthError {
  constructor(code: 'TEXT_TOO_LONG' | 'TEXT_MALFORMED' | 'KEY_TOO_LONG' | 'VALUE_TOO_LONG' | 'DUPLICATE_KEY', message: string) {
    super(code, message);
  }
}

/** A login must end with this status (class << 8 | detail). */
export class LoginFailure extends BerthError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** Configuration errors of the server's public API. */
export class TargetExistsError extends BerthError {
  constructor(iqn: string) {
    super('TARGET_EXISTS', `target ${iqn} already exists`);
  }
}

export class TargetNotFoundError extends BerthError {
  constructor(iqn: string) {
    super('TARGET_NOT_FOUND', `target ${iqn} not found`);
  }
}
