import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountAt, parseMountInfo } from './mount_info.ts';

// Recorded from /proc/self/mountinfo on a Debian 12 node (ids shortened).
const SAMPLE = [
  '22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
  '90 22 7:3 / /var/lib/kubelet/plugins/csi.berth.io/staging/pv\\0401 rw,noatime shared:50 - ext4 /dev/loop3 rw',
  '91 22 7:3 / /var/lib/kubelet/pods/p/volumes/mnt rw,relatime shared:50 - ext4 /dev/loop3 rw',
  '92 91 7:3 / /var/lib/kubelet/pods/p/volumes/mnt ro,relatime shared:50 - ext4 /dev/loop3 rw',
  'garbage line',
].join('\n');

describe('mountinfo', () => {
  it('reads mount points, sources, types and options, unescaping octal', () => {
    const entries = parseMountInfo(SAMPLE);
    assert.equal(entries.length, 4);
    assert.equal(entries[1].mountPoint, '/var/lib/kubelet/plugins/csi.berth.io/staging/pv 1');
    assert.equal(entries[1].source, '/dev/loop3');
    assert.equal(entries[1].fsType, 'ext4');
    assert.ok(entries[1].options.includes('noatime'));
  });

  it('mountAt gives the topmost layer', () => {
    const top = mountAt(parseMountInfo(SAMPLE), '/var/lib/kubelet/pods/p/volumes/mnt');
    assert.deepEqual(top?.options, ['ro', 'relatime']);
    assert.equal(mountAt(parseMountInfo(SAMPLE), '/nope'), undefined);
  });
});
