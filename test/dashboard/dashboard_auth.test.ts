/**
 * The dashboard on a control plane that demands a token (docs/security.md): the page
 * loads, its API reads are refused (401) and it asks for the token; a wrong token is
 * refused and asked for again; the right one shows the fleet and is sent on every read;
 * "Forget token" drops it from the tab.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { noBrowser, openBrowser, type DashboardBrowser } from './browser.ts';

const dir = mkdtempSync(join(tmpdir(), `berth-dashboard-auth-${process.pid}-`));
let plane: ControlPlaneProcess | undefined;
let engine: EngineProcess | undefined;
let ui: DashboardBrowser | undefined;

after(async () => {
  await ui?.close();
  await engine?.stop();
  await plane?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('with a token configured: no data without it, a sign-in prompt, the fleet with it', { skip: noBrowser, timeout: 240_000 }, async () => {
  const token = randomBytes(32).toString('hex');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}`, args: ['--auth-token-file', tokenFile] });
  engine = await startEngine({ authToken: token, args: ['--control-plane', plane.url, '--node-id', 'node-secure', '--labels', 'zone=zone-a,storageGroup=rack-1,media=ssd'] });
  ui = await openBrowser();
  const { page } = ui;
  const statuses: { path: string; status: number; auth: boolean }[] = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/v1/')) statuses.push({ path: u.pathname, status: r.status(), auth: r.request().headers().authorization !== undefined });
  });

  await page.goto(`${plane.url}/ui/`);
  const prompt = page.getByRole('form', { name: 'Sign in' });
  await prompt.getByText('This control plane needs an API token').waitFor();
  assert.ok(statuses.length > 0 && statuses.every((s) => s.status === 401 && !s.auth), JSON.stringify(statuses));
  assert.equal(await page.getByRole('table', { name: 'Nodes' }).count(), 0, 'no data on the page');
  assert.equal(await page.getByLabel('API token').getAttribute('type'), 'password');
  await ui.screenshot('sign-in');

  await page.getByLabel('API token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await prompt.getByText('The control plane refused that token.').waitFor();

  statuses.length = 0;
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const row = page.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'node-secure' });
  await row.waitFor();
  assert.match(await row.innerText(), /zone-a\s+rack-1/);
  assert.ok(statuses.some((s) => s.status === 200 && s.auth), JSON.stringify(statuses));
  assert.equal(await page.evaluate<string | null>('sessionStorage.getItem("berth.dashboard.token")'), token, 'kept for the tab');
  assert.equal(await page.evaluate<string | null>('localStorage.length === 0 ? null : "stored"'), null, 'never in local storage');

  await page.getByRole('button', { name: 'Forget token' }).click();
  await prompt.waitFor();
  assert.equal(await page.evaluate<string | null>('sessionStorage.getItem("berth.dashboard.token")'), null);
});
