#!/usr/bin/env python3
"""Write dnstwist's permutations of a few domains as test fixtures.

Runs dnstwist in-process with its default fuzzers (no dictionary, no TLD file) and writes
one sorted list a domain, in ASCII (punycode) form and without the input domain itself, to
tests/fixtures/dnstwist/<domain>.txt. tests/permute_superset.rs checks that vigie's output
contains every one of these names.

Usage: pip install dnstwist==20250130 idna && python3 scripts/dnstwist-fixtures.py
"""

import pathlib
import sys

import dnstwist
import idna

EXPECTED_VERSION = "20250130"

DOMAINS = [
    "paypal.com",
    "societegenerale.com",
    "example.co.uk",
    "bank.fr",
    "credit-agricole.fr",
    "bücher.de",
    "ab.io",
    "www.bank.fr",
]

OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dnstwist"


def permutations(domain):
    """Return dnstwist's names for a domain, ASCII form, the input excluded, sorted."""
    fuzzer = dnstwist.Fuzzer(domain)
    fuzzer.generate()
    original = idna.encode(domain).decode()
    names = {p["domain"] for p in fuzzer.permutations() if p["fuzzer"] != "*original"}
    names.discard(original)
    return sorted(names)


def main():
    if dnstwist.__version__ != EXPECTED_VERSION:
        sys.exit(f"dnstwist {dnstwist.__version__} is installed; the fixtures need {EXPECTED_VERSION}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for domain in DOMAINS:
        names = permutations(domain)
        path = OUT_DIR / (idna.encode(domain).decode() + ".txt")
        path.write_text("".join(name + "\n" for name in names))
        print(f"{path.name}: {len(names)} names")


if __name__ == "__main__":
    main()
