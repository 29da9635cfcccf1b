# Shared by the deploy/ scripts (sourced, not run).
# Every name here can be overridden from the environment.
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$DEPLOY_DIR/containers.conf}"
# The local stand-in for the official python slim image (nothing can be pulled here).
BASE_IMAGE="${BASE_IMAGE:-localhost/vellet-base:bookworm}"
IMAGE="${IMAGE:-localhost/vellet:dev}"
SUITE="${SUITE:-bookworm}"
