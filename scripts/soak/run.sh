#!/usr/bin/env bash
# Soak run of the release daemon with every source against local servers.
#
# Usage: scripts/soak/run.sh            (as root, on Debian with nsd, postfix, dovecot-imapd,
#                                        dovecot-lmtpd, openssl and python3)
#
# Environment:
#   SOAK_SECS        how long the daemon is sampled, in seconds (default 1860)
#   SOAK_ROUND_SECS  seconds between two changes of the served content (default 180)
#   SOAK_EVERY       seconds between two samples (default 10)
#   SOAK_OUT         output folder (default /tmp/vigie-soak-DATE); it must not exist yet
#   VIGIE            daemon binary (default target/release/vigie, built when missing)
#
# Everything runs in new network, PID and mount namespaces whose only interface is the
# loopback: the daemon can reach nothing but the servers started here, and every process left
# at the end is killed with the namespace. The output folder holds samples.csv, vigie.log,
# findings.jsonl, summary.md and the servers' logs.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
soak_dir="$repo/scripts/soak"

if [[ "${SOAK_IN_NAMESPACE:-}" != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "run.sh: run as root (namespaces, Postfix and Dovecot need it)" >&2; exit 2; }
    for tool in nsd postfix dovecot openssl python3 unshare; do
        command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || {
            echo "run.sh: $tool not found: apt-get install nsd postfix dovecot-imapd dovecot-lmtpd openssl python3" >&2
            exit 2
        }
    done
    if [[ -z "${VIGIE:-}" ]]; then
        (cd "$repo" && cargo build --release --bin vigie)
        export VIGIE="$repo/target/release/vigie"
    fi
    export SOAK_OUT="${SOAK_OUT:-/tmp/vigie-soak-$(date -u +%Y%m%dT%H%M%SZ)}"
    if [[ -e "$SOAK_OUT" ]]; then
        echo "run.sh: $SOAK_OUT exists; choose another SOAK_OUT" >&2
        exit 2
    fi
    export SOAK_IN_NAMESPACE=1
    exec unshare --net --pid --fork --mount-proc "$0" "$@"
fi

PATH="$PATH:/usr/sbin:/sbin"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
ip link set lo up

soak_secs=${SOAK_SECS:-1860}
round_secs=${SOAK_ROUND_SECS:-180}
every=${SOAK_EVERY:-10}
out=$SOAK_OUT
dns_port=5354 http_port=8081 webhook_port=8080 smtp_port=2525 imap_port=1143
lmtp_port=2424 auth_port=2426 health_port=9464 intake_port=8089
mailbox=soc@example.test mail_password=soak intake_token=soak-intake-token

# Dovecot and Postfix run unprivileged parts that must traverse the output folder.
mkdir -p "$out"/{dns,ct/later,mail,postfix/conf,postfix/queue,dovecot,servers,config/watchlists,state}
chmod 755 "$out"
log() { echo "run.sh: $(date -u +%H:%M:%S) $*" >&2; }

# --- DNS: NSD serves the root zone, so every name outside it gets NXDOMAIN. ---------------
{
    echo '$TTL 300'
    echo '. IN SOA ns.soak.test. hostmaster.soak.test. 1 7200 900 1209600 300'
    echo '. IN NS ns.soak.test.'
    echo 'ns.soak.test. IN A 127.0.0.1'
    echo 'example.com. IN A 192.0.2.10'
    echo 'example.com. IN MX 10 mail.example.com.'
    echo 'mail.example.com. IN A 192.0.2.11'
    echo 'example.net. IN A 192.0.2.12'
    # One lookalike in 40 of each legitimate domain is registered, a third of them with MX.
    n=0
    for domain in example.com example.net; do
        "$VIGIE" permute "$domain" --all-fuzzers | awk 'NR % 40 == 0' | while read -r name; do
            n=$((n + 1))
            echo "$name. IN A 198.51.100.$((n % 250 + 1))"
            if ((n % 3 == 0)); then echo "$name. IN MX 10 mx.$name."; echo "mx.$name. IN A 198.51.100.$((n % 250 + 1))"; fi
        done
    done
    # The lookalikes that the served content names, one per round.
    for k in $(seq 0 60); do echo "examplecorp-refund$k.com. IN A 203.0.113.$((k % 250 + 1))"; done
} >"$out/dns/root.zone"
cat >"$out/dns/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $dns_port
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$out/dns"
    database: ""
    zonelistfile: "$out/dns/zone.list"
    xfrdfile: "$out/dns/xfrd.state"
    xfrdir: "$out/dns"
    pidfile: "$out/dns/nsd.pid"
    logfile: "$out/dns/nsd.log"
    server-count: 1
    verbosity: 1
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "."
    zonefile: "root.zone"
EOF
log "DNS zone: $(grep -c ' IN A ' "$out/dns/root.zone") A records"

# --- CT log content: real certificates first, then one generated certificate per round. ---
fixtures="$repo/tests/fixtures/ct"
cp "$fixtures"/lets-encrypt-leaf-lists.for-our.info.der "$fixtures"/lets-encrypt-x3-cross-signed.der \
    "$fixtures"/dfn-leaf-www.cas.dhbw.de.der "$fixtures"/igc-a-root.der "$out/ct/"
cat >"$out/ct/chains.txt" <<EOF
lets-encrypt-leaf-lists.for-our.info.der lets-encrypt-x3-cross-signed.der
dfn-leaf-www.cas.dhbw.de.der
igc-a-root.der
EOF
for k in $(seq -w 1 30); do
    name="examplecorp-verify$k.com"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -keyout /dev/null -subj "/CN=$name" -addext "subjectAltName=DNS:$name,DNS:www.$name" \
        -outform DER -out "$out/ct/later/$k.der" 2>/dev/null
done

# --- Mail: Dovecot (IMAP, LMTP, auth) and Postfix (SMTP relaying to Dovecot over LMTP). -----
cat >"$out/dovecot.conf" <<EOF
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $out/dovecot/
state_dir = $out/dovecot-state/
instance_name = vigie-soak
log_path = $out/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = static
  args = password=$mail_password
  username_filter = $mailbox
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$out/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
}
service auth {
  inet_listener auth {
    address = 127.0.0.1
    port = $auth_port
  }
}
protocol lmtp {
  postmaster_address = postmaster@example.test
}
EOF
cat >"$out/postfix/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $out/postfix/queue
data_directory = $out/postfix/data
maillog_file_prefixes = /var, /dev/stdout, $out
maillog_file = $out/postfix.log
myhostname = mx.example.test
mydomain = example.test
myorigin = \$mydomain
mydestination =
local_transport = error:local delivery disabled
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = example.test
virtual_mailbox_maps = inline:{ $mailbox=ok }
virtual_transport = lmtp:inet:127.0.0.1:$lmtp_port
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
smtpd_banner = \$myhostname ESMTP
biff = no
append_dot_mydomain = no
EOF
cat >"$out/postfix/conf/master.cf" <<EOF
127.0.0.1:$smtp_port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
chown nobody:nogroup "$out/mail"

# --- The daemon's configuration: every source, short intervals, loopback only. ------------
config="$out/config"
printf '%s\n' "$mail_password" >"$config/imap-password"
printf '%s\n' "$intake_token" >"$config/intake-token"
printf '%s\n' soak-mastodon-token >"$config/mastodon-token"
chmod 600 "$config/imap-password" "$config/intake-token" "$config/mastodon-token"
web="http://127.0.0.1:$http_port"
sed -e "s|@WEB@|$web|g" -e "s|@DNS@|127.0.0.1:$dns_port|" -e "s|@HEALTH@|127.0.0.1:$health_port|" \
    -e "s|@SMTP_PORT@|$smtp_port|" -e "s|@WEBHOOK@|http://127.0.0.1:$webhook_port/hooks/vigie|" \
    -e "s|@IMAP_PORT@|$imap_port|" -e "s|@MAILBOX@|$mailbox|" -e "s|@INTAKE@|127.0.0.1:$intake_port|" \
    "$soak_dir/vigie.toml" >"$config/vigie.toml"
cp "$soak_dir"/watchlists/*.toml "$config/watchlists/"
"$VIGIE" check --config "$config/vigie.toml" >"$out/check.txt" 2>&1 || {
    cat "$out/check.txt" >&2
    exit 1
}

# --- Start the servers. -------------------------------------------------------------------
pids=()
stop_all() {
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    postfix -c "$out/postfix/conf" stop >/dev/null 2>&1
    [[ -f "$out/dovecot/master.pid" ]] && kill "$(cat "$out/dovecot/master.pid")" 2>/dev/null
    [[ -f "$out/dns/nsd.pid" ]] && kill "$(cat "$out/dns/nsd.pid")" 2>/dev/null
    wait 2>/dev/null
}
trap stop_all EXIT

wait_port() {
    local port=$1 deadline=$((SECONDS + 20))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        ((SECONDS < deadline)) || { echo "run.sh: nothing listens on 127.0.0.1:$port after 20 s" >&2; exit 1; }
        sleep 0.2
    done
}

nsd -c "$out/dns/nsd.conf"
dovecot -c "$out/dovecot.conf"
postfix -c "$out/postfix/conf" start >"$out/postfix-start.log" 2>&1 || {
    echo "run.sh: postfix failed to start:" >&2
    cat "$out/postfix-start.log" "$out/postfix.log" >&2
    exit 1
}
for port in "$imap_port" "$lmtp_port" "$smtp_port"; do wait_port "$port"; done
# The inbox source reads the folder "Reported", so it must exist before the first mail.
python3 -c 'import imaplib, sys
with imaplib.IMAP4("127.0.0.1", int(sys.argv[1])) as imap:
    imap.login(sys.argv[2], sys.argv[3])
    imap.create("Reported")' "$imap_port" "$mailbox" "$mail_password"

python3 "$soak_dir/servers.py" --state-dir "$out/servers" --ct-dir "$out/ct" \
    --http-port "$http_port" --webhook-port "$webhook_port" --imap-port "$imap_port" \
    --imap-user "$mailbox" --imap-password "$mail_password" --intake-port "$intake_port" \
    --intake-token "$intake_token" --round-secs "$round_secs" 2>"$out/servers/servers.log" &
pids+=($!)
wait_port "$http_port"
wait_port "$webhook_port"
log "servers are up; starting the daemon for ${soak_secs} s"

# --- The daemon, sampled. -----------------------------------------------------------------
"$VIGIE" run --config "$config/vigie.toml" >"$out/vigie.log" 2>&1 &
daemon=$!
pids+=("$daemon")
python3 "$soak_dir/sample.py" --pid "$daemon" --csv "$out/samples.csv" \
    --metrics "http://127.0.0.1:$health_port/metrics" --counters "$out/servers/counters.json" \
    --maildir "$out/mail/$mailbox/Maildir" --secs "$soak_secs" --every "$every"

log "stopping the daemon"
kill -TERM "$daemon"
wait "$daemon" || log "the daemon exited with status $?"
"$VIGIE" findings --config "$config/vigie.toml" --format json >"$out/findings.jsonl"
python3 "$soak_dir/summarise.py" "$out" | tee "$out/summary.md"
log "results in $out"
