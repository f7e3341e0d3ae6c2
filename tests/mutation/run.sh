#!/usr/bin/env bash
# tests/mutation/run.sh [--keep] [--check] [NAME...] — the mutation check: does the
# suite catch a small, deliberate break of a critical line?
#
# It copies the working tree (tracked and untracked files, no build
# directories) into a scratch directory, builds it once, then for each
# mutation below: applies it (an exact text replacement that must match
# exactly once, or the mutation is reported as stale), rebuilds the targets
# the named tests need, runs those tests with ctest, and puts the file back.
# A mutation is caught when at least one of its tests fails. The last line
# is `mutations: N caught, M survived` (stale ones count as survived: a
# mutation that no longer applies tests nothing). Exit status 0 when every
# mutation was caught.
#
# Not part of CI (it rebuilds once per mutation: about 10-20 minutes on two
# cores). Names select mutations (default all); --keep keeps the scratch
# directory; --check only tells, without building, whether each mutation
# still applies to the code. ARK_MUTATION_DIR puts the scratch directory
# elsewhere.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
keep=0 check=0
only=()
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    --check) check=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) only+=("$a") ;;
  esac
done
for tool in python3 cmake ctest git; do
  command -v "$tool" >/dev/null || { echo "mutation: $tool is not installed"; exit 2; }
done

work=$(mktemp -d "${ARK_MUTATION_DIR:-${TMPDIR:-/tmp}}/ark-mutation-XXXXXX")
cleanup() { [ $keep = 1 ] && echo "scratch directory kept: $work" || rm -rf "$work"; }
trap cleanup EXIT
src=$work/src
mkdir -p "$src"
# The working tree as it is (uncommitted changes included), without builds.
(cd "$repo" && git ls-files -co --exclude-standard -z | grep -zv '^build' | xargs -0 cp --parents -t "$src")
jobs=${ARK_MUTATION_JOBS:-2}
[ $check = 1 ] || echo "mutation: building a copy of $repo in $work (cmake, -j$jobs)"
if [ $check = 0 ]; then
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/cmake.log" 2>&1 ||
    { echo "mutation: cmake failed (see $work/cmake.log)"; keep=1; exit 2; }
  cmake --build "$work/build" -j"$jobs" >"$work/build.log" 2>&1 ||
    { echo "mutation: the unmutated tree does not build (see $work/build.log)"; keep=1; exit 2; }
fi

# apply FILE: replace the text in $work/from with $work/to in FILE, exactly once.
apply() {
  python3 - "$src/$1" "$work/from" "$work/to" <<'PY'
import sys
path, old, new = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
text = open(path).read()
n = text.count(old)
if n != 1:
    print(f"matches {n} times, not once", file=sys.stderr)
    sys.exit(1)
open(path, "w").write(text.replace(old, new))
PY
}

caught=0 survived=0
results=()
# mutation NAME FILE TARGETS TESTS-REGEX WHY <<FROM ... ==== ... TO
# (the heredoc holds the original text, a line "====", then the mutated text)
mutation() {
  local name=$1 file=$2 targets=$3 tests=$4 why=$5
  local body; body=$(cat)
  if [ ${#only[@]} -gt 0 ]; then
    local hit=0; for o in "${only[@]}"; do [ "$o" = "$name" ] && hit=1; done
    [ $hit = 1 ] || return 0
  fi
  printf '%s\n' "${body%%$'\n'====$'\n'*}" > "$work/from"
  printf '%s\n' "${body#*$'\n'====$'\n'}" > "$work/to"
  # the heredoc's final newline is not part of the text
  truncate -s -1 "$work/from"; truncate -s -1 "$work/to"
  cp "$src/$file" "$work/original"
  local verdict detail=""
  if ! apply "$file" 2>"$work/apply.err"; then
    verdict="STALE"; detail="(the line is not there: $(cat "$work/apply.err"))"
  elif [ $check = 1 ]; then
    verdict="APPLIES"
  else
    # shellcheck disable=SC2086
    if ! cmake --build "$work/build" -j"$jobs" --target $targets >"$work/m-$name.build" 2>&1; then
      verdict="CAUGHT"; detail="(does not compile)"
    elif (cd "$work/build" && ctest -R "$tests" --timeout 900 >"$work/m-$name.test" 2>&1); then
      verdict="SURVIVED"; detail="($tests all passed)"
    else
      verdict="CAUGHT"
      detail="by $(grep -Eo '[0-9]+ - [^ ]+ \(Failed|Timeout|SEGFAULT|Subprocess aborted|Exception\)' "$work/m-$name.test" |
        sed -E 's/^[0-9]+ - //; s/ \(.*//' | paste -sd, -)"
    fi
  fi
  cp "$work/original" "$src/$file"
  touch "$src/$file"
  if [ "$verdict" = CAUGHT ] || [ "$verdict" = APPLIES ]; then caught=$((caught + 1)); else survived=$((survived + 1)); fi
  printf '%-28s %-9s %s\n    %s\n' "$name" "$verdict" "$detail" "$why"
  results+=("$name $verdict")
}

echo "mutation: applying each mutation, rebuilding and running its tests"

mutation kenny-pnl-sign agents/kenny.c "test_kenny test_undo" '^agents\.(kenny|undo)$' \
  "Kenny's realised P&L with its sign flipped" <<'EOF'
		pos->realized_pnl += closed * (price - pos->average_price) * (q > 0 ? 1 : -1);
====
		pos->realized_pnl += closed * (price - pos->average_price) * (q > 0 ? -1 : 1);
EOF

mutation kenny-flip-average agents/kenny.c "test_kenny" '^agents\.kenny$' \
  "a position flipped by one fill keeps the old average price" <<'EOF'
			pos->average_price = price;   /* flipped: the rest opened at this price */
====
			(void)0;   /* flipped: the rest opened at this price */
EOF

mutation kenny-quarantine-open agents/kenny.c "test_kenny ark test_pipeline" '^(agents\.kenny|pipeline\.watchdog)$' \
  "a quarantined Kenny sends orders (fails open)" <<'EOF'
	if (atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed)) {
		e->exec_status = ARK_EXEC_SUPPRESSED;
====
	if (0 && atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed)) {
		e->exec_status = ARK_EXEC_SUPPRESSED;
EOF

mutation joey-swap-sides agents/joey.c "test_joey" '^agents\.joey$' \
  "Joey's buy and sell swapped" <<'EOF'
		side = ARK_SIDE_BUY;
	else if (z >= ARK_JOEY_Z && sym->ema_fast > sym->ema_slow)
		side = ARK_SIDE_SELL;
====
		side = ARK_SIDE_SELL;
	else if (z >= ARK_JOEY_Z && sym->ema_fast > sym->ema_slow)
		side = ARK_SIDE_BUY;
EOF

mutation joey-no-warmup agents/joey.c "test_joey" '^agents\.joey$' \
  "Joey trades before its 64 observations" <<'EOF'
	if (!valid_price || ignored || sym->count < ARK_JOEY_WARMUP || !(sym->variance > 0) || sym->restricted)
====
	if (!valid_price || ignored || sym->count < 2 || !(sym->variance > 0) || sym->restricted)
EOF

mutation joey-outliers-folded agents/joey.c "test_joey" '^agents\.joey$' \
  "Joey folds a bad print into its statistics" <<'EOF'
	if (valid_price && outlier(sym, price)) {
====
	if (0 && valid_price && outlier(sym, price)) {
EOF

mutation undo-restore-off agents/runtime.c "test_undo" '^agents\.undo$' \
  "the undo log never restores what an unpublished batch changed" <<'EOF'
			memcpy((char *)ctx->map.shm.base + e->offset, u->data + e->data_offset, e->len);
====
			(void)0;
EOF

mutation undo-published-always agents/runtime.c "test_undo" '^agents\.undo$' \
  "a restart takes every batch for published" <<'EOF'
	bool published = commit != 0 && published_seq >= commit;
====
	bool published = commit != 0 || published_seq >= commit;
EOF

mutation undo-save-uncounted agents/runtime.c "test_undo" '^agents\.undo$' \
  "an undo record saved but never counted" <<'EOF'
	atomic_store_explicit(&u->count, n + 1, memory_order_release);
====
	atomic_store_explicit(&u->count, n, memory_order_release);
EOF

mutation fdatasync-noop store/journal_io.c "test_store_durability" '^store_durability_fallback$' \
  "the fallback's fdatasync turned into a no-op" <<'EOF'
		int r = datasync ? fdatasync(fd) : fsync(fd);
====
		int r = 0;
EOF

mutation uring-fsync-nop store/journal_io.c "test_store_durability" '^store_durability_uring$' \
  "io_uring's fsync turned into a nop" <<'EOF'
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
====
	io_uring_prep_nop(sqe);
EOF

mutation dir-sync-skipped store/journal.c "test_store_durability" '^store_durability_(uring|fallback)$' \
  "a new segment's directory entry never synced" <<'EOF'
	bool with_dir = !s->dir_synced;
====
	bool with_dir = false;
EOF

mutation journal-crc-unchecked store/journal_format.c "test_store_journal test_store_crash" '^store_(journal|crash)_uring$' \
  "the journal's record CRC is not checked" <<'EOF'
	if (ark_journal_record_crc(&h, p + sizeof h) != h.crc) {
====
	if (0 && ark_journal_record_crc(&h, p + sizeof h) != h.crc) {
EOF

mutation journal-append-seq store/journal.c "test_store_journal" '^store_journal_uring$' \
  "the writer takes a seq that does not increase" <<'EOF'
	if (j->has_records && seq <= j->last_seq)
====
	if (j->has_records && seq < j->last_seq)
EOF

mutation reader-seq-order store/journal_read.c "test_store_journal" '^store_journal_uring$' \
  "a reader hands out a seq that goes backwards" <<'EOF'
			if (r->have_last && h.seq <= r->last_seq)
====
			if (0 && r->have_last && h.seq <= r->last_seq)
EOF

mutation follower-skips-tail store/journal_read.c "test_store_journal" '^store_journal_(uring|fallback)$' \
  "the follower moves on without reading the old segment's size again" <<'EOF'
		if (newer && grew_since_scanned(r))
====
		if (0 && newer && grew_since_scanned(r))
EOF

mutation hrm-quantity-bound graveyard/evaluate.c "test_graveyard_eval" '^graveyard\.eval$' \
  "HRM's quantity limit doubled" <<'EOF'
	if (!(q > 0 && q <= l->max_order_quantity * slack))
====
	if (!(q > 0 && q <= 2 * l->max_order_quantity * slack))
EOF

mutation hrm-price-collar graveyard/evaluate.c "test_graveyard_eval" '^graveyard\.eval$' \
  "HRM's price collar not applied below the reference" <<'EOF'
	if (!(limit > 0 && fabs(limit - price) <= l->price_collar * price * slack))
====
	if (!(limit > 0 && limit - price <= l->price_collar * price * slack))
EOF

mutation ring-free-slots ring/ring.h "test_ring_unit test_ring_stress" '^ring\.(unit|stress\.thread\.spin|stress\.process\.spin\.cap16)$' \
  "the ring's producer counts one free slot too many" <<'EOF'
	uint64_t free_slots = p->capacity - (p->head - p->tail_cache);
	if (free_slots < want) {
====
	uint64_t free_slots = p->capacity + 1 - (p->head - p->tail_cache);
	if (free_slots < want) {
EOF

mutation ring-peek-extra ring/ring.h "test_ring_unit test_ring_stress" '^ring\.(unit|stress\.thread\.spin|stress\.process\.spin\.cap16)$' \
  "the ring's consumer sees one event that is not there" <<'EOF'
	uint64_t avail = c->head_cache - c->tail;
	if (avail == 0) {
		c->head_cache = atomic_load_explicit(&c->ring->head, memory_order_acquire);
		avail = c->head_cache - c->tail;
	}
====
	uint64_t avail = c->head_cache - c->tail;
	if (avail == 0) {
		c->head_cache = atomic_load_explicit(&c->ring->head, memory_order_acquire);
		avail = c->head_cache - c->tail + 1;
	}
EOF

mutation jwt-any-alg api/jwt.c "test_jwt" '^api\.jwt$' \
  "the JWT verifier takes any alg" <<'EOF'
	if (!alg || !string_is(&hj, alg, "HS256"))
====
	if (!alg)
EOF

mutation jwt-expiry-ignored api/jwt.c "test_jwt" '^api\.jwt$' \
  "the JWT verifier takes an expired token" <<'EOF'
	if (now_s > claims->exp + c->leeway_s)
====
	if (0 && now_s > claims->exp + c->leeway_s)
EOF

mutation api-drops-a-signal api/server.c "ark" '^api\.server$' \
  "the ingest API answers 202 for a batch and publishes one signal fewer" <<'EOF'
	ark_ring_commit(&a->out, n);
	a->accepted += n;
====
	ark_ring_commit(&a->out, n > 1 ? n - 1 : n);
	a->accepted += n;
EOF

mutation hist-rank-off-by-one hist/hist.c "test_hist" '^hist\.unit$' \
  "the histogram's quantile one rank late" <<'EOF'
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
====
	uint64_t rank = (uint64_t)(q * (double)h->count + 1.999999999);
EOF

mutation parse-u64-range common/common.c "test_common" '^common\.unit$' \
  "a whole number above its maximum accepted" <<'EOF'
	if (errno || *end != '\0' || v < min || v > max)
		return ark_err_set(err, -ERANGE, "%s: expected a whole number from %llu to %llu, got '%s'",
====
	if (errno || *end != '\0' || v < min)
		return ark_err_set(err, -ERANGE, "%s: expected a whole number from %llu to %llu, got '%s'",
EOF

mutation trace-id-wraps event/event.c "test_event" '^event\.unit$' \
  "a decimal trace id above 48 bits wrapped to another id" <<'EOF'
	if (seq > 0xffffffffffffull)
====
	if (0 && seq > 0xffffffffffffull)
EOF

echo
for r in "${results[@]}"; do echo "  $r"; done
if [ $check = 1 ]; then
  echo "mutations: $caught apply, $survived stale"
else
  echo "mutations: $caught caught, $survived survived"
fi
[ $survived -eq 0 ]
