/* alpaca/alpaca.h — the Alpaca trading API as Kenny's broker sees it: the
 * settings, the order Kenny sends, and the reading of every answer Alpaca
 * gives (order and account objects, error bodies, rate-limit headers).
 *
 * Nothing here talks to the network; brokers/alpaca_client.c does, through
 * libcurl's multi interface. Every answer is classified into exactly one kind
 * so that a POST is never repeated unless Alpaca's own word (or a lookup by
 * client_order_id) says the order does not exist. Keys are never logged and
 * never appear in an error. */
#ifndef ARK_ALPACA_H
#define ARK_ALPACA_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ark_alpaca_config {
	char base_url[256];           /* ALPACA_BASE_URL (https://paper-api.alpaca.markets) */
	char key_id[128];             /* ALPACA_API_KEY: the APCA-API-KEY-ID header (never logged) */
	char secret_key[128];         /* ALPACA_SECRET_KEY: APCA-API-SECRET-KEY (never logged) */
	char time_in_force[8];        /* ALPACA_TIME_IN_FORCE: day, gtc, ioc, fok (day) */
	uint64_t timeout_ms;          /* ALPACA_TIMEOUT_MS: one request, connect included (5000) */
	uint64_t poll_ms;             /* ALPACA_POLL_MS: an open order's status this often (1000) */
	uint64_t account_refresh_s;   /* ALPACA_ACCOUNT_REFRESH_S: buying power this often (60) */
	uint32_t max_attempts;        /* ALPACA_MAX_ATTEMPTS: POSTs of one order, each after Alpaca
				       * confirmed the previous one absent (3) */
	uint32_t max_connections;     /* ALPACA_MAX_CONNECTIONS: requests in flight (8) */
	double market_price_band;     /* ALPACA_MARKET_PRICE_BAND: a market order's fill price may lie
				       * this far from the reference price (0.05 = 5%) */
};
/* Every setting checked; errors name the variable, never a key's value. */
int ark_alpaca_config_from_env(struct ark_alpaca_config *config, struct ark_err *err);

/* "ark-<run>-<trace id>" (10 and 16 hex digits): the same order always has
 * the same id, so Alpaca itself refuses a second copy (422); the run (from
 * the segment's creation time) keeps a later run whose sequence numbers start
 * again (a wiped data directory) from meeting an old order's id. */
#define ARK_ALPACA_COID_MAX 32
void ark_alpaca_client_order_id(uint64_t run_id, uint64_t trace_id, char out[ARK_ALPACA_COID_MAX]);
/* Parse one back; -1 if it is not ours. */
int ark_alpaca_parse_client_order_id(const char *text, uint64_t *run_id, uint64_t *trace_id);

/* The JSON body of POST /v2/orders: a limit order. side: "buy" or "sell".
 * Returns the length, or -1 if it does not fit or a value cannot be sent
 * (quantity or price not finite and positive, a symbol with characters
 * Alpaca never uses). */
int ark_alpaca_order_body(char *out, size_t cap, const char *symbol, const char *side, double quantity,
			  double limit_price, const char *time_in_force, const char *client_order_id);

/* Alpaca's order object, the fields Kenny needs (numbers come as strings). */
struct ark_alpaca_order {
	char id[48];
	char client_order_id[48];
	char symbol[24];
	char status[32];              /* new, accepted, partially_filled, filled, canceled, ... */
	char side[8];                 /* buy, sell ("" when absent) */
	char type[16];                /* limit, market, ... ("" when absent) */
	double qty;                   /* 0 when absent or null (a notional order) */
	double limit_price;           /* 0 when absent or null (a market order) */
	double filled_qty;
	double filled_avg_price;      /* 0 while nothing is filled (null) */
	bool terminal;                /* filled, canceled, expired, rejected, replaced */
};
/* 0, or -1 with detail saying what is missing or wrong. Every number is
 * finite and at least 0, or the answer is malformed (whether a number is
 * believable is ark_alpaca_check_order's to say, against the order). */
int ark_alpaca_parse_order(const char *body, size_t len, struct ark_alpaca_order *order, char *detail,
			   size_t detail_len);

/* ---- An answer checked against the order it answers ----
 * A well-formed order object can still be wrong: a broker (or anything
 * between) that answers with another order's id, another symbol or side,
 * more filled than was ordered, a cumulative fill that shrinks, or a price
 * the order's limit forbids. Such an answer is an anomaly: nothing of it is
 * applied, it is journaled, counted and alerted on, and trading on the venue
 * stops until an operator resumes it (`ark broker resume`). */
enum ark_alpaca_anomaly {
	ARK_ALPACA_ANOMALY_NONE = 0,
	ARK_ALPACA_ANOMALY_CLIENT_ORDER_ID,   /* not the client order id asked about */
	ARK_ALPACA_ANOMALY_ORDER_ID,          /* the broker's id for the order changed */
	ARK_ALPACA_ANOMALY_SYMBOL,
	ARK_ALPACA_ANOMALY_SIDE,
	ARK_ALPACA_ANOMALY_QUANTITY,          /* qty not the quantity ordered */
	ARK_ALPACA_ANOMALY_OVERFILL,          /* filled_qty beyond the quantity ordered */
	ARK_ALPACA_ANOMALY_FILL_DECREASED,    /* cumulative filled_qty below what it said before */
	ARK_ALPACA_ANOMALY_PRICE,             /* a fill price the limit forbids (or outside the band) */
	ARK_ALPACA_ANOMALY_STATUS,            /* "filled" with less than the order filled */
	ARK_ALPACA_ANOMALY_COUNT
};
const char *ark_alpaca_anomaly_name(enum ark_alpaca_anomaly anomaly);

/* What was ordered and what the broker said before (the slot's record). */
struct ark_alpaca_expect {
	uint64_t run_id;              /* the client order id's parts */
	uint64_t trace_id;
	const char *symbol;
	bool buy;
	double quantity;
	double limit_price;           /* 0: a market order, judged by band around reference_price */
	double reference_price;
	double market_price_band;
	const char *order_id;         /* the broker's id seen before ("" none) */
	double filled_before;         /* the cumulative fill already taken */
	double avg_before;            /* its average price */
};
/* NONE when the answer fits the order; else the anomaly and why (figures
 * included, the server's strings made printable). */
enum ark_alpaca_anomaly ark_alpaca_check_order(const struct ark_alpaca_order *answer, const struct ark_alpaca_expect *order,
					       char *why, size_t why_len);

struct ark_alpaca_account {
	char status[32];              /* ACTIVE, ACCOUNT_CLOSED, ACCOUNT_UPDATED, ONBOARDING, ... */
	char currency[8];
	double buying_power;
	double cash;
	bool trading_blocked;
	bool account_blocked;
	bool trade_suspended_by_user;
};
int ark_alpaca_parse_account(const char *body, size_t len, struct ark_alpaca_account *account, char *detail,
			     size_t detail_len);
/* Whether orders may go to this account; why says what stops them. */
bool ark_alpaca_account_usable(const struct ark_alpaca_account *account, char *why, size_t why_len);

/* Alpaca's error body {"code": 40310000, "message": "..."}: the code (0 if
 * none) and the message as printable ASCII, shortened. */
void ark_alpaca_parse_error(const char *body, size_t len, uint32_t *code, char *message, size_t message_len);

/* What one answer to POST /v2/orders (or a lookup) means. */
enum ark_alpaca_answer {
	ARK_ALPACA_ORDER = 0,         /* 200: the order object */
	ARK_ALPACA_UNAUTHORIZED,      /* 401: the keys are wrong or revoked */
	ARK_ALPACA_FORBIDDEN,         /* 403: insufficient buying power, or not allowed */
	ARK_ALPACA_DUPLICATE_ID,      /* 422 "client_order_id must be unique": it exists, look it up */
	ARK_ALPACA_UNPROCESSABLE,     /* 422 otherwise: the order is refused */
	ARK_ALPACA_NOT_FOUND,         /* 404: (a lookup) no such order */
	ARK_ALPACA_RATE_LIMITED,      /* 429: nothing done; wait for X-RateLimit-Reset */
	ARK_ALPACA_SERVER_ERROR,      /* 5xx: unknown whether the order exists */
	ARK_ALPACA_NETWORK,           /* no answer (refused, reset, timed out): unknown too */
	ARK_ALPACA_MALFORMED,         /* another status, or a 200 body that is not an order */
	ARK_ALPACA_ANSWER_COUNT
};
const char *ark_alpaca_answer_name(enum ark_alpaca_answer answer);
/* Classify by HTTP status (0: no answer) and body; a 200 must parse as an
 * order (into order when not NULL). detail: Alpaca's message or ours. */
enum ark_alpaca_answer ark_alpaca_classify(long http_status, const char *body, size_t len,
					   struct ark_alpaca_order *order, uint32_t *code, char *detail,
					   size_t detail_len);

/* X-RateLimit-Reset: the Unix time (seconds) the window resets. -1 if the
 * value is not a plausible time. */
int ark_alpaca_parse_reset(const char *value, uint64_t *unix_seconds);

#endif /* ARK_ALPACA_H */
