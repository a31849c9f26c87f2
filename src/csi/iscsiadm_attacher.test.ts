/**
 * IscsiadmAttacher cannot log in on these machines (no kernel initiator), so it is tested
 * by the commands it runs and by iscsiadm outputs in open-iscsi 2.1's format, replayed
 * by a scripted runner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { errorCode } from '../util/errors.ts';
import { mapError } from './status_map.ts';
import { readAttachRequest } from './attacher.ts';
import { IscsiadmAttacher } from './iscsiadm_attacher.ts';
import { byPathLink, parseDiscovery, parseSessions } from './iscsiadm_parse.ts';
import type { CommandResult, CommandRunner } from './node_exec.ts';

const IQN = 'iqn.2025-01.io.berth:vol-1';
const PORTAL = '10.0.0.7:3260';
const DISCOVERY = `10.0.0.7:3260,1 iqn.2025-01.io.berth:vol-0\n10.0.0.7:3260,1 ${IQN}\n[fe80::1]:3260,1 ${IQN}\n`;
const SESSIONS = `tcp: [1] 10.0.0.7:3260,1 ${IQN} (non-flash)\ntcp: [4] 10.0.0.8:3261,1 iqn.2025-01.io.berth:vol-9 (non-flash)\n`;

/** Replays scripted results in order and records every command line. */
class ScriptedRunner implements CommandRunner {
  readonly calls: string[][] = [];
  private readonly script: ((args: readonly string[]) => CommandResult | undefined)[];
  constructor(script: ((args: readonly string[]) => CommandResult | undefined)[]) {
    this.script = script;
  }
  async run(cmd: string, args: readonly string[]): Promise<CommandResult> {
    this.calls.push([cmd, ...args]);
    for (const s of this.script) {
      const r = s(args);
      if (r) return r;
    }
    return { stdout: '', stderr: '', code: 0 };
  }
}

const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '', code: 0 });

describe('iscsiadm output', () => {
  it('parses sendtargets discovery, IPv6 included', () => {
    assert.deepEqual(parseDiscovery(DISCOVERY).map((t) => `${t.portal} ${t.iqn}`), [
      `10.0.0.7:3260 iqn.2025-01.io.berth:vol-0`,
      `10.0.0.7:3260 ${IQN}`,
      `[fe80::1]:3260 ${IQN}`,
    ]);
  });

  it('parses sessions', () => {
    assert.deepEqual(parseSessions(SESSIONS), [
      { id: 1, portal: PORTAL, iqn: IQN },
      { id: 4, portal: '10.0.0.8:3261', iqn: 'iqn.2025-01.io.berth:vol-9' },
    ]);
    assert.deepEqual(parseSessions('iscsiadm: No active sessions.\n'), []);
  });

  it('names the udev by-path link', () => {
    assert.equal(byPathLink({ portal: PORTAL, iqn: IQN, lun: 3 }), `/dev/disk/by-path/ip-10.0.0.7:3260-iscsi-${IQN}-lun-3`);
  });
});

describe('IscsiadmAttacher', () => {
  const req = readAttachRequest('vol-1', { targetPortal: PORTAL, targetIqn: IQN, lun: '0', chap: 'oneway' }, { chapUsername: 'berth', chapPassword: 's3cret-pass-01' });

  it('discovers, sets CHAP and manual startup, logs in, rescans and waits for the by-path link', async () => {
    const runner = new ScriptedRunner([(a) => (a.includes('discovery') ? ok(DISCOVERY) : undefined)]);
    let probes = 0;
    const att = new IscsiadmAttacher({
      runner,
      sleep: async () => undefined,
      resolveDevice: async (p) => (p === byPathLink(req) && ++probes > 3 ? '/dev/sdc' : undefined),
    });
    const dev = await att.attach(req);
    assert.deepEqual(dev, { devicePath: byPathLink(req), handle: { device: '/dev/sdc' } });
    const lines = runner.calls.map((c) => c.join(' '));
    const node = `iscsiadm -m node -T ${IQN} -p ${PORTAL}`;
    assert.deepEqual(lines, [
      `iscsiadm -m discovery -t sendtargets -p ${PORTAL}`,
      `${node} -o update -n node.startup -v manual`,
      `${node} -o update -n node.session.auth.authmethod -v CHAP`,
      `${node} -o update -n node.session.auth.username -v berth`,
      `${node} -o update -n node.session.auth.password -v s3cret-pass-01`,
      `${node} --login`,
      `${node} -R`,
    ]);
  });

  it('sets the target\'s credentials too for mutual CHAP', async () => {
    const mutual = readAttachRequest('vol-1', { targetPortal: PORTAL, targetIqn: IQN, lun: '0', chap: 'mutual' }, {
      chapUsername: 'berth', chapPassword: 's3cret-pass-01', chapMutualUsername: 'target', chapMutualPassword: 'target-pass-02',
    });
    const runner = new ScriptedRunner([(a) => (a.includes('discovery') ? ok(DISCOVERY) : undefined)]);
    const att = new IscsiadmAttacher({ runner, sleep: async () => undefined, resolveDevice: async (p) => (runner.calls.some((c) => c.includes('-R')) && p === byPathLink(mutual) ? '/dev/sdc' : undefined) });
    await att.attach(mutual);
    const settings = runner.calls.filter((c) => c.includes('update')).map((c) => `${c[c.indexOf('-n') + 1]}=${c[c.indexOf('-v') + 1]}`);
    assert.deepEqual(settings.slice(1), [
      'node.session.auth.authmethod=CHAP', 'node.session.auth.username=berth', 'node.session.auth.password=s3cret-pass-01',
      'node.session.auth.username_in=target', 'node.session.auth.password_in=target-pass-02',
    ]);
  });

  it('a login the target refuses for CHAP (exit 24) is UNAUTHENTICATED, without the secret', async () => {
    const runner = new ScriptedRunner([
      (a) => (a.includes('discovery') ? ok(DISCOVERY) : undefined),
      (a) => (a.includes('--login') ? { stdout: '', stderr: 'iscsiadm: Login failed to authenticate with target', code: 24 } : undefined),
    ]);
    const att = new IscsiadmAttacher({ runner, sleep: async () => undefined, resolveDevice: async () => undefined });
    await assert.rejects(att.attach(req), (e: Error) => {
      assert.equal(errorCode(e), 'CSI_UNAUTHENTICATED');
      assert.equal(mapError(e).code, status.UNAUTHENTICATED);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });

  it('treats "session exists" (15) as logged in, and fails with the tool\'s stderr, not its arguments', async () => {
    const runner = new ScriptedRunner([
      (a) => (a.includes('discovery') ? ok(DISCOVERY) : undefined),
      (a) => (a.includes('--login') ? { stdout: '', stderr: 'iscsiadm: session exists', code: 15 } : undefined),
      (a) => (a.includes('-R') ? { stdout: '', stderr: 'iscsiadm: Could not rescan: timed out', code: 8 } : undefined),
    ]);
    const att = new IscsiadmAttacher({ runner, sleep: async () => undefined, resolveDevice: async () => undefined });
    await assert.rejects(att.attach(req), (e: Error) => {
      assert.equal(errorCode(e), 'CSI_NODE_COMMAND_FAILED');
      assert.match(e.message, /exit 8.*timed out/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });

  it('refuses a portal that does not offer the target', async () => {
    const runner = new ScriptedRunner([(a) => (a.includes('discovery') ? ok('10.0.0.7:3260,1 iqn.2025-01.io.berth:other\n') : undefined)]);
    const att = new IscsiadmAttacher({ runner, resolveDevice: async () => undefined });
    await assert.rejects(att.attach(req), (e) => errorCode(e) === 'CSI_ATTACH_FAILED');
  });

  it('gives up when the device never appears', async () => {
    const runner = new ScriptedRunner([(a) => (a.includes('discovery') ? ok(DISCOVERY) : undefined)]);
    const att = new IscsiadmAttacher({ runner, deviceWaitMs: 0, sleep: async () => undefined, resolveDevice: async () => undefined });
    await assert.rejects(att.attach(req), /did not appear/);
  });

  it('is idempotent: an existing by-path link means no iscsiadm at all', async () => {
    const runner = new ScriptedRunner([]);
    const att = new IscsiadmAttacher({ runner, resolveDevice: async () => '/dev/sdc' });
    await att.attach(req);
    assert.equal(runner.calls.length, 0);
  });

  it('logs out and deletes the node record for the last user; otherwise drops only the LUN', async () => {
    const runner = new ScriptedRunner([(a) => (a.includes('--logout') ? { stdout: '', stderr: 'iscsiadm: No matching sessions found', code: 21 } : undefined)]);
    const sysfs: string[] = [];
    const att = new IscsiadmAttacher({ runner, resolveDevice: async () => '/dev/sdc', writeSysfs: async (p, v) => void sysfs.push(`${p}=${v}`) });
    const dev = { devicePath: byPathLink(req), handle: {} };
    await att.detach('vol-1', req, dev, false);
    assert.deepEqual(sysfs, ['/sys/block/sdc/device/delete=1']);
    assert.equal(runner.calls.length, 0);
    await att.detach('vol-1', req, dev, true);
    assert.deepEqual(runner.calls.map((c) => c.slice(-2).join(' ')), ['10.0.0.7:3260 --logout', '-o delete']);
  });
});

describe('publish context and secrets', () => {
  it('checks portal, IQN, LUN and CHAP completeness', () => {
    const good = { targetPortal: PORTAL, targetIqn: IQN, lun: '1' };
    assert.deepEqual(readAttachRequest('v', good, {}), { volumeId: 'v', portal: PORTAL, iqn: IQN, lun: 1 });
    const bad: [Record<string, string>, Record<string, string>, RegExp][] = [
      [{ ...good, targetPortal: '10.0.0.7' }, {}, /host:port/],
      [{ ...good, targetPortal: '10.0.0.7:70000' }, {}, /host:port/],
      [{ ...good, targetIqn: 'not-an-iqn' }, {}, /iSCSI name/],
      [{ ...good, lun: '-1' }, {}, /LUN number/],
      [{ ...good, lun: '' }, {}, /lun is required/],
      [good, { chapPassword: 'p' }, /CHAP needs both/],
      [{ ...good, chap: 'oneway' }, { chapUsername: 'u', chapPassword: 'long-enough-1', chapMutualUsername: 'm' }, /mutual CHAP needs both/],
      [{ ...good, chap: 'oneway' }, { chapUsername: 'u', chapPassword: 'short' }, /chapPassword in the node-stage secret must be 12/],
      [{ ...good, chap: 'oneway' }, { chapUsername: 'u', chapPassword: 'long-enough-1', chapMutualUsername: 'm', chapMutualPassword: 'long-enough-1' }, /must differ/],
      [{ ...good, chap: 'always' }, {}, /publish_context.chap must be one of oneway, mutual/],
    ];
    for (const [ctx, secrets, message] of bad) {
      assert.throws(() => readAttachRequest('v', ctx, secrets), (e: Error) => message.test(e.message) && !/long-enough|short/.test(e.message));
    }
  });

  it('matches the node-stage secret against what the target demands, before any login', () => {
    const good = { targetPortal: PORTAL, targetIqn: IQN, lun: '1' };
    const creds = { chapUsername: 'u', chapPassword: 'long-enough-1' };
    const code = (ctx: Record<string, string>, secrets: Record<string, string>): string => {
      try {
        readAttachRequest('v', ctx, secrets);
        return 'OK';
      } catch (e) {
        return status[mapError(e).code];
      }
    };
    assert.equal(code({ ...good, chap: 'oneway' }, creds), 'OK');
    assert.equal(code({ ...good, chap: 'oneway' }, {}), 'UNAUTHENTICATED', 'the target demands CHAP, the node has none');
    assert.equal(code({ ...good, chap: 'oneway' }, { chapUsername: '', chapPassword: '' }), 'UNAUTHENTICATED', 'the shipped empty Secret');
    assert.equal(code({ ...good, chap: 'mutual' }, creds), 'UNAUTHENTICATED', 'mutual CHAP but nothing to check the target with');
    assert.equal(code(good, creds), 'FAILED_PRECONDITION', 'credentials for a target that demands none: never a silent attach without CHAP');
    assert.equal(code(good, {}), 'OK');
  });
});
