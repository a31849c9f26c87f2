/**
 * The HTTP side of the REST control-plane client: one JSON request at a time against a
 * list of control-plane URLs. Reads go to any instance; a follower answers writes with
 * 503 NOT_LEADER naming the leader (`x-berth-leader`), which is followed. Every request
 * has a timeout and the retries are bounded, so a CSI call never hangs on a dead peer.
 * The answer is either the JSON body or a RestError holding the control plane's code;
 * turning codes into the driver's errors is the caller's business (rest_errors.ts).
 */
import { BerthError } from '../util/errors.ts';
import { ControlPlaneUnavailableError } from './csi_errors.ts';

/** Header a follower sets on NOT_LEADER (src/control/api/http_status.ts). */
export const LEADER_HEADER = 'x-berth-leader';
export const NOT_LEADER_CODE = 'NOT_LEADER';
/** Per request: the control plane's own engine calls time out after 10 s, so 30 s leaves room. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long to wait before asking again when no instance knows a leader (mid-election). */
export const DEFAULT_RETRY_DELAY_MS = 500;

/** An HTTP error answer from the control plane, with its stable code. */
export class RestError extends BerthError {
  readonly status: number;
  readonly restCode: string;
  /** The control plane's own message. */
  readonly detail: string;
  constructor(status: number, restCode: string, detail: string) {
    super('CSI_CONTROL_PLANE_ERROR', `control plane answered ${status} ${restCode}: ${detail}`);
    this.status = status;
    this.restCode = restCode;
    this.detail = detail;
  }
}

export interface RestTransportOptions {
  /** Base URLs of the control-plane instances, e.g. http://berth-control:9600. */
  urls: readonly string[];
  requestTimeoutMs?: number;
  /** Attempts per request across instances and leader hints; default 2 per URL, at least 4. */
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Sent as `Authorization: Bearer …` (the cluster token, docs/security.md). */
  authToken?: string;
  /** Injected in tests. */
  fetchImpl?: typeof fetch;
}

export interface RestReply<T> {
  status: number;
  body: T;
}

export class RestTransport {
  readonly urls: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly baseHeaders: Readonly<Record<string, string>>;
  private readonly jsonHeaders: Readonly<Record<string, string>>;
  /** Where the last write succeeded or the last hint pointed: asked first next time. */
  private preferred: string | undefined;

  constructor(o: RestTransportOptions) {
    if (o.urls.length === 0) throw new Error('RestTransport needs at least one URL');
    this.urls = [...o.urls];
    this.timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxAttempts = o.maxAttempts ?? Math.max(4, 2 * o.urls.length);
    this.retryDelayMs = o.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.fetchImpl = o.fetchImpl ?? fetch;
    this.baseHeaders = o.authToken === undefined ? { accept: 'application/json' } : { accept: 'application/json', authorization: `Bearer ${o.authToken}` };
    this.jsonHeaders = { ...this.baseHeaders, 'content-type': 'application/json' };
  }

  /**
   * Sends one request; resolves a 2xx answer, rejects with RestError for any other
   * answer, or ControlPlaneUnavailableError when no instance answered usefully.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<RestReply<T>> {
    const order = this.order();
    let next = 0;
    let target = order[next++];
    let lastProblem = 'no attempt made';
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(new URL(path.replace(/^\//, ''), `${target}/`), {
          method,
          headers: body === undefined ? this.baseHeaders : this.jsonHeaders,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: 'error',
        });
      } catch (err) {
        lastProblem = `${target}: ${describeFetchError(err)}`;
        target = order[next++ % order.length];
        continue;
      }
      const text = await res.text().catch(() => '');
      if (res.ok) {
        this.preferred = target;
        const parsed = text.length > 0 ? safeJson(text) : undefined;
        if (text.length > 0 && parsed === undefined) throw new ControlPlaneUnavailableError(`${target} answered ${method} ${path.split('?')[0]} with a body that is not JSON`);
        return { status: res.status, body: parsed as T };
      }
      const err = readError(res.status, text);
      if (res.status === 503 && err.restCode === NOT_LEADER_CODE) {
        const hint = leaderHint(res.headers.get(LEADER_HEADER));
        lastProblem = `${target} is not the leader${hint ? ` (leader: ${hint})` : ', and no leader is known yet'}`;
        if (hint !== undefined && hint !== target) {
          target = hint;
        } else {
          // Mid-election nobody knows the leader: wait a little and ask the next instance.
          await new Promise((r) => setTimeout(r, this.retryDelayMs));
          target = order[next++ % order.length];
        }
        continue;
      }
      throw err;
    }
    throw new ControlPlaneUnavailableError(`control plane not reachable after ${this.maxAttempts} attempts: ${lastProblem}`);
  }

  private order(): string[] {
    if (this.preferred === undefined) return [...this.urls];
    return [this.preferred, ...this.urls.filter((u) => u !== this.preferred)];
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function readError(status: number, text: string): RestError {
  const body = safeJson(text) as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === 'string' ? body.error.code : `HTTP_${status}`;
  const message = typeof body?.error?.message === 'string' ? body.error.message : 'no error body';
  return new RestError(status, code.slice(0, 64), message.slice(0, 512));
}

/** The leader's URL from the header, if it is one. */
function leaderHint(value: string | null): string | undefined {
  if (!value) return undefined;
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.origin + u.pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  return e?.cause?.code ?? e?.message ?? 'request failed';
}
