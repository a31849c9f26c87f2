import type { NexusSpec } from '../model/nexus_spec.ts';
import { ResourceKind } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import { NexusNotFoundError } from './service_errors.ts';
import { listSpecs, type StoredVolume } from './service_records.ts';

/**
 * Nexuses are the front end of replicated volumes. Publishing a volume creates one,
 * unpublishing destroys it, the reconcilers move it off a lost node; its spec lives in
 * the volume's record (so it changes under the volume's intent log), and this service
 * reads it from there. A nexus's id is its volume's id.
 */
export class NexusService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  async list(): Promise<NexusSpec[]> {
    const out: NexusSpec[] = [];
    for (const v of await listSpecs<StoredVolume>(this.#ctx.store, ResourceKind.Volume)) if (v.nexus !== undefined) out.push(v.nexus);
    return out;
  }

  async get(id: string): Promise<NexusSpec> {
    const found = (await this.list()).find((n) => n.id === id);
    if (found === undefined) throw new NexusNotFoundError(id);
    return found;
  }
}
