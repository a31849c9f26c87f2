/** Helpers for the SCSI unit tests: a target over memory devices, nexuses and CDB builders. */
import { MemoryBlockDevice, type MemoryBlockDeviceOptions } from '../block/memory_device.ts';
import { parseSense } from './sense.ts';
import { ScsiTargetDevice } from './target_device.ts';
import type { ITNexus, LogicalUnitConfig, ScsiResponse, ScsiTask } from './types.ts';

export function nexus(n = 1, relativeTargetPortId = 1): ITNexus {
  return {
    id: `nexus-${n}-${relativeTargetPortId}`,
    initiatorName: `iqn.2024-01.test:initiator${n}`,
    isid: `40000000000${n}`.slice(-12),
    targetName: 'iqn.2024-01.io.berth:target',
    tpgt: 1,
    relativeTargetPortId,
  };
}

export interface Harness {
  target: ScsiTargetDevice;
  device: MemoryBlockDevice;
  /** Runs a command; `data` is the data-out. */
  run(cdb: number[] | Buffer, opts?: { data?: Buffer; nexus?: ITNexus; lun?: number; expectedLength?: number; attribute?: number }): Promise<ScsiResponse>;
}

export function harness(opts: Partial<MemoryBlockDeviceOptions> & { config?: Partial<LogicalUnitConfig> } = {}): Harness {
  const device = new MemoryBlockDevice({ blockCount: 1 << 16, ...opts });
  const target = new ScsiTargetDevice();
  target.addLun(0, { device, naaId: '6001405abcdef012', serial: 'SERIAL0', ...opts.config });
  return { target, device, run: runner(target) };
}

export function runner(target: ScsiTargetDevice): Harness['run'] {
  const met = new Set<string>();
  return async (cdb, opts = {}) => {
    const nx = opts.nexus ?? nexus(1);
    const lun = opts.lun ?? 0;
    // Clear the power-on unit attention the first time a nexus addresses a LUN.
    if (!met.has(`${nx.id}/${lun}`)) {
      met.add(`${nx.id}/${lun}`);
      await target.execute(task([0, 0, 0, 0, 0, 0], nx, lun));
    }
    return target.execute(task(cdb, nx, lun, opts.data, opts.expectedLength, opts.attribute));
  };
}

export function task(cdb: number[] | Buffer, nx: ITNexus, lun = 0, data?: Buffer, expectedLength?: number, attribute = 1): ScsiTask {
  const buf = Buffer.isBuffer(cdb) ? cdb : Buffer.from(cdb);
  return { nexus: nx, lun, cdb: buf, expectedLength: expectedLength ?? data?.length ?? 0, dataOut: data, attribute };
}

/** `key/ascq` of a CHECK CONDITION as a short string, e.g. '5/2400', or 'GOOD'. */
export function senseOf(r: ScsiResponse): string {
  if (r.status === 0) return 'GOOD';
  if (r.status !== 2 || !r.sense) return `status ${r.status}`;
  const s = parseSense(r.sense);
  return `${s.key.toString(16)}/${s.asc.toString(16).padStart(4, '0')}`;
}

function be(value: number | bigint, bytes: number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) { out.unshift(Number(v & 0xffn)); v >>= 8n; }
  return out;
}

export const cdb = {
  read10: (lba: number, count: number, flags = 0) => [0x28, flags, ...be(lba, 4), 0, ...be(count, 2), 0],
  write10: (lba: number, count: number, flags = 0) => [0x2a, flags, ...be(lba, 4), 0, ...be(count, 2), 0],
  read16: (lba: number | bigint, count: number, flags = 0) => [0x88, flags, ...be(lba, 8), ...be(count, 4), 0, 0],
  write16: (lba: number | bigint, count: number, flags = 0) => [0x8a, flags, ...be(lba, 8), ...be(count, 4), 0, 0],
  verify10: (lba: number, count: number, bytchk: number) => [0x2f, bytchk << 1, ...be(lba, 4), 0, ...be(count, 2), 0],
  compareAndWrite: (lba: number, count: number) => [0x89, 0, ...be(lba, 8), 0, 0, 0, count, 0, 0],
  writeSame16: (lba: number, count: number, flags = 0) => [0x93, flags, ...be(lba, 8), ...be(count, 4), 0, 0],
  unmap: (length: number) => [0x42, 0, 0, 0, 0, 0, 0, ...be(length, 2), 0],
  getLbaStatus: (lba: number, alloc = 64) => [0x9e, 0x12, ...be(lba, 8), ...be(alloc, 4), 0, 0],
  readCapacity16: (alloc = 32) => [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, ...be(alloc, 4), 0, 0],
  inquiry: (evpd: boolean, page: number, alloc = 255) => [0x12, evpd ? 1 : 0, page, ...be(alloc, 2), 0],
  modeSense6: (page: number, pc = 0, dbd = false, alloc = 255) => [0x1a, dbd ? 0x08 : 0, (pc << 6) | page, 0, alloc, 0],
  modeSelect6: (length: number) => [0x15, 0x10, 0, 0, length, 0],
  prIn: (sa: number, alloc = 1024) => [0x5e, sa, 0, 0, 0, 0, 0, ...be(alloc, 2), 0],
  prOut: (sa: number, type = 0, length = 24) => [0x5f, sa, type, 0, 0, ...be(length, 4), 0],
  tur: () => [0, 0, 0, 0, 0, 0],
  requestSense: (alloc = 18) => [0x03, 0, 0, 0, alloc, 0],
  reportLuns: (alloc = 256) => [0xa0, 0, 0, 0, 0, 0, ...be(alloc, 4), 0, 0],
  rsoc: (options: number, opcode = 0, sa = 0, rctd = false, alloc = 65535) => [0xa3, 0x0c, (rctd ? 0x80 : 0) | options, opcode, ...be(sa, 2), ...be(alloc, 4), 0, 0],
};

/** PR OUT parameter list: reservation key, service action key, flags byte 20. */
export function prParams(key: bigint, saKey: bigint, flags = 0): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(key, 0);
  b.writeBigUInt64BE(saKey, 8);
  b[20] = flags;
  return b;
}
