/**
 * Process-wide iSCSI error counters for /metrics. Plain fields: bumped on a rare error
 * path, read at scrape time. Counters only grow, so sharing one set between the (one)
 * server of an engine process and tests is harmless.
 */
export const iscsiCounters = {
  headerDigestErrors: 0,
  dataDigestErrors: 0,
};
