/* graveyard/internal.h — helpers shared by the graveyard's own files; not
 * part of its interface (graveyard.h is). */
#ifndef ARK_GRAVEYARD_INTERNAL_H
#define ARK_GRAVEYARD_INTERNAL_H

#include "graveyard/graveyard.h"

#include <sys/stat.h>

#define ARK_GRAVEYARD_STATE_MAGIC 0x47524156u  /* "GRAV" */
#define ARK_GRAVEYARD_STATE_VERSION 2u

bool ark_graveyard_symbol_char(char c);
bool ark_graveyard_symbol_valid(const char *symbol);
void ark_graveyard_symbol_upper(const char *symbol, char out[ARK_SYMBOL_MAX]);
/* 0, or -1 with *why naming what was expected. */
int ark_graveyard_pattern_compile(const char *text, struct ark_graveyard_pattern *out, const char **why);

/* SHA-256 of a whole rules file (at most ARK_GRAVEYARD_FILE_MAX bytes) and
 * the fstat of the descriptor it was read through. */
int ark_graveyard_file_digest(const char *path, uint8_t digest[32], struct stat *st, struct ark_err *err);

#endif /* ARK_GRAVEYARD_INTERNAL_H */
