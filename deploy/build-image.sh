#!/usr/bin/env bash
# Build Vellet's image with podman from the repository's Dockerfile, on the local base.
# RUN steps reach PyPI only with the machine's CA bundle mounted.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$DEPLOY_DIR/base-image.sh"

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT_DIR/pyproject.toml" | head -n1)"
revision="$(git -C "$ROOT_DIR" rev-parse HEAD 2>/dev/null || echo unknown)"
echo "build-image: $IMAGE from $BASE_IMAGE" >&2
podman build \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "VERSION=$version" \
    --build-arg "REVISION=$revision" \
    -v /etc/ssl/certs:/etc/ssl/certs:ro \
    --layers \
    --network host \
    -t "$IMAGE" \
    -f "$ROOT_DIR/Dockerfile" \
    "$ROOT_DIR" "$@"
