import type { MetricFamily } from './prometheus_text.ts';
import type { NexusView } from '../nexus_view.ts';

/** Every state a nexus reports, with the words of the API and docs/nexus.md. */
export const NEXUS_STATES = ['online', 'degraded', 'faulted', 'no-quorum', 'fenced', 'closed'] as const;
const REPLICA_STATES = ['online', 'rebuilding', 'stale', 'faulted'] as const;

/**
 * Nexus gauges: one sample per state (1 for the one it is in), so an alert can match
 * `berth_nexus_state{state="fenced"} == 1` without knowing the others; and replicas per state.
 */
export function nexusMetricFamilies(nexuses: readonly NexusView[]): MetricFamily[] {
  const state: MetricFamily = { name: 'berth_nexus_state', help: 'For each nexus, 1 for the state it is in (online, degraded, faulted, no-quorum, fenced, closed), 0 for the others.', type: 'gauge', samples: [] };
  const gen: MetricFamily = { name: 'berth_nexus_generation', help: 'The generation of the nexus incarnation this engine runs.', type: 'gauge', samples: [] };
  const reps: MetricFamily = { name: 'berth_nexus_replicas', help: 'Replicas of the nexus in each state (online, rebuilding, stale, faulted).', type: 'gauge', samples: [] };
  for (const n of nexuses) {
    for (const s of NEXUS_STATES) state.samples.push({ labels: { nexus: n.name, state: s }, value: n.state === s ? 1 : 0 });
    gen.samples.push({ labels: { nexus: n.name }, value: n.generation });
    for (const s of REPLICA_STATES) reps.samples.push({ labels: { nexus: n.name, state: s }, value: n.replicas.filter((r) => r.state === s).length });
  }
  return [state, gen, reps];
}
