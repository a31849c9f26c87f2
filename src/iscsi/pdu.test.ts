import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataInFlag, InitiatorOpcode, TargetOpcode } from './constants.ts';
import {
  decodeDataOut, decodePdu, decodeScsiCommand, encodeDataIn, encodePdu, encodeR2T, encodeScsiResponse, LUN_UNSUPPORTED, readLun, writeLun,
} from './pdu.ts';
import { PDU_LAYOUTS } from './pdu_layout.ts';
import { PduFieldError } from './errors.ts';

function sample(kind: string, name: string, i: number): number | boolean | string | Buffer {
  switch (kind) {
    case 'u8': return (i * 37 + 5) & 0xff;
    case 'u16': return (i * 4099 + 11) & 0xffff;
    case 'u24': return (i * 65599 + 3) & 0xffffff;
    case 'u32': return (i * 2654435761 + 17) >>> 0;
    case 'flag': return i % 2 === 0;
    case 'lun': return [0, 1, 255, 256, 16383][i % 5];
    case 'isid': return '80123456789a';
    case 'cdb': return Buffer.from(Array.from({ length: 16 }, (_, k) => k + i));
    default: throw new Error(`${name}: ${kind}`);
  }
}

test('every PDU layout round-trips through encodePdu/decodePdu', () => {
  for (const [opcode, layout] of PDU_LAYOUTS) {
    for (let i = 0; i < 6; i++) {
      const fields: Record<string, number | boolean | string | Buffer> = {};
      for (const f of layout.fields) {
        if (f.kind === 'bits') fields[f.name] = i & (f.mask! >>> (31 - Math.clz32(f.mask! & -f.mask!)));
        else fields[f.name] = sample(f.kind, f.name, i + f.offset);
      }
      const bhs = encodePdu(opcode, fields);
      assert.equal(bhs.length, 48);
      const back = decodePdu(bhs);
      assert.equal(back.opcode, opcode);
      assert.equal(back.name, layout.name);
      // Bits the layout fixes (F bit of responses) may read back as set flags.
      for (const f of layout.fields) {
        if (f.kind === 'flag' && f.offset === 1 && (layout.fixedFlags & f.mask!) !== 0) continue;
        assert.deepEqual(back.fields[f.name], fields[f.name], `${layout.name}.${f.name}`);
      }
    }
  }
});

test('decodePdu rejects unknown opcodes and short buffers with PduFieldError', () => {
  const b = Buffer.alloc(48);
  b[0] = 0x1c;
  assert.throws(() => decodePdu(b), PduFieldError);
  assert.throws(() => decodePdu(Buffer.alloc(10)), PduFieldError);
});

test('SAM LUN encoding: peripheral below 256, flat space up to 16383, others unsupported', () => {
  const b = Buffer.alloc(8);
  for (const lun of [0, 1, 200, 255, 256, 1000, 16383]) {
    writeLun(b, 0, lun);
    assert.equal(readLun(b, 0), lun);
  }
  writeLun(b, 0, 256);
  assert.equal(b[0], 0x41);
  assert.equal(b[1], 0x00);
  b[0] = 0x80;
  assert.equal(readLun(b, 0), LUN_UNSUPPORTED);
  b[0] = 0x01; // peripheral method with a bus number
  assert.equal(readLun(b, 0), LUN_UNSUPPORTED);
  assert.throws(() => writeLun(b, 0, 16384), PduFieldError);
});

test('hot-path SCSI Command and Data-Out decoders agree with the table', () => {
  const cmd = encodePdu(InitiatorOpcode.SCSI_COMMAND, {
    immediate: true, final: true, write: true, attribute: 1, lun: 3, itt: 0x11223344,
    expectedDataTransferLength: 4096, cmdSN: 77, expStatSN: 9, cdb: Buffer.from('2a000000000100000800000000000000', 'hex'), dataSegmentLength: 4096,
  });
  const fast = decodeScsiCommand(cmd);
  const slow = decodePdu(cmd).fields;
  for (const [k, v] of Object.entries(fast)) assert.deepEqual(v, slow[k], k);
  const dout = encodePdu(InitiatorOpcode.SCSI_DATA_OUT, { final: true, lun: 300, itt: 5, ttt: 6, expStatSN: 7, dataSN: 8, bufferOffset: 8192 });
  const f2 = decodeDataOut(dout);
  const s2 = decodePdu(dout).fields;
  for (const [k, v] of Object.entries(f2)) assert.deepEqual(v, s2[k], k);
});

test('hot-path Data-In, SCSI Response and R2T encoders agree with the table', () => {
  const sn = { expCmdSN: 100, maxCmdSN: 227 };
  const di = decodePdu(encodeDataIn(DataInFlag.FINAL | DataInFlag.STATUS | DataInFlag.UNDERFLOW, 0, 2, 9, 55, sn, 3, 65536, 512, 4096));
  assert.equal(di.opcode, TargetOpcode.SCSI_DATA_IN);
  assert.deepEqual(
    { final: di.fields.final, statusPresent: di.fields.statusPresent, underflow: di.fields.underflow, lun: di.fields.lun, itt: di.fields.itt, ttt: di.fields.ttt, statSN: di.fields.statSN, expCmdSN: di.fields.expCmdSN, maxCmdSN: di.fields.maxCmdSN, dataSN: di.fields.dataSN, bufferOffset: di.fields.bufferOffset, residualCount: di.fields.residualCount, dataSegmentLength: di.fields.dataSegmentLength },
    { final: true, statusPresent: true, underflow: true, lun: 2, itt: 9, ttt: 0xffffffff, statSN: 55, expCmdSN: 100, maxCmdSN: 227, dataSN: 3, bufferOffset: 65536, residualCount: 512, dataSegmentLength: 4096 },
  );
  const r = decodePdu(encodeScsiResponse(0x04, 0, 2, 9, 56, sn, 4, 100, 20));
  assert.deepEqual([r.fields.overflow, r.fields.status, r.fields.statSN, r.fields.expDataSN, r.fields.residualCount, r.fields.dataSegmentLength], [true, 2, 56, 4, 100, 20]);
  const t = decodePdu(encodeR2T(5, 9, 1234, 57, sn, 2, 262144, 65536));
  assert.deepEqual([t.fields.lun, t.fields.itt, t.fields.ttt, t.fields.statSN, t.fields.r2tSN, t.fields.bufferOffset, t.fields.desiredDataTransferLength], [5, 9, 1234, 57, 2, 262144, 65536]);
});
