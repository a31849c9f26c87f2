import type { Logger } from '../util/log.ts';
import type { ChildStateName, NexusStateName } from './nexus_child.ts';

/**
 * What a nexus reports as it changes: the engine persists membership and generation
 * from these, the API shows them. `absent`/`removed` mark a child joining or leaving.
 */
export type NexusEvent =
  | { type: 'child-state'; child: string; from: ChildStateName | 'absent'; to: ChildStateName | 'removed'; reason?: string }
  | { type: 'nexus-state'; from: NexusStateName; to: NexusStateName; reason?: string };

/** Delivers events to listeners; a throwing listener is logged and never breaks the nexus. */
export class NexusEvents {
  private readonly listeners = new Set<(e: NexusEvent) => void>();
  private readonly log: Logger;

  constructor(log: Logger) { this.log = log; }

  on(listener: (e: NexusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: NexusEvent): void {
    for (const l of this.listeners) {
      try { l(e); } catch (err) { this.log.error({ err }, 'nexus event listener threw'); }
    }
  }
}
