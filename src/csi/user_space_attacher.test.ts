/** The user-space attach path's command line; the real path runs in test/csi/node_userspace.test.ts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { loginRefusal, UserSpaceAttacher } from './user_space_attacher.ts';
import { NodeCommandError } from './csi_errors.ts';
import { mapError } from './status_map.ts';

describe('UserSpaceAttacher command line', () => {
  const att = new UserSpaceAttacher({ runner: { run: async () => ({ stdout: '', stderr: '', code: 0 }) }, stateDir: '/var/lib/berth-csi', initiatorName: 'iqn.2025-01.io.berth:node-a' });

  it('exports the LUN over FUSE, writable, with a QMP socket and a pid file', () => {
    const args = att.daemonArgs({ volumeId: 'vol-1', portal: '10.0.0.7:3260', iqn: 'iqn.2025-01.io.berth:vol-1', lun: 0 });
    const dir = '/var/lib/berth-csi/userspace/vol-1';
    assert.deepEqual(args, [
      '--daemonize', '--pidfile', `${dir}/qsd.pid`,
      '--chardev', `socket,id=qmp,path=${dir}/qmp.sock,server=on,wait=off`, '--monitor', 'chardev=qmp',
      '--blockdev', 'driver=iscsi,node-name=lun,transport=tcp,portal=10.0.0.7:3260,target=iqn.2025-01.io.berth:vol-1,lun=0,initiator-name=iqn.2025-01.io.berth:node-a',
      '--export', `type=fuse,id=exp,node-name=lun,mountpoint=${dir}/lun.img,writable=on`,
    ]);
  });

  it('passes the CHAP password through a secret file, never on the command line', () => {
    const args = att.daemonArgs({ volumeId: 'vol/2', portal: '10.0.0.7:3260', iqn: 'iqn.2025-01.io.berth:vol-2', lun: 1, chap: { username: 'a,b', password: 'hunter2' } });
    const line = args.join(' ');
    assert.doesNotMatch(line, /hunter2/);
    assert.match(line, /--object secret,id=chap,file=\/var\/lib\/berth-csi\/userspace\/vol%2F2\/chap\.secret/);
    assert.match(line, /user=a,,b,password-secret=chap/);
  });
});

describe('UserSpaceAttacher login refusals (libiscsi\'s words, as recorded from qemu-storage-daemon 7.2)', () => {
  const stderr = (status: string): NodeCommandError => new NodeCommandError('qemu-storage-daemon', 1,
    `qemu-storage-daemon: --blockdev driver=iscsi,…,user=u1,password-secret=chap: iSCSI: Failed to connect to LUN : Failed to log in to target. Status: ${status}`);

  it('Authentication failure (0x0201) is UNAUTHENTICATED, Authorization failure (0x0202) PERMISSION_DENIED, anything else stays', () => {
    assert.equal(mapError(loginRefusal(stderr('Authentication failure(513)'), 'v1')).code, status.UNAUTHENTICATED);
    assert.equal(mapError(loginRefusal(stderr('Authorization failure(514)'), 'v1')).code, status.PERMISSION_DENIED);
    assert.equal(loginRefusal(stderr('Target not found(515)'), 'v1'), undefined);
    assert.equal(loginRefusal(new Error('Status: Authentication failure'), 'v1'), undefined, 'only a tool failure is read');
  });

  it('a refused daemon start becomes UNAUTHENTICATED, and the secret file is gone either way', async () => {
    const dir = await mkdtemp(join(tmpdir(), `berth-usa-${process.pid}-`));
    try {
      let sawSecret = '';
      const runner = {
        run: async (cmd: string, args: readonly string[]) => {
          if (cmd === 'qemu-storage-daemon') {
            const file = /file=([^,]+)/.exec(args.find((x) => x.startsWith('secret,')) ?? '')?.[1] ?? '';
            sawSecret = `${await readFile(file, 'utf8')} ${((await stat(file)).mode & 0o777).toString(8)}`;
            return { stdout: '', stderr: 'iSCSI: Failed to connect to LUN : Failed to log in to target. Status: Authentication failure(513)', code: 1 };
          }
          return { stdout: '', stderr: '', code: cmd === 'losetup' ? 1 : 0 };
        },
      };
      const a = new UserSpaceAttacher({ runner, stateDir: dir, initiatorName: 'iqn.2025-01.io.berth:node-a' });
      await assert.rejects(a.attach({ volumeId: 'v1', portal: '127.0.0.1:3260', iqn: 'iqn.2025-01.io.berth:v1', lun: 0, chap: { username: 'u', password: 'wrong-secret-1' } }),
        (e: Error) => mapError(e).code === status.UNAUTHENTICATED && !e.message.includes('wrong-secret-1'));
      assert.equal(sawSecret, 'wrong-secret-1 600', 'the daemon read it from a 0600 file');
      await assert.rejects(stat(a.paths('v1').secretFile), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
