/**
 * Writes deploy/monitoring/berth-prometheusrule.yaml (a Prometheus Operator PrometheusRule)
 * from deploy/monitoring/berth-rules.yaml, so the two never drift; `--check` only
 * compares (test/monitoring/rules.test.ts runs it that way).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'monitoring');
export const RULES_PATH = join(dir, 'berth-rules.yaml');
export const PROMETHEUS_RULE_PATH = join(dir, 'berth-prometheusrule.yaml');

const HEADER = '# Generated from berth-rules.yaml by `node scripts/monitoring_rules.ts`: edit that file, not this one.\n';

export function prometheusRuleText(rulesYaml: string): string {
  const { groups } = parse(rulesYaml) as { groups: unknown[] };
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'berth',
      namespace: 'berth-system',
      labels: { 'app.kubernetes.io/name': 'berth', 'app.kubernetes.io/component': 'monitoring' },
    },
    spec: { groups },
  };
  return HEADER + stringify(manifest, { lineWidth: 0 });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const want = prometheusRuleText(readFileSync(RULES_PATH, 'utf8'));
  if (process.argv.includes('--check')) {
    if (readFileSync(PROMETHEUS_RULE_PATH, 'utf8') !== want) {
      console.error(`${PROMETHEUS_RULE_PATH} is out of date: run node scripts/monitoring_rules.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(PROMETHEUS_RULE_PATH, want);
  }
}
