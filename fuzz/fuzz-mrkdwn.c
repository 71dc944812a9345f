/*
 * fuzz-mrkdwn.c: Slack mrkdwn to plain text and back, with the
 * invariants that hold for any text: escaped text forms no markup
 * (no < or >), unescape inverts escape, and escaped text reads back
 * as itself in plain text.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "harness.h"

FUZZ_TARGET(mrkdwn)
{
	char	*s, *e, *u, *p;

	harness_init();
	s = xstrndup((const char *)data, size);
	free(slack_plain_text(s));
	free(slack_unescape(s));
	e = slack_escape(s);
	if (strpbrk(e, "<>") != NULL)
		harness_fail("mrkdwn: escaped text holds markup");
	u = slack_unescape(e);
	if (strcmp(u, s) != 0)
		harness_fail("mrkdwn: unescape(escape(s)) != s");
	p = slack_plain_text(e);
	if (strcmp(p, s) != 0)
		harness_fail("mrkdwn: plain(escape(s)) != s");
	free(p);
	free(u);
	free(e);
	free(s);
	return (0);
}
