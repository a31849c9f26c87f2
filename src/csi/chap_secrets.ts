/**
 * CHAP credentials as Kubernetes hands them to the driver: the Secret a StorageClass
 * names as controller-publish secret (ControllerPublishVolume: the control plane makes
 * every export of the volume demand them) and as node-stage secret (NodeStageVolume: the
 * node's initiator logs in with them). One Secret with the same keys serves both.
 * Pure; no message ever holds a secret's value. docs/csi.md, "CHAP".
 */
import { InvalidArgumentError, PreconditionError, UnauthenticatedError } from './csi_errors.ts';

/** Keys of the Secret. Empty values mean "no CHAP" (the shipped example Secret is empty). */
export const ChapSecretKey = {
  username: 'chapUsername',
  password: 'chapPassword',
  mutualUsername: 'chapMutualUsername',
  mutualPassword: 'chapMutualPassword',
} as const;

export interface ChapCredentials {
  username: string;
  password: string;
  /** Mutual CHAP: how the target proves itself to the initiator. */
  mutualUsername?: string;
  mutualPassword?: string;
}

/** What the publish context tells the node: the volume's exports demand CHAP, one-way or mutual. */
export type ChapMode = 'oneway' | 'mutual';
export const CHAP_MODES: readonly ChapMode[] = ['oneway', 'mutual'];

const NAME = /^[\x21-\x7e]{1,255}$/;
/** RFC 7143 12.1.3: at least 96 bits; the target refuses shorter, so the driver does first. */
const SECRET = /^[\x21-\x7e]{12,255}$/;

/** The credentials in a Secret, or undefined when it carries none (absent or empty keys). */
export function readChapSecrets(secrets: Readonly<Record<string, string>>, which: 'controller-publish' | 'node-stage'): ChapCredentials | undefined {
  const get = (k: string): string => (typeof secrets[k] === 'string' ? secrets[k] : '');
  const username = get(ChapSecretKey.username);
  const password = get(ChapSecretKey.password);
  const mu = get(ChapSecretKey.mutualUsername);
  const mp = get(ChapSecretKey.mutualPassword);
  if (!username && !password && !mu && !mp) return undefined;
  const where = `the ${which} secret`;
  if (!username || !password) throw new InvalidArgumentError(`CHAP needs both ${ChapSecretKey.username} and ${ChapSecretKey.password} in ${where}`);
  if (!NAME.test(username)) throw new InvalidArgumentError(`${ChapSecretKey.username} in ${where} must be 1–255 printable ASCII characters`);
  if (!SECRET.test(password)) throw new InvalidArgumentError(`${ChapSecretKey.password} in ${where} must be 12–255 printable ASCII characters`);
  const out: ChapCredentials = { username, password };
  if (mu || mp) {
    if (!mu || !mp) throw new InvalidArgumentError(`mutual CHAP needs both ${ChapSecretKey.mutualUsername} and ${ChapSecretKey.mutualPassword} in ${where}`);
    if (!NAME.test(mu)) throw new InvalidArgumentError(`${ChapSecretKey.mutualUsername} in ${where} must be 1–255 printable ASCII characters`);
    if (!SECRET.test(mp)) throw new InvalidArgumentError(`${ChapSecretKey.mutualPassword} in ${where} must be 12–255 printable ASCII characters`);
    if (mp === password) throw new InvalidArgumentError(`${ChapSecretKey.mutualPassword} must differ from ${ChapSecretKey.password} in ${where}`);
    out.mutualUsername = mu;
    out.mutualPassword = mp;
  }
  return out;
}

export function chapModeOf(c: ChapCredentials | undefined): ChapMode | undefined {
  if (c === undefined) return undefined;
  return c.mutualUsername !== undefined ? 'mutual' : 'oneway';
}

/**
 * Does what the node was given match what the target demands? Refused before any login:
 * missing credentials for a CHAP target are UNAUTHENTICATED; credentials for a target
 * that demands none are FAILED_PRECONDITION, because attaching would silently give the
 * volume less protection than its StorageClass asks for.
 */
export function checkStageChap(volumeId: string, mode: ChapMode | undefined, creds: ChapCredentials | undefined): void {
  const keys = `${ChapSecretKey.username}/${ChapSecretKey.password}`;
  if (mode !== undefined && creds === undefined) {
    throw new UnauthenticatedError(`the target of volume ${volumeId} demands CHAP, but the node-stage secret carries no ${keys} (name the Secret in the StorageClass as csi.storage.k8s.io/node-stage-secret-name and -namespace)`);
  }
  if (mode === 'mutual' && creds?.mutualUsername === undefined) {
    throw new UnauthenticatedError(`the target of volume ${volumeId} demands mutual CHAP, but the node-stage secret carries no ${ChapSecretKey.mutualUsername}/${ChapSecretKey.mutualPassword} to check the target with`);
  }
  if (mode === undefined && creds !== undefined) {
    throw new PreconditionError(`the node-stage secret carries CHAP credentials, but the target of volume ${volumeId} demands no CHAP: name the same Secret in the StorageClass as csi.storage.k8s.io/controller-publish-secret-name and -namespace, so the control plane sets CHAP on the volume's exports`);
  }
}
