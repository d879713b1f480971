#!/usr/bin/env bash
# Installs what the real-client tests (test/clients/) and the cluster tests (test/cluster/) need, from Debian's
# packages and the npm registry.
# Idempotent: a second run finds everything in place and returns in a few seconds.
#
#   kcat                              Debian package (librdkafka 2.0.2 inside): test/clients/kcat.test.ts
#   etcd-server                       Debian package (etcd 3.4, /usr/bin/etcd): the real etcd that test/etcd.ts
#                                     starts for test/cluster/ (the cluster's metadata lives in etcd)
#   @confluentinc/kafka-javascript    librdkafka binding (builds its bundled librdkafka from source,
#                                     ~3 min on 2 cores): test/clients/librdkafka-binding.test.ts,
#                                     bench/wire-librdkafka.ts. Installed with --no-save: it needs a C/C++
#                                     toolchain and OpenSSL/zlib/zstd/lz4 headers, so it is not a dependency
#                                     of a plain `npm install`.
#   @platformatic/kafka               pure JS, a devDependency: installed by `npm install` already.
#
# Run it after `npm install` (a later `npm install` prunes --no-save packages again).
set -euo pipefail
cd "$(dirname "$0")/.."

CKJS_VERSION="1.10.1"
APT_PACKAGES=(kcat etcd-server g++ make python3 pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev)

started=$(date +%s)
log() { printf 'install-test-deps: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root (or sudo) to run: $*"; return 1
  fi
}

# --- Debian packages -------------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages already installed: ${APT_PACKAGES[*]}"
fi
log "etcd $(/usr/bin/etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')"
log "kcat $(kcat -V 2>&1 | sed -n 's/^Version \([0-9.]*\).*librdkafka \([0-9.]*\).*/\1 (librdkafka \2)/p')"

# --- librdkafka Node binding -----------------------------------------------------------------------
binding_version() {
  node -e "const k=require('@confluentinc/kafka-javascript');process.stdout.write(require('./node_modules/@confluentinc/kafka-javascript/package.json').version+' librdkafka '+k.librdkafkaVersion)" 2>/dev/null
}
if have=$(binding_version) && [ "${have%% *}" = "$CKJS_VERSION" ]; then
  log "@confluentinc/kafka-javascript $have already installed"
else
  log "building @confluentinc/kafka-javascript@$CKJS_VERSION with its bundled librdkafka (takes ~3 minutes)"
  # CKJS_LINKING=dynamic: configure librdkafka against the system's OpenSSL/zlib/zstd/lz4 instead of
  # downloading their sources (nothing but the registries is reachable). The prebuilt-binary download
  # that node-pre-gyp tries first fails at once here and falls back to this build.
  # Debian's librdkafka-dev (2.0.2) is too old for this binding (it needs rd_kafka_Uuid_t, 2.4+).
  # No JOBS=max: a parallel node-gyp make races the bundled librdkafka's configure step.
  CKJS_LINKING=dynamic npm install --no-save --no-audit --no-fund --foreground-scripts=false \
    "@confluentinc/kafka-javascript@$CKJS_VERSION" >/dev/null
  have=$(binding_version) || { log "@confluentinc/kafka-javascript installed but does not load"; exit 1; }
  log "@confluentinc/kafka-javascript $have installed"
fi

# --- @platformatic/kafka (devDependency) -----------------------------------------------------------
if node -e "require.resolve('@platformatic/kafka')" 2>/dev/null; then
  log "@platformatic/kafka $(node -p "require('./node_modules/@platformatic/kafka/package.json').version") present"
else
  log "@platformatic/kafka missing: run npm install first"
  exit 1
fi

log "done in $(( $(date +%s) - started ))s"
