#!/usr/bin/env python3
"""Build DNS zones where the phishing hosts that CryptoScamDB lists for one brand
are registered, and an NSD configuration that serves them on 127.0.0.1.

CryptoScamDB's blacklist (urls.yaml) gives for each entry its `url` and, in
`subcategory`, the brand it impersonates (such as MyEtherWallet). The data has
no licence, so it is read from where it lies and never copied into this
repository: only the generated zones are written, into OUTDIR.

Zone layout: one zone per TLD found in the hosts. Each host gets an A record in
its TLD zone (an address of the 198.51.100.0/24 documentation range), so every
listed host, and every parent name of it below the TLD, answers NOERROR, and
any other name of those TLDs answers NXDOMAIN.

Usage:
  scripts/cryptoscamdb-zone.py URLS_YAML OUTDIR [--brand MyEtherWallet] [--port 5354]
  nsd -d -c OUTDIR/nsd.conf        # then: vigie scan --domain myetherwallet.com \\
                                   #         --nameserver 127.0.0.1:5354
Needs PyYAML (pip install pyyaml).
"""

import argparse
import hashlib
import ipaddress
import os
import sys
from urllib.parse import urlsplit

try:
    import yaml
except ImportError:
    sys.exit("PyYAML is not installed: run pip install pyyaml")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls_yaml", help="CryptoScamDB urls.yaml")
    parser.add_argument("outdir", help="folder for the zone files and nsd.conf (created)")
    parser.add_argument("--brand", default="MyEtherWallet",
                        help="subcategory to keep (default: MyEtherWallet)")
    parser.add_argument("--port", type=int, default=5354,
                        help="UDP and TCP port of NSD on 127.0.0.1 (default: 5354)")
    return parser.parse_args()


def host_of(entry: dict) -> str | None:
    """Return the entry's host in lower-case ASCII (punycode), or None when it has none."""
    url = entry.get("url") or ""
    host = urlsplit(url if "://" in url else "http://" + url).hostname or entry.get("name") or ""
    host = host.strip().strip(".").lower()
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        return None  # an address is not a name to register
    except ValueError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def address_for(host: str) -> str:
    """Return a stable address of 198.51.100.0/24 for `host`."""
    digest = hashlib.sha256(host.encode()).digest()
    return f"198.51.100.{1 + digest[0] % 254}"


def write_zones(outdir: str, hosts: list[str]) -> list[str]:
    """Write one zone file per TLD and return the TLDs."""
    by_tld: dict[str, list[str]] = {}
    for host in hosts:
        by_tld.setdefault(host.rsplit(".", 1)[-1], []).append(host)
    for tld, names in sorted(by_tld.items()):
        lines = [
            f"$ORIGIN {tld}.",
            "@ 3600 IN SOA ns.nic hostmaster.nic 1 7200 900 1209600 300",
            "@ 3600 IN NS ns.nic",
            "ns.nic 3600 IN A 127.0.0.1",
        ]
        lines += [f"{name}. 3600 IN A {address_for(name)}" for name in sorted(names)]
        with open(os.path.join(outdir, f"{tld}.zone"), "w", encoding="ascii") as zone:
            zone.write("\n".join(lines) + "\n")
    return sorted(by_tld)


def write_nsd_conf(outdir: str, port: int, tlds: list[str]) -> None:
    directory = os.path.abspath(outdir)
    lines = [
        "server:",
        "    ip-address: 127.0.0.1",
        f"    port: {port}",
        "    do-ip6: no",
        '    username: ""',
        '    chroot: ""',
        f'    zonesdir: "{directory}"',
        '    database: ""',
        f'    zonelistfile: "{directory}/zone.list"',
        f'    xfrdfile: "{directory}/xfrd.state"',
        f'    xfrdir: "{directory}"',
        f'    pidfile: "{directory}/nsd.pid"',
        f'    logfile: "{directory}/nsd.log"',
        "    server-count: 1",
        "    verbosity: 1",
        # A sweep sends thousands of queries a second from one address.
        "    rrl-ratelimit: 0",
        "remote-control:",
        "    control-enable: no",
    ]
    for tld in tlds:
        lines += ["zone:", f'    name: "{tld}"', f'    zonefile: "{tld}.zone"']
    with open(os.path.join(outdir, "nsd.conf"), "w", encoding="ascii") as conf:
        conf.write("\n".join(lines) + "\n")


def main() -> None:
    args = parse_args()
    with open(args.urls_yaml, encoding="utf-8") as source:
        entries = yaml.safe_load(source)
    if not isinstance(entries, list):
        sys.exit(f"{args.urls_yaml}: expected a list of entries at the top level")

    brand = [entry for entry in entries if isinstance(entry, dict) and entry.get("subcategory") == args.brand]
    if not brand:
        sys.exit(f"{args.urls_yaml}: no entry has subcategory {args.brand!r}; check the brand's spelling")
    hosts = sorted({host for host in map(host_of, brand) if host and "." in host})
    skipped = len(brand) - len(hosts)

    os.makedirs(args.outdir, exist_ok=True)
    tlds = write_zones(args.outdir, hosts)
    write_nsd_conf(args.outdir, args.port, tlds)
    print(f"{args.brand}: {len(brand)} entries, {len(hosts)} distinct hosts in {len(tlds)} TLD zones "
          f"({skipped} entries were duplicates or had no host name); "
          f"start: nsd -d -c {os.path.join(args.outdir, 'nsd.conf')}", file=sys.stderr)


if __name__ == "__main__":
    main()
