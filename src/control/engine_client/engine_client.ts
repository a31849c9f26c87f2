import { errorCode } from '../../util/errors.ts';
import {
  EngineRequestError, EngineTimeoutError, EngineUnreachableError, NotImplementedError,
} from './engine_client_errors.ts';
import type {
  CreateExportRequest, CreateNexusRequest, CreateReplicaRequest, CreateSnapshotRequest,
  EngineApi, EngineExport, EngineFlush, EngineHealth, ExportChap, EngineNexus, EngineNexusPause, EnginePool, EngineReplica, EngineSnapshot, NexusReplicaRef, SnapshotBlockPage,
} from './engine_client_types.ts';

export interface EngineClientOptions {
  /** host:port or http://host:port of the engine API. */
  readonly endpoint: string;
  /** Per-request timeout (default 10 s: a thick create zeroes nothing, but a pool create may allocate). */
  readonly timeoutMs?: number;
  /** Sent as `Authorization: Bearer …` on every request (docs/security.md). */
  readonly authToken?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** The engine's answer to a route it does not have: how a missing nexus API shows. */
const ROUTE_NOT_FOUND = 'ROUTE_NOT_FOUND';

const seg = encodeURIComponent;

/**
 * Typed client of the engine's HTTP API (docs/api.md) over `fetch`. Every request has a
 * timeout; the engine's {error:{code,message}} comes back as EngineRequestError with
 * the engine's code, so callers match on the same codes the engine documents.
 */
export class EngineClient implements EngineApi {
  readonly endpoint: string;
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #authorization: string | undefined;

  constructor(options: EngineClientOptions) {
    this.#authorization = options.authToken === undefined ? undefined : `Bearer ${options.authToken}`;
    this.endpoint = options.endpoint;
    this.#base = /^https?:\/\//.test(options.endpoint) ? options.endpoint.replace(/\/+$/, '') : `http://${options.endpoint}`;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  health(): Promise<EngineHealth> {
    return this.#call('GET', '/v1/health');
  }

  async listPools(): Promise<EnginePool[]> {
    return (await this.#call<{ pools: EnginePool[] }>('GET', '/v1/pools')).pools;
  }

  createPool(req: { name: string; path?: string; sizeBytes?: number }): Promise<EnginePool> {
    return this.#call('POST', '/v1/pools', req);
  }

  async destroyPool(name: string): Promise<void> {
    await this.#absentOk(this.#call('DELETE', `/v1/pools/${seg(name)}`));
  }

  async listReplicas(pool: string): Promise<EngineReplica[]> {
    return (await this.#call<{ volumes: EngineReplica[] }>('GET', `/v1/pools/${seg(pool)}/volumes`)).volumes;
  }

  getReplica(pool: string, name: string): Promise<EngineReplica | undefined> {
    return this.#absentOk(this.#call<EngineReplica>('GET', `/v1/pools/${seg(pool)}/volumes/${seg(name)}`));
  }

  createReplica(req: CreateReplicaRequest): Promise<EngineReplica> {
    const source = req.fromSnapshot !== undefined ? { fromSnapshot: req.fromSnapshot }
      : req.fromVolume !== undefined ? { fromVolume: req.fromVolume } : {};
    return this.#call('POST', `/v1/pools/${seg(req.pool)}/volumes`, { name: req.name, sizeBytes: req.sizeBytes, thin: req.thin, ...source });
  }

  resizeReplica(pool: string, name: string, sizeBytes: number): Promise<EngineReplica> {
    return this.#call('PATCH', `/v1/pools/${seg(pool)}/volumes/${seg(name)}`, { sizeBytes });
  }

  async destroyReplica(pool: string, name: string): Promise<void> {
    await this.#absentOk(this.#call('DELETE', `/v1/pools/${seg(pool)}/volumes/${seg(name)}`));
  }

  async listExports(): Promise<EngineExport[]> {
    return (await this.#call<{ exports: EngineExport[] }>('GET', '/v1/exports')).exports;
  }

  getExport(pool: string, volume: string): Promise<EngineExport | undefined> {
    return this.#absentOk(this.#call<EngineExport>('GET', `/v1/exports/${seg(pool)}/${seg(volume)}`));
  }

  createExport(req: CreateExportRequest): Promise<EngineExport> {
    return this.#call('POST', '/v1/exports', req);
  }

  async destroyExport(pool: string, volume: string): Promise<void> {
    await this.#absentOk(this.#call('DELETE', `/v1/exports/${seg(pool)}/${seg(volume)}`));
  }

  replicaService(): Promise<{ endpoint: string }> {
    return this.#unimplemented('the replica service', this.#call('GET', '/v1/replica-service'));
  }

  createNexus(req: CreateNexusRequest): Promise<EngineNexus> {
    return this.#unimplemented('nexus creation', this.#call('POST', '/v1/nexus', req));
  }

  async listNexuses(): Promise<EngineNexus[]> {
    return (await this.#unimplemented('nexuses', this.#call<{ nexuses: EngineNexus[] }>('GET', '/v1/nexus'))).nexuses;
  }

  getNexus(name: string): Promise<EngineNexus | undefined> {
    return this.#absentOk(this.#unimplemented('nexuses', this.#call<EngineNexus>('GET', `/v1/nexus/${seg(name)}`)));
  }

  async destroyNexus(name: string): Promise<void> {
    await this.#absentOk(this.#unimplemented('nexus removal', this.#call('DELETE', `/v1/nexus/${seg(name)}`)));
  }

  exportNexus(name: string, req: { targetIqn: string; allowedInitiators: readonly string[]; chap?: ExportChap | null }): Promise<EngineExport> {
    return this.#unimplemented('nexus export', this.#call('POST', `/v1/nexus/${seg(name)}/export`, req));
  }

  async unexportNexus(name: string): Promise<void> {
    await this.#absentOk(this.#unimplemented('nexus export', this.#call('DELETE', `/v1/nexus/${seg(name)}/export`)));
  }

  addNexusReplica(name: string, ref: NexusReplicaRef & { full?: boolean }): Promise<EngineNexus> {
    return this.#unimplemented('nexus replicas', this.#call('POST', `/v1/nexus/${seg(name)}/replicas`, ref));
  }

  removeNexusReplica(name: string, replica: string): Promise<EngineNexus> {
    return this.#unimplemented('nexus replicas', this.#call('DELETE', `/v1/nexus/${seg(name)}/replicas/${seg(replica)}`));
  }

  createSnapshot(req: CreateSnapshotRequest): Promise<{ name: string }> {
    return this.#unimplemented('snapshots', this.#call('POST', `/v1/pools/${seg(req.pool)}/volumes/${seg(req.volume)}/snapshots`, { name: req.name }));
  }

  async listSnapshots(pool: string): Promise<EngineSnapshot[]> {
    return (await this.#unimplemented('snapshots', this.#call<{ snapshots: EngineSnapshot[] }>('GET', `/v1/pools/${seg(pool)}/snapshots`))).snapshots;
  }

  async destroySnapshot(pool: string, _volume: string, name: string): Promise<void> {
    await this.#absentOk(this.#unimplemented('snapshots', this.#call('DELETE', `/v1/pools/${seg(pool)}/snapshots/${seg(name)}`)));
  }

  flushNexus(name: string): Promise<EngineFlush> {
    return this.#unimplemented('flushing before a pause', this.#call('POST', `/v1/nexus/${seg(name)}/flush`));
  }

  flushExport(pool: string, volume: string): Promise<EngineFlush> {
    return this.#unimplemented('flushing before a pause', this.#call('POST', `/v1/exports/${seg(pool)}/${seg(volume)}/flush`));
  }

  pauseNexus(name: string, req: { token: string; leaseMs: number }): Promise<EngineNexusPause> {
    return this.#unimplemented('the snapshot barrier', this.#call('POST', `/v1/nexus/${seg(name)}/pause`, req));
  }

  async resumeNexus(name: string, token: string): Promise<void> {
    await this.#call('POST', `/v1/nexus/${seg(name)}/resume`, { token });
  }

  pauseExport(pool: string, volume: string, req: { token: string; leaseMs: number }): Promise<EngineNexusPause> {
    return this.#unimplemented('the snapshot barrier', this.#call('POST', `/v1/exports/${seg(pool)}/${seg(volume)}/pause`, req));
  }

  async resumeExport(pool: string, volume: string, token: string): Promise<void> {
    await this.#call('POST', `/v1/exports/${seg(pool)}/${seg(volume)}/resume`, { token });
  }

  snapshotBlocks(req: { pool: string; snapshot: string; base?: string; startingOffset?: number; maxResults?: number }): Promise<SnapshotBlockPage> {
    const q = new URLSearchParams();
    if (req.base !== undefined) q.set('base', req.base);
    if (req.startingOffset !== undefined) q.set('startingOffset', String(req.startingOffset));
    if (req.maxResults !== undefined) q.set('maxResults', String(req.maxResults));
    const what = req.base === undefined ? 'allocated' : 'delta';
    const query = q.size > 0 ? `?${q}` : '';
    return this.#unimplemented('changed-block tracking', this.#call('GET', `/v1/pools/${seg(req.pool)}/snapshots/${seg(req.snapshot)}/${what}${query}`));
  }

  /** Deletes and lookups treat "not there" as an answer, not a failure. */
  async #absentOk<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      return await p;
    } catch (err) {
      const code = errorCode(err);
      if (code !== undefined && code !== ROUTE_NOT_FOUND && code.endsWith('_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** An engine without the route answers ROUTE_NOT_FOUND (404) or 501: both mean "not yet". */
  async #unimplemented<T>(what: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof EngineRequestError && (err.code === ROUTE_NOT_FOUND || err.status === 501)) throw new NotImplementedError(what);
      throw err;
    }
  }

  #headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
    if (this.#authorization !== undefined) h.authorization = this.#authorization;
    return h;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.#base + path, {
        method,
        headers: this.#headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new EngineTimeoutError(this.endpoint, this.#timeoutMs);
      throw new EngineUnreachableError(this.endpoint, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      throw new EngineRequestError('ENGINE_BAD_RESPONSE', res.status, `engine ${this.endpoint} answered ${method} ${path} with ${res.status} and no JSON`);
    }
    // Not the engine's UNAUTHENTICATED passed through: our callers would read it as their own.
    if (res.status === 401) throw new EngineRequestError('ENGINE_AUTH_FAILED', 401, `engine ${this.endpoint} refused the cluster token (check --auth-token-file on both sides)`);
    if (!res.ok) {
      const e = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = typeof e?.code === 'string' ? e.code : 'ENGINE_ERROR';
      const message = typeof e?.message === 'string' ? e.message : `status ${res.status}`;
      throw new EngineRequestError(code, res.status, `engine ${this.endpoint}: ${message}`);
    }
    return parsed as T;
  }
}

export const connectEngine = (timeoutMs?: number, authToken?: string) => (endpoint: string): EngineApi =>
  new EngineClient({ endpoint, timeoutMs, ...(authToken !== undefined ? { authToken } : {}) });
