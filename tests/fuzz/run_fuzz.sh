#!/usr/bin/env bash
# run_fuzz.sh SOURCE_DIR TARGET SECONDS — build one libFuzzer target with
# clang (-fsanitize=fuzzer,address,undefined) from the component sources it
# exercises, and run it for a bounded time from its seed corpus in
# tests/fuzz/corpus/TARGET (new inputs go to a scratch copy). Fails on any
# crash, leak, sanitizer report or timeout. ARK_TEST_SCALE shortens the run.
set -euo pipefail
src=$1 target=$2 seconds=$3
command -v clang >/dev/null || { echo "FAIL: clang is not installed (Debian packages clang, libclang-rt-14-dev)"; exit 1; }
scale=${ARK_TEST_SCALE:-1}
seconds=$(awk -v s="$seconds" -v k="$scale" 'BEGIN { t = int(s * k); print (t < 5 ? 5 : t) }')
work=$(mktemp -d /tmp/ark-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
case $target in
  redis_url) sources="$src/mirror/url.c $src/common/common.c" ;;
  jwt) sources="$src/api/jwt.c $src/common/common.c -lcrypto" ;;
  signals) sources="$src/api/signals.c $src/feed/parse.c $src/feed/timestamp.c $src/common/common.c" ;;
  synthetic) sources="$src/api/synthetic.c $src/event/event.c $src/common/common.c" ;;
  hrm) sources="$(ls "$src"/graveyard/*.c) $src/audit/audit.c $src/audit/rules.c $src/event/event.c $src/event/tick.c $src/common/common.c -lcrypto" ;;
  *) echo "FAIL: unknown fuzz target $target"; exit 1 ;;
esac
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11 \
  -I"$src" "$src/tests/fuzz/fuzz_$target.c" $sources -o "$work/fuzz" -lm
cp -r "$src/tests/fuzz/corpus/$target" "$work/corpus"
cd "$work"
./fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=2048 -print_final_stats=1 corpus 2>&1 | tail -15
