#!/usr/bin/env bash
# Make sure Redis's server binary (redis-server) is on this machine, for the tests of the shared
# rate budget (tests/redis_server.py starts and stops its own server on 127.0.0.1 and a free
# port; nothing here starts one).
#
# Idempotent: does nothing when redis-server is there. Otherwise installs Debian's
# `redis-server` package (root, or sudo) and stops the distribution's own service if the
# package started one (the tests never use it).
set -euo pipefail

if command -v redis-server > /dev/null; then
    echo "redis-server: present ($(redis-server --version | awk '{print $3}'))"
    exit 0
fi

if ! command -v apt-get > /dev/null; then
    echo "redis-server is missing and this is not a Debian/Ubuntu machine:" >&2
    echo "install the Redis server with your package manager." >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "Installing Redis (Debian package redis-server)..."
$SUDO apt-get update -qq
# policy-rc.d: no service is started by the install (containers without systemd, CI machines).
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=""
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" > /dev/null
    $SUDO chmod +x "$POLICY"
    CREATED_POLICY=1
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold redis-server > /dev/null
if [ -n "$CREATED_POLICY" ]; then
    $SUDO rm -f "$POLICY"
fi

if ! command -v redis-server > /dev/null; then
    echo "redis-server was installed but is still missing from PATH" >&2
    exit 1
fi
echo "redis-server: installed ($(redis-server --version | awk '{print $3}'))"
