/*
 * cmd-page-list.c: "page list", every PagerDuty shortcut.
 *
 * Shortcuts come sorted from config.c. Hundreds of them do not fit one
 * message: the lines are packed into sections of at most ~3000
 * characters, and sections into messages of at most 48 blocks
 * (slack_post_lines). Names and descriptions are operator text: escaped.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

static enum cmd_retval	page_list_exec(struct cmd_item *);

const struct cmd_entry cmd_page_list_entry = {
	.name = "page list",
	.usage = "page list",
	.help = "List the PagerDuty shortcuts `page` understands, with "
	    "their descriptions.",
	.exec = page_list_exec
};

static enum cmd_retval
page_list_exec(struct cmd_item *item)
{
	const struct shortcuts	*sc = &cfg->pagerduty.shortcuts;
	struct strlist		 lines = { NULL, 0 };
	char			*n, *d, *title, *tmp;
	size_t			 i;

	if (sc->n == 0) {
		cmd_reply(item, "No PagerDuty shortcuts are configured. You "
		    "can still page a service by name (`page \"API "
		    "Gateway\"`) or a person (`page @someone`).");
		return (CMD_DONE);
	}
	xasprintf(&title, "%zu PagerDuty shortcut(s)", sc->n);
	strlist_addf(&lines, "*%zu PagerDuty shortcut(s)*; page one with "
	    "`page <shortcut>`:", sc->n);
	for (i = 0; i < sc->n; i++) {
		n = slack_escape(sc->v[i].name);
		/* Cut before escaping: never inside an entity. */
		tmp = utf8_truncate(sc->v[i].description != NULL ?
		    sc->v[i].description : "", 300, 1);
		d = slack_escape(tmp);
		free(tmp);
		strlist_addf(&lines, "• `%s` %s%s", n, *d != '\0' ? "– " : "",
		    d);
		free(n);
		free(d);
	}
	slack_post_lines(item->channel, item->thread_ts, title, &lines);
	strlist_free(&lines);
	free(title);
	return (CMD_DONE);
}
