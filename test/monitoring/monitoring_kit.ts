/** Paths and readers shared by the monitoring suites. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/tools.ts';

export const MONITORING_DIR = join(repoRoot, 'deploy', 'monitoring');
export const RULES_FILE = join(MONITORING_DIR, 'berth-rules.yaml');
export const DASHBOARD_FILE = join(MONITORING_DIR, 'berth-grafana-dashboard.json');
/** Debian's prometheus package (scripts/install-deps.sh installs it). */
export const PROMTOOL = '/usr/bin/promtool';
export const PROMETHEUS = '/usr/bin/prometheus';
export const prometheusMissing = existsSync(PROMETHEUS) && existsSync(PROMTOOL) ? false : 'Debian package prometheus not installed (scripts/install-deps.sh)';

export interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }

export function ruleGroups(text = readFileSync(RULES_FILE, 'utf8')): Array<{ name: string; rules: Rule[] }> {
  return (parse(text) as { groups: Array<{ name: string; rules: Rule[] }> }).groups;
}

/** Every PromQL expression of the Grafana dashboard, with its panel's title. */
export function dashboardExprs(): Array<{ title: string; expr: string }> {
  const dash = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
}
