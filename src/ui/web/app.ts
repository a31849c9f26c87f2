/**
 * The dashboard's entry: a hash router over three read-only pages (fleet, volumes,
 * events) and a volume's chain. Every page reads the API afresh; a 401 turns into the
 * token prompt. The open page refreshes itself every few seconds unless the operator is
 * typing in it.
 */
import { ApiError, UnauthorizedError, apiGet, forgetToken, storeToken, storedToken } from './api_client.ts';
import { volumeChain, type NexusInfo, type NodeInfo, type PoolInfo, type SnapshotInfo, type VolumeFilter, type VolumeInfo } from '../view_model.ts';
import { errorView, fleetView, loginView, volumeView, volumesView } from './views.ts';
import { eventsView, volumeEventsSection, type EventFilter } from './events_view.ts';
import { ioSection } from './charts.ts';
import type { EventInfo, IoSeriesInfo } from '../live_model.ts';

const REFRESH_MS = 5_000;
const main = document.getElementById('main') as HTMLElement;
const status = document.getElementById('status') as HTMLElement;
const forget = document.getElementById('forget-token') as HTMLButtonElement;
/** Kept across refreshes so the list does not lose what the operator typed. */
const volumeFilter: VolumeFilter = { text: '', status: '' };
const eventFilter: EventFilter = { type: '', text: '' };
/** The timeline shows the latest this many events (the API pages further back). */
const EVENT_PAGE = 500;

/** A part of a page that may be missing (an older control plane, a volume not published): its error is shown in its place. */
async function optional<T>(read: Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await read };
  } catch (err) {
    if (err instanceof UnauthorizedError) throw err;
    return { error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) };
  }
}

const listOf = async <T>(path: string, key: string): Promise<T[]> => (await apiGet<Record<string, T[]>>(path))[key];

async function page(hash: string): Promise<HTMLElement> {
  const volumeMatch = /^#\/volumes\/(.+)$/.exec(hash);
  if (volumeMatch !== null) {
    const id = decodeURIComponent(volumeMatch[1]);
    const [volume, nexuses, pools, nodes, snapshots, events, io, space] = await Promise.all([
      apiGet<VolumeInfo>(`/v1/volumes/${encodeURIComponent(id)}`),
      listOf<NexusInfo>('/v1/nexuses', 'nexuses'),
      listOf<PoolInfo>('/v1/pools', 'pools'),
      listOf<NodeInfo>('/v1/nodes', 'nodes'),
      listOf<SnapshotInfo>(`/v1/snapshots?volumeId=${encodeURIComponent(id)}`, 'snapshots'),
      optional(listOf<EventInfo>(`/v1/events?volume=${encodeURIComponent(id)}&limit=50`, 'events')),
      optional(apiGet<IoSeriesInfo>(`/v1/volumes/${encodeURIComponent(id)}/io`)),
      optional(listOf<{ id: string; copies: NonNullable<SnapshotInfo['space']> }>(`/v1/volumes/${encodeURIComponent(id)}/snapshot-space`, 'snapshots')),
    ]);
    const spaceOf = new Map((space.value ?? []).map((s) => [s.id, s.copies]));
    for (const s of snapshots) s.space = spaceOf.get(s.id);
    const view = volumeView(volumeChain(volume, nexuses, pools, nodes, snapshots));
    view.append(ioSection(io.value, io.error), volumeEventsSection(events.value, events.error));
    return view;
  }
  if (hash === '#/volumes') return volumesView(await listOf<VolumeInfo>('/v1/volumes', 'volumes'), volumeFilter);
  if (hash === '#/events') {
    const [events, volumes] = await Promise.all([listOf<EventInfo>(`/v1/events?limit=${EVENT_PAGE}`, 'events'), listOf<VolumeInfo>('/v1/volumes', 'volumes')]);
    return eventsView(events, volumes, eventFilter);
  }
  const [nodes, pools] = await Promise.all([listOf<NodeInfo>('/v1/nodes', 'nodes'), listOf<PoolInfo>('/v1/pools', 'pools')]);
  return fleetView(nodes, pools);
}

function markNav(hash: string): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    const here = hash === a.hash || (a.hash === '#/volumes' && hash.startsWith('#/volumes/')) || (a.hash === '#/fleet' && !/^#\/(volumes|events)/.test(hash));
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

let showingLogin = false;

async function render(refresh: boolean): Promise<void> {
  const hash = location.hash === '' ? '#/fleet' : location.hash;
  markNav(hash);
  forget.hidden = storedToken() === null;
  try {
    const next = await page(hash);
    if (hash !== (location.hash === '' ? '#/fleet' : location.hash)) return; // the operator moved on meanwhile
    main.replaceChildren(next);
    showingLogin = false;
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    if (!refresh) main.focus();
  } catch (err) {
    if (err instanceof UnauthorizedError) {
      showingLogin = true;
      const hadToken = storedToken() !== null;
      forgetToken();
      forget.hidden = true;
      main.replaceChildren(loginView(hadToken ? 'The control plane refused that token.' : 'This control plane needs an API token to show its data.', (token) => {
        storeToken(token);
        void render(false);
      }));
      status.textContent = 'Sign-in needed';
      return;
    }
    main.replaceChildren(errorView(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
  }
}

function typing(): boolean {
  const el = document.activeElement;
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement;
}

forget.addEventListener('click', () => {
  forgetToken();
  void render(false);
});
window.addEventListener('hashchange', () => void render(false));
setInterval(() => {
  if (!showingLogin && !typing() && document.visibilityState === 'visible') void render(true);
}, REFRESH_MS);
void render(false);
