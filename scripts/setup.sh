#!/usr/bin/env bash
# Installs the Debian 12 packages avbalance needs to build and test, when missing.
# Usage: scripts/setup.sh [--bench]   (--bench adds the Python peers used under bench/)
set -euo pipefail
pkgs=(gcc make pkg-config ffmpeg libopenblas-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev)
if [[ ${1:-} == --bench ]]; then
  pkgs+=(python3-numpy python3-scipy python3-torch python3-torchaudio python3-torchvision python3-av hyperfine time)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v go >/dev/null; then
  if [[ -x /usr/local/go/bin/go ]]; then
    echo "setup: Go is at /usr/local/go/bin; add it to PATH" >&2
  else
    echo "setup: Go 1.26 is needed (https://go.dev/doc/install)" >&2
    exit 1
  fi
fi
