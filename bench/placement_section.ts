/**
 * The placement row of `npm run bench`: runs bench/placement.ts in its own process (its
 * fleet model takes a few hundred MiB that the fio rows should not share) and renders
 * its JSON as the docs section.
 */
import { join } from 'node:path';
import { repoRoot, run } from '../test/helpers/tools.ts';

interface PlacementFigures {
  nodes: number; pools: number; volumes: number; placed: number; failed: number; replicas: number;
  indexBuildMs: number; placeTotalMs: number; placeCpuMs: number; volumesPerSecond: number;
  p50Ms: number; p99Ms: number; maxMs: number; scanPerVolumeMs: number;
}

export async function placementSection(): Promise<string> {
  const r = await run(process.execPath, [join(repoRoot, 'bench', 'placement.ts'), '--json'], { timeoutMs: 10 * 60_000 });
  const f = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as PlacementFigures;
  const n = (x: number): string => x.toLocaleString('en-US');
  return [
    '## Placement at fleet scale',
    '',
    `${n(f.volumes)} volumes (${n(f.replicas)} replicas) placed one after another, each reserved before the next, on a simulated fleet of ${n(f.nodes)} nodes with ${n(f.pools)} drives (\`node bench/placement.ts\`).`,
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| index build | ${n(f.indexBuildMs)} ms |`,
    `| placing all volumes (wall / CPU) | ${n(f.placeTotalMs)} ms / ${n(f.placeCpuMs)} ms |`,
    `| volumes per second | ${n(f.volumesPerSecond)} |`,
    `| per volume p50 / p99 / max | ${f.p50Ms} / ${f.p99Ms} / ${f.maxMs} ms |`,
    `| refused | ${n(f.failed)} |`,
    `| plain scan of every pool, per volume (for comparison) | ${n(f.scanPerVolumeMs)} ms |`,
  ].join('\n');
}
