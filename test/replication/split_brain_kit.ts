/**
 * Helpers of the split-brain suites: per-peer partitions (a blackhole route in one
 * node's namespace, so that node can neither reach nor answer the peer) and checks that
 * a nexus refused a write or acknowledged it.
 */
import assert from 'node:assert/strict';
import { run } from '../helpers/tools.ts';
import { qemuIo, type NetNode } from './replication_kit.ts';

/** Drops every packet `node` sends to `peer` (both directions fail: no replies either). */
export async function blackhole(node: NetNode, peer: NetNode): Promise<void> {
  await run('ip', ['-n', node.ns, 'route', 'add', 'blackhole', `${peer.ip}/32`]);
}

export async function unblackhole(node: NetNode, peer: NetNode): Promise<void> {
  await run('ip', ['-n', node.ns, 'route', 'del', 'blackhole', `${peer.ip}/32`], { check: false });
}

/** qemu-io from `from` must fail the write: a stale nexus acknowledges nothing. */
export async function assertWriteRefused(from: NetNode, url: string, cmd: string, what: string): Promise<string> {
  const r = await qemuIo(from, url, [cmd], false);
  assert.ok(r.code !== 0 || /error|fail/i.test(r.out), `${what}: the stale nexus acknowledged "${cmd}":\n${r.out}`);
  return r.out;
}
