import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { ApiClient } from './api_client.ts';
import { openCreateTarget } from '../pool/pool_create.ts';

test('API_UNREACHABLE says how to start the engine', async () => {
  // A port that was free a moment ago: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const err = await new ApiClient(`http://127.0.0.1:${port}`).get('/v1/health').then(() => undefined, (e: unknown) => e as { code: string; message: string });
  assert.equal(err?.code, 'API_UNREACHABLE');
  assert.match(err!.message, /cannot reach the engine API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is the engine running\? Start it with `npm start` .* bin\/berth-engine, or point --api or \$BERTH_API at it/);
});

test('a pool file created without a size names the CLI flag, not only the API field', async () => {
  const dir = mkdtempSync(join(tmpdir(), `berth-msg-${process.pid}-`));
  try {
    await assert.rejects(openCreateTarget(join(dir, 'p.pool'), undefined), /p\.pool does not exist yet: a new pool file needs a size \(--size on the CLI, sizeBytes in the API\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
