// A replica server in its own process, so a test can kill -9 it mid-I/O.
// Usage: node replica_server_process.ts VOLUME BLOCKS; prints {"port":N} when ready.
import { ReplicaServer } from '../../src/replica/replica_server.ts';
import { MemoryGenerationStore } from '../../src/replica/replica_generations.ts';
import { TestDevice } from '../../src/nexus/nexus_test_devices.ts';

const [volume, blocks] = process.argv.slice(2);
const device = new TestDevice(Number(blocks));
const server = new ReplicaServer({ resolve: (v) => (v === volume ? device : undefined), generations: new MemoryGenerationStore() });
const { port } = await server.listen(0, '127.0.0.1');
process.stdout.write(JSON.stringify({ port }) + '\n');
