import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setUpApiAuth } from './auth_setup.ts';
import { loadTokenFile, tokenFilePath } from './auth_token_file.ts';
import type { Logger } from './log.ts';

const TOKEN = 'T'.repeat(64);

function logger(): { log: Logger; warned: string[]; infos: unknown[] } {
  const warned: string[] = [];
  const infos: unknown[] = [];
  const log = { warn: (_o: unknown, m: string) => warned.push(m), info: (o: unknown) => infos.push(o) } as unknown as Logger;
  return { log, warned, infos };
}

test('token file path: the flag wins over the environment, empty means unset', () => {
  assert.equal(tokenFilePath('/a', { BERTH_AUTH_TOKEN_FILE: '/b' }), '/a');
  assert.equal(tokenFilePath(undefined, { BERTH_AUTH_TOKEN_FILE: '/b' }), '/b');
  assert.equal(tokenFilePath(undefined, { BERTH_AUTH_TOKEN_FILE: '' }), undefined);
  assert.equal(tokenFilePath(undefined, {}), undefined);
});

test('start-up: refuse the network without a token, allow loopback, warn on --insecure-no-auth, load the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-auth-setup-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    const base = { listenFlag: '--api-listen', insecureNoAuth: false };

    let l = logger();
    assert.deepEqual(setUpApiAuth({ ...base, host: '127.0.0.1', tokenFile: undefined, logger: l.log }), {});
    assert.deepEqual(l.warned, []);

    l = logger();
    assert.throws(() => setUpApiAuth({ ...base, host: '10.0.0.7', tokenFile: undefined, logger: l.log }), /--api-listen 10\.0\.0\.7 .*--auth-token-file/);

    l = logger();
    assert.deepEqual(setUpApiAuth({ ...base, host: '10.0.0.7', tokenFile: undefined, insecureNoAuth: true, logger: l.log }), {});
    assert.equal(l.warned.length, 1);
    assert.match(l.warned[0], /WITHOUT authentication/);

    l = logger();
    assert.deepEqual(setUpApiAuth({ ...base, host: '0.0.0.0', tokenFile: file, logger: l.log }).tokens, [TOKEN]);
    assert.ok(!JSON.stringify(l.infos).includes(TOKEN), 'the start-up log holds the token');

    // A missing or bad file stops the start, naming the file, not its content.
    assert.throws(() => loadTokenFile(join(dir, 'absent')), /cannot read the auth token file .*absent: ENOENT/);
    writeFileSync(file, 'hunter2-is-too-short\n');
    assert.throws(() => setUpApiAuth({ ...base, host: '127.0.0.1', tokenFile: file, logger: l.log }), (err: unknown) => {
      assert.match((err as Error).message, /token 1 of the auth token file is too short/);
      assert.ok(!(err as Error).message.includes('hunter2'));
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
