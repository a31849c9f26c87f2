/**
 * Per-connection log lines, held to a budget: a port scan or a flood of short
 * connections must not fill a disk with one line each (25,000 logins once wrote 13.9 MB).
 * In each window the first `perWindow` lines of a kind are logged in full; the rest are
 * counted per remote host and reported once per window as one summary line per host.
 * Pure: the caller passes the time and logs what it is told.
 */

/** The kinds of per-connection events that are logged. */
export const ConnectionEvent = {
  LOGIN: 'login',
  LOGIN_FAILED: 'login-failed',
  DROPPED: 'dropped',
} as const;
export type ConnectionEventName = (typeof ConnectionEvent)[keyof typeof ConnectionEvent];

export const CONNECTION_LOG_WINDOW_MS = 10_000;
export const CONNECTION_LOG_PER_WINDOW = 20;

export interface HeldBack {
  kind: ConnectionEventName;
  /** Remote address without the port. */
  host: string;
  count: number;
  windowMs: number;
}

export class ConnectionLogGate {
  readonly windowMs: number;
  readonly perWindow: number;
  #windowStart: number | undefined;
  readonly #logged = new Map<ConnectionEventName, number>();
  /** `kind host` → lines held back in the current window. */
  #held = new Map<string, HeldBack>();
  #ended: HeldBack[] = [];

  constructor(opts: { windowMs?: number; perWindow?: number } = {}) {
    this.windowMs = opts.windowMs ?? CONNECTION_LOG_WINDOW_MS;
    this.perWindow = opts.perWindow ?? CONNECTION_LOG_PER_WINDOW;
  }

  /** True: log this event's line in full. False: it is counted for the window's summary. */
  admit(kind: ConnectionEventName, host: string, nowMs: number): boolean {
    this.#roll(nowMs);
    const n = this.#logged.get(kind) ?? 0;
    if (n < this.perWindow) {
      this.#logged.set(kind, n + 1);
      return true;
    }
    const key = `${kind} ${host}`;
    const h = this.#held.get(key);
    if (h === undefined) this.#held.set(key, { kind, host, count: 1, windowMs: this.windowMs });
    else h.count++;
    return false;
  }

  /** What was held back in windows that have ended by `nowMs`, largest first; each is reported once. */
  drain(nowMs: number): HeldBack[] {
    this.#roll(nowMs);
    const out = this.#ended.sort((a, b) => b.count - a.count);
    this.#ended = [];
    return out;
  }

  #roll(nowMs: number): void {
    if (this.#windowStart !== undefined && nowMs - this.#windowStart < this.windowMs) return;
    this.#ended.push(...this.#held.values());
    this.#held = new Map();
    this.#logged.clear();
    this.#windowStart = nowMs;
  }
}

/** The remote host of `address:port` or `[v6]:port` (a host, not a connection, is what a summary names). */
export function remoteHost(remoteAddress: string): string {
  const m = /^(?:\[(.*)\]|(.*)):\d+$/.exec(remoteAddress);
  return m === null ? remoteAddress : (m[1] ?? m[2]).replace(/^::ffff:/, '');
}

const WHAT: Record<ConnectionEventName, string> = {
  [ConnectionEvent.LOGIN]: 'logins',
  [ConnectionEvent.LOGIN_FAILED]: 'failed logins',
  [ConnectionEvent.DROPPED]: 'dropped connections',
};

/** The summary line for one host, e.g. "2480 more logins from 10.0.0.7 in the last 10 s (not logged one by one)". */
export function heldBackMessage(h: HeldBack): string {
  return `${h.count} more iSCSI ${WHAT[h.kind]} from ${h.host} in the last ${Math.round(h.windowMs / 1000)} s (not logged one by one)`;
}
