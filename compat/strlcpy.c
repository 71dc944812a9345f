/* strlcpy: OpenBSD semantics, for libcs without it. */
#include "config.h"
#include <string.h>
#include "compat.h"

size_t
strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t	len = strlen(src);

	if (dsize != 0) {
		size_t	n = len >= dsize ? dsize - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return (len);
}
