/* audit/journal.c — feeds the journal's events to the audit, in sequence
 * order (kept apart from the evaluator so that it builds without store/,
 * e.g. in the fuzz target that holds HRM to it). */
#include "audit/audit.h"

#include "store/store.h"

#include <errno.h>
#include <string.h>

struct feed {
	struct ark_audit *audit;
	uint64_t to_seq;
	struct ark_err *err;
};

static int feed_one(void *ctx, const struct ark_journal_record *rec)
{
	struct feed *f = ctx;
	if (f->to_seq && rec->seq > f->to_seq)
		return 1;
	struct ark_event e;
	if (rec->len != sizeof e)
		return ark_err_set(f->err, -EBADMSG, "journal record seq %llu is %u bytes, not an event of %zu",
				   (unsigned long long)rec->seq, rec->len, sizeof e);
	memcpy(&e, rec->payload, sizeof e);
	ark_audit_event(f->audit, &e);
	return 0;
}

int ark_audit_journal(struct ark_audit *a, const char *journal_dir, uint64_t from_seq, uint64_t to_seq,
		      struct ark_err *err)
{
	struct feed f = {a, to_seq, err};
	return ark_journal_each(journal_dir, from_seq, feed_one, &f, err);
}
