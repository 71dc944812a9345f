/*
 * log.c: leveled logging to stderr, one line per message.
 *
 * Lines go to stderr so systemd's journal picks them up; each carries a
 * level word. Every line is scrubbed before it is written: registered
 * secrets and anything shaped like a Slack token are replaced, so a token
 * quoted in an error body can never reach the journal. Lines are
 * formatted whole, scrubbed, and only then cut to LOG_LINE_MAX: a secret
 * that straddles the cut must not escape in part.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "incidentd.h"

#define LOG_LINE_MAX	8192
#define LOG_REDACTED	"[redacted]"

static int		 log_level = LOG_LEVEL_INFO;
static const char	*log_progname = INCIDENTD_NAME;
static struct strlist	 log_secrets;

static const char *log_names[] = { "error", "warn", "info", "debug" };

static void	log_vlog(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));
static size_t	log_secret_at(const char *);
static size_t	log_token_at(const char *);
static char	*log_scrub_copy(const char *, size_t);

/* Set the level and program name; safe to call again. */
void
log_init(int level, const char *progname)
{
	log_level = level;
	if (progname != NULL)
		log_progname = progname;
}

/* Change the level (SIGHUP with a new log_level). */
void
log_setlevel(int level)
{
	log_level = level;
}

/* The current level. */
int
log_getlevel(void)
{
	return (log_level);
}

/* Map a level name to its value; -1 if unknown. */
int
log_level_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0)
			return ((int)i);
	}
	if (strcmp(s, "warning") == 0)
		return (LOG_LEVEL_WARN);
	return (-1);
}

/* The name of a level. */
const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_LEVEL_DEBUG)
		return ("?");
	return (log_names[level]);
}

/* Remember a secret so it never appears in a log line. */
void
log_redact(const char *secret)
{
	size_t	i;

	/* Short strings would redact ordinary words. */
	if (secret == NULL || strlen(secret) < 6)
		return;
	for (i = 0; i < log_secrets.n; i++) {
		if (strcmp(log_secrets.v[i], secret) == 0)
			return;
	}
	strlist_add(&log_secrets, secret);
}

/* Forget every registered secret (before a reload registers new ones). */
void
log_redact_clear(void)
{
	size_t	i;

	for (i = 0; i < log_secrets.n; i++)
		explicit_bzero(log_secrets.v[i], strlen(log_secrets.v[i]));
	strlist_free(&log_secrets);
}

/* The length of the longest registered secret at p, or 0. */
static size_t
log_secret_at(const char *p)
{
	size_t	i, len, best = 0;

	for (i = 0; i < log_secrets.n; i++) {
		if (*p != *log_secrets.v[i])
			continue;
		len = strlen(log_secrets.v[i]);
		if (len > best && strncmp(p, log_secrets.v[i], len) == 0)
			best = len;
	}
	return (best);
}

/* The length of a Slack-token-shaped word at p, or 0. */
static size_t
log_token_at(const char *p)
{
	static const char	*prefixes[] = { "xoxb-", "xoxp-", "xapp-",
				    "xoxa-", "xoxe-", "xoxr-", "xoxs-" };
	size_t			 i, end;

	if (*p != 'x')
		return (0);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(p, prefixes[i], 5) != 0)
			continue;
		for (end = 5; isalnum((unsigned char)p[end]) ||
		    p[end] == '-' || p[end] == '_'; end++)
			;
		return (end);
	}
	return (0);
}

/*
 * A copy of in with secrets and token-shaped words redacted, cut to max
 * bytes on a character boundary; NULL if out of memory. Every word is
 * judged on the whole text before anything is cut: cutting first would
 * let a secret that straddles the cut through in part.
 */
static char *
log_scrub_copy(const char *in, size_t max)
{
	size_t	 rlen = strlen(LOG_REDACTED), o = 0, n;
	char	*out;

	/* Output stops once past max; the last step adds at most rlen. */
	if ((out = malloc(max + rlen + 1)) == NULL)
		return (NULL);
	while (*in != '\0' && o <= max) {
		if ((n = log_secret_at(in)) == 0 &&
		    (n = log_token_at(in)) == 0) {
			out[o++] = *in++;
			continue;
		}
		memcpy(out + o, LOG_REDACTED, rlen);
		o += rlen;
		in += n;
	}
	out[o] = '\0';
	out[utf8_cut(out, max)] = '\0';
	return (out);
}

/* Redact secrets and token-shaped words in a NUL-terminated buffer. */
void
log_scrub(char *buf, size_t size)
{
	char	*out;

	if (size == 0)
		return;
	if ((out = log_scrub_copy(buf, size - 1)) == NULL) {
		/* Nothing unscrubbed may stay behind. */
		strlcpy(buf, LOG_REDACTED, size);
		return;
	}
	memcpy(buf, out, strlen(out) + 1);
	free(out);
}

static void
log_vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char	*msg = NULL, *line, *tmp;
	int	 saved = errno;
	size_t	 i;

	if (level > log_level)
		return;
	/* The whole message first: it is scrubbed before it is cut. */
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg != NULL && with_errno) {
		if (asprintf(&tmp, "%s: %s", msg, strerror(saved)) < 0)
			tmp = NULL;
		free(msg);
		msg = tmp;
	}
	line = log_scrub_copy(msg != NULL ? msg : fmt, LOG_LINE_MAX - 1);
	free(msg);
	if (line == NULL) {
		fprintf(stderr, "%s: %s: (out of memory formatting a log "
		    "line)\n", log_progname, log_names[level]);
		errno = saved;
		return;
	}
	/* One line per message: control characters would forge lines. */
	for (i = 0; line[i] != '\0'; i++) {
		if (line[i] == '\n' || line[i] == '\r' ||
		    (unsigned char)line[i] < 0x20)
			line[i] = ' ';
	}
	fprintf(stderr, "%s: %s: %s\n", log_progname, log_names[level], line);
	fflush(stderr);
	free(line);
	errno = saved;
}

/* Warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_WARN, 1, fmt, ap);
	va_end(ap);
}

/* Warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

/* Error that needs an operator's attention; the daemon goes on. */
void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
}

/* Informational. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

/* Debug; only when log_level is debug. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* Log with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
