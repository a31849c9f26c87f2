import type { ServiceContext } from '../service/service_context.ts';

/**
 * A reconciler is a plain async function over the store and the engines: one pass that
 * makes actual state a step closer to desired and says how many things it changed.
 * No timers inside; the loop (reconcile_loop.ts) decides when passes run.
 */
export interface Reconciler {
  readonly name: string;
  run(ctx: ServiceContext): Promise<number>;
}
