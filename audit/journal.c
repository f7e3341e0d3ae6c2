/* audit/journal.c — feeds the journal's events to the audit, in sequence
 * order (kept apart from the evaluator so that it builds without store/,
 * e.g. in the fuzz target that holds HRM to it). */
#include "audit/audit.h"

#include "store/store.h"

#include <errno.h>
#include <string.h>

int ark_audit_journal(struct ark_audit *a, const char *journal_dir, uint64_t from_seq, uint64_t to_seq,
		      struct ark_err *err)
{
	struct ark_journal_reader *reader = NULL;
	int rc = ark_journal_reader_open(&reader, journal_dir, err);
	if (rc)
		return rc;
	rc = ark_journal_reader_seek(reader, from_seq, err);
	if (rc == -ENOENT && from_seq == 0)
		rc = 0;
	while (!rc) {
		struct ark_journal_record rec;
		int r = ark_journal_reader_next(reader, &rec, err);
		if (r == -EAGAIN)
			break;
		if (r) {
			rc = r;
			break;
		}
		if (to_seq && rec.seq > to_seq)
			break;
		struct ark_event e;
		if (rec.len != sizeof e) {
			rc = ark_err_set(err, -EBADMSG, "journal record seq %llu is %u bytes, not an event of %zu",
					 (unsigned long long)rec.seq, rec.len, sizeof e);
			break;
		}
		memcpy(&e, rec.payload, sizeof e);
		ark_audit_event(a, &e);
	}
	ark_journal_reader_close(reader);
	return rc;
}
