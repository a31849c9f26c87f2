/**
 * Persistent reservations of one logical unit (SPC-4 5.13): registrations, the
 * reservation, the generation counter, and APTPL. Pure state; the command parsing
 * lives in pr_in.ts / pr_out.ts and the access rules in pr_access.ts.
 */

/** PERSISTENT RESERVATION TYPE codes. */
export const PrType = {
  WRITE_EXCLUSIVE: 0x1,
  EXCLUSIVE_ACCESS: 0x3,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 0x5,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 0x6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 0x7,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 0x8,
} as const;

export function isValidPrType(type: number): boolean {
  return type === 1 || type === 3 || (type >= 5 && type <= 8);
}
export function isAllRegistrants(type: number): boolean { return type === 7 || type === 8; }
/** Registrants-only and all-registrants types treat every registrant as a holder for access. */
export function registrantsHaveAccess(type: number): boolean { return type >= 5 && type <= 8; }
/** Write-exclusive types let non-holders read. */
export function isWriteExclusive(type: number): boolean { return type === 1 || type === 5 || type === 7; }

/** The initiator port and target port of an I_T nexus, as PR identifies it. */
export interface PrPort {
  /** iSCSI initiator name, lower-cased (iSCSI names compare case-insensitively). */
  readonly initiatorName: string;
  /** ISID as 12 lower-case hex digits. */
  readonly isid: string;
  readonly relTpId: number;
}

export interface PrRegistration {
  key: bigint;
  readonly initiatorName: string;
  /** Undefined: every initiator port of that name (TransportID format 00b). */
  readonly isid?: string;
  /** Undefined: registered through every target port (ALL_TG_PT). */
  readonly relTpId?: number;
}

export interface PrReservation { holder: PrRegistration; type: number }

export function portOf(nexus: { initiatorName: string; isid: string; relativeTargetPortId: number }): PrPort {
  return { initiatorName: nexus.initiatorName.toLowerCase(), isid: nexus.isid.toLowerCase(), relTpId: nexus.relativeTargetPortId };
}

export function matches(reg: PrRegistration, port: PrPort): boolean {
  return reg.initiatorName === port.initiatorName
    && (reg.isid === undefined || reg.isid === port.isid)
    && (reg.relTpId === undefined || reg.relTpId === port.relTpId);
}

/** What an APTPL store keeps. */
interface SavedState {
  version: 1;
  generation: number;
  registrations: { key: string; initiatorName: string; isid?: string; relTpId?: number }[];
  reservation?: { holderIndex: number; type: number };
}

export class PrState {
  generation = 0;
  aptpl = false;
  registrations: PrRegistration[] = [];
  reservation: PrReservation | undefined;

  /** True when anything at all is registered: the fast path checks this first. */
  get active(): boolean { return this.registrations.length > 0; }

  find(port: PrPort): PrRegistration | undefined {
    for (const r of this.registrations) if (matches(r, port)) return r;
    return undefined;
  }

  /** Whether `port` holds the reservation (for all-registrants types: is registered). */
  isHolder(port: PrPort): boolean {
    const res = this.reservation;
    if (!res) return false;
    const reg = this.find(port);
    if (!reg) return false;
    return isAllRegistrants(res.type) || res.holder === reg;
  }

  /** Removes one registration, releasing the reservation when its holder goes. */
  unregister(reg: PrRegistration): { released: boolean } {
    this.registrations = this.registrations.filter((r) => r !== reg);
    const res = this.reservation;
    if (!res) return { released: false };
    if (isAllRegistrants(res.type)) {
      if (this.registrations.length === 0) { this.reservation = undefined; return { released: true }; }
      if (res.holder === reg) res.holder = this.registrations[0];
      return { released: false };
    }
    if (res.holder === reg) { this.reservation = undefined; return { released: true }; }
    return { released: false };
  }

  clear(): void {
    this.registrations = [];
    this.reservation = undefined;
  }

  /** The state an APTPL store keeps, or undefined when APTPL is off. */
  toSaved(): SavedState | undefined {
    if (!this.aptpl) return undefined;
    const regs = this.registrations;
    return {
      version: 1,
      generation: this.generation,
      registrations: regs.map((r) => ({ key: r.key.toString(16), initiatorName: r.initiatorName, isid: r.isid, relTpId: r.relTpId })),
      reservation: this.reservation ? { holderIndex: regs.indexOf(this.reservation.holder), type: this.reservation.type } : undefined,
    };
  }

  /** Restores state saved with APTPL; anything malformed is ignored rather than trusted. */
  static fromSaved(saved: unknown): PrState {
    const state = new PrState();
    if (!saved || typeof saved !== 'object') return state;
    const s = saved as Partial<SavedState>;
    if (s.version !== 1 || !Array.isArray(s.registrations)) return state;
    for (const r of s.registrations) {
      if (typeof r?.key !== 'string' || typeof r.initiatorName !== 'string' || !/^[0-9a-f]{1,16}$/i.test(r.key)) continue;
      state.registrations.push({
        key: BigInt('0x' + r.key),
        initiatorName: r.initiatorName,
        isid: typeof r.isid === 'string' ? r.isid : undefined,
        relTpId: typeof r.relTpId === 'number' ? r.relTpId : undefined,
      });
    }
    const res = s.reservation;
    if (res && isValidPrType(res.type) && state.registrations[res.holderIndex]) {
      state.reservation = { holder: state.registrations[res.holderIndex], type: res.type };
    }
    state.generation = typeof s.generation === 'number' ? s.generation >>> 0 : 0;
    state.aptpl = true;
    return state;
  }
}
