/**
 * What the benchmark measures, as data: each row is one fio workload. Later rows
 * (replicated volumes, rebuild rate) are added here and by new target kinds, not by
 * changing the runner.
 */

export const Metric = { iops: 'iops', bandwidth: 'bandwidth' } as const;
export type Metric = (typeof Metric)[keyof typeof Metric];

export interface RowSpec {
  id: string;
  label: string;
  rw: 'randread' | 'randwrite' | 'read' | 'write' | 'randrw';
  blockSize: string;
  /** Per job: fio's iodepth. Each libiscsi job opens its own iSCSI session. */
  iodepth: number;
  numjobs: number;
  /** The figure the Berth/tgt ratio is taken on. */
  metric: Metric;
}

/** Single-volume rows over one iSCSI LUN. With 4 jobs the depth is 32 per job (128 in flight over 4 sessions). */
export const SINGLE_VOLUME_ROWS: readonly RowSpec[] = [
  { id: 'randread-4k-qd32', label: '4k randread QD32 1 job', rw: 'randread', blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops },
  { id: 'randwrite-4k-qd32', label: '4k randwrite QD32 1 job', rw: 'randwrite', blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops },
  { id: 'randread-4k-qd32x4', label: '4k randread QD32 ×4 jobs', rw: 'randread', blockSize: '4k', iodepth: 32, numjobs: 4, metric: Metric.iops },
  { id: 'randwrite-4k-qd32x4', label: '4k randwrite QD32 ×4 jobs', rw: 'randwrite', blockSize: '4k', iodepth: 32, numjobs: 4, metric: Metric.iops },
  { id: 'read-1m-qd8', label: '1M seq read QD8', rw: 'read', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth },
  { id: 'write-1m-qd8', label: '1M seq write QD8', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth },
];

/** Written over the whole volume before any row, so reads hit real data on both targets. */
export const PREFILL_ROW: RowSpec = {
  id: 'prefill', label: 'pre-fill', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth,
};
