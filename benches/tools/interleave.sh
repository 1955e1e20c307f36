#!/usr/bin/env bash
# Interleaved rounds of the perf bench for two builds, for BENCHMARKS.md's before/after
# tables (this machine is shared and noisy: compare builds only within one sitting).
#
#   git checkout OLD && cargo bench --bench perf --no-run   # prints the binary's path
#   cp target/release/deps/perf-<hash> /some/where/perf-old  # likewise perf-new from NEW
#   benches/tools/interleave.sh /some/where/perf-old /some/where/perf-new 3 > rounds.log
#   python3 benches/tools/summarize.py rounds.log            # median [range] per line
#
# Each group runs in its own process, old then new, round after round; the resume group
# with CAIRN_BENCH_LARGE=1 (the 1,000,000-step row). BENCH_GROUPS overrides the group list.
set -euo pipefail
old=$1
new=$2
rounds=${3:-3}
groups=${BENCH_GROUPS:-overhead latency throughput bursts loops starts open resume}
for round in $(seq "$rounds"); do
  for build in old new; do
    bin=$old
    [ "$build" = new ] && bin=$new
    for group in $groups; do
      echo "### round $round build $build group $group $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
      if [ "$group" = resume ]; then
        CAIRN_BENCH_LARGE=1 "$bin" "$group" 2>&1 | grep '^(' || true
      else
        "$bin" "$group" 2>&1 | grep '^(' || true
      fi
    done
  done
done
