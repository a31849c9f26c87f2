/** The user-space attach path's command line; the real path runs in test/csi/node_userspace.test.ts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserSpaceAttacher } from './user_space_attacher.ts';

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
