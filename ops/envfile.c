/* ops/envfile.c — env files (see ops.h): parsed whole before anything is
 * applied, so a file with an error changes nothing; every error names the
 * file and the line. A file holding secrets is used only when it is private
 * (owned by this user or root, no access for group or others): a secret
 * anyone on the machine can read is no secret, and a file others can write
 * is configuration anyone can change. */
#include "ops/ops.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_FILE_MAX (1u << 20)
#define ENV_FILE_MAX_ENTRIES 1024

void ark_env_file_free(struct ark_env_file *file)
{
	for (size_t i = 0; i < file->count; i++) {
		explicit_bzero(file->entries[i].value, strlen(file->entries[i].value));
		free(file->entries[i].value);
	}
	free(file->entries);
	file->entries = NULL;
	file->count = 0;
}

static int line_error(struct ark_err *err, const char *name, int line, const char *fmt, const char *detail)
{
	char what[200];
	snprintf(what, sizeof what, fmt, detail);
	return ark_err_set(err, -EINVAL, "%s line %d: %s", name, line, what);
}

/* One value, from p to the end of the line (end): bare, '...' or "...". */
static int parse_value(const char *name, int line, const char *p, const char *end, bool spaced, char *out,
		       size_t cap, struct ark_err *err)
{
	size_t n = 0;
	if (p < end && (*p == '\'' || *p == '"')) {
		char quote = *p++;
		bool closed = false;
		while (p < end) {
			char c = *p++;
			if (c == quote) {
				closed = true;
				break;
			}
			if (quote == '"' && c == '\\' && p < end) {
				char e = *p++;
				c = e == 'n' ? '\n' : e == 't' ? '\t' : e == '"' || e == '\\' || e == '$' ? e : 0;
				if (!c)
					return line_error(err, name, line, "unknown escape \\%s in a double-quoted value",
							  (char[]){e, 0});
			}
			if (n + 1 >= cap)
				return line_error(err, name, line, "%s", "the value is too long");
			out[n++] = c;
		}
		if (!closed)
			return line_error(err, name, line, "%s",
					  quote == '"' ? "unterminated double quote (values are one line)"
						       : "unterminated single quote (values are one line)");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p != '#')
			return line_error(err, name, line, "%s", "text after the closing quote");
		out[n] = '\0';
		return 0;
	}
	/* " #" starts a comment; a '#' right after '=' belongs to the value. */
	const char *stop = p;
	while (stop < end && !(*stop == '#' && (stop == p ? spaced : stop[-1] == ' ' || stop[-1] == '\t')))
		stop++;
	while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
		stop--;
	for (const char *q = p; q < stop; q++)
		if (*q == '"' || *q == '\'')
			return line_error(err, name, line, "%s", "a quote inside a bare value (quote the whole value)");
	if ((size_t)(stop - p) + 1 > cap)
		return line_error(err, name, line, "%s", "the value is too long");
	memcpy(out, p, (size_t)(stop - p));
	out[stop - p] = '\0';
	return 0;
}

int ark_env_file_parse_text(const char *name, const char *text, size_t len, struct ark_env_file *file,
			    struct ark_err *err)
{
	memset(file, 0, sizeof *file);
	snprintf(file->path, sizeof file->path, "%s", name);
	char *value = malloc(len + 1);
	if (!value)
		return ark_err_set(err, -ENOMEM, "out of memory");
	int rc = 0, line = 0;
	const char *p = text, *end = text + len;
	while (p < end && !rc) {
		line++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = p, *stop = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		p = eol < end ? eol + 1 : end;
		for (const char *c = q; c < stop; c++)
			if (*c == '\0') {
				rc = line_error(err, name, line, "%s", "a NUL byte");
				break;
			}
		if (rc)
			break;
		while (q < stop && (*q == ' ' || *q == '\t'))
			q++;
		if (q == stop || *q == '#')
			continue;
		if ((size_t)(stop - q) > 7 && memcmp(q, "export", 6) == 0 && (q[6] == ' ' || q[6] == '\t')) {
			q += 7;
			while (q < stop && (*q == ' ' || *q == '\t'))
				q++;
		}
		const char *k = q;
		while (q < stop && (isalnum((unsigned char)*q) || *q == '_'))
			q++;
		size_t klen = (size_t)(q - k);
		while (q < stop && (*q == ' ' || *q == '\t'))
			q++;
		if (klen == 0 || q == stop || *q != '=') {
			rc = line_error(err, name, line, "%s", "expected KEY=VALUE");
			break;
		}
		if (isdigit((unsigned char)k[0]) || klen >= sizeof file->entries[0].key) {
			/* Not echoed: a wrapped or pasted line may be a secret. */
			char msg[160];
			snprintf(msg, sizeof msg,
				 "the %zu characters before '=' are not a variable name (letters, digits and _, at most 63, not starting with a digit)",
				 klen);
			rc = line_error(err, name, line, "%s", msg);
			break;
		}
		q++;
		const char *value_start = q;
		while (q < stop && (*q == ' ' || *q == '\t'))
			q++;
		if ((rc = parse_value(name, line, q, stop, q > value_start, value, len + 1, err)))
			break;
		for (size_t i = 0; i < file->count; i++)
			if (strlen(file->entries[i].key) == klen && memcmp(file->entries[i].key, k, klen) == 0) {
				char msg[160];
				snprintf(msg, sizeof msg, "%.*s is set again (first on line %d)", (int)klen, k, file->entries[i].line);
				rc = line_error(err, name, line, "%s", msg);
				break;
			}
		if (rc)
			break;
		if (file->count == ENV_FILE_MAX_ENTRIES) {
			rc = line_error(err, name, line, "%s", "more than 1024 variables");
			break;
		}
		if (file->count % 32 == 0) {
			struct ark_env_entry *grown = realloc(file->entries, (file->count + 32) * sizeof *grown);
			if (!grown) {
				rc = ark_err_set(err, -ENOMEM, "out of memory");
				break;
			}
			file->entries = grown;
		}
		struct ark_env_entry *e = &file->entries[file->count];
		memcpy(e->key, k, klen);
		e->key[klen] = '\0';
		e->line = line;
		e->value = strdup(value);
		if (!e->value) {
			rc = ark_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		file->count++;
	}
	explicit_bzero(value, len + 1);   /* it held secrets */
	free(value);
	if (rc)
		ark_env_file_free(file);
	return rc;
}

int ark_env_file_parse(const char *path, struct ark_env_file *file, struct ark_err *err)
{
	memset(file, 0, sizeof *file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* (a FIFO is refused below, not waited on) */
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot read the env file %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ark_err_set(err, -EINVAL, "the env file %s is not a regular file", path);
	}
	if (st.st_size > ENV_FILE_MAX) {
		close(fd);
		return ark_err_set(err, -EFBIG, "the env file %s is larger than 1 MiB", path);
	}
	char *text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(text);
		return ark_err_set(err, -EIO, "the env file %s changed or could not be read whole", path);
	}
	int rc = ark_env_file_parse_text(path, text, got, file, err);
	explicit_bzero(text, got);
	free(text);
	if (!rc) {
		file->mode = st.st_mode & 07777;
		file->uid = (unsigned)st.st_uid;
	}
	return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool ark_env_file_holds_secret(const struct ark_env_file *file, char *name, size_t name_len)
{
	static const char *const secrets[] = {"SESSION_SECRET", "JWT_SECRET", "ALPACA_API_KEY", "ALPACA_SECRET_KEY",
					      "ALPHA_VANTAGE_API_KEY", "ARK_FEED_TOKEN"};
	static const char *const suffixes[] = {"_SECRET", "_SECRET_KEY", "_API_KEY", "_PASSWORD", "_TOKEN"};
	for (size_t i = 0; i < file->count; i++) {
		const char *key = file->entries[i].key;
		bool secret = strcmp(key, "REDIS_URL") == 0 && strchr(file->entries[i].value, '@');   /* redis://:pw@host */
		for (size_t s = 0; s < sizeof secrets / sizeof *secrets && !secret; s++)
			secret = strcmp(key, secrets[s]) == 0;
		for (size_t s = 0; s < sizeof suffixes / sizeof *suffixes && !secret; s++)
			secret = ends_with(key, suffixes[s]);
		if (secret && file->entries[i].value[0]) {
			if (name)
				snprintf(name, name_len, "%s", key);
			return true;
		}
	}
	return false;
}

int ark_env_file_check_private(const struct ark_env_file *file, struct ark_err *err)
{
	char key[64];
	if (!ark_env_file_holds_secret(file, key, sizeof key))
		return 0;
	unsigned me = (unsigned)geteuid();
	if (file->uid != me && file->uid != 0)
		return ark_err_set(err, -EPERM,
				   "the env file %s holds secrets (%s) but belongs to uid %u, not to this user (uid %u) or root: "
				   "another user can change what ARK runs with; refusing it (fix: chown %u %s, chmod 600 %s)",
				   file->path, key, file->uid, me, me, file->path, file->path);
	if (file->mode & 077)
		return ark_err_set(err, -EPERM,
				   "the env file %s holds secrets (%s) and has mode %04o: %s can %s it; refusing it "
				   "(fix: chmod 600 %s)",
				   file->path, key, file->mode, (file->mode & 007) ? "every user" : "its group",
				   (file->mode & 022) ? ((file->mode & 044) ? "read and change" : "change") : "read", file->path);
	return 0;
}

size_t ark_env_file_apply(const struct ark_env_file *file)
{
	size_t kept = 0;
	for (size_t i = 0; i < file->count; i++) {
		if (getenv(file->entries[i].key))
			kept++;
		else
			setenv(file->entries[i].key, file->entries[i].value, 0);
	}
	return kept;
}

int ark_env_file_load_for_command(int *argc, char **argv, char *loaded, size_t loaded_len, struct ark_err *err)
{
	loaded[0] = '\0';
	const char *path = NULL;
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		const char *v = NULL;
		int take = 0;
		if (strcmp(argv[i], "--env-file") == 0) {
			if (i + 1 >= *argc)
				return ark_err_set(err, -EINVAL, "--env-file needs a file");
			v = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], "--env-file=", 11) == 0) {
			v = argv[i] + 11;
			take = 1;
		}
		if (!take)
			continue;
		path = v;
		memmove(&argv[i], &argv[i + take], (size_t)(*argc - i - take + 1) * sizeof *argv);
		*argc -= take;
		i--;
	}
	if (!path) {
		const char *var = getenv("ARK_ENV_FILE");
		if (var && *var)
			path = var;
	}
	if (!path) {
		const char *env = getenv("ARK_ENV");
		if (!env || strcmp(env, "prod") != 0 || access(".env.production", F_OK) != 0)
			return 0;
		path = ".env.production";
	}
	struct ark_env_file file;
	int rc = ark_env_file_parse(path, &file, err);
	if (rc)
		return rc;
	if ((rc = ark_env_file_check_private(&file, err))) {
		ark_env_file_free(&file);
		return rc;
	}
	ark_env_file_apply(&file);
	ark_env_file_free(&file);
	snprintf(loaded, loaded_len, "%s", path);
	return 0;
}

/* A value as an env file line keeps it: single quotes when it has none,
 * else double quotes with the parser's escapes. False when it does not fit. */
static bool append_assignment(char *text, size_t cap, size_t *len, const char *key, const char *value)
{
	static char esc[16384];
	const char *quote = "'";
	const char *v = value;
	if (strchr(value, '\'') || strchr(value, '\n')) {
		size_t k = 0;
		for (const char *c = value; *c; c++) {
			if (k + 3 >= sizeof esc)
				return false;
			if (*c == '"' || *c == '\\' || *c == '$')
				esc[k++] = '\\';
			if (*c == '\n') {
				esc[k++] = '\\';
				esc[k++] = 'n';
				continue;
			}
			esc[k++] = *c;
		}
		esc[k] = '\0';
		quote = "\"";
		v = esc;
	}
	int n = snprintf(text + *len, cap - *len, "%s=%s%s%s\n", key, quote, v, quote);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* The key a line of an env file assigns, as the parser reads it ("" for
 * comments and blank lines). */
static void line_key(const char *line, size_t len, char *key, size_t cap)
{
	key[0] = '\0';
	struct ark_env_file one;
	struct ark_err err = {0};
	if (ark_env_file_parse_text("line", line, len, &one, &err) == 0) {
		if (one.count == 1)
			snprintf(key, cap, "%s", one.entries[0].key);
		ark_env_file_free(&one);
	}
}

int ark_env_file_merge(const char *stable_text, const struct ark_env_file *overrides, const char *comment,
		       char *out, size_t cap, size_t *len_out, struct ark_err *err)
{
	size_t len = 0;
	for (const char *line = stable_text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		char key[128];
		line_key(line, l, key, sizeof key);
		bool replaced = false;
		for (size_t j = 0; key[0] && j < overrides->count && !replaced; j++)
			replaced = strcmp(overrides->entries[j].key, key) == 0;
		if (!replaced && len + l + 1 >= cap)
			return ark_err_set(err, -E2BIG, "the merged env file would be larger than %zu bytes", cap);
		if (!replaced) {
			memcpy(out + len, line, l);
			len += l;
			out[len++] = '\n';
		}
		line = nl ? nl + 1 : line + l;
	}
	bool fits = true;
	if (comment) {
		int n = snprintf(out + len, cap - len, "%s\n", comment);
		fits = n > 0 && (size_t)n < cap - len;
		if (fits)
			len += (size_t)n;
	}
	for (size_t j = 0; fits && j < overrides->count; j++)
		fits = append_assignment(out, cap, &len, overrides->entries[j].key, overrides->entries[j].value);
	if (!fits)
		return ark_err_set(err, -E2BIG, "the merged env file would be larger than %zu bytes", cap);
	*len_out = len;
	return 0;
}
