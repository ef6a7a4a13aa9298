#!/usr/bin/env python3
"""Sample a running vigie daemon every --every seconds for --secs seconds into a CSV.

Columns:
  elapsed_s        seconds since the first sample
  rss_kb, hwm_kb   VmRSS and VmHWM from /proc/PID/status
  anon_kb, file_kb RssAnon (heap, stacks) and RssFile (pages of the binary and libraries
                   mapped from disk, shared and reclaimable) from /proc/PID/status
  cpu_s            utime + stime from /proc/PID/stat, in seconds since the process started
  cpu_pct          CPU used since the previous sample, in percent of one core
  threads          Threads from /proc/PID/status
  outbox_depth     vigie_outbox_depth from /metrics (empty when /metrics did not answer)
  findings         sum of vigie_findings{severity=...} from /metrics
  webhook_alerts   alerts the soak webhook receiver has counted (counters.json)
  mail_alerts      mails in the SOC mailbox's INBOX Maildir (alerts sent by SMTP)
"""

import argparse
import csv
import json
import os
import sys
import time
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def proc_status(pid):
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            values[key] = rest.split()
    return (
        int(values["VmRSS"][0]),
        int(values["VmHWM"][0]),
        int(values["Threads"][0]),
        int(values["RssAnon"][0]),
        int(values["RssFile"][0]),
    )


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name in field 2 may hold spaces; the fields after its ')' are fixed.
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def read_metrics(url):
    try:
        with OPENER.open(url, timeout=5) as response:
            text = response.read().decode("utf-8")
    except OSError as error:
        print(f"sample.py: GET {url} failed: {error}", file=sys.stderr)
        return None, None
    depth, findings = None, 0
    for line in text.splitlines():
        if line.startswith("vigie_outbox_depth "):
            depth = int(float(line.split()[1]))
        elif line.startswith("vigie_findings{"):
            findings += int(float(line.split()[1]))
    return depth, findings


def webhook_alerts(counters_path):
    try:
        with open(counters_path, encoding="ascii") as counters:
            return json.load(counters)["webhook_alerts"]
    except (OSError, ValueError, KeyError):
        return None


def maildir_count(maildir):
    total = 0
    for sub in ("new", "cur"):
        try:
            total += len(os.listdir(os.path.join(maildir, sub)))
        except OSError:
            pass
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="pid of the daemon")
    parser.add_argument("--csv", required=True, help="output file")
    parser.add_argument("--metrics", required=True, help="URL of the daemon's /metrics")
    parser.add_argument("--counters", required=True, help="counters.json of servers.py")
    parser.add_argument("--maildir", required=True, help="Maildir of the SOC mailbox")
    parser.add_argument("--secs", type=float, required=True, help="how long to sample")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()

    start = time.monotonic()
    previous = None
    with open(args.csv, "w", newline="", encoding="ascii") as out:
        writer = csv.writer(out)
        writer.writerow(["elapsed_s", "rss_kb", "hwm_kb", "cpu_s", "cpu_pct", "threads",
                         "outbox_depth", "findings", "webhook_alerts", "mail_alerts",
                         "anon_kb", "file_kb"])
        sample_number = 0
        while True:
            now = time.monotonic()
            try:
                rss, hwm, threads, anon, file = proc_status(args.pid)
                cpu = proc_cpu_seconds(args.pid)
            except (OSError, KeyError, IndexError) as error:
                print(f"sample.py: daemon {args.pid} is gone: {error}", file=sys.stderr)
                return 1
            cpu_pct = ""
            if previous is not None:
                cpu_pct = f"{100.0 * (cpu - previous[1]) / (now - previous[0]):.2f}"
            previous = (now, cpu)
            depth, findings = read_metrics(args.metrics)
            writer.writerow([f"{now - start:.1f}", rss, hwm, f"{cpu:.2f}", cpu_pct, threads,
                             "" if depth is None else depth, "" if depth is None else findings,
                             webhook_alerts(args.counters), maildir_count(args.maildir),
                             anon, file])
            out.flush()
            sample_number += 1
            if now - start >= args.secs:
                return 0
            time.sleep(max(0.0, start + sample_number * args.every - time.monotonic()))


if __name__ == "__main__":
    sys.exit(main())
