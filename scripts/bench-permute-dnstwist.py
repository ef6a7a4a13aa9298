#!/usr/bin/env python3
"""Time dnstwist's permutation generation in-process, for benches/permute.rs.

Usage: bench-permute-dnstwist.py RUNS DOMAIN...

For each domain, runs dnstwist.Fuzzer(domain).generate() with the default fuzzers RUNS
times and prints one JSON object a line: {"domain", "names", "median_seconds", "version"}.
Only generate() is timed, so interpreter start-up and the import are not counted.
"""

import json
import statistics
import sys
import time

import dnstwist


def time_domain(domain, runs):
    """Return (names generated, median seconds of one generation) for a domain."""
    timings = []
    names = 0
    for _ in range(runs):
        start = time.perf_counter()
        fuzzer = dnstwist.Fuzzer(domain)
        fuzzer.generate()
        timings.append(time.perf_counter() - start)
        # The input itself is listed as "*original"; vigie does not list it.
        names = sum(1 for p in fuzzer.domains if p["fuzzer"] != "*original")
    return names, statistics.median(timings)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: bench-permute-dnstwist.py RUNS DOMAIN...")
    runs = int(sys.argv[1])
    for domain in sys.argv[2:]:
        names, median = time_domain(domain, runs)
        print(json.dumps({
            "domain": domain,
            "names": names,
            "median_seconds": median,
            "version": dnstwist.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
