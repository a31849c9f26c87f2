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

/** A reconciler that runs `pass` at most once per `intervalMs` of the context's clock (changing nothing in between): for passes that list every engine. */
export function everyInterval(name: string, intervalMs: number, pass: (ctx: ServiceContext) => Promise<number>): Reconciler {
  let lastRunMs = -Infinity;
  return {
    name,
    async run(ctx) {
      if (ctx.now() - lastRunMs < intervalMs) return 0;
      lastRunMs = ctx.now();
      return await pass(ctx);
    },
  };
}
