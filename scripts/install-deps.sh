#!/usr/bin/env bash
# Installs the Debian packages fkdc builds against, when any is missing.
set -euo pipefail
pkgs=(pkg-config libopenblas-dev zlib1g-dev libprotobuf-c-dev libpng-dev libjpeg-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
