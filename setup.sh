#!/usr/bin/env bash
# pyab's one-step set-up on Debian 12: installs what is missing (as root),
# builds, and then either runs the default scenario or runs every test.
#
#   ./setup.sh run [SCENARIO]   build, then `pyab run` (default: scenarios/default/scenario.json)
#   ./setup.sh test             build, then every test; ends with "N passed, N failed"
#   ./setup.sh build            build only
#   ./setup.sh runtime SUITE [DIR] [PACKAGE...]
#                               build, then make another Debian release's Python for
#                               arms (tools/runtime.sh; default DIR runtimes/SUITE)
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  gcc meson ninja-build pkg-config binutils strace
  libpython3.11-dev libuv1-dev libjansson-dev libsqlite3-dev
  python3.11-dbg          # pyab-child-debug: arms with "python": {"build": "debug"}
  libpq-dev postgresql    # the PostgreSQL history backend; its tests start a private server
  python3 python3-pytest python3-numpy python3-flask python3-django
  python3-yaml            # tests/test_examples.py reads docs/examples/
  python3-opencv python3-lxml python3-pil   # where.native e2e cases (real native libraries)
  libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
  libjs-chart.js chromium
  gunicorn wrk            # only the WSGI benchmark uses these
  python3-fastapi python3-uvloop python3-uvicorn   # ASGI: scenarios, tests, benchmark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# PYAB_MESON_ARGS: extra meson options (CI passes -Dwerror=true).
read -ra meson_args <<< "${PYAB_MESON_ARGS:-}"
if [[ ! -f build/build.ninja ]]; then
  meson setup build "${meson_args[@]}" >/dev/null
elif ((${#meson_args[@]})); then
  meson configure build "${meson_args[@]}" >/dev/null
fi
ninja -C build >/dev/null

case "${1:-build}" in
  run)
    exec ./build/harness/pyab run "${2:-scenarios/default/scenario.json}"
    ;;
  test)
    exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests
    ;;
  build)
    echo "setup: built ./build/harness/pyab"
    ;;
  runtime)
    [[ -n ${2:-} ]] || { echo "usage: ./setup.sh runtime SUITE [DIR] [PACKAGE...]" >&2; exit 2; }
    exec tools/runtime.sh "$2" "${3:-runtimes/$2}" "${@:4}"
    ;;
  *)
    echo "usage: ./setup.sh run [SCENARIO] | test | build | runtime SUITE [DIR] [PACKAGE...]" >&2
    exit 2
    ;;
esac
