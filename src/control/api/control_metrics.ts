import type { Services } from '../service/index.ts';
import { NodeStatus } from '../model/node_spec.ts';
import { kindPrefix, ResourceKind } from '../model/spec_common.ts';
import type { ReconcilerStats } from '../reconcile/index.ts';
import type { Family } from '../../util/prom_registry.ts';
import { placementRefusals } from '../service/placement_refusals.ts';

const NODE_STATUSES = Object.values(NodeStatus);

/**
 * Control-plane families, read at scrape time: leadership, node states, pending intents
 * (one store read per scrape) and the reconcile loop's counters.
 */
export async function collectControlMetrics(services: Services, reconcile: ReadonlyMap<string, ReconcilerStats> | undefined): Promise<Family[]> {
  const ctx = services.ctx;
  const leader: Family = { name: 'berth_control_leader', help: '1 when this control-plane instance is the leader (the one that writes and reconciles).', type: 'gauge', samples: [{ value: ctx.leadership.isLeader() ? 1 : 0 }] };
  const node: Family = { name: 'berth_node_state', help: 'For each node, 1 for the state the control plane sees it in (unknown, online, offline), 0 for the others.', type: 'gauge', samples: [] };
  const beat: Family = { name: 'berth_node_last_heartbeat_timestamp_seconds', help: 'When the node last sent a heartbeat (0: never since this instance started).', type: 'gauge', samples: [] };
  for (const n of await services.nodes.list()) {
    for (const s of NODE_STATUSES) node.samples.push({ labels: { node: n.id, zone: n.zone, state: s }, value: n.state.status === s ? 1 : 0 });
    beat.samples.push({ labels: { node: n.id }, value: n.state.lastHeartbeatMs / 1000 });
  }
  const pending = await ctx.volumes.pending(kindPrefix(ResourceKind.Volume));
  const now = ctx.now();
  const intents: Family = { name: 'berth_control_pending_intents', help: 'Volume operations begun but not yet committed or rolled back.', type: 'gauge', samples: [{ labels: { kind: 'volume' }, value: pending.length }] };
  const oldest: Family = { name: 'berth_control_pending_intent_oldest_age_seconds', help: 'Age of the oldest pending volume operation (0 when none); a growing value means the reconciler cannot finish it.', type: 'gauge', samples: [
    { labels: { kind: 'volume' }, value: pending.length === 0 ? 0 : Math.max(0, (now - pending[0].pending.startedAtMs) / 1000) },
  ] };
  const runs: Family = { name: 'berth_reconcile_runs_total', help: 'Runs of each reconciler (skipped backoff passes not counted).', type: 'counter', samples: [] };
  const errors: Family = { name: 'berth_reconcile_errors_total', help: 'Runs of each reconciler that failed.', type: 'counter', samples: [] };
  const seconds: Family = { name: 'berth_reconcile_duration_seconds_total', help: 'Wall time spent in each reconciler.', type: 'counter', samples: [] };
  const last: Family = { name: 'berth_reconcile_last_success_timestamp_seconds', help: 'When each reconciler last ran without an error (0: never).', type: 'gauge', samples: [] };
  for (const [reconciler, s] of reconcile ?? []) {
    const labels = { reconciler };
    runs.samples.push({ labels, value: s.runs });
    errors.samples.push({ labels, value: s.errors });
    seconds.samples.push({ labels, value: s.secondsTotal });
    last.samples.push({ labels, value: s.lastSuccessMs / 1000 });
  }
  const refusals: Family = { name: 'berth_placement_refusals_total', help: 'Requests placement refused (PLACEMENT_FAILED).', type: 'counter', samples: [{ value: placementRefusals.total }] };
  const ruledOut: Family = { name: 'berth_placement_pools_ruled_out_total', help: 'In refused placements, pools each filter was the first to rule out.', type: 'counter', samples: [] };
  for (const [filter, value] of placementRefusals.poolsRuledOutByFilter) ruledOut.samples.push({ labels: { filter }, value });
  return [leader, node, beat, intents, oldest, runs, errors, seconds, last, refusals, ruledOut];
}
