import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { safeFileName, StagedStore, type StagedVolume } from './staged_store.ts';

const record = (volumeId: string): StagedVolume => ({
  volumeId,
  stagingPath: `/stage/${volumeId}`,
  kind: 'mount',
  fsType: 'ext4',
  mountFlags: [],
  accessMode: 'SINGLE_NODE_WRITER',
  attacher: 'iscsiadm',
  target: { portal: '10.0.0.1:3260', iqn: 'iqn.2025-01.io.berth:v', lun: 0 },
  device: { devicePath: '/dev/sdb', handle: {} },
  phase: 'staged',
  publications: [],
});

describe('staged volume records', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'berth-staged-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('survive a reload; removed ones stay gone; no temp files remain', async () => {
    const a = new StagedStore(dir);
    await a.load();
    await a.put(record('vol-1'));
    await a.put({ ...record('../etc/passwd'), phase: 'attached' });
    await a.remove('vol-1');
    const b = new StagedStore(dir);
    assert.deepEqual(await b.load(), { loaded: 1, unreadable: [] });
    assert.equal(b.get('../etc/passwd')?.phase, 'attached');
    assert.equal(b.get('vol-1'), undefined);
    assert.deepEqual(await readdir(join(dir, 'staged')), [`${safeFileName('../etc/passwd')}.json`]);
  });

  it('hands out copies, so a caller cannot change a record without put()', async () => {
    const s = new StagedStore(dir);
    await s.load();
    s.get('../etc/passwd')!.publications.push({ targetPath: '/x', readonly: false });
    assert.deepEqual(s.get('../etc/passwd')!.publications, []);
  });

  it('reports unreadable files and leaves them for an operator', async () => {
    await writeFile(join(dir, 'staged', 'broken.json'), '{"volumeId":');
    const s = new StagedStore(dir);
    const r = await s.load();
    assert.deepEqual(r.unreadable, ['broken.json']);
    assert.ok((await readdir(join(dir, 'staged'))).includes('broken.json'));
  });

  it('file names never escape the directory', () => {
    for (const id of ['../x', 'a/b', '..', '.', 'vol 1']) assert.doesNotMatch(safeFileName(id), /[/ ]|^\.+$/, id);
  });
});
