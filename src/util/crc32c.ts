/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the iSCSI header and data
 * digests (RFC 7143) and the checksum of every pool metadata structure. Table-driven
 * slicing-by-8: eight bytes per step through eight 256-entry tables, which is what makes
 * digests on every PDU and checksums of whole checkpoints cheap.
 */
const CRC32C_POLY_REFLECTED = 0x82f63b78;

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLY_REFLECTED : c >>> 1;
    t0[n] = c >>> 0;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1];
    const next = new Uint32Array(256);
    for (let n = 0; n < 256; n++) next[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
    tables.push(next);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables();

/**
 * CRC32C of `data[start, end)`. Pass a previous result as `seed` to continue a checksum
 * over several pieces: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  let crc = ~seed >>> 0;
  let i = start;
  const fast = end - ((end - i) & 7);
  while (i < fast) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc;
    const b = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24);
    crc = T7[a & 0xff] ^ T6[(a >>> 8) & 0xff] ^ T5[(a >>> 16) & 0xff] ^ T4[a >>> 24]
      ^ T3[b & 0xff] ^ T2[(b >>> 8) & 0xff] ^ T1[(b >>> 16) & 0xff] ^ T0[b >>> 24];
    i += 8;
  }
  while (i < end) crc = T0[(crc ^ data[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** Continues a CRC over `buf[start, end)` (the iSCSI digest's streaming form). */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32c(buf, crc, start, end);
}
