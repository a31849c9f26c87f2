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
