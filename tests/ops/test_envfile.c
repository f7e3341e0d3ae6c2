/* tests/ops/test_envfile.c — env files as operators write them (comments,
 * blank lines, export, quotes, CRLF), every syntax error naming its line,
 * the environment winning over the file; secrets told from placeholders. */
#include "ops/ops.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int parse(const char *text, struct ark_env_file *f, struct ark_err *err)
{
	return ark_env_file_parse_text("test.env", text, strlen(text), f, err);
}

static const char *value(const struct ark_env_file *f, const char *key)
{
	for (size_t i = 0; i < f->count; i++)
		if (strcmp(f->entries[i].key, key) == 0)
			return f->entries[i].value;
	return NULL;
}

int main(void)
{
	struct ark_env_file f;
	struct ark_err err = {0};
	const char *good = "# ARK production\n"
			   "\n"
			   "ARK_ENV=prod\n"
			   "  export METRICS_PORT = 9090   # the scrape port\n"
			   "REDIS_URL='redis://:p#ss@localhost:6379/0'\n"
			   "JWT_SECRET=\"a \\\"quoted\\\" value with \\\\ and \\$HOME\"  # trailing comment\n"
			   "EMPTY=\n"
			   "URL_WITH_HASH=http://x/#frag\n"
			   "HASH_FIRST=#Zk29x\n"
			   "SPACED_COMMENT= # nothing\n"
			   "SPACED = two words \r\n"
			   "exported=1\n";
	CHECK_MSG(parse(good, &f, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(f.count, 10);
	CHECK(strcmp(value(&f, "HASH_FIRST"), "#Zk29x") == 0);   /* '#' right after '=' is the value's */
	CHECK(strcmp(value(&f, "SPACED_COMMENT"), "") == 0);
	CHECK(strcmp(value(&f, "ARK_ENV"), "prod") == 0);
	CHECK(strcmp(value(&f, "METRICS_PORT"), "9090") == 0);
	CHECK(strcmp(value(&f, "REDIS_URL"), "redis://:p#ss@localhost:6379/0") == 0);
	CHECK(strcmp(value(&f, "JWT_SECRET"), "a \"quoted\" value with \\ and $HOME") == 0);
	CHECK(strcmp(value(&f, "EMPTY"), "") == 0);
	CHECK(strcmp(value(&f, "URL_WITH_HASH"), "http://x/#frag") == 0);   /* # starts a comment only after a space */
	CHECK(strcmp(value(&f, "SPACED"), "two words") == 0);
	CHECK(strcmp(value(&f, "exported"), "1") == 0);
	CHECK(f.entries[1].line == 4);
	/* The environment wins over the file. */
	setenv("METRICS_PORT", "9191", 1);
	unsetenv("ARK_ENV");
	CHECK_EQ_U64(ark_env_file_apply(&f), 1);
	CHECK(strcmp(getenv("METRICS_PORT"), "9191") == 0 && strcmp(getenv("ARK_ENV"), "prod") == 0);
	ark_env_file_free(&f);

	/* Every error names the line. */
	const char *bad[][2] = {
		{"A=1\nB 2\n", "test.env line 2: expected KEY=VALUE"},
		{"A=1\n\n=3\n", "line 3: expected KEY=VALUE"},
		{"1ABC=3\n", "line 1: the 4 characters before '=' are not a variable name"},
		{"A=\"unterminated\n", "line 1: unterminated double quote"},
		{"A='unterminated\n", "line 1: unterminated single quote"},
		{"A=\"x\" y\n", "line 1: text after the closing quote"},
		{"A=it's\n", "line 1: a quote inside a bare value"},
		{"A=\"\\q\"\n", "line 1: unknown escape \\q"},
		{"A=1\nB=2\nA=3\n", "line 3: A is set again (first on line 1)"},
		{"A-B=1\n", "line 1: expected KEY=VALUE"},
		{"export\n", "line 1: expected KEY=VALUE"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_MSG(parse(bad[i][0], &f, &err) != 0, "accepted: %s", bad[i][0]);
		CHECK_MSG(strstr(err.msg, bad[i][1]) != NULL, "%s -> %s", bad[i][0], err.msg);
		CHECK(f.count == 0 && f.entries == NULL);
	}
	CHECK(parse("A=1\0B=2\n", &f, &err) == 0);   /* (strlen stops at the NUL: one entry) */
	ark_env_file_free(&f);
	CHECK(ark_env_file_parse_text("nul.env", "A=1\nB=\0x\n", 9, &f, &err) != 0 && strstr(err.msg, "line 2: a NUL byte"));
	CHECK(ark_env_file_parse("/nonexistent/.env", &f, &err) != 0 && strstr(err.msg, "cannot read the env file /nonexistent/.env"));

	/* --env-file is taken out of argv and loaded. */
	char path[] = "/tmp/ark-envfile-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, "ARK_TEST_FROM_FILE=yes\n", 23) == 23);
	close(fd);
	char *argv[] = {"run", "--rate", "5", "--env-file", path, "--duration", "1", NULL};
	int argc = 7;
	char loaded[4096];
	unsetenv("ARK_TEST_FROM_FILE");
	CHECK_MSG(ark_env_file_load_for_command(&argc, argv, loaded, sizeof loaded, &err) == 0, "%s", err.msg);
	CHECK(argc == 5 && strcmp(argv[3], "--duration") == 0 && argv[5] == NULL);
	CHECK(strcmp(loaded, path) == 0 && strcmp(getenv("ARK_TEST_FROM_FILE"), "yes") == 0);
	char *argv2[] = {"run", "--env-file", NULL};
	argc = 2;
	CHECK(ark_env_file_load_for_command(&argc, argv2, loaded, sizeof loaded, &err) != 0 && strstr(err.msg, "--env-file needs a file"));
	unlink(path);

	/* Merging a canary's settings into the stable file (ark canary promote):
	 * every other line stays as it was, each key the canary sets is
	 * assigned once, at the end, and the parser reads back exactly the
	 * values merged, quotes, newlines and all. */
	{
		const char *stable = "# stable\nARK_ENV=prod\nexport ARK_WAIT=spin  # fast\nKEEP='a b'\n\nARK_WAIT_SPIN_US=5";
		struct ark_env_file canary, merged;
		CHECK_MSG(parse("ARK_WAIT=adaptive\nARK_WAIT_SPIN_US=\"it's \\\"q\\\" $x\\nline\"\nNEW=1\n", &canary, &err) == 0,
			  "%s", err.msg);
		char out[512];
		size_t len = 0;
		CHECK_MSG(ark_env_file_merge(stable, &canary, "# promoted", out, sizeof out, &len, &err) == 0, "%s", err.msg);
		out[len] = '\0';
		const char *kept = "# stable\nARK_ENV=prod\nKEEP='a b'\n\n# promoted\nARK_WAIT='adaptive'\n";
		CHECK_MSG(strncmp(out, kept, strlen(kept)) == 0, "%s", out);
		CHECK_MSG(ark_env_file_parse_text("merged", out, len, &merged, &err) == 0, "%s", err.msg);
		CHECK_EQ_U64(merged.count, 5);
		CHECK(strcmp(value(&merged, "ARK_ENV"), "prod") == 0 && strcmp(value(&merged, "KEEP"), "a b") == 0);
		CHECK(strcmp(value(&merged, "ARK_WAIT"), "adaptive") == 0 && strcmp(value(&merged, "NEW"), "1") == 0);
		CHECK_MSG(strcmp(value(&merged, "ARK_WAIT_SPIN_US"), value(&canary, "ARK_WAIT_SPIN_US")) == 0, "%s",
			  value(&merged, "ARK_WAIT_SPIN_US"));
		ark_env_file_free(&merged);
		/* Too small: refused whole, never cut. */
		CHECK(ark_env_file_merge(stable, &canary, "# promoted", out, 40, &len, &err) == -E2BIG);
		CHECK(ark_env_file_merge(stable, &canary, NULL, out, 70, &len, &err) == -E2BIG);
		ark_env_file_free(&canary);
	}

	/* Secrets. */
	const char *placeholders[] = {"changeme", "CHANGE_ME_PLEASE", "your_api_key", "xxxxxxxx", "<your secret>",
				      "replace_me", "example-key", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababab",
				      "secret", "password", "key123456789", "PLACEHOLDER"};
	for (size_t i = 0; i < sizeof placeholders / sizeof *placeholders; i++)
		CHECK_MSG(ark_secret_weakness(placeholders[i], false) != NULL, "%s", placeholders[i]);
	CHECK(ark_secret_weakness("", false) != NULL);
	CHECK(ark_secret_weakness("PKA1B2C3D4E5F6G7H8J9", false) == NULL);            /* an Alpaca-shaped key id */
	CHECK(ark_secret_weakness("Q7W2E9R4T1Y8U3I6", false) == NULL);                /* an Alpha Vantage-shaped key */
	CHECK(strstr(ark_secret_weakness("Q7W2E9R4T1Y8U3I6", true), "shorter than 32"));
	CHECK(ark_secret_weakness("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true) == NULL);
	CHECK(ark_secret_weakness("3c1e8a57b2f94d06e7a1c58b9d2f3e40", true) == NULL);   /* openssl rand -hex 16 */
	CHECK(strstr(ark_secret_weakness("aabbaabbaabbaabbccddccddccddccdd", true), "too little variety"));
	printf("envfile: ok\n");
	return 0;
}
