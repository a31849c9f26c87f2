/**
 * The ownership rule of a replicated volume (docs/nexus.md, "Generations and quorum").
 *
 * A nexus incarnation owns the volume at generation g only while g is the newest
 * generation on a write quorum of its replicas. Two incarnations can both serve only
 * if the replica sets they fenced are disjoint; the rule keeps any two such sets
 * overlapping, so the older one meets the newer generation on a replica it needs:
 *
 * - restarting an incarnation (same generation, from the engine's saved membership)
 *   needs a majority of the replicas that membership lists, stale ones included;
 * - a new incarnation (generation + 1) needs at least `n - majority(n) + 1` of the
 *   replicas it lists: then it shares a replica with every majority an old restart
 *   could gather, and that replica answers the old one STALE_GENERATION.
 *
 * Pure: no I/O, so the rule is tested with plain numbers.
 */

/** Replicas that must accept a restarted incarnation's generation before it serves: a majority. */
export function restartQuorum(members: number): number {
  if (!Number.isSafeInteger(members) || members < 1) throw new RangeError(`a nexus has at least one replica, not ${members}`);
  return Math.floor(members / 2) + 1;
}

/**
 * The fewest replicas a new incarnation over `members` replicas must fence: with fewer,
 * an old incarnation that restarts could gather a majority among the replicas the new
 * one never reached.
 */
export function takeoverMinimum(members: number): number {
  return members - restartQuorum(members) + 1;
}

/** What a nexus may do, given what its replicas answered to its generation. */
export const QuorumVerdict = {
  /** Enough replicas accepted the generation: serve I/O. */
  SERVE: 'serve',
  /** Too few accepted so far and none refused: serve nothing, keep asking. */
  WAIT: 'wait',
  /** A replica holds a newer generation: this incarnation is over. */
  FENCED: 'fenced',
} as const;
export type QuorumVerdictName = (typeof QuorumVerdict)[keyof typeof QuorumVerdict];

export function quorumVerdict(s: { accepted: number; quorum: number; staleAnswers: number }): QuorumVerdictName {
  if (s.staleAnswers > 0) return QuorumVerdict.FENCED;
  return s.accepted >= s.quorum ? QuorumVerdict.SERVE : QuorumVerdict.WAIT;
}

/** True when a create over `members` replicas asking `requireFenced` accepts is safe against an old restart. */
export function safeTakeover(members: number, requireFenced: number): boolean {
  return requireFenced >= takeoverMinimum(members);
}
