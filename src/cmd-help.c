/* cmd-help.c: "help [command]", generated from the command table. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

static enum cmd_retval	cmd_help_exec(struct cmd_item *);
static void		cmd_help_one(struct cmd_item *,
			    const struct cmd_entry *);

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.usage = "help [command]",
	.help = "List the commands, or explain one.",
	.exec = cmd_help_exec
};

static void
cmd_help_one(struct cmd_item *item, const struct cmd_entry *e)
{
	cmd_reply(item, "`%s`\n%s", e->usage, e->help);
}

static enum cmd_retval
cmd_help_exec(struct cmd_item *item)
{
	const struct cmd_entry	*e;
	cJSON			*blocks, *b;
	char			*lines = xstrdup(""), *tmp, *cause, *who;
	int			 i, used;

	if (item->argc > 0) {
		e = cmd_find(item->argc, item->argv, &used, &cause);
		if (e == NULL) {
			who = slack_escape(item->argv[0]);
			cmd_error(item, "No help for `%s`: %s.", who, cause);
			free(who);
			free(cause);
			free(lines);
			return (CMD_ERROR);
		}
		cmd_help_one(item, e);
		free(lines);
		return (CMD_DONE);
	}
	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		xasprintf(&tmp, "%s• `%s`: %s\n", lines, e->usage, e->help);
		free(lines);
		lines = tmp;
	}
	blocks = cJSON_CreateArray();
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "section");
	tmp = NULL;
	xasprintf(&tmp, "*What I can do* (mention me, or DM me):\n%s", lines);
	cJSON_AddItemToObject(b, "text", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(b, "text"), "type",
	    "mrkdwn");
	cJSON_AddStringToObject(cJSON_GetObjectItem(b, "text"), "text", tmp);
	cJSON_AddItemToArray(blocks, b);
	cmd_reply_blocks(item, tmp, blocks);
	free(tmp);
	free(lines);
	return (CMD_DONE);
}
