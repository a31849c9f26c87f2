/**
 * Crash-test verifier for the last kill: imports the pool in a fresh process and prints
 * what it holds as one JSON line (see `observe`).
 * Usage: node crash_verify.ts POOL_PATH
 */
import { Pool } from '../../src/pool/index.ts';
import { observe } from './crash_shared.ts';

const pool = await Pool.import(process.argv[2]);
const seen = await observe(pool);
await pool.close();
process.stdout.write(JSON.stringify(seen) + '\n');
