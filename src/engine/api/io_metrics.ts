import { IO_KINDS, LATENCY_BUCKETS_SECONDS, SENSE_KEY_COUNT } from '../../scsi/index.ts';
import { iscsiCounters } from '../../iscsi/index.ts';
import type { ExportIoStats } from '../export_registry.ts';
import type { Family } from '../../util/prom_registry.ts';

/** SPC-4 table 28, lower-case with underscores as label values. */
const SENSE_KEY_NAMES = [
  'no_sense', 'recovered_error', 'not_ready', 'medium_error', 'hardware_error', 'illegal_request', 'unit_attention',
  'data_protect', 'blank_check', 'vendor_specific', 'copy_aborted', 'aborted_command', 'reserved_0c', 'volume_overflow',
  'miscompare', 'completed',
];
const LE = [...LATENCY_BUCKETS_SECONDS.map(String), '+Inf'];
/** Kinds with bytes: `other` commands move no data worth counting. */
const BYTE_KINDS = 3;

/** Per-export I/O families from the counters the SCSI layer keeps (src/scsi/io_stats.ts). */
export function ioMetricFamilies(exports: readonly ExportIoStats[]): Family[] {
  const ops: Family = { name: 'berth_volume_io_ops_total', help: 'SCSI commands completed on an exported volume, by op (read, write, unmap, other).', type: 'counter', samples: [] };
  const bytes: Family = { name: 'berth_volume_io_bytes_total', help: 'Bytes read, written or unmapped on an exported volume, by op.', type: 'counter', samples: [] };
  const lat: Family = { name: 'berth_volume_io_latency_seconds', help: 'Time from a command reaching its volume to its status, by op.', type: 'histogram', samples: [] };
  const inFlight: Family = { name: 'berth_volume_io_in_flight', help: 'SCSI commands running on an exported volume now.', type: 'gauge', samples: [] };
  const sense: Family = { name: 'berth_volume_scsi_errors_total', help: 'CHECK CONDITION responses on an exported volume, by sense key (only keys seen so far).', type: 'counter', samples: [] };
  const status: Family = { name: 'berth_volume_scsi_status_errors_total', help: 'Other non-GOOD statuses (reservation conflict, busy, task set full) on an exported volume.', type: 'counter', samples: [] };
  for (const { pool, volume, stats } of exports) {
    const vl = { pool, volume };
    IO_KINDS.forEach((op, k) => {
      const l = { pool, volume, op };
      ops.samples.push({ labels: l, value: stats.ops[k] });
      if (k < BYTE_KINDS) bytes.samples.push({ labels: l, value: stats.bytes[k] });
      stats.cumulativeBuckets(k).forEach((value, i) => lat.samples.push({ metricName: `${lat.name}_bucket`, labels: { ...l, le: LE[i] }, value }));
      lat.samples.push({ metricName: `${lat.name}_sum`, labels: l, value: stats.latencySum[k] });
      lat.samples.push({ metricName: `${lat.name}_count`, labels: l, value: stats.ops[k] });
    });
    inFlight.samples.push({ labels: vl, value: stats.inFlight });
    for (let key = 0; key < SENSE_KEY_COUNT; key++) {
      if (stats.senseErrors[key] > 0) sense.samples.push({ labels: { ...vl, sense_key: SENSE_KEY_NAMES[key] }, value: stats.senseErrors[key] });
    }
    status.samples.push({ labels: vl, value: stats.statusErrors });
  }
  const digest: Family = { name: 'berth_iscsi_digest_errors_total', help: 'PDUs whose CRC32C header or data digest did not match, by kind.', type: 'counter', samples: [
    { labels: { kind: 'header' }, value: iscsiCounters.headerDigestErrors },
    { labels: { kind: 'data' }, value: iscsiCounters.dataDigestErrors },
  ] };
  return [ops, bytes, lat, inFlight, sense, status, digest];
}
