/**
 * A CSI client over the real unix socket, as a CO's sidecars would use it: grpc-js with
 * the same proto. `call` resolves the reply; `callError` resolves the gRPC status of a
 * call that must fail (and fails the test if it succeeds).
 */
import { credentials, type Client, type ClientReadableStream, type ServiceError, type status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { csiGrpcObject } from '../../src/csi/csi_proto.ts';

type Service = 'Identity' | 'Controller' | 'Node' | 'GroupController' | 'SnapshotMetadata';

export class CsiClient {
  private readonly clients: Record<Service, Client>;

  constructor(socketPath: string) {
    const ns = csiGrpcObject();
    const make = (name: Service) => {
      const Ctor = ns[name] as unknown as new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client;
      return new Ctor(`unix://${socketPath}`, credentials.createInsecure());
    };
    this.clients = {
      Identity: make('Identity'), Controller: make('Controller'), Node: make('Node'),
      GroupController: make('GroupController'), SnapshotMetadata: make('SnapshotMetadata'),
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call<T = any>(service: Service, method: string, request: object = {}): Promise<T> {
    const client = this.clients[service] as unknown as Record<string, (req: object, cb: (err: ServiceError | null, reply: T) => void) => void>;
    assert.equal(typeof client[method], 'function', `${service}.${method} is not in the proto`);
    return new Promise((resolve, reject) => {
      client[method].call(client, request, (err, reply) => (err ? reject(err) : resolve(reply)));
    });
  }

  /** A server-streaming call: every message, or the stream's error status. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  stream<T = any>(service: Service, method: string, request: object = {}): Promise<T[]> {
    const client = this.clients[service] as unknown as Record<string, (req: object) => ClientReadableStream<T>>;
    assert.equal(typeof client[method], 'function', `${service}.${method} is not in the proto`);
    return new Promise((resolve, reject) => {
      const out: T[] = [];
      const s = client[method].call(client, request);
      s.on('data', (m: T) => out.push(m));
      s.on('error', reject);
      // 'status' comes last, OK or not ('error' carries a failure).
      s.on('status', (st: { code: number }) => { if (st.code === 0) resolve(out); });
    });
  }

  /** The status of a stream that must fail. */
  async streamError(service: Service, method: string, request: object = {}): Promise<{ code: status; details: string }> {
    try {
      await this.stream(service, method, request);
    } catch (err) {
      const e = err as ServiceError;
      return { code: e.code, details: e.details };
    }
    assert.fail(`${service}.${method} succeeded but was expected to fail`);
  }

  /** The status of a call that must fail. */
  async callError(service: Service, method: string, request: object = {}): Promise<{ code: status; details: string }> {
    try {
      await this.call(service, method, request);
    } catch (err) {
      const e = err as ServiceError;
      return { code: e.code, details: e.details };
    }
    assert.fail(`${service}.${method} succeeded but was expected to fail`);
  }

  close(): void {
    for (const c of Object.values(this.clients)) c.close();
  }
}
