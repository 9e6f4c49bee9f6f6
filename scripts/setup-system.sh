#!/usr/bin/env bash
# System packages the tests need that pip cannot provide: a real Chromium for the UI tests (driven by
# Playwright through executable_path; Playwright's own browser download cannot work offline), a CJK
# font so that Hangul renders in the chat UI screenshots, PostgreSQL (the compiled-SQL tests start a
# throwaway cluster) and Orthanc with its DICOMweb plugin (the DICOMweb crawl tests start their own
# Orthanc on a free loopback port; a system service the package may start is not used) and Java 17 for
# PySpark (the Spark mart tests run a local Spark driver).
#
# Idempotent: installs only what is missing, and runs `apt-get update` only when something is missing
# and the package lists are absent or older than a day. Safe to run on every `make test`.
set -euo pipefail

PACKAGES=(chromium fonts-noto-cjk fonts-dejavu-core postgresql orthanc orthanc-dicomweb openjdk-17-jre-headless)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all present (${PACKAGES[*]})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-system: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
  $SUDO apt-get update -q
fi
echo "setup-system: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
