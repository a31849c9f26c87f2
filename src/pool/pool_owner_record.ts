import { crc32c } from '../util/crc32c.ts';
import { bytesToUuid, readU64, uuidToBytes, writeU64 } from './pool_bytes.ts';

/**
 * The owner record (format 3, docs/pool-format.md "Ownership"): who has the pool
 * imported and how alive they are. It lives in the primary superblock's 4 KiB block at
 * OWNER_RECORD_OFFSET, outside the bytes the superblock's checksum covers, so the
 * holder can rewrite it every heartbeat without touching the backup superblock.
 * Pure codec: no I/O.
 */
export const OWNER_RECORD_OFFSET = 2048;
export const OWNER_RECORD_BYTES = 512;
/** "BOWN" */
const OWNER_MAGIC = 0x4e574f42;
const OWNER_RECORD_VERSION = 1;

export const OwnerState = { released: 0, held: 1 } as const;
export type OwnerStateValue = (typeof OwnerState)[keyof typeof OwnerState];

/** Where a process runs, as far as another process can tell whether it is still alive. */
export interface HostIdentity {
  host: string;
  /** The kernel's boot id (a UUID): differs after every boot and on every machine. */
  bootId: string;
  /** Inode of the pid namespace: pids are only comparable inside one. */
  pidNs: number;
}

export interface OwnerRecord extends HostIdentity {
  /** The pool this record belongs to (a record left by an earlier pool on the same device is not one). */
  poolUuid: string;
  state: OwnerStateValue;
  /** Random per claim: two imports by one process are two owners. */
  instance: string;
  /** Heartbeat counter; watchers compare (instance, seq), never clocks. */
  seq: number;
  /** Wall clock of the last beat (ms since epoch), for people only. */
  wallMs: number;
  /** The holder's heartbeat interval: importers wait a multiple of it. */
  intervalMs: number;
  pid: number;
  /** Start time of `pid` in clock ticks after boot (/proc/PID/stat): tells a reused pid apart. */
  pidStart: number;
  nodeId: string;
}

const OFF_MAGIC = 0;
const OFF_VERSION = 4;
const OFF_POOL = 8;
const OFF_STATE = 24;
const OFF_INSTANCE = 32;
const OFF_SEQ = 48;
const OFF_WALL = 56;
const OFF_INTERVAL = 64;
const OFF_PID = 68;
const OFF_PID_START = 72;
const OFF_BOOT = 80;
const OFF_PIDNS = 96;
const OFF_HOST = 104; // length u8, then up to HOST_MAX bytes
const HOST_MAX = 64;
const OFF_NODE = 170; // length u8, then up to NODE_MAX bytes
const NODE_MAX = 253;
const OFF_CRC = 508;

function putString(buf: Buffer, off: number, max: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8').subarray(0, max);
  buf.writeUInt8(bytes.length, off);
  bytes.copy(buf, off + 1);
}

function getString(buf: Buffer, off: number, max: number): string {
  const len = Math.min(buf.readUInt8(off), max);
  return buf.toString('utf8', off + 1, off + 1 + len);
}

export function encodeOwnerRecord(r: OwnerRecord): Buffer {
  const buf = Buffer.alloc(OWNER_RECORD_BYTES);
  buf.writeUInt32LE(OWNER_MAGIC, OFF_MAGIC);
  buf.writeUInt32LE(OWNER_RECORD_VERSION, OFF_VERSION);
  uuidToBytes(r.poolUuid).copy(buf, OFF_POOL);
  buf.writeUInt32LE(r.state, OFF_STATE);
  uuidToBytes(r.instance).copy(buf, OFF_INSTANCE);
  writeU64(buf, OFF_SEQ, r.seq);
  writeU64(buf, OFF_WALL, r.wallMs);
  buf.writeUInt32LE(r.intervalMs, OFF_INTERVAL);
  buf.writeUInt32LE(r.pid, OFF_PID);
  writeU64(buf, OFF_PID_START, r.pidStart);
  uuidToBytes(r.bootId).copy(buf, OFF_BOOT);
  writeU64(buf, OFF_PIDNS, r.pidNs);
  putString(buf, OFF_HOST, HOST_MAX, r.host);
  putString(buf, OFF_NODE, NODE_MAX, r.nodeId);
  buf.writeUInt32LE(crc32c(buf, 0, 0, OFF_CRC), OFF_CRC);
  return buf;
}

/**
 * The record in a 512-byte sector, or null when there is none (zeros, a format 2 pool,
 * a torn or foreign sector). A null record means "nobody claims the pool".
 */
export function decodeOwnerRecord(buf: Buffer): OwnerRecord | null {
  if (buf.length < OWNER_RECORD_BYTES || buf.readUInt32LE(OFF_MAGIC) !== OWNER_MAGIC) return null;
  if (buf.readUInt32LE(OFF_VERSION) !== OWNER_RECORD_VERSION) return null;
  if (crc32c(buf, 0, 0, OFF_CRC) !== buf.readUInt32LE(OFF_CRC)) return null;
  const state = buf.readUInt32LE(OFF_STATE);
  if (state !== OwnerState.released && state !== OwnerState.held) return null;
  return {
    poolUuid: bytesToUuid(buf, OFF_POOL), state, instance: bytesToUuid(buf, OFF_INSTANCE),
    seq: readU64(buf, OFF_SEQ), wallMs: readU64(buf, OFF_WALL), intervalMs: buf.readUInt32LE(OFF_INTERVAL),
    pid: buf.readUInt32LE(OFF_PID), pidStart: readU64(buf, OFF_PID_START), bootId: bytesToUuid(buf, OFF_BOOT),
    pidNs: readU64(buf, OFF_PIDNS), host: getString(buf, OFF_HOST, HOST_MAX), nodeId: getString(buf, OFF_NODE, NODE_MAX),
  };
}

/** "engine NODE on HOST (pid PID)": how errors and logs name a holder. */
export function describeOwner(r: Pick<OwnerRecord, 'nodeId' | 'host' | 'pid'>): string {
  return `engine ${r.nodeId || '?'} on ${r.host || '?'} (pid ${r.pid})`;
}
