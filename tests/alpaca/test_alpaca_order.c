/* tests/alpaca/test_alpaca_order.c — Alpaca's answers as the API documents
 * them (order and account objects, error bodies, 422's two meanings, 429's
 * reset header), each read into its one kind; the order body Kenny sends;
 * client order ids; settings and their errors (which never show a key). */
#include "alpaca/alpaca.h"
#include "check.h"

#include <stdlib.h>

static const char *order_accepted =
	"{\"id\":\"61e69015-8549-4bfd-b9c3-01e75843f47d\",\"client_order_id\":\"ark-6789abcdef-000000000000002a\","
	"\"created_at\":\"2026-11-27T15:04:05.123456Z\",\"updated_at\":\"2026-11-27T15:04:05.123456Z\","
	"\"submitted_at\":\"2026-11-27T15:04:05.1Z\",\"filled_at\":null,\"expired_at\":null,\"canceled_at\":null,"
	"\"failed_at\":null,\"replaced_at\":null,\"replaced_by\":null,\"replaces\":null,"
	"\"asset_id\":\"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415\",\"symbol\":\"AAPL\",\"asset_class\":\"us_equity\","
	"\"notional\":null,\"qty\":\"10\",\"filled_qty\":\"0\",\"filled_avg_price\":null,\"order_class\":\"\","
	"\"order_type\":\"limit\",\"type\":\"limit\",\"side\":\"buy\",\"time_in_force\":\"day\","
	"\"limit_price\":\"187.25\",\"stop_price\":null,\"status\":\"accepted\",\"extended_hours\":false,"
	"\"legs\":null,\"trail_percent\":null,\"trail_price\":null,\"hwm\":null}";

int main(void)
{
	struct ark_alpaca_order o;
	char detail[200];
	uint32_t code;

	/* The order object. */
	CHECK(ark_alpaca_parse_order(order_accepted, strlen(order_accepted), &o, detail, sizeof detail) == 0);
	CHECK(strcmp(o.id, "61e69015-8549-4bfd-b9c3-01e75843f47d") == 0 && strcmp(o.status, "accepted") == 0);
	CHECK(strcmp(o.client_order_id, "ark-6789abcdef-000000000000002a") == 0 && strcmp(o.symbol, "AAPL") == 0);
	CHECK(o.qty == 10 && o.filled_qty == 0 && o.filled_avg_price == 0 && !o.terminal);
	const char *filled = "{\"id\":\"x1\",\"client_order_id\":\"ark-1\",\"status\":\"filled\",\"qty\":\"10\","
			     "\"filled_qty\":\"10\",\"filled_avg_price\":\"187.2\"}";
	CHECK(ark_alpaca_parse_order(filled, strlen(filled), &o, detail, sizeof detail) == 0);
	CHECK(o.terminal && o.filled_qty == 10 && o.filled_avg_price == 187.2);
	const char *partial = "{\"id\":\"x1\",\"client_order_id\":\"c\",\"status\":\"partially_filled\","
			      "\"filled_qty\":\"4\",\"filled_avg_price\":\"187.1\"}";
	CHECK(ark_alpaca_parse_order(partial, strlen(partial), &o, detail, sizeof detail) == 0 && !o.terminal);
	const char *canceled = "{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"canceled\",\"filled_qty\":\"0\",\"filled_avg_price\":null}";
	CHECK(ark_alpaca_parse_order(canceled, strlen(canceled), &o, detail, sizeof detail) == 0 && o.terminal);
	/* Broken orders: each names what is wrong. */
	const char *bad[][2] = {
		{"{\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"0\",\"filled_avg_price\":null}", "\"id\""},
		{"{\"id\":\"x\",\"client_order_id\":\"c\",\"filled_qty\":\"0\",\"filled_avg_price\":null}", "\"status\""},
		{"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"ten\",\"filled_avg_price\":null}", "filled_qty"},
		{"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"-1\",\"filled_avg_price\":null}", "filled_qty"},
		{"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"filled\",\"filled_qty\":\"5\",\"filled_avg_price\":null}", "filled_avg_price"},
		{"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"nan\",\"filled_avg_price\":null}", "filled_qty"},
		{"{\"id\":7,\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"0\",\"filled_avg_price\":null}", "\"id\""},
		{"[1,2]", "not a JSON object"},
		{"{\"id\":\"x\",", "not a JSON object"},
		{"", "not a JSON object"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_MSG(ark_alpaca_parse_order(bad[i][0], strlen(bad[i][0]), &o, detail, sizeof detail) == -1, "%s", bad[i][0]);
		CHECK_MSG(strstr(detail, bad[i][1]) != NULL, "%s -> %s", bad[i][0], detail);
	}

	/* Answers to POST /v2/orders, by status and body. */
	CHECK(ark_alpaca_classify(200, order_accepted, strlen(order_accepted), &o, &code, detail, sizeof detail) == ARK_ALPACA_ORDER);
	CHECK(strcmp(o.status, "accepted") == 0);
	CHECK(ark_alpaca_classify(200, "{}", 2, NULL, &code, detail, sizeof detail) == ARK_ALPACA_MALFORMED);
	const char *unauthorized = "{\"message\": \"request is not authorized\"}";
	CHECK(ark_alpaca_classify(401, unauthorized, strlen(unauthorized), NULL, &code, detail, sizeof detail) == ARK_ALPACA_UNAUTHORIZED);
	CHECK(strcmp(detail, "request is not authorized") == 0 && code == 0);
	const char *power = "{\"code\":40310000,\"message\":\"insufficient buying power\",\"buying_power\":\"0\",\"cost_basis\":\"1872.5\"}";
	CHECK(ark_alpaca_classify(403, power, strlen(power), NULL, &code, detail, sizeof detail) == ARK_ALPACA_FORBIDDEN);
	CHECK(code == 40310000 && strcmp(detail, "insufficient buying power") == 0);
	const char *unique = "{\"code\":40010001,\"message\":\"client_order_id must be unique\"}";
	CHECK(ark_alpaca_classify(422, unique, strlen(unique), NULL, &code, detail, sizeof detail) == ARK_ALPACA_DUPLICATE_ID);
	const char *qty = "{\"code\":40010001,\"message\":\"qty must be > 0\"}";
	CHECK(ark_alpaca_classify(422, qty, strlen(qty), NULL, &code, detail, sizeof detail) == ARK_ALPACA_UNPROCESSABLE);
	CHECK(ark_alpaca_classify(404, "{\"code\":40410000,\"message\":\"order not found\"}", 46, NULL, &code, detail, sizeof detail) == ARK_ALPACA_NOT_FOUND);
	const char *rate = "{\"code\":42910000,\"message\":\"rate limit exceeded\"}";
	CHECK(ark_alpaca_classify(429, rate, strlen(rate), NULL, &code, detail, sizeof detail) == ARK_ALPACA_RATE_LIMITED);
	const char *html = "<html><body>502 Bad Gateway</body></html>";
	CHECK(ark_alpaca_classify(502, html, strlen(html), NULL, &code, detail, sizeof detail) == ARK_ALPACA_SERVER_ERROR);
	CHECK(strstr(detail, "502 Bad Gateway") != NULL);
	CHECK(ark_alpaca_classify(500, "", 0, NULL, &code, detail, sizeof detail) == ARK_ALPACA_SERVER_ERROR);
	CHECK(strcmp(detail, "HTTP status 500") == 0);
	CHECK(ark_alpaca_classify(0, "", 0, NULL, &code, detail, sizeof detail) == ARK_ALPACA_NETWORK);
	CHECK(ark_alpaca_classify(418, "", 0, NULL, &code, detail, sizeof detail) == ARK_ALPACA_MALFORMED);
	for (int a = 0; a < ARK_ALPACA_ANSWER_COUNT; a++)
		CHECK(strcmp(ark_alpaca_answer_name((enum ark_alpaca_answer)a), "unknown") != 0);

	/* X-RateLimit-Reset. */
	uint64_t reset;
	CHECK(ark_alpaca_parse_reset("1764255600", &reset) == 0 && reset == 1764255600ull);
	CHECK(ark_alpaca_parse_reset(" 1764255600\r\n", &reset) == 0 && reset == 1764255600ull);
	CHECK(ark_alpaca_parse_reset("60", &reset) == -1);
	CHECK(ark_alpaca_parse_reset("soon", &reset) == -1);
	CHECK(ark_alpaca_parse_reset("1764255600x", &reset) == -1);
	CHECK(ark_alpaca_parse_reset("", &reset) == -1);

	/* The account. */
	const char *account = "{\"id\":\"e6fe16f3-64a4-4921-8928-cadf02f92f98\",\"account_number\":\"PA3SJ0FJZHK8\","
			      "\"status\":\"ACTIVE\",\"currency\":\"USD\",\"buying_power\":\"262113.632\",\"cash\":\"-23140.2\","
			      "\"pattern_day_trader\":false,\"trading_blocked\":false,\"transfers_blocked\":false,"
			      "\"account_blocked\":false,\"trade_suspended_by_user\":false,\"multiplier\":\"4\"}";
	struct ark_alpaca_account acct;
	char why[160];
	CHECK(ark_alpaca_parse_account(account, strlen(account), &acct, detail, sizeof detail) == 0);
	CHECK(acct.buying_power == 262113.632 && acct.cash == -23140.2 && strcmp(acct.currency, "USD") == 0);
	CHECK(ark_alpaca_account_usable(&acct, why, sizeof why) && why[0] == '\0');
	acct.trading_blocked = true;
	CHECK(!ark_alpaca_account_usable(&acct, why, sizeof why) && strstr(why, "trading_blocked"));
	acct.trading_blocked = false, acct.account_blocked = true;
	CHECK(!ark_alpaca_account_usable(&acct, why, sizeof why) && strstr(why, "account_blocked"));
	acct.account_blocked = false, acct.trade_suspended_by_user = true;
	CHECK(!ark_alpaca_account_usable(&acct, why, sizeof why) && strstr(why, "suspended"));
	const char *closed = "{\"status\":\"ACCOUNT_CLOSED\",\"buying_power\":\"0\",\"trading_blocked\":false,\"account_blocked\":false}";
	CHECK(ark_alpaca_parse_account(closed, strlen(closed), &acct, detail, sizeof detail) == 0);
	CHECK(!ark_alpaca_account_usable(&acct, why, sizeof why) && strstr(why, "ACCOUNT_CLOSED"));
	const char *no_power = "{\"status\":\"ACTIVE\",\"trading_blocked\":false,\"account_blocked\":false}";
	CHECK(ark_alpaca_parse_account(no_power, strlen(no_power), &acct, detail, sizeof detail) == -1 && strstr(detail, "buying_power"));
	const char *bad_bool = "{\"status\":\"ACTIVE\",\"buying_power\":\"1\",\"trading_blocked\":\"no\",\"account_blocked\":false}";
	CHECK(ark_alpaca_parse_account(bad_bool, strlen(bad_bool), &acct, detail, sizeof detail) == -1 && strstr(detail, "trading_blocked"));

	/* Client order ids and the order body. */
	char coid[ARK_ALPACA_COID_MAX];
	ark_alpaca_client_order_id(0x123456789abcdefull, 0x0001800000000abcull, coid);
	CHECK_MSG(strcmp(coid, "ark-6789abcdef-0001800000000abc") == 0, "%s", coid);   /* the run's low 40 bits */
	uint64_t trace, run;
	CHECK(ark_alpaca_parse_client_order_id(coid, &run, &trace) == 0 && trace == 0x0001800000000abcull &&
	      run == 0x6789abcdefull);
	CHECK(ark_alpaca_parse_client_order_id("ark-xyz", &run, &trace) == -1);
	CHECK(ark_alpaca_parse_client_order_id("ark-6789abcdef-0001800000000ABC", &run, &trace) == -1);
	CHECK(ark_alpaca_parse_client_order_id("ark-6789abcdef_0001800000000abc", &run, &trace) == -1);
	CHECK(ark_alpaca_parse_client_order_id("ark-6789abcdef-0001800000000abc0", &run, &trace) == -1);
	char body[400];
	int n = ark_alpaca_order_body(body, sizeof body, "AAPL", "buy", 10, 187.254, "day", coid);
	CHECK(n > 0 && (size_t)n == strlen(body));
	CHECK_MSG(strcmp(body, "{\"symbol\":\"AAPL\",\"qty\":\"10\",\"side\":\"buy\",\"type\":\"limit\",\"time_in_force\":\"day\","
			       "\"limit_price\":\"187.25\",\"client_order_id\":\"ark-6789abcdef-0001800000000abc\"}") == 0, "%s", body);
	CHECK(ark_alpaca_order_body(body, sizeof body, "PENNY", "sell", 2.5, 0.12345, "ioc", coid) > 0);
	CHECK(strstr(body, "\"limit_price\":\"0.1235\"") && strstr(body, "\"qty\":\"2.5\"") && strstr(body, "\"side\":\"sell\""));
	CHECK(ark_alpaca_order_body(body, sizeof body, "A\"B", "buy", 1, 1, "day", coid) == -1);
	CHECK(ark_alpaca_order_body(body, sizeof body, "AAPL", "buy", 0, 1, "day", coid) == -1);
	CHECK(ark_alpaca_order_body(body, sizeof body, "AAPL", "buy", 1, -1, "day", coid) == -1);
	CHECK(ark_alpaca_order_body(body, 20, "AAPL", "buy", 1, 1, "day", coid) == -1);

	/* Settings. */
	struct ark_alpaca_config c;
	struct ark_err err = {0};
	unsetenv("ALPACA_API_KEY");
	unsetenv("ALPACA_SECRET_KEY");
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPACA_API_KEY is required"));
	setenv("ALPACA_API_KEY", "PKTESTKEYID123", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPACA_SECRET_KEY is required"));
	setenv("ALPACA_SECRET_KEY", "s3cr3t with space", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPACA_SECRET_KEY holds a space"));
	CHECK(!strstr(err.msg, "s3cr3t"));
	setenv("ALPACA_SECRET_KEY", "s3cr3tvalue", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) == 0);
	CHECK(strcmp(c.base_url, "https://paper-api.alpaca.markets") == 0 && c.timeout_ms == 5000 && c.max_attempts == 3);
	CHECK(strcmp(c.time_in_force, "day") == 0);
	setenv("ALPACA_BASE_URL", "http://127.0.0.1:1234/", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) == 0 && strcmp(c.base_url, "http://127.0.0.1:1234") == 0);
	setenv("ALPACA_BASE_URL", "ftp://x", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPACA_BASE_URL"));
	setenv("ALPACA_BASE_URL", "https://paper-api.alpaca.markets/v2", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "without /v2"));
	unsetenv("ALPACA_BASE_URL");
	setenv("ALPACA_TIME_IN_FORCE", "forever", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPACA_TIME_IN_FORCE"));
	unsetenv("ALPACA_TIME_IN_FORCE");
	setenv("ALPACA_TIMEOUT_MS", "5", 1);
	CHECK(ark_alpaca_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPACA_TIMEOUT_MS"));
	unsetenv("ALPACA_TIMEOUT_MS");
	printf("alpaca order: ok\n");
	return 0;
}
