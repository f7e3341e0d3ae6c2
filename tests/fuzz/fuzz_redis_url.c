/* tests/fuzz/fuzz_redis_url.c — libFuzzer target for the REDIS_URL parser
 * (mirror/url.c): any input either parses into fields that hold together
 * (a host or socket path, a port 1-65535, a database >= 0) or is refused
 * with a message; never a crash, an overread or a password in the message. */
#include "mirror/mirror.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[2048];
	if (size >= sizeof url)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	struct ark_redis_url parsed;
	struct ark_err err = {0};
	int rc = ark_redis_url_parse(url, &parsed, &err);
	if (rc == 0) {
		if (!parsed.host[0] || parsed.port < 1 || parsed.port > 65535 || parsed.db < 0)
			abort();
		if (parsed.unix_socket && parsed.host[0] != '/')
			abort();
		/* The description must not depend on the password's contents. */
		char text[1024], other_text[1024];
		ark_redis_url_describe(&parsed, text, sizeof text);
		struct ark_redis_url other = parsed;
		if (other.password[0]) {
			snprintf(other.password, sizeof other.password, "%s", strcmp(parsed.password, "x") ? "x" : "y");
			ark_redis_url_describe(&other, other_text, sizeof other_text);
			if (strcmp(text, other_text) != 0)
				abort();
		}
	} else {
		if (!err.msg[0])
			abort();   /* every refusal says why */
	}
	return 0;
}
