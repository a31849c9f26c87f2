import { readFileSync } from 'node:fs';
import { AUTH_TOKEN_ENV, AuthConfigError, parseTokenFile } from './auth_token.ts';

/**
 * The token file named by `--auth-token-file` or BERTH_AUTH_TOKEN_FILE: the flag wins,
 * an empty value counts as unset. Returns undefined when neither is given.
 */
export function tokenFilePath(flagValue: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = flagValue ?? env[AUTH_TOKEN_ENV];
  return path === undefined || path === '' ? undefined : path;
}

/** Reads and checks the token file; errors name the path, never the content. */
export function loadTokenFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AuthConfigError(`cannot read the auth token file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  try {
    return parseTokenFile(text);
  } catch (err) {
    throw new AuthConfigError(`${path}: ${(err as Error).message}`);
  }
}
