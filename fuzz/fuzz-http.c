/*
 * fuzz-http.c: the HTTP/1.1 response parser (status line, headers,
 * Content-Length, chunked and close-delimited bodies) fed in pieces, as
 * a socket delivers them, and checked against the same bytes in one
 * piece: the split must never change the outcome.
 *
 * Input: one flags byte (bit 0: a HEAD request, bit 1: the peer closes
 * after the last byte), one byte n, n 16-bit cut offsets, the response.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "harness.h"

#define FUZZ_HTTP_CUTS	16

static const char *const fuzz_http_headers[] = {
	"content-type", "retry-after", "connection", "location", NULL
};

FUZZ_TARGET(http)
{
	struct http_response	 one, split;
	struct http_req		*r1, *r2;
	size_t			 cuts[FUZZ_HTTP_CUTS], ncuts, i;
	const char		*e1, *e2, *h1, *h2;
	int			 flags;

	harness_init();
	if (size < 2)
		return (0);
	flags = data[0];
	ncuts = data[1] % (FUZZ_HTTP_CUTS + 1);
	data += 2;
	size -= 2;
	if (size < ncuts * 2)
		return (0);
	for (i = 0; i < ncuts; i++)
		cuts[i] = (size_t)data[2 * i] << 8 | data[2 * i + 1];
	data += ncuts * 2;
	size -= ncuts * 2;
	/* Ascending, as bytes arrive. */
	for (i = 1; i < ncuts; i++) {
		if (cuts[i] < cuts[i - 1])
			cuts[i] = cuts[i - 1];
	}

	r1 = http_parse_pieces((const char *)data, size, NULL, 0, flags & 1,
	    (flags & 2) != 0, &one, &e1);
	r2 = http_parse_pieces((const char *)data, size, cuts, ncuts,
	    flags & 1, (flags & 2) != 0, &split, &e2);
	if ((e1 == NULL) != (e2 == NULL) || (e1 != NULL && strcmp(e1, e2)))
		harness_fail("http: one piece: %s; in pieces: %s",
		    e1 != NULL ? e1 : "ok", e2 != NULL ? e2 : "ok");
	if (e1 == NULL) {
		if (one.status != split.status || one.body_len !=
		    split.body_len || memcmp(one.body, split.body,
		    one.body_len) != 0)
			harness_fail("http: the pieces changed the response");
		if (one.status < 200 || one.status > 999 ||
		    one.body[one.body_len] != '\0')
			harness_fail("http: status %d accepted", one.status);
		for (i = 0; fuzz_http_headers[i] != NULL; i++) {
			h1 = http_response_header(&one, fuzz_http_headers[i]);
			h2 = http_response_header(&split,
			    fuzz_http_headers[i]);
			if ((h1 == NULL) != (h2 == NULL) ||
			    (h1 != NULL && strcmp(h1, h2) != 0))
				harness_fail("http: header %s differs",
				    fuzz_http_headers[i]);
			if (h1 != NULL && i == 1)
				(void)http_parse_retry_after(h1, 1700000000);
		}
	}
	http_parse_free(r1);
	http_parse_free(r2);
	return (0);
}
