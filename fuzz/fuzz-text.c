/*
 * fuzz-text.c: libFuzzer target for the parsers of chat text and links:
 * cmd_split, slack_plain_text, slack_escape/unescape, jira_parse_key,
 * url_parse and events_mentions_bot.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "harness.h"

FUZZ_TARGET(text)
{
	struct url		 u;
	const char		*err, *rest;
	char			*s, *t, **argv;
	int			 argc;

	harness_init();
	s = xstrndup((const char *)data, size);
	if (cmd_split(s, &argc, &argv) == 0)
		cmd_free_argv(argc, argv);
	t = slack_plain_text(s);
	free(t);
	t = slack_escape(s);
	free(slack_unescape(t));
	free(t);
	free(jira_parse_key(s));
	free(jira_jql_quote(s));
	if (url_parse(s, &u, &err) == 0)
		url_free(&u);
	(void)events_mentions_bot(s, "U0BOT", &rest);
	free(s);
	return (0);
}
