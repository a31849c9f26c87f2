import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPrometheus } from './prometheus_text.ts';

test('renders help, type, labels with escaping', () => {
  const text = renderPrometheus([
    { name: 'berth_x', help: 'a\nb', type: 'gauge', samples: [{ labels: { pool: 'p"1\\' }, value: 3 }, { value: NaN }] },
  ]);
  assert.equal(text, '# HELP berth_x a\\nb\n# TYPE berth_x gauge\nberth_x{pool="p\\"1\\\\"} 3\nberth_x NaN\n');
});
