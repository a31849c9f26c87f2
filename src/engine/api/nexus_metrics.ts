import type { Family as MetricFamily } from '../../util/prom_registry.ts';
import type { NexusView } from '../nexus_view.ts';
import { CHILD_IO_KINDS } from '../../nexus/index.ts';

/** Every state a nexus reports, with the words of the API and docs/nexus.md. */
export const NEXUS_STATES = ['online', 'degraded', 'faulted', 'no-quorum', 'fenced', 'closed'] as const;
const REPLICA_STATES = ['online', 'rebuilding', 'stale', 'faulted'] as const;
const CHILD_STATES = [...REPLICA_STATES, 'absent'] as const;

/**
 * Nexus gauges: one sample per state (1 for the one it is in), so an alert can match
 * `berth_nexus_state{state="fenced"} == 1` without knowing the others; and replicas per state.
 */
export function nexusMetricFamilies(nexuses: readonly NexusView[]): MetricFamily[] {
  const state: MetricFamily = { name: 'berth_nexus_state', help: 'For each nexus, 1 for the state it is in (online, degraded, faulted, no-quorum, fenced, closed), 0 for the others.', type: 'gauge', samples: [] };
  const gen: MetricFamily = { name: 'berth_nexus_generation', help: 'The generation of the nexus incarnation this engine runs.', type: 'gauge', samples: [] };
  const reps: MetricFamily = { name: 'berth_nexus_replicas', help: 'Replicas of the nexus in each state (online, rebuilding, stale, faulted).', type: 'gauge', samples: [] };
  const child: MetricFamily = { name: 'berth_nexus_child_state', help: 'For each replica (child) of a nexus, 1 for the state it is in (online, rebuilding, stale, faulted, absent), 0 for the others.', type: 'gauge', samples: [] };
  const missing: MetricFamily = { name: 'berth_nexus_child_missing_bytes', help: 'Bytes a replica lacks (what a resync or rebuild still has to copy).', type: 'gauge', samples: [] };
  const done: MetricFamily = { name: 'berth_nexus_rebuild_done_bytes', help: 'Bytes a running rebuild of the replica has covered.', type: 'gauge', samples: [] };
  const total: MetricFamily = { name: 'berth_nexus_rebuild_total_bytes', help: 'Bytes a running rebuild of the replica has to cover.', type: 'gauge', samples: [] };
  const rate: MetricFamily = { name: 'berth_nexus_rebuild_rate_bytes_per_second', help: 'Average speed of a running rebuild since it started.', type: 'gauge', samples: [] };
  const cops: MetricFamily = { name: 'berth_nexus_child_io_ops_total', help: 'Reads, writes, unmaps and flushes the nexus sent to a replica (retries included).', type: 'counter', samples: [] };
  const cbytes: MetricFamily = { name: 'berth_nexus_child_io_bytes_total', help: 'Bytes of the reads, writes and unmaps the nexus sent to a replica.', type: 'counter', samples: [] };
  for (const n of nexuses) {
    for (const r of n.replicas) {
      const rl = { nexus: n.name, replica: r.name };
      if (r.io) {
        CHILD_IO_KINDS.forEach((op, k) => {
          cops.samples.push({ labels: { ...rl, op }, value: r.io!.ops[k] });
          if (op !== 'flush') cbytes.samples.push({ labels: { ...rl, op }, value: r.io!.bytes[k] });
        });
      }
      for (const s of CHILD_STATES) child.samples.push({ labels: { ...rl, state: s }, value: r.state === s ? 1 : 0 });
      missing.samples.push({ labels: rl, value: r.missingBytes });
      if (r.rebuild) {
        done.samples.push({ labels: rl, value: r.rebuild.bytesDone });
        total.samples.push({ labels: rl, value: r.rebuild.bytesTotal });
        rate.samples.push({ labels: rl, value: r.rebuild.rate });
      }
    }
    for (const s of NEXUS_STATES) state.samples.push({ labels: { nexus: n.name, state: s }, value: n.state === s ? 1 : 0 });
    gen.samples.push({ labels: { nexus: n.name }, value: n.generation });
    for (const s of REPLICA_STATES) reps.samples.push({ labels: { nexus: n.name, state: s }, value: n.replicas.filter((r) => r.state === s).length });
  }
  return [state, gen, reps, child, missing, done, total, rate, cops, cbytes];
}
