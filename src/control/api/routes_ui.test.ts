import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';

test('the dashboard is served without a token, its TypeScript as JavaScript; the data behind it still needs the token', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite', authTokens: ['t0ken-for-the-dashboard-test'] });
  try {
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/ui/');

    const page = await app.inject({ method: 'GET', url: '/ui/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.match(page.body, /<script type="module" src="web\/app.ts">/);

    const script = await app.inject({ method: 'GET', url: '/ui/web/api_client.ts' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    assert.match(script.body, /export async function apiGet/);
    assert.doesNotMatch(script.body, /apiGet<T>|: Promise<T>/, 'types stripped: a browser can run it');
    assert.equal((await app.inject({ method: 'GET', url: '/ui/view_model.ts' })).statusCode, 200);

    // Only the listed files: nothing from the URL reaches the file system.
    for (const url of ['/ui/assets.ts', '/ui/web/tsconfig.json', '/ui/..%2fassets.ts', '/ui/web/..%2f..%2fcontrol%2fmain.ts']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, url);
    }
    const data = await app.inject({ method: 'GET', url: '/v1/volumes' });
    assert.equal(data.statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/volumes', headers: { authorization: 'Bearer t0ken-for-the-dashboard-test' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/ui/' })).statusCode, 401, 'open for reading only');
  } finally {
    await app.close();
    await kit.close();
  }
});
