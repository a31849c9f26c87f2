import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/log.ts';
import type { BlockDevice } from '../block/block_device.ts';
import { GenerationRegistry, LocalReplica, ReplicaServer, type ReplicaAuthKeys } from '../replica/index.ts';
import { FileGenerationStore } from './generation_store_file.ts';

/** Finds an open pool volume by pool and name; undefined when either is unknown. */
export type ReplicaVolumeLookup = (pool: string, volume: string) => BlockDevice | undefined;

/** A replica's name on the wire (HELLO) and in the generation store: `pool/volume`. */
export function replicaKey(pool: string, volume: string): string {
  return `${pool}/${volume}`;
}

/**
 * This engine's pool volumes served as replicas to nexuses on other nodes, and handed
 * in-process to nexuses on this node. Both paths share one GenerationRegistry backed
 * by the data dir's generations file, so one fence holds whichever path a nexus uses.
 */
export class ReplicaService {
  readonly generations: GenerationRegistry;
  /** The cluster token(s), when configured: the server demands them and nexus clients prove them. */
  readonly auth: ReplicaAuthKeys | undefined;
  readonly #server: ReplicaServer;
  readonly #lookup: ReplicaVolumeLookup;
  #address: AddressInfo | undefined;

  private constructor(store: FileGenerationStore, lookup: ReplicaVolumeLookup, log: Logger, auth: ReplicaAuthKeys | undefined) {
    this.generations = new GenerationRegistry(store);
    this.#lookup = lookup;
    this.auth = auth;
    this.#server = new ReplicaServer({ resolve: (name) => this.#resolve(name), generations: this.generations, log, ...(auth ? { auth } : {}) });
  }

  static async start(opts: { dataDir: string; host: string; port: number; lookup: ReplicaVolumeLookup; log: Logger; auth?: ReplicaAuthKeys }): Promise<ReplicaService> {
    const store = await FileGenerationStore.load(opts.dataDir);
    const service = new ReplicaService(store, opts.lookup, opts.log, opts.auth);
    service.#address = await service.#server.listen(opts.port, opts.host);
    return service;
  }

  /** host:port other engines use to reach this one's replicas. */
  get endpoint(): string {
    const a = this.#address;
    if (!a) return '';
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /** A replica on this node for a nexus on this node: the fence check without TCP. */
  local(pool: string, volume: string, generation: number): LocalReplica | undefined {
    const device = this.#lookup(pool, volume);
    return device ? new LocalReplica(device, replicaKey(pool, volume), generation, this.generations) : undefined;
  }

  /** The fence generation in force for a replica (0 when never fenced). */
  generationOf(pool: string, volume: string): number {
    return this.generations.get(replicaKey(pool, volume));
  }

  close(): Promise<void> { return this.#server.close(); }

  #resolve(name: string): BlockDevice | undefined {
    const slash = name.indexOf('/');
    if (slash <= 0 || slash !== name.lastIndexOf('/')) return undefined;
    return this.#lookup(name.slice(0, slash), name.slice(slash + 1));
  }
}
