import { createHash } from 'node:crypto';

/**
 * Identity of an exported volume as SCSI initiators see it (VPD 0x83 and 0x80).
 * Both values derive from the volume's uuid alone so that they survive restarts,
 * re-exports under another target and moves between LUN numbers: multipath and
 * udev's by-id links key on them.
 */

/** NAA 6 "IEEE Registered" (SPC-4 7.8.6.6.4): 4-bit NAA, 24-bit company id, 36 bits vendor specific. */
const NAA_IEEE_REGISTERED = '6';
/**
 * A locally chosen company id. Its first octet 0xBE ends in binary 10, the pattern of
 * an IEEE CID (X bit set, M bit clear), which cannot collide with an assigned OUI.
 */
const BERTH_COMPANY_ID = 'be2745';
const VENDOR_SPECIFIC_HEX_DIGITS = 9;

export function naaIdForVolume(uuid: string): string {
  const digest = createHash('sha256').update(uuid.toLowerCase()).digest('hex');
  return NAA_IEEE_REGISTERED + BERTH_COMPANY_ID + digest.slice(0, VENDOR_SPECIFIC_HEX_DIGITS);
}

/** Unit serial number: the uuid's 32 hex digits, printable ASCII as VPD 0x80 requires. */
export function serialForVolume(uuid: string): string {
  return uuid.toLowerCase().replace(/[^0-9a-f]/g, '');
}

/** The target name an export gets when the caller names none: lower case, as IQNs compare. */
export function defaultTargetIqn(pool: string, volume: string): string {
  return `iqn.2026-11.io.berth:${pool}.${volume}`.toLowerCase();
}
