/**
 * The web dashboard in a real browser against a real control plane with two real
 * engines (docs/dashboard.md): the fleet page shows the nodes, pools and zones; the
 * volume list finds a replicated, published volume; its page shows the chain from pod
 * to node with the states the API reports; the pages carry the roles and labels a
 * screen reader needs. Then the list over 10,000 volumes (served by the browser's
 * request interception) keeps at most 200 rows and filters on every keystroke. Last, the
 * real volume's record altered in flight to a replica mid-rebuild shows as a labelled
 * progress bar, and the events page lists the volume's operation in progress.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiB } from '../control_plane/cp_kit.ts';
import { cp, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { noBrowser, type DashboardBrowser } from './browser.ts';
import { emptyFleet, startTwoZoneFleet, stopTwoZoneFleet } from './two_zone_fleet.ts';

interface Volume { id: string; name: string; status: string; replicaStates: { id: string; nodeId: string; poolId: string; status: string }[] }

const dir = mkdtempSync(join(tmpdir(), `berth-dashboard-${process.pid}-`));
const fleet = emptyFleet();
let plane: ControlPlaneProcess | undefined;
let ui: DashboardBrowser | undefined;
let volumeId = '';
const pageErrors = fleet.pageErrors;

before(async () => {
  if (noBrowser !== undefined) return;
  await startTwoZoneFleet(fleet, dir);
  ({ plane, ui } = fleet);
});

after(async () => {
  await stopTwoZoneFleet(fleet);
  rmSync(dir, { recursive: true, force: true });
});

test('fleet, volume search and a volume\'s chain from pod to node, in Chromium', { skip: noBrowser, timeout: 300_000 }, async () => {
  const url = (plane as ControlPlaneProcess).url;
  const made = await cp<Volume>(url, 'POST', '/v1/volumes', {
    name: 'pvc-orders-db', sizeBytes: 8 * MiB, replicas: 2, spread: { domain: 'zone', strict: true },
    // What a client keeps of external-provisioner's --extra-create-metadata.
    attributes: { 'csi.storage.k8s.io/pvc/name': 'orders-db', 'csi.storage.k8s.io/pvc/namespace': 'shop' },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const v = made.body;
  volumeId = v.id;
  for (const name of ['pvc-other-1', 'pvc-other-2']) {
    assert.equal((await cp(url, 'POST', '/v1/volumes', { name, sizeBytes: 4 * MiB })).status, 201);
  }
  const front = v.replicaStates[0].nodeId;
  const pub = await cp<Volume>(url, 'POST', `/v1/volumes/${v.id}/publish`, { nodeId: front });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  assert.equal((await cp(url, 'PUT', `/v1/volumes/${v.id}/pods/uid-1`, { podName: 'orders-db-0', podNamespace: 'shop', nodeId: front })).status, 200);
  const snap = await cp(url, 'POST', '/v1/snapshots', { name: 'nightly', volumeId: v.id });
  assert.equal(snap.status, 201, JSON.stringify(snap.body));

  const { page } = ui as DashboardBrowser;
  await page.goto(`${url}/`);
  assert.equal(new URL(page.url()).pathname, '/ui/', 'the root redirects to the dashboard');

  // Fleet: both nodes with zone and state, both pools, capacity per zone.
  const nodes = page.getByRole('table', { name: 'Nodes' });
  for (const [node, zone] of [['node-east', 'zone-east'], ['node-west', 'zone-west']]) {
    const row = nodes.getByRole('row').filter({ hasText: node });
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(`${zone}\\s+rack-1\\s+online`));
  }
  const pools = page.getByRole('table', { name: 'Pools' });
  for (const pool of ['pool-east', 'pool-west']) assert.match(await pools.getByRole('row').filter({ hasText: pool }).innerText(), /ssd|—/);
  assert.match(await pools.innerText(), /online/);
  const zones = page.getByRole('table', { name: 'Capacity per zone' });
  assert.equal(await zones.getByRole('row').count(), 3, 'a header and one row per zone');
  assert.ok(await page.getByRole('meter', { name: 'zone zone-east used' }).isVisible());
  assert.equal(await page.getByRole('link', { name: 'Fleet' }).getAttribute('aria-current'), 'page');
  await ui!.screenshot('fleet');

  // Volumes: filter by name, then by state, then open the volume.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Volumes' }).click();
  const count = page.getByRole('status').filter({ hasText: 'matching volumes' });
  await count.filter({ hasText: '3 matching volumes (3 in all)' }).waitFor();
  await page.getByRole('searchbox', { name: 'Filter by name or id' }).fill('orders');
  await count.filter({ hasText: '1 matching volumes (3 in all)' }).waitFor();
  await page.getByRole('combobox', { name: 'State' }).selectOption('faulted');
  await count.filter({ hasText: '0 matching volumes' }).waitFor();
  await page.getByRole('combobox', { name: 'State' }).selectOption('');
  await page.getByRole('table', { name: 'Volumes' }).getByRole('link', { name: 'pvc-orders-db' }).click();

  // The chain, top to bottom.
  await page.getByRole('heading', { name: 'Volume pvc-orders-db' }).waitFor();
  const main = page.getByRole('main');
  const chain = page.getByRole('list', { name: 'Chain from pod to node' });
  assert.match(await page.getByRole('table', { name: 'Pods using the volume' }).innerText(), new RegExp(`orders-db-0\\s+shop\\s+${front}`));
  assert.match(await chain.innerText(), /PVC\s+shop\/orders-db/);
  assert.match(await chain.innerText(), /PV \(CSI volume name\)\s+pvc-orders-db/);
  assert.match(await chain.innerText(), new RegExp(`Published on\\s+${front}`));
  assert.match(await chain.innerText(), /Generation\s+1/);
  const replicas = page.getByRole('table', { name: 'Replicas' });
  for (const r of v.replicaStates) {
    const text = await replicas.getByRole('row').filter({ hasText: r.id }).innerText();
    const zone = r.nodeId === 'node-east' ? 'zone-east' : 'zone-west';
    assert.match(text, new RegExp(`online\\s+yes\\s+—\\s+pool-${zone.slice(5)}\\s+.*online.*${r.nodeId}\\s+${zone}\\s+online`, 's'), text);
  }
  assert.match(await page.getByRole('table', { name: 'Snapshots' }).innerText(), /nightly\s+8\.0 MiB/);

  // The accessibility tree names the landmarks, tables and the chain.
  const tree = await main.ariaSnapshot();
  for (const want of ['heading "Volume pvc-orders-db"', 'list "Chain from pod to node"', 'table "Replicas"', 'table "Snapshots"', 'link "← All volumes"']) {
    assert.ok(tree.includes(want), `aria snapshot lacks ${want}:\n${tree}`);
  }
  assert.ok(await page.getByRole('navigation', { name: 'Main' }).isVisible());
  await page.evaluate('window.scrollTo(0, 0)');
  await ui!.screenshot('volume', true);
  assert.deepEqual(pageErrors, []);
});

test('10,000 volumes: the list keeps 200 rows and a count, and filters as the operator types', { skip: noBrowser, timeout: 180_000 }, async (t) => {
  const url = (plane as ControlPlaneProcess).url;
  const { page } = ui as DashboardBrowser;
  const volumes = Array.from({ length: 10_000 }, (_, i) => ({
    id: `vol-${i}`, name: `pvc-${String(i).padStart(5, '0')}`, sizeBytes: 4 * MiB, replicas: 1,
    status: i % 100 === 0 ? 'degraded' : 'online', pending: null, replicaStates: [], pods: [],
  }));
  await page.route('**/v1/volumes', (route) => route.fulfill({ json: { volumes } }));
  try {
    await page.goto(`${url}/ui/#/fleet`);
    await page.reload(); // a fresh document: the first test's filter is gone
    await page.getByRole('table', { name: 'Nodes' }).waitFor();
    const shown = Date.now();
    await page.getByRole('link', { name: 'Volumes' }).click();
    await page.getByRole('status').filter({ hasText: 'Showing 200 of 10000 matching volumes (10000 in all)' }).waitFor()
      .catch(async (err: unknown) => { throw new Error(`${String(err)}\n--- page ---\n${await page.getByRole('main').innerText()}`); });
    const listMs = Date.now() - shown;
    assert.equal(await page.getByRole('table', { name: 'Volumes' }).locator('tbody tr').count(), 200);

    // One keystroke: the input event filters 10,000 records and rebuilds the rows; timed to the next frame.
    // (A string: it runs in the page, whose DOM types this Node program does not have.)
    const filterMs = await page.evaluate<number>(`(async () => {
      const input = document.getElementById('volume-filter');
      const t0 = performance.now();
      input.value = 'pvc-099';
      input.dispatchEvent(new Event('input'));
      await new Promise((r) => requestAnimationFrame(r));
      return performance.now() - t0;
    })()`);
    await page.getByRole('status').filter({ hasText: '100 matching volumes (10000 in all)' }).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Volumes' }).locator('tbody tr').count(), 100);
    // Reported, not asserted: a shared, busy machine must not fail a test on speed.
    t.diagnostic(`10,000 volumes: list shown ${listMs} ms after the click (fetch, parse, filter, render); one filter keystroke ${filterMs.toFixed(1)} ms to the next frame`);
    console.log(`dashboard: 10,000 volumes listed in ${listMs} ms, filtered in ${filterMs.toFixed(1)} ms`);
  } finally {
    await page.unroute('**/v1/volumes');
  }
  assert.deepEqual(pageErrors, []);
});

test('a replica mid-rebuild and an operation in progress, as the API would report them', { skip: noBrowser, timeout: 180_000 }, async () => {
  const url = (plane as ControlPlaneProcess).url;
  const { page } = ui as DashboardBrowser;
  // The real records, altered in flight: a rebuild cannot be held at 42% on purpose.
  const degrade = (v: Volume & { pending?: string | null }): void => {
    v.status = 'degraded';
    v.pending = 'publish';
    Object.assign(v.replicaStates[1], { status: 'rebuilding', rebuildProgress: 0.42 });
  };
  await page.route(`**/v1/volumes/${volumeId}`, async (route) => {
    const body = (await (await route.fetch()).json()) as Volume;
    degrade(body);
    await route.fulfill({ json: body });
  });
  await page.route('**/v1/volumes', async (route) => {
    const body = (await (await route.fetch()).json()) as { volumes: Volume[] };
    for (const v of body.volumes) if (v.id === volumeId) degrade(v);
    await route.fulfill({ json: body });
  });
  try {
    await page.goto(`${url}/ui/#/volumes/${volumeId}`);
    await page.reload();
    const rebuilding = (await cp<Volume>(url, 'GET', `/v1/volumes/${volumeId}`)).body.replicaStates[1].id;
    const bar = page.getByRole('progressbar', { name: `replica ${rebuilding} rebuild progress` });
    await bar.waitFor();
    assert.equal(await bar.getAttribute('value'), '0.4200');
    assert.match(await page.getByRole('table', { name: 'Replicas' }).getByRole('row').filter({ hasText: rebuilding }).innerText(), /rebuilding\s+yes\s+42%/);
    assert.match(await page.getByRole('list', { name: 'Chain from pod to node' }).innerText(), /State\s+degraded[\s\S]*Operation in progress\s+publish/);

    await page.getByRole('link', { name: 'Events' }).click();
    const ops = page.getByRole('table', { name: 'Operations in progress' });
    await ops.getByRole('row').filter({ hasText: 'pvc-orders-db' }).waitFor();
    assert.match(await ops.innerText(), /pvc-orders-db\s+publish/);
    assert.match(await page.getByRole('table', { name: 'Volumes not online' }).innerText(), /pvc-orders-db\s+degraded/);
    assert.equal(await page.getByRole('table', { name: 'Volumes not online' }).getByRole('row').count(), 2, 'the other volumes are online');
  } finally {
    await page.unrouteAll();
  }
  assert.deepEqual(pageErrors, []);
});
