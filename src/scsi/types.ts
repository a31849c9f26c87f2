import type { BlockDevice } from '../block/block_device.ts';
import type { IoStats } from './io_stats.ts';

/**
 * The seam between a SCSI transport (iSCSI today, others later) and the SCSI command
 * sets. The transport frames commands and moves data; everything about what a CDB
 * means lives behind `ScsiTarget`.
 */

/** One I_T nexus: an initiator port talking to a target port (SAM-5). */
export interface ITNexus {
  /** Unique and stable for the life of the nexus; the key for UAs and reservations. */
  readonly id: string;
  /** iSCSI initiator name (iqn.… / eui.… / naa.…). */
  readonly initiatorName: string;
  /** The session's ISID as 12 hex digits; with the name it forms the initiator port. */
  readonly isid: string;
  /** iSCSI target name of the target port. */
  readonly targetName: string;
  /** Target portal group tag of the target port. */
  readonly tpgt: number;
  /** Relative target port identifier reported in VPD 0x83 and PR (1-based). */
  readonly relativeTargetPortId: number;
}

/** A command as the transport hands it over, with all data-out already received. */
export interface ScsiTask {
  readonly nexus: ITNexus;
  readonly lun: number;
  readonly cdb: Buffer;
  /** Expected Data Transfer Length from the transport header, in bytes. */
  readonly expectedLength: number;
  /** Data the initiator sent (length <= expectedLength); undefined for no data-out. */
  readonly dataOut?: Buffer;
  /**
   * A buffer of `expectedLength` bytes the transport lends for data-in: READ fills it
   * through the device's `readInto` (when it has one) and returns a view of it as the
   * response data. Nothing writes into it after the promise `execute` returned settles;
   * the transport takes it back once it has sent the data.
   */
  readonly dataInBuffer?: Buffer;
  /** SAM task attribute: 0 untagged/simple, 1 simple, 2 ordered, 3 head of queue, 4 ACA. */
  readonly attribute: number;
}

export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  TASK_ABORTED: 0x40,
} as const;

export interface ScsiResponse {
  status: number;
  /** Data-in, already cut to the CDB's allocation length (the transport cuts to EDTL). */
  data?: Buffer;
  /** Fixed-format sense data (SPC-4 4.5.3) when status is CHECK CONDITION. */
  sense?: Buffer;
  /**
   * For commands with data-out: the number of bytes the CDB called for, so the
   * transport can report residual over/underflow against the expected length.
   */
  dataOutLength?: number;
}

/** Persistent-reservation state that must outlive the process when APTPL is set. */
export interface PrStore {
  /** Returns the saved state (opaque JSON-able value) or undefined. */
  load(): unknown;
  /** Saves the state durably before resolving; `undefined` removes it. */
  save(state: unknown): Promise<void>;
}

/** What a logical unit is built from; the engine constructs one per exported volume. */
export interface LogicalUnitConfig {
  readonly device: BlockDevice;
  /** 64-bit NAA IEEE Registered identifier (NAA 6), 16 hex digits, stable for the volume. */
  readonly naaId: string;
  /** Unit serial number (VPD 0x80), stable for the volume. */
  readonly serial: string;
  readonly vendor?: string;   // 8 chars, default 'BERTH'
  readonly product?: string;  // 16 chars, default 'VOLUME'
  readonly revision?: string; // 4 chars
  readonly prStore?: PrStore;
  readonly readOnly?: boolean;
  /**
   * Physical block size reported in READ CAPACITY(16) (LBPPBE) and used as the
   * optimal transfer and unmap granularity; default the logical block size.
   */
  readonly physicalBlockSize?: number;
  /**
   * Pace of SANITIZE passes in bytes per second, so a sanitize cannot starve the
   * other volumes of the pool; default unpaced.
   */
  readonly sanitizeBytesPerSecond?: number;
  /** Where commands that reach the LU's handler are counted for metrics; none: not counted. */
  readonly ioStats?: IoStats;
}

/**
 * A SCSI target device: the set of logical units behind one iSCSI target, shared by
 * all its sessions. Implemented in src/scsi (class ScsiTargetDevice).
 */
export interface ScsiTarget {
  execute(task: ScsiTask): Promise<ScsiResponse>;
  /** The LUNs that exist now, ascending. */
  luns(): number[];
  /** LOGICAL UNIT RESET task management function. Returns false if the LUN does not exist. */
  lunReset(nexus: ITNexus, lun: number): boolean;
  /** TARGET WARM RESET / TARGET COLD RESET. */
  targetReset(nexus: ITNexus): void;
  /** Called when the transport opens a new I_T nexus (session login). */
  nexusAdded(nexus: ITNexus): void;
  /** Called when an I_T nexus is gone (session closed or reinstated). */
  nexusRemoved(nexus: ITNexus): void;
  /** Aborts whatever the SCSI layer holds for a task of this nexus (e.g. queued ordered tasks). */
  abortTasks?(nexus: ITNexus, lun: number | undefined): void;
  /**
   * True when, for this command on this LUN, nothing reads or keeps `task.dataOut` once
   * the promise `execute` returns has settled, so the transport may reuse that buffer
   * for another command. Asked right before `execute`; absent means false.
   */
  dataOutReusable?(lun: number, cdb: Buffer): boolean;
}
