/*
 * log.c: leveled logging to stderr, one line per message.
 *
 * Lines go to stderr so systemd's journal picks them up; each carries a
 * level word. Every line is scrubbed before it is written: registered
 * secrets and anything shaped like a Slack token are replaced, so a token
 * quoted in an error body can never reach the journal.
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
static void	log_replace(char *, size_t, size_t, size_t);

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

/* Replace len bytes at off in buf (a C string in size bytes) by LOG_REDACTED. */
static void
log_replace(char *buf, size_t size, size_t off, size_t len)
{
	size_t	rlen = strlen(LOG_REDACTED), tail;

	tail = strlen(buf + off + len) + 1;
	if (off + rlen + tail > size) {
		/* No room to grow: truncate after the marker. */
		if (off + rlen + 1 > size) {
			buf[off] = '\0';
			return;
		}
		memcpy(buf + off, LOG_REDACTED, rlen);
		buf[off + rlen] = '\0';
		return;
	}
	memmove(buf + off + rlen, buf + off + len, tail);
	memcpy(buf + off, LOG_REDACTED, rlen);
}

/* Redact secrets and token-shaped words in a NUL-terminated buffer. */
void
log_scrub(char *buf, size_t size)
{
	static const char	*prefixes[] = { "xoxb-", "xoxp-", "xapp-",
				    "xoxa-", "xoxe-", "xoxr-", "xoxs-" };
	size_t			 i, j, end;
	char			*p;

	for (i = 0; i < log_secrets.n; i++) {
		while ((p = strstr(buf, log_secrets.v[i])) != NULL)
			log_replace(buf, size, p - buf,
			    strlen(log_secrets.v[i]));
	}
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		p = buf;
		while ((p = strstr(p, prefixes[i])) != NULL) {
			end = p - buf;
			while (buf[end] != '\0' &&
			    (isalnum((unsigned char)buf[end]) ||
			    buf[end] == '-' || buf[end] == '_'))
				end++;
			j = p - buf;
			log_replace(buf, size, j, end - j);
			p = buf + j + strlen(LOG_REDACTED);
		}
	}
}

static void
log_vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX];
	int	 saved = errno, n;
	size_t	 i;

	if (level > log_level)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		strlcpy(line, fmt, sizeof(line));
	if (with_errno) {
		strlcat(line, ": ", sizeof(line));
		strlcat(line, strerror(saved), sizeof(line));
	}
	log_scrub(line, sizeof(line));
	/* One line per message: control characters would forge lines. */
	for (i = 0; line[i] != '\0'; i++) {
		if (line[i] == '\n' || line[i] == '\r' ||
		    (unsigned char)line[i] < 0x20)
			line[i] = ' ';
	}
	fprintf(stderr, "%s: %s: %s\n", log_progname, log_names[level], line);
	fflush(stderr);
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
