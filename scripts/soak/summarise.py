#!/usr/bin/env python3
"""Summarise a soak run: RSS, CPU, alerts and the daemon's warnings and errors, as Markdown.

Reads OUT/samples.csv (sample.py), OUT/vigie.log (JSON log lines), OUT/findings.jsonl
(`vigie findings --format json`, one finding a line) and OUT/servers/counters.json (servers.py).
"""

import argparse
import collections
import csv
import json
import os
import re
import statistics
import sys

LOCAL_HOST = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$")
URL = re.compile(r"\b(?:https?|imaps?|smtp)://([^/\s\"':]+)")


def load_samples(path):
    with open(path, newline="", encoding="ascii") as file:
        return list(csv.DictReader(file))


def log_lines(path):
    lines = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for raw in log:
            raw = raw.strip()
            if not raw:
                continue
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"level": "TEXT", "message": raw})
    return lines


def message_of(line):
    # The daemon's JSON log puts the event's fields, message included, at the top level.
    return line.get("message") or line.get("fields", {}).get("message", "")


def outside_urls(lines):
    """Return the hosts of URLs in warning and error lines that are not loopback addresses,
    with counts. Info lines are left out because findings name lookalike URLs there."""
    found = collections.Counter()
    for line in lines:
        if line.get("level") not in ("WARN", "ERROR"):
            continue
        for host in URL.findall(json.dumps(line)):
            if not LOCAL_HOST.match(host):
                found[host] += 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output folder of run.sh")
    parser.add_argument("--warmup-secs", type=float, default=300.0,
                        help="samples before this are left out of the steady-state figures")
    args = parser.parse_args()

    samples = load_samples(os.path.join(args.out, "samples.csv"))
    if len(samples) < 2:
        print(f"summarise.py: {args.out}/samples.csv has fewer than 2 samples", file=sys.stderr)
        return 1
    rss = [int(s["rss_kb"]) for s in samples]
    after = [s for s in samples if float(s["elapsed_s"]) >= args.warmup_secs] or samples
    rss_after = [int(s["rss_kb"]) for s in after]
    quiet_samples = [s for s in after if s["cpu_pct"] and float(s["cpu_pct"]) < 1.0]
    quiet = [int(s["rss_kb"]) for s in quiet_samples]
    # Older samples.csv files have no anon_kb / file_kb columns.
    quiet_anon = [int(s["anon_kb"]) for s in quiet_samples if s.get("anon_kb")]
    quiet_file = [int(s["file_kb"]) for s in quiet_samples if s.get("file_kb")]
    duration = float(samples[-1]["elapsed_s"])
    cpu_total = float(samples[-1]["cpu_s"]) - float(samples[0]["cpu_s"])
    cpu_pct = [float(s["cpu_pct"]) for s in samples if s["cpu_pct"]]
    depths = [int(s["outbox_depth"]) for s in samples if s["outbox_depth"]]
    last = samples[-1]

    with open(os.path.join(args.out, "findings.jsonl"), encoding="utf-8") as file:
        finding_list = [json.loads(line) for line in file if line.strip()]
    by_source = collections.Counter(str(f.get("source", "?")) for f in finding_list)
    with open(os.path.join(args.out, "servers", "counters.json"), encoding="ascii") as file:
        counters = json.load(file)

    lines = log_lines(os.path.join(args.out, "vigie.log"))
    levels = collections.Counter(line.get("level", "?") for line in lines)
    problems = collections.Counter(
        f'{line.get("level")} {message_of(line)}'
        for line in lines if line.get("level") in ("WARN", "ERROR", "TEXT")
    )
    outside = outside_urls(lines)

    mib = 1024.0
    rows = [
        ("duration", f"{duration / 60:.1f} min, {len(samples)} samples"),
        ("RSS at first sample", f"{rss[0] / mib:.1f} MiB"),
        (f"RSS median after {args.warmup_secs:.0f} s", f"{statistics.median(rss_after) / mib:.1f} MiB"),
        ("RSS median of quiet samples (CPU < 1 %) after warm-up",
         f"{statistics.median(quiet) / mib:.1f} MiB ({len(quiet)} samples)" if quiet else "none"),
        ("of which anonymous (heap, stacks), median of the quiet samples",
         f"{statistics.median(quiet_anon) / mib:.1f} MiB" if quiet_anon else "not sampled"),
        ("of which file-backed (binary, libraries), median of the quiet samples",
         f"{statistics.median(quiet_file) / mib:.1f} MiB" if quiet_file else "not sampled"),
        ("RSS at last sample", f"{rss[-1] / mib:.1f} MiB"),
        ("peak RSS (VmHWM)", f"{int(last['hwm_kb']) / mib:.1f} MiB"),
        ("CPU time", f"{cpu_total:.1f} s"),
        ("mean CPU", f"{100.0 * cpu_total / duration:.2f} % of one core"),
        ("highest 10 s CPU", f"{max(cpu_pct):.1f} %"),
        ("threads at last sample", last["threads"]),
        ("outbox depth max / last", f"{max(depths) if depths else '?'} / {last['outbox_depth']}"),
        ("findings in the store", f"{len(finding_list)} ({', '.join(f'{k} {v}' for k, v in sorted(by_source.items()))})"),
        ("alerts received by the webhook", str(counters.get("webhook_alerts"))),
        ("alert mails in the SOC mailbox", last["mail_alerts"]),
        ("mails appended / reports posted",
         f"{counters.get('mails_appended')} / {counters.get('intake_posts')}"),
        ("daemon log lines", ", ".join(f"{k} {v}" for k, v in sorted(levels.items()))),
        ("hosts other than loopback in URLs of warnings and errors",
         ", ".join(f"{h} ({n})" for h, n in outside.most_common()) or "none"),
    ]
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print()
    print("Warnings and errors of the daemon, by message:")
    print()
    for text, count in problems.most_common():
        print(f"- {count} x {text}")
    if not problems:
        print("- none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
