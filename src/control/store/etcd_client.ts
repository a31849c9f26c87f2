import { StoreUnavailableError } from './store_errors.ts';

/**
 * A thin client of etcd's v3 JSON gateway (gRPC-gateway over HTTP, served on the client
 * URL since etcd 3.4 under /v3/). Bytes travel base64-encoded and int64 fields as
 * decimal strings; fields equal to their zero value are omitted from responses.
 */
export interface EtcdClientOptions {
  /** Client URLs of the members, e.g. http://127.0.0.1:2379; tried in turn on failure. */
  readonly endpoints: readonly string[];
  /** Per-request timeout in ms. */
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
   * POST a JSON body to a gateway path such as /v3/kv/range. Fails over to the next
   * member only when the request surely was not applied (connection refused, or the
   * member has no leader); any other failure is the caller's to retry.
   */
  async call<T>(path: string, body: unknown): Promise<T> {
    let lastError: unknown;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const index = (this.#current + i) % this.#endpoints.length;
      let response: Response;
      try {
        response = await fetch(this.#endpoints[index] + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (err) {
        if (!refused(err)) {
          // The request may have been applied (a timeout after sending, a reset): do not
          // replay it on another member, but start the next call with another member.
          this.#current = (index + 1) % this.#endpoints.length;
          throw new StoreUnavailableError(`etcd ${path}: no answer from ${this.#endpoints[index]}`, { cause: err });
        }
        lastError = err;
        continue;
      }
      this.#current = index;
      const text = await response.text();
      const parsed = parseJson(text);
      if (!response.ok) {
        const e = (parsed ?? {}) as GatewayError;
        // A member without a leader cannot serve; another member may.
        if (e.code === GrpcCode.Unavailable) { lastError = new EtcdRequestError(path, e.code, e.message ?? text); continue; }
        throw new EtcdRequestError(path, e.code ?? -1, e.message ?? e.error ?? `HTTP ${response.status}`);
      }
      if (parsed === undefined) throw new StoreUnavailableError(`etcd ${path}: response is not JSON`);
      return parsed as T;
    }
    if (lastError instanceof StoreUnavailableError) throw lastError;
    throw new StoreUnavailableError(`etcd unreachable at ${this.#endpoints.join(', ')}`, { cause: lastError });
  }
}

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
