/**
 * `berth bench --network-paths` (bench/netpath.ts behind the CLI): an engine in a network
 * namespace, fio over loopback, a veth pair, a bridge and VXLAN, short rows, one round.
 * Checks the table (every path, a figure and a ratio in every cell) and that the bench
 * left no namespace, link or pool file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fioPath, repoRoot, run } from '../helpers/tools.ts';

const fio = fioPath();
const netnsNames = async (): Promise<string[]> => (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);

test('berth bench --network-paths: host network, veth, bridge and VXLAN rows with ratios; nothing left', {
  skip: (fio === undefined && 'no fio with libiscsi (scripts/build-fio.sh)') || (process.getuid?.() !== 0 && 'needs root (network namespaces)'),
  timeout: 900_000,
}, async () => {
  const child = spawn(join(repoRoot, 'bin', 'berth'), ['bench', '--network-paths', '--network-rounds', '1', '--runtime', '1', '--ramp', '0', '--size', '64MiB']);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, stderr.slice(-3000));
  for (const path of ['host network (loopback)', 'veth pair', 'Linux bridge', 'VXLAN overlay']) {
    const line = stdout.split('\n').find((l) => l.includes(path)) ?? '';
    const cells = line.split('│').map((c) => c.trim()).filter(Boolean);
    assert.equal(cells.length, 6, `${path}: ${line}`);
    for (const c of cells.slice(2)) assert.match(c, path.startsWith('host') ? /^[\d,.]+ (IOPS|MiB\/s)$/ : /^[\d,.]+ (IOPS|MiB\/s) \(\d+\.\d\d×\)$/, `${path}: ${line}`);
  }
  // The bench names its namespaces berth-<id>-n0…n3 (and -hub); other suites make their own meanwhile.
  const id = /GiB received on (berth-[0-9a-f]+)-n1\/nv0/.exec(stderr)?.[1];
  assert.ok(id, `the traffic crossed the veth: ${stderr.slice(-2000)}`);
  assert.deepEqual((await netnsNames()).filter((n) => n.startsWith(`${id}-`)), [], 'namespaces (and with them every link) removed');
  assert.equal(existsSync(`/dev/shm/berth-netpath-${child.pid}.pool`), false, 'pool file removed');
});
