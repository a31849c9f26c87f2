import type { Logger } from '../util/log.ts';
import { NoSpaceError } from '../block/errors.ts';
import { PoolAllocator } from './pool_allocator.ts';
import { PoolCorruptError } from './pool_errors.ts';
import type { PoolExtentSupply } from './pool_extent_supply.ts';
import type { PoolJournal } from './pool_journal.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import { JOURNAL_DURABLE } from './pool_journal.ts';
import type { PoolModel } from './pool_model.ts';
import type { PoolSnapshots } from './pool_snapshots.ts';
import { keptGrainRecords, settleTentativeGrains, type ReadAt } from './pool_tentative.ts';

/** What import's recovery step works on: a replayed pool's parts, before anyone uses it. */
export interface Recovery {
  model: PoolModel;
  snaps: PoolSnapshots;
  supply: PoolExtentSupply;
  allocator: PoolAllocator;
  journal: PoolJournal;
  log: Logger;
  dataOffset: number;
  read: ReadAt;
  /** The pool's own commit (orphans erased and freed after the record is durable). */
  commit: (records: JournalRecord[], flags: number) => Promise<void>;
}

/**
 * After replay: finish interrupted deletes, settle tentative grains, zero reserved extents
 * nothing maps (a write may have reached them before the process died), then checkpoint
 * into a new epoch — which also makes the grains kept here recorded before any write.
 */
export async function recoverAfterReplay(r: Recovery, replayedBlocks: number): Promise<void> {
  let finishedDeletes = 0;
  // Snapshots and clones a crash left unfinished (or half deleted), and volumes being
  // deleted, are dropped: their extents nobody else references join the reserve.
  for (const id of r.snaps.unfinished()) {
    finishedDeletes++;
    r.snaps.drop(id);
  }
  for (const meta of [...r.model.volumes.values()]) {
    if (!meta.deleting) continue;
    finishedDeletes++;
    r.model.apply({ type: RecordType.VOL_DELETE, vol: meta.id });
  }
  // Grains written after their last record: kept when their data checks out (format 5).
  const grains = r.model.tentative.size > 0 || r.model.partial.size > 0
    ? await settleTentativeGrains(r.model, r.dataOffset, r.read) : undefined;
  r.model.takeOrphans();
  // Every reserved extent nothing references may hold data (a write that beat its MAP
  // record, an orphan whose erase did not finish): zero it, then it is free.
  const reserved = [...r.model.reserved].filter((p) => r.model.refs[p] === 0);
  r.model.reserved.clear();
  await r.supply.erase(reserved);
  for (const p of reserved) if (r.allocator.isUsed(p)) r.allocator.free(p);
  // A host without room for the checkpoint must not keep the pool from importing: its
  // data is intact, and the journal writes that checkpoint before any other metadata.
  let checkpointDeferred = false;
  await r.journal.checkpoint().catch((err: unknown) => {
    if (!(err instanceof NoSpaceError)) throw err;
    checkpointDeferred = true;
  });
  // Grains kept above are in that checkpoint, so they can be recorded now; until then
  // (no room for the checkpoint) they stay tentative, and writes to them keep journaling
  // their CRC first.
  const kept = checkpointDeferred ? [] : keptGrainRecords(r.model);
  if (kept.length > 0) await r.commit(kept, JOURNAL_DURABLE);
  r.log.info({
    replayedBlocks, zeroedReserved: reserved.length, finishedDeletes, volumes: r.model.volumes.size,
    ...(grains !== undefined && grains.kept + grains.dropped + grains.completed > 0 ? { tentativeGrains: grains } : {}),
    ...(checkpointDeferred ? { checkpointDeferred } : {}),
  }, 'pool imported');
}

/**
 * The allocator of a loaded pool: every referenced extent used. Reference counts are
 * consistent by construction (every record keeps them so, and a record that would drop
 * one below zero is corruption); what remains to check is that every referenced extent
 * lies below the zeroed mark and is not also reserved.
 */
export function referencedExtents(model: PoolModel, extentCount: number): PoolAllocator {
  const allocator = new PoolAllocator(extentCount);
  for (let p = 0; p < model.extentCount; p++) {
    if (model.refs[p] === 0) continue;
    if (p >= model.hwm) throw new PoolCorruptError(`extent ${p} is referenced but above the zeroed mark`);
    if (model.reserved.has(p)) throw new PoolCorruptError(`extent ${p} is referenced and reserved`);
    allocator.markUsed(p);
  }
  model.takeOrphans();
  return allocator;
}
