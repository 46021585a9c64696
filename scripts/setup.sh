#!/usr/bin/env bash
# Idempotent set-up for pstc on a fresh machine: npm dependencies, the TypeScript build, headless
# Chromium for the browser tests, and a WebGPU adapter. Fast when everything is already in place. Sourced or run by scripts/demo.sh and
# scripts/test.sh; run it by hand with `bash scripts/setup.sh`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '[setup] %s\n' "$*" >&2; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/pstc-xdg-$(id -u)}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# 1. npm dependencies: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.pstc-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# 2. Build dist/ (incremental: about a second when nothing changed).
npx tsc -p tsconfig.json

# 3. Headless Chromium for the browser tests (test/web/playground.test.ts, the ablation report in
#    test/explore/ablate-run.test.ts): Debian's
#    `chromium` package (puppeteer-core drives /usr/bin/chromium; no browser download). Installed
#    only when missing, as root on Debian; elsewhere we say how and go on (those tests then skip,
#    saying why). PSTC_NO_CHROMIUM=1 skips this step.
if [ -z "${PSTC_NO_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -r /etc/debian_version ]; then
    say "installing Debian's chromium (headless browser for test/web/)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || say "could not install chromium; the browser tests will skip"
  else
    say "no /usr/bin/chromium: install Debian's chromium (apt-get install chromium) for the browser tests, or set PSTC_CHROMIUM"
  fi
fi

# 3b. Open MPI for data-parallel training (`pstc train --distributed mpi`): only when asked with
#     PSTC_WITH_MPI=1 (test/train/distributed.test.ts installs it itself where it can).
if [ -n "${PSTC_WITH_MPI:-}" ] && [ "${PSTC_WITH_MPI}" != 0 ]; then
  bash scripts/install-mpi.sh || say "no Open MPI: --distributed mpi is unavailable"
fi

# 4. A WebGPU adapter. Dawn (npm `webgpu`) needs Vulkan; without a GPU that is Mesa's lavapipe,
#    and Dawn refuses Debian 12's own Mesa 22.3, so we take Mesa >= 25 from bookworm-backports.
probe() { node scripts/probe-adapter.mjs >/dev/null 2>&1; }
if probe; then exit 0; fi
say "no WebGPU adapter found"
if [ -r /etc/os-release ]; then . /etc/os-release; fi
if [ "${ID:-}" != "debian" ] || [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
  say "this is not Debian 12: install a Vulkan driver (a GPU driver, or Mesa >= 25 lavapipe) and libvulkan1, then rerun."
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  say "not root: as root run  apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers  (after adding bookworm-backports to apt's sources), then rerun."
  exit 1
fi
list=/etc/apt/sources.list.d/pstc-bookworm-backports.list
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "adding bookworm-backports to apt's sources ($list)"
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$list"
fi
say "installing libvulkan1 and mesa-vulkan-drivers (Mesa >= 25 lavapipe) from bookworm-backports"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq -t bookworm-backports libvulkan1 mesa-vulkan-drivers >/dev/null
if ! probe; then
  say "still no WebGPU adapter after installing Mesa; this is what Dawn says:"
  node scripts/probe-adapter.mjs || true
  exit 1
fi
say "WebGPU adapter ready: $(node scripts/probe-adapter.mjs)"
