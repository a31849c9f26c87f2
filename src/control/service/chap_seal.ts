/**
 * CHAP secrets at rest in the control plane's store. The control plane must keep them:
 * it re-creates exports by itself (a nexus moved off a lost node, an export an engine
 * lost), and each must demand the same CHAP. It keeps them sealed: AES-256-GCM under a
 * key derived (HKDF-SHA256) from the cluster token (`--auth-token-file`), with the
 * volume id as associated data, so a store dump (SQLite file, etcd backup) shows user
 * names only, and a sealed blob moved to another volume's record does not open.
 * docs/security.md, "CHAP".
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { BerthError } from '../../util/errors.ts';
import { InvalidArgumentError } from './service_errors.ts';

/** What an export demands: the initiator's name and secret, and for mutual CHAP the target's. */
export interface ChapCredentials {
  readonly user: string;
  readonly secret: string;
  readonly mutualUser?: string;
  readonly mutualSecret?: string;
}

/** As stored: names in clear (the engines show them too), secrets sealed. */
export interface SealedChap {
  readonly user: string;
  readonly mutualUser?: string;
  /** `v1.<key id>.<base64url(iv ‖ tag ‖ ciphertext)>` */
  readonly sealed: string;
}

/** A sealed secret this control plane cannot open (its token was rotated away), or no key at all. */
export class ChapSealError extends BerthError {
  constructor(message: string) { super('CHAP_SEAL_FAILED', message); }
}

/** A publish without CHAP of a volume published with it: dropping CHAP takes an unpublish first. */
export class ChapConflictError extends BerthError {
  constructor(volumeId: string) {
    super('CHAP_CONFLICT', `volume ${volumeId} is published with CHAP; publish it again with its CHAP credentials, or unpublish it first to drop CHAP`);
  }
}

const NAME = /^[\x21-\x7e]{1,255}$/;
/** RFC 7143 12.1.3 wants at least 96 bits of secret: 12 characters, as the engine checks. */
const SECRET = /^[\x21-\x7e]{12,255}$/;

/** The rules the engine applies, checked first so a client hears them without a half-made export. Never echoes a secret. */
export function checkChapCredentials(c: ChapCredentials): void {
  if (typeof c.user !== 'string' || !NAME.test(c.user)) throw new InvalidArgumentError('chap.user must be 1–255 printable ASCII characters');
  if (typeof c.secret !== 'string' || !SECRET.test(c.secret)) throw new InvalidArgumentError('chap.secret must be 12–255 printable ASCII characters');
  if ((c.mutualUser === undefined) !== (c.mutualSecret === undefined)) throw new InvalidArgumentError('mutual CHAP needs both chap.mutualUser and chap.mutualSecret');
  if (c.mutualUser !== undefined && !NAME.test(c.mutualUser)) throw new InvalidArgumentError('chap.mutualUser must be 1–255 printable ASCII characters');
  if (c.mutualSecret !== undefined && !SECRET.test(c.mutualSecret)) throw new InvalidArgumentError('chap.mutualSecret must be 12–255 printable ASCII characters');
  if (c.mutualSecret !== undefined && c.mutualSecret === c.secret) throw new InvalidArgumentError('the mutual CHAP secret must differ from the CHAP secret');
}

export function sameChap(a: ChapCredentials | undefined, b: ChapCredentials | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.user === b.user && a.secret === b.secret && a.mutualUser === b.mutualUser && a.mutualSecret === b.mutualSecret;
}

const VERSION = 'v1';

export class ChapSealer {
  /** Key id → key; the first is the one sealed with. */
  readonly #keys: Array<{ id: string; key: Buffer }>;

  /** `tokens`: the cluster token file's lines (the first seals, every one opens). */
  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new ChapSealError('sealing CHAP secrets needs a token');
    this.#keys = tokens.map((t) => {
      const key = Buffer.from(hkdfSync('sha256', Buffer.from(t, 'utf8'), 'berth-chap-seal', 'v1 aes-256-gcm', 32));
      return { id: createHash('sha256').update(key).digest('hex').slice(0, 12), key };
    });
  }

  seal(volumeId: string, c: ChapCredentials): SealedChap {
    const { id, key } = this.#keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(volumeId, 'utf8'));
    const plain = Buffer.from(JSON.stringify(c.mutualSecret === undefined ? { s: c.secret } : { s: c.secret, m: c.mutualSecret }), 'utf8');
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const sealed = `${VERSION}.${id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    return c.mutualUser === undefined ? { user: c.user, sealed } : { user: c.user, mutualUser: c.mutualUser, sealed };
  }

  open(volumeId: string, s: SealedChap): ChapCredentials {
    const [version, id, data] = s.sealed.split('.');
    const k = this.#keys.find((x) => x.id === id);
    if (version !== VERSION || k === undefined || data === undefined) {
      throw new ChapSealError(`the CHAP secrets of volume ${volumeId} were sealed under a token this control plane no longer holds; publish the volume again with its controller-publish secret`);
    }
    const raw = Buffer.from(data, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(volumeId, 'utf8'));
      decipher.setAuthTag(raw.subarray(12, 28));
      const plain = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as { s: string; m?: string };
      return s.mutualUser === undefined || plain.m === undefined
        ? { user: s.user, secret: plain.s }
        : { user: s.user, secret: plain.s, mutualUser: s.mutualUser, mutualSecret: plain.m };
    } catch {
      throw new ChapSealError(`the sealed CHAP secrets of volume ${volumeId} do not open (altered, or copied from another volume)`);
    }
  }

  /** Never the keys: the object may end up in a log by mistake. */
  toJSON(): string {
    return '[ChapSealer]';
  }
}
