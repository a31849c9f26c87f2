/**
 * The dashboard's files as the control plane serves them: a fixed list read from this
 * directory once, TypeScript stripped of its types (the same erasable-only TypeScript
 * Node runs), so there is no build step, no bundle to go stale and no CDN.
 */
import { readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';

export interface UiAsset {
  readonly contentType: string;
  readonly body: string;
}

/**
 * Every file the page loads, by its path under /ui/ (the same as under src/ui/, so the
 * modules' relative imports resolve in the browser as they do here). Anything else under
 * /ui/ is a 404: no path from the URL reaches the file system.
 */
export const UI_FILES = [
  'index.html', 'app.css', 'view_model.ts', 'live_model.ts', 'web/app.ts', 'web/api_client.ts', 'web/dom.ts', 'web/views.ts',
  'web/charts.ts', 'web/events_view.ts',
] as const;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  ts: 'text/javascript; charset=utf-8',
};

/** Loads and converts every file at once (a handful, a few KiB each). */
export async function loadUiAssets(dir = import.meta.dirname): Promise<ReadonlyMap<string, UiAsset>> {
  const out = new Map<string, UiAsset>();
  for (const name of UI_FILES) {
    const ext = name.slice(name.lastIndexOf('.') + 1);
    const text = await readFile(`${dir}/${name}`, 'utf8');
    out.set(name, { contentType: TYPES[ext], body: ext === 'ts' ? stripTypeScriptTypes(text, { mode: 'strip' }) : text });
  }
  return out;
}
