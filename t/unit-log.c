/* unit-log.c: secrets never reach a log line. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

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
	return (done_testing());
}
