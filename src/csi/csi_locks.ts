/**
 * One operation at a time per volume, snapshot or name. The spec has the CO serialise
 * calls per volume and says a plugin that sees two at once answers ABORTED, so a second
 * caller fails fast instead of queueing behind a slow mkfs or iSCSI login.
 */
import { OperationPendingError } from './csi_errors.ts';

export class KeyedLocks {
  private readonly held = new Set<string>();

  /** Runs fn holding every key (all or none), or throws OperationPendingError. */
  async with<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const busy = keys.find((k) => this.held.has(k));
    if (busy !== undefined) throw new OperationPendingError(busy);
    for (const k of keys) this.held.add(k);
    try {
      return await fn();
    } finally {
      for (const k of keys) this.held.delete(k);
    }
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }
}
