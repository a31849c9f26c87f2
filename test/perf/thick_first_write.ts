/**
 * Not a test: what a database commit costs on a thick volume's never-written blocks, in
 * process (no iSCSI, no attach path). Three targets side by side, rounds interleaved:
 * - "thick, fallocated": a thick volume as the pool makes it (the host's blocks are
 *   fallocate'd, so ext4/xfs keep them as unwritten extents until written);
 * - "thick, zero-written": a thick volume whose every byte was written with zeros and
 *   synced first (what eager zeroing at create would leave);
 * - "sparse file": a plain sparse file, pwrite + fdatasync (the raw-file baseline).
 * Each round each target does `--commits` 4 KiB writes at random 4 KiB offsets inside a
 * region of its own never touched by earlier rounds, each followed by a flush, and
 * records write+flush latency.
 *
 *   node test/perf/thick_first_write.ts [--dir DIR] [--rounds N] [--commits N] [--region-mib N]
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from '../../src/pool/pool.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: join(import.meta.dirname, '..', '..', '.build', 'bench') },
    rounds: { type: 'string', default: '5' },
    commits: { type: 'string', default: '300' },
    'region-mib': { type: 'string', default: '16' },
  },
});
const rounds = Number(values.rounds);
const commits = Number(values.commits);
const region = Number(values['region-mib']) * 2 ** 20;
const volBytes = region * rounds;
fs.mkdirSync(values.dir!, { recursive: true });
const dir = fs.mkdtempSync(join(values.dir!, 'berth-thick-first-'));

interface Target { name: string; commit: (pos: number, buf: Buffer) => Promise<void>; close: () => Promise<void> }

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const pool = await Pool.create(join(dir, 'pool.img'), { name: 'p', sizeBytes: 2 * volBytes + 512 * 2 ** 20 });
  await pool.createVolume({ name: 'lazy', sizeBytes: volBytes, blockSize: 4096, thin: false });
  await pool.createVolume({ name: 'eager', sizeBytes: volBytes, blockSize: 4096, thin: false });
  const lazy = pool.openVolume('lazy');
  const eager = pool.openVolume('eager');
  const zeros = Buffer.alloc(2 ** 20);
  for (let pos = 0; pos < volBytes; pos += zeros.length) await eager.write(pos / 4096, zeros, false);
  await eager.flush();
  const fd = fs.openSync(join(dir, 'sparse.img'), 'w+');
  fs.ftruncateSync(fd, volBytes);
  const onVolume = (v: typeof lazy) => async (pos: number, buf: Buffer): Promise<void> => {
    await v.write(pos / 4096, buf, false);
    await v.flush();
  };
  const targets: Target[] = [
    { name: 'thick, fallocated', commit: onVolume(lazy), close: async () => undefined },
    { name: 'thick, zero-written', commit: onVolume(eager), close: async () => undefined },
    {
      name: 'sparse file',
      commit: (pos, buf) => new Promise((resolve, reject) => {
        fs.write(fd, buf, 0, buf.length, pos, (err) => (err ? reject(err) : fs.fdatasync(fd, (e) => (e ? reject(e) : resolve()))));
      }),
      close: async () => fs.closeSync(fd),
    },
  ];
  const lat: Record<string, number[]> = {};
  const perRound: Record<string, number[]> = {};
  for (const t of targets) { lat[t.name] = []; perRound[t.name] = []; }
  const buf = Buffer.alloc(4096, 0xa5);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const mine: number[] = [];
      for (let i = 0; i < commits; i++) {
        const pos = r * region + Math.floor(Math.random() * (region / 4096)) * 4096;
        const t0 = performance.now();
        await t.commit(pos, buf);
        mine.push((performance.now() - t0) * 1000);
      }
      lat[t.name].push(...mine);
      perRound[t.name].push(p50(mine));
      console.log(`round ${r + 1} ${t.name}: write+flush p50 ${p50(mine).toFixed(0)} µs`);
    }
  }
  const base = perRound['sparse file'];
  console.log('\n| Target | commit p50 µs (median of rounds) | / sparse file (median of per-round ratios) |\n| --- | ---: | ---: |');
  for (const t of targets) {
    const ratios = perRound[t.name].map((x, i) => x / base[i]);
    console.log(`| ${t.name} | ${p50(perRound[t.name]).toFixed(0)} | ${p50(ratios).toFixed(2)} |`);
  }
  for (const t of targets) await t.close();
  await pool.close();
}

try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
