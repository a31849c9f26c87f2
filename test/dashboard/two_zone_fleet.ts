/**
 * What the browser suites run against: a real control plane, two real engines in two
 * zones (node-east, node-west) with a 64 MiB pool each, and headless Chromium whose page
 * errors and console errors are collected (the suites assert there are none).
 */
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { INITIATOR, MiB, nodeOnline, poolOnline, registeredEngine } from '../control_plane/cp_kit.ts';
import { startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { openBrowser, type DashboardBrowser } from './browser.ts';

/** Filled in as parts start, so `stopTwoZoneFleet` cleans up after a start that failed half-way. */
export interface TwoZoneFleet {
  plane?: ControlPlaneProcess;
  readonly engines: Map<string, EngineProcess>;
  ui?: DashboardBrowser;
  readonly pageErrors: string[];
}

export function emptyFleet(): TwoZoneFleet {
  return { engines: new Map(), pageErrors: [] };
}

export async function startTwoZoneFleet(f: TwoZoneFleet, dir: string, controlArgs: string[] = []): Promise<void> {
  const plane = f.plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}`, args: controlArgs });
  for (const [node, zone] of [['node-east', 'zone-east'], ['node-west', 'zone-west']]) {
    f.engines.set(node, await registeredEngine([plane.url], node, `zone=${zone},storageGroup=rack-1,initiatorIqn=${INITIATOR}`));
    await nodeOnline(plane.url, node);
    await poolOnline(plane.url, node, `pool-${zone.slice(5)}`, 64 * MiB);
  }
  const ui = f.ui = await openBrowser();
  ui.page.on('pageerror', (e) => f.pageErrors.push(String(e)));
  ui.page.on('console', (m) => { if (m.type() === 'error') f.pageErrors.push(m.text()); });
}

/** Stops what was started, browser first; a part that never started is skipped. */
export async function stopTwoZoneFleet(f: TwoZoneFleet): Promise<void> {
  await f.ui?.close();
  for (const e of f.engines.values()) await e.stop();
  await f.plane?.stop();
}
