/**
 * The FUSE keeper: with `--local-attach-dir`, `berth-engine` is a small parent process
 * that holds /dev/fuse descriptors and runs the engine as its child (the worker). When
 * the worker dies (kill -9, a crash, the OOM killer's pick) the keeper's copies keep
 * every local attach's connection alive: the kernel holds the files' I/O, the keeper
 * starts a new worker with the same descriptors, and the new worker asks the kernel to
 * send again what the dead one read and never answered (src/fuse/fuse_mount.ts adopt).
 * Why it is built this way: fuse_keeper_protocol.ts.
 *
 * Upgrades without ending the attaches: the worker's code comes from `--worker-code`
 * (a tree, or a symlink to one, read again at every start). SIGHUP asks the worker to
 * hand over: it stops cleanly but leaves the kept connections mounted, and the keeper
 * starts the next worker from whatever the code directory names then. A new tree whose
 * worker stops before it is ready is rolled back to the last one that was.
 *
 * What it does not cover: the keeper's own death (or the container's) ends the
 * connections, as an engine's death did before; and a first worker that fails before it
 * is ready ends the keeper with its exit status, so a broken configuration is not retried
 * for ever behind the kernel's held I/O.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log.ts';
import {
  encodeLayout, FIRST_KEPT_FD, isWorkerMessage, KEEPER_LAYOUT_ENV, respawnDelayMs, type KeeperMessage, type KeptRecord, type KeptSlot,
} from './fuse_keeper_protocol.ts';

export interface KeeperOptions {
  /** Spare descriptors to hold for new local attaches, topped up at each worker start. */
  spares: number;
  logger: Logger;
  /** The Berth tree workers are started from (default: this process's own). */
  codeDir?: string;
  /** How often the code directory is checked for a new target (default CODE_POLL_MS). */
  codePollMs?: number;
}

const CODE_POLL_MS = 2_000;

/** A worker's command: which Node runs which entry point. */
interface WorkerCommand { node: string; entry: string }

/** Handing over ends the old worker within this, with SIGKILL if it must (the next one still takes every connection over). */
const HANDOVER_STOP_MS = 60_000;

/** The worker command for `codeDir` as it resolves now: its own Node 24 if it ships one (npm's `node` package), else this one. */
function commandFor(codeDir: string | undefined): WorkerCommand {
  if (codeDir === undefined) return { node: process.execPath, entry: process.argv[1]! };
  const root = realpathSync(codeDir);
  const entry = join(root, 'src', 'engine', 'main.ts');
  if (!existsSync(entry)) throw new Error(`${codeDir} (${root}) has no src/engine/main.ts`);
  const own = join(root, 'node_modules', '.bin', 'node');
  return { node: existsSync(own) ? own : process.execPath, entry };
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
  // This tree: what serves while the code directory is missing, and where a first worker from it that fails goes back to.
  const own = commandFor(undefined);
  // The command of the last worker that got ready: where a handover that fails rolls back to.
  let lastGood: WorkerCommand | undefined;
  const rollbackFor = (failed: WorkerCommand): WorkerCommand | undefined => {
    const back = lastGood ?? own;
    return back.entry === failed.entry ? undefined : back;
  };
  let handingOver = false;
  let workerReady = false;
  // A handover asked for while the worker was starting: made once it is ready.
  let queued: string | undefined;

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

  const start = (cmd: WorkerCommand): void => {
    topUp();
    const mine = [...held.keys()];
    const slots: KeptSlot[] = mine.map((k, i) => {
      const record = held.get(k);
      return record ? { fd: FIRST_KEPT_FD + i, record } : { fd: FIRST_KEPT_FD + i };
    });
    const ofChild = new Map(slots.map((s, i) => [s.fd, mine[i]!]));
    const child = spawn(cmd.node, [...process.execArgv, cmd.entry, ...process.argv.slice(2)], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...mine],
      env: { ...process.env, [KEEPER_LAYOUT_ENV]: encodeLayout(slots) },
      // A process group of its own: a terminal's Ctrl-C reaches the keeper alone, which passes it on once
      // (a second signal would make the worker skip its clean stop).
      detached: true,
    });
    let spawnFailed = false;
    child.on('error', (err) => {
      if (child.pid !== undefined) { log.error({ err, pid: child.pid }, 'engine worker channel error'); return; }
      spawnFailed = true;
      worker = undefined;
      const back = rollbackFor(cmd);
      if (back === undefined) {
        log.fatal({ err }, 'cannot start the engine worker');
        process.exit(1);
      }
      log.error({ err, failed: cmd.node, back: back.entry }, 'cannot start a worker from the new code; rolling back');
      queued = undefined;
      start(back);
    });
    worker = child;
    workerReady = false;
    let ready = false;
    child.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) { log.warn({ message: m }, 'keeper: a message it does not know from the worker'); return; }
      if (m.t === 'ready') {
        ready = true;
        workerReady = true;
        if (lastGood !== undefined && lastGood.entry !== cmd.entry) log.info({ pid: child.pid, code: cmd.entry }, 'engine worker handed over to new code');
        lastGood = cmd;
        if (queued !== undefined) {
          const why = queued;
          queued = undefined;
          handOver(why);
        }
        return;
      }
      const k = ofChild.get(m.fd);
      if (k === undefined || !held.has(k)) return;
      if (m.t === 'bind') { held.set(k, m.record); return; }
      closeSync(k);
      held.delete(k);
      ofChild.delete(m.fd);
    });
    // 'close', not 'exit': it comes after every message the worker sent before it died.
    child.on('close', (code, signal) => {
      if (spawnFailed) return;
      worker = undefined;
      const status = code ?? 1;
      const handedOver = handingOver && ready;
      handingOver = false;
      if (stopping || (!handedOver && code === 0 && signal === null)) process.exit(status);
      if (handedOver) {
        // Asked to go: not a crash, no back-off. The code directory is read again now.
        const next = resolve(cmd);
        log.info({ code, signal, from: cmd.entry, to: next.entry }, 'engine worker handed over; starting the next one');
        start(next);
        return;
      }
      if (!ready) {
        const back = rollbackFor(cmd);
        if (back === undefined) {
          log.fatal({ code, signal }, 'engine worker stopped before it was ready');
          process.exit(status);
        }
        log.error({ code, signal, failed: cmd.entry, back: back.entry }, 'new engine worker code stopped before it was ready; rolling back');
        queued = undefined;
        start(back);
        return;
      }
      const now = Date.now();
      crashes.push(now);
      const delayMs = respawnDelayMs(crashes, now);
      const kept = [...held.values()].filter((r) => r !== undefined).length;
      log.error({ code, signal, localAttaches: kept, delayMs }, 'engine worker died; starting another (local attaches stay connected)');
      setTimeout(() => start(resolve(cmd)), delayMs);
    });
  };

  /** The code directory as it resolves now; when it cannot, `fallback` (the running code) goes on. */
  const resolve = (fallback: WorkerCommand): WorkerCommand => {
    try {
      return commandFor(o.codeDir);
    } catch (err) {
      log.error({ err, codeDir: o.codeDir }, 'cannot read the worker code directory; keeping the current code');
      return fallback;
    }
  };

  /**
   * Asks the ready worker to hand over; `why` names what asked. While a handover is under
   * way the next worker is a fresh one anyway; while a worker starts, the request waits
   * for it to be ready (a failed start that is rolled back drops it).
   */
  const handOver = (why: string): void => {
    const w = worker;
    if (stopping || handingOver) return;
    if (w === undefined || !workerReady) {
      queued = why;
      log.info({ worker: w?.pid, why }, 'handover queued until the engine worker is ready');
      return;
    }
    handingOver = true;
    log.info({ pid: w.pid, why }, 'asking the engine worker to hand over');
    try {
      w.send({ t: 'handover' } satisfies KeeperMessage);
    } catch (err) {
      // The channel is closing: the worker is on its way out, and its 'close' starts the next one.
      log.warn({ err, pid: w.pid }, 'could not ask the engine worker to hand over');
    }
    const timer = setTimeout(() => {
      if (worker !== w) return;
      log.error({ pid: w.pid }, 'engine worker did not hand over in time; killing it (its successor takes the attaches over)');
      w.kill('SIGKILL');
    }, HANDOVER_STOP_MS);
    w.once('close', () => clearTimeout(timer));
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    stopping = true;
    if (worker) worker.kill(signal);
    else process.exit(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => handOver('SIGHUP'));
  // A code directory not there yet (its installer has not run) is not fatal: this tree serves until it is.
  const first = o.codeDir === undefined ? own : resolve(own);
  log.info({ pid: process.pid, spares: o.spares, code: first.entry }, 'fuse keeper started');
  start(first);
  if (o.codeDir !== undefined) watchCode(o.codeDir, first.entry, () => handOver('new worker code'), o.codePollMs ?? CODE_POLL_MS);
}

/**
 * Polls what `codeDir` resolves to and calls `changed` once per new target: an installer
 * switching the symlink upgrades the engine. A target that fails and is rolled back is not
 * tried again until the directory names another (SIGHUP still forces a handover).
 */
function watchCode(codeDir: string, initial: string, changed: () => void, everyMs: number): void {
  let seen = initial;
  setInterval(() => {
    let now: string;
    try {
      now = commandFor(codeDir).entry;
    } catch {
      return;
    }
    if (now === seen) return;
    seen = now;
    changed();
  }, everyMs).unref();
}
