import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';
import { runOnMockedTimers } from './nexus_virtual_clock.ts';

const BLOCKS = 256;

/** readInto that answers after `delayMs`, having scribbled over dest just before: a late, slow child. */
class IntoDevice extends TestDevice {
  delayMs = 0;
  intoCalls = 0;
  readInto(lba: number, count: number, dest: Buffer): Promise<void> {
    this.intoCalls++;
    if (this.delayMs === 0) return this.read(lba, count).then((b) => { b.copy(dest); });
    return new Promise((resolve) => setTimeout(() => { dest.fill(0xee); resolve(); }, this.delayMs));
  }
}

async function nexusOver(devs: TestDevice[], opTimeoutMs = 2000): Promise<Nexus> {
  return Nexus.create({ name: 'v', generation: 1, children: devs.map((device, i) => ({ name: `r${i}`, device })), regionBytes: 64 * 1024, opTimeoutMs });
}

test('nexus readInto: fills dest through a child\'s readInto, or copies a plain read', async () => {
  for (const into of [true, false]) {
    const dev = into ? new IntoDevice(BLOCKS) : new TestDevice(BLOCKS);
    const nexus = await nexusOver([dev]);
    await nexus.write(8, pattern(8, 16, 512, 3), false);
    const dest = Buffer.alloc(16 * 512);
    await nexus.readInto(8, 16, dest);
    assert.ok(dest.equals(pattern(8, 16, 512, 3)), `into=${into}`);
    if (dev instanceof IntoDevice) assert.equal(dev.intoCalls, 1);
    nexus.close();
  }
});

// Deadlines and the late child's delay run on mocked timers: the outcome does not depend on how busy the host is.
test('nexus readInto: after a child times out, it settles only once that child stopped writing into dest', (t) => runOnMockedTimers(t.mock.timers, async () => {
  const devs = [new IntoDevice(BLOCKS), new IntoDevice(BLOCKS)];
  const nexus = await nexusOver(devs, 40);
  await nexus.write(0, pattern(0, 32, 512, 5), false);
  for (const d of devs) d.delayMs = 200;
  const dest = Buffer.alloc(32 * 512);
  const started = Date.now();
  await nexus.readInto(0, 32, dest);
  assert.ok(Date.now() - started >= 190, `settled after ${Date.now() - started} ms, before the late child was done`);
  assert.equal(devs[0].intoCalls + devs[1].intoCalls, 1, 'the retry read into a buffer of its own');
  assert.ok(dest.equals(pattern(0, 32, 512, 5)));
  await new Promise((r) => setTimeout(r, 250));
  assert.ok(dest.equals(pattern(0, 32, 512, 5)), 'something wrote into dest after the op settled');
  nexus.close();
}));
