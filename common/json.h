/*
 * json.h — the little JSON writing Ember needs: quoted, escaped strings.
 * Output is built with ebuf; there is no JSON parser here on purpose.
 */
#ifndef EMBER_COMMON_JSON_H
#define EMBER_COMMON_JSON_H

#include "common/buf.h"

/* Append s as a JSON string literal (quotes included, RFC 8259 escaping). */
void json_string(ebuf *out, const char *s);

#endif
