/**
 * CPU time and resident memory of a process, from /proc. /proc/PID/stat counts every
 * thread of the process, so tgtd's I/O threads and Node's libuv pool are included.
 */
import { readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every Linux ABI we run on. */
const USER_HZ = 100;

/** utime + stime in seconds. */
export function cpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count from its end.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name, fields start at 3 (state); utime is field 14, stime 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return (utime + stime) / USER_HZ;
}

/**
 * A process and its children: an engine started with --local-attach-dir is a FUSE keeper
 * whose child, the worker, does the work (src/engine/fuse_keeper.ts). Read once, when
 * the process is up.
 */
export function withChildren(pid: number): number[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    // Gone, or a kernel without the file: the process alone.
  }
  return [pid, ...text.trim().split(/\s+/).filter((t) => t.length > 0).map(Number)];
}

/** VmRSS in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU used between start() and stop(), for one process. */
export class CpuMeter {
  readonly #pid: number;
  #startCpu = 0;
  #startWall = 0;
  constructor(pid: number) {
    this.#pid = pid;
  }
  start(): void {
    this.#startCpu = cpuSeconds(this.#pid);
    this.#startWall = performance.now();
  }
  stop(): { cpuSeconds: number; wallSeconds: number } {
    return {
      cpuSeconds: cpuSeconds(this.#pid) - this.#startCpu,
      wallSeconds: (performance.now() - this.#startWall) / 1000,
    };
  }
}
