import type { Pool, PoolInfo, VolumeInfo } from '../pool/index.ts';

/** The open volume the pool hands out: a BlockDevice with a name and uuid. */
export type OpenVolume = Awaited<ReturnType<Pool['openVolume']>>;
export type { Pool, PoolInfo, VolumeInfo };

/** A registered pool as the engine reports it: imported, or faulted with the reason. */
export type PoolView =
  | (PoolInfo & { state: 'online' })
  | { name: string; path: string; state: 'faulted'; reason: string };

export interface ChapRequest {
  user: string;
  secret: string;
  mutualUser?: string;
  mutualSecret?: string;
}

export interface ExportRequest {
  pool: string;
  volume: string;
  targetIqn?: string;
  lun?: number;
  /** undefined: keep the target's list (any, for a new target); null: any initiator. */
  allowedInitiators?: string[] | null;
  /** undefined: keep the target's CHAP (none, for a new target); null: turn CHAP off. */
  chap?: ChapRequest | null;
}

/** An export as the API shows it: never the CHAP secrets. */
export interface ExportView {
  pool: string;
  volume: string;
  targetIqn: string;
  lun: number;
  portal: string;
  url: string;
  allowedInitiators: string[] | null;
  chap: { user: string; mutualUser?: string } | null;
  state: 'online' | 'faulted';
  reason?: string;
}

export interface SessionView {
  targetIqn: string;
  initiatorName: string;
  isid: string;
  tsih: number;
  remoteAddress: string;
  commandsInFlight: number;
}

export interface TargetView {
  iqn: string;
  allowedInitiators: string[] | null;
  chap: { user: string; mutualUser?: string } | null;
  luns: { lun: number; pool: string; volume: string; state: 'online' | 'faulted'; reason?: string }[];
  sessions: SessionView[];
}
