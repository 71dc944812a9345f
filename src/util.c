/*
 * util.c: string lists, URLs, base64, clocks, jittered backoff, and the
 * one place text is cut to a length.
 *
 * Remote text (Jira and PagerDuty errors, names, summaries) is cut before
 * it goes into a message or a request; a cut in the middle of a UTF-8
 * character makes the JSON we send invalid, and Slack or PagerDuty then
 * refuse the whole message. So every cut goes through utf8_cut.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "incidentd.h"

/* Append a copy of s. */
void
strlist_add(struct strlist *sl, const char *s)
{
	sl->v = xreallocarray(sl->v, sl->n + 1, sizeof(*sl->v));
	sl->v[sl->n++] = xstrdup(s);
}

/* Append a formatted string. */
void
strlist_addf(struct strlist *sl, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	sl->v = xreallocarray(sl->v, sl->n + 1, sizeof(*sl->v));
	sl->v[sl->n++] = s;
}

/* Free every string and reset the list. */
void
strlist_free(struct strlist *sl)
{
	size_t	i;

	for (i = 0; i < sl->n; i++)
		free(sl->v[i]);
	free(sl->v);
	sl->v = NULL;
	sl->n = 0;
}

/* Join items as a sentence does: "a", "a or b", "a, b or c". */
char *
strlist_join_words(const struct strlist *l, const char *word)
{
	char	*s, *t;
	size_t	 i;

	s = xstrdup(l->n > 0 ? l->v[0] : "");
	for (i = 1; i < l->n; i++) {
		if (i + 1 == l->n)
			xasprintf(&t, "%s %s %s", s, word, l->v[i]);
		else
			xasprintf(&t, "%s, %s", s, l->v[i]);
		free(s);
		s = t;
	}
	return (s);
}

/* The items joined with sep between them; caller frees. */
char *
strlist_join(const struct strlist *l, const char *sep)
{
	size_t	 i, len = 1;
	char	*s;

	for (i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + strlen(sep);
	s = xmalloc(len);
	*s = '\0';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			strlcat(s, sep, len);
		strlcat(s, l->v[i], len);
	}
	return (s);
}

/* Parse an absolute http(s)/ws(s) URL. */
int
url_parse(const char *s, struct url *u, const char **errstr)
{
	const char	*p, *host, *hend, *pstart;
	size_t		 slen;
	long long	 port;
	char		*pstr;

	memset(u, 0, sizeof(*u));
	if ((p = strstr(s, "://")) == NULL) {
		*errstr = "not an absolute URL";
		return (-1);
	}
	slen = p - s;
	u->scheme = xstrndup(s, slen);
	if (strcmp(u->scheme, "https") == 0 || strcmp(u->scheme, "wss") == 0)
		u->tls = 1;
	else if (strcmp(u->scheme, "http") != 0 &&
	    strcmp(u->scheme, "ws") != 0) {
		*errstr = "scheme must be http, https, ws or wss";
		goto fail;
	}
	host = p + 3;
	if (*host == '[') {
		if ((hend = strchr(host, ']')) == NULL) {
			*errstr = "unterminated IPv6 address";
			goto fail;
		}
		u->host = xstrndup(host + 1, hend - host - 1);
		hend++;
	} else {
		hend = host + strcspn(host, ":/?#");
		u->host = xstrndup(host, hend - host);
	}
	if (*u->host == '\0') {
		*errstr = "missing host";
		goto fail;
	}
	for (p = u->host; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != ':' && *p != '_') {
			*errstr = "invalid character in host";
			goto fail;
		}
	}
	u->port = u->tls ? 443 : 80;
	if (*hend == ':') {
		pstart = hend + 1;
		hend = pstart + strcspn(pstart, "/?#");
		pstr = xstrndup(pstart, hend - pstart);
		port = strtonum(pstr, 1, 65535, errstr);
		free(pstr);
		if (*errstr != NULL) {
			*errstr = "invalid port";
			goto fail;
		}
		u->port = (int)port;
	}
	if (*hend == '#' || *hend == '\0')
		u->path = xstrdup("/");
	else if (*hend == '?')
		xasprintf(&u->path, "/%.*s", (int)strcspn(hend, "#"), hend);
	else
		u->path = xstrndup(hend, strcspn(hend, "#"));
	for (p = u->path; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			*errstr = "invalid character in path";
			goto fail;
		}
	}
	*errstr = NULL;
	return (0);
fail:
	url_free(u);
	return (-1);
}

/* Free a parsed URL's strings. */
void
url_free(struct url *u)
{
	free(u->scheme);
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

/* True for localhost and the loopback addresses. */
int
url_host_is_loopback(const char *host)
{
	struct in_addr	a4;
	struct in6_addr	a6;

	if (strcasecmp(host, "localhost") == 0)
		return (1);
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ((ntohl(a4.s_addr) >> 24) == 127);
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return (IN6_IS_ADDR_LOOPBACK(&a6));
	return (0);
}

/* Percent-encode everything but RFC 3986 unreserved characters. */
char *
url_encode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out, *o;
	const unsigned char	*p;

	out = o = xmalloc(strlen(s) * 3 + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~')
			*o++ = *p;
		else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return (out);
}

/* Standard base64 with padding. */
char *
base64_encode(const unsigned char *in, size_t len)
{
	static const char	 tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char			*out, *o;
	size_t			 i;
	uint32_t		 v;

	out = o = xmalloc(((len + 2) / 3) * 4 + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = tbl[v >> 18];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = tbl[(v >> 6) & 63];
		*o++ = tbl[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*o++ = tbl[v >> 18];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return (out);
}

/* Monotonic clock in milliseconds. */
uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Wall clock in seconds. */
time_t
now_wall(void)
{
	return (time(NULL));
}

/* Uniform random number in [0, n) without modulo bias. */
uint32_t
rand_uniform(uint32_t n)
{
	uint32_t	r, min;

	if (n < 2)
		return (0);
	min = -n % n;
	for (;;) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)random();
		if (r >= min)
			return (r % n);
	}
}

/*
 * Exponential backoff with full jitter (a uniform delay between half the
 * step and the step): spreads reconnect storms from many clients.
 */
uint64_t
backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms)
{
	uint64_t	step = base_ms;
	unsigned	i;

	for (i = 0; i < attempt && step < cap_ms; i++)
		step *= 2;
	if (step > cap_ms)
		step = cap_ms;
	if (step > UINT32_MAX)
		step = UINT32_MAX;
	return (step / 2 + rand_uniform((uint32_t)(step / 2) + 1));
}

/* True if s starts with prefix. */
int
str_has_prefix(const char *s, const char *prefix)
{
	return (strncmp(s, prefix, strlen(prefix)) == 0);
}

/*
 * The length of the longest prefix of s, at most max bytes, that ends on
 * a character boundary. A byte that does not start a valid UTF-8
 * sequence counts as one character, so hostile bytes cannot make a cut
 * swallow the text after them.
 */
size_t
utf8_cut(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;

	while (p[i] != '\0') {
		if (p[i] < 0x80)
			n = 1;
		else if (p[i] >= 0xc2 && p[i] <= 0xdf)
			n = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			n = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			n = 4;
		else
			n = 1;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				n = 1;
				break;
			}
		}
		if (i + n > max)
			break;
		i += n;
	}
	return (i);
}

/*
 * A copy of s of at most max bytes, cut on a character boundary; with
 * ellipsis, a string that had to be cut ends in "…" (still within max).
 */
char *
utf8_truncate(const char *s, size_t max, int ellipsis)
{
	static const char	 dots[] = "\xe2\x80\xa6";	/* U+2026 */
	size_t			 len, dlen = sizeof(dots) - 1;
	char			*out;

	if (strnlen(s, max + 1) <= max)
		return (xstrdup(s));
	if (!ellipsis || max < dlen)
		return (xstrndup(s, utf8_cut(s, max)));
	len = utf8_cut(s, max - dlen);
	out = xmalloc(len + dlen + 1);
	memcpy(out, s, len);
	memcpy(out + len, dots, dlen + 1);
	return (out);
}

/* ------------------------------------------------------------ time */

/*
 * 1 if tz names a zone we can use: "UTC", or an IANA name of safe
 * characters with a file under /usr/share/zoneinfo. Zone names come from
 * the config and from Slack (users.info), so they are checked before they
 * reach TZ.
 */
int
tz_valid(const char *tz)
{
	char	 path[512];
	size_t	 i;

	if (tz == NULL || *tz == '\0')
		return (0);
	if (strcmp(tz, "UTC") == 0)
		return (1);
	for (i = 0; tz[i] != '\0'; i++) {
		if (!isalnum((unsigned char)tz[i]) &&
		    strchr("_+-/", tz[i]) == NULL)
			return (0);
	}
	if (i > 64 || *tz == '/' || strstr(tz, "..") != NULL)
		return (0);
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return (access(path, R_OK) == 0);
}

/* fmt is checked at each call (the prototype's format attribute). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/*
 * TZ is process-wide: tz_enter sets it for one conversion and returns the
 * old value for tz_leave to restore.
 */
static char *
tz_enter(const char *tz)
{
	const char	*o;
	char		*old = NULL;

	if ((o = getenv("TZ")) != NULL)
		old = xstrdup(o);
	setenv("TZ", tz, 1);
	tzset();
	return (old);
}

static void
tz_leave(char *old)
{
	if (old != NULL)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
}

/*
 * t formatted with strftime's fmt in zone tz (UTC if tz is not valid);
 * caller frees. TZ is process-wide: set and restored around the call.
 */
char *
time_format_zone(time_t t, const char *tz, const char *fmt)
{
	struct tm	 tm;
	char		 buf[256], *old = NULL;

	if (!tz_valid(tz) || strcmp(tz, "UTC") == 0) {
		gmtime_r(&t, &tm);
		if (strftime(buf, sizeof(buf), fmt, &tm) == 0)
			*buf = '\0';
		return (xstrdup(buf));
	}
	old = tz_enter(tz);
	localtime_r(&t, &tm);
	if (strftime(buf, sizeof(buf), fmt, &tm) == 0)
		*buf = '\0';
	tz_leave(old);
	return (xstrdup(buf));
}
#pragma GCC diagnostic pop

/*
 * Midnight at the end of the day "YYYY-MM-DD" in zone tz (UTC if not
 * valid): the moment a due date has passed. 0 and -1 if s is not a date.
 */
int
time_day_end(const char *s, const char *tz, time_t *out)
{
	struct tm	 tm;
	char		*old = NULL;
	int		 y, m, d;

	if (s == NULL || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d", &y, &m,
	    &d) != 3 || s[4] != '-' || s[7] != '-' || y < 1970 || y > 9999 ||
	    m < 1 || m > 12 || d < 1 || d > 31)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + 1;
	tm.tm_isdst = -1;
	if (!tz_valid(tz) || strcmp(tz, "UTC") == 0) {
		*out = timegm(&tm);
		return (*out == (time_t)-1 ? -1 : 0);
	}
	old = tz_enter(tz);
	*out = mktime(&tm);
	tz_leave(old);
	return (*out == (time_t)-1 ? -1 : 0);
}

/*
 * Jira's datetime "2026-12-10T15:00:00.000+0000" (also "Z", "+01:00",
 * without the fraction or seconds) as seconds since the epoch; 0 or -1.
 */
int
time_parse_iso(const char *s, time_t *out)
{
	struct tm	 tm;
	const char	*p;
	int		 y, mo, d, h, mi, sec = 0, n = 0, oh, om, sign;
	long		 off = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h,
	    &mi, &n) != 5 || n != 16)
		return (-1);
	p = s + n;
	if (*p == ':') {
		if (!isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]))
			return (-1);
		sec = (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d", &oh) != 1 || !isdigit((unsigned char)
		    p[1]) || !isdigit((unsigned char)p[2]))
			return (-1);
		p += 3;
		if (*p == ':')
			p++;
		if (!isdigit((unsigned char)p[0]) ||
		    !isdigit((unsigned char)p[1]))
			return (-1);
		om = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (oh > 14 || om > 59)
			return (-1);
		off = sign * (oh * 3600L + om * 60L);
	}
	if (*p != '\0' || y < 1970 || y > 9999 || mo < 1 || mo > 12 ||
	    d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((*out = timegm(&tm)) == (time_t)-1)
		return (-1);
	*out -= off;
	return (0);
}

/* A span in at most two units: "45s", "4m 10s", "2h", "1h 05m", "2d 3h". */
char *
duration_short(long long s)
{
	static const long long	 unit[] = { 86400, 3600, 60, 1 };
	static const char	*name[] = { "d", "h", "m", "s" };
	char			*out;
	long long		 rest;
	size_t			 i;

	if (s < 0)
		s = 0;
	for (i = 0; i < 3 && s < unit[i]; i++)
		;
	rest = i < 3 ? (s % unit[i]) / unit[i + 1] : 0;
	if (rest == 0)
		xasprintf(&out, "%lld%s", s / unit[i], name[i]);
	else
		xasprintf(&out, i == 0 ? "%lld%s %lld%s" : "%lld%s %02lld%s",
		    s / unit[i], name[i], rest, name[i + 1]);
	return (out);
}

/* "10 days", "1 hour", "90 seconds": the largest whole unit. */
char *
duration_text(long long s)
{
	static const struct {
		long long	 secs;
		const char	*unit;
	} u[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" },
	    { 1, "second" } };
	char	*out;
	size_t	 i;

	for (i = 0; i < sizeof(u) / sizeof(u[0]) - 1; i++) {
		if (s >= u[i].secs && s % u[i].secs == 0)
			break;
	}
	xasprintf(&out, "%lld %s%s", s / u[i].secs, u[i].unit,
	    s / u[i].secs == 1 ? "" : "s");
	return (out);
}
