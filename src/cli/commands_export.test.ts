import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExportRequest, rewriteExportShorthand } from './commands_export.ts';

test('`berth export POOL/VOL` means `export create`, subcommands and global options are left alone', () => {
  assert.deepEqual(rewriteExportShorthand(['export', 'p/v', '--allow-any']), ['export', 'create', 'p/v', '--allow-any']);
  assert.deepEqual(rewriteExportShorthand(['--api', 'http://x', 'export', 'p/v']), ['--api', 'http://x', 'export', 'create', 'p/v']);
  assert.deepEqual(rewriteExportShorthand(['-o', 'json', 'export', 'list']), ['-o', 'json', 'export', 'list']);
  assert.deepEqual(rewriteExportShorthand(['export', 'rm', 'p/v']), ['export', 'rm', 'p/v']);
  assert.deepEqual(rewriteExportShorthand(['pool', 'create', 'export']), ['pool', 'create', 'export']);
  assert.deepEqual(rewriteExportShorthand(['export', '--help']), ['export', '--help']);
});

test('who may connect is explicit', () => {
  assert.throws(() => buildExportRequest('p/v', {}, {}), { code: 'INVALID_ARGUMENT' });
  assert.deepEqual(buildExportRequest('p/v', { allowAny: true }, {}), { pool: 'p', volume: 'v', allowedInitiators: null });
  assert.deepEqual(buildExportRequest('p/v', { allow: ['iqn.2026-01.a:b'] }, {}).allowedInitiators, ['iqn.2026-01.a:b']);
  assert.throws(() => buildExportRequest('p/v', { allow: ['x'], allowAny: true }, {}), { code: 'INVALID_ARGUMENT' });
  // Adding a LUN to an existing target may keep that target's list.
  assert.deepEqual(buildExportRequest('p/v', { target: 'iqn.2026-01.a:t', lun: '3' }, {}), {
    pool: 'p', volume: 'v', targetIqn: 'iqn.2026-01.a:t', lun: 3,
  });
  assert.throws(() => buildExportRequest('p/v', { allowAny: true, lun: 'x' }, {}), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => buildExportRequest('pv', { allowAny: true }, {}), { code: 'INVALID_ARGUMENT' });
});

test('CHAP secrets come from a flag, a file or the environment, and pairs must be complete', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-cli-'));
  try {
    const file = join(dir, 's');
    await writeFile(file, 'from-file-secret\n');
    const any = { allowAny: true };
    assert.deepEqual(buildExportRequest('p/v', { ...any, chapUser: 'u', chapSecretFile: file }, {}).chap, { user: 'u', secret: 'from-file-secret' });
    assert.deepEqual(buildExportRequest('p/v', { ...any, chapUser: 'u' }, { BERTH_CHAP_SECRET: 'env-secret-123' }).chap, { user: 'u', secret: 'env-secret-123' });
    assert.deepEqual(buildExportRequest('p/v', {
      ...any, chapUser: 'u', chapSecret: 'one-secret-123', mutualUser: 't', mutualSecret: 'two-secret-456',
    }, {}).chap, { user: 'u', secret: 'one-secret-123', mutualUser: 't', mutualSecret: 'two-secret-456' });
    assert.throws(() => buildExportRequest('p/v', { ...any, chapUser: 'u' }, {}), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => buildExportRequest('p/v', { ...any, mutualUser: 't', mutualSecret: 'x' }, {}), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => buildExportRequest('p/v', { ...any, chapUser: 'u', chapSecret: 'a', chapSecretFile: file }, {}), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => buildExportRequest('p/v', { ...any, chapUser: 'u', chapSecretFile: join(dir, 'missing') }, {}), (err: Error) => {
      return (err as { code?: string }).code === 'INVALID_ARGUMENT' && !err.message.includes('from-file');
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
