/**
 * The FUSE keeper: with `--local-attach-dir`, `berth-engine` is a small parent process
 * that holds /dev/fuse descriptors and runs the engine as its child (the worker). When
 * the worker dies (kill -9, a crash, the OOM killer's pick) the keeper's copies keep
 * every local attach's connection alive: the kernel holds the files' I/O, the keeper
 * starts a new worker with the same descriptors, and the new worker asks the kernel to
 * send again what the dead one read and never answered (src/fuse/fuse_mount.ts adopt).
 * Why it is built this way: fuse_keeper_protocol.ts.
 *
 * What it does not cover: the keeper's own death (or the container's) ends the
 * connections, as an engine's death did before; and a worker that fails before it is
 * ready ends the keeper with its exit status, so a broken configuration is not retried
 * for ever behind the kernel's held I/O.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Logger } from '../util/log.ts';
import {
  encodeLayout, FIRST_KEPT_FD, isWorkerMessage, KEEPER_LAYOUT_ENV, respawnDelayMs, type KeptRecord, type KeptSlot,
} from './fuse_keeper_protocol.ts';

export interface KeeperOptions {
  /** Spare descriptors to hold for new local attaches, topped up at each worker start. */
  spares: number;
  logger: Logger;
  /** The worker's command line after the Node binary (default: this process's own). */
  args?: string[];
}

/** Runs until the worker stops for good; then exits the process with the worker's status. */
export function runFuseKeeper(o: KeeperOptions): void {
  const log = o.logger;
  // The keeper's own descriptor → what it serves (undefined: a spare).
  const held = new Map<number, KeptRecord | undefined>();
  const crashes: number[] = [];
  let worker: ChildProcess | undefined;
  let stopping = false;
  let warnedNoFuse = false;

  const topUp = (): void => {
    let spares = [...held.values()].filter((r) => r === undefined).length;
    while (spares < o.spares) {
      try {
        held.set(openSync('/dev/fuse', 'r+'), undefined);
        spares++;
      } catch (err) {
        if (!warnedNoFuse) log.warn({ err }, 'cannot open /dev/fuse: new local attaches will fail');
        warnedNoFuse = true;
        return;
      }
    }
  };

  const start = (): void => {
    topUp();
    const mine = [...held.keys()];
    const slots: KeptSlot[] = mine.map((k, i) => {
      const record = held.get(k);
      return record ? { fd: FIRST_KEPT_FD + i, record } : { fd: FIRST_KEPT_FD + i };
    });
    const ofChild = new Map(slots.map((s, i) => [s.fd, mine[i]!]));
    const child = spawn(process.execPath, [...process.execArgv, ...(o.args ?? process.argv.slice(1))], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...mine],
      env: { ...process.env, [KEEPER_LAYOUT_ENV]: encodeLayout(slots) },
      // A process group of its own: a terminal's Ctrl-C reaches the keeper alone, which passes it on once
      // (a second signal would make the worker skip its clean stop).
      detached: true,
    });
    child.on('error', (err) => {
      log.fatal({ err }, 'cannot start the engine worker');
      process.exit(1);
    });
    worker = child;
    let ready = false;
    child.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) { log.warn({ message: m }, 'keeper: a message it does not know from the worker'); return; }
      if (m.t === 'ready') { ready = true; return; }
      const k = ofChild.get(m.fd);
      if (k === undefined || !held.has(k)) return;
      if (m.t === 'bind') { held.set(k, m.record); return; }
      closeSync(k);
      held.delete(k);
      ofChild.delete(m.fd);
    });
    // 'close', not 'exit': it comes after every message the worker sent before it died.
    child.on('close', (code, signal) => {
      worker = undefined;
      const status = code ?? 1;
      if (stopping || (code === 0 && signal === null)) process.exit(status);
      if (!ready) {
        log.fatal({ code, signal }, 'engine worker stopped before it was ready');
        process.exit(status);
      }
      const now = Date.now();
      crashes.push(now);
      const delayMs = respawnDelayMs(crashes, now);
      const kept = [...held.values()].filter((r) => r !== undefined).length;
      log.error({ code, signal, localAttaches: kept, delayMs }, 'engine worker died; starting another (local attaches stay connected)');
      setTimeout(start, delayMs);
    });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    stopping = true;
    if (worker) worker.kill(signal);
    else process.exit(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log.info({ pid: process.pid, spares: o.spares }, 'fuse keeper started');
  start();
}
