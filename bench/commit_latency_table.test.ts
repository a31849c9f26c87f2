import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commitSample, commitTable, type CommitSample } from './commit_latency.ts';
import { attachCommitMarkdown, type AttachSample } from './commit_latency_attach.ts';

/** fio 3.33's JSON for a psync `--fsync=1` run, reduced to what is read. */
function fioJson(writeP50us: number, syncP50us: number, iops: number): string {
  const pct = (us: number): Record<string, number> => ({ '50.000000': us * 1000, '99.000000': us * 4000 });
  const dir = (p: Record<string, number> | undefined): object => ({ iops, bw_bytes: iops * 4096, io_bytes: iops * 4096, runtime: 1000, clat_ns: { percentile: p } });
  return `note: fio prints lines before its JSON\n${JSON.stringify({ jobs: [{ error: 0, read: dir(undefined), write: dir(pct(writeP50us)), sync: { lat_ns: { percentile: pct(syncP50us) } } }] })}`;
}

test('a commit is the p50 write plus the p50 flush (fio\'s sync section); CPU is per write+flush pair', () => {
  const s = commitSample(fioJson(6, 300, 1000), 0.5, 2);
  assert.equal(s.flushP50us, 300);
  assert.equal(s.commitP50us, 306);
  assert.equal(s.flushP99us, 1200);
  assert.equal(s.cpuUsPerOp, 250); // 0.5 s over 2 s × 1000 pairs/s
});

test('the commit table gives medians of rounds and medians of per-round ratios against the chosen base', () => {
  const s = (commit: number): CommitSample => commitSample(fioJson(0, commit, 1e6 / commit), 0, 1);
  const samples = { Berth: [s(300), s(600), s(900)], 'raw file': [s(200), s(600), s(300)] };
  const md = commitTable(['Berth', 'raw file'], samples, 'raw file');
  const berth = md.split('\n').find((l) => l.startsWith('| Berth'))!.split('|').map((c) => c.trim());
  // Per-round ratios 1.5, 1.0, 3.0 → 1.5 (the ratio of medians would be 600 / 300 = 2.0).
  assert.equal(berth[4], '600');
  assert.equal(berth[8], '1.50');
  assert.match(md, /commit p50 \/ raw file/);
});

test('a path without a measured process shows no CPU figure rather than zero', () => {
  const base = commitSample(fioJson(5, 200, 4000), 0, 1);
  const berth: AttachSample = { ...base, cpuUsPerOp: 120, engineCpuUsPerOp: 100 };
  const loop: AttachSample = { ...base, cpuUsPerOp: NaN, engineCpuUsPerOp: NaN };
  const md = attachCommitMarkdown({ written: { Berth: [berth], loop: [loop] }, fresh: { Berth: [berth], loop: [loop] } }, ['Berth', 'loop'], 'loop');
  const row = (name: string): string[] => md.split('\n').find((l) => l.startsWith(`| ${name} `))!.split('|').map((c) => c.trim());
  assert.deepEqual([row('Berth')[7], row('Berth')[8]], ['100', '120']);
  assert.deepEqual([row('loop')[7], row('loop')[8]], ['—', '—']);
});
