import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConformanceLog, parseTestList, summaryLine } from '../../bench/conformance_parse.ts';
import { parseKnownFailures } from './known_failures.ts';

// Shapes taken from real iscsi-test-cu 1.19 output (verbose CUnit mode).
const LOG = [
  'found matching LU device identifier for all (2) paths',
  'Suite: CompareAndWrite',
  '  Test: Simple ...    [SKIPPED] COMPAREANDWRITE is not implemented.',
  '    [SKIPPED] COMPAREANDWRITE is not implemented.',
  'passed',
  'Suite: GetLBAStatus',
  '  Test: Simple ...passed',
  '  Test: BeyondEol ...    [FAILED] GET_LBA_STATUS successful but should have failed',
  'FAILED',
  '    1. test_get_lba_status_beyond_eol.c:38  - CU_ASSERT_EQUAL(_r,0)',
  'Suite: ModeSense6',
  '  Test: Residuals ...passed    [FAILED] PRIN command: failed with sense. (teardown noise)',
  '',
  'Suite: Reserve6',
  '  Test: Logout ...    Take out a RESERVE6 from the first initiator',
  '    RELEASE6 from the second initiator',
  'passed',
  '  Test: TargetColdReset ...    [SKIPPED] Task Management function for ColdReset is not implemented',
  '',
  'passed',
  'Suite: iSCSIdatasn',
  '  Test: iSCSIDataSnInvalid ...FAILED',
  '',
  'Run Summary:    Type  Total    Ran Passed Failed Inactive',
  '              suites      5      5    n/a      0        0',
  '               tests      7      7      5      2        0',
].join('\n');

test('outcomes per test: skips are CUnit passes with [SKIPPED], teardown noise is ignored', () => {
  const r = parseConformanceLog(LOG);
  const by = Object.fromEntries(r.tests.map((t) => [t.name, t.outcome]));
  assert.deepEqual(by, {
    'CompareAndWrite.Simple': 'skipped',
    'GetLBAStatus.Simple': 'passed',
    'GetLBAStatus.BeyondEol': 'failed',
    'ModeSense6.Residuals': 'passed',
    'Reserve6.Logout': 'passed',
    'Reserve6.TargetColdReset': 'skipped',
    'iSCSIdatasn.iSCSIDataSnInvalid': 'failed',
  });
  assert.equal(summaryLine(r), 'iscsi-test-cu: 3 passed, 2 failed, 2 skipped');
  assert.deepEqual(r.cunit, { total: 7, ran: 7, passed: 5, failed: 2 });
  assert.equal(r.cunit.passed, r.passed + r.skipped);
  assert.equal(r.tests[2].reason, 'test_get_lba_status_beyond_eol.c:38 CU_ASSERT_EQUAL(_r,0); first message: GET_LBA_STATUS successful but should have failed');
});

test('a test cut off mid-run and listed tests never reported count as failures', () => {
  const cut = 'Suite: Read10\n  Test: Simple ...passed\n  Test: BeyondEol ...    still running';
  const r = parseConformanceLog(cut, ['Read10.Simple', 'Read10.BeyondEol', 'Read10.ZeroBlocks']);
  assert.deepEqual(r.tests.map((t) => [t.name, t.outcome]), [
    ['Read10.Simple', 'passed'],
    ['Read10.BeyondEol', 'failed'],
    ['Read10.ZeroBlocks', 'failed'],
  ]);
  assert.equal(r.failed, 2);
});

test('the --list output yields Suite.Test names under ALL only', () => {
  const list = 'ALL\nALL.Read10\nALL.Read10.Simple\nALL.Read10.BeyondEol\nSCSI\nSCSI.Read10.Simple\n';
  assert.deepEqual(parseTestList(list), ['Read10.Simple', 'Read10.BeyondEol']);
});

test('known-failures file: floor, entries with reasons, and bad lines rejected', () => {
  const k = parseKnownFailures('# c\nmin-passed 150\nRead10.Simple  not yet\n\nUnmap.VPD   needs thin\n');
  assert.equal(k.minPassed, 150);
  assert.deepEqual([...k.allowed], [['Read10.Simple', 'not yet'], ['Unmap.VPD', 'needs thin']]);
  assert.throws(() => parseKnownFailures('min-passed 1\nRead10.Simple\n'), /reason/);
  assert.throws(() => parseKnownFailures('Read10.Simple x\n'), /min-passed/);
});
