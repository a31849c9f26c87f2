import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { buildDir } from '../helpers/tools.ts';
import { nsRun } from '../helpers/netns.ts';
import { Cluster, MiB, allOnline, createNexus, prepareReplicas, replicaOn, sleep, volumeDigest, waitFor, type NetNode, type NodeEngine } from './replication_kit.ts';

const FIO = join(buildDir, 'fio', 'fio');
const VOLUME = 'vol-fio';
const SIZE = 64 * MiB;
let cluster: Cluster | undefined;
after(async () => { await cluster?.destroy(); });

/** One fio pass: random 16k writes over 48 MiB, then read back and check every block's crc32c. */
async function fioPass(client: NetNode, url: string): Promise<{ ok: boolean; detail: string }> {
  const r = await nsRun(client.ns, FIO, [
    '--name=faults', '--ioengine=libiscsi', `--filename=${url.replace(/:/g, '\\:')}`, '--rw=randwrite', '--bs=16k',
    '--iodepth=16', '--size=48M', '--thread', '--verify=crc32c', '--do_verify=1', '--verify_fatal=1', '--verify_state_save=0', '--output-format=json',
  ], { timeoutMs: 300_000, check: false });
  let jobError = -1;
  let verified = 0;
  try {
    const doc = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ error: number; read: { io_bytes: number }; write: { io_bytes: number } }> };
    jobError = doc.jobs[0].error;
    // The verify phase reads back everything written: proof that it ran.
    verified = Math.min(doc.jobs[0].read.io_bytes, doc.jobs[0].write.io_bytes);
  } catch { /* reported below */ }
  const ok = r.code === 0 && jobError === 0 && verified >= 48 * MiB;
  return { ok, detail: `exit ${r.code}, job error ${jobError}, verified ${verified} bytes\n${r.stderr.slice(-2000)}${r.stdout.slice(-1000)}` };
}

test('replication_fio_faults: fio verify over 3 replicas while one is killed and one cut off — no errors, replicas identical', { timeout: 600_000 }, async (t) => {
  if (!existsSync(FIO)) assert.fail(`${FIO} is missing: run scripts/build-fio.sh`);
  cluster = await Cluster.create(4);
  const [client, n1, n2, n3] = cluster.nodes;
  const front = await cluster.startEngine(n1);
  const killed = await cluster.startEngine(n2);
  const cut = await cluster.startEngine(n3);
  const engines: NodeEngine[] = [front, killed, cut];
  await prepareReplicas(engines, VOLUME, SIZE);
  const { url } = await createNexus(front, engines, VOLUME);

  let stop = false;
  let passes = 0;
  const failures: string[] = [];
  const load = (async () => {
    do {
      const p = await fioPass(client, url);
      passes++;
      if (!p.ok) failures.push(p.detail);
    } while (!stop && failures.length === 0);
  })();

  await sleep(3000);
  await killed.kill();
  await sleep(2000);
  await cluster.cut(n3);
  await waitFor(front, VOLUME, 'both replicas retired',
    (d) => replicaOn(d, killed).state === 'faulted' && replicaOn(d, cut).state === 'faulted', 30_000);
  await sleep(2000);
  await killed.restart();
  await cluster.heal(n3);
  const healed = await waitFor(front, VOLUME, 'all replicas back online', allOnline, 180_000);
  t.diagnostic(`passes so far: ${passes}; rebuilds: ${JSON.stringify(healed.replicas.map((r) => [r.node, r.lastRebuild]))}`);
  stop = true;
  await load;
  // One more full pass with every replica in sync.
  const final = await fioPass(client, url);
  if (!final.ok) failures.push(final.detail);
  assert.deepEqual(failures, [], `fio reported errors after ${passes} passes`);
  assert.ok(passes >= 1);

  for (const e of engines) await e.stop();
  const digests = await Promise.all(engines.map((e) => volumeDigest(e, VOLUME)));
  assert.equal(new Set(digests).size, 1, `replicas differ: ${digests.join(' ')}`);
});
