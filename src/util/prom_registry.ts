import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';

/**
 * prom-client samples event-loop delay with a timer of this period. Its default (10 ms)
 * woke an idle engine 100 times a second, and on a VM each wake-up from idle costs far
 * more CPU than the callback itself: that timer was most of an idle engine's CPU. Once a
 * second still catches the stalls that matter to I/O latency (they overlap a sample).
 */
const EVENT_LOOP_SAMPLE_MS = 1000;

const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** One sample; `metricName` names a histogram's `_bucket`, `_sum` or `_count` series. */
export interface FamilySample {
  labels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/** A metric family computed at scrape time from the process's own state. */
export interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  samples: FamilySample[];
}

/**
 * prom-client's registry and exposition, fed by families built at scrape time. The data
 * path keeps plain numbers (no per-I/O label hashing); a scrape turns them into families
 * once. prom-client's default metrics add process CPU, memory, handles and event-loop lag.
 */
export class ScrapeRegistry {
  readonly registry = new Registry();
  readonly #current = new Map<string, Family>();
  readonly #collect: () => Promise<Family[]> | Family[];

  constructor(collect: () => Promise<Family[]> | Family[], opts: { defaultMetrics?: boolean } = {}) {
    this.#collect = collect;
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
      // Gauges named like counters: `promtool check metrics` rejects them, and handles are in process_open_fds.
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every family now, default metrics included. */
  async render(): Promise<string> {
    const families = await this.#collect();
    this.#current.clear();
    for (const f of families) {
      this.#current.set(f.name, f);
      if (this.registry.getSingleMetric(f.name) === undefined) this.registry.registerMetric(this.#adapter(f.name));
    }
    return this.registry.metrics();
  }

  /** prom-client reads any object with this shape; a family absent from this scrape shows no samples. */
  #adapter(name: string): Metric {
    const current = this.#current;
    const first = current.get(name)!;
    const adapter = {
      name,
      help: first.help,
      type: first.type,
      aggregator: 'sum',
      get: async () => {
        const f = current.get(name);
        return {
          name, help: first.help, type: first.type, aggregator: 'sum',
          values: (f?.samples ?? []).map((s) => ({ labels: s.labels ?? {}, value: s.value, ...(s.metricName ? { metricName: s.metricName } : {}) })),
        };
      },
      reset: () => undefined,
    };
    return adapter as unknown as Metric;
  }
}
