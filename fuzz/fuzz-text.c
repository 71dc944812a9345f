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

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config	 c;
	struct url		 u;
	const char		*err, *rest;
	char			*s, *t, **argv;
	int			 argc;

	if (cfg == NULL) {
		log_init(LOG_LEVEL_ERROR, "fuzz-text");
		c.jira.url = xstrdup("https://example.atlassian.net");
		cfg = &c;
	}
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
