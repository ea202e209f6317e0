#!/usr/bin/env bash
# Build the sentimentops image from the project's Dockerfile: `make image`, the container tests
# and CI all go through here, so they build the same thing the same way.
#
#   deploy/container/build_image.sh [IMAGE]          # default IMAGE: localhost/sentimentops:dev
#
# Two ways, chosen automatically (CONTAINER_ENGINE=docker|podman forces one):
#   docker  a Docker engine answers: plain `docker build`, BASE_IMAGE default python:3.11-slim.
#   podman  no engine (this project's machines, see docs/containers.md): podman with vfs storage
#           and chroot isolation, which need neither a daemon nor a container runtime. Docker
#           Hub may be out of reach, so the default base is a local stand-in for
#           python:3.11-slim: Debian bookworm + python3 bootstrapped with debootstrap from the
#           Debian mirror apt already uses, cached as localhost/base-python:3.11 and reused by
#           every later build on the machine. Set BASE_IMAGE (e.g.
#           docker.io/library/python:3.11-slim) to build on a registry image instead.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${1:-localhost/sentimentops:dev}
LOCAL_BASE=localhost/base-python:3.11
DEBIAN_SUITE=bookworm # its python3 is 3.11, the version uv.lock was resolved for

# vfs: the one storage driver that works without overlay support (nested containers, CI VMs).
# Every podman/buildah call must name it, or podman would open the store with another driver.
PODMAN=(podman --storage-driver vfs)

log() { printf '[build_image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

engine() {
    if [[ -n ${CONTAINER_ENGINE:-} ]]; then
        echo "$CONTAINER_ENGINE"
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        echo docker
    else
        echo podman
    fi
}

# The Debian mirror apt uses on this machine (deb822 .sources or one-line .list), so the base is
# bootstrapped from a mirror known to be reachable; deb.debian.org when none is configured.
debian_mirror() {
    local found
    found=$(
        grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
            /etc/apt/sources.list.d/*.list |
            grep -oE 'https?://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' '
    ) || true
    echo "${found:-http://deb.debian.org/debian}"
}

# The local base image, bootstrapped once per machine (about a minute) and then reused. A lock
# keeps two concurrent builds from bootstrapping it twice.
ensure_local_base() {
    exec 9>/var/tmp/sentimentops-base-image.lock
    flock 9
    if "${PODMAN[@]}" image exists "$LOCAL_BASE"; then
        log "reusing the cached base $LOCAL_BASE"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /var/tmp/base-python-rootfs.XXXXXX)
    # shellcheck disable=SC2064 # expand now: the trap must remove this very folder
    trap "rm -rf '$rootfs'" EXIT
    log "bootstrapping Debian $DEBIAN_SUITE with python3 from $mirror (first build on this machine)"
    # minbase + python3 (+ venv for the builder's pip, + CA certificates): what python:3.11-slim
    # offers that the Dockerfile uses.
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$DEBIAN_SUITE" "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # mktemp made the folder 0700, and it becomes the image's /: the unprivileged user could not
    # even reach /usr/bin. A root filesystem's / is 0755.
    chmod 0755 "$rootfs"
    # LANG as in python:3.11-slim: Python's text I/O is UTF-8 either way.
    tar -C "$rootfs" -c . |
        "${PODMAN[@]}" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    log "cached $LOCAL_BASE"
}

build_with_docker() {
    local base=${BASE_IMAGE:-python:3.11-slim}
    log "docker build (base $base) -> $IMAGE"
    docker build --build-arg "BASE_IMAGE=$base" -t "$IMAGE" "$REPO"
}

build_with_podman() {
    command -v podman >/dev/null || die "podman is missing: apt-get install -y podman buildah debootstrap"
    local base=${BASE_IMAGE:-$LOCAL_BASE}
    if [[ $base == "$LOCAL_BASE" ]]; then
        ensure_local_base
    fi
    local args=(
        build
        --isolation chroot # RUN steps without a container runtime (podman run is blocked here)
        --format docker    # the OCI format has no HEALTHCHECK: podman would drop it
        --layers=false     # no intermediate images: with vfs each is a full copy of the tree
        --build-arg "BASE_IMAGE=$base"
        --tag "$IMAGE"
    )
    # The host's CA store, so pip and uv (told to trust the system store) reach the package
    # index exactly as the host does, including through a TLS-inspecting proxy. Read-only, and
    # a mount is never part of a layer.
    if [[ -d /etc/ssl/certs ]]; then
        args+=(--volume /etc/ssl/certs:/etc/ssl/certs:ro)
    fi
    log "podman build (base $base) -> $IMAGE"
    "${PODMAN[@]}" "${args[@]}" "$REPO"
}

case $(engine) in
docker) build_with_docker ;;
podman) build_with_podman ;;
*) die "CONTAINER_ENGINE must be docker or podman, not '$CONTAINER_ENGINE'" ;;
esac
log "built $IMAGE"
