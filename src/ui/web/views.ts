/** The dashboard's pages, built from API records with the pure view model. */
import { facts, h, link, state, table, tbody, type Child } from './dom.ts';
import {
  capacityByZone, filterVolumes, formatBytes, formatPercent, usedFraction,
  type NodeInfo, type PoolInfo, type SnapshotInfo, type VolumeChain, type VolumeFilter, type VolumeInfo,
} from '../view_model.ts';
import { snapshotSpaceText } from '../live_model.ts';

const volumeHref = (id: string): string => `#/volumes/${encodeURIComponent(id)}`;

function usage(p: { capacityBytes?: number; usedBytes?: number }, label: string): Child {
  const f = usedFraction(p);
  if (f === undefined) return '—';
  return h('span', {}, h('meter', { min: 0, max: 1, value: f.toFixed(4), 'aria-label': label }), ` ${formatPercent(f)}`);
}

export function fleetView(nodes: readonly NodeInfo[], pools: readonly PoolInfo[]): HTMLElement {
  const zoneOf = new Map(nodes.map((n) => [n.id, n.zone]));
  return h('section', { 'aria-labelledby': 'fleet-h' },
    h('h2', { id: 'fleet-h' }, 'Fleet'),
    table('Nodes', ['Node', 'Zone', 'Storage group', 'State', 'Engine version', 'Cordoned', 'Endpoint'], nodes.map((n) => [
      n.id, n.zone ?? '—', n.storageGroup ?? '—', state(n.state?.status), n.state?.engineVersion ?? 'not reported', n.cordoned === true ? 'yes' : 'no', n.endpoint ?? '—',
    ])),
    table('Pools', ['Pool', 'Node', 'Zone', 'Media', 'Drives', 'Health', '#Capacity', '#Used', '#Committed', 'Used %', '#Replicas'], pools.map((p) => [
      p.name, p.nodeId, zoneOf.get(p.nodeId) ?? '—', p.media ?? '—', (p.disks ?? []).join(', ') || '—', state(p.status),
      formatBytes(p.capacityBytes), formatBytes(p.usedBytes), formatBytes(p.committedBytes), usage(p, `pool ${p.id} used`), p.replicaCount ?? 0,
    ])),
    table('Capacity per zone', ['Zone', '#Nodes', '#Pools', '#Capacity', '#Used', '#Committed', 'Used %'], capacityByZone(nodes, pools).map((z) => [
      z.zone, z.nodes, z.pools, formatBytes(z.capacityBytes), formatBytes(z.usedBytes), formatBytes(z.committedBytes), usage(z, `zone ${z.zone} used`),
    ])));
}

const VOLUME_STATES = ['online', 'degraded', 'faulted', 'pending'];

function volumeRows(vs: readonly VolumeInfo[]): Child[][] {
  return vs.map((v) => [
    link(volumeHref(v.id), v.name), state(v.status), formatBytes(v.sizeBytes), v.replicas ?? '—',
    v.publishedNodeId ?? '—', v.pending ?? '—',
  ]);
}

/** The searchable list: one pass of the filter per keystroke and at most VOLUME_ROW_LIMIT rows in the DOM. */
export function volumesView(volumes: readonly VolumeInfo[], filter: VolumeFilter): HTMLElement {
  const text = h('input', { type: 'search', id: 'volume-filter', value: filter.text, autocomplete: 'off' });
  const select = h('select', { id: 'volume-state' }, h('option', { value: '' }, 'any'),
    ...VOLUME_STATES.map((s) => h('option', { value: s, selected: s === filter.status }, s)));
  const count = h('p', { id: 'volume-count', role: 'status', 'aria-live': 'polite' });
  const list = table('Volumes', ['Name', 'State', 'Size', 'Replicas', 'Published on', 'Operation in progress'], []);
  const apply = (): void => {
    filter.text = text.value;
    filter.status = select.value;
    const r = filterVolumes(volumes, filter);
    list.tBodies[0].replaceWith(tbody(volumeRows(r.rows)));
    count.textContent = r.rows.length < r.matched
      ? `Showing ${r.rows.length} of ${r.matched} matching volumes (${r.total} in all); refine the filter to see the rest.`
      : `${r.matched} matching volumes (${r.total} in all).`;
  };
  text.addEventListener('input', apply);
  select.addEventListener('change', apply);
  apply();
  return h('section', { 'aria-labelledby': 'volumes-h' },
    h('h2', { id: 'volumes-h' }, 'Volumes'),
    h('div', { class: 'filters', role: 'search' },
      h('label', { for: 'volume-filter' }, 'Filter by name or id', text),
      h('label', { for: 'volume-state' }, 'State', select)),
    count, list);
}

function rebuild(p: number | undefined, id: string): Child {
  if (p === undefined) return '—';
  return h('span', {}, h('progress', { max: 1, value: p.toFixed(4), 'aria-label': `replica ${id} rebuild progress` }), ` ${formatPercent(p)}`);
}

/** One volume from its pods down to the nodes holding its replicas. */
export function volumeView(c: VolumeChain): HTMLElement {
  const v = c.volume;
  const step = (title: string, ...body: Child[]): HTMLLIElement => h('li', {}, h('h3', {}, title), ...body);
  return h('section', { 'aria-labelledby': 'volume-h' },
    h('p', {}, link('#/volumes', '← All volumes')),
    h('h2', { id: 'volume-h' }, `Volume ${v.name}`),
    h('ol', { class: 'chain', 'aria-label': 'Chain from pod to node' },
      step('Pods', c.pods.length === 0
        ? h('p', { class: 'muted' }, 'No pod mount recorded.')
        : table('Pods using the volume', ['Pod', 'Namespace', 'Node'], c.pods.map((p) => [p.podName ?? '—', p.podNamespace ?? '—', p.nodeId ?? '—']))),
      step('PVC and PV', facts([
        ['PVC', c.pvc === undefined ? h('span', { class: 'muted' }, 'not recorded by the control plane') : `${c.pvc.namespace ?? '—'}/${c.pvc.name}`],
        ['PV (CSI volume name)', c.pvName],
      ])),
      step('Volume', facts([
        ['State', state(v.status)], ['Id', v.id], ['Size', formatBytes(v.sizeBytes)], ['Replicas wanted', v.replicas ?? '—'],
        ['Thin', v.thin === true ? 'yes' : 'no'], ['Published on', v.publishedNodeId ?? 'not published'],
        ['Operation in progress', v.pending ?? 'none'],
        ['Background sync', v.syncNexus === undefined ? 'none' : `on ${v.syncNexus.nodeId ?? '?'}, generation ${v.syncNexus.generation ?? '?'}`],
      ])),
      step('Nexus', c.nexus === undefined
        ? h('p', { class: 'muted' }, 'No nexus: the volume is not published.')
        : facts([
          ['Nexus', c.nexus.id], ['Node', c.nexus.nodeId], ['Zone', c.nexus.node?.zone ?? '—'],
          ['Generation', c.nexus.generation ?? '—'], ['Children', (c.nexus.children ?? []).join(', ') || 'none'],
        ])),
      step('Replicas, pools and nodes', table('Replicas', [
        'Replica', 'State', 'In nexus', 'Rebuild', 'Pool', 'Media', 'Pool health', 'Drives', 'Node', 'Zone', 'Node state',
      ], c.replicas.map((r) => [
        r.replica.id, state(r.replica.status), r.inNexus ? 'yes' : 'no', rebuild(r.replica.rebuildProgress, r.replica.id),
        r.pool?.name ?? r.replica.poolId, r.pool?.media ?? '—', state(r.pool?.status), (r.pool?.disks ?? []).join(', ') || '—',
        r.replica.nodeId, r.node?.zone ?? '—', state(r.node?.state?.status),
      ]))),
      step('Snapshots', ...(c.snapshots.length === 0
        ? [h('p', { class: 'muted' }, 'No snapshots.')]
        : [
          table('Snapshots', ['Snapshot', '#Size', '#Space', 'Created', '#Replica copies'], c.snapshots.map((s) => [
            s.name, formatBytes(s.sizeBytes), snapshotSpace(s), s.createdAtMs === undefined ? '—' : new Date(s.createdAtMs).toISOString(), (s.replicaSnapshots ?? []).length,
          ])),
          h('p', { class: 'muted' }, 'Space: the bytes only that snapshot holds (freed when it is deleted), per copy, as its engines report it'
            + (c.snapshots.some((s) => snapshotSpaceText(s.space) === undefined) ? '; "(size)": no engine reported it, so the snapshot\'s size is shown instead.' : '.')),
        ]))));
}

/** The bytes only this snapshot holds (per copy) when its engines report it; else its size, marked as such. */
function snapshotSpace(s: SnapshotInfo): Child {
  return snapshotSpaceText(s.space) ?? h('span', { class: 'muted' }, `${formatBytes(s.sizeBytes)} (size)`);
}

/** Asks for the API token; `onToken` gets what the operator typed. */
export function loginView(message: string, onToken: (token: string) => void): HTMLElement {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true });
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-h' },
    h('h2', { id: 'login-h' }, 'Sign in'),
    h('p', {}, message),
    h('label', { for: 'token' }, 'API token'), input,
    h('p', {}, h('button', { type: 'submit' }, 'Sign in')),
    h('p', { class: 'muted' }, 'The token is kept in this browser tab only (session storage) and sent as a bearer token.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onToken(input.value);
  });
  return form;
}

export function errorView(message: string): HTMLElement {
  return h('section', { role: 'alert' }, h('h2', {}, 'The control plane refused'), h('p', { class: 'error' }, message));
}
