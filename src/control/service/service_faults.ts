import { setTimeout as sleep } from 'node:timers/promises';

/**
 * TEST-ONLY fault injection. The environment variable BERTH_TEST_FAULT lists
 * `point=action` pairs separated by commas, where action is `crash` (SIGKILL this
 * process, as a power cut would) or `pause:MS` (sleep, so a test can kill the process
 * itself at that point). Points:
 *   volume-create:after-pending  the create is marked pending, no engine called yet
 *   volume-create:after-engine   the replicas exist on the engines, not yet committed
 *   snapshot-barrier:held        every volume of a snapshot (or group) paused, no copy cut yet
 *   snapshot-create:after-cut    every copy of a single snapshot is cut, the create not yet committed
 *   snapshot-remove:after-copy   one copy more of a single snapshot is removed (a delete, or a create's undo)
 *   group-create:after-cut       every member copy of a group snapshot is cut, no member record yet
 *   group-create:after-member    one member record more is written, the group not yet committed
 *   group-remove:after-copy      one member copy more is removed (a group delete, or a create's undo)
 * Each fault fires once per process. Unset in production, where `hit` costs one Map lookup.
 */
export const FAULT_ENV = 'BERTH_TEST_FAULT';

export type FaultAction = { readonly kind: 'crash' } | { readonly kind: 'pause'; readonly ms: number };

export class FaultInjector {
  readonly #faults = new Map<string, FaultAction>();

  constructor(spec: string | undefined) {
    for (const part of (spec ?? '').split(',')) {
      const m = /^\s*([a-z:-]+)=(crash|pause:(\d+))\s*$/.exec(part);
      if (m === null) continue;
      this.#faults.set(m[1], m[2] === 'crash' ? { kind: 'crash' } : { kind: 'pause', ms: Number(m[3]) });
    }
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): FaultInjector {
    return new FaultInjector(env[FAULT_ENV]);
  }

  get armed(): boolean {
    return this.#faults.size > 0;
  }

  async hit(point: string): Promise<void> {
    const fault = this.#faults.get(point);
    if (fault === undefined) return;
    this.#faults.delete(point);
    process.stderr.write(`berth-control: test fault ${point}=${fault.kind}\n`);
    if (fault.kind === 'crash') process.kill(process.pid, 'SIGKILL');
    else await sleep(fault.ms);
  }
}
