/**
 * RestControlPlane: the CSI controller's ControlPlaneClient over the control plane's
 * REST API (docs/control-plane-api.md). The control plane owns the state and its
 * idempotency (a volume's id follows from its name, a create with the same name and
 * parameters answers the same volume); this client translates, and maps the answer
 * codes to the driver's errors (rest_errors.ts).
 */
import type { Publication } from './capabilities.ts';
import type {
  Capacity,
  ControlPlaneClient,
  CreateVolumeArgs,
  Page,
  PageRequest,
  PublishContext,
  Snapshot,
  TopologySegment,
  Volume,
} from './backend.ts';
import { ControlPlaneUnavailableError, InUseError, SourceNotFoundError } from './csi_errors.ts';
import type { AttachRegistration } from './node_registration.ts';
import { pageOf } from './pagination.ts';
import { capacityFor } from './rest_capacity.ts';
import type { VolumeParameters } from './parameters.ts';
import { ControlPlaneUnsupportedError, mapRestError, type RestSubject } from './rest_errors.ts';
import { chapModeOf, type ChapCredentials } from './chap_secrets.ts';
import { RestError, RestTransport, type RestTransportOptions } from './rest_transport.ts';
import {
  createVolumeBody,
  lunOfTargetUrl,
  snapshotFromRest,
  volumeFromRest,
  type RestNode,
  type RestPool,
  type RestSnapshot,
  type RestVolume,
} from './rest_views.ts';

/** podInfoOnMount facts the node plugin records for a mount. */
export interface PodMountInfo {
  podUid: string;
  podName: string;
  podNamespace: string;
  nodeId?: string;
}

const seg = encodeURIComponent;

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class RestControlPlane implements ControlPlaneClient {
  private readonly http: RestTransport;

  constructor(opts: RestTransportOptions) {
    this.http = new RestTransport(opts);
  }

  get urls(): readonly string[] {
    return this.http.urls;
  }

  /**
   * The volume with this CSI name, parameters read back from the attributes the driver
   * saved with it (rest_views.ts), so the controller can compare a retry's. The control
   * plane has no lookup by name, so this reads the list: O(volumes) per CreateVolume.
   */
  async findVolumeByName(name: string): Promise<Volume | undefined> {
    // The control plane answers only that volume (one read); the name is checked again for one that ignores the query.
    const [list, zones] = await Promise.all([this.call<{ volumes: RestVolume[] }>('GET', `/v1/volumes?name=${encodeURIComponent(name)}`, {}), this.zones()]);
    const found = listOf(list, 'volumes').map(checked).find((v) => v.name === name);
    return found === undefined ? undefined : volumeFromRest(found, zones);
  }

  /** The control plane answers the existing volume for the same name and parameters, or VOLUME_EXISTS. */
  async createVolume(args: CreateVolumeArgs): Promise<Volume> {
    const body = createVolumeBody(args);
    const source = args.contentSource;
    const subject: RestSubject = { volumeName: args.name };
    if (source?.kind === 'snapshot') subject.snapshotId = source.snapshotId;
    let made: RestVolume;
    try {
      made = checked((await this.http.request<RestVolume>('POST', '/v1/volumes', body)).body);
    } catch (err) {
      // A content source that is gone is the CSI "source not found", not a missing volume.
      const code = err instanceof RestError ? err.restCode : undefined;
      if (source?.kind === 'snapshot' && code === 'SNAPSHOT_NOT_FOUND') throw new SourceNotFoundError('snapshot', source.snapshotId);
      if (source?.kind === 'volume' && code === 'VOLUME_NOT_FOUND') throw new SourceNotFoundError('volume', source.volumeId);
      throw mapRestError(err, subject);
    }
    return volumeFromRest(made, await this.zones());
  }

  async deleteVolume(volumeId: string): Promise<void> {
    const v = await this.getRest(volumeId);
    if (v === undefined) return;
    if (v.publishedNodeId !== undefined) throw new InUseError(`volume ${volumeId} is still published to ${v.publishedNodeId}`);
    await this.optional('DELETE', `/v1/volumes/${seg(volumeId)}`, { volumeId, deleting: true });
  }

  async getVolume(volumeId: string): Promise<Volume | undefined> {
    const v = await this.getRest(volumeId);
    return v === undefined ? undefined : volumeFromRest(v, await this.zones());
  }

  async publish(volumeId: string, publication: Publication, chap?: ChapCredentials): Promise<PublishContext> {
    const subject = { volumeId, nodeId: publication.nodeId };
    const body = chap === undefined ? { nodeId: publication.nodeId } : { nodeId: publication.nodeId, chap: chapBody(chap) };
    const v = checked(await this.call<RestVolume>('POST', `/v1/volumes/${seg(volumeId)}/publish`, subject, body));
    if (typeof v.target?.portal !== 'string' || typeof v.target.iqn !== 'string' || typeof v.target.url !== 'string') throw new ControlPlaneUnavailableError(`the control plane published volume ${volumeId} but named no target`);
    const ctx: PublishContext = { targetPortal: v.target.portal, targetIqn: v.target.iqn, lun: lunOfTargetUrl(v.target.url) };
    // What the control plane says the exports demand, not what was asked: an older one ignores chap.
    if (typeof v.chap?.user === 'string') ctx.chap = typeof v.chap.mutualUser === 'string' ? 'mutual' : 'oneway';
    if (chap !== undefined && ctx.chap !== chapModeOf(chap)) throw new ControlPlaneUnsupportedError(`this control plane did not set CHAP on volume ${volumeId}`);
    return ctx;
  }

  async unpublish(volumeId: string, nodeId: string): Promise<void> {
    await this.optional('POST', `/v1/volumes/${seg(volumeId)}/unpublish`, { volumeId, nodeId }, { nodeId });
  }

  async listVolumes(page: PageRequest): Promise<Page<Volume>> {
    const [list, zones] = await Promise.all([this.call<{ volumes: RestVolume[] }>('GET', '/v1/volumes', {}), this.zones()]);
    const sorted = listOf(list, 'volumes').map(checked).sort(byId);
    const out = pageOf(sorted, (v) => v.id, page);
    return { items: out.items.map((v) => volumeFromRest(v, zones)), nextToken: out.nextToken };
  }

  async getCapacity(parameters: VolumeParameters, segment?: TopologySegment): Promise<Capacity> {
    const [pools, nodes, attach] = await Promise.all([
      this.call<{ pools: RestPool[] }>('GET', '/v1/pools', {}),
      this.call<{ nodes: RestNode[] }>('GET', '/v1/nodes', {}),
      // Only a zone-local class asks where a compute-only node is.
      parameters.locality === 'zone' ? this.call<{ attachNodes: { id: string; zone?: string }[] }>('GET', '/v1/attach-nodes', {}) : undefined,
    ]);
    const attachZones = new Map((attach?.attachNodes ?? []).flatMap((n) => (n.zone ? [[n.id, n.zone] as const] : [])));
    return capacityFor({ pools: listOf(pools, 'pools'), nodes: listOf(nodes, 'nodes'), attachZones }, parameters, segment);
  }

  async findSnapshotByName(name: string): Promise<Snapshot | undefined> {
    const list = await this.call<{ snapshots: RestSnapshot[] }>('GET', '/v1/snapshots', { snapshotName: name });
    const s = listOf(list, 'snapshots').map(checkedSnapshot).find((x) => x.name === name);
    return s ? snapshotFromRest(s) : undefined;
  }

  async createSnapshot(name: string, sourceVolumeId: string): Promise<Snapshot> {
    const s = await this.call<RestSnapshot>('POST', '/v1/snapshots', { snapshotName: name, volumeId: sourceVolumeId }, { name, volumeId: sourceVolumeId });
    return snapshotFromRest(checkedSnapshot(s));
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.optional('DELETE', `/v1/snapshots/${seg(snapshotId)}`, { snapshotId, deleting: true });
  }

  async listSnapshots(filter: { sourceVolumeId?: string; snapshotId?: string }, page: PageRequest): Promise<Page<Snapshot>> {
    const query = filter.sourceVolumeId ? `?volumeId=${seg(filter.sourceVolumeId)}` : '';
    const list = await this.call<{ snapshots: RestSnapshot[] }>('GET', `/v1/snapshots${query}`, {});
    const sorted = listOf(list, 'snapshots').map(checkedSnapshot).filter((s) => (filter.snapshotId ? s.id === filter.snapshotId : true)).sort(byId);
    const out = pageOf(sorted, (s) => s.id, page);
    return { items: out.items.map(snapshotFromRest), nextToken: out.nextToken };
  }

  async expandVolume(volumeId: string, requiredBytes: number): Promise<number> {
    const v = checked(await this.call<RestVolume>('PATCH', `/v1/volumes/${seg(volumeId)}`, { volumeId }, { sizeBytes: requiredBytes }));
    return v.sizeBytes;
  }

  async modifyVolume(volumeId: string, changes: { replicas?: number }): Promise<void> {
    if (changes.replicas === undefined) return;
    await this.call('PATCH', `/v1/volumes/${seg(volumeId)}`, { volumeId }, { replicas: changes.replicas });
  }

  /** The node plugin's registration: where volumes can be attached (node_registration.ts). */
  async registerNode(nodeId: string, reg: AttachRegistration): Promise<void> {
    const body: Record<string, unknown> = { initiatorIqn: reg.initiatorIqn };
    if (reg.zone !== undefined) body.zone = reg.zone;
    if (reg.maxVolumes !== undefined) body.maxVolumes = reg.maxVolumes;
    await this.call('PUT', `/v1/nodes/${seg(nodeId)}/attach`, { nodeId }, body);
  }

  /** Records that a pod mounts the volume (CSI podInfoOnMount); shown in the volume's `pods`. */
  async recordPod(volumeId: string, pod: PodMountInfo): Promise<void> {
    const body: Record<string, string> = { podName: pod.podName, podNamespace: pod.podNamespace };
    if (pod.nodeId !== undefined) body.nodeId = pod.nodeId;
    await this.call('PUT', `/v1/volumes/${seg(volumeId)}/pods/${seg(pod.podUid)}`, { volumeId }, body);
  }

  /** Not an error when the record or the volume is gone. */
  async forgetPod(volumeId: string, podUid: string): Promise<void> {
    await this.optional('DELETE', `/v1/volumes/${seg(volumeId)}/pods/${seg(podUid)}`, { volumeId });
  }

  private async getRest(volumeId: string): Promise<RestVolume | undefined> {
    const v = await this.optional<RestVolume>('GET', `/v1/volumes/${seg(volumeId)}`, { volumeId });
    return v === undefined ? undefined : checked(v);
  }

  /** Node id → zone, for volumes' accessible topology. */
  private async zones(): Promise<Map<string, string>> {
    const nodes = await this.call<{ nodes: RestNode[] }>('GET', '/v1/nodes', {});
    return new Map(listOf(nodes, 'nodes').map((n) => [n.id, n.zone]));
  }

  /** One request; any failure as the driver's error. */
  private async call<T>(method: string, path: string, subject: RestSubject, body?: unknown): Promise<T> {
    try {
      return (await this.http.request<T>(method, path, body)).body;
    } catch (err) {
      throw mapRestError(err, subject);
    }
  }

  /** Like call, but a 404 for the resource itself (not a missing route) is undefined. */
  private async optional<T>(method: string, path: string, subject: RestSubject, body?: unknown): Promise<T | undefined> {
    try {
      return (await this.http.request<T>(method, path, body)).body;
    } catch (err) {
      if (err instanceof RestError && err.status === 404 && err.restCode !== 'ROUTE_NOT_FOUND') return undefined;
      throw mapRestError(err, subject);
    }
  }
}

/** A volume answer with the fields every conversion relies on; anything else is a broken peer. */
function checked(v: RestVolume): RestVolume {
  if (typeof v !== 'object' || v === null || typeof v.id !== 'string' || typeof v.name !== 'string' || !Number.isSafeInteger(v.sizeBytes) || !Number.isInteger(v.replicas)) {
    throw new ControlPlaneUnavailableError('the control plane answered with a volume this driver cannot read');
  }
  return v;
}

function checkedSnapshot(s: RestSnapshot): RestSnapshot {
  if (typeof s !== 'object' || s === null || typeof s.id !== 'string' || typeof s.name !== 'string' || typeof s.volumeId !== 'string' || !Number.isSafeInteger(s.sizeBytes)) {
    throw new ControlPlaneUnavailableError('the control plane answered with a snapshot this driver cannot read');
  }
  return s;
}

function listOf<K extends string, T>(body: { [k in K]: T[] } | undefined, key: K): T[] {
  const list = body?.[key];
  if (!Array.isArray(list)) throw new ControlPlaneUnavailableError(`the control plane answered without a '${key}' list`);
  return list;
}

/** The control plane's names for the Secret's CHAP keys. */
function chapBody(c: ChapCredentials): Record<string, string> {
  const out: Record<string, string> = { user: c.username, secret: c.password };
  if (c.mutualUsername !== undefined && c.mutualPassword !== undefined) {
    out.mutualUser = c.mutualUsername;
    out.mutualSecret = c.mutualPassword;
  }
  return out;
}
