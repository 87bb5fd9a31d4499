#!/usr/bin/env bash
# Installs what the browser test (crates/chuangtong/tests/it/browser.rs) needs:
#   - Debian's Chromium at /usr/bin/chromium (never a browser downloaded by a tool);
#   - playwright-core in tests/browser/node_modules, exactly as package-lock.json pins it.
# Idempotent: does nothing when both are already in place and up to date.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
browser_dir="$repo_root/tests/browser"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi

# --- Chromium (Debian package) -------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
    echo "install-test-deps: installing Debian chromium"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only if chromium cannot be found in them yet.
    if ! apt-cache show chromium >/dev/null 2>&1; then
        "${sudo_cmd[@]}" apt-get update -qq
    fi
    if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
        # Stale lists (a version no longer on the mirror): refresh once and retry.
        "${sudo_cmd[@]}" apt-get update -qq
        "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
    fi
fi
echo "install-test-deps: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium (version unknown)')"

# --- playwright-core (npm, from the lock file) ---------------------------------
if ! command -v npm >/dev/null 2>&1; then
    echo "install-test-deps: npm is required (node >= 20)" >&2
    exit 1
fi
marker="$browser_dir/node_modules/.package-lock.json"
if [ ! -d "$browser_dir/node_modules" ] || [ ! -e "$marker" ] \
    || [ "$browser_dir/package-lock.json" -nt "$marker" ]; then
    echo "install-test-deps: npm ci in tests/browser"
    (cd "$browser_dir" && npm ci --no-audit --no-fund)
fi
echo "install-test-deps: playwright-core $(cd "$browser_dir" && node -p "require('playwright-core/package.json').version")"
