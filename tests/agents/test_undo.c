/* tests/agents/test_undo.c — the undo log (agents/runtime.c) killed at every
 * step of a batch. For Joey, HRM and Kenny in turn: a segment with the
 * agent warmed up and one batch waiting on its input ring is saved; the
 * real agent process (ark_agent_run, as `ark agent NAME` runs it) processes
 * the batch uninterrupted, giving the reference: its state, what it
 * published, what it released, the orders the venue holds. Then for every
 * step k of that batch (each undo record saved, each event processed, the
 * commit seq, the publication, the end of the log, the release) the saved
 * segment is put back, the agent is killed with SIGKILL at step k through
 * the runtime's fault-point seam, restarted, and must end exactly as the
 * reference did: a batch killed before its publication is rolled back and
 * redone, one killed after it stands, nothing is applied twice and nothing
 * is lost. Measurements (HRM's evaluation time, its drift checks, which
 * every start makes) and Kenny's count of resends the venue recognised
 * are left out of the comparison; the venue's own order count is not. */
#include "agents_test.h"

#include <sys/mman.h>

static const char *rules_path;

/* ---- the fault point: count the steps of one agent, die at one ---- */

struct shared {
	long steps;           /* steps the child went through */
	char killed_at[32];   /* the step it was killed at */
};
static struct shared *shared;
static enum ark_agent fault_agent;
static long fault_kill_at; /* 0: never */
static long fault_steps;

void ark_agent_fault_point(enum ark_agent agent, const char *step);
void ark_agent_fault_point(enum ark_agent agent, const char *step)
{
	if (agent != fault_agent)
		return;
	if (++fault_steps == fault_kill_at) {
		snprintf(shared->killed_at, sizeof shared->killed_at, "%s", step);
		raise(SIGKILL);
	}
}

/* Run the agent as its own process until it drained its input (the
 * pipeline's stop flag is set), or kill it at step kill_at. Returns the
 * wait status. */
static int run_agent(struct fixture *f, enum ark_agent agent, long kill_at)
{
	shared->steps = 0;
	shared->killed_at[0] = '\0';
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fault_agent = agent;
		fault_kill_at = kill_at;
		fault_steps = 0;
		struct ark_agent_options o = {.standby_fd = -1, .wait_segment_s = 0, .lane = ARK_LANE_STABLE};
		int status = ark_agent_run(agent, f->instance, &o);
		shared->steps = fault_steps;
		_exit(status);
	}
	uint64_t deadline = ark_now_ns() + 120ull * 1000000000ull;
	int status;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		CHECK(w >= 0);
		if (w == pid)
			return status;
		if (ark_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			CHECK_MSG(false, "agent %s did not finish within 120 s", ark_agent_file_name(agent));
		}
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

/* ---- what is compared ---- */

#define MAX_OUT 1024

struct outcome {
	uint8_t *state;
	size_t state_size;
	struct ark_event out[MAX_OUT];
	uint32_t nout;
	uint64_t in_tail;
	uint64_t venue_orders;
};

static void normalize_state(enum ark_agent agent, uint8_t *state)
{
	if (agent == ARK_AGENT_HRM) {
		struct ark_hrm_state *s = (struct ark_hrm_state *)state;
		s->drift_checks = 0;                                  /* every start checks */
		memset(&s->graveyard.drift, 0, sizeof s->graveyard.drift);
		memset(&s->eval_ns, 0, sizeof s->eval_ns);            /* a measurement */
	} else if (agent == ARK_AGENT_KENNY) {
		((struct ark_kenny_state *)state)->duplicates = 0;     /* resends the venue recognised */
	}
}

static void capture(struct fixture *f, enum ark_agent agent, struct outcome *o)
{
	o->state_size = ark_pipeline_state_size(agent);
	if (!o->state)
		o->state = malloc(o->state_size);
	CHECK(o->state);
	memcpy(o->state, ark_pipeline_lane_agent_state(&f->map, ARK_LANE_STABLE, agent), o->state_size);
	normalize_state(agent, o->state);
	o->nout = fixture_output(f, agent, o->out, MAX_OUT);
	for (uint32_t i = 0; i < o->nout; i++) {
		memset(o->out[i].stamp_in_ns, 0, sizeof o->out[i].stamp_in_ns);
		memset(o->out[i].stamp_out_ns, 0, sizeof o->out[i].stamp_out_ns);
		o->out[i].flags &= (uint16_t)~ARK_EVENT_REPLAYED;
	}
	struct ark_ring *in = ark_pipeline_lane_ring(&f->map, ARK_LANE_STABLE, (enum ark_agent)(agent - 1));
	o->in_tail = atomic_load(&in->tail);
	uint64_t resends;
	ark_pipeline_venue_counts(&f->map, &o->venue_orders, &resends);
}

static void compare(enum ark_agent agent, const struct outcome *want, const struct outcome *got, long k,
		    const char *step)
{
	const char *name = ark_agent_name(agent);
	CHECK_MSG(got->nout == want->nout, "%s killed at step %ld (%s): published %u events, uninterrupted %u", name,
		  k, step, got->nout, want->nout);
	for (uint32_t i = 0; i < want->nout; i++)
		CHECK_MSG(memcmp(&got->out[i], &want->out[i], sizeof want->out[i]) == 0,
			  "%s killed at step %ld (%s): published event %u (seq %llu) differs from the uninterrupted run", name,
			  k, step, i, (unsigned long long)want->out[i].seq);
	CHECK_MSG(got->in_tail == want->in_tail, "%s killed at step %ld (%s): input released to %llu, uninterrupted %llu",
		  name, k, step, (unsigned long long)got->in_tail, (unsigned long long)want->in_tail);
	CHECK_MSG(got->venue_orders == want->venue_orders,
		  "%s killed at step %ld (%s): the venue holds %llu orders, uninterrupted %llu", name, k, step,
		  (unsigned long long)got->venue_orders, (unsigned long long)want->venue_orders);
	if (memcmp(got->state, want->state, want->state_size) != 0) {
		size_t at = 0;
		while (at < want->state_size && got->state[at] == want->state[at])
			at++;
		CHECK_MSG(false, "%s killed at step %ld (%s): its state differs from the uninterrupted run's at byte %zu of %zu",
			  name, k, step, at, want->state_size);
	}
}

/* ---- the batches ---- */

#define SEC 1000000000ull

static uint64_t seq;
static uint64_t market_ns;

static struct ark_event ev(uint32_t id, double price)
{
	static const char *names[] = {"AAA", "BBB", "CCC"};
	struct ark_event e;
	market_ns += SEC / 5;
	make_event(&e, ++seq, id, names[id % 3], price, market_ns);
	return e;
}

static struct ark_event intent(uint32_t id, double price, uint8_t side, double qty)
{
	struct ark_event e = ev(id, price);
	e.side = side;
	e.quantity = qty;
	e.limit_price = price;
	e.strategy = 1;
	return e;
}

/* Joey: quiet prices to warm two symbols up; the batch moves them so
 * that intents fire (both sides) between no-action events. */
static uint32_t joey_events(struct ark_event *w, uint32_t *nw, uint32_t n, struct ark_event *b)
{
	*nw = 0;
	for (int i = 0; i < 70; i++) {
		w[(*nw)++] = ev(1, i % 2 ? 100.2 : 100.0);
		w[(*nw)++] = ev(2, i % 2 ? 50.1 : 50.0);
	}
	/* moves of about six deviations: intents, not bad prints */
	for (uint32_t i = 0; i < n; i++) {
		double p1 = i % 4 == 1 ? 99.5 : (i % 4 == 3 ? 100.7 : 100.1);
		b[i] = i % 2 ? ev(2, i % 3 == 0 ? 50.35 : 50.05) : ev(1, p1);
	}
	return n;
}

/* HRM: marks first; the batch's intents are allowed, denied (too large,
 * outside the collar) or absent. */
static uint32_t hrm_events(struct ark_event *w, uint32_t *nw, uint32_t n, struct ark_event *b)
{
	*nw = 0;
	w[(*nw)++] = ev(0, 100.0);
	w[(*nw)++] = ev(1, 50.0);
	w[(*nw)++] = intent(0, 100.0, ARK_SIDE_BUY, 10);
	for (uint32_t i = 0; i < n; i++) {
		switch (i % 4) {
		case 0: b[i] = intent(0, 100.0 + i * 0.01, i % 8 ? ARK_SIDE_BUY : ARK_SIDE_SELL, 10 + i); break;
		case 1: b[i] = intent(1, 50.0, ARK_SIDE_SELL, 20000); break;      /* max_quantity */
		case 2: b[i] = ev(1, 50.0 + i * 0.01); break;                       /* no intent: a mark */
		default: b[i] = intent(1, 50.0, ARK_SIDE_BUY, 5 + i); break;
		}
	}
	return n;
}

/* Kenny: positions first; the batch fills, flips, and forwards denials. */
static uint32_t kenny_events(struct ark_event *w, uint32_t *nw, uint32_t n, struct ark_event *b)
{
	*nw = 0;
	struct ark_event e = intent(0, 100.0, ARK_SIDE_BUY, 30);
	e.verdict = ARK_VERDICT_ALLOW;
	w[(*nw)++] = e;
	e = intent(1, 50.0, ARK_SIDE_SELL, 10);
	e.verdict = ARK_VERDICT_ALLOW;
	w[(*nw)++] = e;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = i % 2;
		double price = (id ? 50.0 : 100.0) + (double)(i % 5) - 2;
		b[i] = intent(id, price, i % 3 == 0 ? ARK_SIDE_SELL : ARK_SIDE_BUY, 10 + 7 * (i % 4));
		b[i].verdict = i % 5 == 4 ? ARK_VERDICT_DENY : ARK_VERDICT_ALLOW;
		if (i % 6 == 5)
			b[i].side = ARK_SIDE_NONE;
	}
	return n;
}

static void scenario(enum ark_agent agent, uint32_t (*make)(struct ark_event *, uint32_t *, uint32_t, struct ark_event *))
{
	const uint32_t n = (uint32_t)test_scaled(12, 4);
	struct fixture f;
	fixture_create(&f, ark_agent_file_name(agent), rules_path);
	atomic_store(&f.map.pipeline->stop, 1); /* each run drains its input and exits */
	static struct ark_event warm[256], batch[64];
	uint32_t nwarm;
	seq = 0;
	market_ns = ark_realtime_ns() - 3600 * SEC;
	make(warm, &nwarm, n, batch);
	fixture_feed(&f, agent, warm, nwarm);
	int st = run_agent(&f, agent, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s warm-up run: status %d", ark_agent_name(agent), st);
	fixture_feed(&f, agent, batch, n);

	/* the segment as the batch finds it */
	size_t size = f.map.shm.size;
	uint8_t *saved = malloc(size);
	CHECK(saved);
	memcpy(saved, f.map.shm.base, size);

	static struct outcome want, got;
	st = run_agent(&f, agent, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s uninterrupted run: status %d", ark_agent_name(agent), st);
	long steps = shared->steps;
	capture(&f, agent, &want);
	CHECK_EQ_U64(want.nout, nwarm + n);
	CHECK_MSG(steps >= (long)n * 2 + 4, "%s: only %ld fault points in a batch of %u", ark_agent_name(agent), steps, n);

	struct ark_agent_control *control = ark_pipeline_lane_control(&f.map, ARK_LANE_STABLE, agent);
	long rolled_back = 0, kept = 0;
	for (long k = 1; k <= steps; k++) {
		memcpy(f.map.shm.base, saved, size);
		st = run_agent(&f, agent, k);
		CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: not killed at step %ld (status %d)",
			  ark_agent_name(agent), k, st);
		char step[32];
		snprintf(step, sizeof step, "%s", shared->killed_at);
		uint64_t rollbacks = atomic_load(&control->rollbacks);
		st = run_agent(&f, agent, 0);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s restart after step %ld: status %d",
			  ark_agent_name(agent), k, st);
		if (atomic_load(&control->rollbacks) > rollbacks)
			rolled_back++;
		else
			kept++;
		capture(&f, agent, &got);
		compare(agent, &want, &got, k, step);
	}
	/* both outcomes of a restart happened: batches rolled back (killed
	 * before their publication) and batches that stood */
	CHECK_MSG(rolled_back > 0 && kept > 0, "%s: %ld rolled back, %ld kept", ark_agent_name(agent), rolled_back, kept);
	printf("%s: killed at each of %ld steps of a batch of %u events: %ld rolled back and redone, %ld stood; "
	       "every restart ended as the uninterrupted run\n",
	       ark_agent_name(agent), steps, n, rolled_back, kept);
	free(saved);
	free(want.state);
	free(got.state);
	want.state = got.state = NULL;
	fixture_destroy(&f);
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_undo RULES_FILE");
	rules_path = argv[1];
	shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shared != MAP_FAILED);
	scenario(ARK_AGENT_JOEY, joey_events);
	scenario(ARK_AGENT_HRM, hrm_events);
	scenario(ARK_AGENT_KENNY, kenny_events);
	printf("test_undo: ok\n");
	return 0;
}
