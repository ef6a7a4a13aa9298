#!/usr/bin/env python3
"""Local servers for the vigie soak run, on 127.0.0.1 only (Python 3 standard library).

One HTTP server serves every web source of the daemon; its content changes every round
(--round-secs), so that each round brings new items that name the test brand:

  /feed.rss                              RSS 2.0 feed of scam reports
  /scam/list.htm, /scam/item/N.htm       scam-report site (list page and item pages)
  /robots.txt                            404, which RFC 9309 reads as "everything allowed"
  /api/v2/search                         Mastodon account and status search
  /api/v1/timelines/tag/examplecorp      Mastodon hashtag timeline (max_id paging)
  /xrpc/app.bsky.actor.searchActors      Bluesky actor search
  /xrpc/app.bsky.feed.searchPosts        Bluesky post search
  /nrd/today.txt                         list of newly registered domains
  /ct/v1/get-sth, /ct/v1/get-entries     RFC 6962 log whose tree grows by one
                                         certificate every round

A second HTTP server receives the webhook alerts and counts them. A thread appends a
reported scam mail to the IMAP folder "Reported" and posts one report to the daemon's report
form every round.

Counters go to STATE_DIR/counters.json, rewritten after each change.
"""

import argparse
import base64
import hashlib
import imaplib
import json
import os
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BRAND = "Example Corp"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
PHONE = "+33 1 23 45 67 89"


class Soak:
    """Shared state: the clock that sets the current round, the CT log and the counters."""

    def __init__(self, args):
        self.args = args
        self.started = time.time()
        self.lock = threading.Lock()
        self.counters = {
            "webhook_alerts": 0,
            "webhook_bad": 0,
            "mails_appended": 0,
            "intake_posts": 0,
            "intake_errors": 0,
            "imap_errors": 0,
            "http_requests": 0,
        }
        self.ct_initial, self.ct_later = load_certificates(args.ct_dir)
        self.ct_leaves = []
        self.ct_hashes = []
        self.write_counters()

    def round(self):
        return int((time.time() - self.started) // self.args.round_secs)

    def count(self, name, step=1):
        with self.lock:
            self.counters[name] += step
        if name != "http_requests":
            self.write_counters()

    def write_counters(self):
        # The whole write stays under the lock: two threads sharing the .tmp file would
        # otherwise rename it from under each other.
        path = os.path.join(self.args.state_dir, "counters.json")
        with self.lock:
            text = json.dumps(self.counters, sort_keys=True)
            with open(path + ".tmp", "w", encoding="ascii") as out:
                out.write(text + "\n")
            os.replace(path + ".tmp", path)

    def ct_size(self):
        """Return the tree size now: the initial entries, then one more per round until the
        generated certificates run out. Leaves are encoded when they first enter the tree."""
        size = len(self.ct_initial) + min(self.round(), len(self.ct_later))
        with self.lock:
            while len(self.ct_leaves) < size:
                index = len(self.ct_leaves)
                chain = (self.ct_initial + self.ct_later)[index]
                timestamp_ms = int(self.started * 1000) + index
                leaf = x509_leaf(timestamp_ms, chain[0])
                self.ct_leaves.append((leaf, encode_chain(chain[1:])))
                self.ct_hashes.append(hashlib.sha256(b"\x00" + leaf).digest())
        return size


def load_certificates(ct_dir):
    """Read the CT entries. Each line of chains.txt names a leaf certificate and then its
    issuers (DER files in ct_dir). The files later/*.der enter the tree one per round."""
    initial = []
    with open(os.path.join(ct_dir, "chains.txt"), encoding="ascii") as chains:
        for line in chains:
            names = line.split()
            if names:
                initial.append([read_bytes(os.path.join(ct_dir, name)) for name in names])
    later_dir = os.path.join(ct_dir, "later")
    later = [
        [read_bytes(os.path.join(later_dir, name))]
        for name in sorted(os.listdir(later_dir))
        if name.endswith(".der")
    ]
    return initial, later


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def u24(data):
    return struct.pack(">I", len(data))[1:] + data


def x509_leaf(timestamp_ms, certificate):
    """Encode an RFC 6962 MerkleTreeLeaf (v1, timestamped_entry, x509_entry)."""
    return b"\x00\x00" + struct.pack(">QH", timestamp_ms, 0) + u24(certificate) + b"\x00\x00"


def encode_chain(certificates):
    return u24(b"".join(u24(certificate) for certificate in certificates))


def merkle_root(hashes):
    """Compute the RFC 6962 Merkle tree hash of leaf hashes (section 2.1)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    split = 1
    while split * 2 < len(hashes):
        split *= 2
    left = merkle_root(hashes[:split])
    right = merkle_root(hashes[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def lookalike(round_number):
    return f"examplecorp-refund{round_number}.com"


def feed_rss(soak):
    items = []
    for k in range(max(0, soak.round() - 19), soak.round() + 1):
        items.append(
            f"<item><title>Fake {BRAND} refund mails, wave {k}</title>"
            f"<link>http://reports.soak.test/{k}</link><guid>soak-report-{k}</guid>"
            f"<pubDate>{formatdate(soak.started + k * soak.args.round_secs, usegmt=True)}</pubDate>"
            f"<description>Customers of {BRAND} are asked to log in at "
            f"hxxps://{lookalike(k)}/login and to pay to {IBAN}.</description></item>"
        )
    items.reverse()
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Soak scam reports</title><link>http://reports.soak.test/</link>"
        "<description>Generated by the vigie soak run</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def scam_list(soak):
    links = "".join(
        f'<li><a href="/scam/item/{k}.htm">Refund notice {k}</a></li>'
        for k in range(soak.round(), max(-1, soak.round() - 10), -1)
    )
    return f'<!DOCTYPE html><html><body><ul class="emails">{links}</ul></body></html>'


def scam_item(k):
    return (
        "<!DOCTYPE html><html><body>"
        f'<p class="from">From: {BRAND} Billing &lt;billing@{lookalike(k)}&gt;</p>'
        f'<p class="subject">Subject: Your refund number {k}</p>'
        '<p class="date">Date: Sat, 05 Dec 2026 08:00:00 +0000</p>'
        f'<pre class="body">Dear customer, your {BRAND} refund is ready. Call {PHONE} '
        f"or pay the fee to {IBAN}.</pre></body></html>"
    )


def mastodon_account(k, impostor):
    name = f"examplecorp_help{k}" if impostor else f"gardener{k}"
    return {
        "id": str(1000 + k * 2 + (0 if impostor else 1)),
        "username": name,
        "acct": f"{name}@social.soak.test",
        "display_name": f"{BRAND} Support" if impostor else "Garden Notes",
        "note": "<p>Help desk</p>",
        "url": f"http://social.soak.test/@{name}",
        "created_at": "2026-12-01T00:00:00.000Z",
        "followers_count": 1,
    }


def mastodon_status(k, status_id):
    return {
        "id": str(status_id),
        "uri": f"http://social.soak.test/statuses/{status_id}",
        "url": f"http://social.soak.test/@x/{status_id}",
        "created_at": "2026-12-05T00:00:00.000Z",
        "content": f"<p>{BRAND} giveaway! Claim at https://{lookalike(k)}/claim or call {PHONE}</p>",
        "spoiler_text": "",
        "account": mastodon_account(k, True),
    }


def bluesky_actor(k):
    return {
        "did": f"did:plc:soak{k}",
        "handle": f"examplecorp-official{k}.bsky.social",
        "displayName": f"{BRAND} Official",
        "description": "",
        "createdAt": "2026-12-01T00:00:00.000Z",
    }


def bluesky_post(k):
    text = f"Verify your {BRAND} account now: {lookalike(k)}"
    return {
        "uri": f"at://did:plc:soak{k}/app.bsky.feed.post/{k}",
        "cid": f"bafysoak{k}",
        "author": bluesky_actor(k),
        "record": {"$type": "app.bsky.feed.post", "text": text,
                   "createdAt": "2026-12-05T00:00:00Z"},
    }


def nrd_list(soak):
    lines = [f"benign-bakery{n}.com" for n in range(200)]
    for k in range(soak.round() + 1):
        lines.append(f"examplecorp-secure{k}.com")
        lines.append(f"login.example-com{k}.net")
    return "\n".join(lines) + "\n"


class ContentHandler(BaseHTTPRequestHandler):
    soak = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def send(self, status, content_type, body):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        soak = self.soak
        soak.count("http_requests")
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        k = soak.round()
        path = url.path
        if path == "/feed.rss":
            self.send(200, "application/rss+xml", feed_rss(soak))
        elif path == "/scam/list.htm":
            self.send(200, "text/html", scam_list(soak))
        elif path.startswith("/scam/item/") and path.endswith(".htm"):
            number = path[len("/scam/item/"):-len(".htm")]
            if number.isdigit() and int(number) <= k:
                self.send(200, "text/html", scam_item(int(number)))
            else:
                self.send(404, "text/plain", "not found")
        elif path == "/api/v2/search":
            kind = query.get("type", [""])[0]
            offset = int(query.get("offset", ["0"])[0])
            accounts, statuses = [], []
            if offset == 0 and kind == "accounts":
                accounts = [mastodon_account(k, True), mastodon_account(k, False)]
            if offset == 0 and kind == "statuses":
                statuses = [mastodon_status(k, 50000 + k)]
            self.send(200, "application/json",
                      json.dumps({"accounts": accounts, "statuses": statuses, "hashtags": []}))
        elif path == "/api/v1/timelines/tag/examplecorp":
            max_id = int(query.get("max_id", [str(10**9)])[0])
            statuses = [mastodon_status(n, 20000 + n) for n in range(k, -1, -1)
                        if 20000 + n < max_id][:2]
            self.send(200, "application/json", json.dumps(statuses))
        elif path == "/xrpc/app.bsky.actor.searchActors":
            actors = [] if "cursor" in query else [bluesky_actor(k)]
            self.send(200, "application/json", json.dumps({"actors": actors}))
        elif path == "/xrpc/app.bsky.feed.searchPosts":
            posts = [] if "cursor" in query else [bluesky_post(k)]
            self.send(200, "application/json", json.dumps({"posts": posts}))
        elif path == "/nrd/today.txt":
            self.send(200, "text/plain", nrd_list(soak))
        elif path == "/ct/v1/get-sth":
            size = soak.ct_size()
            with soak.lock:
                root = merkle_root(soak.ct_hashes[:size])
            body = {
                "tree_size": size,
                "timestamp": int(time.time() * 1000),
                "sha256_root_hash": base64.b64encode(root).decode("ascii"),
                "tree_head_signature": "BAMARjBEAiA=",
            }
            self.send(200, "application/json", json.dumps(body))
        elif path == "/ct/v1/get-entries":
            self.get_entries(query)
        else:
            self.send(404, "text/plain", "not found")

    def get_entries(self, query):
        soak = self.soak
        size = soak.ct_size()
        try:
            start = int(query["start"][0])
            end = int(query["end"][0])
        except (KeyError, ValueError):
            self.send(400, "text/plain", "start and end are required integers")
            return
        if start > end or start >= size:
            self.send(400, "text/plain", "range outside the tree")
            return
        with soak.lock:
            entries = [
                {
                    "leaf_input": base64.b64encode(leaf).decode("ascii"),
                    "extra_data": base64.b64encode(extra).decode("ascii"),
                }
                for leaf, extra in soak.ct_leaves[start:min(end, size - 1) + 1]
            ]
        self.send(200, "application/json", json.dumps({"entries": entries}))


class WebhookHandler(BaseHTTPRequestHandler):
    soak = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        try:
            alert = json.loads(body)
            self.soak.count("webhook_alerts")
            line = json.dumps({"received": time.time(), "alert": alert})
            with self.soak.lock, open(os.path.join(self.soak.args.state_dir, "webhook.jsonl"),
                                      "a", encoding="utf-8") as out:
                out.write(line + "\n")
        except ValueError:
            self.soak.count("webhook_bad")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def reported_mail(k):
    return (
        f"From: {BRAND} Security <security@{lookalike(k)}>\r\n"
        "To: customer@mail.soak.test\r\n"
        f"Subject: {BRAND}: confirm your account ({k})\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Message-ID: <soak-{k}-{time.time_ns()}@{lookalike(k)}>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Your {BRAND} account is locked. Log in at https://{lookalike(k)}/login\r\n"
        f"or pay the unlock fee to {IBAN}.\r\n"
    ).encode("utf-8")


def append_mail(soak, k):
    args = soak.args
    try:
        with imaplib.IMAP4("127.0.0.1", args.imap_port) as imap:
            imap.login(args.imap_user, args.imap_password)
            imap.create("Reported")
            imap.append("Reported", None, None, reported_mail(k))
        soak.count("mails_appended")
    except (OSError, imaplib.IMAP4.error) as error:
        print(f"servers.py: IMAP APPEND of round {k} failed: {error}", file=sys.stderr)
        soak.count("imap_errors")


def post_report(soak, k):
    args = soak.args
    body = json.dumps({
        "reporter": f"customer{k}@mail.soak.test",
        "comment": f"odd mail, round {k}",
        "eml": reported_mail(k + 100000).decode("utf-8"),
    }).encode("utf-8")
    request = urllib.request.Request(
        f"http://127.0.0.1:{args.intake_port}/report", data=body, method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {args.intake_token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            response.read()
        soak.count("intake_posts")
    except (OSError, urllib.error.URLError) as error:
        print(f"servers.py: report form POST of round {k} failed: {error}", file=sys.stderr)
        soak.count("intake_errors")


def reporter_loop(soak):
    """Append a mail and post a report once per round. The first round waits 20 s so that the
    daemon's IMAP client and report form are up."""
    done = -1
    time.sleep(20)
    while True:
        k = soak.round()
        if k > done:
            append_mail(soak, k)
            post_report(soak, k)
            done = k
        time.sleep(5)


def serve(handler, port, soak):
    handler.soak = soak
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description="Local servers of the vigie soak run")
    parser.add_argument("--state-dir", required=True, help="folder for counters.json")
    parser.add_argument("--ct-dir", required=True, help="folder of chains.txt and later/")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--webhook-port", type=int, required=True)
    parser.add_argument("--imap-port", type=int, required=True)
    parser.add_argument("--imap-user", required=True)
    parser.add_argument("--imap-password", required=True)
    parser.add_argument("--intake-port", type=int, required=True)
    parser.add_argument("--intake-token", required=True)
    parser.add_argument("--round-secs", type=float, default=180.0,
                        help="seconds between two changes of the served content")
    args = parser.parse_args()

    soak = Soak(args)
    serve(ContentHandler, args.http_port, soak)
    serve(WebhookHandler, args.webhook_port, soak)
    threading.Thread(target=reporter_loop, args=(soak,), daemon=True).start()
    print(f"servers.py: HTTP on 127.0.0.1:{args.http_port}, webhook on "
          f"127.0.0.1:{args.webhook_port}, CT log of {len(soak.ct_initial)} entries growing "
          f"to {len(soak.ct_initial) + len(soak.ct_later)}", file=sys.stderr)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
