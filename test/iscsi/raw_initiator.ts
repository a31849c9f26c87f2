import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { InitiatorOpcode, TargetOpcode } from '../../src/iscsi/constants.ts';
import { PduFramer, type RawPdu } from '../../src/iscsi/framer.ts';
import { decodePdu, encodePdu, type DecodedPdu, type PduFields } from '../../src/iscsi/pdu.ts';
import { decodeText, encodeText } from '../../src/iscsi/text.ts';

/**
 * A deliberately simple initiator on a raw socket, for tests that must send what no
 * real initiator would. It frames replies with the target's own framer.
 */
export class RawInitiator {
  readonly socket: Socket;
  private readonly framer = new PduFramer({ maxDataSegmentLength: 16 * 1024 * 1024, headerDigest: false, dataDigest: false });
  private readonly inbox: Array<{ pdu: DecodedPdu; data: Buffer }> = [];
  private waiter: (() => void) | undefined;
  closed = false;
  cmdSN = 1;
  expStatSN = 0;
  itt = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      try {
        this.framer.push(c, (p: RawPdu) => {
          this.inbox.push({ pdu: decodePdu(Buffer.from(p.bhs)), data: Buffer.from(p.data) });
          this.waiter?.();
        });
      } catch {
        socket.destroy();
      }
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawInitiator> {
    const s = connect({ host: '127.0.0.1', port });
    await once(s, 'connect');
    return new RawInitiator(s);
  }

  send(opcode: number, fields: PduFields, data: Buffer = Buffer.alloc(0)): void {
    const bhs = encodePdu(opcode, { ...fields, dataSegmentLength: data.length });
    this.sendRaw(bhs, data);
  }

  sendRaw(bhs: Buffer, data: Buffer = Buffer.alloc(0)): void {
    const pad = Buffer.alloc((4 - (data.length % 4)) % 4);
    this.socket.write(Buffer.concat([bhs, data, pad]));
  }

  /** Next PDU from the target, or undefined when the connection closes or time runs out. */
  async next(timeoutMs = 2000): Promise<{ pdu: DecodedPdu; data: Buffer } | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0 && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const m = this.inbox.shift();
    if (m !== undefined && typeof m.pdu.fields.statSN === 'number' && m.pdu.opcode !== TargetOpcode.R2T) this.expStatSN = (m.pdu.fields.statSN + 1) >>> 0;
    return m;
  }

  /** Waits until the target closes the connection. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await this.next(deadline - Date.now());
    return this.closed;
  }

  /** One-PDU login straight to full feature phase; returns the login response. */
  async login(keys: Record<string, string>, isid = '400001370001', tsih = 0): Promise<{ pdu: DecodedPdu; data: Record<string, string> }> {
    this.send(InitiatorOpcode.LOGIN_REQUEST, {
      immediate: true, transit: true, csg: 1, nsg: 3, isid, tsih, itt: this.itt++, cid: 0, cmdSN: this.cmdSN, expStatSN: 0,
    }, encodeText(Object.entries({ HeaderDigest: 'None', DataDigest: 'None', ...keys })));
    const r = await this.next();
    if (r === undefined) throw new Error('no login response');
    return { pdu: r.pdu, data: Object.fromEntries(decodeText(r.data)) };
  }

  /** Sends a SCSI command with the next CmdSN. */
  scsi(cdb: Buffer, opts: { read?: boolean; write?: boolean; edtl?: number; lun?: number; data?: Buffer; itt?: number; final?: boolean } = {}): number {
    const itt = opts.itt ?? this.itt++;
    const cdb16 = Buffer.alloc(16);
    cdb.copy(cdb16);
    this.send(InitiatorOpcode.SCSI_COMMAND, {
      final: opts.final ?? true, read: opts.read ?? false, write: opts.write ?? false, attribute: 1, lun: opts.lun ?? 0, itt,
      expectedDataTransferLength: opts.edtl ?? 0, cmdSN: this.cmdSN++, expStatSN: this.expStatSN, cdb: cdb16,
    }, opts.data);
    return itt;
  }

  nop(data: Buffer = Buffer.alloc(0)): number {
    const itt = this.itt++;
    this.send(InitiatorOpcode.NOP_OUT, { immediate: true, lun: 0, itt, ttt: 0xffffffff, cmdSN: this.cmdSN, expStatSN: this.expStatSN }, data);
    return itt;
  }

  close(): void {
    this.socket.destroy();
  }
}

export const READ10 = (lba: number, blocks: number): Buffer => {
  const c = Buffer.alloc(10);
  c[0] = 0x28;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
};

export const WRITE10 = (lba: number, blocks: number): Buffer => {
  const c = READ10(lba, blocks);
  c[0] = 0x2a;
  return c;
};
