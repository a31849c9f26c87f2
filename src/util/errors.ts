/**
 * Every error Berth raises on purpose carries a stable string code. Codes are what
 * tests, the API and the CLI match on; messages are for people and may change.
 * Wire codes (HTTP status, SCSI sense, iSCSI reject reasons) are chosen only at the
 * boundary that speaks that wire.
 */
export class BerthError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export function errorCode(err: unknown): string | undefined {
  return err instanceof BerthError ? err.code : undefined;
}
