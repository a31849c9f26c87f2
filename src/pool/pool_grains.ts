/**
 * Copy-up grains (format 4). A partial extent tracks which of its grains it holds itself
 * in a 256-bit map; the rest read from its base. The grain is 4 KiB (the common
 * filesystem and database page) unless the extent has more than 256 of them, in which
 * case it is extentSize / 256 (16 KiB for 4 MiB extents ... 256 KiB for 64 MiB), so a
 * bitmap always fits one 32-byte journal field. See docs/pool-format.md §12.
 */
export const GRAIN_WORDS = 8;
export const MAX_GRAINS = GRAIN_WORDS * 32;
export const MIN_GRAIN_BYTES = 4096;

export function grainsPerExtent(extentSize: number): number {
  return Math.min(MAX_GRAINS, Math.max(1, Math.floor(extentSize / MIN_GRAIN_BYTES)));
}

export function grainBytes(extentSize: number): number {
  return extentSize / grainsPerExtent(extentSize);
}

export function hasGrain(bits: Uint32Array, g: number): boolean {
  return (bits[g >>> 5] & (1 << (g & 31))) !== 0;
}

export function setGrain(bits: Uint32Array, g: number): void {
  bits[g >>> 5] |= 1 << (g & 31);
}

export function countGrains(bits: Uint32Array): number {
  let n = 0;
  for (let w of bits) {
    while (w !== 0) { w &= w - 1; n++; }
  }
  return n;
}

/** Whether grains [0, grains) are all set. */
export function hasAllGrains(bits: Uint32Array, grains: number): boolean {
  for (let g = 0; g < grains; g += 32) {
    const n = Math.min(32, grains - g);
    const want = n === 32 ? 0xffff_ffff : ((1 << n) - 1) >>> 0;
    if ((bits[g >>> 5] & want) >>> 0 !== want) return false;
  }
  return true;
}

/** Whether `live` has a grain `bits` lacks. */
export function hasUnrecorded(live: Uint32Array, bits: Uint32Array): boolean {
  for (let w = 0; w < live.length; w++) if ((live[w] & ~bits[w]) !== 0) return true;
  return false;
}
