import { join } from 'node:path';
import { StateCorruptError } from './errors.ts';
import { readFileIfExists, writeFileAtomic } from './state_file.ts';

/**
 * What the engine must remember across restarts: which pools to import and what to
 * export. Volumes themselves live in the pools' own metadata. The file holds CHAP
 * secrets, so it is written mode 0600 and never returned by the API.
 */

export const ENGINE_STATE_VERSION = 1;
export const ENGINE_STATE_FILE = 'engine.json';

export interface ChapConfig {
  user: string;
  secret: string;
  mutualUser?: string;
  mutualSecret?: string;
}

export interface PoolRecord {
  name: string;
  path: string;
}

export interface LunRecord {
  lun: number;
  pool: string;
  volume: string;
}

export interface TargetRecord {
  iqn: string;
  /** null: any initiator may log in. */
  allowedInitiators: string[] | null;
  chap?: ChapConfig;
  luns: LunRecord[];
}

export interface EngineState {
  version: number;
  pools: PoolRecord[];
  targets: TargetRecord[];
}

export function emptyState(): EngineState {
  return { version: ENGINE_STATE_VERSION, pools: [], targets: [] };
}

export async function loadEngineState(dataDir: string): Promise<EngineState> {
  const path = join(dataDir, ENGINE_STATE_FILE);
  const text = await readFileIfExists(path);
  if (text === undefined) return emptyState();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new StateCorruptError(`${path} is not valid JSON`, { cause: err });
  }
  return validateState(parsed, path);
}

export async function saveEngineState(dataDir: string, state: EngineState): Promise<void> {
  await writeFileAtomic(join(dataDir, ENGINE_STATE_FILE), JSON.stringify(state, null, 2) + '\n', 0o600);
}

function validateState(value: unknown, path: string): EngineState {
  const bad = (why: string): never => { throw new StateCorruptError(`${path}: ${why}`); };
  if (!isObject(value)) return bad('not an object');
  if (value.version !== ENGINE_STATE_VERSION) return bad(`unsupported version ${String(value.version)}`);
  if (!Array.isArray(value.pools) || !Array.isArray(value.targets)) return bad('pools and targets must be arrays');
  for (const p of value.pools) {
    if (!isObject(p) || typeof p.name !== 'string' || typeof p.path !== 'string') bad('malformed pool record');
  }
  for (const t of value.targets) {
    if (!isObject(t) || typeof t.iqn !== 'string' || !Array.isArray(t.luns)) return bad('malformed target record');
    if (t.allowedInitiators !== null && !Array.isArray(t.allowedInitiators)) bad(`target ${t.iqn}: malformed ACL`);
    for (const l of t.luns as unknown[]) {
      if (!isObject(l) || typeof l.lun !== 'number' || typeof l.pool !== 'string' || typeof l.volume !== 'string') {
        bad(`target ${t.iqn}: malformed LUN record`);
      }
    }
  }
  return value as unknown as EngineState;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
