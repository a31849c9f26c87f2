/**
 * The engine's footprint when it holds many exports and serves nothing: RSS with N
 * small thin volumes exported, and CPU used over an idle window (timers, polling and
 * leaks show up here long before they show up under load).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createPool, createVolume, exportVolume } from '../test/helpers/api.ts';
import { startEngine } from '../test/helpers/engine_process.ts';
import { sleep } from '../test/helpers/tools.ts';
import type { IdleFigures } from './bench_table.ts';
import { cpuSeconds, rssBytes } from './proc_stat.ts';

export interface IdleOptions {
  baseDir: string;
  volumes?: number;
  volumeBytes?: number;
  idleSeconds?: number;
  /** Let start-up work (JIT, GC of creation garbage) settle before measuring. */
  settleSeconds?: number;
}

export async function measureIdleExports(o: IdleOptions): Promise<IdleFigures> {
  const volumes = o.volumes ?? 100;
  const volumeBytes = o.volumeBytes ?? 64 * 2 ** 20;
  const idleSeconds = o.idleSeconds ?? 10;
  mkdirSync(o.baseDir, { recursive: true });
  const dir = mkdtempSync(join(o.baseDir, 'berth-idle-'));
  const engine = await startEngine({ dataDir: join(dir, 'data'), poolRoots: [dir] });
  try {
    await sleep((o.settleSeconds ?? 2) * 1000);
    const rssBeforeBytes = rssBytes(engine.pid);
    // Thin volumes allocate nothing up front, so the pool file can be small and sparse.
    await createPool(engine.api, { name: 'idle', path: join(dir, 'pool.img'), sizeBytes: volumes * volumeBytes + 2 ** 30 });
    for (let i = 0; i < volumes; i++) {
      const name = `idle-${String(i).padStart(3, '0')}`;
      await createVolume(engine.api, 'idle', { name, sizeBytes: volumeBytes, thin: true });
      await exportVolume(engine.api, { pool: 'idle', volume: name });
    }
    await sleep((o.settleSeconds ?? 2) * 1000);
    const cpu0 = cpuSeconds(engine.pid);
    const t0 = performance.now();
    await sleep(idleSeconds * 1000);
    const cpu = cpuSeconds(engine.pid) - cpu0;
    const wall = (performance.now() - t0) / 1000;
    return {
      volumes,
      rssBeforeBytes,
      rssAfterBytes: rssBytes(engine.pid),
      idleCpuPercent: (cpu / wall) * 100,
      idleSeconds,
    };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${engine.diagnostics()}`, { cause: err });
  } finally {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
