import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { HostIdentity } from './pool_owner_record.ts';

/**
 * Who this process is, in the terms the owner record and the data-dir lock use, and
 * whether another process named the same way still runs. Linux /proc only.
 */
export interface ProcessIdentity extends HostIdentity {
  pid: number;
  /** Start time of this process in clock ticks after boot. */
  pidStart: number;
}

let self: ProcessIdentity | undefined;

export function processIdentity(): ProcessIdentity {
  self ??= {
    host: os.hostname(), bootId: readBootId(), pidNs: readPidNs(), pid: process.pid, pidStart: processStartTicks(process.pid) ?? 0,
  };
  return self;
}

function readBootId(): string {
  try {
    const id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return id;
  } catch {
    // Not Linux, or /proc is hidden: a random id makes every other process "unknown".
  }
  return randomUUID();
}

function readPidNs(): number {
  try {
    const m = /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'));
    if (m) return Number(m[1]);
  } catch {
    // As above: without it no pid can be judged, which is the safe direction.
  }
  return 0;
}

/**
 * Field 22 of /proc/PID/stat, or undefined when there is no such process or it is a
 * zombie (killed and not yet reaped: it holds nothing any more).
 */
export function processStartTicks(pid: number): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const start = Number(rest[19]);
  return Number.isFinite(start) ? start : undefined;
}

/** Whether `pid` still runs and is the same process that recorded `pidStart`. */
export function isProcessAlive(pid: number, pidStart: number): boolean {
  const start = processStartTicks(pid);
  return start !== undefined && start === pidStart;
}
