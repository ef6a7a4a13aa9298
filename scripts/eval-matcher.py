#!/usr/bin/env python3
"""Measure the matcher's precision and recall on labelled real data, beside openSquat.

Reads the shared test data (default: ../shared/data beside the repository) and writes the
watchlists and input lists to a temporary folder. It then runs the matcher through the
`match_eval` bench binary, and openSquat (default confidence 1, then `-c 2`), on the same
lists, and prints one table.

    scripts/eval-matcher.py [--data DIR] [--opensquat PATH] [--keep DIR]

Data sets (none is copied into the repository; their licences do not allow it):
  * PhishTank verified_online CSV, rows whose `target` brand is in BRANDS below. Each unique
    (host, brand) pair is put in one of two classes by `impersonates_in_host`: the host
    imitates the brand, or the imitation is only in the URL path (or the host is an IP).
  * CryptoScamDB urls.yaml, entries whose `subcategory` brand is in BRANDS, split the same way.
  * MetaMask eth-phishing-detect `whitelist`: known benign lookalikes of its `fuzzylist`,
    checked against a watchlist made of that fuzzylist. None may be high or critical.
  * Tranco top 50k (the rows present), checked against every brand at once: false positives.

The host/path split is a rule, not a human label: `impersonates_in_host` folds the host
with a small confusables table and says yes when a brand keyword, or a string one edit away
from it (keywords of five letters or more), appears in it. It is written apart from the
matcher and is looser than it (any position, no word boundaries).
"""

import argparse
import codecs
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent

# Brand label in the data -> (watchlist id, legitimate domains, keywords).
# A keyword written "=word" counts only as a whole word (word_boundary = true).
BRANDS = {
    # PhishTank targets
    "Facebook": ("facebook", ["facebook.com", "fb.com", "facebook.net", "fbcdn.net", "messenger.com"], ["facebook"]),
    "eBay, Inc.": ("ebay", ["ebay.com", "ebay.co.uk", "ebay.de", "ebayimg.com", "ebaystatic.com"], ["ebay"]),
    "Microsoft": ("microsoft", ["microsoft.com", "microsoftonline.com", "live.com", "outlook.com", "office.com",
                                "office365.com", "sharepoint.com", "onedrive.com", "onmicrosoft.com", "windows.net",
                                "azure.com", "bing.com", "msn.com", "skype.com", "xbox.com"],
                  ["microsoft", "office365", "=outlook", "onedrive", "sharepoint"]),
    "Hotmail": ("hotmail", ["hotmail.com", "live.com", "outlook.com"], ["hotmail"]),
    "Instagram": ("instagram", ["instagram.com", "cdninstagram.com"], ["instagram"]),
    "Her Majesty's Revenue and Customs": ("hmrc", ["hmrc.gov.uk"], ["hmrc"]),
    "Google": ("google", ["google.com", "googleapis.com", "gstatic.com", "googleusercontent.com", "gmail.com",
                          "youtube.com", "google.co.uk"], ["google", "gmail"]),
    "Amazon.com": ("amazon", ["amazon.com", "amazon.co.jp", "amazon.co.uk", "amazon.de", "amazon.fr", "amazon.in",
                              "amazon.ca", "amazonaws.com", "media-amazon.com", "ssl-images-amazon.com"], ["amazon"]),
    "Orange": ("orange", ["orange.fr", "orange.com"], ["=orange"]),
    "ABSA Bank": ("absa", ["absa.co.za"], ["absa"]),
    "Internal Revenue Service": ("irs", ["irs.gov"], ["irs"]),
    "RuneScape": ("runescape", ["runescape.com", "jagex.com"], ["runescape", "jagex"]),
    "ING Direct": ("ing", ["ing.com", "ing.nl", "ing.de", "ing.es", "ing.be"], ["ing"]),
    "PKO Polish Bank": ("pko", ["pkobp.pl", "ipko.pl"], ["pkobp", "ipko"]),
    "Mastercard": ("mastercard", ["mastercard.com"], ["mastercard"]),
    "Caixa": ("caixa", ["caixa.gov.br"], ["caixa"]),
    "Halifax": ("halifax", ["halifax.co.uk", "halifax-online.co.uk"], ["halifax"]),
    "HSBC Group": ("hsbc", ["hsbc.com", "hsbc.co.uk"], ["hsbc"]),
    "Adobe": ("adobe", ["adobe.com"], ["adobe"]),
    "Allegro": ("allegro", ["allegro.pl"], ["allegro"]),
    "JPMorgan Chase and Co.": ("chase", ["chase.com", "jpmorgan.com", "jpmorganchase.com"], ["=chase", "jpmorgan"]),
    "Capitec Bank": ("capitec", ["capitecbank.co.za"], ["capitec"]),
    "Twitter": ("twitter", ["twitter.com", "x.com", "twimg.com", "t.co"], ["twitter"]),
    "Development Bank of Singapore": ("dbs", ["dbs.com", "dbs.com.sg"], ["dbs"]),
    "Virustotal": ("virustotal", ["virustotal.com"], ["virustotal"]),
    "Sumitomo Mitsui Banking Corporation": ("smbc", ["smbc.co.jp"], ["smbc"]),
    "Wells Fargo": ("wellsfargo", ["wellsfargo.com", "wf.com"], ["wellsfargo"]),
    "Steam": ("steam", ["steampowered.com", "steamcommunity.com"], ["steampowered", "steamcommunity", "=steam"]),
    "Vodafone": ("vodafone", ["vodafone.com", "vodafone.co.uk"], ["vodafone"]),
    "Intesa Sanpaolo": ("intesa", ["intesasanpaolo.com"], ["intesasanpaolo", "intesa"]),
    "VKontakte": ("vk", ["vk.com"], ["vkontakte"]),
    "Itau": ("itau", ["itau.com.br"], ["itau"]),
    "WeTransfer": ("wetransfer", ["wetransfer.com"], ["wetransfer"]),
    "Apple": ("apple", ["apple.com", "icloud.com"], ["=apple", "icloud"]),
    "Dropbox": ("dropbox", ["dropbox.com"], ["dropbox"]),
    "Bank of America Corporation": ("bofa", ["bankofamerica.com", "bofa.com"], ["bankofamerica"]),
    "Banco Santander, S.A.": ("santander", ["santander.com", "santander.co.uk", "santander.com.br"], ["santander"]),
    "Blockchain": ("blockchain", ["blockchain.com"], ["blockchain"]),
    "American Express": ("amex", ["americanexpress.com", "amex.com"], ["americanexpress", "amex"]),
    "Sulake Corporation": ("habbo", ["habbo.com", "sulake.com"], ["habbo"]),
    "MyEtherWallet": ("myetherwallet", ["myetherwallet.com"], ["myetherwallet"]),
    "Cox Communications": ("cox", ["cox.com", "cox.net"], ["cox"]),
    "TSB": ("tsb", ["tsb.co.uk"], ["tsb"]),
    "Rakuten": ("rakuten", ["rakuten.com", "rakuten.co.jp"], ["rakuten"]),
    "Visa": ("visa", ["visa.com"], ["visa"]),
    "Yahoo": ("yahoo", ["yahoo.com", "yahoo.co.jp", "yimg.com"], ["yahoo"]),
    "LinkedIn": ("linkedin", ["linkedin.com", "licdn.com"], ["linkedin"]),
    "Binance": ("binance", ["binance.com"], ["binance"]),
    "Accurint": ("accurint", ["accurint.com"], ["accurint"]),
    "Barclays Bank PLC": ("barclays", ["barclays.co.uk", "barclays.com"], ["barclays"]),
    "UniCredit": ("unicredit", ["unicredit.it", "unicreditgroup.eu"], ["unicredit"]),
    "NatWest Bank": ("natwest", ["natwest.com"], ["natwest"]),
    "Poste Italiane": ("poste", ["poste.it", "posteitaliane.it"], ["posteitaliane", "=poste"]),
    "Banco De Brasil": ("bb", ["bb.com.br"], ["bancodobrasil"]),
    "AOL": ("aol", ["aol.com"], ["aol"]),
    "Scotiabank": ("scotiabank", ["scotiabank.com"], ["scotiabank"]),
    "Royal Bank of Canada": ("rbc", ["rbc.com", "rbcroyalbank.com"], ["rbcroyalbank", "rbc"]),
    # CryptoScamDB subcategories
    "Telegram": ("telegram", ["telegram.org", "t.me"], ["telegram"]),
    "Stellar": ("stellar", ["stellar.org"], ["stellar"]),
    "EOS": ("eos", ["eos.io"], ["eos"]),
    "EtherDelta": ("etherdelta", ["etherdelta.com"], ["etherdelta"]),
    "Moonbirds": ("moonbirds", ["moonbirds.xyz"], ["moonbirds"]),
    "BoredApeYachtClub": ("bayc", ["boredapeyachtclub.com"], ["boredapeyachtclub", "boredape"]),
    "Azuki": ("azuki", ["azuki.com"], ["azuki"]),
    "Tron": ("tron", ["tron.network"], ["tron"]),
    "OmiseGo": ("omisego", ["omisego.network", "omg.network"], ["omisego"]),
    "Havven": ("havven", ["havven.io"], ["havven"]),
    "QuarkChain": ("quarkchain", ["quarkchain.io"], ["quarkchain"]),
    "MakerDAO": ("makerdao", ["makerdao.com"], ["makerdao"]),
    "Zilliqa": ("zilliqa", ["zilliqa.com"], ["zilliqa"]),
    "Bluzelle": ("bluzelle", ["bluzelle.com"], ["bluzelle"]),
    "ForkDelta": ("forkdelta", ["forkdelta.app"], ["forkdelta"]),
    "Chainlink": ("chainlink", ["chain.link"], ["chainlink"]),
    "PancakeSwap": ("pancakeswap", ["pancakeswap.finance"], ["pancakeswap"]),
    "AtomicWallet": ("atomicwallet", ["atomicwallet.io"], ["atomicwallet"]),
    "QuantStamp": ("quantstamp", ["quantstamp.com"], ["quantstamp"]),
    "Theta": ("theta", ["thetatoken.org"], ["thetatoken"]),
    "Aave": ("aave", ["aave.com"], ["aave"]),
    "Wanchain": ("wanchain", ["wanchain.org"], ["wanchain"]),
    "Vechain": ("vechain", ["vechain.org"], ["vechain"]),
    "Coindesk": ("coindesk", ["coindesk.com"], ["coindesk"]),
    "Bitfinex": ("bitfinex", ["bitfinex.com"], ["bitfinex"]),
    "Jaxx": ("jaxx", ["jaxx.io"], ["jaxx"]),
    "Kucoin": ("kucoin", ["kucoin.com"], ["kucoin"]),
    "LocalBitcoins": ("localbitcoins", ["localbitcoins.com"], ["localbitcoins"]),
    "TrustWallet": ("trustwallet", ["trustwallet.com"], ["trustwallet"]),
    "1inch": ("1inch", ["1inch.io"], ["1inch"]),
    "Etherscan": ("etherscan", ["etherscan.io"], ["etherscan"]),
    "HederaHashGraph": ("hedera", ["hedera.com", "hederahashgraph.com"], ["hederahashgraph", "hedera"]),
    "YoBit": ("yobit", ["yobit.net"], ["yobit"]),
    "Ripple": ("ripple", ["ripple.com"], ["ripple"]),
    "Cardano": ("cardano", ["cardano.org"], ["cardano"]),
    "Bitmex": ("bitmex", ["bitmex.com"], ["bitmex"]),
    "Huobi": ("huobi", ["huobi.com"], ["huobi"]),
    "Uphold": ("uphold", ["uphold.com"], ["uphold"]),
    "MyMonero": ("mymonero", ["mymonero.com"], ["mymonero"]),
    "Decentraland": ("decentraland", ["decentraland.org"], ["decentraland"]),
    "Changelly": ("changelly", ["changelly.com"], ["changelly"]),
    "ClassicEtherWallet": ("classicetherwallet", ["classicetherwallet.com"], ["classicetherwallet"]),
}
BRANDS["Eos"] = BRANDS["EOS"]

# Tranco names that the flagged brand itself owns (country sites, CDNs, services) are
# counted apart, because a real watchlist of that brand lists them as legitimate. A name
# counts as owned when its first label is, starts with or ends in "-" plus one of the brand's
# keywords or legitimate labels. The names below are the exceptions: they were checked by
# hand among the flagged names of this Tranco list and belong to someone else, or could not
# be confirmed. Unflagged names were not checked.
NOT_OWNED = {
    "rbc.ru", "rbc.ua", "rbc.cn", "telegram.com", "star-telegram.com", "telegram.im",
    "twittervideodownloader.com", "poste.dz", "caixabank.es", "smbc-comics.com", "bb.org.bd",
    "omg.org", "eos.org", "stellarium.org", "stellarcyber.cloud", "otsuka-office365.jp",
    "otto-office.com", "officeskill.com.cn", "instagrammernews.com", "blockchainnodeengine.com",
    "apple-studies.com", "microsoft-falcon.net", "microsoft-int.com", "microsoftapp.net",
    "ebay-us.com", "jagex.network", "kucoin.plus", "google-cloud.services", "siege-amazon.com",
    "amazon-value-service.com", "vodafone-ip.de",
}
# Flagged names owned by the brand that the rule above does not see.
OWNED_EXTRA = {
    "thinkwithgoogle.com", "doubleclickbygoogle.com", "aboutamazon.com", "jobsatamazon.co.uk",
    "googl.com", "thefacebook.com", "poolbinance.com", "ads-twitter.com", "cdn-apple.com",
    "s-microsoft.com", "pagesperso-orange.fr", "storage-yahoo.jp", "bancosantander.es",
    "images-amazon.com", "assoc-amazon.com",
}


def owned_by_brand(host, watchlist):
    if host in NOT_OWNED:
        return False
    if host in OWNED_EXTRA:
        return True
    first = host.split(".")[0]
    names = [k["text"] for k in watchlist["keywords"]] + [d.split(".")[0] for d in watchlist["legitimate"]]
    return any(first == n or first.startswith(n) or first.endswith("-" + n) for n in names if len(n) >= 2)


# A few look-alike letters for the host/path rule; the matcher uses the full UTS #39 table.
ORACLE_CONFUSABLES = str.maketrans({
    "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
    "\u0445": "x", "\u0456": "i", "\u0458": "j", "\u0501": "d", "\u0455": "s", "\u04bb": "h",
    "\u04cf": "l", "\u03bf": "o", "\u03b1": "a", "\u03bd": "v", "\u03b9": "i", "\u03ba": "k",
    "\u0131": "i", "\u0261": "g",
})


def to_unicode(host):
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = codecs.decode(label[4:].encode(), "punycode")
            except (UnicodeError, ValueError):
                pass
        labels.append(label)
    return ".".join(labels)


def oracle_fold(text):
    text = unicodedata.normalize("NFKD", to_unicode(text.lower()))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(ORACLE_CONFUSABLES)
    text = text.replace("rn", "m").replace("vv", "w")
    out = []
    for c in text:
        if "a" <= c <= "z" and (not out or out[-1] != c):
            out.append(c)
    return "".join(out)


def within_one_edit(a, b):
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def under(host, domains):
    return any(host == d or host.endswith("." + d) for d in domains)


def impersonates_in_host(host, brand):
    """Apply the host/path rule described in the module docstring."""
    _, legit, keywords = BRANDS[brand]
    if host is None or under(host, legit) or host.replace(".", "").isdigit() or ":" in host:
        return False
    tokens = {oracle_fold(t) for t in host.replace("-", ".").split(".")}
    folded = oracle_fold(host)
    for keyword in keywords:
        k = oracle_fold(keyword.lstrip("="))
        if len(k) <= 4 or keyword.startswith("="):
            if k in tokens:
                return True
            continue
        for size in (len(k) - 1, len(k), len(k) + 1):
            for start in range(0, max(0, len(folded) - size) + 1):
                if within_one_edit(folded[start:start + size], k):
                    return True
    return False


def registrable_label(domain):
    """Return the label left of the public suffix, for the fuzzylist's plain domains."""
    parts = domain.split(".")
    return parts[-2]


def watchlist_entry(label, spec):
    wid, legit, keywords = spec
    return {
        "id": wid,
        "brand": label,
        "legitimate": legit,
        "keywords": [{"text": k.lstrip("="), "word_boundary": k.startswith("=")} for k in keywords],
    }


def load_phishtank(data):
    path = data / "phishing-urls/phishtank/verified_online_2021-03-14.csv"
    items, skipped = {}, defaultdict(int)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            target = row["target"]
            if target == "Other":
                continue
            if target not in BRANDS:
                skipped[target] += 1
                continue
            host = (urlsplit(row["url"]).hostname or "").rstrip(".")
            items[(host, target)] = row["url"]
    return items, skipped


def load_cryptoscamdb(data):
    """Reads name and subcategory of each entry of urls.yaml, without a YAML library."""
    path = data / "phishing-urls/cryptoscamdb/urls.yaml"
    items, skipped = {}, defaultdict(int)
    name = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("- name:"):
                name = line.split(":", 1)[1].strip().strip("'\"").lower()
            elif line.startswith("  subcategory:") and name:
                brand = line.split(":", 1)[1].strip().strip("'\"")
                if brand in BRANDS:
                    items[(name, brand)] = name
                else:
                    skipped[brand] += 1
    return items, skipped


def run_matcher(watchlists, inputs, workdir, name):
    wl = workdir / f"{name}.watchlists.json"
    wl.write_text(json.dumps(watchlists))
    inp = workdir / f"{name}.inputs.txt"
    inp.write_text("\n".join(inputs) + "\n")
    proc = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "match_eval", "--", str(wl), str(inp)],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    for line in proc.stderr.splitlines():
        if line.startswith("match_eval:"):
            print(f"  [{name}] {line}", file=sys.stderr)
    results = [json.loads(l) for l in proc.stdout.splitlines()]
    return {inputs[r["line"] - 1]: r for r in results}


def run_opensquat(opensquat, keywords, inputs, workdir, name, confidence):
    kw = workdir / f"{name}.keywords.txt"
    kw.write_text("\n".join(sorted(keywords)) + "\n")
    dom = workdir / f"{name}.domains.txt"
    dom.write_text("\n".join(inputs) + "\n")
    out = workdir / f"{name}.opensquat-c{confidence}.json"
    command = [opensquat, "-k", str(kw), "-d", str(dom), "-o", str(out), "-t", "json", "-c", str(confidence)]
    # Without a network namespace there is no proof that it stayed offline, so use one when
    # the script runs as root.
    if shutil.which("unshare") and os.geteuid() == 0:
        command = ["unshare", "-n"] + command
    subprocess.run(command, check=True, capture_output=True, cwd=workdir)
    flagged = defaultdict(set)
    for entry in json.loads(out.read_text() or "[]"):
        for d in entry.get("domains", []):
            flagged[d["domain"]].add(entry["keyword"])
    return flagged


SEVERITY = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def severity_of(result):
    return SEVERITY.get(result.get("severity"), 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--opensquat", default=shutil.which("opensquat"))
    parser.add_argument("--keep", type=Path, help="folder to keep the lists and raw results in")
    parser.add_argument("--skip-opensquat", action="store_true", help="run the matcher only")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"data folder {args.data} not found; give it with --data DIR")

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="eval-matcher-"))
    workdir.mkdir(parents=True, exist_ok=True)

    phishtank, pt_skipped = load_phishtank(args.data)
    cryptoscamdb, cs_skipped = load_cryptoscamdb(args.data)
    fuzzy = json.loads((args.data / "phishing-urls/eth-phishing-detect/config.json").read_text())
    whitelist = sorted({d.lower() for d in fuzzy["whitelist"]})
    tranco = []
    with open(args.data / "benign-domains/sublime/tranco_top_50k.csv", newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 2 and row[0].isdigit():
                tranco.append(row[1].strip().lower())

    used = {b for _, b in phishtank} | {b for _, b in cryptoscamdb}
    seen_ids = set()
    watchlists = []
    for label in sorted(used):
        if BRANDS[label][0] not in seen_ids:
            seen_ids.add(BRANDS[label][0])
            watchlists.append(watchlist_entry(label, BRANDS[label]))
    # MetaMask protects whole domain names; without keywords the matcher takes each one's
    # registrable label, as `vigie match --domain` does.
    metamask_watchlists = [{"id": f"mm-{d}", "brand": d, "legitimate": [d], "keywords": []}
                           for d in fuzzy["fuzzylist"]]
    all_watchlists = watchlists + metamask_watchlists
    keyword_ids = defaultdict(set)
    for w in all_watchlists:
        for k in w["keywords"] or [{"text": registrable_label(w["brand"])}]:
            keyword_ids[k["text"]].add(w["id"])
    legit_all = [d for w in all_watchlists for d in w["legitimate"]]

    labelled = []  # (dataset, class, input, host, brand)
    for (host, brand), url in phishtank.items():
        cls = "host" if impersonates_in_host(host, brand) else "path"
        labelled.append(("PhishTank", cls, url, host, brand))
    for (name, brand), _ in cryptoscamdb.items():
        cls = "host" if impersonates_in_host(name, brand) else "path"
        labelled.append(("CryptoScamDB", cls, name, name, brand))

    print(f"data: {args.data}; work folder: {workdir}", file=sys.stderr)
    phish_inputs = sorted({row[2] for row in labelled})
    mine_phish = run_matcher(watchlists, phish_inputs, workdir, "phish")
    mine_white = run_matcher(metamask_watchlists, whitelist, workdir, "whitelist")
    tranco_inputs = [d for d in tranco if not under(d, legit_all)]
    mine_tranco = run_matcher(all_watchlists, tranco_inputs, workdir, "tranco")
    by_id = {w["id"]: w for w in all_watchlists}
    # Owned by any brand of the evaluation watchlist; the same names are left out for every tool.
    tranco_others = [d for d in tranco_inputs
                     if not any(owned_by_brand(d, w) for w in by_id.values())]

    tools = {"vigie": None}
    if args.opensquat and not args.skip_opensquat:
        phish_hosts = sorted({row[3] for row in labelled if row[3]})
        for c in (1, 2):
            print(f"  running openSquat -c {c} ...", file=sys.stderr)
            tools[f"openSquat -c {c}" + (" (default)" if c == 1 else "")] = {
                "phish": run_opensquat(args.opensquat, {k for w in watchlists for k in
                                                        [x["text"] for x in w["keywords"]]},
                                       phish_hosts, workdir, "phish", c),
                "whitelist": run_opensquat(args.opensquat, {registrable_label(w["brand"]) for w in metamask_watchlists},
                                           whitelist, workdir, "whitelist", c),
                "tranco": run_opensquat(args.opensquat, set(keyword_ids), tranco_inputs, workdir, "tranco", c),
            }
    else:
        print("openSquat not found; give its path with --opensquat", file=sys.stderr)

    def vigie_flags(row):
        result = mine_phish.get(row[2], {})
        return severity_of(result) >= 2 and result.get("watchlist") == BRANDS[row[4]][0]

    def osq_flags(flags, row):
        return any(BRANDS[row[4]][0] in keyword_ids[k] for k in flags["phish"].get(row[3], ()))

    rows = []
    for dataset in ("PhishTank", "CryptoScamDB"):
        for cls, title in (("host", "imitation in host: recall"), ("path", "imitation only in path: flagged")):
            subset = [r for r in labelled if r[0] == dataset and r[1] == cls]
            line = [f"{dataset}, {title}", str(len(subset))]
            for name, flags in tools.items():
                hit = sum(1 for r in subset if (vigie_flags(r) if flags is None else osq_flags(flags, r)))
                line.append(f"{hit} ({100 * hit / max(1, len(subset)):.1f} %)")
            rows.append(line)
    for label, inputs, mine, key in (("MetaMask whitelist, high or critical", whitelist, mine_white, "whitelist"),
                                     ("MetaMask whitelist, medium or above", whitelist, mine_white, "whitelist"),
                                     ("Tranco top 50k, medium or above", tranco_inputs, mine_tranco, "tranco"),
                                     ("Tranco, medium or above, brand-owned names left out", tranco_others,
                                      mine_tranco, "tranco")):
        floor = 3 if "high or critical" in label else 2
        line = [label, str(len(inputs))]
        for name, flags in tools.items():
            if flags is None:
                hit = sum(1 for d in inputs if severity_of(mine.get(d, {})) >= floor)
            else:
                hit = sum(1 for d in inputs if d in flags[key])
            line.append(f"{hit} ({100 * hit / max(1, len(inputs)):.2f} %)")
        rows.append(line)

    # Precision over every item whose class is known. Imitating hosts are positives, the
    # whitelist and Tranco names negatives. A flag is medium or above for vigie and any flag
    # for openSquat.
    line = ["precision (host class vs whitelist and Tranco not brand-owned)", ""]
    for name, flags in tools.items():
        positives = [r for r in labelled if r[1] == "host"]
        if flags is None:
            tp = sum(1 for r in positives if vigie_flags(r))
            fp = sum(1 for d in whitelist if severity_of(mine_white.get(d, {})) >= 2) + \
                sum(1 for d in tranco_others if severity_of(mine_tranco.get(d, {})) >= 2)
        else:
            tp = sum(1 for r in positives if osq_flags(flags, r))
            fp = sum(1 for d in whitelist if d in flags["whitelist"]) + sum(1 for d in tranco_others if d in flags["tranco"])
        line.append(f"{100 * tp / max(1, tp + fp):.1f} % ({tp} / {tp + fp})")
    rows.append(line)

    header = ["data set", "items"] + list(tools)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")

    misses = [r for r in labelled if r[1] == "host" and not vigie_flags(r)]
    print(f"\nvigie misses in the host class ({len(misses)}):")
    for r in misses[:40]:
        res = mine_phish.get(r[2], {})
        print(f"  {r[0]}: {r[3]} ({r[4]}) -> {res.get('severity', 'none')} {res.get('watchlist', '')} {res.get('reasons', '')}")
    fps = [d for d in tranco_others if severity_of(mine_tranco.get(d, {})) >= 2]
    print(f"\nvigie Tranco medium or above, brand-owned names left out ({len(fps)}):")
    for d in fps[:120]:
        res = mine_tranco[d]
        print(f"  {d} -> {res['severity']} {res['score']} {res['watchlist']}: {res['reasons'][0]}")
    whites = [d for d in whitelist if severity_of(mine_white.get(d, {})) >= 2]
    print(f"\nvigie MetaMask whitelist medium or above ({len(whites)}):")
    for d in whites[:40]:
        res = mine_white[d]
        print(f"  {d} -> {res['severity']} {res['score']}: {res['reasons'][0]}")
    print(f"\nbrands without a mapping (rows skipped): PhishTank {dict(pt_skipped)}; "
          f"CryptoScamDB {sum(cs_skipped.values())} entries of {len(cs_skipped)} subcategories")


if __name__ == "__main__":
    main()
