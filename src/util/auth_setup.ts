import type { Logger } from './log.ts';
import { INSECURE_FLAG, decideListenAuth } from './auth_token.ts';
import { loadTokenFile } from './auth_token_file.ts';

export interface ApiAuthSetup {
  /** Accepted tokens; undefined when the API runs open (loopback, or insecure on purpose). */
  readonly tokens?: readonly string[];
}

/**
 * Decides at start-up how an API authenticates, and refuses (throws AuthConfigError)
 * a network-reachable API without a token unless `--insecure-no-auth` was given. The
 * token file is read here, once; the log line names the file, not what it holds.
 */
export function setUpApiAuth(o: {
  host: string; listenFlag: string; tokenFile: string | undefined; insecureNoAuth: boolean; logger: Logger;
}): ApiAuthSetup {
  const tokens = o.tokenFile === undefined ? undefined : loadTokenFile(o.tokenFile);
  const decision = decideListenAuth({ host: o.host, listenFlag: o.listenFlag, tokenConfigured: tokens !== undefined, insecureNoAuth: o.insecureNoAuth });
  if (decision === 'insecure-open') {
    o.logger.warn({ listen: o.host, flag: INSECURE_FLAG }, 'API serves the network WITHOUT authentication: anyone who can reach it can delete volumes');
  } else if (decision === 'authenticated') {
    o.logger.info({ tokenFile: o.tokenFile, tokens: tokens?.length }, 'API demands a bearer token');
  }
  return tokens === undefined ? {} : { tokens };
}
