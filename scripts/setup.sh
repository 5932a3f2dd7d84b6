#!/usr/bin/env bash
# Installs what Portcullis' tests and benchmarks need on Debian 12, when it is missing.
#   scripts/setup.sh          # for the tests
#   scripts/setup.sh bench    # also nginx, wrk and util-linux (taskset) for bench/
# Only the Rust toolchain is assumed. Idempotent: does nothing when everything is present.
set -euo pipefail

# curl and openssl: the demo-tour test runs the printed tour (curl, openssl s_client).
# redis-server: rate-limit tests start their own on a random loopback port.
# make: building jemalloc, the binary's allocator (gcc comes with the Rust toolchain's linker).
want=(curl ca-certificates openssl redis-server make)
if [ "${1:-test}" = "bench" ]; then
  # libmodsecurity-dev and gcc: bench/run.sh waf compares the WAF with libmodsecurity 3.
  want+=(nginx-light wrk util-linux procps valgrind python3 libmodsecurity-dev gcc)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx and redis on install; benchmarks and tests run their own instances.
if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
  ($SUDO systemctl stop nginx 2>/dev/null || $SUDO service nginx stop 2>/dev/null || $SUDO pkill -x nginx 2>/dev/null) || true
fi
if [[ " ${missing[*]} " == *" redis-server "* ]]; then
  ($SUDO systemctl stop redis-server 2>/dev/null || $SUDO service redis-server stop 2>/dev/null || $SUDO pkill -x redis-server 2>/dev/null) || true
fi
