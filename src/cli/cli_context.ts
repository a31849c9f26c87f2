import { ApiClient } from './api_client.ts';
import type { OutputFormat } from './cli_output.ts';
import { BerthError } from '../util/errors.ts';
import { loadTokenFile, tokenFilePath } from '../util/auth_token_file.ts';

/** What every command needs: the API client and output format from the global options. */
export interface CliContext {
  api(): ApiClient;
  /** A client of another engine's API (e.g. `nexus move --to`), with the same token. */
  client(url: string): ApiClient;
  format(): OutputFormat;
  /** Wraps an action so failures print `error: CODE: message` and exit non-zero. */
  run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
  /** Confirms an action that returns no document (nothing in JSON mode but `{}`). */
  done(message: string): void;
}

export function reportError(err: unknown): number {
  if (err instanceof BerthError) {
    process.stderr.write(`error: ${err.code}: ${err.message}\n`);
    return 1;
  }
  const e = err as { code?: string; message?: string };
  // Commander's own usage errors have codes like commander.missingArgument and already printed.
  if (typeof e?.code === 'string' && e.code.startsWith('commander.')) return 2;
  process.stderr.write(`error: INTERNAL: ${e?.message ?? String(err)}\n`);
  return 1;
}

/**
 * The token the CLI sends: the first line of `--token-file` or BERTH_AUTH_TOKEN_FILE,
 * read once, on first use. Never printed; a bad file fails with the path only.
 */
export function cliTokenSource(flagValue: () => string | undefined, env: NodeJS.ProcessEnv = process.env): () => string | undefined {
  let loaded: { token: string | undefined } | undefined;
  return () => {
    if (loaded === undefined) {
      const path = tokenFilePath(flagValue(), env);
      loaded = { token: path === undefined ? undefined : loadTokenFile(path)[0] };
    }
    return loaded.token;
  };
}
