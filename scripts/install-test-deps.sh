#!/bin/sh
# Installs the Debian packages the tests start as real servers: Postfix (SMTP), Dovecot
# (IMAP and LMTP), Unbound (loads the exported blocklists), NSD and dnsperf (DNS benchmark),
# and systemd-analyze (unit checks).
# Must run as root on Debian or a derivative.
set -eu
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends \
    postfix dovecot-imapd dovecot-lmtpd unbound nsd dnsperf bind9-dnsutils systemd util-linux ca-certificates python3
