import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError } from './store_errors.ts';

/**
 * A thin client of etcd's v3 JSON gateway (gRPC-gateway over HTTP, served on the client
 * URL since etcd 3.4 under /v3/). Bytes travel base64-encoded and int64 fields as
 * decimal strings; fields equal to their zero value are omitted from responses.
 */
export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. http://127.0.0.1:2379; tried in turn on failure. */
  readonly endpoints: readonly string[];
  /** Deadline of one call in ms, retries on other members included. */
  readonly timeoutMs?: number;
}

/** The gateway's error body. `code` is a gRPC status code. */
interface GatewayError {
  error?: string;
  message?: string;
  code?: number;
}

/** gRPC status codes the gateway reports that callers tell apart. */
export const GrpcCode = {
  InvalidArgument: 3,
  NotFound: 5,
  FailedPrecondition: 9,
  Unavailable: 14,
} as const;

/** etcd answered, but with an error (as opposed to not answering). */
export class EtcdRequestError extends StoreUnavailableError {
  readonly grpcCode: number;
  constructor(path: string, grpcCode: number, message: string) {
    super(`etcd ${path}: ${message}`);
    this.grpcCode = grpcCode;
  }
}

export class EtcdClient {
  readonly #endpoints: readonly string[];
  readonly #timeoutMs: number;
  /** The endpoint that answered last; tried first next time. */
  #current = 0;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new StoreUnavailableError('no etcd endpoints configured');
    this.#endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * POST a JSON body to a gateway path such as /v3/kv/range. Another member is tried,
   * and after a round of failures the whole round again with backoff until the call's
   * deadline, only while a replay cannot apply anything twice: the connection was
   * refused, the member had no leader, or the request is idempotent (reads,
   * keep-alives). A raft election after losing the leader member takes a second or
   * more on a loaded host; callers must not see it. Any other failure is the caller's.
   */
  async call<T>(path: string, body: unknown): Promise<T> {
    const idempotent = IDEMPOTENT_PATHS.has(path);
    const deadline = Date.now() + this.#timeoutMs;
    let lastError: unknown;
    for (let round = 0; ; round++) {
      for (let i = 0; i < this.#endpoints.length; i++) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        const index = (this.#current + i) % this.#endpoints.length;
        // A hung member must not eat the whole deadline of a call that may go elsewhere.
        const attemptMs = idempotent ? Math.min(remaining, Math.max(1000, this.#timeoutMs / 2)) : remaining;
        const answer = await this.#attempt(index, path, body, attemptMs);
        if (answer.ok) { this.#current = index; return answer.value as T; }
        lastError = answer.error;
        if (!answer.retry && !idempotent) {
          // The request may have been applied: do not replay it, but start the next
          // call with another member.
          this.#current = (index + 1) % this.#endpoints.length;
          throw answer.error;
        }
      }
      const wait = Math.min(1000, 50 * 2 ** round);
      if (Date.now() + wait >= deadline) break;
      await sleep(wait);
    }
    if (lastError instanceof StoreUnavailableError) throw lastError;
    throw new StoreUnavailableError(`etcd unreachable at ${this.#endpoints.join(', ')}`, { cause: lastError });
  }

  async #attempt(index: number, path: string, body: unknown, timeoutMs: number): Promise<Attempt> {
    const endpoint = this.#endpoints[index];
    let response: Response;
    let text: string;
    try {
      response = await fetch(endpoint + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      if (refused(err)) return { ok: false, retry: true, error: new StoreUnavailableError(`etcd unreachable at ${endpoint}`, { cause: err }) };
      return { ok: false, retry: false, error: new StoreUnavailableError(`etcd ${path}: no answer from ${endpoint}`, { cause: err }) };
    }
    const parsed = parseJson(text);
    if (!response.ok) {
      const e = (parsed ?? {}) as GatewayError;
      const message = e.message ?? e.error ?? `HTTP ${response.status}`;
      const error = new EtcdRequestError(path, e.code ?? -1, message);
      // "no leader" is refused before anything is proposed; other Unavailable answers
      // (leader changed, request timed out) may have been applied.
      if (e.code === GrpcCode.Unavailable) return { ok: false, retry: /no leader/.test(message), error };
      throw error;
    }
    if (parsed === undefined) throw new StoreUnavailableError(`etcd ${path}: response is not JSON`);
    return { ok: true, value: parsed };
  }
}

/** Requests a replay cannot apply twice: reads, and renewing a lease. */
const IDEMPOTENT_PATHS: ReadonlySet<string> = new Set([
  '/v3/kv/range', '/v3/lease/keepalive', '/v3/lease/timetolive', '/v3/lease/leases', '/v3/maintenance/status',
]);

type Attempt = { ok: true; value: unknown } | { ok: false; retry: boolean; error: Error };

/** The connection was never made, so the request cannot have been applied. */
function refused(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function b64Bytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function unb64(text: string | undefined): string {
  return text === undefined ? '' : Buffer.from(text, 'base64').toString('utf8');
}

/** int64 fields arrive as decimal strings and are omitted when zero. */
export function int(value: string | number | undefined): number {
  return value === undefined ? 0 : Number(value);
}

/**
 * etcd's range end for a prefix: the prefix's UTF-8 bytes with the last byte below 0xff
 * incremented and what follows dropped. All ones (or empty) means "to the end": [0].
 */
export function etcdPrefixEnd(prefix: string): Uint8Array {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Uint8Array.from(bytes.subarray(0, i + 1));
      end[i]++;
      return end;
    }
  }
  return Uint8Array.of(0);
}
