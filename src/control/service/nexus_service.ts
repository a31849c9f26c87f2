import type { NexusSpec } from '../model/nexus_spec.ts';
import { ResourceKind } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import { NexusNotFoundError } from './service_errors.ts';
import { listSpecs, nexusKey, readRecord } from './service_records.ts';

/**
 * Nexuses are the front end of replicated volumes. They are created by publishing a
 * volume; until the control plane orchestrates them (the engine client already has
 * createNexus for the engine's POST /v1/nexus) publish answers NOT_IMPLEMENTED for
 * replicated volumes and no nexus spec is written, so this service only reads.
 */
export class NexusService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  async list(): Promise<NexusSpec[]> {
    return await listSpecs<NexusSpec>(this.#ctx.store, ResourceKind.Nexus);
  }

  async get(id: string): Promise<NexusSpec> {
    const r = await readRecord<NexusSpec>(this.#ctx.store, nexusKey(id));
    if (r?.record.spec == null) throw new NexusNotFoundError(id);
    return r.record.spec;
  }
}
