import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../../src/control/store/etcd_client.ts';
import { EtcdElection } from '../../src/control/store/etcd_election.ts';
import { revokeLease } from '../../src/control/store/etcd_lease.ts';
import { EtcdStore } from '../../src/control/store/etcd_store.ts';
import { freePort, startEtcd, type EtcdProcess } from './etcd_process.ts';

let etcd: EtcdProcess;
before(async () => { etcd = await startEtcd(); });
after(async () => { await etcd?.stop(); });

const candidateScript = fileURLToPath(new URL('./election_candidate.ts', import.meta.url));

/** Resolves with the first match of `re` in the stream's output. */
async function waitForLine(stream: NodeJS.ReadableStream, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return await new Promise((resolve, reject) => {
    let buf = '';
    const done = (): void => {
      clearTimeout(timer);
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
    };
    const onData = (chunk: unknown): void => {
      buf += String(chunk);
      const m = buf.match(re);
      if (m) { done(); resolve(m); }
    };
    const onEnd = (): void => { done(); reject(new Error(`output ended before ${re}: ${buf}`)); };
    const timer = setTimeout(() => { done(); reject(new Error(`no ${re} within ${timeoutMs} ms: ${buf}`)); }, timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
  });
}

test('the leader process dies; the other candidate takes over and its state survives', async () => {
  const key = 'berth/election-kill';
  const child = spawn(process.execPath, [candidateScript, etcd.endpoint, key, 'a'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const b = new EtcdElection({ client, key, candidate: 'b', ttlSeconds: 2, retryMs: 200 });
  try {
    const [, aFenceText] = await waitForLine(child.stdout, /LEADER (\d+)\n/, 15_000);
    const aFence = { key, createRevision: Number(aFenceText) };
    let bLeads = false;
    const campaign = b.campaign().then((l) => { bLeads = true; return l; });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(bLeads, false, 'b must wait while a holds the lease');
    assert.equal((await b.leader())?.candidate, 'a');

    const killedAt = Date.now();
    process.kill(child.pid as number, 'SIGKILL');
    await exited;
    const leadership = await campaign;
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs < 6000, `takeover took ${takeoverMs} ms`);
    assert.equal((await b.leader())?.candidate, 'b');

    const store = new EtcdStore({ client });
    assert.equal((await store.get('state/a'))?.value, 'written by a', 'state written by the old leader is kept');
    await store.put('state/b', 'written by b', { fence: leadership.fence });
    await assert.rejects(store.put('state/a', 'late write', { fence: aFence }), { code: 'STORE_FENCED' });
    await b.resign();
    assert.equal(await b.leader(), undefined);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await b.resign();
  }
});

test('a leader whose lease is revoked is told; resigning hands over at once', async () => {
  const key = 'berth/election-lease';
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const lost: string[] = [];
  const a = new EtcdElection({ client, key, candidate: 'a', ttlSeconds: 2, retryMs: 100, onLost: (why) => lost.push(why) });
  const b = new EtcdElection({ client, key, candidate: 'b', ttlSeconds: 2, retryMs: 100 });
  try {
    const la = await a.campaign();
    const bWon = b.campaign();
    // Someone (an operator, etcd compaction of a dead member) revokes a's lease.
    await revokeLease(client, la.leaseId);
    const lb = await bWon;
    assert.equal(lb.candidate, 'b');
    assert.ok(lb.fence.createRevision > la.fence.createRevision);
    const deadline = Date.now() + 3000;
    while (lost.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(lost, ['lease expired']);
    assert.equal(a.leadership, undefined);

    const aAgain = a.campaign();
    const t0 = Date.now();
    await b.resign();
    const la2 = await aAgain;
    assert.equal(la2.candidate, 'a');
    assert.ok(Date.now() - t0 < 1500, 'resign hands over without waiting for the TTL');
  } finally {
    await a.resign();
    await b.resign();
  }
});

test('an aborted campaign gives its lease back; an unreachable etcd is waited out, not thrown', async () => {
  const key = 'berth/election-abort';
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const a = new EtcdElection({ client, key, candidate: 'a', ttlSeconds: 30, retryMs: 100 });
  const b = new EtcdElection({ client, key, candidate: 'b', ttlSeconds: 30, retryMs: 100 });
  const leases = async (): Promise<number> =>
    ((await client.call<{ leases?: unknown[] }>('/v3/lease/leases', {})).leases ?? []).length;
  try {
    await a.campaign();
    const before = await leases();
    const ac = new AbortController();
    const waiting = b.campaign(ac.signal);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await leases(), before + 1, 'b holds a lease while it waits');
    ac.abort();
    await assert.rejects(waiting, { name: 'AbortError' });
    assert.equal(await leases(), before, 'the aborted campaign revoked its lease');

    const nowhere = new EtcdElection({
      client: new EtcdClient({ endpoints: [`http://127.0.0.1:${await freePort()}`] }), key, candidate: 'c', retryMs: 50,
    });
    const ac2 = new AbortController();
    const stuck = nowhere.campaign(ac2.signal);
    await new Promise((r) => setTimeout(r, 300));
    ac2.abort();
    await assert.rejects(stuck, { name: 'AbortError' });
  } finally {
    await a.resign();
    await b.resign();
  }
});
