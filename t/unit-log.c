/* unit-log.c: secrets never reach a log line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incidentd.h"
#include "tap.h"

static void
check_scrub(const char *in, const char *want, const char *name)
{
	char	buf[256];

	strlcpy(buf, in, sizeof(buf));
	log_scrub(buf, sizeof(buf));
	is_str(buf, want, name);
}

/*
 * A token-shaped word in the last bytes of a full buffer: the marker
 * does not fit, and the scan must not go on past the buffer. Bytes after
 * size (a token, then a canary) must be neither read into the result nor
 * written.
 */
static void
test_scrub_end(void)
{
	char	big[8192 + 64];
	size_t	size = 8192, off = size - 7;

	memset(big, 'a', sizeof(big));
	memcpy(big + off - 1, " xoxb-1", 7);
	big[size - 1] = '\0';
	memcpy(big + size + 3, "xoxb-zz", 7);
	big[size + 10] = '\0';
	memcpy(big + size + 11, "canary", 7);
	log_scrub(big, size);
	ok(strstr(big, "xoxb") == NULL, "token at the end of a full buffer "
	    "hidden");
	ok(strlen(big) < size, "still terminated within size");
	is_str(big + size + 3, "xoxb-zz", "bytes past size untouched");
	is_str(big + size + 11, "canary", "canary past size untouched");
}

/* Log a and b as one line (stderr to a file); return what was written. */
static char *
capture_log(const char *a, const char *b)
{
	char	 path[] = "/tmp/unit-log.XXXXXX", *out;
	int	 fd, saved;
	FILE	*f;
	long	 len;

	if ((fd = mkstemp(path)) == -1)
		return (NULL);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	log_info("%s%s", a, b);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	out = calloc(1, len + 1);
	if (fread(out, 1, len, f) != (size_t)len)
		out[0] = '\0';
	fclose(f);
	unlink(path);
	return (out);
}

/* A secret that straddles the 8 KiB cut shows none of itself. */
static void
test_straddle(void)
{
	char	*pad, *line;
	size_t	 n;

	log_redact("s3cr3t-jira-token");
	pad = malloc(9000);
	for (n = 8150; n < 8200; n += 7) {
		memset(pad, 'p', n);
		pad[n] = '\0';
		line = capture_log(pad, " s3cr3t-jira-token tail");
		if (line == NULL || strstr(line, "s3cr3t") != NULL) {
			ok(0, "secret straddling the cut is hidden");
			diag(line != NULL ? line + strlen(line) - 40 :
			    "no line");
			free(line);
			break;
		}
		free(line);
	}
	if (n >= 8200)
		ok(1, "secret straddling the cut is hidden");
	/* A long line is cut, and still one line. */
	memset(pad, 'p', 8999);
	pad[8999] = '\0';
	line = capture_log(pad, "");
	ok(line != NULL && strlen(line) < 8300 && strchr(line, '\n') ==
	    line + strlen(line) - 1, "a long line is cut to one line");
	free(line);
	/* A multi-byte character at the cut is not split. */
	for (n = 0; n + 2 <= 8998; n += 2)
		memcpy(pad + n, "\xc3\xa9", 2);
	pad[n] = '\0';
	line = capture_log("x", pad);
	n = strlen(line) - 1;	/* the newline */
	ok(line != NULL && ((unsigned char)line[n - 1] == 0xa9),
	    "the cut does not split a character");
	free(line);
	free(pad);
	log_redact_clear();
}

int
main(void)
{
	char	buf[40];

	log_init(LOG_LEVEL_DEBUG, "unit-log");
	check_scrub("token xoxb-123-456-abc failed",
	    "token [redacted] failed", "bot token shape redacted");
	check_scrub("Bearer xapp-1-A0-99-ff;", "Bearer [redacted];",
	    "app token shape redacted");
	check_scrub("no secrets here", "no secrets here", "plain text kept");
	log_redact("s3cr3t-jira-token");
	log_redact("abc");	/* too short to redact safely */
	check_scrub("auth s3cr3t-jira-token and s3cr3t-jira-token",
	    "auth [redacted] and [redacted]", "registered secret redacted twice");
	check_scrub("abc", "abc", "short strings are not secrets");
	strlcpy(buf, "xoxb-1", sizeof(buf));
	log_scrub(buf, 8);
	ok(strstr(buf, "xoxb") == NULL, "no room to grow still hides it");
	is_int(log_level_parse("debug"), LOG_LEVEL_DEBUG, "parse debug");
	is_int(log_level_parse("warning"), LOG_LEVEL_WARN, "parse warning");
	is_int(log_level_parse("loud"), -1, "unknown level");
	log_redact_clear();
	check_scrub("s3cr3t-jira-token", "s3cr3t-jira-token",
	    "cleared secrets are no longer matched");
	log_redact("s3cr3t-jira");
	log_redact("s3cr3t-jira-token");
	check_scrub("a s3cr3t-jira-token b", "a [redacted] b",
	    "the longest secret wins");
	log_redact_clear();
	test_scrub_end();
	test_straddle();
	return (done_testing());
}
