import { join } from 'node:path';
import { StateCorruptError } from './errors.ts';
import { isRebuildThrottleMode, type RebuildThrottleModeName } from '../nexus/index.ts';
import { readFileIfExists, writeFileAtomic } from './state_file.ts';

/**
 * What the engine remembers of its nexuses across restarts: membership, generation and,
 * for each replica not in sync, the regions it misses (the write-intent map, base64).
 * A replica recorded `online` was in sync when the file was written; one recorded
 * `stale` needs its map copied before it serves reads (no map = copy everything).
 */
export const NEXUS_STATE_VERSION = 1;
export const NEXUS_STATE_FILE = 'nexuses.json';

export interface ReplicaRecord {
  /** `host:port` of the engine serving it (this engine's own endpoint for a local one). */
  node: string;
  pool: string;
  volume: string;
  state: 'online' | 'stale';
  /** WriteIntentMap.toBuffer() in base64, for a stale replica. */
  intents?: string;
}

export interface NexusRecord {
  name: string;
  /** The volume's identity (LUN NAA id and serial): kept when the nexus moves. */
  uuid: string;
  generation: number;
  blockSize: number;
  blockCount: number;
  thin: boolean;
  regionBytes: number;
  rebuildThrottleBytesPerSec: number;
  /** Set per nexus; absent (every file before it existed) follows the engine's default. */
  rebuildThrottleMode?: RebuildThrottleModeName;
  replicas: ReplicaRecord[];
}

/**
 * Loads the records; replicas the file names by this engine's former replica endpoint
 * (`self`, which moves when it listens on port 0) are renamed to its current one.
 */
export async function loadNexusRecords(dataDir: string, self: string): Promise<NexusRecord[]> {
  const path = join(dataDir, NEXUS_STATE_FILE);
  const text = await readFileIfExists(path);
  if (text === undefined) return [];
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (err) { throw new StateCorruptError(`${path} is not valid JSON`, { cause: err }); }
  const doc = parsed as { version?: unknown; self?: unknown; nexuses?: unknown };
  if (doc?.version !== NEXUS_STATE_VERSION || !Array.isArray(doc.nexuses)) throw new StateCorruptError(`${path}: unsupported version or no nexuses`);
  for (const n of doc.nexuses as NexusRecord[]) {
    const ok = typeof n?.name === 'string' && typeof n.uuid === 'string' && Number.isSafeInteger(n.generation)
      && Number.isSafeInteger(n.blockSize) && Number.isSafeInteger(n.blockCount) && Array.isArray(n.replicas)
      && n.replicas.every((r) => typeof r?.node === 'string' && typeof r.pool === 'string' && typeof r.volume === 'string');
    if (!ok) throw new StateCorruptError(`${path}: malformed nexus record`);
    if (n.rebuildThrottleMode !== undefined && !isRebuildThrottleMode(n.rebuildThrottleMode)) throw new StateCorruptError(`${path}: nexus ${n.name} has an unknown rebuildThrottleMode`);
  }
  const records = doc.nexuses as NexusRecord[];
  if (typeof doc.self === 'string' && doc.self !== self) {
    for (const n of records) for (const r of n.replicas) if (r.node === doc.self) r.node = self;
  }
  return records;
}

export async function saveNexusRecords(dataDir: string, self: string, records: NexusRecord[]): Promise<void> {
  await writeFileAtomic(join(dataDir, NEXUS_STATE_FILE), JSON.stringify({ version: NEXUS_STATE_VERSION, self, nexuses: records }, null, 2) + '\n');
}
