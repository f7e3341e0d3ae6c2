/* http/negotiate.c — content negotiation for /metrics (Accept q-values,
 * Accept-Encoding gzip) and the gzip encoder.
 * Invariant: parsing reads only [value, value+len) and never fails: anything
 * it does not understand counts as "not asked for" (text 0.0.4, identity). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "http/http.h"

/* Walk a comma-separated list of "token;param=x;q=0.5" elements. For each,
 * report the token (trimmed) and its q-value (1.0 default, clamped 0..1). */
struct elem {
	const char *tok;
	size_t toklen;
	double q;
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static double parse_q(const char *p, const char *end)
{
	/* p points just after "q=" */
	double q = 0;
	int digits = 0;
	while (p < end && isdigit((unsigned char)*p) && digits < 1) {
		q = *p - '0';
		p++, digits++;
	}
	if (!digits)
		return 0; /* malformed q: treat as refused */
	if (p < end && *p == '.') {
		p++;
		double scale = 0.1;
		for (int i = 0; i < 3 && p < end && isdigit((unsigned char)*p); i++, p++) {
			q += (*p - '0') * scale;
			scale /= 10;
		}
	}
	return q > 1 ? 1 : q;
}

/* First c in [p, end), or NULL. */
static const char *find(const char *p, const char *end, char c)
{
	for (; p < end; p++)
		if (*p == c)
			return p;
	return NULL;
}

/* Returns the pointer after this element (past the comma). */
static const char *next_elem(const char *p, const char *end, struct elem *e)
{
	const char *comma = find(p, end, ',');
	const char *stop = comma ? comma : end;
	p = skip_ws(p, stop);
	const char *semi = find(p, stop, ';');
	const char *tend = semi ? semi : stop;
	while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
		tend--;
	e->tok = p;
	e->toklen = (size_t)(tend - p);
	e->q = 1.0;
	const char *param = semi;
	while (param && param < stop) {
		const char *ps = skip_ws(param + 1, stop);
		const char *pnext = find(ps, stop, ';');
		if (stop - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q') && ps[1] == '=')
			e->q = parse_q(ps + 2, pnext ? pnext : stop);
		param = pnext;
	}
	return comma ? comma + 1 : end;
}

static bool tok_is(const struct elem *e, const char *s)
{
	size_t n = strlen(s);
	return e->toklen == n && strncasecmp(e->tok, s, n) == 0;
}

/* Whether the element names one of `names` (NULL-terminated). */
static bool tok_in(const struct elem *e, const char *const *names)
{
	for (; *names; names++)
		if (tok_is(e, *names))
			return true;
	return false;
}

/* The highest q the list [list, list+len) gives a token of `first`, and of
 * `second` (an element naming both counts for `first`); -1 when none is
 * named. */
static void best_q(const char *list, size_t len, const char *const *first, const char *const *second, double *q_first,
		   double *q_second)
{
	*q_first = *q_second = -1;
	const char *p = list, *end = list + len;
	while (p < end) {
		struct elem e;
		p = next_elem(p, end, &e);
		if (tok_in(&e, first)) {
			if (e.q > *q_first)
				*q_first = e.q;
		} else if (tok_in(&e, second)) {
			if (e.q > *q_second)
				*q_second = e.q;
		}
	}
}

enum ark_http_format ark_http_negotiate_format(const char *accept, size_t len)
{
	if (!accept || !len)
		return ARK_HTTP_FORMAT_PROMETHEUS;
	static const char *const om[] = {"application/openmetrics-text", NULL};
	static const char *const text[] = {"text/plain", "text/*", "*/*", NULL};
	double q_om, q_text;
	best_q(accept, len, om, text, &q_om, &q_text);
	/* OpenMetrics only when named explicitly, acceptable, and not ranked below text. */
	if (q_om > 0 && q_om >= q_text)
		return ARK_HTTP_FORMAT_OPENMETRICS;
	return ARK_HTTP_FORMAT_PROMETHEUS;
}

bool ark_http_accepts_gzip(const char *ae, size_t len)
{
	if (!ae || !len)
		return false;
	static const char *const gzip[] = {"gzip", "x-gzip", NULL};
	static const char *const any[] = {"*", NULL};
	double q_gzip, q_star;
	best_q(ae, len, gzip, any, &q_gzip, &q_star);
	if (q_gzip >= 0)
		return q_gzip > 0;
	return q_star > 0;
}

int ark_http_gzip(const void *in, size_t n, struct ark_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: gzip wrapper; level 1: a scrape wants speed. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t bound = deflateBound(&zs, (uLong)n);
	int rc = ark_buf_reserve(out, bound);
	if (rc) {
		deflateEnd(&zs);
		return rc;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out->data + out->len;
	zs.avail_out = (uInt)bound;
	int zrc = deflate(&zs, Z_FINISH);
	size_t produced = bound - zs.avail_out;
	deflateEnd(&zs);
	if (zrc != Z_STREAM_END)
		return -EIO;
	out->len += produced;
	out->data[out->len] = '\0';
	return 0;
}
