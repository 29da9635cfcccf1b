#!/usr/bin/env bash
# PostgreSQL and Redis images for the container e2e target (tests/e2e/containers/),
# built from Debian's packages on the local base image. Reused when present; FORCE=1
# rebuilds them. Names: $E2E_POSTGRESQL_IMAGE and $E2E_REDIS_IMAGE.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$DEPLOY_DIR/base-image.sh"
E2E_POSTGRESQL_IMAGE="${E2E_POSTGRESQL_IMAGE:-localhost/vellet-e2e-postgresql:15}"
E2E_REDIS_IMAGE="${E2E_REDIS_IMAGE:-localhost/vellet-e2e-redis:7}"
deps="$ROOT_DIR/tests/e2e/containers/deps"
for pair in "postgresql:$E2E_POSTGRESQL_IMAGE" "redis:$E2E_REDIS_IMAGE"; do
    name="${pair%%:*}" image="${pair#*:}"
    if [ "${FORCE:-0}" != 1 ] && podman image exists "$image"; then
        echo "build-e2e-images: $image already there" >&2
        continue
    fi
    echo "build-e2e-images: $image" >&2
    podman build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE"  \
        --network host -t "$image" -f "$deps/$name.Containerfile" "$deps" >/dev/null
done
