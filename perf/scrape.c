/* perf/scrape.c — scrapes per second of GET /metrics over TLS, for
 * `ark perf metrics`: one libcurl handle, HTTP/1.1 keep-alive, the CA given.
 * A benchmark client, so it lives with the benchmarks: the server library
 * (http/) does not link libcurl.
 * Invariant: only successful (200, complete body) scrapes are counted; any
 * failure ends the measurement with an error rather than a flattering figure. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>

#include "perf/perf.h"

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	*(size_t *)ud += size * n;
	return size * n;
}

int ark_perf_scrapes(uint16_t port, const char *ca_file, const char *cert_file,
		      const char *key_file, double seconds, double *scrapes_per_s,
		      struct ark_err *err)
{
	*scrapes_per_s = 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return ark_err_set(err, -EIO, "bench scrapes: curl_global_init failed");
	CURL *c = curl_easy_init();
	if (!c)
		return ark_err_set(err, -ENOMEM, "bench scrapes: curl_easy_init failed");
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/metrics", port);
	size_t bytes = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	if (cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert_file);
	if (key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, key_file);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bytes);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	uint64_t start = ark_now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t n = 0;
	int rc = 0;
	while (ark_now_ns() < end) {
		CURLcode cc = curl_easy_perform(c);
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status != 200) {
			rc = ark_err_set(err, -EIO, "bench scrapes: %s: %s (status %ld)", url,
					 curl_easy_strerror(cc), status);
			break;
		}
		n++;
	}
	double el = (double)(ark_now_ns() - start) / 1e9;
	curl_easy_cleanup(c);
	if (!rc)
		*scrapes_per_s = el > 0 ? (double)n / el : 0;
	return rc;
}
