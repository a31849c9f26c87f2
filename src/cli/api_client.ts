import { BerthError } from '../util/errors.ts';
import { AUTH_TOKEN_ENV } from '../util/auth_token.ts';

/** An error the engine API answered with, or a failure to reach it. */
export class ApiError extends BerthError {
  readonly status: number;
  constructor(code: string, message: string, status = 0) {
    super(code, message);
    this.status = status;
  }
}

/** Thin client of the engine's HTTP/JSON API: JSON in, JSON out, {error} bodies thrown. */
export class ApiClient {
  readonly base: string;
  /** `Bearer …`, or undefined: kept private so no output path can print it. */
  readonly #authorization: string | undefined;

  constructor(base: string, authToken?: string) {
    this.base = base.replace(/\/+$/, '');
    this.#authorization = authToken === undefined ? undefined : `Bearer ${authToken}`;
  }

  get<T>(path: string): Promise<T> { return this.request<T>('GET', path); }
  post<T>(path: string, body: unknown): Promise<T> { return this.request<T>('POST', path, body); }
  patch<T>(path: string, body: unknown): Promise<T> { return this.request<T>('PATCH', path, body); }
  delete(path: string): Promise<void> { return this.request<void>('DELETE', path); }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: this.#headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      throw new ApiError('API_UNREACHABLE', `cannot reach the engine API at ${this.base} (${cause}); `
        + 'is the engine running? Start it with `npm start` (the quick start) or bin/berth-engine, or point --api or $BERTH_API at it');
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      const hint = res.status === 401 ? ` (give the cluster token with --token-file PATH or ${AUTH_TOKEN_ENV})` : '';
      throw new ApiError(e?.code ?? `HTTP_${res.status}`, (e?.message ?? (res.statusText || 'request failed')) + hint, res.status);
    }
    return data as T;
  }

  #headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
    if (this.#authorization !== undefined) h.authorization = this.#authorization;
    return h;
  }
}

/** `pool/volume` → its URL path segments, encoded. */
export function volumePath(ref: { pool: string; volume: string }): string {
  return `${encodeURIComponent(ref.pool)}/${encodeURIComponent(ref.volume)}`;
}
