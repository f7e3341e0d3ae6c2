/* agents/install.c — installs the Graveyard rules ARK ships (deploy/
 * graveyard.rules, compiled into the binary) when no rules are installed
 * yet, read-only (0444), through graveyard/'s verified install. */
#include "agents/agents_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

extern const unsigned char ark_default_rules[];
extern const unsigned int ark_default_rules_length;

const unsigned char *ark_pipeline_default_rules(size_t *length)
{
	*length = ark_default_rules_length;
	return ark_default_rules;
}

int ark_pipeline_install_rules(const char *installed_path, struct ark_err *err)
{
	char tmp[ARK_GRAVEYARD_PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.default.%d", installed_path, (int)getpid());
	char dir[ARK_GRAVEYARD_PATH_MAX];
	snprintf(dir, sizeof dir, "%s", installed_path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0700);
				*p = '/';
			}
		mkdir(dir, 0700);
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
	ssize_t w = write(fd, ark_default_rules, ark_default_rules_length);
	close(fd);
	if (w != (ssize_t)ark_default_rules_length) {
		unlink(tmp);
		return ark_err_set(err, -EIO, "cannot write %s", tmp);
	}
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	if (!rules) {
		unlink(tmp);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	int rc = ark_graveyard_install(tmp, installed_path, rules, err);
	free(rules);
	unlink(tmp);
	return rc;
}
