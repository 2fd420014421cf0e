#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are on this machine, for the
# tests that load balances into a real PostgreSQL (tests/postgres_server.py starts and stops its
# own server on 127.0.0.1; nothing here starts one).
#
# Idempotent: does nothing when the binaries are there. Otherwise installs Debian's `postgresql`
# package (root, or sudo) without creating or starting the distribution's default cluster.
set -euo pipefail

have_binaries() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || command -v initdb > /dev/null
}

if have_binaries; then
    echo "PostgreSQL binaries: present"
    exit 0
fi

if ! command -v apt-get > /dev/null; then
    echo "PostgreSQL binaries are missing and this is not a Debian/Ubuntu machine:" >&2
    echo "install the PostgreSQL server (initdb, pg_ctl) with your package manager." >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# The tests run their own throwaway server: do not let the package create and start "main".
$SUDO mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf > /dev/null
fi

echo "Installing PostgreSQL (Debian package postgresql)..."
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold postgresql > /dev/null

if ! have_binaries; then
    echo "PostgreSQL was installed but initdb is still missing" >&2
    exit 1
fi
echo "PostgreSQL binaries: installed ($(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1))"
