#!/usr/bin/env python3
"""Run `vigie mail inspect` over every mail of the shared test set and count what it finds.

Reads ../shared/data/emails beside the repository (or --data DIR/emails), writes a
configuration to a temporary folder (a [mail] section naming the recipients' own mail
servers, and one watchlist per brand in BRANDS), runs the vigie binary once over the
.eml files and the mbox, and prints one table per corpus: mails read, mails analysed,
mails rejected with their reasons, mails with an origin IP (by confidence), with URLs, and
with findings. Nothing of the data is copied into the repository.

    scripts/eval-mail.py [--data DIR] [--vigie PATH] [--json OUT]

--vigie defaults to target/release/vigie, then target/debug/vigie.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The brands most often named in the From display names of the set, by legitimate domain.
BRANDS = [
    "paypal.com",
    "ebay.com",
    "amazon.com",
    "chase.com",
    "correios.com.br",
    "bradesco.com.br",
    "microsoft.com",
    "facebook.com",
    "netflix.com",
    "wellsfargo.com",
]

# The recipients' own mail servers in each corpus: the phishing_pot honeypot is hosted on
# Microsoft 365 (its inbound edge and mailbox servers, not `outbound.protection.outlook.com`,
# which sends for other tenants), the SpamAssassin mails went through the corpus author's
# servers, and the Nazario mbox through the anonymised domain.com.
OWN_HOSTS = [
    "mail.protection.outlook.com",
    "prod.protection.outlook.com",
    "prod.outlook.com",
    "outlook.office365.com",
    "spamassassin.taint.org",
    "netnoteinc.com",
    "slashnull.org",
    "webnote.net",
    "domain.com",
]


def find_vigie(given):
    if given:
        return Path(given)
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "vigie"
        if path.exists():
            return path
    sys.exit("no vigie binary; run `cargo build --release` or pass --vigie PATH")


def write_config(folder):
    watchlists = folder / "watchlists"
    watchlists.mkdir()
    hosts = ", ".join(f'"{h}"' for h in OWN_HOSTS)
    (folder / "vigie.toml").write_text(
        f'[daemon]\nstate_dir = "state"\n\n[mail]\nown_hosts = [{hosts}]\n'
    )
    for domain in BRANDS:
        label = domain.split(".")[0]
        (watchlists / f"{label}.toml").write_text(
            f'[brand]\nname = "{label}"\n\n[[domains]]\nname = "{domain}"\n'
        )
    return folder / "vigie.toml"


def corpus_of(label, emails):
    relative = Path(label.split("#")[0]).resolve().relative_to(emails.resolve())
    return relative.parts[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--vigie")
    parser.add_argument("--json", help="also write vigie's JSON output to this file")
    args = parser.parse_args()

    emails = Path(args.data) / "emails"
    if not emails.is_dir():
        sys.exit(f"{emails} not found; pass --data DIR")
    files = sorted(str(p) for p in emails.rglob("*") if p.suffix in (".eml", ".mbox"))
    vigie = find_vigie(args.vigie)

    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        run = subprocess.run(
            [str(vigie), "mail", "inspect", "--format", "json", "--config", str(config), *files],
            capture_output=True,
            text=True,
        )
    if run.returncode not in (0, 1):
        sys.exit(f"vigie failed ({run.returncode}):\n{run.stderr}")
    if args.json:
        Path(args.json).write_text(run.stdout)

    stats = defaultdict(Counter)
    reasons = defaultdict(Counter)
    for line in run.stdout.splitlines():
        mail = json.loads(line)
        corpus = corpus_of(mail["file"], emails)
        for key in (corpus, "all"):
            counts = stats[key]
            counts["mails"] += 1
            if "error" in mail:
                counts["rejected"] += 1
                reasons[key][mail["error_kind"]] += 1
                continue
            counts["analysed"] += 1
            origin = mail["origin_ip"]
            if origin:
                counts["origin"] += 1
                counts["origin-" + origin["confidence"]] += 1
            counts["urls"] += bool(mail["urls"])
            counts["findings"] += bool(mail["findings"])
            counts["problems"] += bool(mail["problems"])
            counts["arf"] += bool(mail["arf"])

    columns = ["mails", "analysed", "rejected", "origin", "origin-high", "origin-medium",
               "origin-low", "urls", "findings", "problems", "arf"]
    print("| corpus | " + " | ".join(columns) + " |")
    print("| --- " * (len(columns) + 1) + "|")
    for corpus in sorted(stats, key=lambda c: (c == "all", c)):
        row = [str(stats[corpus][c]) for c in columns]
        print(f"| {corpus} | " + " | ".join(row) + " |")
    for corpus, counter in sorted(reasons.items()):
        if corpus != "all":
            print(f"rejected in {corpus}: " + ", ".join(f"{k} {v}" for k, v in counter.items()))
    print(run.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
