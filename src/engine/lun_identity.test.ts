import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTargetIqn, naaIdForVolume, serialForVolume } from './lun_identity.ts';

test('naa id is NAA 6, 16 hex digits, stable per uuid and distinct across uuids', () => {
  const a = naaIdForVolume('0b5e7d1c-4b1a-4f5e-9a51-3c1d2b7e9f00');
  assert.match(a, /^6be2745[0-9a-f]{9}$/);
  assert.equal(naaIdForVolume('0B5E7D1C-4B1A-4F5E-9A51-3C1D2B7E9F00'), a);
  assert.notEqual(naaIdForVolume('0b5e7d1c-4b1a-4f5e-9a51-3c1d2b7e9f01'), a);
});

test('serial is the uuid hex digits', () => {
  assert.equal(serialForVolume('0B5E7D1C-4b1a-4f5e-9a51-3c1d2b7e9f00'), '0b5e7d1c4b1a4f5e9a513c1d2b7e9f00');
});

test('default target iqn is lower case', () => {
  assert.equal(defaultTargetIqn('Default', 'PG-Data'), 'iqn.2026-11.io.berth:default.pg-data');
});
