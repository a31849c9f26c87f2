import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { StoreConflictError, StoreFencedError } from './store_errors.ts';
import { checkKey, checkList, checkPut, checkRevision, compareKeys, prefixEnd } from './store_keys.ts';
import type { DeleteOptions, Fence, KeyValue, ListOptions, ListResult, PutOptions, Store, WatchEvent } from './store.ts';

/**
 * The embedded store: one SQLite file through Node's built-in `node:sqlite`. WAL lets
 * readers run beside the writer; synchronous=FULL makes a committed write survive power
 * loss, which the control plane's intent log relies on. Several processes may open the
 * same file; writes serialise on SQLite's write lock (BEGIN IMMEDIATE).
 */
export interface SqliteStoreOptions {
  /** File path, or ':memory:' for a private store (tests). */
  readonly path: string;
  /** How long a writer waits for another process's write lock, in ms. */
  readonly busyTimeoutMs?: number;
}

interface Row {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
  version: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 1);
`;

export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #listeners = new Set<{ prefix: string; listener: (e: WatchEvent) => void }>();
  readonly #get: StatementSync;
  readonly #revision: StatementSync;
  readonly #bump: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #remove: StatementSync;
  readonly #rangeFrom: StatementSync;
  readonly #rangeBetween: StatementSync;

  constructor(options: SqliteStoreOptions) {
    this.#db = new DatabaseSync(options.path);
    this.#db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec('PRAGMA synchronous = FULL');
    this.#db.exec(SCHEMA);
    this.#get = this.#db.prepare('SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key = ?');
    this.#revision = this.#db.prepare("SELECT value FROM meta WHERE name = 'revision'");
    this.#bump = this.#db.prepare("UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value");
    this.#insert = this.#db.prepare('INSERT INTO kv (key, value, create_rev, mod_rev, version) VALUES (?, ?, ?, ?, 1)');
    this.#update = this.#db.prepare('UPDATE kv SET value = ?, mod_rev = ?, version = version + 1 WHERE key = ?');
    this.#remove = this.#db.prepare('DELETE FROM kv WHERE key = ?');
    this.#rangeFrom = this.#db.prepare(
      'SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key >= ? ORDER BY key LIMIT ?');
    this.#rangeBetween = this.#db.prepare(
      'SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?');
  }

  /** The store-wide revision of the last write. */
  revision(): number {
    return Number((this.#revision.get() as { value: number }).value);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key);
    const row = this.#get.get(key) as unknown as Row | undefined;
    return row === undefined ? undefined : toKeyValue(row);
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<number> {
    checkPut(key, value, options);
    const kv = this.#write(() => {
      const row = this.#checkPreconditions(key, options.ifRevision, options.fence);
      const rev = this.#nextRevision();
      if (row === undefined) this.#insert.run(key, value, rev, rev);
      else this.#update.run(value, rev, key);
      return toKeyValue(this.#get.get(key) as unknown as Row);
    });
    this.#emit({ type: 'put', kv });
    return kv.modRevision;
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    checkKey(key);
    checkRevision(options.ifRevision, 'ifRevision');
    const revision = this.#write(() => {
      const row = this.#checkPreconditions(key, options.ifRevision, options.fence);
      if (row === undefined) return 0;
      this.#remove.run(key);
      return this.#nextRevision();
    });
    if (revision === 0) return false;
    this.#emit({ type: 'delete', key, revision });
    return true;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    checkList(prefix, options);
    const end = prefixEnd(prefix);
    // Asking for one row more than the page tells whether more follow.
    const limit = options.limit === undefined ? -1 : options.limit + 1;
    const start = options.startAfter !== undefined && compareKeys(options.startAfter, prefix) >= 0
      ? options.startAfter + '\u0000' : prefix;
    const rows = (end === undefined ? this.#rangeFrom.all(start, limit) : this.#rangeBetween.all(start, end, limit)) as unknown as Row[];
    const more = options.limit !== undefined && rows.length > options.limit;
    return { items: (more ? rows.slice(0, options.limit) : rows).map(toKeyValue), more };
  }

  watch(prefix: string, listener: (event: WatchEvent) => void): () => void {
    const entry = { prefix, listener };
    this.#listeners.add(entry);
    return () => { this.#listeners.delete(entry); };
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  /** Runs `body` in a write transaction; throws leave the store untouched. */
  #write<T>(body: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = body();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  #checkPreconditions(key: string, ifRevision: number | undefined, fence: Fence | undefined): Row | undefined {
    if (fence !== undefined) {
      const holder = this.#get.get(fence.key) as unknown as Row | undefined;
      if (holder === undefined || holder.create_rev !== fence.createRevision) throw new StoreFencedError(fence.key);
    }
    const row = this.#get.get(key) as unknown as Row | undefined;
    if (ifRevision !== undefined) {
      const actual = row === undefined ? 0 : Number(row.mod_rev);
      if (actual !== ifRevision) throw new StoreConflictError(key, ifRevision, actual);
    }
    return row;
  }

  #nextRevision(): number {
    return Number((this.#bump.get() as { value: number }).value);
  }

  #emit(event: WatchEvent): void {
    const key = event.type === 'put' ? event.kv.key : event.key;
    for (const { prefix, listener } of this.#listeners) {
      if (key.startsWith(prefix)) listener(event);
    }
  }
}

function toKeyValue(row: Row): KeyValue {
  return {
    key: row.key,
    value: row.value,
    createRevision: Number(row.create_rev),
    modRevision: Number(row.mod_rev),
    version: Number(row.version),
  };
}
