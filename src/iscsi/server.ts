import { createServer, type Server, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../util/log.ts';
import type { ScsiTarget } from '../scsi/types.ts';
import type { ChapConfig } from './chap.ts';
import { Connection, type ConnectionContext } from './connection.ts';
import { ConnectionLogGate, heldBackMessage, remoteHost } from './connection_log.ts';
import { TargetExistsError, TargetNotFoundError } from './errors.ts';
import { SessionRegistry, type Session, type TargetEntry } from './session.ts';

export type { ChapConfig } from './chap.ts';

export interface TargetConfig {
  iqn: string;
  alias?: string;
  /** Initiator IQNs allowed to log in. Empty array = nobody. undefined = any initiator. */
  allowedInitiators?: string[];
  /** When set, CHAP is required for normal sessions to this target. */
  chap?: ChapConfig;
  scsi: ScsiTarget;
}

export interface IscsiServerOptions {
  host: string;
  port: number;
  logger?: Logger;
  /** When set, discovery sessions must authenticate with CHAP. */
  discoveryChap?: ChapConfig;
  /** Idle time after which the target pings with a NOP-In; 0 or unset = off. */
  nopInIntervalMs?: number;
  /** Time a connection may take to complete login; default 30 s. */
  loginTimeoutMs?: number;
  /** Budget of per-connection log lines (tests: a small window, a fake clock). */
  connectionLog?: { gate?: ConnectionLogGate; now?: () => number };
}

export interface SessionInfo {
  targetIqn: string;
  initiatorName: string;
  isid: string;
  tsih: number;
  remoteAddress: string;
  commandsInFlight: number;
}

/** Every target of this server shares portal group 1 (one portal). */
const TARGET_PORTAL_GROUP_TAG = 1;

/** The iSCSI target server: one TCP portal serving any number of targets. */
export class IscsiServer {
  private readonly opts: IscsiServerOptions;
  private readonly log: Logger;
  private readonly targets = new Map<string, TargetEntry>();
  private readonly registry = new SessionRegistry();
  private readonly connections = new Set<Connection>();
  private server: Server | undefined;
  private bound: { host: string; port: number } | undefined;
  private readonly logGate: ConnectionLogGate;
  private readonly now: () => number;
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(opts: IscsiServerOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'iscsi' });
    this.logGate = opts.connectionLog?.gate ?? new ConnectionLogGate();
    this.now = opts.connectionLog?.now ?? Date.now;
  }

  /** Logs the summaries of per-connection lines held back in windows that have ended. */
  flushConnectionLog(): void {
    for (const h of this.logGate.drain(this.now())) {
      const fields = { event: h.kind, remoteHost: h.host, count: h.count };
      if (h.kind === 'login') this.log.info(fields, heldBackMessage(h));
      else this.log.warn(fields, heldBackMessage(h));
    }
  }

  listen(): Promise<{ host: string; port: number }> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    server.on('error', (err) => this.log.error({ err }, 'iSCSI listener error'));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        const a = server.address();
        const port = typeof a === 'object' && a !== null ? a.port : this.opts.port;
        this.bound = { host: this.opts.host, port };
        this.log.info(this.bound, 'iSCSI portal listening');
        this.summaryTimer = setInterval(() => this.flushConnectionLog(), this.logGate.windowMs);
        this.summaryTimer.unref();
        resolve(this.bound);
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    clearInterval(this.summaryTimer);
    for (const c of [...this.connections]) c.destroy('server closing');
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  addTarget(cfg: TargetConfig): void {
    if (this.targets.has(cfg.iqn)) throw new TargetExistsError(cfg.iqn);
    this.targets.set(cfg.iqn, { ...cfg });
  }

  updateTarget(iqn: string, patch: Partial<Omit<TargetConfig, 'iqn'>>): void {
    const t = this.targets.get(iqn);
    if (t === undefined) throw new TargetNotFoundError(iqn);
    // Sessions hold the entry itself, so changes reach them at their next command.
    Object.assign(t, patch);
    // An ACL change applies to sessions already open too.
    const allowed = t.allowedInitiators;
    if (allowed !== undefined) {
      for (const s of this.sessionsOfTarget(iqn)) {
        if (!allowed.includes(s.initiatorName)) s.conn.destroy('initiator removed from the target ACL');
      }
    }
  }

  async removeTarget(iqn: string): Promise<void> {
    if (!this.targets.delete(iqn)) throw new TargetNotFoundError(iqn);
    this.closeTargetSessions(iqn, 'target removed');
  }

  sessions(iqn?: string): SessionInfo[] {
    return this.registry
      .all()
      .filter((s) => s.target !== undefined && (iqn === undefined || s.target.iqn === iqn))
      .map((s) => ({
        targetIqn: s.target!.iqn,
        initiatorName: s.initiatorName,
        isid: s.isid,
        tsih: s.tsih,
        remoteAddress: s.conn.remoteAddress,
        commandsInFlight: s.commandsInFlight,
      }));
  }

  private closeTargetSessions(iqn: string, reason: string): void {
    for (const s of this.sessionsOfTarget(iqn)) s.conn.destroy(reason);
  }

  private sessionsOfTarget(iqn: string): Session[] {
    return this.registry.all().filter((s) => s.target?.iqn === iqn);
  }

  private accept(socket: Socket): void {
    const ctx = this.context(socket);
    try {
      this.connections.add(new Connection(socket, ctx));
    } catch (err) {
      this.log.error({ err }, 'could not set up connection');
      socket.destroy();
    }
  }

  private context(socket: Socket): ConnectionContext {
    const local = socket.localAddress ?? this.opts.host;
    const host = this.opts.host === '0.0.0.0' || this.opts.host === '::' ? local.replace(/^::ffff:/, '') : this.opts.host;
    return {
      log: this.log,
      registry: this.registry,
      discoveryChap: this.opts.discoveryChap,
      nopInIntervalMs: this.opts.nopInIntervalMs ?? 0,
      loginTimeoutMs: this.opts.loginTimeoutMs ?? 30000,
      targetPortalGroupTag: TARGET_PORTAL_GROUP_TAG,
      findTarget: (iqn) => this.targets.get(iqn),
      targets: () => this.targets.values(),
      portalAddress: () => `${host.includes(':') ? `[${host}]` : host}:${this.bound?.port ?? this.opts.port}`,
      sessionsOfTarget: (iqn) => this.sessionsOfTarget(iqn),
      closeTargetSessions: (iqn, reason) => setImmediate(() => this.closeTargetSessions(iqn, reason)),
      connectionClosed: (c) => this.connections.delete(c),
      admitLog: (kind, remoteAddress) => this.logGate.admit(kind, remoteHost(remoteAddress), this.now()),
    };
  }
}
