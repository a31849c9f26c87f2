/** Live I/O rates of watched volumes, from the engines' counters (docs/dashboard.md "Live charts"). */
export { parseIoCounters, ZERO_COUNTERS, type IoCounters } from './io_counters.ts';
export { IoRing, ratePoints, type IoPoint, type IoSample } from './io_ring.ts';
export { IoSampler, engineMetricsFetcher, type IoExport, type IoSeries } from './io_sampler.ts';
export { engineGetJson, engineGetText, type EngineGetText } from './engine_http.ts';
