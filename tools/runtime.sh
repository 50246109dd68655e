#!/usr/bin/env bash
# tools/runtime.sh SUITE DIR [PACKAGE...]: another Debian release's Python
# for pyab arms, without a chroot at run time.
#
# Makes a Debian root for SUITE (e.g. trixie: Python 3.13) in DIR with
# debootstrap, installs pyab's build dependencies and the service's Debian
# packages (PACKAGE...) in it, and builds a pyab-child inside it from this
# source tree, linked to run directly on the host: its program interpreter
# is DIR's own ld.so and its RPATH (not RUNPATH, so libraries' own
# dependencies resolve there too) is DIR's library folder. An arm names it
# with "python": {"runtime": "DIR"}; pyab then starts DIR/pyab/pyab-child
# with PYTHONHOME=DIR/usr.
#
# What it leaves in DIR/pyab/: pyab-child, pyab-child-debug (when
# PYAB_RUNTIME_DEBUG=1: the suite's debug interpreter, python3-dbg),
# python3 (a wrapper that runs the root's interpreter on the host, which
# the children give as sys.executable) and runtime.json (suite, versions,
# packages, when). Running it again on a finished DIR only rebuilds the
# children (a few seconds), after installing any new PACKAGE.
#
# Root only (debootstrap and chroot). DIR is baked into the binaries:
# move the root and it must be made again. Exit 2 on bad usage.
set -euo pipefail

usage() {
  echo "usage: tools/runtime.sh SUITE DIR [PACKAGE...]   (e.g. tools/runtime.sh trixie runtimes/trixie)" >&2
  exit 2
}
(($# >= 2)) || usage
suite=$1
dir=$2
shift 2
extra=("$@")
[[ $suite =~ ^[a-z]+$ ]] || { echo "runtime: SUITE must be a Debian codename such as trixie, not '$suite'" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
  echo "runtime: needs root (debootstrap, chroot); run: sudo $0 $suite $dir ${extra[*]}" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
state=$dir/.pyab-runtime
if [[ -n $(ls -A "$dir") && ! -f $state ]]; then
  echo "runtime: $dir is not empty and is not a pyab runtime (no .pyab-runtime): refusing to touch it" >&2
  exit 2
fi

# The machine's Debian mirror, as apt knows it (deb822 or one-line form).
mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [[ -n $m ]] || m=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

started=$SECONDS
if ! command -v debootstrap >/dev/null; then
  echo "runtime: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [[ ! -x $dir/usr/bin/apt-get ]] || ! grep -qE '^(bootstrapped|complete)' "$state" 2>/dev/null; then
  echo "incomplete $suite" > "$state"
  echo "runtime: debootstrap $suite into $dir from $(mirror)" >&2
  debootstrap --variant=minbase "$suite" "$dir" "$(mirror)" > "$dir/.debootstrap.log" 2>&1 || {
    echo "runtime: debootstrap failed; the end of $dir/.debootstrap.log:" >&2
    tail -5 "$dir/.debootstrap.log" >&2
    exit 1
  }
  echo "bootstrapped $suite" > "$state"
fi
echo "runtime: $((SECONDS - started)) s: root ready" >&2

# Inside the root, DIR must name the root itself, so that a test program
# linked with DIR's loader (meson's compiler check) runs in the chroot too.
mkdir -p "$dir$(dirname "$dir")"
[[ -L $dir$dir ]] || ln -s / "$dir$dir"

# What meson.build asks for (libpq: the project's history backend, though
# only pyab-child is built here).
packages=(gcc libc6-dev meson ninja-build pkg-config libpython3-dev libuv1-dev libjansson-dev
          libsqlite3-dev libpq-dev "${extra[@]}")
[[ ${PYAB_RUNTIME_DEBUG:-0} == 1 ]] && packages+=(python3-dbg)
echo "runtime: apt-get install ${packages[*]}" >&2
chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive /bin/sh -c \
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends $(printf '%q ' "${packages[@]}") && apt-get clean" \
  > "$dir/.apt.log" 2>&1 || {
  echo "runtime: apt-get inside $dir failed (a package name that $suite does not have?); the end of $dir/.apt.log:" >&2
  tail -5 "$dir/.apt.log" >&2
  exit 1
}
echo "runtime: $((SECONDS - started)) s: packages installed" >&2

# This source tree, as the work tree has it (committed or not).
rm -rf "$dir/pyab/src"
mkdir -p "$dir/pyab/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$src" && git ls-files -co --exclude-standard -z | tar -c --null -T - 2>/dev/null) |
    tar -x -C "$dir/pyab/src"
else
  (cd "$src" && tar -c --exclude=./build --exclude=./runtimes --exclude=./results .) | tar -x -C "$dir/pyab/src"
fi

libdir=/usr/lib/x86_64-linux-gnu
link="-Wl,--dynamic-linker=$dir/lib64/ld-linux-x86-64.so.2 -Wl,--disable-new-dtags -Wl,-rpath=$dir$libdir"
# build NAME EMBED: pyab-child against pkg-config module EMBED, as DIR/pyab/NAME.
build() {
  local b=/pyab/build-$1
  chroot "$dir" /bin/sh -c "cd /pyab/src && rm -rf $b && meson setup $b -Dpython=$2 -Dc_link_args='$link' >$b.log 2>&1 && ninja -C $b harness/pyab-child >>$b.log 2>&1" || {
    echo "runtime: building $1 inside $dir failed; the end of $dir$b.log:" >&2
    tail -20 "$dir$b.log" >&2
    exit 1
  }
  cp "$dir$b/harness/pyab-child" "$dir/pyab/$1"
}
build pyab-child python3-embed
if [[ ${PYAB_RUNTIME_DEBUG:-0} == 1 ]]; then
  pyver=$(chroot "$dir" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  build pyab-child-debug "python-${pyver}d-embed"
fi

# sys.executable for the children: the root's interpreter, started through
# the root's loader and libraries so that it runs on the host as they do.
cat > "$dir/pyab/python3" <<EOF
#!/bin/sh
# The $suite root's python3 on this host (written by pyab's tools/runtime.sh).
PYTHONHOME=$dir/usr exec $dir/lib64/ld-linux-x86-64.so.2 --library-path $dir$libdir $dir/usr/bin/python3 "\$@"
EOF
chmod +x "$dir/pyab/python3"

versions=$(PYTHONHOME=$dir/usr "$dir/pyab/pyab-child" --versions) || {
  echo "runtime: the new child does not run on this host: $dir/pyab/pyab-child --versions failed" >&2
  exit 1
}
cat > "$dir/pyab/runtime.json" <<EOF
{"suite": "$suite", "dir": "$dir", "packages": "${extra[*]}", "built_utc": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "seconds": $((SECONDS - started)), "child": $versions}
EOF
echo "complete $suite" > "$state"
echo "runtime: $((SECONDS - started)) s: $dir/pyab/pyab-child ($(PYTHONHOME=$dir/usr "$dir/pyab/python3" -c 'import sys; print(sys.version.split()[0])'))" >&2
echo "runtime: use it with \"python\": {\"runtime\": \"$dir\"}; root size $(du -sh "$dir" 2>/dev/null | cut -f1)" >&2
