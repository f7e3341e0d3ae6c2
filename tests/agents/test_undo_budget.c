/* tests/agents/test_undo_budget.c — the undo log's guarantees that do not
 * depend on a kill (test_undo.c kills each agent at every step of a batch):
 *   - an agent's scalars are saved whole: every named scalar lies inside
 *     the block ark_undo_save copies (sizeof s->scalars), and a batch that
 *     changed all of them is rolled back exactly;
 *   - a debug build holds each batch to the agent's declared budget: a save
 *     beyond it, or a batch larger than the budget's, aborts in the save or
 *     the begin (in a child), instead of overflowing the log at run time.
 * Under NDEBUG the budget checks are compiled out; the child then finishes
 * its batch and exits 0 (and the log's own overflow check still holds). */
#include "agents_test.h"

static const char *rules_path;

/* Every scalar named in the source lies inside the block saved for it. */
#define INSIDE(state, field)                                                                      \
	CHECK_MSG(offsetof(state, field) + sizeof(((state *)0)->field) <=                           \
			  offsetof(state, scalars) + sizeof(((state *)0)->scalars),                   \
		  #state "." #field " lies outside the scalars its undo saves")

static void test_scalars_cover_fields(void)
{
	INSIDE(struct ark_joey_state, last_seq);
	INSIDE(struct ark_joey_state, window_count);
	INSIDE(struct ark_hrm_state, buying_power_denials);
	INSIDE(struct ark_kenny_state, realized_pnl);
	INSIDE(struct ark_aletheia_state, lane_denials);
	INSIDE(struct ark_graveyard_state, reports_held);
	INSIDE(struct ark_graveyard_state, magic);
	CHECK(offsetof(struct ark_joey_state, symbols) >= sizeof(struct ark_joey_scalars));
	CHECK(offsetof(struct ark_hist, buckets) == sizeof(struct ark_hist_totals));
}

/* Joey's batch of one event: every scalar and the symbol changed, then the
 * batch never published: recover puts back every byte. */
static void test_rollback_exact(struct fixture *f)
{
	struct ark_agent_ctx ctx;
	fixture_ctx(f, ARK_AGENT_JOEY, &ctx);
	struct ark_joey_state *s = ctx.state;
	s->last_seq = 41;
	s->window_count = 7;
	s->gross_view = 1234.5;
	s->symbols[3].count = 9;
	struct ark_joey_state *before = malloc(sizeof *before);
	CHECK(before);
	memcpy(before, s, sizeof *before);
	ark_undo_begin(&ctx, 1);
	ark_undo_save(&ctx, &s->symbols[3], sizeof s->symbols[3]);
	ark_undo_save(&ctx, &s->scalars, sizeof s->scalars);
	memset(&s->scalars, 0xa5, sizeof s->scalars);
	memset(&s->symbols[3], 0x5a, sizeof s->symbols[3]);
	ark_undo_set_commit(&ctx, 42);
	/* Died before publishing 42: what was published is 41. */
	CHECK(ark_undo_recover(&ctx, 41));
	CHECK_MSG(memcmp(before, s, sizeof *before) == 0, "Joey's state rolled back byte for byte");
	/* Published: the changes stand. */
	ark_undo_begin(&ctx, 1);
	ark_undo_save(&ctx, &s->scalars, sizeof s->scalars);
	s->last_seq = 42;
	ark_undo_set_commit(&ctx, 42);
	CHECK(!ark_undo_recover(&ctx, 42));
	CHECK_EQ_U64(s->last_seq, 42);
	free(before);
	ark_log_close(ctx.log);
}

/* In a child: a batch of `events` for `agent` that saves `saves` scalars
 * blocks of `len` bytes each. Returns the child's wait status. */
static int batch_in_child(struct fixture *f, enum ark_agent agent, uint32_t events, uint32_t saves, size_t len)
{
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ark_agent_ctx ctx;
		fixture_ctx(f, agent, &ctx);
		ark_undo_begin(&ctx, events);
		for (uint32_t i = 0; i < saves; i++)
			ark_undo_save(&ctx, ctx.state, len);
		ark_undo_end(&ctx);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	return status;
}

static void expect_abort(int status, const char *what)
{
#ifdef NDEBUG
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d (NDEBUG: no check)", what, status);
#else
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: status %d, expected SIGABRT", what, status);
#endif
}

static void test_budget(struct fixture *f)
{
	/* Within: Joey's two saves per event, for a full batch. */
	int status = batch_in_child(f, ARK_AGENT_JOEY, ARK_PIPELINE_BATCH, 2 * ARK_PIPELINE_BATCH, 8);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a batch within its budget: status %d", status);
	fprintf(stderr, "(three assertion failures on the undo budget follow, expected in a debug build)\n");
	/* A third save for Joey's one event. */
	expect_abort(batch_in_child(f, ARK_AGENT_JOEY, 1, 3, 8), "Joey: three saves for one event");
	/* Two saves, but more bytes than one event of Joey's may save. */
	expect_abort(batch_in_child(f, ARK_AGENT_JOEY, 1, 2, sizeof(struct ark_joey_state) / 2),
		     "Joey: more bytes than its budget");
	/* A batch larger than the budget was made for. */
	expect_abort(batch_in_child(f, ARK_AGENT_KENNY, ARK_PIPELINE_BATCH + 1, 0, 0), "Kenny: a batch of 257");
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_undo_budget graveyard.rules");
	rules_path = argv[1];
	test_scalars_cover_fields();
	struct fixture f;
	fixture_create(&f, "budget", rules_path);
	test_rollback_exact(&f);
	test_budget(&f);
	fixture_destroy(&f);
	printf("undo budget tests passed\n");
	return 0;
}
