#!/usr/bin/env bash
# quickstart.sh — the two commands of README's quick start.
#
#   ./quickstart.sh run [ark run options]   install what is missing, build, run the main job
#   ./quickstart.sh test                    install what is missing, build plain, ASan+UBSan
#                                           and TSan, and run the whole test suite in each
#
# Works on a fresh Debian 12 machine as root (or with sudo). Builds go to
# build/ (plain), build-asan/ and build-tsan/.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  liburing-dev libsqlite3-dev sqlite3 libhiredis-dev libh2o-evloop-dev libssl-dev
  libcurl4-openssl-dev libjsmn-dev
  redis-server redis-tools nghttp2-client openssl curl procps util-linux iproute2 zlib1g-dev libcrypt-dev prometheus
  python3 python3-prometheus-client systemd clang libclang-rt-14-dev tmux jq tzdata
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian starts the packaged Prometheus (on :9090, ARK's METRICS_PORT) and
  # Redis as services where systemd runs; ARK's tests start their own.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

build() { # build DIR [SANITIZER]
  local dir=$1 sanitize=${2:-}
  log "building $dir${sanitize:+ (sanitizer: $sanitize)}"
  cmake -S . -B "$dir" -DARK_SANITIZE="$sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

run_suite() { # run_suite DIR LABEL EXCLUDE [ENV...]
  local dir=$1 label=$2 exclude=$3
  shift 3
  log "test suite: $label"
  (cd "$dir" && env "$@" ctest --output-on-failure --timeout 900 ${exclude:+-E "$exclude"})
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_missing
    build build
    log "ark run $*"
    exec ./build/ark run "$@"
    ;;
  test)
    install_missing
    build build
    build build-asan address
    build build-tsan thread
    run_suite build "plain" ""
    # LSan: h2o 2.2.5's own never-freed allocations (see tests/http/lsan.supp)
    # are suppressed for every process that runs an h2o server (metrics, API).
    # The fuzz targets are clang builds of their own (ASan+UBSan already):
    # the plain suite runs them; the sanitizer suites would run the same.
    run_suite build-asan "ASan+UBSan" '^fuzz\.' ARK_TEST_SCALE=0.2 \
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      LSAN_OPTIONS="suppressions=$PWD/tests/http/lsan.supp:print_suppressions=0"
    # TSan needs a mapping layout it knows: run without address randomisation.
    run_suite build-tsan "TSan" '^fuzz\.' ARK_TEST_SCALE=0.05 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      setarch "$(uname -m)" -R
    log "all three test suites passed"
    ;;
  *)
    echo "usage: $0 run [ark run options] | $0 test" >&2
    exit 2
    ;;
esac
