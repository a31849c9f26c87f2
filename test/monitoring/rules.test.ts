/**
 * The alert rules users load: valid for Prometheus's own checker, the PrometheusRule
 * generated from the plain file and unchanged since, every alert documented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { nodeBin, repoRoot, run } from '../helpers/tools.ts';
import { dashboardExprs, MONITORING_DIR, PROMTOOL, prometheusMissing, RULES_FILE, ruleGroups } from './monitoring_kit.ts';

test('promtool accepts the rules file', { skip: prometheusMissing }, async () => {
  const r = await run(PROMTOOL, ['check', 'rules', RULES_FILE], { check: false });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('promtool refuses a broken rule, so the check above means something', { skip: prometheusMissing }, async () => {
  const dir = mkdtempSync(join(tmpdir(), `berth-rules-${process.pid}-`));
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, stringify({ groups: [{ name: 'x', rules: [{ alert: 'Broken', expr: 'berth_pool_online ==' }] }] }));
    const r = await run(PROMTOOL, ['check', 'rules', bad], { check: false });
    assert.notEqual(r.code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the PrometheusRule holds exactly the groups of the rules file, and promtool accepts them', { skip: prometheusMissing }, async () => {
  const check = await run(nodeBin, [join(repoRoot, 'scripts', 'monitoring_rules.ts'), '--check'], { check: false });
  assert.equal(check.code, 0, `regenerate with node scripts/monitoring_rules.ts\n${check.stderr}`);
  const manifest = parse(readFileSync(join(MONITORING_DIR, 'berth-prometheusrule.yaml'), 'utf8')) as { kind: string; spec: { groups: unknown } };
  assert.equal(manifest.kind, 'PrometheusRule');
  assert.deepEqual(manifest.spec.groups, ruleGroups());
  const dir = mkdtempSync(join(tmpdir(), `berth-rules-${process.pid}-`));
  try {
    const extracted = join(dir, 'from-manifest.yaml');
    writeFileSync(extracted, stringify({ groups: manifest.spec.groups }));
    const r = await run(PROMTOOL, ['check', 'rules', extracted], { check: false });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the alerts the issue asks for exist, each has a severity, and docs/monitoring.md names every one', () => {
  const alerts = ruleGroups().flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
  const names = alerts.map((r) => r.alert!);
  for (const want of ['BerthVolumeDegraded', 'BerthReplicaRebuildTooLong', 'BerthPoolNearlyFull', 'BerthHostFilesystemNearlyFull',
    'BerthNodeOffline', 'BerthVolumeLatencySLOBurnFast', 'BerthControlPlaneNoLeader']) {
    assert.ok(names.includes(want), `${want} missing`);
  }
  for (const r of alerts) assert.match(r.labels?.severity ?? '', /^(warning|critical)$/, `${r.alert} severity`);
  const doc = readFileSync(join(repoRoot, 'docs', 'monitoring.md'), 'utf8');
  for (const n of names) assert.ok(doc.includes(n), `docs/monitoring.md lacks ${n}`);
});

test('the Grafana dashboard is valid JSON with a query in every data panel', () => {
  const exprs = dashboardExprs();
  assert.ok(exprs.length >= 20);
  for (const e of exprs) assert.ok(e.expr.trim().length > 0, `empty query in ${e.title}`);
});
