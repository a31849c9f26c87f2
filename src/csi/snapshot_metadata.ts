/**
 * The CSI SnapshotMetadata service (spec v1.10): changed-block tracking as streams of
 * byte ranges. GetMetadataAllocated lists the ranges a snapshot holds data for;
 * GetMetadataDelta those that differ between two snapshots of one volume (the ground
 * for incremental backup). Ranges are VARIABLE_LENGTH, sorted, from starting_offset
 * (a range straddling it starts there); each message holds at most max_results ranges
 * (0: the control plane's page). In Kubernetes the external-snapshot-metadata sidecar
 * authenticates the backup application and calls this over the driver's socket.
 */
import type { Logger } from '../util/log.ts';
import { CapacityOutOfRangeError, InvalidArgumentError } from './csi_errors.ts';
import type { Int64 } from './csi_types.ts';
import { bytesFromWire, requireString } from './csi_wire.ts';
import type { BlockPage, SnapshotGroupClient } from './group_backend.ts';

/** Streams the reply messages through `send`; resolves when the last was sent. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StreamHandler = (request: any, send: (message: object) => void) => Promise<void>;
export type StreamHandlerTable = Record<string, StreamHandler>;

/** The most ranges Berth puts in one message, whatever max_results asks (gRPC's 4 MiB limit holds ~200k). */
export const METADATA_MAX_RESULTS = 10_000;

function readMaxResults(n: number | undefined): number | undefined {
  const v = n ?? 0;
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError('max_results must not be negative');
  return v === 0 ? undefined : Math.min(v, METADATA_MAX_RESULTS);
}

function message(page: BlockPage): object {
  return {
    block_metadata_type: 'VARIABLE_LENGTH',
    volume_capacity_bytes: page.sizeBytes,
    block_metadata: page.ranges.map((r) => ({ byte_offset: r.offset, size_bytes: r.length })),
  };
}

/** Pages from the control plane until the last one, each as one message; OUT_OF_RANGE past the end of the volume. */
async function stream(
  backend: SnapshotGroupClient, snapshotId: string, base: string | undefined, start: number, maxResults: number | undefined, send: (m: object) => void,
): Promise<number> {
  let offset = start;
  let sent = 0;
  for (;;) {
    const page = await backend.snapshotBlocks(snapshotId, { ...(base !== undefined ? { base } : {}), startingOffset: offset, ...(maxResults !== undefined ? { maxResults } : {}) });
    if (sent === 0 && start >= page.sizeBytes && start > 0) throw new CapacityOutOfRangeError(`starting_offset ${start} is not below the volume's ${page.sizeBytes} bytes`);
    if (page.ranges.length > 0 || sent === 0) {
      send(message(page));
      sent++;
    }
    if (page.nextOffset === null || page.nextOffset <= offset) return sent;
    offset = page.nextOffset;
  }
}

export function snapshotMetadataHandlers(backend: SnapshotGroupClient, log: Logger): StreamHandlerTable {
  const l = log.child({ component: 'csi-snapshot-metadata' });
  return {
    GetMetadataAllocated: async (req: { snapshot_id?: string; starting_offset?: Int64; max_results?: number }, send) => {
      const id = requireString(req.snapshot_id, 'snapshot_id');
      const start = bytesFromWire(req.starting_offset, 'starting_offset');
      const messages = await stream(backend, id, undefined, start, readMaxResults(req.max_results), send);
      l.debug({ snapshotId: id, messages }, 'allocated blocks streamed');
    },
    GetMetadataDelta: async (req: { base_snapshot_id?: string; target_snapshot_id?: string; starting_offset?: Int64; max_results?: number }, send) => {
      const base = requireString(req.base_snapshot_id, 'base_snapshot_id');
      const target = requireString(req.target_snapshot_id, 'target_snapshot_id');
      const start = bytesFromWire(req.starting_offset, 'starting_offset');
      const messages = await stream(backend, target, base, start, readMaxResults(req.max_results), send);
      l.debug({ baseSnapshotId: base, targetSnapshotId: target, messages }, 'changed blocks streamed');
    },
  };
}
