import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINK_MTU, NET_PATHS, VXLAN_MTU, pathPlans, urlVia } from './netpath_topology.ts';
import { netpathMarkdown, netpathRows, type NetpathResult } from './netpath.ts';
import type { FioResult } from './fio.ts';

const ns = { server: 's', clients: { veth: 'cv', bridge: 'cb', vxlan: 'cx' }, hub: 'h' };

test('every link is made inside the bench\'s namespaces; addresses only there', () => {
  const plans = pathPlans(ns);
  assert.deepEqual(plans.map((p) => p.path), [...NET_PATHS]);
  const ours = new Set(['s', 'cv', 'cb', 'cx', 'h']);
  for (const p of plans) {
    for (const args of p.setup) {
      // Either `-n NS …` or `link add DEV netns NS … peer … netns NS`: never the host's own namespace.
      if (args[0] === '-n') assert.ok(ours.has(args[1]), args.join(' '));
      else {
        assert.deepEqual(args.slice(0, 2), ['link', 'add']);
        const nss = args.flatMap((a, i) => (a === 'netns' ? [args[i + 1]] : []));
        assert.equal(nss.length, 2, args.join(' '));
        for (const n of nss) assert.ok(ours.has(n));
      }
    }
  }
  assert.equal(plans[0].clientNs, 's', 'host network: fio beside the engine, over loopback');
  assert.equal(plans[0].portalIp, '127.0.0.1');
});

test('the paths: a veth pair, a bridge in the hub, VXLAN over a veth underlay, with CNI-like MTUs', () => {
  const [, veth, bridge, vxlan] = pathPlans(ns);
  const flat = (p: { setup: string[][] }): string => p.setup.map((a) => a.join(' ')).join('\n');
  assert.match(flat(veth), /link add nv0 netns s mtu 1500 type veth peer name nv0 netns cv mtu 1500/);
  assert.equal(veth.clientNs, 'cv');
  assert.match(flat(bridge), /-n h link add nbr0 type bridge/);
  assert.match(flat(bridge), /-n h link set nbs master nbr0 up\n-n h link set nbc master nbr0 up/);
  assert.match(flat(vxlan), /-n s link add nvx0 type vxlan id 4242 local 10\.231\.3\.1 remote 10\.231\.3\.2 dstport 4789 dev nu0/);
  assert.match(flat(vxlan), /-n cx link add nvx0 type vxlan id 4242 local 10\.231\.3\.2 remote 10\.231\.3\.1/);
  assert.equal(vxlan.portalIp, '10.231.4.1', 'fio dials the overlay address, not the underlay');
  assert.deepEqual([veth.mtu, bridge.mtu, vxlan.mtu], [LINK_MTU, LINK_MTU, VXLAN_MTU]);
  // Each path its own subnet: no path's address is reachable over another path's link.
  const subnets = [veth, bridge, vxlan].map((p) => p.portalIp.split('.').slice(0, 3).join('.'));
  assert.equal(new Set(subnets).size, 3);
});

test('the portal host in the export\'s URL is replaced, the port and target kept', () => {
  assert.equal(urlVia('iscsi://0.0.0.0:3260/iqn.2026-11.io.berth:p-v/0', '10.231.1.1'), 'iscsi://10.231.1.1:3260/iqn.2026-11.io.berth:p-v/0');
  assert.equal(urlVia('iscsi://127.0.0.1/iqn.x:y/1', '10.0.0.1'), 'iscsi://10.0.0.1/iqn.x:y/1');
});

const fio = (iops: number, mib: number): FioResult => ({ iops, mibPerSec: mib, p50us: 1, p99us: 2, bytes: 1, runtimeMs: 1 });

test('the table: figures per path with ratios to host network; a failed cell says so', () => {
  const [rr, rw, sr, sw] = netpathRows();
  const r: NetpathResult = {
    paths: pathPlans(ns).map(({ path, title, mtu }) => ({ path, title, mtu })),
    results: {
      host: { [rr.id]: fio(40000, 1), [rw.id]: fio(30000, 1), [sr.id]: fio(1, 800), [sw.id]: fio(1, 600) },
      veth: { [rr.id]: fio(20000, 1), [rw.id]: fio(30000, 1), [sr.id]: fio(1, 400), [sw.id]: fio(1, 600) },
      bridge: { [rr.id]: fio(10000, 1), [rw.id]: { error: 'fio: connection refused' }, [sr.id]: fio(1, 200), [sw.id]: fio(1, 300) },
      vxlan: {},
    },
    runtimeS: 10, rounds: 3, volumeBytes: 2 ** 30,
  };
  const md = netpathMarkdown(r);
  assert.match(md, /\| host network \(loopback\) \| 65536 \| 40,000 IOPS \| 30,000 IOPS \| 800 MiB\/s \| 600 MiB\/s \|/);
  assert.match(md, /\| veth pair \| 1500 \| 20,000 IOPS \(0\.50×\) \| 30,000 IOPS \(1\.00×\) \| 400 MiB\/s \(0\.50×\) \| 600 MiB\/s \(1\.00×\) \|/);
  assert.match(md, /\| 10,000 IOPS \(0\.25×\) \| error: fio: connection refused \|/);
  assert.match(md, /VXLAN .*\| 1450 \| error: no run \|/);
  assert.match(md, /median of 3 round/);
});
