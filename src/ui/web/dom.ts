/**
 * The dashboard's DOM helpers. Text goes in as text nodes, attributes through
 * setAttribute: nothing from the API is ever parsed as HTML.
 */

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** A header cell: `#` first marks a numeric column (right-aligned). */
const headCell = (label: string): HTMLTableCellElement =>
  label.startsWith('#') ? h('th', { scope: 'col', class: 'num' }, label.slice(1)) : h('th', { scope: 'col' }, label);

/** A table whose caption is its accessible name. Numbers in rows are right-aligned. */
export function table(caption: string, headers: readonly string[], rows: readonly (readonly Child[])[]): HTMLTableElement {
  return h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map(headCell))),
    tbody(rows));
}

export function tbody(rows: readonly (readonly Child[])[]): HTMLTableSectionElement {
  const body = h('tbody');
  for (const row of rows) body.append(h('tr', {}, ...row.map((c) => (typeof c === 'number' ? h('td', { class: 'num' }, c) : h('td', {}, c)))));
  return body;
}

/** A state word, coloured by a class and readable as text (never colour alone). */
export function state(s: string | undefined): HTMLSpanElement {
  const word = s ?? 'unknown';
  return h('span', { class: `state state-${word}` }, word);
}

/** A definition list of facts: [term, value] pairs. */
export function facts(pairs: readonly (readonly [string, Child])[]): HTMLDListElement {
  const dl = h('dl', { class: 'facts' });
  for (const [term, value] of pairs) dl.append(h('dt', {}, term), h('dd', {}, value ?? '—'));
  return dl;
}

export function link(href: string, text: string, attrs: Attrs = {}): HTMLAnchorElement {
  return h('a', { href, ...attrs }, text);
}
