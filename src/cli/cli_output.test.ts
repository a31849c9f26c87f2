import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { parseOutputFormat, printRows, type OutputFormat } from './cli_output.ts';

function captured(fn: () => void): string {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string) => { out += chunk; return true; }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

const doc = { nodes: [{ id: 'n1', zone: 'z1' }] };
const rows = (f: OutputFormat): string => captured(() => printRows(f, doc, doc.nodes, [{ header: 'NODE', value: (n) => n.id }, { header: 'ZONE', value: (n) => n.zone }]));

test('the same document as JSON or YAML; a table for people', () => {
  assert.deepEqual(JSON.parse(rows('json')), doc);
  assert.deepEqual(parseYaml(rows('yaml')), doc);
  assert.match(rows('table'), /NODE.*ZONE[\s\S]*n1.*z1/);
});

test('berth takes table or json; the plugin also yaml', () => {
  assert.throws(() => parseOutputFormat('yaml'), /--output must be table or json, not 'yaml'/);
  assert.equal(parseOutputFormat('yaml', ['table', 'json', 'yaml']), 'yaml');
  assert.throws(() => parseOutputFormat('xml', ['table', 'json', 'yaml']), /--output must be table, json or yaml, not 'xml'/);
});
