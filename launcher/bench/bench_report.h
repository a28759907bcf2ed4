/* launcher/bench/bench_report.h -- `tlm bench --profile`'s text and JSON (see bench.h's
 * BenchProfile): per workload the op groups' time and share, the host time outside ops,
 * each matmul shape's GFLOP/s in the run against the same op alone and against the fastest
 * matmul measured, and the decode steps' weight bytes/s against the streaming-read (and
 * the copy) bandwidth. Writes to stdout only. */
#ifndef TLM_LAUNCHER_BENCH_REPORT_H
#define TLM_LAUNCHER_BENCH_REPORT_H

#include <stddef.h>

#include "launcher/bench/bench.h"

/* The text tables. Weight bytes count each matmul shape's weight format. */
void bench_print_profile(const BenchConfig *cfg, const BenchProfile *p);

/* The profile as a JSON object (no newline), for the one JSON line of a model. */
void bench_json_profile(const BenchProfile *p);

#endif
