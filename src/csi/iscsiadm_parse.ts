/**
 * Pure readers of open-iscsi's iscsiadm output and the udev names it leads to. Kept
 * apart so they are tested with recorded outputs on machines without an initiator.
 */
import type { TargetAddress } from './attacher.ts';

/** iscsiadm exit codes (open-iscsi's iscsi_err.h) that mean "already so". */
export const ISCSI_ERR_SESS_EXISTS = 15;
export const ISCSI_ERR_NO_OBJS_FOUND = 21;
/** The target refused the login: CHAP failed, or the initiator is not admitted. */
export const ISCSI_ERR_LOGIN_AUTH_FAILED = 24;

export interface DiscoveredTarget {
  portal: string;
  tpgt: number;
  iqn: string;
}

/** `127.0.0.1:3260,1 iqn.2025-01.io.berth:vol-1` lines from `-m discovery -t sendtargets`. */
export function parseDiscovery(stdout: string): DiscoveredTarget[] {
  const out: DiscoveredTarget[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\S+):(\d+),(\d+)\s+(\S+)\s*$/.exec(line);
    if (m) out.push({ portal: `${m[1]}:${m[2]}`, tpgt: Number(m[3]), iqn: m[4] });
  }
  return out;
}

export interface SessionLine {
  id: number;
  portal: string;
  iqn: string;
}

/** `tcp: [3] 127.0.0.1:3260,1 iqn... (non-flash)` lines from `-m session`. */
export function parseSessions(stdout: string): SessionLine[] {
  const out: SessionLine[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*\w+:\s+\[(\d+)\]\s+(\S+):(\d+),\d+\s+(\S+)/.exec(line);
    if (m) out.push({ id: Number(m[1]), portal: `${m[2]}:${m[3]}`, iqn: m[4] });
  }
  return out;
}

/** The udev by-path link for a LUN: ip-<portal>-iscsi-<iqn>-lun-<n>. */
export function byPathLink(t: TargetAddress): string {
  return `/dev/disk/by-path/ip-${t.portal}-iscsi-${t.iqn}-lun-${t.lun}`;
}

/** iscsiadm settings for CHAP, as (name, value) pairs for `-o update -n NAME -v VALUE`. */
export function chapSettings(chap: { username: string; password: string; mutualUsername?: string; mutualPassword?: string }): [string, string][] {
  const pairs: [string, string][] = [
    ['node.session.auth.authmethod', 'CHAP'],
    ['node.session.auth.username', chap.username],
    ['node.session.auth.password', chap.password],
  ];
  if (chap.mutualUsername && chap.mutualPassword) {
    pairs.push(['node.session.auth.username_in', chap.mutualUsername], ['node.session.auth.password_in', chap.mutualPassword]);
  }
  return pairs;
}
