/* brokers/alpaca_client.c — the Alpaca broker (ark_broker_alpaca, ARK_BROKER=alpaca).
 *
 * Kenny's main thread never waits for the network: an allowed intent is
 * written into a slot of the order book in the segment (struct
 * ark_order_book), the event goes on marked SUBMITTED, and a broker thread
 * that owns a libcurl multi handle is woken. The broker thread POSTs
 * /v2/orders with a client_order_id made from the trace id, reads the answer,
 * checks it against the order (ark_alpaca_check_order: client order id,
 * the broker's id, symbol, side, quantity, a cumulative fill within the
 * order and never shrinking, fill prices the limit allows) and hands the slot
 * back; Kenny's main thread, between batches, publishes the answer as an
 * execution report (ARK_EVENT_EXEC_REPORT, what it adds to the order's fills
 * in its price and size: a report has no market data) on ring.reports. Kyle numbers reports like
 * ticks, so each goes through HRM and Kenny in sequence order — Kenny's
 * position takes the fill there, under its undo log — and into the journal,
 * from which Aletheia records it in the Mutable Core. An order still open at
 * Alpaca is polled until it is done, each change reported.
 *
 * An answer that fails its checks is an anomaly: nothing of it is applied;
 * its report (ARK_EVENT_BROKER_ANOMALY) is journaled, counted
 * (ark_broker_anomalies_total{kind}), logged, and execution on the venue
 * stops at once — no order is POSTed — until an operator runs `ark broker
 * resume` (the stop is also kept in $ARK_DATA_DIR/broker.stopped, so neither
 * a restart of Kenny nor a new run lifts it).
 *
 * An order POST is never repeated blindly: a 5xx, a timeout or a dropped
 * connection leave it unknown, so the next request is a lookup by
 * client_order_id; only Alpaca's 404 lets it be POSTed again (the same id:
 * Alpaca refuses a second copy with 422 "client_order_id must be unique",
 * which is looked up too). 429 holds every request until X-RateLimit-Reset.
 * 401 and 403 and other 422s are final; 401 also stops execution, as does an
 * account that is not ACTIVE or is blocked (GET /v2/account at start, when
 * Kenny refuses to start, and every ALPACA_ACCOUNT_REFRESH_S). Buying power
 * goes into the book for HRM. Keys go in headers only, never in a log. */
#include "brokers/brokers.h"
#include "alpaca/alpaca.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(ARK_ALPACA_ANSWER_COUNT <= ARK_BROKER_ANSWER_KINDS, "the book counts every kind of answer");

#define RESPONSE_MAX 16384
#define NOTES 64
#define RATE_LIMIT_MAX_NS (120ull * 1000000000ull)   /* never wait longer than this on a reset header */

enum request_kind { REQ_POST, REQ_LOOKUP, REQ_ACCOUNT };

struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	bool busy;
	enum request_kind kind;
	uint32_t slot;
	char url[512];
	char body[512];
	size_t body_len, body_sent;
	char response[RESPONSE_MAX];
	size_t response_len;
	bool truncated;
	char reset[32];            /* X-RateLimit-Reset */
};

/* A log line from the broker thread, handed to the main thread (the log is
 * the main thread's). Single producer, single consumer. */
struct note {
	char level[8];
	char text[200];
};

static struct {
	struct ark_alpaca_config cfg;
	struct ark_order_book *book;
	uint64_t run_id;                   /* the segment's creation time, in client order ids */
	struct ark_ring_producer reports;
	struct ark_ring *report_ring;
	char latch_path[PATH_MAX];         /* $ARK_DATA_DIR/broker.stopped */
	uint64_t drain_deadline_ns;        /* stopping: settle orders in flight until then (0: not yet) */
	bool settled;                      /* stopping: what could be settled was */
	bool reports_closed;               /* stopping: Kyle may be gone, no report is published any more
					    * (an answer that comes now waits in the book for the next Kenny) */
	CURLM *multi;
	struct transfer *transfers;
	pthread_t thread;
	bool thread_started;
	_Atomic bool stop;
	_Atomic bool draining;             /* stopping: look up now, not after the back-off */
	bool in_flight[ARK_ORDER_SLOTS];   /* broker thread only */
	uint64_t next_account_ns;          /* broker thread only */
	bool account_busy;                 /* broker thread only */
	uint64_t answered_seen;            /* main thread only */
	struct note notes[NOTES];
	_Atomic uint64_t notes_head, notes_tail;
} az;

static void note(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const char *level, const char *fmt, ...)
{
	uint64_t head = atomic_load_explicit(&az.notes_head, memory_order_relaxed);
	if (head - atomic_load_explicit(&az.notes_tail, memory_order_acquire) >= NOTES)
		return;   /* the main thread is behind: the counters still say it */
	struct note *n = &az.notes[head % NOTES];
	snprintf(n->level, sizeof n->level, "%s", level);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof n->text, fmt, ap);
	va_end(ap);
	atomic_store_explicit(&az.notes_head, head + 1, memory_order_release);
}

static void drain_notes(const struct ark_broker_host *host)
{
	uint64_t tail = atomic_load_explicit(&az.notes_tail, memory_order_relaxed);
	while (tail != atomic_load_explicit(&az.notes_head, memory_order_acquire)) {
		struct note *n = &az.notes[tail % NOTES];
		ark_log(host->log, n->level, "%s", n->text);
		atomic_store_explicit(&az.notes_tail, ++tail, memory_order_release);
	}
}

static void publish_buying_power(double buying_power)
{
	uint64_t v;
	memcpy(&v, &buying_power, sizeof v);
	atomic_fetch_add(&az.book->account_version, 1);   /* odd: being written */
	atomic_store(&az.book->buying_power_bits, v);
	atomic_fetch_add(&az.book->account_version, 1);
}

/* Execution stops: no order is POSTed. The reason first, then the kind
 * (readers take the reason once the kind is set). An anomaly's stop is
 * never replaced by an account stop. */
static bool stop_execution(enum ark_broker_stop kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool stop_execution(enum ark_broker_stop kind, const char *fmt, ...)
{
	uint32_t was = atomic_load(&az.book->stop_kind);
	if (was == ARK_BROKER_STOP_ANOMALY || (was == kind && atomic_load(&az.book->execution_stopped)))
		return false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(az.book->stop_reason, sizeof az.book->stop_reason, fmt, ap);
	va_end(ap);
	atomic_store(&az.book->stop_kind, kind);
	atomic_store(&az.book->execution_stopped, 1);
	return true;
}

static const char *coid_text(const struct ark_order_slot *slot, char out[ARK_ALPACA_COID_MAX])
{
	ark_alpaca_client_order_id(az.run_id, slot->client_order_id, out);
	return out;
}

/* ---- one HTTP request ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, room = RESPONSE_MAX - 1 - t->response_len;
	if (len > room) {
		t->truncated = true;
		len = room;
	}
	memcpy(t->response + t->response_len, data, len);
	t->response_len += len;
	t->response[t->response_len] = '\0';
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;
	static const char name[] = "x-ratelimit-reset:";
	if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
		const char *v = data + sizeof name - 1, *end = data + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		size_t vn = (size_t)(end - v) < sizeof t->reset - 1 ? (size_t)(end - v) : sizeof t->reset - 1;
		memcpy(t->reset, v, vn);
		t->reset[vn] = '\0';
	}
	return len;
}

/* The order body, handed to libcurl piece by piece and never rewound: when
 * a kept-alive connection dies under a request, libcurl would silently send
 * it again on a new one; unable to rewind, it fails instead, and the order is
 * looked up rather than POSTed twice. */
static size_t on_read(char *out, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = t->body_len - t->body_sent;
	if (len > size * n)
		len = size * n;
	memcpy(out, t->body + t->body_sent, len);
	t->body_sent += len;
	return len;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
	(void)arg, (void)offset, (void)origin;
	return CURL_SEEKFUNC_CANTSEEK;
}

static int transfer_init(struct transfer *t, struct ark_err *err)
{
	char header[200];
	t->easy = curl_easy_init();
	if (!t->easy)
		return ark_err_set(err, -ENOMEM, "libcurl: cannot make a request handle");
	snprintf(header, sizeof header, "APCA-API-KEY-ID: %s", az.cfg.key_id);
	t->headers = curl_slist_append(NULL, header);
	snprintf(header, sizeof header, "APCA-API-SECRET-KEY: %s", az.cfg.secret_key);
	t->headers = curl_slist_append(t->headers, header);
	t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
	t->headers = curl_slist_append(t->headers, "Accept: application/json");
	t->headers = curl_slist_append(t->headers, "Expect:");
	explicit_bzero(header, sizeof header);
	if (!t->headers)
		return ark_err_set(err, -ENOMEM, "libcurl: cannot make the request headers");
	return 0;
}

static void transfer_prepare(struct transfer *t, enum request_kind kind, const char *method)
{
	curl_easy_reset(t->easy);
	t->kind = kind;
	t->response_len = 0;
	t->response[0] = '\0';
	t->truncated = false;
	t->reset[0] = '\0';
	curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)az.cfg.timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)az.cfg.timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "ark-kenny");
	if (strcmp(method, "POST") == 0) {
		t->body_len = strlen(t->body);
		t->body_sent = 0;
		curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)t->body_len);
		curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
		curl_easy_setopt(t->easy, CURLOPT_SEEKFUNCTION, on_seek);
	}
}

static struct transfer *free_transfer(void)
{
	for (uint32_t i = 0; i < az.cfg.max_connections; i++)
		if (!az.transfers[i].busy)
			return &az.transfers[i];
	return NULL;
}

static void start(struct transfer *t)
{
	t->busy = true;
	if (curl_multi_add_handle(az.multi, t->easy) != CURLM_OK) {
		t->busy = false;
		note("error", "libcurl refused a request handle");
	}
}

/* ---- the broker thread: requests and their answers ---- */

static void request_order(struct transfer *t, uint32_t index, struct ark_order_slot *slot)
{
	char coid[ARK_ALPACA_COID_MAX];
	ark_alpaca_client_order_id(az.run_id, slot->client_order_id, coid);
	t->slot = index;
	if (slot->lookup) {
		snprintf(t->url, sizeof t->url, "%s/v2/orders:by_client_order_id?client_order_id=%s", az.cfg.base_url, coid);
		transfer_prepare(t, REQ_LOOKUP, "GET");
		atomic_fetch_add(&az.book->lookups, 1);
	} else {
		const struct ark_event *e = &slot->event;
		if (ark_alpaca_order_body(t->body, sizeof t->body, e->symbol, e->side == ARK_SIDE_BUY ? "buy" : "sell",
					  e->quantity, e->limit_price, az.cfg.time_in_force, coid) < 0) {
			/* Not an order Alpaca could take: refused here, final. */
			slot->venue_final = 1;
			slot->answer = ARK_ALPACA_UNPROCESSABLE;
			slot->http_status = 0;
			snprintf(slot->venue_status, sizeof slot->venue_status, "not_sent");
			snprintf(slot->message, sizeof slot->message, "the order cannot be expressed for Alpaca (symbol, quantity or price)");
			atomic_store_explicit(&slot->state, ARK_ORDER_ANSWERED, memory_order_release);
			atomic_fetch_add(&az.book->answered, 1);
			return;
		}
		snprintf(t->url, sizeof t->url, "%s/v2/orders", az.cfg.base_url);
		transfer_prepare(t, REQ_POST, "POST");
		slot->attempts++;
		atomic_fetch_add(&az.book->posts, 1);
	}
	atomic_store_explicit(&slot->state, ARK_ORDER_SENT, memory_order_release);
	az.in_flight[index] = true;
	start(t);
	if (!t->busy) {
		az.in_flight[index] = false;
		slot->lookup = 1;   /* unknown whether it left: look first */
		atomic_store_explicit(&slot->state, ARK_ORDER_QUEUED, memory_order_release);
	}
}

static void hand_back(struct ark_order_slot *slot)
{
	atomic_store_explicit(&slot->state, ARK_ORDER_ANSWERED, memory_order_release);
	atomic_fetch_add(&az.book->answered, 1);
}

/* Ask again later (a lookup, or the same request after a rate limit). */
static void requeue(struct ark_order_slot *slot, uint64_t not_before_ns)
{
	slot->next_request_ns = not_before_ns;
	atomic_store_explicit(&slot->state, ARK_ORDER_QUEUED, memory_order_release);
}

static void hold_for_rate_limit(const struct transfer *t, uint64_t now)
{
	uint64_t reset_s, wait_ns = 1000000000ull;   /* no usable header: a second */
	if (t->reset[0] && ark_alpaca_parse_reset(t->reset, &reset_s) == 0) {
		uint64_t real = ark_realtime_ns(), reset_ns = reset_s * 1000000000ull;
		wait_ns = reset_ns > real ? reset_ns - real : 0;
		if (wait_ns < 1000000000ull)
			wait_ns = 1000000000ull;   /* a reset in the past (clock skew) is no reason to hammer */
		if (wait_ns > RATE_LIMIT_MAX_NS)
			wait_ns = RATE_LIMIT_MAX_NS;
	}
	uint64_t until = now + wait_ns;
	if (until > atomic_load(&az.book->rate_limited_until_ns)) {
		atomic_store(&az.book->rate_limited_until_ns, until);
		note("warn", "alpaca rate limit (429): holding every request for %.1f s (X-RateLimit-Reset %s)",
		     (double)wait_ns / 1e9, t->reset[0] ? t->reset : "absent");
	}
}

/* An order object (200): checked against the order it answers, then taken
 * into the slot (handed back when something changed, else polled again). */
static void take_order_answer(struct ark_order_slot *slot, const struct ark_alpaca_order *answer, long status,
			      uint64_t now)
{
	char coid[ARK_ALPACA_COID_MAX];
	const struct ark_alpaca_order order = *answer;
	/* The answer against the order it answers: anything that does not
	 * fit is an anomaly, never applied (Kenny reports it and stops). */
	const struct ark_event *e = &slot->event;
	struct ark_alpaca_expect expect = {
		.run_id = az.run_id, .trace_id = slot->client_order_id, .symbol = e->symbol,
		.buy = e->side == ARK_SIDE_BUY, .quantity = e->quantity, .limit_price = e->limit_price,
		.reference_price = e->price, .market_price_band = az.cfg.market_price_band,
		.order_id = slot->order_id, .filled_before = slot->venue_filled_qty,
		.avg_before = slot->venue_avg_price};
	char why[160];
	enum ark_alpaca_anomaly anomaly = ark_alpaca_check_order(&order, &expect, why, sizeof why);
	if (anomaly != ARK_ALPACA_ANOMALY_NONE) {
		char symbol[ARK_SYMBOL_MAX];
		ark_text_copy(symbol, sizeof symbol, e->symbol, sizeof e->symbol);
		if (stop_execution(ARK_BROKER_STOP_ANOMALY, "broker anomaly (%s) on order %s: %s", ark_alpaca_anomaly_name(anomaly),
				   coid_text(slot, coid), why))
			note("error", "BROKER ANOMALY: execution stopped until an operator runs ark broker resume");
		slot->anomaly = (uint8_t)anomaly;
		slot->claimed_filled_qty = order.filled_qty;
		slot->claimed_avg_price = order.filled_avg_price;
		slot->answer = ARK_ALPACA_ORDER;
		slot->http_status = (uint16_t)status;
		slot->error_code = 0;
		slot->venue_final = 1;   /* nothing more is asked about it: an operator looks */
		snprintf(slot->venue_status, sizeof slot->venue_status, "anomaly");
		snprintf(slot->message, sizeof slot->message, "%s: %.80s", ark_alpaca_anomaly_name(anomaly), why);
		hand_back(slot);
		return;
	}
	bool changed = !slot->order_id[0] || strcmp(order.status, slot->venue_status) != 0 ||
		       order.filled_qty != slot->venue_filled_qty;
	slot->lookup = 0;
	slot->failures = 0;
	slot->seen_at_venue = 1;
	slot->answer = ARK_ALPACA_ORDER;
	slot->http_status = (uint16_t)status;
	slot->error_code = 0;
	snprintf(slot->order_id, sizeof slot->order_id, "%s", order.id);
	snprintf(slot->venue_status, sizeof slot->venue_status, "%.23s", order.status);
	slot->venue_filled_qty = order.filled_qty;
	slot->venue_avg_price = order.filled_avg_price;
	slot->venue_final = order.terminal;
	slot->message[0] = '\0';
	if (changed) {
		hand_back(slot);
	} else {
		/* A poll with nothing new: poll again later. */
		slot->next_request_ns = now + az.cfg.poll_ms * 1000000ull;
		atomic_store_explicit(&slot->state, ARK_ORDER_OPEN, memory_order_release);
	}
}

static void finish_order(struct transfer *t, long status, uint64_t now)
{
	char coid[ARK_ALPACA_COID_MAX];
	struct ark_order_slot *slot = &az.book->slots[t->slot];
	az.in_flight[t->slot] = false;
	struct ark_alpaca_order order;
	uint32_t code;
	char detail[160];
	enum ark_alpaca_answer answer = t->truncated ? ARK_ALPACA_MALFORMED
						     : ark_alpaca_classify(status, t->response, t->response_len, &order, &code,
									  detail, sizeof detail);
	if (t->truncated) {
		code = 0;
		snprintf(detail, sizeof detail, "an answer longer than %d bytes", RESPONSE_MAX - 1);
	}
	atomic_fetch_add(&az.book->answers[answer], 1);
	bool was_lookup = t->kind == REQ_LOOKUP;
	if (answer == ARK_ALPACA_ORDER) {
		take_order_answer(slot, &order, status, now);
		return;
	}
	slot->http_status = (uint16_t)status;
	slot->error_code = code;
	slot->answer = (uint8_t)answer;
	snprintf(slot->message, sizeof slot->message, "%.95s", detail);
	switch (answer) {
	case ARK_ALPACA_DUPLICATE_ID:
		/* Alpaca has this id already (a resend after a restart): find it. */
		slot->lookup = 1;
		slot->seen_at_venue = 1;
		requeue(slot, now);
		return;
	case ARK_ALPACA_NOT_FOUND:
		if (was_lookup && slot->seen_at_venue) {
			/* It existed: a 404 now is Alpaca (or a proxy) out of step,
			 * never a reason to send it again. */
			slot->failures++;
			if (slot->failures == 1 || slot->failures % 10 == 0)
				note("warn", "order %s: Alpaca showed it before, a lookup now says 404; looking again",
				     coid_text(slot, coid));
			requeue(slot, now + az.cfg.poll_ms * 1000000ull * (slot->failures < 6 ? (1u << (slot->failures - 1)) : 32));
			return;
		}
		if (!was_lookup || slot->attempts >= az.cfg.max_attempts) {
			slot->venue_final = 1;
			snprintf(slot->venue_status, sizeof slot->venue_status, "not_placed");
			hand_back(slot);
			return;
		}
		/* Alpaca says it has no such order: sending it is safe. */
		slot->lookup = 0;
		requeue(slot, now);
		return;
	case ARK_ALPACA_RATE_LIMITED:
		hold_for_rate_limit(t, now);
		requeue(slot, atomic_load(&az.book->rate_limited_until_ns));
		return;
	case ARK_ALPACA_SERVER_ERROR:
	case ARK_ALPACA_NETWORK:
	case ARK_ALPACA_MALFORMED: {
		/* Unknown whether the order exists: never POST again blindly. */
		slot->lookup = 1;
		slot->failures++;
		uint64_t backoff = az.cfg.poll_ms * 1000000ull * (slot->failures < 6 ? (1u << (slot->failures - 1)) : 32);
		if (slot->failures == 1 || slot->failures % 10 == 0)
			note("warn", "order %s: %s (%s) after a %s; looking it up in %.1f s",
			     coid_text(slot, coid), ark_alpaca_answer_name(answer), detail,
			     was_lookup ? "lookup" : "POST", (double)backoff / 1e9);
		requeue(slot, now + backoff);
		return;
	}
	case ARK_ALPACA_UNAUTHORIZED:
		if (stop_execution(ARK_BROKER_STOP_ACCOUNT, "alpaca refused the keys (401 %.100s)", detail))
			note("error", "alpaca refused the keys (401 %s): execution stopped; orders are refused until Kenny "
				      "restarts with valid keys", detail);
		/* the order is refused too */
		__attribute__((fallthrough));
	default:
		if (was_lookup) {
			/* Only an order (200) or its absence (404) answers a lookup. */
			slot->lookup = 1;
			slot->failures++;
			if (slot->failures == 1 || slot->failures % 10 == 0)
				note("warn", "order %s: a lookup was answered %s (%s); looking again", coid_text(slot, coid),
				     ark_alpaca_answer_name(answer), detail);
			requeue(slot, now + az.cfg.poll_ms * 1000000ull * (slot->failures < 6 ? (1u << (slot->failures - 1)) : 32));
			return;
		}
		/* 403 (buying power, a forbidden order), 422 to a POST: final. */
		slot->venue_final = 1;
		snprintf(slot->venue_status, sizeof slot->venue_status, "refused");
		hand_back(slot);
		return;
	}
}

static void finish_account(struct transfer *t, long status)
{
	az.account_busy = false;
	struct ark_alpaca_account account;
	char detail[160] = "", why[160];
	if (status == 200 && !t->truncated &&
	    ark_alpaca_parse_account(t->response, t->response_len, &account, detail, sizeof detail) == 0) {
		publish_buying_power(account.buying_power);
		if (!ark_alpaca_account_usable(&account, why, sizeof why) &&
		    stop_execution(ARK_BROKER_STOP_ACCOUNT, "alpaca account: %s", why))
			note("error", "alpaca account: %s; execution stopped", why);
		return;
	}
	uint32_t code;
	if (status == 200)
		snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s", t->truncated ? " (truncated)" : "");
	else
		ark_alpaca_parse_error(t->response, t->response_len, &code, detail, sizeof detail);
	if (status == 401 && stop_execution(ARK_BROKER_STOP_ACCOUNT, "alpaca refused the keys reading the account (401 %.100s)", detail))
		note("error", "alpaca refused the keys reading the account (401 %s): execution stopped", detail);
	else
		note("warn", "alpaca account refresh failed (HTTP %ld%s%s); keeping the last buying power", status,
		     detail[0] ? ": " : "", detail);
}

static void request_account(struct transfer *t)
{
	snprintf(t->url, sizeof t->url, "%s/v2/account", az.cfg.base_url);
	transfer_prepare(t, REQ_ACCOUNT, "GET");
	az.account_busy = true;
	start(t);
	if (!t->busy)
		az.account_busy = false;
}

static void start_requests(uint64_t now)
{
	if (!az.account_busy && now >= az.next_account_ns) {
		struct transfer *t = free_transfer();
		if (t) {
			az.next_account_ns = now + az.cfg.account_refresh_s * 1000000000ull;
			request_account(t);
		}
	}
	if (now < atomic_load(&az.book->rate_limited_until_ns))
		return;
	for (uint32_t i = 0; i < ARK_ORDER_SLOTS; i++) {
		struct ark_order_slot *slot = &az.book->slots[i];
		uint32_t st = atomic_load_explicit(&slot->state, memory_order_acquire);
		if ((st != ARK_ORDER_QUEUED && st != ARK_ORDER_OPEN) || az.in_flight[i])
			continue;
		if (slot->next_request_ns > now && !(st == ARK_ORDER_QUEUED && atomic_load_explicit(&az.draining, memory_order_relaxed)))
			continue;
		/* Execution stopped: nothing more is sent; what was sent is
		 * still looked up (its answers are checked the same way). */
		if (st == ARK_ORDER_QUEUED && !slot->lookup && atomic_load_explicit(&az.book->execution_stopped, memory_order_relaxed))
			continue;
		struct transfer *t = free_transfer();
		if (!t)
			return;
		if (st == ARK_ORDER_OPEN)
			slot->lookup = 1;   /* a poll */
		request_order(t, i, slot);
	}
}

static void *broker_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&az.stop)) {
		uint64_t now = ark_now_ns();
		start_requests(now);
		int running = 0;
		curl_multi_perform(az.multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(az.multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct transfer *t;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			long status = 0;
			if (m->data.result == CURLE_OK)
				curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(az.multi, t->easy);
			t->busy = false;
			if (t->kind == REQ_ACCOUNT)
				finish_account(t, status);
			else
				finish_order(t, status, ark_now_ns());
		}
		/* Woken by Kenny (curl_multi_wakeup) for a new order; else by the
		 * network or the next poll. */
		curl_multi_poll(az.multi, NULL, 0, 50, NULL);
	}
	return NULL;
}

/* ---- Kenny's main thread ---- */

/* GET /v2/account before anything is sent: Kenny does not start against an
 * account that cannot trade (blocking here is start-up, not the hot path). */
static int check_account(const struct ark_broker_host *host, struct ark_err *err)
{
	struct transfer *t = &az.transfers[0];
	snprintf(t->url, sizeof t->url, "%s/v2/account", az.cfg.base_url);
	transfer_prepare(t, REQ_ACCOUNT, "GET");
	CURLcode rc = curl_easy_perform(t->easy);
	long status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	else
		return ark_err_set(err, -EHOSTUNREACH, "alpaca: GET %s/v2/account failed: %s", az.cfg.base_url,
				   curl_easy_strerror(rc));
	char detail[160], why[160];
	struct ark_alpaca_account account;
	if (status != 200) {
		uint32_t code;
		ark_alpaca_parse_error(t->response, t->response_len, &code, detail, sizeof detail);
		return ark_err_set(err, status == 401 || status == 403 ? -EACCES : status >= 500 ? -EAGAIN : -EPROTO,
				   "alpaca: GET /v2/account answered %ld%s%s%s", status, detail[0] ? " (" : "", detail,
				   status == 401 ? "): check ALPACA_API_KEY and ALPACA_SECRET_KEY" : detail[0] ? ")" : "");
	}
	if (t->truncated || ark_alpaca_parse_account(t->response, t->response_len, &account, detail, sizeof detail))
		return ark_err_set(err, -EPROTO, "alpaca: GET /v2/account: %s", t->truncated ? "answer too long" : detail);
	if (!ark_alpaca_account_usable(&account, why, sizeof why))
		return ark_err_set(err, -EPERM, "alpaca: %s: execution stopped, Kenny does not start", why);
	publish_buying_power(account.buying_power);
	/* Good keys and a usable account lift an account stop; an anomaly's
	 * stop stays until an operator resumes. */
	if (atomic_load(&az.book->stop_kind) != ARK_BROKER_STOP_ANOMALY) {
		atomic_store(&az.book->stop_kind, ARK_BROKER_STOP_NONE);
		atomic_store(&az.book->execution_stopped, 0);
	}
	ark_log(host->log, "info", "alpaca account status=%s buying_power=%.2f currency=%s", account.status,
		account.buying_power, account.currency[0] ? account.currency : "?");
	return 0;
}

/* The anomaly stop outlives the segment: $ARK_DATA_DIR/broker.stopped holds
 * its reason until `ark broker resume` removes it. */
static void latch_read(const struct ark_broker_host *host)
{
	char text[sizeof az.book->stop_reason];
	int fd = open(az.latch_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	ark_utf8_sanitize(text, strlen(text));
	for (size_t i = strlen(text); i > 0 && (text[i - 1] == '\n' || text[i - 1] == ' '); i--)
		text[i - 1] = '\0';
	stop_execution(ARK_BROKER_STOP_ANOMALY, "%s", text[0] ? text : "broker anomaly (reason not recorded)");
	ark_log(host->log, "error", "alpaca: execution stays stopped (%s): %s; ark broker resume lifts it after the venue "
		"was checked", az.latch_path, az.book->stop_reason);
}

static void latch_write(const struct ark_broker_host *host)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", az.latch_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		char ts[40];
		uint64_t now = ark_realtime_ns();
		time_t secs = (time_t)(now / 1000000000ull);
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		dprintf(fd, "%s (%s)\n", az.book->stop_reason, ts);
		bool ok = fsync(fd) == 0;
		close(fd);
		if (ok && rename(tmp, az.latch_path) == 0)
			return;
	}
	ark_log(host->log, "error", "alpaca: cannot keep the stop in %s: %s (it holds until Kenny restarts)", az.latch_path,
		strerror(errno));
}

/* A report's slot once its report is on the ring: what it reported is taken,
 * and the order is polled again or done. */
static void report_taken(struct ark_order_slot *slot, uint64_t now)
{
	if (!slot->anomaly) {
		slot->reported_qty = slot->venue_filled_qty;
		slot->reported_avg_price = slot->venue_avg_price;
	}
	if (slot->venue_final || slot->anomaly) {
		atomic_store_explicit(&slot->state, ARK_ORDER_DONE, memory_order_release);
	} else {
		slot->next_request_ns = now + az.cfg.poll_ms * 1000000ull;
		atomic_store_explicit(&slot->state, ARK_ORDER_OPEN, memory_order_release);
		if (az.multi)
			curl_multi_wakeup(az.multi);
	}
}

/* A restarted Kenny: orders caught mid-request are looked up before anything
 * is POSTed again; a report caught mid-publication is finished (the ring's
 * head says whether it went out). */
static void recover_book(const struct ark_broker_host *host)
{
	uint32_t sent = 0, reporting = 0, open_ = 0;
	uint64_t head = atomic_load(&az.report_ring->head);
	for (uint32_t i = 0; i < ARK_ORDER_SLOTS; i++) {
		struct ark_order_slot *slot = &az.book->slots[i];
		switch (atomic_load(&slot->state)) {
		case ARK_ORDER_SENT:
			slot->lookup = 1;
			slot->next_request_ns = 0;
			atomic_store(&slot->state, ARK_ORDER_QUEUED);
			sent++;
			break;
		case ARK_ORDER_REPORTING:
			if (head >= slot->report_head)
				report_taken(slot, 0);
			else
				atomic_store(&slot->state, ARK_ORDER_ANSWERED);
			reporting++;
			break;
		case ARK_ORDER_OPEN:
			slot->next_request_ns = 0;
			open_++;
			break;
		default:
			break;
		}
	}
	if (sent || reporting || open_)
		ark_log(host->log, "warn", "alpaca: after a restart: %u orders to look up before any resend, %u reports finished, "
			"%u open orders polled", sent, reporting, open_);
	az.answered_seen = 0;   /* look at every slot once */
}

static int alpaca_start(const struct ark_broker_host *host, struct ark_err *err)
{
	int rc = ark_alpaca_config_from_env(&az.cfg, err);
	if (rc)
		return rc;
	if (host->lane != ARK_LANE_STABLE)
		return ark_err_set(err, -EINVAL, "ARK_BROKER=alpaca: the canary lane trades on the paper broker only");
	az.book = ark_pipeline_region(host->map, "state.orders", NULL);
	az.run_id = host->map->pipeline->created_ns / 1000;
	az.report_ring = ark_pipeline_region(host->map, "ring.reports", NULL);
	if (!az.book || !az.report_ring)
		return ark_err_set(err, -EPROTO, "the segment has no order book or report ring");
	if ((rc = ark_broker_latch_path(az.latch_path, sizeof az.latch_path, err)))
		return rc;
	if ((rc = ark_ring_producer_open(&az.reports, az.report_ring, host->wait, err)))
		return rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(az.multi = curl_multi_init()))
		return ark_err_set(err, -ENOMEM, "libcurl: cannot initialise");
	curl_multi_setopt(az.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)az.cfg.max_connections);
	az.transfers = calloc(az.cfg.max_connections, sizeof *az.transfers);
	if (!az.transfers)
		return ark_err_set(err, -ENOMEM, "no memory for %u requests", az.cfg.max_connections);
	for (uint32_t i = 0; i < az.cfg.max_connections; i++)
		if ((rc = transfer_init(&az.transfers[i], err)))
			return rc;
	if ((rc = check_account(host, err)))
		return rc;
	latch_read(host);
	recover_book(host);
	atomic_store(&az.book->settling, 0);
	atomic_store(&az.book->broker_active, 1);
	az.next_account_ns = ark_now_ns() + az.cfg.account_refresh_s * 1000000000ull;
	atomic_store(&az.stop, false);
	atomic_store(&az.draining, false);
	if (pthread_create(&az.thread, NULL, broker_thread, NULL) != 0)
		return ark_err_set(err, -EAGAIN, "cannot start the broker thread");
	az.thread_started = true;
	ark_log(host->log, "info", "broker=alpaca base_url=%s time_in_force=%s timeout_ms=%llu poll_ms=%llu market_price_band=%g",
		az.cfg.base_url, az.cfg.time_in_force, (unsigned long long)az.cfg.timeout_ms,
		(unsigned long long)az.cfg.poll_ms, az.cfg.market_price_band);
	return 0;
}

static void refuse_order(const struct ark_broker_host *host, struct ark_event *e, const char *why)
{
	e->exec_status = ARK_EXEC_REJECTED;
	atomic_fetch_add(&az.book->refused_locally, 1);
	ark_log(host->log, "warn", "order not sent trace=%016llx symbol=%.15s: %s", (unsigned long long)e->trace_id,
		e->symbol, why);
}

/* An allowed intent: queue its order (ACCEPTED: its report follows).
 * quarantined: send nothing, but report the order final and unfilled
 * (SUPPRESSED) so that HRM's book lets go of it. */
static enum ark_broker_status alpaca_submit(const struct ark_broker_host *host, struct ark_event *e, bool quarantined,
					    struct ark_broker_answer *answer)
{
	struct ark_order_slot *slot = &az.book->slots[e->seq & (ARK_ORDER_SLOTS - 1)];
	uint32_t st = atomic_load_explicit(&slot->state, memory_order_acquire);
	if (st != ARK_ORDER_FREE && slot->client_order_id == e->client_order_id) {
		/* Re-delivered after a restart: this order is already in hand. */
		e->exec_status = ARK_EXEC_SUBMITTED;
		e->flags |= ARK_EVENT_REPLAYED;
		answer->replayed = true;
		return ARK_BROKER_ACCEPTED;
	}
	if (st != ARK_ORDER_FREE && st != ARK_ORDER_DONE) {
		/* No slot, so no report follows (documented): HRM keeps it in
		 * flight, which errs on the safe side. */
		if (quarantined) {
			e->exec_status = ARK_EXEC_SUPPRESSED;
			e->flags |= ARK_EVENT_QUARANTINED;
			return ARK_BROKER_SUPPRESSED;
		}
		refuse_order(host, e, "the order book is full: 4096 orders are still working at the broker");
		return ARK_BROKER_WOULD_BLOCK;
	}
	/* Everything but the state, which the broker thread reads (it skips
	 * a FREE or DONE slot) and which hands the slot over last. */
	/* FREE before the new id goes in: a restart caught in between must not
	 * take the old order's DONE for this one's. */
	atomic_store_explicit(&slot->state, ARK_ORDER_FREE, memory_order_release);
	memset(&slot->attempts, 0, offsetof(struct ark_order_slot, event) - offsetof(struct ark_order_slot, attempts));
	slot->client_order_id = e->client_order_id;
	e->exec_status = ARK_EXEC_SUBMITTED;
	slot->event = *e;
	if (quarantined) {
		/* Not sent (a quarantined Kenny sends nothing), but reported,
		 * final and unfilled, so HRM's book lets go of the order. */
		e->exec_status = ARK_EXEC_SUPPRESSED;
		e->flags |= ARK_EVENT_QUARANTINED;
		slot->event = *e;
		slot->suppressed = 1;
		slot->venue_final = 1;
		slot->answer = ARK_ALPACA_UNPROCESSABLE;
		snprintf(slot->venue_status, sizeof slot->venue_status, "not_sent");
		snprintf(slot->message, sizeof slot->message, "Kenny is quarantined: nothing is sent");
		atomic_store_explicit(&slot->state, ARK_ORDER_ANSWERED, memory_order_release);
		atomic_fetch_add(&az.book->answered, 1);
		return ARK_BROKER_SUPPRESSED;
	}
	if (atomic_load(&az.book->execution_stopped)) {
		/* Refused here, and reported like any refusal (the report tells
		 * HRM the order is not in flight): nothing goes to the venue. */
		slot->venue_final = 1;
		slot->answer = ARK_ALPACA_UNPROCESSABLE;
		snprintf(slot->venue_status, sizeof slot->venue_status, "not_sent");
		snprintf(slot->message, sizeof slot->message, "execution is stopped (%s): see ark broker status",
			 atomic_load(&az.book->stop_kind) == ARK_BROKER_STOP_ANOMALY ? "a broker anomaly" : "keys or account");
		atomic_fetch_add(&az.book->refused_locally, 1);
		atomic_store_explicit(&slot->state, ARK_ORDER_ANSWERED, memory_order_release);
		atomic_fetch_add(&az.book->answered, 1);
		return ARK_BROKER_ACCEPTED;   /* an order like any other: its report (refused) follows */
	}
	atomic_store_explicit(&slot->state, ARK_ORDER_QUEUED, memory_order_release);
	atomic_fetch_add(&az.book->submitted, 1);
	curl_multi_wakeup(az.multi);
	return ARK_BROKER_ACCEPTED;
}

/* Publish an answered order as an execution report on ring.reports (Kyle
 * numbers it). false: no room yet (tried again at the next poll). */
static bool publish_report(const struct ark_broker_host *host, struct ark_order_slot *slot, uint64_t now)
{
	char coid[ARK_ALPACA_COID_MAX];
	uint32_t room;
	if (ark_ring_reserve(&az.reports, 1, 0, &room) != 0)
		return false;
	struct ark_event *r = ark_ring_slot(&az.reports, 0);
	*r = slot->event;
	memset(r->stamp_in_ns, 0, sizeof r->stamp_in_ns);
	memset(r->stamp_out_ns, 0, sizeof r->stamp_out_ns);
	r->source = ARK_SOURCE_BROKER;
	/* No market data (HRM marks nothing with a report): price and size
	 * are the fill this report adds, set below. */
	r->price = r->size = 0;
	r->exchange_time_ns = 0;
	r->flags = (uint16_t)((r->flags & ~(ARK_EVENT_REPLAYED | ARK_EVENT_QUARANTINED)) | ARK_EVENT_EXEC_REPORT |
			      (slot->venue_final || slot->anomaly ? ARK_EVENT_ORDER_FINAL : 0));
	r->broker_http_status = slot->http_status;
	r->broker_error_code = slot->error_code;
	bool failed;
	if (slot->anomaly) {
		r->flags |= ARK_EVENT_BROKER_ANOMALY;
		r->anomaly = slot->anomaly;
		r->exec_status = ARK_EXEC_ANOMALY;
		r->filled_quantity = slot->claimed_filled_qty;   /* what it claimed: recorded, not applied */
		r->fill_price = slot->claimed_avg_price;
		failed = true;
	} else {
		double delta = slot->venue_filled_qty - slot->reported_qty;
		if (delta > 1e-9) {
			double price = (slot->venue_filled_qty * slot->venue_avg_price - slot->reported_qty * slot->reported_avg_price) / delta;
			if (!(price > 0) || !isfinite(price))
				price = slot->venue_avg_price;
			r->size = delta;
			r->price = price;
		}
		r->exec_status = slot->suppressed             ? ARK_EXEC_SUPPRESSED
				 : slot->venue_filled_qty > 0 ? ARK_EXEC_FILLED
				 : slot->venue_final          ? ARK_EXEC_REJECTED
							      : ARK_EXEC_ACCEPTED;
		r->filled_quantity = slot->venue_filled_qty;
		r->fill_price = slot->venue_avg_price;
		failed = r->exec_status == ARK_EXEC_REJECTED;
	}
	/* Exactly once: REPORTING with the head the commit makes; a restart
	 * caught in between reads the ring's head to know. */
	slot->report_head = az.reports.head + 1;
	atomic_store_explicit(&slot->state, ARK_ORDER_REPORTING, memory_order_release);
	ark_ring_commit(&az.reports, 1);
	atomic_fetch_add(&az.book->reports, 1);
	report_taken(slot, now);
	if (failed)
		ark_control_add(&host->control->errors, 1);   /* counts toward Kenny's failure rate */
	if (slot->anomaly) {
		atomic_fetch_add(&az.book->anomalies[slot->anomaly < ARK_BROKER_ANOMALY_KINDS ? slot->anomaly : 0], 1);
		ark_log(host->log, "error", "BROKER ANOMALY order %s symbol=%.15s side=%s qty=%g limit=%g: %s; not applied, "
			"execution stopped until ark broker resume", coid_text(slot, coid), slot->event.symbol,
			ark_side_name((enum ark_side)slot->event.side), slot->event.quantity, slot->event.limit_price,
			slot->message);
		latch_write(host);
		return true;
	}
	ark_log(host->log, failed ? "warn" : "info",
		"order %s %s symbol=%.15s side=%s qty=%g limit=%g status=%s filled=%g avg_price=%g http=%u "
		"answer=%s order_id=%s",
		coid_text(slot, coid), ark_exec_status_name((enum ark_exec_status)r->exec_status),
		r->symbol, ark_side_name((enum ark_side)r->side), r->quantity, r->limit_price, slot->venue_status,
		slot->venue_filled_qty, slot->venue_avg_price, slot->http_status,
		ark_alpaca_answer_name((enum ark_alpaca_answer)slot->answer), slot->order_id[0] ? slot->order_id : "-");
	if (slot->message[0])
		ark_log(host->log, failed ? "warn" : "info", "order %s broker said: %s (code %u)",
			coid_text(slot, coid), slot->message, slot->error_code);
	return true;
}

static void alpaca_poll(const struct ark_broker_host *host, uint64_t now_ns)
{
	if (atomic_load_explicit(&az.notes_head, memory_order_relaxed) !=
	    atomic_load_explicit(&az.notes_tail, memory_order_relaxed))
		drain_notes(host);
	uint64_t answered = atomic_load_explicit(&az.book->answered, memory_order_acquire);
	if (answered == az.answered_seen || az.reports_closed)
		return;
	bool all = true;
	for (uint32_t i = 0; i < ARK_ORDER_SLOTS; i++) {
		struct ark_order_slot *slot = &az.book->slots[i];
		if (atomic_load_explicit(&slot->state, memory_order_acquire) == ARK_ORDER_ANSWERED &&
		    !publish_report(host, slot, now_ns)) {
			all = false;   /* the report ring is full: Kyle is behind */
			break;
		}
	}
	if (all)
		az.answered_seen = answered;
}

/* Orders with a request pending or an answer to report. */
static uint32_t unsettled(void)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < ARK_ORDER_SLOTS; i++) {
		uint32_t st = atomic_load_explicit(&az.book->slots[i].state, memory_order_acquire);
		n += st == ARK_ORDER_QUEUED || st == ARK_ORDER_SENT || st == ARK_ORDER_ANSWERED || st == ARK_ORDER_REPORTING;
	}
	return n;
}

/* The whole pipeline stops and the drain window is over: an order never
 * sent is reported as refused here; one whose fate Alpaca has not told
 * stays "submitted" in the record and is named in the log for the operator. */
static void settle_at_shutdown(const struct ark_broker_host *host)
{
	char coid[ARK_ALPACA_COID_MAX];
	uint32_t not_sent = 0, unknown = 0;
	for (uint32_t i = 0; i < ARK_ORDER_SLOTS; i++) {
		struct ark_order_slot *slot = &az.book->slots[i];
		uint32_t st = atomic_load(&slot->state);
		if (st == ARK_ORDER_QUEUED && slot->attempts == 0 && !slot->lookup) {
			slot->venue_final = 1;
			snprintf(slot->venue_status, sizeof slot->venue_status, "not_sent");
			snprintf(slot->message, sizeof slot->message, "ARK stopped before the order could be sent");
			atomic_store(&slot->state, ARK_ORDER_ANSWERED);
			atomic_fetch_add(&az.book->answered, 1);
			not_sent++;
		} else if (st == ARK_ORDER_QUEUED || st == ARK_ORDER_SENT) {
			ark_log(host->log, "error", "order %s: ARK stopped before Alpaca said whether it exists "
				"(last answer %s); check it at the venue", coid_text(slot, coid),
				ark_alpaca_answer_name((enum ark_alpaca_answer)slot->answer));
			unknown++;
		}
	}
	ark_log(host->log, unknown ? "error" : "warn", "alpaca: stopping: %u orders never sent (reported refused), %u "
		"of unknown fate", not_sent, unknown);
}

static bool alpaca_busy(const struct ark_broker_host *host, uint64_t now)
{
	if (!az.thread_started || az.reports_closed)
		return false;
	if (!az.drain_deadline_ns) {
		/* Stopping: finish what is in flight, so that its reports go
		 * through the pipeline before it stops (Kyle waits while
		 * `settling`). Orders still open at Alpaca are polled by the
		 * next Kenny. */
		az.drain_deadline_ns = now + (2 * az.cfg.timeout_ms + 1000) * 1000000ull;
		atomic_store(&az.book->settling, 1);
		atomic_store(&az.draining, true);
		curl_multi_wakeup(az.multi);
	}
	/* A rate limit holds everything until its reset: the window starts then. */
	uint64_t held = atomic_load(&az.book->rate_limited_until_ns);
	uint64_t window = (2 * az.cfg.timeout_ms + 1000) * 1000000ull;
	if (!az.settled && held + window > az.drain_deadline_ns)
		az.drain_deadline_ns = held + window;
	if (!az.settled) {
		uint32_t left = unsettled();
		if (left && now < az.drain_deadline_ns)
			return true;
		az.settled = true;
		if (left && atomic_load(&host->map->pipeline->stop)) {
			settle_at_shutdown(host);
			alpaca_poll(host, now);
		} else if (left) {
			ark_log(host->log, "warn", "alpaca: stopping with %u orders unsettled; the next Kenny looks them up", left);
		}
	}
	/* Every report published has been taken by Kyle (bounded: a stalled
	 * pipeline is the watchdog's to handle). From there it goes through
	 * every agent: each stops only once the one before it has stopped and
	 * its input is empty. */
	if (ark_ring_depth(az.report_ring) && now < az.drain_deadline_ns + 5000ull * 1000 * 1000) {
		alpaca_poll(host, now);
		return true;
	}
	az.reports_closed = true;
	atomic_store(&az.book->settling, 2);
	return false;
}

static void alpaca_stop(const struct ark_broker_host *host)
{
	if (!az.thread_started)
		return;
	atomic_store(&az.book->settling, 2);
	atomic_store(&az.book->broker_active, 0);
	atomic_store(&az.stop, true);
	curl_multi_wakeup(az.multi);
	pthread_join(az.thread, NULL);
	az.thread_started = false;
	drain_notes(host);
	ark_log(host->log, "info", "alpaca: submitted=%llu posts=%llu lookups=%llu reports=%llu refused_locally=%llu",
		(unsigned long long)atomic_load(&az.book->submitted), (unsigned long long)atomic_load(&az.book->posts),
		(unsigned long long)atomic_load(&az.book->lookups), (unsigned long long)atomic_load(&az.book->reports),
		(unsigned long long)atomic_load(&az.book->refused_locally));
	for (uint32_t i = 0; i < az.cfg.max_connections; i++) {
		if (az.transfers[i].busy)
			curl_multi_remove_handle(az.multi, az.transfers[i].easy);
		curl_easy_cleanup(az.transfers[i].easy);
		curl_slist_free_all(az.transfers[i].headers);
	}
	free(az.transfers);
	az.transfers = NULL;
	curl_multi_cleanup(az.multi);
	az.multi = NULL;
	ark_ring_producer_close(&az.reports);
}

/* `ark config validate`: the settings alpaca_start reads, checked alone. */
static int alpaca_check_settings(struct ark_err *err)
{
	struct ark_alpaca_config cfg;
	int rc = ark_alpaca_config_from_env(&cfg, err);
	explicit_bzero(&cfg, sizeof cfg);
	return rc;
}

static const char *const alpaca_credentials[] = {"ALPACA_API_KEY", "ALPACA_SECRET_KEY", NULL};

const struct ark_broker_ops ark_broker_alpaca = {
	.reports = true,
	.credentials = alpaca_credentials,
	.check_settings = alpaca_check_settings,
	.start = alpaca_start,
	.submit = alpaca_submit,
	.poll = alpaca_poll,
	.busy = alpaca_busy,
	.stop = alpaca_stop,
};
