import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import { TestDevice } from './nexus_test_devices.ts';
import type { ChildWriteSink } from './nexus_child.ts';
import { MediumError } from '../block/errors.ts';

const BLOCKS = 256;

/**
 * A TestDevice that also takes writes through submitWrite, as RemoteReplica does: the
 * outcome is reported to the sink on a later macrotask, or held until `answer()`.
 */
class SubmitDevice extends TestDevice {
  submitted: number[] = [];
  held: Array<() => void> = [];
  hold = false;
  fail: Error | undefined;
  /** Appended to by every device in a test, to see the order children were reached in. */
  log: string[] | undefined;

  submitWrite(lba: number, data: Buffer, _fua: boolean, sink: ChildWriteSink, tag: number): void {
    this.log?.push(`submit ${lba}`);
    this.submitted.push(lba);
    const copy = Buffer.from(data);
    const done = (): void => {
      if (this.fail) return sink.writeDone(tag, this.fail);
      copy.copy(this.data, lba * this.blockSize);
      sink.writeDone(tag, undefined);
    };
    if (this.hold) this.held.push(done);
    else setImmediate(done);
  }

  answer(): void {
    const all = this.held;
    this.held = [];
    for (const f of all) f();
  }
}

/** A local child that notes when each write reaches it. */
function loggedLocal(log: string[]): TestDevice {
  const dev = new TestDevice(BLOCKS);
  const write = dev.write.bind(dev);
  dev.write = (lba: number, data: Buffer, fua: boolean) => { log.push(`local ${lba}`); return write(lba, data, fua); };
  return dev;
}

test('a burst of writes reaches every submitting child before any local write starts', async () => {
  const log: string[] = [];
  const local = loggedLocal(log);
  const remote = new SubmitDevice(BLOCKS);
  remote.log = log;
  const nexus = await Nexus.create({ name: 's', generation: 1, children: [{ name: 'local', device: local, local: true }, { name: 'remote', device: remote }] });
  try {
    const writes = [0, 1, 2].map((lba) => nexus.write(lba, Buffer.alloc(512, lba + 1), false));
    assert.deepEqual(log, ['submit 0', 'submit 1', 'submit 2'], 'local writes wait for the end of the tick');
    await Promise.all(writes);
    assert.deepEqual(log.slice(3), ['local 0', 'local 1', 'local 2'], 'local writes keep their arrival order');
    for (const lba of [0, 1, 2]) {
      assert.equal(local.data[lba * 512], lba + 1);
      assert.equal(remote.data[lba * 512], lba + 1);
    }
  } finally {
    nexus.close();
  }
});

test('a submitted write completes only once the submitting child has acknowledged it', async () => {
  const local = new TestDevice(BLOCKS);
  const remote = new SubmitDevice(BLOCKS);
  remote.hold = true;
  const nexus = await Nexus.create({ name: 's', generation: 1, children: [{ name: 'local', device: local, local: true }, { name: 'remote', device: remote }] });
  try {
    let settled = false;
    const w = nexus.write(5, Buffer.alloc(512, 9), false).then(() => { settled = true; });
    // Until the local child has written (a few turns of the event loop, however slow the host).
    for (let turn = 0; turn < 1000 && local.writes === 0; turn++) await new Promise((r) => setImmediate(r));
    assert.equal(local.writes, 1);
    assert.equal(settled, false, 'not acknowledged while the remote child is silent');
    remote.answer();
    await w;
    assert.equal(remote.data[5 * 512], 9);
  } finally {
    nexus.close();
  }
});

test('a child that fails a submitted write is retired; the write succeeds on the others and is tracked as missed', async () => {
  const local = new TestDevice(BLOCKS);
  const remote = new SubmitDevice(BLOCKS);
  remote.fail = new MediumError('remote disk failed');
  const nexus = await Nexus.create({ name: 's', generation: 1, children: [{ name: 'local', device: local, local: true }, { name: 'remote', device: remote }] });
  try {
    await nexus.write(7, Buffer.alloc(512, 3), false);
    const info = nexus.children().find((c) => c.name === 'remote');
    assert.equal(info?.state, 'faulted');
    assert.ok((nexus.intentMap('remote')?.dirtyBlocks() ?? 0) > 0, 'the missed write is in the intent map');
    // Later writes no longer go to the retired child.
    await nexus.write(8, Buffer.alloc(512, 4), false);
    assert.deepEqual(remote.submitted, [7]);
  } finally {
    nexus.close();
  }
});

test('when every in-sync child fails a submitted write, the write fails', async () => {
  const remote = new SubmitDevice(BLOCKS);
  remote.fail = new MediumError('remote disk failed');
  const other = new TestDevice(BLOCKS);
  other.mode = 'error';
  const nexus = await Nexus.create({ name: 's', generation: 1, children: [{ name: 'a', device: remote }, { name: 'b', device: other }] });
  try {
    await assert.rejects(nexus.write(1, Buffer.alloc(512, 1), false), { code: 'NEXUS_FAULTED' });
  } finally {
    nexus.close();
  }
});
