#!/usr/bin/env bash
# Build the local base image once: Debian bookworm with python3 and python3-venv,
# from Debian's own packages (no registry can be pulled from here). Reused when present;
# FORCE=1 rebuilds it.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$DEPLOY_DIR/setup-debian.sh"

if [ "${FORCE:-0}" != 1 ] && podman image exists "$BASE_IMAGE"; then
    echo "base-image: $BASE_IMAGE already there" >&2
    exit 0
fi
rootfs="$(mktemp -d /var/tmp/vellet-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "base-image: debootstrap $SUITE into $rootfs" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$rootfs" >/dev/null
# apt lists and caches are not needed in an image.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | podman import \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
echo "base-image: built $BASE_IMAGE" >&2
