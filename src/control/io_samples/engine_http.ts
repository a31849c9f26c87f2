/**
 * Plain GETs of an engine's API for what the typed engine client does not carry (its
 * /metrics text, a snapshot's space): the endpoint as the heartbeat gave it, the cluster
 * token, a timeout. The engine's {error:{code,message}} becomes the error's message.
 */
export type EngineGetText = (endpoint: string, path: string) => Promise<string>;

export function engineGetText(authToken: string | undefined, timeoutMs = 5000): EngineGetText {
  return async (endpoint, path) => {
    const base = /^https?:\/\//.test(endpoint) ? endpoint.replace(/\/+$/, '') : `http://${endpoint}`;
    const res = await fetch(`${base}${path}`, {
      headers: authToken === undefined ? {} : { authorization: `Bearer ${authToken}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) {
      let code = `HTTP ${res.status}`;
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code;
      } catch {
        // Not the engine's JSON error: the status says enough.
      }
      throw new Error(`GET ${path} answered ${code}`);
    }
    return text;
  };
}

/** The same, parsed as JSON. */
export function engineGetJson(authToken: string | undefined, timeoutMs = 5000): (endpoint: string, path: string) => Promise<unknown> {
  const get = engineGetText(authToken, timeoutMs);
  return async (endpoint, path) => JSON.parse(await get(endpoint, path)) as unknown;
}
