import { read as fsRead, readSync, write as fsWrite, writeSync } from 'node:fs';
import type { ITNexus, ScsiResponse, ScsiTarget, ScsiTask } from '../../src/scsi/types.ts';

/**
 * TEST DOUBLE — not the real SCSI layer (src/scsi). A minimal in-memory SBC disk so the
 * iSCSI transport can be tested and measured on its own: TEST UNIT READY, INQUIRY
 * (standard, VPD 0x00/0x80/0x83), READ CAPACITY(10/16), READ/WRITE(6/10/12/16),
 * SYNCHRONIZE CACHE, MODE SENSE(6/10) minimal, REPORT LUNS. Everything else gets
 * CHECK CONDITION / ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE.
 * With `fd`, LUN 0's blocks live in that file (for side-by-side benchmarks with tgt),
 * read and written through libuv's thread pool, or with `syncIo` by blocking calls
 * (fine for /dev/shm, where a 4 KiB copy is cheaper than a thread hand-off).
 */
export class MemoryScsiTarget implements ScsiTarget {
  readonly blockSize = 512;
  readonly disks = new Map<number, Buffer>();
  private readonly sizes = new Map<number, number>();
  readonly events: string[] = [];
  /** When set, execute() waits for this before answering (for mid-command tests). */
  gate: Promise<void> | undefined;
  started = 0;
  finished = 0;

  private readonly fd: number | undefined;
  private readonly syncIo: boolean;

  constructor(lunSizes: Record<number, number> = { 0: 64 * 1024 * 1024 }, fd?: number, syncIo = false) {
    this.fd = fd;
    this.syncIo = syncIo;
    for (const [lun, size] of Object.entries(lunSizes)) {
      this.sizes.set(Number(lun), size);
      this.disks.set(Number(lun), fd !== undefined && lun === '0' ? Buffer.alloc(0) : Buffer.alloc(size));
    }
  }

  luns(): number[] {
    return [...this.disks.keys()].sort((a, b) => a - b);
  }
  lunReset(nexus: ITNexus, lun: number): boolean {
    this.events.push(`lunReset ${nexus.id} ${lun}`);
    return this.disks.has(lun);
  }
  targetReset(nexus: ITNexus): void {
    this.events.push(`targetReset ${nexus.id}`);
  }
  nexusAdded(nexus: ITNexus): void {
    this.events.push(`added ${nexus.id}`);
  }
  nexusRemoved(nexus: ITNexus): void {
    this.events.push(`removed ${nexus.id}`);
  }
  abortTasks(nexus: ITNexus, lun: number | undefined): void {
    this.events.push(`abort ${nexus.id} ${lun}`);
  }

  async execute(task: ScsiTask): Promise<ScsiResponse> {
    this.started++;
    if (this.gate !== undefined) await this.gate;
    try {
      const r = this.run(task);
      return this.fd !== undefined && task.lun === 0 && r.io !== undefined ? await this.fileIo(r.io, task) : r;
    } finally {
      this.finished++;
    }
  }

  private run(t: ScsiTask): ScsiResponse & { io?: { write: boolean; offset: number; bytes: number } } {
    const c = t.cdb;
    const op = c[0];
    const disk = this.disks.get(t.lun);
    if (op === 0xa0) return { status: 0, data: this.reportLuns(c.readUInt32BE(6)) };
    if (op === 0x12) return this.inquiry(t, disk !== undefined);
    if (disk === undefined) return check(0x05, 0x25, 0x00); // LOGICAL UNIT NOT SUPPORTED
    const blocks = this.sizes.get(t.lun)! / this.blockSize;
    switch (op) {
      case 0x00: return { status: 0 };
      case 0x25: {
        const d = Buffer.alloc(8);
        d.writeUInt32BE(Math.min(blocks - 1, 0xffffffff), 0);
        d.writeUInt32BE(this.blockSize, 4);
        return { status: 0, data: d };
      }
      case 0x9e: {
        if ((c[1] & 0x1f) !== 0x10) return invalidOpcode();
        const d = Buffer.alloc(32);
        d.writeBigUInt64BE(BigInt(blocks - 1), 0);
        d.writeUInt32BE(this.blockSize, 8);
        return { status: 0, data: d.subarray(0, Math.min(32, c.readUInt32BE(10))) };
      }
      case 0x08: case 0x28: case 0xa8: case 0x88:
      case 0x0a: case 0x2a: case 0xaa: case 0x8a: return this.rw(t, disk, blocks);
      case 0x35: case 0x91: return { status: 0 };
      case 0x1a: return { status: 0, data: Buffer.from([3, 0, 0, 0]).subarray(0, c[4]) };
      case 0x5a: return { status: 0, data: Buffer.from([0, 6, 0, 0, 0, 0, 0, 0]).subarray(0, c.readUInt16BE(7)) };
      default: return invalidOpcode();
    }
  }

  private fileIo(io: { write: boolean; offset: number; bytes: number }, t: ScsiTask): Promise<ScsiResponse> {
    const fd = this.fd!;
    if (this.syncIo) {
      if (io.write) {
        const d = t.dataOut ?? Buffer.alloc(io.bytes);
        writeSync(fd, d, 0, Math.min(io.bytes, d.length), io.offset);
        return Promise.resolve({ status: 0, dataOutLength: io.bytes });
      }
      const b = Buffer.allocUnsafe(io.bytes);
      readSync(fd, b, 0, io.bytes, io.offset);
      return Promise.resolve({ status: 0, data: b });
    }
    return new Promise((resolve, reject) => {
      if (io.write) {
        const d = t.dataOut ?? Buffer.alloc(io.bytes);
        fsWrite(fd, d, 0, Math.min(io.bytes, d.length), io.offset, (err) => (err ? reject(err) : resolve({ status: 0, dataOutLength: io.bytes })));
      } else {
        const b = Buffer.allocUnsafe(io.bytes);
        fsRead(fd, b, 0, io.bytes, io.offset, (err) => (err ? reject(err) : resolve({ status: 0, data: b })));
      }
    });
  }

  private rw(t: ScsiTask, disk: Buffer, blocks: number): ScsiResponse & { io?: { write: boolean; offset: number; bytes: number } } {
    const c = t.cdb;
    let lba: number;
    let count: number;
    switch (c[0]) {
      case 0x08: case 0x0a: lba = ((c[1] & 0x1f) << 16) | c.readUInt16BE(2); count = c[4] || 256; break;
      case 0x28: case 0x2a: lba = c.readUInt32BE(2); count = c.readUInt16BE(7); break;
      case 0xa8: case 0xaa: lba = c.readUInt32BE(2); count = c.readUInt32BE(6); break;
      default: lba = Number(c.readBigUInt64BE(2)); count = c.readUInt32BE(10); break;
    }
    if (lba + count > blocks) return check(0x05, 0x21, 0x00); // LBA OUT OF RANGE
    const bytes = count * this.blockSize;
    const write = c[0] === 0x0a || c[0] === 0x2a || c[0] === 0xaa || c[0] === 0x8a;
    if (this.fd !== undefined && t.lun === 0) return { status: 0, io: { write, offset: lba * this.blockSize, bytes } };
    if (!write) return { status: 0, data: Buffer.from(disk.subarray(lba * this.blockSize, lba * this.blockSize + bytes)) };
    const d = t.dataOut ?? Buffer.alloc(0);
    d.copy(disk, lba * this.blockSize, 0, Math.min(bytes, d.length));
    return { status: 0, dataOutLength: bytes };
  }

  private inquiry(t: ScsiTask, present: boolean): ScsiResponse {
    const c = t.cdb;
    const alloc = c.readUInt16BE(3);
    const pq = present ? 0x00 : 0x7f;
    if (c[1] & 1) {
      let page: Buffer;
      if (c[2] === 0x00) page = Buffer.from([pq, 0x00, 0, 3, 0x00, 0x80, 0x83]);
      else if (c[2] === 0x80) page = Buffer.concat([Buffer.from([pq, 0x80, 0, 8]), Buffer.from('MEMDISK0')]);
      else if (c[2] === 0x83) page = Buffer.from([pq, 0x83, 0, 12, 0x01, 0x03, 0, 8, 0x60, 1, 2, 3, 4, 5, 6, 7]);
      else return check(0x05, 0x24, 0x00);
      return { status: 0, data: page.subarray(0, alloc) };
    }
    const d = Buffer.alloc(36, 0x20);
    d[0] = pq; d[1] = 0; d[2] = 6; d[3] = 2; d[4] = 31; d[5] = 0; d[6] = 0; d[7] = 0x02;
    d.write('BERTHTST', 8); d.write('MEMORY DOUBLE   ', 16); d.write('0001', 32);
    return { status: 0, data: d.subarray(0, alloc) };
  }

  private reportLuns(alloc: number): Buffer {
    const luns = this.luns();
    const d = Buffer.alloc(8 + 8 * luns.length);
    d.writeUInt32BE(8 * luns.length, 0);
    luns.forEach((l, i) => { d[8 + i * 8 + 1] = l; });
    return d.subarray(0, alloc);
  }
}

function check(key: number, asc: number, ascq: number): ScsiResponse {
  const s = Buffer.alloc(18);
  s[0] = 0x70; s[2] = key; s[7] = 10; s[12] = asc; s[13] = ascq;
  return { status: 0x02, sense: s };
}

function invalidOpcode(): ScsiResponse {
  return check(0x05, 0x20, 0x00);
}
