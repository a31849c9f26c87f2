/** The events timeline and a volume's own events, from the control plane's event log. */
import { h, link, state, table, tbody, type Child } from './dom.ts';
import { eventObject, filterEvents, type EventInfo } from '../live_model.ts';
import type { VolumeInfo } from '../view_model.ts';

const EVENT_COLUMNS = ['Time', 'Type', 'Object', 'Reason', 'Message'];

const volumeHref = (id: string): string => `#/volumes/${encodeURIComponent(id)}`;

function objectCell(e: EventInfo): Child {
  const volumeId = e.object.kind === 'volume' ? e.object.id : e.involved?.volumeId;
  return volumeId !== undefined && e.object.kind !== 'node' && e.object.kind !== 'pool' ? link(volumeHref(volumeId), eventObject(e)) : eventObject(e);
}

function eventRows(events: readonly EventInfo[]): Child[][] {
  return events.map((e) => [
    h('time', { datetime: e.time }, e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')),
    // The severity in words too, not by colour alone.
    h('span', {}, h('span', { class: `event event-${e.severity}` }, e.type), e.severity === 'warning' ? ' warning' : null),
    objectCell(e), e.reason, e.message,
  ]);
}

/** Kept across refreshes so the filters do not reset. */
export interface EventFilter { type: string; text: string }

/** The timeline: newest first, filtered in the page; then what is in progress now. */
export function eventsView(events: readonly EventInfo[], volumes: readonly VolumeInfo[], filter: EventFilter): HTMLElement {
  const types = [...new Set(events.map((e) => e.type))].sort();
  const select = h('select', { id: 'event-type' }, h('option', { value: '' }, 'any'),
    ...types.map((t) => h('option', { value: t, selected: t === filter.type }, t)));
  const text = h('input', { type: 'search', id: 'event-filter', value: filter.text, autocomplete: 'off' });
  const count = h('p', { role: 'status', 'aria-live': 'polite' });
  const list = table('Event timeline', EVENT_COLUMNS, []);
  list.classList.add('events');
  const apply = (): void => {
    filter.type = select.value;
    filter.text = text.value;
    const shown = filterEvents(events, filter);
    list.tBodies[0].replaceWith(tbody(eventRows(shown)));
    count.textContent = `${shown.length} of the latest ${events.length} events.`;
  };
  select.addEventListener('change', apply);
  text.addEventListener('input', apply);
  apply();
  const busy = volumes.filter((v) => v.pending !== undefined && v.pending !== null);
  return h('section', { 'aria-labelledby': 'events-h' },
    h('h2', { id: 'events-h' }, 'Events'),
    h('p', { class: 'muted' }, 'What the control plane did and why, newest first (its event log; GET /v1/events).'),
    h('div', { class: 'filters', role: 'search' },
      h('label', { for: 'event-type' }, 'Event type', select),
      h('label', { for: 'event-filter' }, 'Filter by object or message', text)),
    count, list,
    h('h3', {}, 'Now'),
    table('Operations in progress', ['Volume', 'Operation'], busy.map((v) => [link(volumeHref(v.id), v.name), v.pending ?? ''])),
    table('Volumes not online', ['Volume', 'State'], volumes.filter((v) => v.status !== 'online').slice(0, 200).map((v) => [link(volumeHref(v.id), v.name), state(v.status)])));
}

/** A volume's own events on its page. */
export function volumeEventsSection(events: readonly EventInfo[] | undefined, error?: string): HTMLElement {
  return h('section', { 'aria-labelledby': 'volume-events-h' },
    h('h3', { id: 'volume-events-h' }, 'Events'),
    events === undefined ? h('p', { class: 'muted' }, error ?? 'No event log.')
      : events.length === 0 ? h('p', { class: 'muted' }, 'No events recorded for this volume.')
        : eventTable('Volume events', events));
}

function eventTable(caption: string, events: readonly EventInfo[]): HTMLTableElement {
  const t = table(caption, EVENT_COLUMNS, eventRows(events));
  t.classList.add('events');
  return t;
}
