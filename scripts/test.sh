#!/bin/sh
# Runs every test. The integration tests start their own Postfix, Dovecot and hickory-server
# instances on 127.0.0.1; when their binaries are missing and this runs as root, the Debian
# packages are installed first.
set -eu
cd "$(dirname "$0")/.."

missing=""
for bin in postfix dovecot unbound systemd-analyze; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing="$missing $bin"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing test servers (missing:$missing)."
        scripts/install-test-deps.sh
    else
        echo "missing test servers:$missing; run scripts/install-test-deps.sh as root (Debian)" >&2
        exit 2
    fi
fi

cargo test --locked "$@"
