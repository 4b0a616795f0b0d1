#!/usr/bin/env bash
# Installs what tests/realwp.py needs to provision a real WordPress on 127.0.0.1:
# Debian's WordPress 6.1, PHP CLI with mysqli, MariaDB, and the two default themes the
# tests render pages with (Debian only "Recommends" them, so --no-install-recommends skips them).
# Idempotent: returns at once when everything is already installed.
set -euo pipefail

PACKAGES=(
    wordpress
    php-cli
    php-mysql
    mariadb-server
    wordpress-theme-twentytwentythree
    wordpress-theme-twentytwentyone
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    # dpkg-query prints "install ok installed" only for a fully installed package.
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-wordpress: all packages already installed"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-wordpress: must run as root to install: ${missing[*]}" >&2
    exit 1
fi

echo "install-wordpress: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

# Debian's mariadb-server postinst may start the system server; the tests run their own private
# instance (own datadir and socket), so the system one is harmless and left as it is.
echo "install-wordpress: done"
