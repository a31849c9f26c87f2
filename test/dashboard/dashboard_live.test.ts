/**
 * The dashboard's live pages in a real browser against a real control plane with two
 * real engines (docs/dashboard.md): a published 2-replica volume under real iSCSI I/O
 * (qemu-io through its nexus) shows IOPS, throughput and latency charts fed from the
 * engine's counters, with the newest rates in a table; then one engine is stopped and
 * the Events timeline shows the node going offline and the volume degraded, filtered by
 * type, with a link to the volume whose page lists its own events. Roles and names are
 * checked in the accessibility tree; screenshots are saved (docs/dashboard/*.png with
 * BERTH_UPDATE_SCREENSHOTS=1).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, sleep, waitFor } from '../helpers/tools.ts';
import { INITIATOR, MiB } from '../control_plane/cp_kit.ts';
import { cp, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { noBrowser, type DashboardBrowser } from './browser.ts';
import { emptyFleet, startTwoZoneFleet, stopTwoZoneFleet } from './two_zone_fleet.ts';

interface Volume { id: string; name: string; target?: { iqn: string; portal: string }; replicaStates: { id: string; nodeId: string }[] }

const dir = mkdtempSync(join(tmpdir(), `berth-dashboard-live-${process.pid}-`));
const fleet = emptyFleet();
let plane: ControlPlaneProcess | undefined;
let ui: DashboardBrowser | undefined;
let volume: Volume | undefined;
let front = '';
const { engines, pageErrors } = fleet;

before(async () => {
  if (noBrowser !== undefined) return;
  // Engines beat every 5 s; 8 s without one is offline (the default 15 s only makes the test wait longer).
  await startTwoZoneFleet(fleet, dir, ['--heartbeat-deadline-ms', '8000']);
  ({ plane, ui } = fleet);
});

after(async () => {
  await stopTwoZoneFleet(fleet);
  rmSync(dir, { recursive: true, force: true });
});

/** One qemu-io round: 80 × (write 64 KiB with `pattern`, read it back, pause 25 ms). */
async function qemuRound(target: { iqn: string; portal: string }, pattern: number): Promise<void> {
  const opts = `driver=iscsi,transport=tcp,portal=${target.portal},target=${target.iqn},lun=0,initiator-name=${INITIATOR}`;
  const cmds = Array.from({ length: 80 }, (_, i) => [`write -P ${pattern} ${(i % 64) * 65536} 65536`, `read -P ${pattern} ${(i % 64) * 65536} 65536`, 'sleep 25']).flat();
  const r = await run('qemu-io', ['--image-opts', ...cmds.flatMap((c) => ['-c', c]), opts], { timeoutMs: 120_000, check: false });
  const out = r.stdout + r.stderr;
  if (r.code !== 0 || /error|fail|Pattern verification/i.test(out)) throw new Error(`qemu-io failed (${r.code}):\n${out.slice(-2000)}`);
}

/** qemu-io rounds until `stop` says so. */
async function ioUntil(target: { iqn: string; portal: string }, stop: { now: boolean }): Promise<number> {
  let rounds = 0;
  while (!stop.now) {
    await qemuRound(target, 0x5a);
    rounds++;
  }
  return rounds;
}

test('a volume\'s live IOPS, throughput and latency charts under real iSCSI I/O, and its events', { skip: noBrowser, timeout: 300_000 }, async () => {
  const url = (plane as ControlPlaneProcess).url;
  const made = await cp<Volume>(url, 'POST', '/v1/volumes', {
    name: 'pvc-live', sizeBytes: 8 * MiB, replicas: 2, spread: { domain: 'zone', strict: true },
    attributes: { 'csi.storage.k8s.io/pvc/name': 'metrics-db', 'csi.storage.k8s.io/pvc/namespace': 'ops' },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  front = made.body.replicaStates[0].nodeId;
  const pub = await cp<Volume>(url, 'POST', `/v1/volumes/${made.body.id}/publish`, { nodeId: front });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  volume = pub.body;
  const { page } = ui as DashboardBrowser;

  await page.goto(`${url}/ui/#/volumes/${volume.id}`);
  await page.getByRole('heading', { name: 'Volume pvc-live' }).waitFor();
  await page.getByRole('heading', { name: 'Live I/O' }).waitFor();
  assert.match(await page.locator('#io-source').innerText(), new RegExp(`^Counters from export _nexus/${volume.id} on ${front}, sampled every 2 s\\.$`));

  const stop = { now: false };
  const io = ioUntil(volume.target as { iqn: string; portal: string }, stop);
  try {
    // The page refreshes itself every 5 s; the control plane samples every 2 s while the page watches.
    const rates = page.getByRole('table', { name: 'Latest I/O rates' });
    const writeRow = await waitFor('non-zero write IOPS on the page', async () => {
      if (!(await rates.isVisible())) return undefined;
      const text = await rates.getByRole('row').filter({ hasText: /^write/ }).innerText().catch(() => '');
      const m = /^write\s+([\d.]+k?)\s+(\S+ \S+\/s)\s+([\d.]+ ms)$/.exec(text.trim());
      // At least three samples drawn (two line segments) in the IOPS chart.
      const d = await page.locator('svg.chart path').first().getAttribute('d').catch(() => null);
      return m !== null && m[1] !== '0' && (d ?? '').split('L').length >= 3 ? m : undefined;
    }, 120_000, 1000);
    assert.match(writeRow[2], /KiB\/s|MiB\/s/);
    for (const chart of ['IOPS', 'Throughput', 'Latency \\(mean\\)']) {
      const img = page.getByRole('img', { name: new RegExp(`^${chart} over the last 5 minutes, now read \\S+( \\S+)?, write \\S+( \\S+)?$`) });
      assert.ok(await img.isVisible(), `${chart} chart`);
    }
    const series = (await cp<{ points: { writeIops: number; readIops: number }[] }>(url, 'GET', `/v1/volumes/${volume.id}/io`)).body;
    assert.ok(series.points.some((p) => p.writeIops > 0 && p.readIops > 0), JSON.stringify(series.points.slice(-5)));
  } finally {
    stop.now = true;
    await io;
  }

  // A snapshot, then new data over what it holds: the Space column shows what its engines report.
  const snap = await cp<{ id: string }>(url, 'POST', '/v1/snapshots', { name: 'before-upgrade', volumeId: volume.id });
  assert.equal(snap.status, 201, JSON.stringify(snap.body));
  await qemuRound(volume.target as { iqn: string; portal: string }, 0x6b);
  const space = (await cp<{ snapshots: { id: string; copies: { exclusiveBytes: number | null }[] }[] }>(url, 'GET', `/v1/volumes/${volume.id}/snapshot-space`)).body;
  const copies = space.snapshots.find((x) => x.id === snap.body.id)?.copies ?? [];
  assert.equal(copies.length, 2, JSON.stringify(space));
  assert.ok(copies.every((c) => typeof c.exclusiveBytes === 'number'), JSON.stringify(copies));
  const snapRow = page.getByRole('table', { name: 'Snapshots' }).getByRole('row').filter({ hasText: 'before-upgrade' });
  await snapRow.waitFor();
  assert.match(await snapRow.innerText(), /^before-upgrade\s+8\.0 MiB\s+\d[\d.]* (B|KiB|MiB)( \/ \d[\d.]* (B|KiB|MiB))?\s+20\d\d-/, 'the engines\' figure, not "(size)"');

  const main = page.getByRole('main');
  const events = page.getByRole('table', { name: 'Volume events' });
  assert.match(await events.innerText(), /VolumeCreated\s+volume\/pvc-live\s+Created\s+volume pvc-live created with 2 of 2 replicas/);
  const tree = await main.ariaSnapshot();
  for (const want of ['heading "Live I/O"', 'table "Latest I/O rates"', 'img "IOPS over the last 5 minutes', 'img "Throughput over', 'img "Latency (mean) over', 'heading "Events"', 'table "Volume events"']) {
    assert.ok(tree.includes(want), `aria snapshot lacks ${want}:\n${tree}`);
  }
  await page.evaluate('window.scrollTo(0, 0)');
  await ui!.screenshot('volume-live', true);
  assert.deepEqual(pageErrors, []);
});

test('the Events timeline: a stopped engine shows as NodeOffline and the volume degraded, filtered, linked to the volume', { skip: noBrowser, timeout: 300_000 }, async () => {
  const url = (plane as ControlPlaneProcess).url;
  const v = volume as Volume;
  const other = v.replicaStates.map((r) => r.nodeId).find((n) => n !== front) as string;
  await engines.get(other)!.stop();
  engines.delete(other);
  await waitFor('NodeOffline and VolumeDegraded over REST', async () => {
    const r = await cp<{ events: { type: string }[] }>(url, 'GET', '/v1/events?type=NodeOffline,VolumeDegraded');
    return r.body.events.length >= 2 ? true : undefined;
  }, 60_000, 500);

  const { page } = ui as DashboardBrowser;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click();
  const timeline = page.getByRole('table', { name: 'Event timeline' });
  const offline = timeline.getByRole('row').filter({ hasText: `node/${other}` }).filter({ hasText: 'NodeOffline' });
  await offline.waitFor();
  assert.match(await offline.innerText(), new RegExp(`NodeOffline warning\\s+node/${other}\\s+HeartbeatMissed\\s+node ${other} is offline: no heartbeat within the deadline`));
  assert.equal(await page.getByRole('link', { name: 'Events' }).getAttribute('aria-current'), 'page');

  await page.getByRole('combobox', { name: 'Event type' }).selectOption('VolumeDegraded');
  await page.getByRole('status').filter({ hasText: /^1 of the latest \d+ events\.$/ }).waitFor();
  const degraded = timeline.getByRole('row').filter({ hasText: 'VolumeDegraded' });
  assert.match(await degraded.innerText(), /VolumeDegraded warning\s+volume\/pvc-live\s+ReplicasNotOnline\s+volume pvc-live is degraded: 1 of 2 replicas online; \S+ missing/);
  await page.getByRole('searchbox', { name: 'Filter by object or message' }).fill('no-such-thing');
  await page.getByRole('status').filter({ hasText: /^0 of the latest/ }).waitFor();
  await page.getByRole('searchbox', { name: 'Filter by object or message' }).fill('pvc-live');

  const tree = await page.getByRole('main').ariaSnapshot();
  for (const want of ['heading "Events"', 'combobox "Event type"', 'searchbox "Filter by object or message"', 'table "Event timeline"', 'table "Operations in progress"']) {
    assert.ok(tree.includes(want), `aria snapshot lacks ${want}:\n${tree}`);
  }
  await page.getByRole('combobox', { name: 'Event type' }).selectOption('');
  await page.getByRole('searchbox', { name: 'Filter by object or message' }).fill('');
  await page.evaluate('document.activeElement.blur(); window.scrollTo(0, 0)');
  await sleep(200);
  await ui!.screenshot('events', true);

  // From the timeline to the volume: its page lists the same events.
  await timeline.getByRole('row').filter({ hasText: 'VolumeDegraded' }).getByRole('link', { name: 'volume/pvc-live' }).click();
  await page.getByRole('heading', { name: 'Volume pvc-live' }).waitFor();
  const own = page.getByRole('table', { name: 'Volume events' });
  await own.getByRole('row').filter({ hasText: 'VolumeDegraded' }).waitFor();
  assert.match(await page.getByRole('list', { name: 'Chain from pod to node' }).innerText(), /PVC\s+ops\/metrics-db/);
  assert.deepEqual(pageErrors, []);
});
