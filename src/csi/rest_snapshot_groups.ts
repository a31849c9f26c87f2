/** SnapshotGroupClient over the control plane's REST API (/v1/snapshot-groups, /v1/snapshots/:id/blocks). */
import type { Snapshot } from './backend.ts';
import { GroupSnapshotNotFoundError, NameConflictError, PreconditionError, SnapshotNotFoundError } from './csi_errors.ts';
import type { BlockPage, GroupSnapshot, SnapshotGroupClient } from './group_backend.ts';
import { mapRestError, type RestSubject } from './rest_errors.ts';
import { RestError, RestTransport, type RestTransportOptions } from './rest_transport.ts';
import { snapshotFromRest, type RestSnapshot } from './rest_views.ts';

interface RestGroup {
  id: string;
  name: string;
  volumeIds: string[];
  createdAtMs: number;
  snapshots: RestSnapshot[];
}

const seg = encodeURIComponent;

function groupFromRest(g: RestGroup): GroupSnapshot {
  const snapshots: Snapshot[] = (g.snapshots ?? []).map((s) => ({ ...snapshotFromRest(s), groupSnapshotId: g.id }));
  return { id: g.id, name: g.name, volumeIds: g.volumeIds ?? [], snapshots, createdAtMs: g.createdAtMs };
}

export class RestSnapshotGroups implements SnapshotGroupClient {
  private readonly http: RestTransport;

  constructor(opts: RestTransportOptions) {
    this.http = new RestTransport(opts);
  }

  async createGroupSnapshot(name: string, volumeIds: readonly string[]): Promise<GroupSnapshot> {
    return groupFromRest(await this.call<RestGroup>('POST', '/v1/snapshot-groups', { snapshotName: name }, { name, volumeIds }));
  }

  async getGroupSnapshot(id: string): Promise<GroupSnapshot | undefined> {
    try {
      return groupFromRest(await this.call<RestGroup>('GET', `/v1/snapshot-groups/${seg(id)}`, { snapshotId: id }));
    } catch (err) {
      if (err instanceof GroupSnapshotNotFoundError) return undefined;
      throw err;
    }
  }

  async deleteGroupSnapshot(id: string): Promise<void> {
    await this.call('DELETE', `/v1/snapshot-groups/${seg(id)}`, { snapshotId: id, deleting: true });
  }

  async snapshotBlocks(snapshotId: string, q: { base?: string; startingOffset: number; maxResults?: number }): Promise<BlockPage> {
    const p = new URLSearchParams({ startingOffset: String(q.startingOffset) });
    if (q.base !== undefined) p.set('base', q.base);
    if (q.maxResults !== undefined) p.set('maxResults', String(q.maxResults));
    return await this.call<BlockPage>('GET', `/v1/snapshots/${seg(snapshotId)}/blocks?${p}`, { snapshotId });
  }

  /** The group and changed-block codes first; the rest as every other control-plane call. */
  private async call<T>(method: string, path: string, subject: RestSubject, body?: unknown): Promise<T> {
    try {
      return (await this.http.request<T>(method, path, body)).body;
    } catch (err) {
      if (err instanceof RestError) {
        switch (err.restCode) {
          case 'GROUP_SNAPSHOT_NOT_FOUND':
            throw new GroupSnapshotNotFoundError(subject.snapshotId ?? '?');
          case 'GROUP_SNAPSHOT_EXISTS':
            throw new NameConflictError('group snapshot', subject.snapshotName ?? '?', `other source volumes (${err.detail})`);
          case 'SNAPSHOT_NOT_FOUND':
            throw new SnapshotNotFoundError(subject.snapshotId ?? '?');
          case 'SNAPSHOTS_NOT_COMPARABLE':
            throw new PreconditionError(err.detail);
          default:
            break;
        }
        if (method === 'DELETE' && err.status === 404 && err.restCode !== 'ROUTE_NOT_FOUND') return undefined as T;
      }
      throw mapRestError(err, subject);
    }
  }
}
