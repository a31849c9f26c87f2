/**
 * CHAP on the exports the control plane makes: the clear credentials an engine call
 * needs, opened from the sealed form the volume record keeps (chap_seal.ts), and whether
 * a live export already demands the CHAP wanted. Engines show CHAP user names, never
 * secrets, so a changed secret is noticed by its sealed form changing instead.
 */
import type { EngineExport, ExportChap } from '../engine_client/engine_client_types.ts';
import type { ServiceContext } from './service_context.ts';
import { ChapSealError, type SealedChap } from './chap_seal.ts';

/** The credentials for the engine; undefined when the volume demands no CHAP. */
export function exportChapOf(ctx: ServiceContext, volumeId: string, sealed: SealedChap | undefined): ExportChap | undefined {
  if (sealed === undefined) return undefined;
  if (ctx.chap === undefined) throw new ChapSealError(`volume ${volumeId} demands CHAP, but this control plane has no token to open its secrets (run it with --auth-token-file)`);
  return ctx.chap.open(volumeId, sealed);
}

/** Does the live export demand exactly this CHAP (compared by user names)? */
export function exportHasChap(e: EngineExport, sealed: SealedChap | undefined): boolean {
  const c = e.chap ?? undefined;
  if (sealed === undefined) return c === undefined;
  return c !== undefined && c.user === sealed.user && (c.mutualUser ?? undefined) === sealed.mutualUser;
}

/** The chap field of a request to the engine: present only when CHAP is wanted. */
export function chapField(chap: ExportChap | undefined): { chap?: ExportChap } {
  return chap === undefined ? {} : { chap };
}
