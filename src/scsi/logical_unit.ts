import type { BlockDevice } from '../block/block_device.ts';
import { BerthError } from '../util/errors.ts';
import { EpochGate, RangeLocks } from './io_gate.ts';
import { PrState } from './pr_state.ts';
import type { ITNexus, LogicalUnitConfig } from './types.ts';
import { UnitAttentions } from './unit_attention.ts';

/** Limits reported in the Block Limits VPD page and enforced by the command handlers. */
export interface BlockLimits {
  /** MAXIMUM TRANSFER LENGTH in blocks. */
  readonly maxTransfer: number;
  /** MAXIMUM COMPARE AND WRITE LENGTH in blocks (one byte in the VPD page). */
  readonly maxCompareAndWrite: number;
  readonly maxWriteSame: number;
  readonly maxUnmapLbaCount: number;
  readonly maxUnmapDescriptors: number;
  readonly maxAtomicTransfer: number;
  /** Logical blocks per physical block, as an exponent (READ CAPACITY 16 LBPPBE). */
  readonly lbppbExponent: number;
}

const MAX_TRANSFER_BYTES = 8 * 1024 * 1024;
/** Block Limits' MAXIMUM WRITE SAME LENGTH; the FUSE front's discards are cut to it. */
export const MAX_WRITE_SAME_BLOCKS = 0xffff;
const MAX_UNMAP_DESCRIPTORS = 256;
export function blockLimitsFor(device: BlockDevice, physicalBlockSize = device.blockSize): BlockLimits {
  const maxTransfer = Math.floor(MAX_TRANSFER_BYTES / device.blockSize);
  const ratio = Math.floor(physicalBlockSize / device.blockSize);
  if (ratio < 1 || (ratio & (ratio - 1)) !== 0 || ratio > 0x8000) {
    throw new BerthError('BAD_PHYSICAL_BLOCK_SIZE', 'physicalBlockSize must be the block size times a power of two');
  }
  return {
    maxTransfer,
    maxCompareAndWrite: 255,
    maxWriteSame: MAX_WRITE_SAME_BLOCKS,
    maxUnmapLbaCount: Math.min(maxTransfer * 8, 0x100000),
    maxUnmapDescriptors: MAX_UNMAP_DESCRIPTORS,
    maxAtomicTransfer: maxTransfer,
    lbppbExponent: Math.log2(ratio),
  };
}

/** Changeable mode parameters (MODE SELECT), shared by every nexus of the LU. */
export interface ModeState {
  /** Caching page WCE: writes may sit in volatile cache until SYNCHRONIZE CACHE. */
  wce: boolean;
  /** Control page SWP: the medium is software write protected. */
  swp: boolean;
}

/** RECEIVE COPY RESULTS data kept for an EXTENDED COPY whose LIST ID USAGE asks to hold it. */
export interface CopyStatusRecord {
  /** COPY MANAGER STATUS: 0 in progress, 1 completed good, 2 completed with error. */
  status: number;
  segmentsProcessed: number;
  /** TRANSFER COUNT in bytes. */
  transferCount: number;
}

/** A SANITIZE in progress: other commands get NOT READY with this progress. */
export interface SanitizeProgress { done: number; total: number }

/** The 16-byte NAA designator value for `naaId` (see docs/conformance.md). */
export function naaDesignator(naaId: string): Buffer {
  const hex = naaId.replace(/^0x/i, '').toLowerCase();
  if (!/^[0-9a-f]{16}$|^[0-9a-f]{32}$/.test(hex)) throw new BerthError('BAD_NAA_ID', 'naaId must be 16 or 32 hex digits');
  if (hex.length === 16 && hex[0] === '5') return Buffer.from(hex, 'hex');
  // NAA 6 is 128 bits: a 64-bit id gets a zero VENDOR SPECIFIC IDENTIFIER EXTENSION.
  const full = ('6' + hex.slice(1)).padEnd(32, '0');
  return Buffer.from(full, 'hex');
}

/** One logical unit of a ScsiTargetDevice: its device, config and all per-LU SCSI state. */
export class LogicalUnit {
  readonly lun: number;
  readonly config: LogicalUnitConfig;
  readonly device: BlockDevice;
  readonly naa: Buffer;
  readonly limits: BlockLimits;
  readonly uas = new UnitAttentions();
  /** The nexuses this LU has seen, by id: UA and PR bookkeeping need their ports. */
  readonly nexuses = new Map<string, ITNexus>();
  /** Writes in flight, for COMPARE AND WRITE to wait on. */
  readonly writes = new EpochGate();
  /** All commands in flight, for ordered tasks to wait on. */
  readonly commandGate = new EpochGate();
  readonly locks = new RangeLocks();
  /** Set while an ordered task waits or runs: later tasks wait for it. */
  orderedBarrier: Promise<void> | undefined;
  readonly mode: ModeState = { wce: true, swp: false };
  /** The nexus holding a RESERVE(6)/(10) reservation. */
  reservedBy: string | undefined;
  pr: PrState;
  sanitize: SanitizeProgress | undefined;
  readonly copyResults = new Map<string, CopyStatusRecord>();

  constructor(lun: number, config: LogicalUnitConfig) {
    this.lun = lun;
    this.config = config;
    this.device = config.device;
    this.naa = naaDesignator(config.naaId);
    this.limits = blockLimitsFor(config.device, config.physicalBlockSize);
    this.pr = config.prStore ? PrState.fromSaved(config.prStore.load()) : new PrState();
  }

  get thin(): boolean { return this.device.thin; }

  /** Writes are refused: the LU is exported read-only or an initiator set SWP. */
  get writeProtected(): boolean { return this.config.readOnly === true || this.mode.swp; }

  /** Records a nexus the first time it addresses this LU, with its power-on UA. */
  meet(nexus: ITNexus): void {
    if (this.nexuses.has(nexus.id)) return;
    this.nexuses.set(nexus.id, nexus);
    this.uas.addNexus(nexus.id);
  }

  forget(nexusId: string): void {
    this.nexuses.delete(nexusId);
    this.uas.removeNexus(nexusId);
    if (this.reservedBy === nexusId) this.reservedBy = undefined;
    for (const key of this.copyResults.keys()) if (key.startsWith(nexusId + '/')) this.copyResults.delete(key);
  }

  /** Saves PR state when APTPL asks for it (or drops a stale save), before the command completes. */
  async persistPr(wasAptpl: boolean): Promise<void> {
    const store = this.config.prStore;
    if (!store) return;
    if (this.pr.aptpl) await store.save(this.pr.toSaved());
    else if (wasAptpl) await store.save(undefined);
  }
}
