import { setFlagsFromString } from 'node:v8';

/**
 * Imported first by the engine's entry points, before anything allocates much.
 *
 * Every socket read gives the engine a fresh 64 KiB buffer outside the JS heap, so a
 * 1 MiB write stream churns external memory at the wire rate. By default V8 answers
 * external growth past a fixed step with a full mark-compact of its own, one every few
 * tens of MiB received; half the engine's CPU on 1 MiB writes went there. Counting
 * external memory within the heap's global limit lets those buffers die in ordinary,
 * paced collections instead (measured: docs/performance.md).
 */
setFlagsFromString('--external-memory-accounted-in-global-limit');

/**
 * With external memory inside the global limit, that limit follows the live heap, which
 * is small (20–30 MiB under a database's load): a few MiB of socket buffers reached it
 * and V8 ran a full mark-compact every 0.3–0.8 s (20–40 ms of marking each), 17 % of the
 * main thread's time under pgbench. Letting the heap grow to 4× its live size after a
 * full collection (V8's default factor is about 1.1–2 on a busy heap) makes those rare;
 * with live heaps of tens of MiB this stays far inside the engine's 2 GiB limit.
 * Measured: docs/performance.md ("What was tried"). V8 reads the factor at each collection.
 */
setFlagsFromString('--heap-growing-percent=300');
