import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WriteIntentMap } from './write_intent_map.ts';

test('mark covers every region a range touches, and only those', () => {
  const m = new WriteIntentMap(1000, 100);
  m.mark(99, 2);
  assert.deepEqual([0, 1, 2].map((r) => m.isDirty(r)), [true, true, false]);
  assert.equal(m.dirtyRegions, 2);
  m.mark(150, 10);
  assert.equal(m.dirtyRegions, 2, 'marking twice counts once');
  m.mark(0, 0);
  assert.equal(m.dirtyRegions, 2);
});

test('the short last region is sized exactly', () => {
  const m = new WriteIntentMap(250, 100);
  assert.equal(m.regionCount, 3);
  assert.equal(m.regionLength(2), 50);
  m.markAll();
  assert.equal(m.dirtyBlocks(), 250);
  m.mark(249, 5); // past the end is clamped, never a new region
  assert.equal(m.dirtyRegions, 3);
});

test('nextDirty walks dirty regions in order across words', () => {
  const m = new WriteIntentMap(100 * 70, 100);
  for (const r of [0, 31, 32, 33, 63, 64, 69]) m.markRegion(r);
  const seen: number[] = [];
  for (let r = m.nextDirty(0); r >= 0; r = m.nextDirty(r + 1)) seen.push(r);
  assert.deepEqual(seen, [0, 31, 32, 33, 63, 64, 69]);
  m.clearRegion(31);
  assert.equal(m.nextDirty(1), 32);
  assert.equal(m.nextDirty(70), -1);
});

test('fuzz: the bitmap agrees with a set, and survives toBuffer/fromBuffer', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.array(fc.tuple(fc.boolean(), fc.nat(5000), fc.nat(300))), (blocks, ops) => {
    const m = new WriteIntentMap(blocks, 64);
    const model = new Set<number>();
    for (const [mark, lba, count] of ops) {
      if (mark) {
        const l = lba % blocks;
        const c = Math.min(count, blocks - l);
        m.mark(l, c);
        for (let b = l; b < l + c; b++) model.add(Math.floor(b / 64));
      } else {
        const r = lba % m.regionCount;
        m.clearRegion(r);
        model.delete(r);
      }
    }
    const seen: number[] = [];
    for (let r = m.nextDirty(0); r >= 0; r = m.nextDirty(r + 1)) seen.push(r);
    assert.deepEqual(seen, [...model].sort((a, b) => a - b));
    assert.equal(m.dirtyRegions, model.size);
    const back = WriteIntentMap.fromBuffer(blocks, 64, m.toBuffer());
    assert.deepEqual(back.toBuffer(), m.toBuffer());
    assert.equal(back.dirtyRegions, m.dirtyRegions);
  }), { numRuns: 200 });
});

test('write_intent_fine: small writes mark grains, not regions, and dirtyBlocks counts what a resync copies', () => {
  const m = new WriteIntentMap(4096, 256, { grainBlocks: 8 }); // 16 regions of 32 grains
  m.mark(3, 2); // inside grain 0
  m.mark(300, 8); // grains 4 and 5 of region 1 (blocks 296..311)
  assert.equal(m.dirtyRegions, 2);
  assert.equal(m.fineRegions, 2);
  assert.equal(m.dirtyBlocks(), 8 + 16);
  const out: number[] = [];
  assert.equal(m.extentsOf(1, out), 16);
  assert.deepEqual(out, [296, 16]);
  m.mark(0, 256); // covers region 0 whole: no more grains there
  assert.equal(m.fineRegions, 1);
  assert.equal(m.dirtyBlocks(), 256 + 16);
});

test('write_intent_fine: a region whose grains all get dirty is tracked whole', () => {
  const m = new WriteIntentMap(512, 256, { grainBlocks: 8 });
  for (let g = 0; g < 32; g++) m.mark(g * 8 + 1, 1);
  assert.equal(m.fineRegions, 0);
  assert.equal(m.dirtyBlocks(), 256);
  const out: number[] = [];
  m.extentsOf(0, out);
  assert.deepEqual(out, [0, 256]);
});

test('write_intent_fine: the short last region and its short last grain are sized exactly', () => {
  const m = new WriteIntentMap(300, 256, { grainBlocks: 8 }); // region 1 has 44 blocks: 5 grains, the last 4 blocks long
  m.mark(298, 1);
  assert.equal(m.dirtyBlocks(), 4);
  const out: number[] = [];
  m.extentsOf(1, out);
  assert.deepEqual(out, [296, 4]);
  m.mark(256, 44);
  assert.equal(m.dirtyBlocks(), 44);
  m.clearRegion(1);
  assert.equal(m.dirtyBlocks(), 0);
});

test('write_intent_fine: past the grain budget a new partly-written region is tracked whole, and says so', () => {
  // Each slot costs 4 bytes of words + 64 of overhead: 200 bytes allow 2 of them.
  const m = new WriteIntentMap(256 * 8, 256, { grainBlocks: 8, fineBytesMax: 200 });
  m.mark(0, 1);
  m.mark(256, 1);
  m.mark(512, 1);
  assert.equal(m.fineRegions, 2);
  assert.equal(m.coarsened, 1);
  assert.equal(m.dirtyBlocks(), 8 + 8 + 256);
  m.clearRegion(0); // frees a slot: the next sparse region gets grains again
  m.mark(768, 1);
  assert.equal(m.fineRegions, 2);
  assert.equal(m.dirtyBlocks(), 8 + 256 + 8);
  m.clearRegion(3); // the reused slot counts only its own grains
  assert.equal(m.dirtyBlocks(), 8 + 256);
});

test('write_intent_fine: 4k and 64k random writes cost at most twice their bytes to resync', () => {
  for (const ioBlocks of [8, 128]) { // 512-byte blocks: 4 KiB and 64 KiB
    const blocks = (2 * 1024 * 1024 * 1024) / 512;
    const m = new WriteIntentMap(blocks, 2048, { grainBlocks: 8 });
    let seed = 7;
    const rand = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    let written = 0;
    while (written < 113 * 1024 * 1024) {
      m.mark(Math.floor(rand() * (blocks - ioBlocks)), ioBlocks); // unaligned on purpose
      written += ioBlocks * 512;
    }
    const copied = m.dirtyBlocks() * 512;
    assert.ok(copied <= 2 * written, `${ioBlocks * 512}-byte writes: ${written} written, ${copied} to copy`);
    assert.equal(m.coarsened, 0);
  }
});

test('fuzz: with grains (one-word and multi-word regions), the marked blocks cover every written block, and each grain holds a written block', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 12000 }), fc.array(fc.tuple(fc.nat(12000), fc.nat(600)), { maxLength: 60 }), fc.boolean(), fc.constantFrom(64, 2048), (blocks, writes, tight, rb) => {
    const m = new WriteIntentMap(blocks, rb, { grainBlocks: 8, fineBytesMax: tight ? 300 : undefined });
    const written = new Set<number>();
    for (const [lba, count] of writes) {
      const l = lba % blocks;
      const c = Math.min(count, blocks - l);
      m.mark(l, c);
      for (let b = l; b < l + c; b++) written.add(b);
    }
    const covered = new Set<number>();
    const out: number[] = [];
    for (let r = m.nextDirty(0); r >= 0; r = m.nextDirty(r + 1)) m.extentsOf(r, out);
    for (let k = 0; k < out.length; k += 2) for (let b = out[k]; b < out[k] + out[k + 1]; b++) covered.add(b);
    for (const b of written) assert.ok(covered.has(b), `block ${b} was written but is not marked`);
    assert.equal(m.dirtyBlocks(), covered.size);
    if (!tight) {
      for (const b of covered) {
        const g = Math.floor(b / 8) * 8;
        let any = false;
        for (let x = g; x < g + 8 && !any; x++) any = written.has(x);
        // Whole regions (a write covered them or every grain got dirty) are the only other reason to be marked.
        const r = Math.floor(b / rb);
        let whole = true;
        for (let x = r * rb; x < Math.min(blocks, r * rb + rb) && whole; x++) whole = covered.has(x);
        assert.ok(any || whole, `block ${b} is marked but nothing near it was written`);
      }
    }
    const copy = m.emptyLike();
    copy.merge(m);
    assert.equal(copy.dirtyBlocks(), m.dirtyBlocks());
  }), { numRuns: 200 });
});
