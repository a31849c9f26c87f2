import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quickstartBanner, stoppedMessage } from './quickstart_banner.ts';
import type { ExportView, PoolView } from './engine_types.ts';

const GiB = 2 ** 30;
const exp = (pool: string, volume: string): ExportView => ({
  pool, volume, targetIqn: `iqn.2026-11.io.berth:${pool}.${volume}`, lun: 0, portal: '127.0.0.1:3260',
  url: `iscsi://127.0.0.1:3260/iqn.2026-11.io.berth:${pool}.${volume}/0`, allowedInitiators: null, chap: null, state: 'online',
});
const pool = (name: string, volumes: number): PoolView => ({
  name, uuid: 'u', path: `/d/${name}.pool`, state: 'online', formatVersion: 1, extentSize: 2 ** 20, capacityBytes: 16 * GiB,
  usedBytes: 0, freeBytes: 16 * GiB, volumeCount: volumes, thinProvisionedBytes: 0,
} as unknown as PoolView);

test('a restart banner lists every pool and export it brought back, and what is new', () => {
  const demo = exp('default', 'demo');
  const text = quickstartBanner({
    apiUrl: 'http://127.0.0.1:9500', portal: '127.0.0.1:3260', dataDir: '/d', demo,
    pools: [pool('default', 1), pool('fast', 2), { name: 'gone', path: '/x', state: 'faulted', reason: 'file missing' }],
    exports: [demo, exp('fast', 'pg'), exp('fast', 'kafka')],
    broughtBack: { pools: ['default', 'fast', 'gone'], exports: ['default/demo', 'fast/pg'] },
  });
  assert.match(text, /Brought back from \/d: 3 pools, 2 exports\./);
  assert.match(text, /^ {4}default {2}16 GiB, 1 volume, 16 GiB free$/m);
  assert.match(text, /^ {4}fast {2}16 GiB, 2 volumes/m);
  assert.match(text, /^ {4}gone {2}FAULTED: file missing$/m);
  assert.match(text, /^ {4}fast\/pg {2}iscsi:\/\/\S+\/iqn\.2026-11\.io\.berth:fast\.pg\/0$/m);
  assert.match(text, /^ {4}fast\/kafka {2}\S+ {3}\(new\)$/m);
  // qemu-io without -f raw probes the format and restricts writes to block 0.
  assert.match(text, /qemu-io -f raw -c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' iscsi:\/\/127\.0\.0\.1:3260\/iqn\.2026-11\.io\.berth:default\.demo\/0/);
  assert.match(text, /^ {2}bin\/berth volume list$/m);
});

test('a first start says nothing was brought back; the CLI line names a non-default API', () => {
  const demo = exp('default', 'demo');
  const text = quickstartBanner({ apiUrl: 'http://127.0.0.1:9999', portal: '127.0.0.1:3260', dataDir: '/d', demo, pools: [pool('default', 1)], exports: [demo], broughtBack: { pools: [], exports: [] } });
  assert.doesNotMatch(text, /Brought back/);
  assert.match(text, /default {2}16 GiB, 1 volume, 16 GiB free {3}\(new\)/);
  assert.match(text, /bin\/berth --api http:\/\/127\.0\.0\.1:9999 export list/);
});

test('Ctrl-C says what it stopped', () => {
  assert.equal(stoppedMessage('SIGINT', ['default'], ['default/demo'], 2),
    '\nBerth stopped (SIGINT): closed 2 iSCSI sessions and the API; exports closed: default/demo; pools flushed and checkpointed: default. Data stays in place for the next start.\n');
});
