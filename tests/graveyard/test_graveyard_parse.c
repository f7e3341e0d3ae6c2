/* tests/graveyard/test_graveyard_parse.c — the rules file format: every key
 * compiles to the value it states (with its scope and line); comments, blank
 * lines, CRLF and spacing are accepted; every error names the file and line
 * and what was expected (unknown, repeated and missing keys, missing or bad
 * scope, every bad value); the shipped deploy/graveyard.rules compiles; and a
 * described table parses back to the same table. argv[1]: deploy rules. */
#include "graveyard_test.h"

static struct ark_graveyard_rules rules;

/* Parse the base text with one key replaced; expect failure mentioning each needle. */
static void expect_error(const char *key, const char *line, const char *needle1, const char *needle2)
{
	char text[8192];
	const char *const replace[] = {key, line};
	rules_text(text, sizeof text, replace, 2);
	struct ark_err err = {0};
	int rc = ark_graveyard_parse(text, strlen(text), "t.rules", &rules, &err);
	CHECK_MSG(rc < 0, "'%s' was accepted", line);
	CHECK_CONTAINS(err.msg, needle1);
	if (needle2)
		CHECK_CONTAINS(err.msg, needle2);
}

static void expect_value_error(const char *key, int line_no, const char *value)
{
	char line[256], where[96];
	snprintf(line, sizeof line, "%s = %s", key, value);
	snprintf(where, sizeof where, "t.rules:%d: %s: expected", line_no, key);
	expect_error(key, line, where, NULL);
}

static void parse_ok(const char *text)
{
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_parse(text, strlen(text), "t.rules", &rules, &err) == 0, "%s", err.msg);
}

static void every_key(void)
{
	make_rules(&rules, NULL, 0);
	const struct ark_graveyard_limits *l = &rules.limits;
	CHECK_EQ_U64(l->format_version, 1);
	CHECK_EQ_U64(l->trading_state, ARK_TRADING_ACTIVE);
	CHECK(l->max_order_quantity == 100);
	CHECK(l->max_order_notional == 5000);
	CHECK(fabs(l->price_collar - 0.05) < 1e-15 && !l->price_collar_in_bps);
	CHECK_EQ_U64(l->reference_max_age_ns, SEC);
	CHECK_EQ_U64(l->restricted_count, 2);
	CHECK(strcmp(l->restricted[0], "BAD") == 0 && strcmp(l->restricted[1], "WORSE") == 0);
	CHECK_EQ_U64(l->pattern_count, 2);
	CHECK(strcmp(l->patterns[0].text, "*.OTC") == 0 && strcmp(l->patterns[1].text, "TEST*") == 0);
	CHECK_EQ_U64(l->order_rate_count, 10);
	CHECK_EQ_U64(l->order_rate_window_ns, SEC);
	CHECK_EQ_U64(l->order_rate_per_symbol_count, 3);
	CHECK_EQ_U64(l->order_rate_per_symbol_window_ns, SEC);
	CHECK_EQ_U64(l->duplicate_window_ns, 500 * MS);
	CHECK(l->max_position == 200);
	CHECK(l->max_gross_exposure == 20000);
	CHECK(l->daily_loss_limit == 1000);
	CHECK_EQ_U64(l->trading_day_reset_ns, 0);
	/* Lines and scopes, by rule kind. */
	const struct { enum ark_reason kind; int line; int scope; } where[] = {
		{ARK_REASON_HALTED, L_STATE, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_REDUCING_ONLY, L_STATE, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_MAX_QUANTITY, L_QUANTITY, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_MAX_NOTIONAL, L_NOTIONAL, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_PRICE_COLLAR, L_COLLAR, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_REFERENCE_PRICE, L_REFERENCE, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_RESTRICTED_SYMBOL, L_RESTRICTED, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_RESTRICTED_PATTERN, L_PATTERNS, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_RATE_GLOBAL, L_RATE, ARK_GRAVEYARD_SCOPE_GLOBAL},
		{ARK_REASON_RATE_SYMBOL, L_RATE_SYMBOL, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_DUPLICATE, L_DUPLICATE, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_POSITION_LIMIT, L_POSITION, ARK_GRAVEYARD_SCOPE_NODE},
		{ARK_REASON_GROSS_EXPOSURE, L_GROSS, ARK_GRAVEYARD_SCOPE_GLOBAL},
		{ARK_REASON_DAILY_LOSS, L_LOSS, ARK_GRAVEYARD_SCOPE_GLOBAL},
	};
	for (size_t i = 0; i < ARK_ARRAY_LEN(where); i++) {
		CHECK_EQ_U64(l->rules[where[i].kind].line, where[i].line);
		CHECK_EQ_U64(l->rules[where[i].kind].scope, where[i].scope);
		CHECK(ark_graveyard_rule_key(where[i].kind) != NULL);
	}
	CHECK(ark_graveyard_rule_key(ARK_REASON_ETHICS_DRIFT) == NULL);
	CHECK(strlen(rules.file_sha256_hex) == 64 && strlen(rules.table_sha256_hex) == 64);

	/* Other spellings of each value. */
	const char *const other[] = {
		"trading_state", "trading_state = reducing global",
		"price_collar", "price_collar = 50bps global",
		"reference_max_age", "reference_max_age = 250ms node",
		"restricted_symbols", "restricted_symbols = none node",
		"restricted_patterns", "restricted_patterns = none node",
		"order_rate", "order_rate = 16384/1h node",
		"order_rate_per_symbol", "order_rate_per_symbol = 64/1us node",
		"duplicate_window", "duplicate_window = 1.5s node",
		"max_order_quantity", "max_order_quantity = 0.5 node",
		"trading_day_reset", "trading_day_reset = 21:30:15   UTC",
	};
	make_rules(&rules, other, (int)ARK_ARRAY_LEN(other));
	CHECK_EQ_U64(l->trading_state, ARK_TRADING_REDUCING);
	CHECK_EQ_U64(l->rules[ARK_REASON_HALTED].scope, ARK_GRAVEYARD_SCOPE_GLOBAL);
	CHECK(fabs(l->price_collar - 0.005) < 1e-15 && l->price_collar_in_bps);
	CHECK_EQ_U64(l->reference_max_age_ns, 250 * MS);
	CHECK_EQ_U64(l->restricted_count, 0);
	CHECK_EQ_U64(l->pattern_count, 0);
	CHECK_EQ_U64(l->order_rate_count, 16384);
	CHECK_EQ_U64(l->order_rate_window_ns, 3600 * SEC);
	CHECK_EQ_U64(l->order_rate_per_symbol_count, 64);
	CHECK_EQ_U64(l->order_rate_per_symbol_window_ns, 1000);
	CHECK_EQ_U64(l->duplicate_window_ns, 1500 * MS);
	CHECK(l->max_order_quantity == 0.5);
	CHECK_EQ_U64(l->trading_day_reset_ns, (21 * 3600 + 30 * 60 + 15) * SEC);
	CHECK(strcmp(l->trading_day_zone, "UTC") == 0);
	/* An exchange's own time zone, read from tzdata. */
	const char *const new_york[] = {"trading_day_reset", "trading_day_reset = 17:00 America/New_York"};
	make_rules(&rules, new_york, 2);
	CHECK_EQ_U64(l->trading_day_reset_ns, 17 * 3600 * SEC);
	CHECK(strcmp(l->trading_day_zone, "America/New_York") == 0);
	const char *const halted[] = {"trading_state", "trading_state = HALTED node"};
	make_rules(&rules, halted, 2);
	CHECK_EQ_U64(l->trading_state, ARK_TRADING_HALTED);
}

static void layout(void)
{
	/* Comments, blank lines, CRLF, tabs, no spaces around '=', any key order. */
	parse_ok("# header\r\n\r\n\tversion=1   # trailing comment\r\n"
		 "trading_day_reset = 00:00 UTC\n"
		 "daily_loss_limit = 1000 global\n"
		 "max_gross_exposure=20000\tglobal\n"
		 "max_position = 200 node\n"
		 "duplicate_window = 500ms node\n"
		 "order_rate_per_symbol = 3 / 1s node\n"
		 "order_rate = 10/1s global\n"
		 "restricted_patterns = *.otc ,  test* node\n"
		 "restricted_symbols = bad,worse node\n"
		 "reference_max_age = 1s node\n"
		 "   \n"
		 "price_collar = 5 % node\n"
		 "max_order_notional = 5000 node\n"
		 "max_order_quantity = 100 node\n"
		 "trading_state = ACTIVE node");   /* no final newline */
	CHECK_EQ_U64(rules.limits.rules[ARK_REASON_MAX_QUANTITY].line, 17);
	CHECK(strcmp(rules.limits.restricted[0], "BAD") == 0);
	CHECK(strcmp(rules.limits.patterns[0].text, "*.OTC") == 0);
	/* Layout changes the file hash, never the table hash... unless lines move. */
	struct ark_graveyard_rules a, b;
	char text[8192];
	rules_text(text, sizeof text, NULL, 0);
	parse_ok(text);
	a = rules;
	/* Same lines, a comment on one of them and spaces: same table. */
	const char *const spaced[] = {"max_position", "max_position   =   200   node   # per symbol"};
	rules_text(text, sizeof text, spaced, 2);
	parse_ok(text);
	b = rules;
	CHECK(strcmp(a.file_sha256_hex, b.file_sha256_hex) != 0);
	CHECK(strcmp(a.table_sha256_hex, b.table_sha256_hex) == 0);
}

static void errors(void)
{
	/* Unknown, repeated and missing keys. */
	expect_error("max_position", "max_positions = 200 node", "t.rules:12: unknown key 'max_positions'",
		     "expected one of: version");
	char text[8192];
	struct ark_err err = {0};
	rules_text(text, sizeof text, NULL, 0);
	strcat(text, "\n# again\nmax_position = 300 node\n");
	CHECK(ark_graveyard_parse(text, strlen(text), "t.rules", &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "t.rules:18: max_position stated again (first at line 12)");
	const char *const drop[] = {"daily_loss_limit", "# no daily loss limit"};
	rules_text(text, sizeof text, drop, 2);
	CHECK(ark_graveyard_parse(text, strlen(text), "t.rules", &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "t.rules:16: end of file: missing 'daily_loss_limit'");
	CHECK(ark_graveyard_parse("", 0, "empty", &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "empty:1: end of file: missing 'version'");
	/* Line shape. */
	expect_error("max_position", "max_position 200 node", "t.rules:12: expected 'key = value'", NULL);
	expect_error("max_position", "max_position =", "t.rules:12: max_position: expected a value", NULL);
	/* Scope: missing, misspelled, alone. */
	expect_error("max_position", "max_position = 200", "t.rules:12: max_position: expected the value then its scope",
		     "got '200'");
	expect_error("max_position", "max_position = 200 nodes", "t.rules:12:", "scope, node or global");
	expect_error("max_position", "max_position = 200 NODE", "t.rules:12:", "scope");
	expect_error("max_position", "max_position = global", "t.rules:12:", "scope");
	expect_error("version", "version = 1 node", "t.rules:1: version: expected 1", NULL);
	/* Every key's bad values. */
	expect_value_error("version", L_VERSION, "2");
	expect_value_error("trading_state", L_STATE, "OPEN node");
	expect_value_error("trading_state", L_STATE, "ACTIVE, HALTED node");
	const char *const numbers[] = {"-1 node", "0 node", "abc node", "1e13 node", "inf node", "nan node", "1,000 node", "0x10 node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(numbers); i++) {
		expect_value_error("max_order_quantity", L_QUANTITY, numbers[i]);
		expect_value_error("max_position", L_POSITION, numbers[i]);
	}
	expect_value_error("max_order_notional", L_NOTIONAL, "0 node");
	expect_value_error("max_order_notional", L_NOTIONAL, "1e16 node");
	expect_value_error("max_gross_exposure", L_GROSS, "-5 global");
	expect_value_error("daily_loss_limit", L_LOSS, "loss global");
	const char *const collars[] = {"5 node", "0% node", "101% node", "10001bps node", "-1% node", "5pct node", "%% node", "bps node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(collars); i++)
		expect_value_error("price_collar", L_COLLAR, collars[i]);
	const char *const ages[] = {"5 node", "0s node", "25h node", "500ns node", "-1s node", "5 s node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(ages); i++)
		expect_value_error("reference_max_age", L_REFERENCE, ages[i]);
	const char *const windows[] = {"100ns node", "2h node", "1 node", "soon node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(windows); i++)
		expect_value_error("duplicate_window", L_DUPLICATE, windows[i]);
	const char *const rates[] = {"100 global", "0/1s global", "16385/1s global", "100/0s global", "100/2h global",
				     "100/1 global", "/1s global", "ten/1s global", "100/1s/2 global"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(rates); i++)
		expect_value_error("order_rate", L_RATE, rates[i]);
	expect_value_error("order_rate_per_symbol", L_RATE_SYMBOL, "65/1s node");
	const char *const lists[] = {"A B node", "TOOLONGSYMBOL1234 node", "A,,B node", ",A node", "A, node",
				     "A, A node", "abc, ABC node", "A$ node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(lists); i++)
		expect_value_error("restricted_symbols", L_RESTRICTED, lists[i]);
	const char *const globs[] = {"[A-Z]* node", "*.OTC, *.otc node", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345* node",
				     "A?B$ node", "ABCDEFGHIJKLMNOP* node", "*,, node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(globs); i++)
		expect_value_error("restricted_patterns", L_PATTERNS, globs[i]);
	expect_error("restricted_patterns", "restricted_patterns = [A-Z]* node", "no [classes]", NULL);
	const char *const resets[] = {"24:00 UTC", "00:60 UTC", "0:00 UTC", "00:00", "00:00 Mars/Olympus_Mons",
				      "00:00 ../../etc/passwd", "00:00 /etc/localtime", "00:00 America/../UTC",
				      "00:00:60 UTC", "00:00UTC", "12 UTC", "00:00 UTC node"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(resets); i++)
		expect_value_error("trading_day_reset", L_RESET, resets[i]);
	/* Too many entries. */
	char many[4096] = "restricted_symbols = ";
	for (int i = 0; i < ARK_GRAVEYARD_MAX_RESTRICTED + 1; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%sS%d", i ? "," : "", i);
	strcat(many, " node");
	expect_error("restricted_symbols", many, "t.rules:7:", "at most 256 symbols");
	expect_error("restricted_patterns", "restricted_patterns = A*,B*,C*,D*,E*,F*,G*,H*,I* node", "t.rules:8:",
		     "at most 8 patterns");
	/* Bytes that are not text, lines too long, files too big. */
	char nul[] = "version = 1\nmax_position = 2\0000 node\n";
	CHECK(ark_graveyard_parse(nul, sizeof nul - 1, "t.rules", &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "t.rules:2: expected text, found a NUL byte");
	static char longline[6000];
	memset(longline, 'x', sizeof longline - 1);
	CHECK(ark_graveyard_parse(longline, strlen(longline), "t.rules", &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "t.rules:1: line longer than 4096 bytes");
	CHECK(ark_graveyard_parse(longline, ARK_GRAVEYARD_FILE_MAX + 1, "big", &rules, &err) == -EFBIG);
	/* A failed parse leaves no table behind. */
	CHECK(rules.limits.format_version == 0 && rules.limits.max_position == 0);
}

static void patterns(void)
{
	make_rules(&rules, NULL, 0);
	const struct ark_graveyard_limits *l = &rules.limits;
	CHECK(ark_graveyard_symbol_restriction(l, "BAD") == ARK_REASON_RESTRICTED_SYMBOL);
	CHECK(ark_graveyard_symbol_restriction(l, "bad") == ARK_REASON_RESTRICTED_SYMBOL);
	CHECK(ark_graveyard_symbol_restriction(l, "BADX") == ARK_REASON_NONE);
	CHECK(ark_graveyard_symbol_restriction(l, "X.OTC") == ARK_REASON_RESTRICTED_PATTERN);
	CHECK(ark_graveyard_symbol_restriction(l, ".otc") == ARK_REASON_RESTRICTED_PATTERN);
	CHECK(ark_graveyard_symbol_restriction(l, "OTC") == ARK_REASON_NONE);
	CHECK(ark_graveyard_symbol_restriction(l, "X.OTCX") == ARK_REASON_NONE);
	CHECK(ark_graveyard_symbol_restriction(l, "TEST") == ARK_REASON_RESTRICTED_PATTERN);
	CHECK(ark_graveyard_symbol_restriction(l, "test12") == ARK_REASON_RESTRICTED_PATTERN);
	CHECK(ark_graveyard_symbol_restriction(l, "TES") == ARK_REASON_NONE);
	CHECK(ark_graveyard_symbol_restriction(l, "ATEST") == ARK_REASON_NONE);
	CHECK(ark_graveyard_symbol_restriction(l, "AAPL") == ARK_REASON_NONE);
	/* Glob semantics: ? is one character, * any run (also empty), backtracking. */
	const char *const globs[] = {"restricted_patterns", "restricted_patterns = A?C, *X*Y, Z*Z*Z, Q?, EXACT node"};
	make_rules(&rules, globs, 2);
	const struct { const char *symbol; bool match; } cases[] = {
		{"ABC", true}, {"AC", false}, {"ABBC", false}, {"XY", true}, {"AXBY", true}, {"AXBYC", false},
		{"XYXY", true}, {"ZZZ", true}, {"ZAZBZ", true}, {"ZAZB", false}, {"QQ", true}, {"Q", false}, {"QA", true}, {"AQ", false},
		{"EXACT", true}, {"EXACTS", false}, {"exact", true},
	};
	for (size_t i = 0; i < ARK_ARRAY_LEN(cases); i++)
		CHECK_MSG((ark_graveyard_symbol_restriction(&rules.limits, cases[i].symbol) ==
			   ARK_REASON_RESTRICTED_PATTERN) == cases[i].match,
			  "%s", cases[i].symbol);
}

static void describe_round_trip(const char *deploy)
{
	struct ark_err err = {0};
	struct ark_graveyard_rules shipped, again;
	CHECK_MSG(ark_graveyard_load(deploy, &shipped, &err) == 0, "%s", err.msg);
	CHECK(strcmp(shipped.path, deploy) == 0);
	/* Rebuild a file from the descriptions, each key on its original line. */
	static char lines[128][1200];
	int max_line = 0;
	memset(lines, 0, sizeof lines);
	const enum ark_reason kinds[] = {ARK_REASON_HALTED, ARK_REASON_MAX_QUANTITY, ARK_REASON_MAX_NOTIONAL,
					 ARK_REASON_PRICE_COLLAR, ARK_REASON_REFERENCE_PRICE, ARK_REASON_RESTRICTED_SYMBOL,
					 ARK_REASON_RESTRICTED_PATTERN, ARK_REASON_RATE_GLOBAL, ARK_REASON_RATE_SYMBOL,
					 ARK_REASON_DUPLICATE, ARK_REASON_POSITION_LIMIT, ARK_REASON_GROSS_EXPOSURE,
					 ARK_REASON_DAILY_LOSS};
	const struct ark_graveyard_limits *l = &shipped.limits;
	for (size_t i = 0; i < ARK_ARRAY_LEN(kinds); i++) {
		char value[1024];
		CHECK(ark_graveyard_describe_rule(l, kinds[i], value, sizeof value) >= 0);
		int at = l->rules[kinds[i]].line;
		CHECK(at > 0 && at < 128);
		snprintf(lines[at], sizeof lines[at], "%s = %s %s", ark_graveyard_rule_key(kinds[i]), value,
			 ark_graveyard_scope_name(l->rules[kinds[i]].scope));
		max_line = ARK_MAX(max_line, at);
	}
	/* version and the reset go on lines no rule uses. */
	char reset[32];
	ark_graveyard_describe_reset(l, reset, sizeof reset);
	int free_line = 1;
	while (lines[free_line][0])
		free_line++;
	snprintf(lines[free_line], sizeof lines[free_line], "version = 1");
	while (lines[free_line][0])
		free_line++;
	snprintf(lines[free_line], sizeof lines[free_line], "trading_day_reset = %s", reset);
	max_line = ARK_MAX(max_line, free_line);
	static char text[32768];
	text[0] = '\0';
	for (int i = 1; i <= max_line; i++) {
		strcat(text, lines[i]);
		strcat(text, "\n");
	}
	CHECK_MSG(ark_graveyard_parse(text, strlen(text), "rebuilt", &again, &err) == 0, "%s\n%s", err.msg, text);
	CHECK_MSG(memcmp(&again.limits, &shipped.limits, sizeof again.limits) == 0, "rebuilt table differs:\n%s", text);
	CHECK(strcmp(again.table_sha256_hex, shipped.table_sha256_hex) == 0);
	char v[64];
	ark_graveyard_describe_rule(l, ARK_REASON_RATE_GLOBAL, v, sizeof v);
	CHECK(strcmp(v, "200/1s") == 0);
	ark_graveyard_describe_rule(l, ARK_REASON_DUPLICATE, v, sizeof v);
	CHECK(strcmp(v, "500ms") == 0);
	ark_graveyard_describe_rule(l, ARK_REASON_PRICE_COLLAR, v, sizeof v);
	CHECK(strcmp(v, "5%") == 0);
	CHECK(ark_graveyard_describe_rule(l, ARK_REASON_ETHICS_DRIFT, v, sizeof v) < 0);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	every_key();
	layout();
	errors();
	patterns();
	describe_round_trip(argv[1]);
	printf("graveyard parse tests passed\n");
	return 0;
}
