import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Engine } from '../engine.ts';
import { BerthError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { buildApiServer } from './api_server.ts';

function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: pino<never>({ level: 'trace' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } }), lines };
}

test('an expected refusal (NO_SPACE) is not logged as an error with a stack; an unexpected failure is', async () => {
  const engine = {
    portal: { host: '127.0.0.1', port: 3260 },
    listPools: () => [],
    listVolumes: async () => [],
    createVolume: async () => { throw new BerthError('NO_SPACE', "pool 'p' lacks 3 GiB for the thick volume 'v' of 4 GiB"); },
    deleteVolume: async () => { throw new Error('disk on fire'); },
  } as unknown as Engine;
  const { logger, lines } = capturingLogger();
  const app = await buildApiServer(engine, logger);
  try {
    const full = await app.inject({ method: 'POST', url: '/v1/pools/p/volumes', payload: { name: 'v', sizeBytes: 4 * 2 ** 30 } });
    assert.equal(full.statusCode, 507);
    const refusal = lines.find((l) => l.code === 'NO_SPACE');
    assert.ok(refusal, JSON.stringify(lines));
    assert.ok((refusal.level as number) < 40, `logged at level ${String(refusal.level)}`);
    assert.equal(refusal.err, undefined, 'no error object, so no stack');
    assert.ok(!lines.some((l) => (l.level as number) >= 50));

    const broken = await app.inject({ method: 'DELETE', url: '/v1/pools/p/volumes/v' });
    assert.equal(broken.statusCode, 500);
    const failure = lines.find((l) => (l.level as number) >= 50);
    assert.match(String((failure?.err as { stack?: string } | undefined)?.stack), /disk on fire/);
  } finally {
    await app.close();
  }
});
