import { crc32 } from 'node:zlib';
import { allocIoBuffer } from './pool_file.ts';
import { MAX_GRAINS, grainBytes, hasAllGrains, hasGrain, hasUnrecorded, setGrain } from './pool_grains.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import type { PoolModel } from './pool_model.ts';

/** Reads `len` bytes of the pool file at `at` into `buf`. */
export type ReadAt = (buf: Buffer, len: number, at: number) => Promise<void>;

/** CRC-32 of a grain's bytes, as TGRAIN records carry it (pool_volume_cow.ts computes the same). */
export function grainCrc(data: Buffer, from: number, len: number): number {
  return crc32(data.subarray(from, from + len));
}

export interface TentativeOutcome {
  /** Grains whose data matched one of their CRCs: the partial extent's own from now on. */
  kept: number;
  /** Grains whose data matched none (a write that never finished): they read the base again. */
  dropped: number;
  /** Partial extents the checkpoint says hold every grain, completed (their base lost a reference). */
  completed: number;
}

/**
 * Import's decision on tentative grains (format 5, docs/pool-format.md §12): a grain a
 * volume wrote after its last GRAINS record is taken as the extent's own only if its data
 * has the CRC of a write that claimed it. kill -9 leaves the page cache, so every
 * acknowledged grain write passes; after a power loss a grain whose data did not reach
 * the disk fails and reads its base again — never zeros, never half a write.
 * A kept grain is *live*, not recorded: it stays tentative (writes to it journal a TGRAIN
 * record first) until `recordKeptGrains` runs after import's checkpoint, which stores it.
 * Partial extents whose recorded grains are all set (the checkpoint stores written grains
 * as recorded) are completed through the model, so their base loses the reference and,
 * when it was the last, joins the orphans the recovery step erases.
 */
export async function settleTentativeGrains(model: PoolModel, dataOffset: number, read: ReadAt): Promise<TentativeOutcome> {
  const out: TentativeOutcome = { kept: 0, dropped: 0, completed: 0 };
  const es = model.extentSize;
  const gb = grainBytes(es);
  const buf = allocIoBuffer(gb);
  for (const [key, crcs] of model.tentative) {
    const q = Math.floor(key / MAX_GRAINS);
    const g = key - q * MAX_GRAINS;
    const part = model.partial.get(q);
    if (part === undefined || hasGrain(part.bits, g)) continue;
    await read(buf, gb, dataOffset + q * es + g * gb);
    if (crcs.includes(grainCrc(buf, 0, gb))) {
      out.kept++;
      setGrain(part.live, g);
    } else {
      out.dropped++;
    }
  }
  model.tentative.clear();
  for (const [q, part] of [...model.partial]) {
    if (!hasAllGrains(part.bits, model.grains)) continue;
    model.apply({ type: RecordType.GRAINS, q, bits: part.bits.slice() });
    out.completed++;
  }
  return out;
}

/** GRAINS records for grains kept by settleTentativeGrains, once a checkpoint holds their data durable. */
export function keptGrainRecords(model: PoolModel): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const [q, part] of model.partial) {
    if (hasUnrecorded(part.live, part.bits)) out.push({ type: RecordType.GRAINS, q, bits: part.live.slice() });
  }
  return out;
}
