/*
 * sandbox-util.c: small helpers shared by the sandbox and its fakes
 * (the sandbox does not link libincidentd, so it has its own).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/time.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/listener.h>
#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "sandbox.h"

/* Print a message and exit 1 (startup failures, out of memory). */
void
sb_fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "sandbox: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* Allocate or die. */
void *
sb_malloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		sb_fatal("out of memory");
	return (p);
}

/* Zeroed array allocation or die. */
void *
sb_calloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		sb_fatal("out of memory");
	return (p);
}

/* Resize an array of n elements of size bytes, or die. */
void *
sb_realloc(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		sb_fatal("allocation overflow");
	if ((p = realloc(p, n * size == 0 ? 1 : n * size)) == NULL)
		sb_fatal("out of memory");
	return (p);
}

/* Copy a string or die. */
char *
sb_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		sb_fatal("out of memory");
	return (p);
}

/* Copy at most n bytes of a string or die. */
char *
sb_strndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		sb_fatal("out of memory");
	return (p);
}

/* asprintf or die. */
int
sb_asprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		sb_fatal("out of memory");
	return (n);
}

/* Wall-clock time in seconds. */
double
sb_now(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return ((double)tv.tv_sec + (double)tv.tv_usec / 1e6);
}

/* Monotonic milliseconds. */
uint64_t
sb_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Random lowercase hex. */
void
sb_random_hex(char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 buf[64];
	size_t			 i;

	if (n > sizeof(buf))
		n = sizeof(buf);
	if (RAND_bytes(buf, (int)n) != 1)
		sb_fatal("RAND_bytes failed");
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Log one line when SANDBOX_VERBOSE=1. */
void
sb_log(const char *fmt, ...)
{
	va_list	ap;

	if (!sb_opts.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "sandbox[%.3f]: ", sb_now());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* String member of a JSON object, NULL if absent or not a string. */
const char *
sb_json_str(const cJSON *o, const char *name)
{
	const cJSON	*v;

	if (o == NULL || !cJSON_IsObject(o))
		return (NULL);
	v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return (NULL);
	return (v->valuestring);
}

/* Integer member (number or decimal string), def if absent or bad. */
long long
sb_json_int(const cJSON *o, const char *name, long long def)
{
	const cJSON	*v;
	char		*end;
	long long	 n;

	if (o == NULL || !cJSON_IsObject(o))
		return (def);
	v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsNumber(v)) {
		if (!isfinite(v->valuedouble) || v->valuedouble > 1e15 ||
		    v->valuedouble < -1e15)
			return (def);
		return ((long long)v->valuedouble);
	}
	if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
		errno = 0;
		n = strtoll(v->valuestring, &end, 10);
		if (errno != 0 || *end != '\0')
			return (def);
		return (n);
	}
	return (def);
}

/* Boolean member: true, nonzero numbers, "true" and "1". */
int
sb_json_bool(const cJSON *o, const char *name)
{
	const cJSON	*v;

	if (o == NULL || !cJSON_IsObject(o))
		return (0);
	v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsTrue(v))
		return (1);
	if (cJSON_IsNumber(v))
		return (v->valuedouble != 0);
	if (cJSON_IsString(v))
		return (strcmp(v->valuestring, "true") == 0 ||
		    strcmp(v->valuestring, "1") == 0);
	return (0);
}

/* Number of UTF-8 code points (continuation bytes are not counted). */
size_t
sb_utf8_len(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return (n);
}

/* Listen on 127.0.0.1 port 0 for what; the port in *port. */
struct evconnlistener *
sb_listen_loopback(evconnlistener_cb cb, void *arg, const char *what,
    int *port)
{
	struct evconnlistener	*l;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(sb_base, cb, arg,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL)
		sb_fatal("cannot listen for %s: %s", what, strerror(errno));
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin,
	    &slen) == -1)
		sb_fatal("getsockname: %s", strerror(errno));
	*port = ntohs(sin.sin_port);
	return (l);
}
