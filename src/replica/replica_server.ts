import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../util/log.ts';
import { REPLICA_MAX_PAYLOAD_DEFAULT } from './replica_protocol.ts';
import { GenerationRegistry, type GenerationStore } from './replica_generations.ts';
import { ReplicaSession, type ReplicaResolver, type SessionAuth } from './replica_session.ts';
import { FailureLogLimiter } from '../util/http_auth.ts';
import type { ReplicaAuthKeys } from './replica_auth.ts';

export interface ReplicaServerOptions {
  /** Finds the replica a HELLO names; undefined answers NOT_FOUND. */
  resolve: ReplicaResolver;
  /**
   * Each volume's fence generation: a store, or a registry shared with the node's
   * LocalReplica handles so that local and remote paths obey the same fence.
   */
  generations: GenerationStore | GenerationRegistry;
  maxPayload?: number;
  log?: Logger;
  /**
   * The cluster token(s): every client must prove it holds one (AUTH, then HELLO with
   * the proof), and the server proves itself in return. Without keys the server is open
   * to anyone who can reach it, so engines give keys whenever it listens off loopback.
   */
  auth?: ReplicaAuthKeys;
}

/** Serves this engine's replicas to nexuses on other nodes over the replica protocol. */
export class ReplicaServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(opts: ReplicaServerOptions) {
    const registry = opts.generations instanceof GenerationRegistry ? opts.generations : new GenerationRegistry(opts.generations);
    const log = (opts.log ?? silentLogger()).child({ component: 'replica-server' });
    const maxPayload = opts.maxPayload ?? REPLICA_MAX_PAYLOAD_DEFAULT;
    // One warning per window at most, as for the APIs: a scan or a flood of strangers cannot fill the disk.
    const limiter = new FailureLogLimiter();
    const keys = opts.auth;
    const auth: SessionAuth | undefined = keys === undefined ? undefined : {
      keys,
      refused: (remote) => {
        const held = limiter.admit(Date.now());
        if (held !== undefined) log.warn({ remote, failuresNotLogged: held }, 'replica client refused: no valid token proof');
      },
    };
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      new ReplicaSession(socket, opts.resolve, registry, maxPayload, log, auth);
    });
  }

  listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and drops every connection (clients see their I/O fail at once). */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
