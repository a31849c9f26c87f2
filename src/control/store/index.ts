/** The desired-state store: interface, embedded SQLite, etcd, and leader election. */
export type { Store, KeyValue, PutOptions, DeleteOptions, ListOptions, ListResult, WatchEvent, Fence } from './store.ts';
export { StoreConflictError, StoreFencedError, StoreUnavailableError, StoreInvalidArgumentError } from './store_errors.ts';
export { SqliteStore, type SqliteStoreOptions } from './sqlite_store.ts';
export { EtcdStore } from './etcd_store.ts';
export { EtcdClient, type EtcdClientOptions } from './etcd_client.ts';
export { EtcdElection, type ElectionOptions, type Leadership } from './etcd_election.ts';
