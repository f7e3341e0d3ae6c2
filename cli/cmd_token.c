/* cli/cmd_token.c — `ark token`: mint an HS256 JWT for the ingest API with
 * JWT_SECRET (for operators, the synthetic loop and tests). */
#include "api/api.h"
#include "cli/command.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int token_main(int argc, char **argv)
{
	static const struct option options[] = {{"sub", required_argument, NULL, 's'},
						{"scope", required_argument, NULL, 'c'},
						{"ttl", required_argument, NULL, 't'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	const char *sub = "operator", *scope = "signals:write";
	uint64_t ttl = 3600;
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's': sub = optarg; break;
		case 'c': scope = optarg; break;
		case 't':
			if (ark_parse_u64(optarg, 1, 366ull * 86400, "--ttl", &ttl, &err))
				return ark_cli_fail("token", &err, 2);
			break;
		case 'h':
			printf("usage: ark token [--sub NAME] [--scope \"signals:write admin\"] [--ttl SECONDS]\n\n"
			       "Prints an HS256 JSON Web Token for the ingest API, signed with JWT_SECRET\n"
			       "(at least 32 bytes), with JWT_ISSUER and JWT_AUDIENCE as iss and aud when set.\n"
			       "Scopes: signals:write (POST /v1/signals), admin (release agents).\n"
			       "Defaults: --sub operator --scope signals:write --ttl 3600.\n");
			return 0;
		default: return 2;
		}
	}
	if (ark_cli_no_operands("token", argc, argv))
		return 2;
	struct ark_jwt_config cfg;
	if (ark_jwt_config_from_env(&cfg, &err))
		return ark_cli_fail("token", &err, 2);
	char token[2048];
	if (ark_jwt_mint(&cfg, sub, scope, (uint64_t)time(NULL), ttl, token, sizeof token, &err))
		return ark_cli_fail("token", &err, 2);
	printf("%s\n", token);
	return 0;
}

ARK_COMMAND(token_command, "token", "mint a JWT for the ingest API (JWT_SECRET)", token_main)
