/**
 * A real Prometheus (Debian's) scrapes a real engine and control plane with the rules of
 * deploy/monitoring/berth-rules.yaml, and the matching alerts fire after real faults:
 * the engine holding a nexus's remote replica is killed (BerthVolumeDegraded), a pool
 * runs out of extents (BerthPoolFull), then the engine itself dies (BerthNodeOffline,
 * from the control plane's view). `for:` durations are cut to 0s in a temp copy so the test
 * waits for evaluation, not for the production hold times. Waits poll Prometheus's API
 * with generous deadlines; nothing depends on speed. Also: `promtool check metrics` on
 * both processes' real /metrics, and every dashboard query is valid PromQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { call, ok, provision, qemuIo, assertQemuOk, MiB } from '../engine/engine_kit.ts';
import { dashboardExprs, PROMETHEUS, PROMTOOL, prometheusMissing, ruleGroups } from './monitoring_kit.ts';

const WAIT_MS = 180_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const hostPort = (url: string): string => new URL(url).host;

async function promApi<T>(base: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(30_000) });
  const body = await res.json() as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
  return body.data;
}

/** Polls `probe` until it returns a value, or fails with the last state after `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>, explain: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    let got: T | undefined;
    try {
      got = await probe();
    } catch {
      got = undefined; // Prometheus still starting
    }
    if (got !== undefined) return got;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${explain()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Alert { labels: Record<string, string>; state: string }

async function firing(base: string, name: string, labels: Record<string, string> = {}): Promise<Alert | undefined> {
  const { alerts } = await promApi<{ alerts: Alert[] }>(base, '/api/v1/alerts');
  return alerts.find((a) => a.labels.alertname === name && a.state === 'firing' && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
}

test('Prometheus with Berth rules fires BerthVolumeDegraded, BerthPoolFull and BerthNodeOffline after real faults', { skip: prometheusMissing, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), `berth-prom-${process.pid}-`));
  let plane: ControlPlaneProcess | undefined;
  let engine: EngineProcess | undefined;
  let far: EngineProcess | undefined;
  let prom: ChildProcess | undefined;
  const promLog = join(dir, 'prometheus.log');
  const promTail = (): string => { try { return readFileSync(promLog, 'utf8').split('\n').slice(-30).join('\n'); } catch { return ''; } };
  try {
    plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}` });
    engine = await startEngine({ args: ['--control-plane', plane.url, '--node-id', `mon-${process.pid}`] });

    // Both processes' real exposition passes Prometheus's own linter, I/O families included.
    const x = (await provision(engine.api, { pool: 'mon', poolBytes: 64 * MiB, volume: 'v1', volumeBytes: 16 * MiB }))!;
    // A nexus over a local replica and one on a second engine (no control plane for that one).
    far = await startEngine();
    await provision(far.api, { pool: 'far', poolBytes: 32 * MiB, volume: 'nx', volumeBytes: 8 * MiB, exportSpec: false });
    await provision(engine.api, { pool: 'mon', createPool: false, volume: 'nx', volumeBytes: 8 * MiB, exportSpec: false });
    const farReplicas = await ok<{ endpoint: string }>(far.api, 'GET', '/v1/replica-service');
    await ok(engine.api, 'POST', '/v1/nexus', { name: 'nx', replicas: [{ node: 'local', pool: 'mon', volume: 'nx' }, { node: farReplicas.endpoint, pool: 'far', volume: 'nx' }] });
    assertQemuOk(await qemuIo(x.url, ['write -P 0x5a 0 1M', 'read -P 0x5a 0 1M', 'discard 0 1M']), 'I/O before scraping');
    for (const url of [engine.api, plane.url]) {
      const text = (await call(url, 'GET', '/metrics')).text;
      const file = join(dir, 'metrics.txt');
      writeFileSync(file, text);
      const fd = openSync(file, 'r');
      const lint = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(PROMTOOL, ['check', 'metrics'], { stdio: [fd, 'pipe', 'pipe'] });
        let out = '';
        c.stdout!.on('data', (d: Buffer) => { out += d; });
        c.stderr!.on('data', (d: Buffer) => { out += d; });
        c.on('close', (code) => resolve({ code, out }));
      });
      closeSync(fd);
      assert.equal(lint.code, 0, `promtool check metrics on ${url}/metrics:\n${lint.out}`);
    }
    const engineText = (await call(engine.api, 'GET', '/metrics')).text.split('\n');
    assert.ok(engineText.includes('berth_volume_io_bytes_total{pool="mon",volume="v1",op="write"} 1048576'), 'a 1 MiB write is counted');
    assert.ok(engineText.includes('berth_volume_io_bytes_total{pool="mon",volume="v1",op="unmap"} 1048576'), 'a 1 MiB discard is counted');

    // The shipped rules, with hold times cut so evaluation, not the clock, is what we wait for.
    const groups = ruleGroups().map((g) => ({ ...g, rules: g.rules.map((r) => (r.for ? { ...r, for: '0s' } : r)) }));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    writeFileSync(join(dir, 'prometheus.yml'), stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [
        { job_name: 'berth-engine', static_configs: [{ targets: [hostPort(engine.api)] }] },
        { job_name: 'berth-control-plane', static_configs: [{ targets: [hostPort(plane.url)] }] },
      ],
    }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const logFd = openSync(promLog, 'w');
    prom = spawn(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);

    await until('both targets up', WAIT_MS, async () => {
      const { activeTargets } = await promApi<{ activeTargets: Array<{ health: string }> }>(base, '/api/v1/targets');
      return activeTargets.length === 2 && activeTargets.every((t) => t.health === 'up') ? true : undefined;
    }, promTail);
    await until('the node online in Prometheus', WAIT_MS, async () => {
      const r = await promApi<{ result: unknown[] }>(base, `/api/v1/query?query=${encodeURIComponent('berth_node_state{state="online"} == 1')}`);
      return r.result.length === 1 ? true : undefined;
    }, promTail);
    await until('the nexus online in Prometheus', WAIT_MS, async () => {
      const r = await promApi<{ result: unknown[] }>(base, `/api/v1/query?query=${encodeURIComponent('berth_nexus_state{nexus="nx",state="online"} == 1')}`);
      return r.result.length === 1 ? true : undefined;
    }, promTail);
    assert.equal(await firing(base, 'BerthVolumeDegraded'), undefined, 'no volume is degraded yet');
    assert.equal(await firing(base, 'BerthPoolFull'), undefined, 'no pool is full yet');
    assert.equal(await firing(base, 'BerthControlPlaneNoLeader'), undefined, 'the control plane leads');

    // Every dashboard query parses and evaluates.
    for (const { title, expr } of dashboardExprs()) {
      const q = expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*').replaceAll('$volume', '.*');
      await promApi(base, `/api/v1/query?query=${encodeURIComponent(q)}`).catch((err: Error) => assert.fail(`dashboard panel "${title}": ${err.message}`));
    }

    // Fault 1: the engine holding the remote replica dies; the nexus goes on degraded.
    await far.kill();
    await until('BerthVolumeDegraded firing', WAIT_MS, () => firing(base, 'BerthVolumeDegraded', { nexus: 'nx', job: 'berth-engine' }), promTail);

    // Fault 2: a thick volume takes every free extent; the pool is full.
    const pool = await ok<{ freeBytes: number }>(engine.api, 'GET', '/v1/pools/mon');
    await ok(engine.api, 'POST', '/v1/pools/mon/volumes', { name: 'hog', sizeBytes: pool.freeBytes, thin: false });
    await until('BerthPoolFull firing', WAIT_MS, () => firing(base, 'BerthPoolFull', { pool: 'mon', job: 'berth-engine' }), promTail);

    // Fault 3: the engine dies; past the heartbeat deadline the control plane reports it offline.
    await engine.kill();
    await until('BerthNodeOffline firing', WAIT_MS, () => firing(base, 'BerthNodeOffline', { node: `mon-${process.pid}` }), promTail);
  } finally {
    if (prom?.pid !== undefined && prom.exitCode === null) {
      const gone = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGKILL');
      await gone;
    }
    await engine?.stop().catch(() => undefined);
    await far?.stop().catch(() => undefined);
    await plane?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
