/* cli/cmd_journal.c — `ark journal verify` and `ark journal tail`: the
 * operator's view of Aletheia's journal ($ARK_DATA_DIR/journal, or --dir).
 * verify checks every segment header, every record's CRC32C and the seq
 * order, names each damaged record (segment file, offset, seq) and exits 1 on
 * damage (and on gaps unless --allow-gaps). tail prints records from a seq
 * (or the last N) and with --follow keeps printing as the journal grows. */
#include "cli/command.h"
#include "common/common.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark journal verify [--dir DIR] [--allow-gaps] [--json]\n"
		"       ark journal tail [--dir DIR] [--from SEQ] [--count N] [--follow] [--bytes N] [--json]\n\n"
		"verify  checks every segment header, every record's CRC32C, and that seqs\n"
		"        increase without gaps. Each problem is printed with its segment file,\n"
		"        offset and seq. Exit status 0 when intact, 1 on damage or gaps.\n"
		"        --allow-gaps  report gaps but do not fail on them\n"
		"tail    prints records: from --from SEQ onward, or the last --count (default\n"
		"        10). --follow keeps printing new records until Ctrl-C. --bytes N\n"
		"        shows the first N payload bytes in hex (default 32, 0 for none).\n"
		"--dir   the journal directory (default $ARK_DATA_DIR/journal)\n"
		"--json  verify: one JSON object; tail: one JSON object per line\n");
}

static const char *kind_name(enum ark_journal_problem_kind k)
{
	switch (k) {
	case ARK_JOURNAL_BAD_SEGMENT_HEADER: return "bad_segment_header";
	case ARK_JOURNAL_BAD_RECORD: return "bad_record";
	case ARK_JOURNAL_SEQ_NOT_INCREASING: return "seq_not_increasing";
	case ARK_JOURNAL_SEQ_GAP: return "seq_gap";
	case ARK_JOURNAL_TAIL_IN_PROGRESS: return "tail_in_progress";
	}
	return "?";
}

struct verify_out {
	bool json;
	struct ark_json *j;
	const char *dir;
};

static void print_problem(void *ctx, const struct ark_journal_problem *p)
{
	struct verify_out *o = ctx;
	if (o->json) {
		ark_json_object_begin(o->j, NULL);
		ark_json_string(o->j, "kind", kind_name(p->kind));
		ark_json_string(o->j, "segment", p->segment);
		ark_json_uint(o->j, "offset", p->offset);
		ark_json_uint(o->j, "seq", p->seq);
		if (p->expected_seq)
			ark_json_uint(o->j, "expected_seq", p->expected_seq);
		ark_json_string(o->j, "detail", p->detail);
		ark_json_object_end(o->j);
		return;
	}
	const char *label = p->kind == ARK_JOURNAL_SEQ_GAP ? "GAP"
			    : p->kind == ARK_JOURNAL_TAIL_IN_PROGRESS ? "TAIL" : "DAMAGE";
	printf("%-6s %s/%s offset %" PRIu64 " seq %" PRIu64 ": %s\n", label, o->dir, p->segment,
	       p->offset, p->seq, p->detail);
}

static int journal_dir_from(const char *opt, char *dir, size_t cap)
{
	if (opt) {
		snprintf(dir, cap, "%s", opt);
		return 0;
	}
	struct ark_store_config cfg;
	struct ark_err err = {0};
	if (ark_store_config_from_env(&cfg, &err) != 0)
		return ark_cli_fail("journal", &err, 2);
	snprintf(dir, cap, "%s", cfg.journal_dir);
	return 0;
}

static int verify_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
		{"allow-gaps", no_argument, NULL, 'g'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *dir_opt = NULL;
	bool json = false, allow_gaps = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:jgh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'j': json = true; break;
		case 'g': allow_gaps = true; break;
		default: return ark_cli_usage(usage, c, 0);
		}
	}
	if (ark_cli_no_operands("journal verify", argc, argv))
		return 2;
	char dir[PATH_MAX];
	int rc = journal_dir_from(dir_opt, dir, sizeof dir);
	if (rc)
		return rc;
	struct ark_json j;
	struct verify_out o = {.json = json, .j = &j, .dir = dir};
	if (json) {
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "journal_dir", dir);
		ark_json_array_begin(&j, "problems");
	}
	struct ark_journal_verify_result res;
	struct ark_err err = {0};
	rc = ark_journal_verify(dir, &res, print_problem, &o, &err);
	bool ok = rc == 0 && res.damaged == 0 && (allow_gaps || res.gaps == 0);
	if (json) {
		ark_json_array_end(&j);
		if (rc)
			ark_json_string(&j, "error", err.msg);
		ark_json_uint(&j, "segments", res.segments);
		ark_json_uint(&j, "records", res.records);
		ark_json_uint(&j, "bytes", res.bytes);
		ark_json_uint(&j, "first_seq", res.first_seq);
		ark_json_uint(&j, "last_seq", res.last_seq);
		ark_json_uint(&j, "damaged", res.damaged);
		ark_json_uint(&j, "gaps", res.gaps);
		ark_json_uint(&j, "missing_seqs", res.missing_seqs);
		ark_json_bool(&j, "writer_active", res.writer_active);
		ark_json_bool(&j, "ok", ok);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else if (rc) {
		fprintf(stderr, "ark journal verify: %s\n", err.msg);
	} else {
		printf("journal %s: %" PRIu64 " segments, %" PRIu64 " records, seq %" PRIu64 "..%" PRIu64
		       ", %" PRIu64 " bytes%s\n",
		       dir, res.segments, res.records, res.first_seq, res.last_seq, res.bytes,
		       res.writer_active ? " (a writer has it open)" : "");
		if (ok && res.gaps == 0)
			printf("ok: every CRC checks, seqs increase without gaps\n");
		else
			printf("%s: %" PRIu64 " damaged, %" PRIu64 " gaps (%" PRIu64 " seqs missing)\n",
			       ok ? "ok (gaps allowed)" : "FAILED", res.damaged, res.gaps, res.missing_seqs);
	}
	return rc ? 1 : ok ? 0 : 1;
}

struct held {
	uint64_t seq, trace_id, offset;
	uint32_t len;
	char segment[64];
	uint8_t bytes[256];
};

static void print_record(const struct held *r, uint32_t show, bool json)
{
	uint32_t n = r->len < show ? r->len : show;
	char hex[2 * sizeof r->bytes + 1];
	for (uint32_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", r->bytes[i]);
	hex[2 * n] = '\0';
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_uint(&j, "seq", r->seq);
		ark_json_uint(&j, "trace_id", r->trace_id);
		ark_json_uint(&j, "len", r->len);
		ark_json_string_n(&j, "segment", r->segment, sizeof r->segment);
		ark_json_uint(&j, "offset", r->offset);
		ark_json_string(&j, "payload_hex", hex);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else
		printf("seq=%" PRIu64 " trace=0x%016" PRIx64 " len=%u %s@%" PRIu64 "%s%s%s\n", r->seq,
		       r->trace_id, r->len, r->segment, r->offset, n ? " payload=" : "", hex,
		       n < r->len && n ? "..." : "");
	fflush(stdout);
}

static void hold(struct held *h, const struct ark_journal_record *rec)
{
	h->seq = rec->seq;
	h->trace_id = rec->trace_id;
	h->offset = rec->offset;
	h->len = rec->len;
	snprintf(h->segment, sizeof h->segment, "%s", rec->segment);
	memcpy(h->bytes, rec->payload, rec->len < sizeof h->bytes ? rec->len : sizeof h->bytes);
}

/* `ark journal tail`'s options. */
struct tail_args {
	const char *dir_opt;
	bool json, follow, have_from, have_count;
	uint64_t from, count, show;
};

/* -1 to go on, else the exit status (after saying why). */
static int tail_parse(int argc, char **argv, struct tail_args *a)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},   {"from", required_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'}, {"bytes", required_argument, NULL, 'b'},
		{"follow", no_argument, NULL, 'F'},      {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},        {0}};
	*a = (struct tail_args){.count = 10, .show = 32};
	struct ark_err err = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:f:n:b:Fjh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': a->dir_opt = optarg; break;
		case 'f':
			if (ark_parse_u64(optarg, 0, UINT64_MAX, "--from", &a->from, &err))
				return ark_cli_fail("journal tail", &err, 2);
			a->have_from = true;
			break;
		case 'n':
			if (ark_parse_u64(optarg, 1, 100000000, "--count", &a->count, &err))
				return ark_cli_fail("journal tail", &err, 2);
			a->have_count = true;
			break;
		case 'b':
			if (ark_parse_u64(optarg, 0, 256, "--bytes", &a->show, &err))
				return ark_cli_fail("journal tail", &err, 2);
			break;
		case 'F': a->follow = true; break;
		case 'j': a->json = true; break;
		default: return ark_cli_usage(usage, c, 0);
		}
	}
	if (ark_cli_no_operands("journal tail", argc, argv))
		return 2;
	return -1;
}

/* --from: the records from that sequence number on (--count of them).
 * *rc is the reader's last answer; 1 when the seek failed (said why). */
static int tail_from(struct ark_journal_reader *r, const struct tail_args *a, int *rc, struct ark_err *err)
{
	struct ark_journal_record rec;
	*rc = ark_journal_reader_seek(r, a->from, err);
	if (*rc && *rc != -ENOENT)
		return ark_cli_fail("journal tail", err, 1);
	if (*rc == -ENOENT)
		fprintf(stderr, "ark journal tail: %s; starting there\n", err->msg);
	uint64_t printed = 0;
	while ((!a->have_count || printed < a->count) && (*rc = ark_journal_reader_next(r, &rec, err)) == 0) {
		struct held h;
		hold(&h, &rec);
		print_record(&h, (uint32_t)a->show, a->json);
		printed++;
	}
	return 0;
}

/* The last --count records: start two segments from the end, keep a ring.
 * *rc is the reader's last answer; 1 when out of memory (said why). */
static int tail_last(struct ark_journal_reader *r, const char *dir, const struct tail_args *a, int *rc,
		     struct ark_err *err)
{
	struct ark_journal_record rec;
	uint64_t firsts[4096];
	size_t nseg = 0;
	if ((*rc = ark_journal_list(dir, firsts, ARK_ARRAY_LEN(firsts), &nseg, err)) == 0 && nseg > 0) {
		size_t k = ARK_MIN(nseg, ARK_ARRAY_LEN(firsts));
		ark_journal_reader_seek(r, firsts[k >= 2 ? k - 2 : 0], err);
	}
	struct held *ring = calloc(a->count, sizeof *ring);
	if (!ring) {
		fprintf(stderr, "ark journal tail: out of memory\n");
		return 1;
	}
	uint64_t seen = 0;
	while ((*rc = ark_journal_reader_next(r, &rec, err)) == 0)
		hold(&ring[seen++ % a->count], &rec);
	for (uint64_t i = seen > a->count ? seen - a->count : 0; i < seen; i++)
		print_record(&ring[i % a->count], (uint32_t)a->show, a->json);
	free(ring);
	return 0;
}

/* --follow: every record as it is written, until SIGINT or SIGTERM. */
static int tail_follow(struct ark_journal_reader *r, const struct tail_args *a, struct ark_err *err)
{
	struct ark_journal_record rec;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop_requested) {
		int rc = ark_journal_reader_wait(r, &rec, 200000000ull, err);
		if (rc == -EAGAIN)
			continue;
		if (rc)
			return ark_cli_fail("journal tail", err, 1);
		struct held h;
		hold(&h, &rec);
		print_record(&h, (uint32_t)a->show, a->json);
	}
	return 0;
}

static int tail_main(int argc, char **argv)
{
	struct tail_args a;
	int rc = tail_parse(argc, argv, &a);
	if (rc >= 0)
		return rc;
	struct ark_err err = {0};
	char dir[PATH_MAX];
	if ((rc = journal_dir_from(a.dir_opt, dir, sizeof dir)))
		return rc;
	struct ark_journal_reader *r;
	if ((rc = ark_journal_reader_open(&r, dir, &err)))
		return ark_cli_fail("journal tail", &err, 1);
	if (a.have_from ? tail_from(r, &a, &rc, &err) : tail_last(r, dir, &a, &rc, &err)) {
		ark_journal_reader_close(r);
		return 1;
	}
	int status = 0;
	if (rc != 0 && rc != -EAGAIN) {
		fprintf(stderr, "ark journal tail: %s\n", err.msg);
		status = 1;
	}
	if (a.follow && status == 0)
		status = tail_follow(r, &a, &err);
	ark_journal_reader_close(r);
	return status;
}

static int journal_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "verify") == 0)
		return verify_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "tail") == 0)
		return tail_main(argc - 1, argv + 1);
	fprintf(stderr, "ark journal: unknown subcommand '%s' (expected verify or tail)\n\n", argv[1]);
	usage(stderr);
	return 2;
}

ARK_COMMAND(journal_command, "journal", "verify the journal's CRCs and seqs, or tail its records",
	    journal_main)
