/**
 * The targets the runners measure, behind one shape: Berth (a fresh engine with a pool
 * on a file, one volume, exported) and tgt (tgtd over a plain file of the same size on
 * the same kind of storage). Both live in a scratch directory that stop() removes.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportedVolume } from '../test/helpers/api.ts';
import { startEngine } from '../test/helpers/engine_process.ts';
import { startTgt } from '../test/helpers/tgt.ts';
import { run } from '../test/helpers/tools.ts';

export const TargetKind = { berth: 'berth', tgt: 'tgt' } as const;
export type TargetKind = (typeof TargetKind)[keyof typeof TargetKind];

export interface TargetOptions {
  /** Directory on the storage under test (/dev/shm, a disk); a subdirectory is made in it. */
  baseDir: string;
  sizeBytes: number;
  blockSize: 512 | 4096;
  thin: boolean;
  /** Berth only: a command the engine runs under (see EngineOptions.wrap). */
  engineWrap?: string[];
  /** Berth only: the pool's size (default the volume's plus 256 MiB for metadata). */
  poolBytes?: number;
  /** Berth only: more engine flags. */
  engineArgs?: string[];
}

export interface RunningTarget {
  kind: TargetKind;
  url: string;
  /** The process doing the target's work, for CPU and RSS sampling. */
  pid: number;
  /** Berth only: the engine's API base URL. */
  api?: string;
  diagnostics(): string;
  stop(): Promise<void>;
}

/** Room for the pool's own metadata beyond the volume; generous, it is only a file. */
const POOL_SLACK_BYTES = 256 * 1024 * 1024;

export async function startTarget(kind: TargetKind, o: TargetOptions): Promise<RunningTarget> {
  return kind === TargetKind.berth ? startBerth(o) : startTgtTarget(o);
}

async function startBerth(o: TargetOptions): Promise<RunningTarget> {
  mkdirSync(o.baseDir, { recursive: true });
  const dir = mkdtempSync(join(o.baseDir, 'berth-bench-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  let engine;
  try {
    engine = await startEngine({
      dataDir: join(dir, 'data'), poolRoots: [dir], ...(o.engineWrap ? { wrap: o.engineWrap } : {}), ...(o.engineArgs ? { args: o.engineArgs } : {}),
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  try {
    const exp = await exportedVolume(engine.api, {
      pool: { name: 'bench', path: join(dir, 'pool.img'), sizeBytes: o.poolBytes ?? o.sizeBytes + POOL_SLACK_BYTES },
      volume: { name: 'vol', sizeBytes: o.sizeBytes, blockSize: o.blockSize, thin: o.thin },
    });
    const e = engine;
    return {
      kind: TargetKind.berth,
      url: exp.url,
      pid: e.pid,
      api: e.api,
      diagnostics: () => e.diagnostics(),
      async stop() {
        await e.stop();
        cleanup();
      },
    };
  } catch (err) {
    await engine.stop();
    cleanup();
    throw new Error(`${(err as Error).message}\n${engine.diagnostics()}`, { cause: err });
  }
}

async function startTgtTarget(o: TargetOptions): Promise<RunningTarget> {
  mkdirSync(o.baseDir, { recursive: true });
  const dir = mkdtempSync(join(o.baseDir, 'tgt-bench-'));
  const file = join(dir, 'lun.img');
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    // Sparse, like the file under Berth's pool: both targets allocate on first write,
    // and the bench pre-fills both before it reads.
    await run('truncate', ['-s', String(o.sizeBytes), file]);
    const t = await startTgt({ backingFile: file, blockSize: o.blockSize, thin: o.thin });
    return {
      kind: TargetKind.tgt,
      url: t.url,
      pid: t.pid,
      diagnostics: () => t.log(),
      async stop() {
        await t.stop();
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
