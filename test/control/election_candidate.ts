/**
 * A control-plane candidate in its own process for the election test:
 * `node election_candidate.ts ENDPOINT KEY NAME`. When it wins it writes `state/NAME`
 * under its fence and prints `LEADER <fence create revision>`; then it keeps its lease
 * alive until killed.
 */
import { EtcdClient } from '../../src/control/store/etcd_client.ts';
import { EtcdElection } from '../../src/control/store/etcd_election.ts';
import { EtcdStore } from '../../src/control/store/etcd_store.ts';

const [endpoint, key, name] = process.argv.slice(2);
const client = new EtcdClient({ endpoints: [endpoint] });
const election = new EtcdElection({ client, key, candidate: name, ttlSeconds: 2, retryMs: 200 });
const leadership = await election.campaign();
await new EtcdStore({ client }).put(`state/${name}`, `written by ${name}`, { fence: leadership.fence });
process.stdout.write(`LEADER ${leadership.fence.createRevision}\n`);
