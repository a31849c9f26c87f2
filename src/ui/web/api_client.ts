/**
 * The dashboard's reads from the control-plane API on the same origin. The token an
 * operator types is kept for the tab only (sessionStorage) and sent as a bearer token;
 * without one the requests go out bare, which a loopback control plane without tokens
 * accepts. Only GETs: the dashboard is read-only.
 */

const TOKEN_KEY = 'berth.dashboard.token';

/** The API refused the request for want of a (right) token: the page asks for one. */
export class UnauthorizedError extends Error {
  readonly code = 'UNAUTHENTICATED';
}

/** Any other refusal, with the API's own code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** GET an API path such as /v1/nodes, relative to the page so a path prefix in front of the control plane still works. */
export async function apiGet<T>(path: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = storedToken();
  if (token !== null && token !== '') headers.authorization = `Bearer ${token}`;
  const res = await fetch(`..${path}`, { headers, cache: 'no-store' });
  if (res.status === 401) throw new UnauthorizedError('the control plane wants a bearer token');
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText);
  return body as T;
}
