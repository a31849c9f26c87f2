/**
 * The quick start as a user runs it: `node src/main.ts` (what `npm start` runs) makes the
 * demo pool, volume and export, prints a URL that works, stops cleanly on Ctrl-C
 * (SIGINT), and a second start reuses everything, data included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { nodeBin, repoRoot, run } from '../helpers/tools.ts';
import { assertQemuOk, qemuIo, readCapacityBytes, withTmp, GiB } from './engine_kit.ts';

interface QuickStart {
  url: string;
  output: () => string;
  interrupt(): Promise<number | null>;
}

async function quickStart(dataDir: string): Promise<QuickStart> {
  const child = spawn(nodeBin, [join(repoRoot, 'src', 'main.ts'), '--data-dir', dataDir,
    '--api-listen', '127.0.0.1:0', '--iscsi-listen', '127.0.0.1:0'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 30 s:\n${out}`)), 30_000);
    const check = (): void => {
      const m = /Try it[\s\S]*?qemu-img info (iscsi:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', check);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code} before the banner:\n${out}`)); });
  });
  return {
    url,
    output: () => out,
    async interrupt() {
      child.kill('SIGINT');
      return exited;
    },
  };
}

test('npm start: demo volume exported, Ctrl-C clean, second start reuses it', { timeout: 120_000 }, () => withTmp('quickstart', async (dataDir) => {
  const first = await quickStart(dataDir);
  try {
    assert.match(first.url, /^iscsi:\/\/127\.0\.0\.1:\d+\/iqn\.2026-11\.io\.berth:default\.demo\/0$/);
    assert.match(first.output(), /iscsi-ls -s iscsi:\/\/127\.0\.0\.1:\d+/);
    assert.match(first.output(), /bin\/berth --api http:\/\/127\.0\.0\.1:\d+ volume list/);
    // Without -f raw, qemu-io probes the format and restricts writes to block 0.
    assert.match(first.output(), /qemu-io -f raw -c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' iscsi:\/\//);
    assert.doesNotMatch(first.output(), /Brought back/);
    // Not a terminal: any log line is JSON, and the quick start logs only warnings.
    for (const line of first.output().split('\n').filter((l) => l.startsWith('{'))) assert.ok(JSON.parse(line).level >= 40, line);
    assert.equal(await readCapacityBytes(first.url), GiB);
    assertQemuOk(await qemuIo(first.url, ['write -P 0xab 0 1M', 'flush']), 'write through the printed URL');
    const cli = /(bin\/berth --api http:\/\/127\.0\.0\.1:\d+)/.exec(first.output())![1].split(' ');
    const listed = await run(join(repoRoot, cli[0]), [...cli.slice(1), 'volume', 'list'], { timeoutMs: 30_000 });
    assert.match(listed.stdout, /default\s*│\s*demo\s*│\s*1 GiB/);
  } finally {
    assert.equal(await first.interrupt(), 0, `exit code after SIGINT\n${first.output()}`);
  }
  // Ctrl-C says what it stopped.
  assert.match(first.output(), /Berth stopped \(SIGINT\): closed \d+ iSCSI sessions? and the API; exports closed: default\/demo; pools flushed and checkpointed: default\./);
  const second = await quickStart(dataDir);
  try {
    assertQemuOk(await qemuIo(second.url, ['read -P 0xab 0 1M']), 'data after a second start');
    // The restart banner lists what came back from the data directory.
    assert.match(second.output(), /Brought back from \S+: 1 pool, 1 export\./);
    assert.match(second.output(), /^ {4}default {2}16(\.0)? GiB, 1 volume, /m);
    assert.match(second.output(), /^ {4}default\/demo {2}iscsi:\/\/\S+$/m);
  } finally {
    assert.equal(await second.interrupt(), 0);
  }
}));

test('Ctrl-C at a terminal running npm start: the engine stops cleanly, npm reports 130 as documented', { timeout: 120_000 }, () => withTmp('quickstart-npm', async (dataDir) => {
  // A terminal's Ctrl-C sends SIGINT to the whole foreground process group: npm, sh and node.
  const child = spawn('npm', ['start', '--', '--data-dir', dataDir, '--api-listen', '127.0.0.1:0', '--iscsi-listen', '127.0.0.1:0'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const exited = new Promise<string>((r) => child.once('exit', (code, signal) => r(signal ?? String(code))));
  try {
    const deadline = Date.now() + 60_000;
    while (!/Try it from another terminal/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no banner:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    process.kill(-child.pid!, 'SIGINT');
    // npm ends itself with the signal it got, which a shell reports as status 130 (128 + SIGINT).
    assert.match(await exited, /^(130|SIGINT)$/, out);
    // npm may exit before the engine has written its last line.
    for (const until = Date.now() + 30_000; !/Berth stopped \(SIGINT\)/.test(out) && Date.now() < until;) await new Promise((r) => setTimeout(r, 200));
    assert.match(out, /Berth stopped \(SIGINT\): closed 0 iSCSI sessions/);
  } finally {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
  }
}));
