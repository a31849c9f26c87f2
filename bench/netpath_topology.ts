/**
 * The network paths of the network-path bench, as data: for each path, the `ip`
 * commands that build it between the server namespace (the Berth engine) and a client
 * namespace (fio), and the portal fio dials. Pure: names in, argument lists out. All
 * links live inside namespaces the bench creates (deleting them deletes the links) and
 * every address exists only there.
 */

export const NetPath = { host: 'host', veth: 'veth', bridge: 'bridge', vxlan: 'vxlan' } as const;
export type NetPath = (typeof NetPath)[keyof typeof NetPath];
export const NET_PATHS: readonly NetPath[] = [NetPath.host, NetPath.veth, NetPath.bridge, NetPath.vxlan];

export interface PathNamespaces {
  /** Where the engine runs (and, for the host row, fio too: loopback, as with hostNetwork). */
  server: string;
  /** The client namespace of each other path. */
  clients: Record<Exclude<NetPath, 'host'>, string>;
  /** Holds the bridge of the bridge path (a switch that is neither endpoint). */
  hub: string;
}

export interface PathPlan {
  path: NetPath;
  title: string;
  /** Namespace fio runs in. */
  clientNs: string;
  /** Address fio dials (the iSCSI portal's host). */
  portalIp: string;
  /** MTU of the link fio's packets cross (65536: loopback). */
  mtu: number;
  /** The client's device on the path: its byte counters show the traffic took it. */
  device: string;
  /** `ip` argument lists, in order. */
  setup: string[][];
}

/** The MTU a CNI gives pods on a plain 1500-byte network; VXLAN's is 50 bytes less (its header). */
export const LINK_MTU = 1500;
export const VXLAN_MTU = LINK_MTU - 50;
const VXLAN_ID = '4242';
const VXLAN_PORT = '4789';

/** Addresses in 10.231.0.0/16: one /24 per path (namespaces do not share routes with the host). */
const net = (k: number, host: number): string => `10.231.${k}.${host}`;

function addrUp(ns: string, dev: string, ip: string): string[][] {
  return [['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev], ['-n', ns, 'link', 'set', dev, 'up']];
}

function vethPair(a: string, aDev: string, b: string, bDev: string): string[] {
  return ['link', 'add', aDev, 'netns', a, 'mtu', String(LINK_MTU), 'type', 'veth', 'peer', 'name', bDev, 'netns', b, 'mtu', String(LINK_MTU)];
}

export function pathPlans(ns: PathNamespaces): PathPlan[] {
  const s = ns.server;
  const { veth: cv, bridge: cb, vxlan: cx } = ns.clients;
  const vx = (here: string, local: string, remote: string): string[] => [
    '-n', here, 'link', 'add', 'nvx0', 'type', 'vxlan', 'id', VXLAN_ID, 'local', local, 'remote', remote, 'dstport', VXLAN_PORT, 'dev', 'nu0',
  ];
  return [
    { path: NetPath.host, title: 'host network (loopback)', clientNs: s, portalIp: '127.0.0.1', mtu: 65536, device: 'lo', setup: [['-n', s, 'link', 'set', 'lo', 'up']] },
    {
      path: NetPath.veth, title: 'veth pair', clientNs: cv, portalIp: net(1, 1), mtu: LINK_MTU, device: 'nv0',
      setup: [['-n', cv, 'link', 'set', 'lo', 'up'], vethPair(s, 'nv0', cv, 'nv0'), ...addrUp(s, 'nv0', net(1, 1)), ...addrUp(cv, 'nv0', net(1, 2))],
    },
    {
      path: NetPath.bridge, title: 'Linux bridge (veth – bridge – veth)', clientNs: cb, portalIp: net(2, 1), mtu: LINK_MTU, device: 'nb0',
      setup: [
        ['-n', cb, 'link', 'set', 'lo', 'up'],
        ['-n', ns.hub, 'link', 'add', 'nbr0', 'type', 'bridge'], ['-n', ns.hub, 'link', 'set', 'nbr0', 'up'],
        vethPair(s, 'nb0', ns.hub, 'nbs'), vethPair(cb, 'nb0', ns.hub, 'nbc'),
        ['-n', ns.hub, 'link', 'set', 'nbs', 'master', 'nbr0', 'up'], ['-n', ns.hub, 'link', 'set', 'nbc', 'master', 'nbr0', 'up'],
        ...addrUp(s, 'nb0', net(2, 1)), ...addrUp(cb, 'nb0', net(2, 2)),
      ],
    },
    {
      path: NetPath.vxlan, title: `VXLAN overlay over a veth underlay (VNI ${VXLAN_ID})`, clientNs: cx, portalIp: net(4, 1), mtu: VXLAN_MTU, device: 'nvx0',
      setup: [
        ['-n', cx, 'link', 'set', 'lo', 'up'],
        vethPair(s, 'nu0', cx, 'nu0'), ...addrUp(s, 'nu0', net(3, 1)), ...addrUp(cx, 'nu0', net(3, 2)),
        vx(s, net(3, 1), net(3, 2)), vx(cx, net(3, 2), net(3, 1)),
        ['-n', s, 'link', 'set', 'nvx0', 'mtu', String(VXLAN_MTU)], ['-n', cx, 'link', 'set', 'nvx0', 'mtu', String(VXLAN_MTU)],
        ...addrUp(s, 'nvx0', net(4, 1)), ...addrUp(cx, 'nvx0', net(4, 2)),
      ],
    },
  ];
}

/** The engine's URL with another portal host (the export names the one it was made on). */
export function urlVia(url: string, ip: string): string {
  return url.replace(/^iscsi:\/\/[^/:]+(:\d+)?\//, (_m, port: string | undefined) => `iscsi://${ip}${port ?? ''}/`);
}
