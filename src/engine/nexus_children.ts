import type { BlockDevice } from '../block/block_device.ts';
import { DeviceGoneError } from '../block/errors.ts';
import type { ChildDeviceExtras } from '../nexus/index.ts';
import { RemoteReplica, ReplicaNotFoundError, StaleGenerationError } from '../replica/index.ts';
import { errorCode } from '../util/errors.ts';
import { replicaKey, type ReplicaService } from './replica_service.ts';
import { parseHostPort } from './engine_args.ts';

/** Where one replica of a nexus lives: an engine's replica endpoint, a pool, a volume. */
export interface ReplicaRef {
  node: string;
  pool: string;
  volume: string;
}

export type ChildDevice = BlockDevice & ChildDeviceExtras;

/**
 * Errors that mean "cannot reach the replica now" (its node is down or cut off), as
 * opposed to an answer: a newer generation, no such volume, a protocol mismatch.
 */
export function isUnreachable(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'DEVICE_GONE' || code === 'REPLICA_TIMEOUT';
}

/** A remote replica must connect this fast; a cut link must not stall create or a retry long. */
export const REPLICA_CONNECT_TIMEOUT_MS = 2000;

/** The nexus's name for a replica: stable across restarts and moves, so a returning child is recognised. */
export function childName(ref: ReplicaRef): string {
  return `${ref.node}/${ref.pool}/${ref.volume}`;
}

/** How the registry reaches replicas: this engine's own service for local ones, TCP for the rest. */
export class ChildOpener {
  readonly #service: ReplicaService;
  readonly #opTimeoutMs: number;

  constructor(service: ReplicaService, opTimeoutMs: number) {
    this.#service = service;
    this.#opTimeoutMs = opTimeoutMs;
  }

  get self(): string { return this.#service.endpoint; }

  /** `local` (or this engine's own endpoint) names a replica in this engine's pools. */
  normalize(ref: ReplicaRef): ReplicaRef {
    return ref.node === 'local' ? { ...ref, node: this.self } : ref;
  }

  isLocal(ref: ReplicaRef): boolean { return ref.node === this.self || ref.node === 'local'; }

  /** Opens the replica for a nexus of `generation`; the nexus then fences it. */
  async open(ref: ReplicaRef, generation: number): Promise<{ device: ChildDevice; release: () => void }> {
    if (this.isLocal(ref)) {
      const device = this.#service.local(ref.pool, ref.volume, generation);
      if (!device) throw new ReplicaNotFoundError(`no volume ${replicaKey(ref.pool, ref.volume)} on this engine`);
      return { device, release: () => undefined };
    }
    const { host, port } = parseHostPort(ref.node, 'node');
    const device = await RemoteReplica.connect({
      host, port, volume: replicaKey(ref.pool, ref.volume), generation, fence: false,
      opTimeoutMs: this.#opTimeoutMs, connectTimeoutMs: REPLICA_CONNECT_TIMEOUT_MS,
      ...(this.#service.auth ? { auth: this.#service.auth } : {}),
    });
    return { device, release: () => device.close() };
  }

  /** The replica's fence generation now in force (its HELLO answer), to pick the next one. */
  async currentGeneration(ref: ReplicaRef): Promise<number> {
    if (this.isLocal(ref)) return this.#service.generationOf(ref.pool, ref.volume);
    try {
      const { device, release } = await this.open(ref, 0);
      const gen = (device as RemoteReplica).generation;
      release();
      return gen;
    } catch (err) {
      if (errorCode(err) === 'STALE_GENERATION') return (err as StaleGenerationError).currentGeneration;
      throw err;
    }
  }
}

/**
 * Stands in for a replica that could not be reached when the engine re-created its
 * nexus: same geometry, refuses the fence and every I/O, so the nexus retires it at
 * once and keeps tracking what it misses until the reconnect loop brings it back.
 */
export class AbsentReplica implements BlockDevice {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly thin: boolean;
  readonly #why: string;

  constructor(geometry: { blockSize: number; blockCount: number; thin: boolean }, why: string) {
    this.blockSize = geometry.blockSize;
    this.blockCount = geometry.blockCount;
    this.thin = geometry.thin;
    this.#why = why;
  }

  fence(): Promise<void> { return this.#gone(); }
  read(): Promise<Buffer> { return this.#gone(); }
  write(): Promise<void> { return this.#gone(); }
  flush(): Promise<void> { return this.#gone(); }
  unmap(): Promise<void> { return this.#gone(); }
  mapStatus(): Promise<{ mapped: boolean; count: number }> { return this.#gone(); }

  #gone(): Promise<never> { return Promise.reject(new DeviceGoneError(`replica unreachable: ${this.#why}`)); }
}
