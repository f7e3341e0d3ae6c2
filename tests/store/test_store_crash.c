/* tests/store/test_store_crash.c — kill -9 in the middle of heavy journal and
 * SQLite writing, many times. The child appends records, flushes, polls, and
 * applies durable records to the Mutable Core in BEGIN IMMEDIATE batches
 * (orders keyed by seq, plus journal_last_applied_seq in the same
 * transaction), reporting through shared memory what it knows is durable and
 * committed. After each kill the parent reopens both and checks:
 * integrity_check ok, every journal record passes its CRC, seqs contiguous,
 * nothing reported durable or committed is missing, and the database's
 * applied seq never runs ahead of the journal. Runs on io_uring and on the
 * fallback (ARK_IO_URING=0). */
#include "store_test.h"

#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

struct report {
	_Atomic uint64_t durable_seq;     /* journal durable_seq the child saw */
	_Atomic uint64_t committed_seq;   /* applied seq of the last COMMIT that returned */
	_Atomic uint64_t iterations_started;
};

static char root[256];

static void child(const struct ark_store_config *cfg, struct report *rep, uint64_t seed)
{
	struct ark_err err = {0};
	struct ark_journal_recovery rec;
	struct ark_journal *j;
	if (ark_journal_open(&j, cfg, &rec, &err) != 0) {
		fprintf(stderr, "child: journal open: %s\n", err.msg);
		_exit(20);
	}
	struct ark_core *core;
	if (ark_core_open(&core, cfg, 0, NULL, &err) != 0) {
		fprintf(stderr, "child: core open: %s\n", err.msg);
		_exit(21);
	}
	uint64_t seq = ark_journal_last_seq(j);
	uint64_t applied = 0;
	if (ark_core_journal_applied_seq(core, &applied, &err) != 0)
		_exit(22);
	atomic_fetch_add(&rep->iterations_started, 1);
	uint8_t buf[1024];
	struct ark_core_order orders[64];
	uint64_t x = seed | 1;
	for (;;) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t burst = 50 + (uint32_t)(x % 400);
		for (uint32_t i = 0; i < burst; i++) {
			seq++;
			uint32_t len = payload_len(seq);
			payload_fill(seq, buf, len);
			if (ark_journal_append(j, seq, trace_of(seq), buf, len, &err) != 0) {
				fprintf(stderr, "child: append: %s\n", err.msg);
				_exit(23);
			}
		}
		if (ark_journal_flush(j, &err) != 0 || ark_journal_poll(j, &err) != 0)
			_exit(24);
		uint64_t durable = ark_journal_durable_seq(j);
		atomic_store(&rep->durable_seq, durable);
		/* apply what is durable, in batches of up to 64 */
		while (applied < durable) {
			uint32_t n = 0;
			while (n < ARK_ARRAY_LEN(orders) && applied + n < durable) {
				uint64_t s = applied + n + 1;
				struct ark_core_order *o = &orders[n++];
				memset(o, 0, sizeof *o);
				o->trace_id = s;
				o->seq = s;
				snprintf(o->symbol, sizeof o->symbol, "SYM%llu", (unsigned long long)(s % 50));
				o->side = s % 2 ? ARK_CORE_SIDE_BUY : ARK_CORE_SIDE_SELL;
				o->qty = (double)(s % 1000);
				o->limit_price = 100.0 + (double)(s % 17);
				snprintf(o->status, sizeof o->status, "new");
				o->created_ns = s;
			}
			if (ark_core_begin(core, &err) || ark_core_insert_orders(core, orders, n, &err) ||
			    ark_core_set_journal_applied_seq(core, applied + n, &err) ||
			    ark_core_commit(core, &err)) {
				fprintf(stderr, "child: apply: %s\n", err.msg);
				_exit(25);
			}
			applied += n;
			atomic_store(&rep->committed_seq, applied);
		}
		ark_core_checkpoint(core, false, NULL);
	}
}

static void check_after_crash(const struct ark_store_config *cfg, const struct report *rep, int iter)
{
	struct ark_err err = {0};
	/* the journal: reopening cuts a torn tail; every record then checks */
	struct ark_journal_recovery rec;
	struct ark_journal *j;
	CHECK_MSG(ark_journal_open(&j, cfg, &rec, &err) == 0, "iteration %d: journal: %s", iter, err.msg);
	uint64_t last = ark_journal_last_seq(j);
	CHECK_MSG(last >= atomic_load(&rep->durable_seq),
		  "iteration %d: durable seq %llu missing (journal ends at %llu)", iter,
		  (unsigned long long)atomic_load(&rep->durable_seq), (unsigned long long)last);
	CHECK(ark_journal_close(j, &err) == 0);
	struct ark_journal_verify_result res;
	CHECK(ark_journal_verify(cfg->journal_dir, &res, NULL, NULL, &err) == 0);
	CHECK_MSG(res.damaged == 0 && res.gaps == 0, "iteration %d: %llu damaged, %llu gaps", iter,
		  (unsigned long long)res.damaged, (unsigned long long)res.gaps);
	CHECK_EQ_U64(res.last_seq, last);
	if (last)
		CHECK_EQ_U64(res.first_seq, 1);
	CHECK_EQ_U64(res.records, last);

	/* the database: integrity_check at open (full), nothing committed lost */
	struct ark_core *core;
	struct ark_core_open_info info;
	CHECK_MSG(ark_core_open(&core, cfg, 0, &info, &err) == 0, "iteration %d: core: %s", iter, err.msg);
	CHECK(strcmp(info.integrity, "ok") == 0);
	uint64_t applied, count;
	CHECK(ark_core_journal_applied_seq(core, &applied, &err) == 0);
	CHECK(ark_core_count(core, "orders", &count, &err) == 0);
	CHECK_MSG(applied >= atomic_load(&rep->committed_seq), "iteration %d: committed %llu, found %llu",
		  iter, (unsigned long long)atomic_load(&rep->committed_seq), (unsigned long long)applied);
	CHECK_EQ_U64(count, applied);  /* orders and the applied seq moved together */
	CHECK_MSG(applied <= last, "iteration %d: database applied %llu beyond the journal's %llu", iter,
		  (unsigned long long)applied, (unsigned long long)last);
	ark_core_close(core);
}

int main(void)
{
	make_tmpdir(root, sizeof root, "crash");
	struct ark_store_config cfg;
	test_config(&cfg, root);
	cfg.log = quiet_log;
	cfg.segment_bytes = 256 << 10; /* roll segments often: kills land mid-roll too */
	cfg.buffer_bytes = 1 << 20;
	cfg.sync_interval_ns = 2000000;
	cfg.db_wal_max_bytes = 1 << 20; /* checkpoints happen during the run */
	struct report *rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(rep != MAP_FAILED);
	const int iterations = (int)test_scaled(24, 12);
	uint64_t seed = (uint64_t)ark_now_ns();
	for (int it = 0; it < iterations; it++) {
		/* alternate the sync modes that give durability */
		cfg.sync = it % 2 ? ARK_JOURNAL_SYNC_BATCH : ARK_JOURNAL_SYNC_INTERVAL;
		uint64_t started = atomic_load(&rep->iterations_started);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			child(&cfg, rep, seed + (uint64_t)it);
		/* let it get going, then kill it at a random moment */
		uint64_t deadline = ark_now_ns() + 10ull * 1000000000ull;
		while (atomic_load(&rep->iterations_started) == started) {
			CHECK_MSG(ark_now_ns() < deadline, "child did not start");
			int st;
			CHECK_MSG(waitpid(pid, &st, WNOHANG) == 0, "child exited early (status %d)", st);
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
		struct timespec ts = {0, (long)(20000000 + (seed * (uint64_t)(it + 7)) % 100000000)};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "child ended on its own (status %d)", status);
		check_after_crash(&cfg, rep, it);
	}
	printf("test_store_crash (%s): %d kills, journal at seq %llu, %llu rows committed: ok\n",
	       cfg.io_uring ? "io_uring" : "fallback", iterations,
	       (unsigned long long)atomic_load(&rep->durable_seq),
	       (unsigned long long)atomic_load(&rep->committed_seq));
	rm_rf(root);
	return 0;
}
