#!/usr/bin/env bash
# Install podman, runc and debootstrap from Debian's packages when missing (needs root).
set -euo pipefail
. "$(dirname "$0")/env.sh"

missing=()
for tool in podman runc debootstrap iptables; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# netavark/aardvark-dns give podman networks with DNS aliases; uidmap quiets podman's checks.
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-podman: ${missing[*]} missing and not root; install them with apt-get" >&2
        exit 1
    fi
    echo "setup-podman: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends podman runc debootstrap netavark \
        aardvark-dns iptables uidmap fuse-overlayfs slirp4netns ca-certificates >/dev/null
fi
podman --version >&2
