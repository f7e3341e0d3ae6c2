/* tests/alphavantage/test_quote.c — GLOBAL_QUOTE answers as Alpha Vantage
 * really sends them, each classified into its one kind; only quotes give a
 * tick, with the price and volume of their numbered fields; settings. */
#include "alphavantage/alphavantage.h"
#include "check.h"

#include <stdlib.h>

static enum ark_av_kind parse(int status, const char *body, const char *symbol, struct ark_tick *t)
{
	char detail[200];
	return ark_av_parse_quote(status, body, strlen(body), symbol, t, detail, sizeof detail);
}

int main(void)
{
	struct ark_tick t;
	const char *quote = "{\n    \"Global Quote\": {\n        \"01. symbol\": \"IBM\",\n        \"02. open\": \"233.1000\",\n"
			    "        \"03. high\": \"234.9500\",\n        \"04. low\": \"232.1000\",\n        \"05. price\": \"234.3000\",\n"
			    "        \"06. volume\": \"3461205\",\n        \"07. latest trading day\": \"2026-11-27\",\n"
			    "        \"08. previous close\": \"232.8700\",\n        \"09. change\": \"1.4300\",\n"
			    "        \"10. change percent\": \"0.6141%\"\n    }\n}";
	CHECK(parse(200, quote, "IBM", &t) == ARK_AV_QUOTE);
	CHECK(strcmp(t.symbol, "IBM") == 0 && t.price == 234.3 && t.size == 3461205);
	CHECK(parse(200, quote, "ibm", &t) == ARK_AV_QUOTE);   /* the symbol as the operator wrote it */
	CHECK(parse(200, quote, "MSFT", &t) == ARK_AV_MALFORMED);   /* a quote for another symbol */
	CHECK(parse(200, "{\"Global Quote - DATA DELAYED\": {\"01. symbol\": \"IBM\", \"05. price\": \"1.5\", \"06. volume\": \"0\"}}",
		    "IBM", &t) == ARK_AV_QUOTE_DELAYED && t.price == 1.5);
	CHECK(parse(200, "{\"Global Quote\": {}}", "NOPE", &t) == ARK_AV_EMPTY);
	CHECK(parse(200, "{\"Error Message\": \"Invalid API call.\"}", "X", &t) == ARK_AV_ERROR_MESSAGE);
	CHECK(parse(200, "{\"Note\": \"Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute.\"}", "X", &t) == ARK_AV_NOTE);
	CHECK(parse(200, "{\"Information\": \"Our standard API rate limit is 25 requests per day.\"}", "X", &t) == ARK_AV_INFORMATION);
	CHECK(parse(503, quote, "IBM", &t) == ARK_AV_HTTP_ERROR);
	/* malformed in every way a server could */
	static const char *const malformed[] = {
		"",
		"<html>busy</html>",
		"[1,2]",
		"{\"Global Quote\": \"IBM\"}",
		"{\"Global Quote\": {\"01. symbol\": \"IBM\", \"05. price\": \"abc\"}}",
		"{\"Global Quote\": {\"01. symbol\": \"IBM\", \"05. price\": \"-1\"}}",
		"{\"Global Quote\": {\"01. symbol\": \"IBM\", \"05. price\": 12.5}}",
		"{\"Global Quote\": {\"01. symbol\": \"IBM\", \"05. price\": \"nan\"}}",
		"{\"Global Quote\": {\"01. symbol\": \"IBM\", \"05. price\": \"1e999\"}}",
		"{\"Global Quote\": {\"01. symbol\": \"IBM\"}}",
		"{\"Meta Data\": {}}",
	};
	for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
		CHECK_MSG(parse(200, malformed[i], "IBM", &t) == ARK_AV_MALFORMED, "%s", malformed[i]);
	CHECK(strcmp(ark_av_kind_name(ARK_AV_NOTE), "note") == 0);

	/* settings */
	struct ark_av_config c;
	struct ark_err err = {0};
	unsetenv("ALPHA_VANTAGE_API_KEY");
	CHECK(ark_av_config_from_env(&c, &err) == 0 && !c.enabled && c.symbol_count == 5);
	setenv("ALPHA_VANTAGE_API_KEY", "DEMOKEY123", 1);
	setenv("ALPHA_VANTAGE_SYMBOLS", " aapl , BRK.B,msft ", 1);
	setenv("ALPHA_VANTAGE_RATE_PER_MIN", "75", 1);
	CHECK_MSG(ark_av_config_from_env(&c, &err) == 0, "%s", err.msg);
	CHECK(c.enabled && c.symbol_count == 3 && strcmp(c.symbols[1], "BRK.B") == 0 && c.spacing_ns == 800000000ull);
	CHECK(strcmp(c.base_url, "https://www.alphavantage.co") == 0);
	setenv("ALPHA_VANTAGE_SYMBOLS", "AAPL,,MSFT", 1);
	CHECK(ark_av_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPHA_VANTAGE_SYMBOLS"));
	setenv("ALPHA_VANTAGE_SYMBOLS", "AAPL", 1);
	setenv("ALPHA_VANTAGE_API_KEY", "key with space", 1);
	CHECK(ark_av_config_from_env(&c, &err) != 0 && !strstr(err.msg, "key with space"));
	setenv("ALPHA_VANTAGE_API_KEY", "DEMOKEY123", 1);
	setenv("ALPHA_VANTAGE_RATE_PER_MIN", "0", 1);
	CHECK(ark_av_config_from_env(&c, &err) != 0 && strstr(err.msg, "ALPHA_VANTAGE_RATE_PER_MIN"));
	printf("alpha vantage quotes: ok\n");
	return 0;
}
