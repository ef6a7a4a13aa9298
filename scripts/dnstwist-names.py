#!/usr/bin/env python3
"""Print the permutations of a domain as dnstwist 20250130 generates them, one
"fuzzer domain" pair a line, without any DNS query.

The DNS sweep benchmark reads this list with `--names FILE` while vigie's own
permutation engine is not available, so it measures the same sweep on the
same kind of names. Install dnstwist first: pip install dnstwist==20250130

Usage: scripts/dnstwist-names.py societegenerale.com > names.txt
"""

import sys

try:
    import dnstwist
except ImportError:
    sys.exit("dnstwist is not installed: run pip install dnstwist==20250130")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: dnstwist-names.py DOMAIN")
    # Fuzzer only generates names; it sends nothing on the network.
    fuzzer = dnstwist.Fuzzer(sys.argv[1])
    fuzzer.generate()
    for permutation in fuzzer.domains:
        if permutation["fuzzer"] == "*original":
            continue
        print(permutation["fuzzer"], permutation["domain"])


if __name__ == "__main__":
    main()
