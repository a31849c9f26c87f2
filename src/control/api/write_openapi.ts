import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../util/log.ts';
import { NodeRegistry } from '../registry/node_registry.ts';
import { SqliteStore } from '../store/sqlite_store.ts';
import { connectEngine } from '../engine_client/engine_client.ts';
import { ServiceContext, createServices } from '../service/index.ts';
import { buildControlApi } from './api_server.ts';
import { EventLog } from '../events/index.ts';
import { IoSampler } from '../io_samples/index.ts';

/**
 * Writes docs/openapi.json from the routes' schemas: `node src/control/api/write_openapi.ts`.
 * A test checks that the document a running control plane serves equals the file.
 */
const store = new SqliteStore({ path: ':memory:' });
const ctx = new ServiceContext({ store, engines: connectEngine(), registry: new NodeRegistry(Date.now()), logger: silentLogger() });
const app = await buildControlApi(createServices(ctx), silentLogger(), {
  storeKind: 'sqlite', events: new EventLog({ store }),
  io: { sampler: new IoSampler({ ctx, fetchMetrics: async () => '' }), engineGet: async () => ({}) },
});
const res = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'openapi.json');
writeFileSync(out, `${JSON.stringify(JSON.parse(res.body), null, 2)}\n`);
await app.close();
await store.close();
process.stdout.write(`wrote ${out}\n`);
