#!/usr/bin/env bash
# Installs whatever is missing on a fresh Debian machine (root, Node 20), and
# nothing that is already there: Debian packages via apt-get, npm dependencies,
# the lesson images, and (with --build) the site's production build.
#   scripts/setup.sh [--tests] [--build]
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0; want_build=0
for a in "$@"; do
  case "$a" in
    --tests) want_tests=1 ;;
    --build) want_build=1 ;;
    *) echo "setup: unknown option $a" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------
# command → package
declare -A need=( [runsc]=runsc [mmdebstrap]=mmdebstrap [gcc]=gcc [runc]=runc
  [qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [mkfs.ext4]=e2fsprogs [debugfs]=e2fsprogs
  [lz4]=lz4 [zstd]=zstd [xz]=xz-utils [dtach]=dtach ) # lz4/zstd/xz: unpack the guest kernel for direct (PVH) boot; dtach: holds learners' terminals (oci.ts)
[ "$want_tests" = 1 ] && need[chromium]=chromium
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
[ -e /usr/include/stdio.h ] || missing+=(libc6-dev)
# gcc -static for the microVM guest agent
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q $(printf "%s\n" "${missing[@]}" | sort -u)
fi

# --- npm dependencies -------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies"
  # Not `npm ci`: the registry here serves no builds for other platforms, so the
  # lock file cannot list next's and tailwind's optional per-platform binaries,
  # and `npm ci` refuses such a lock as "out of sync". `npm install` installs
  # exactly the locked versions all the same (and leaves the lock unchanged).
  npm install --no-fund --no-audit
fi

# --- lesson images (cached by recipe hash) ------------------------------------
step "lesson images"
npx tsx scripts/build-images.ts

# --- production build of the site -------------------------------------------
if [ "$want_build" = 1 ]; then
  stamp=.next/BUILD_ID
  if [ ! -f "$stamp" ] || [ -n "$(find app components content lab-backend public next.config.mjs postcss.config.mjs tsconfig.json package-lock.json -newer "$stamp" -type f -print -quit 2>/dev/null)" ]; then
    step "building the site (next build)"
    npx next build
  else
    step "site build is up to date"
  fi
fi
