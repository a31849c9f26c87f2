/**
 * A thin JSON client of the engine's HTTP API for tests and benchmarks. It mirrors the
 * routes one to one and turns `{error:{code,message}}` answers into ApiError.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface PoolSpec {
  name: string;
  path?: string;
  sizeBytes?: number;
  extentSize?: number;
}

export interface VolumeSpec {
  name: string;
  sizeBytes: number;
  blockSize?: 512 | 4096;
  thin?: boolean;
}

export interface ExportSpec {
  pool: string;
  volume: string;
  targetIqn?: string;
  lun?: number;
  /** null or absent: any initiator may log in. */
  allowedInitiators?: string[] | null;
  chap?: Record<string, unknown>;
}

export interface ExportInfo {
  targetIqn: string;
  lun: number;
  portal: string;
  url: string;
}

/** Bearer tokens by API origin: engines started with a token register it here. */
const tokens = new Map<string, string>();

/** Sends `token` on every request to the API at `base` (undefined: stop sending one). */
export function setApiToken(base: string, token: string | undefined): void {
  const origin = new URL(base).origin;
  if (token === undefined) tokens.delete(origin);
  else tokens.set(origin, token);
}

/** Headers for a request to `url`: JSON when there is a body, the bearer token when one is registered. */
export function apiHeaders(url: URL, json: boolean): Record<string, string> {
  const h: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
  const token = tokens.get(url.origin);
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  return h;
}

/** One request; resolves the parsed JSON body (undefined for an empty one). */
export async function apiRequest<T = unknown>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const url = new URL(path, base);
  const res = await fetch(url, {
    method,
    headers: apiHeaders(url, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'NOT_JSON', `${method} ${path}: ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
    }
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? 'UNKNOWN', `${method} ${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? text.slice(0, 200)}`);
  }
  return parsed as T;
}

export function createPool(api: string, spec: PoolSpec): Promise<unknown> {
  return apiRequest(api, 'POST', '/v1/pools', spec);
}

export function getPool(api: string, pool: string): Promise<unknown> {
  return apiRequest(api, 'GET', `/v1/pools/${encodeURIComponent(pool)}`);
}

export function createVolume(api: string, pool: string, spec: VolumeSpec): Promise<unknown> {
  return apiRequest(api, 'POST', `/v1/pools/${encodeURIComponent(pool)}/volumes`, spec);
}

export function exportVolume(api: string, spec: ExportSpec): Promise<ExportInfo> {
  return apiRequest<ExportInfo>(api, 'POST', '/v1/exports', spec);
}

export function unexportVolume(api: string, pool: string, volume: string): Promise<unknown> {
  return apiRequest(api, 'DELETE', `/v1/exports/${encodeURIComponent(pool)}/${encodeURIComponent(volume)}`);
}

/** Pool + volume + export in one go: the common start of an I/O test. */
export async function exportedVolume(
  api: string,
  o: { pool: PoolSpec; volume: VolumeSpec; export?: Omit<ExportSpec, 'pool' | 'volume'> },
): Promise<ExportInfo> {
  await createPool(api, o.pool);
  await createVolume(api, o.pool.name, o.volume);
  return exportVolume(api, { pool: o.pool.name, volume: o.volume.name, ...o.export });
}
