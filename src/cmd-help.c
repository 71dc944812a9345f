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
	.flags = CMD_ANYONE,
	.exec = cmd_help_exec
};

static void
cmd_help_one(struct cmd_item *item, const struct cmd_entry *e)
{
	char	*usage = slack_escape(e->usage);

	cmd_reply(item, "`%s`\n%s", usage, e->help);
	free(usage);
}

static enum cmd_retval
cmd_help_exec(struct cmd_item *item)
{
	const struct cmd_entry	*e;
	cJSON			*blocks;
	char			*lines = xstrdup(""), *tmp, *cause, *who, *usage;
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
		usage = slack_escape(e->usage);
		xasprintf(&tmp, "%s• `%s`: %s\n", lines, usage, e->help);
		free(usage);
		free(lines);
		lines = tmp;
	}
	blocks = cJSON_CreateArray();
	xasprintf(&tmp, "*What I can do* (mention me, or DM me):\n%s", lines);
	cJSON_AddItemToArray(blocks, blocks_section(tmp));
	free(tmp);
	cmd_reply_blocks(item, "What I can do: the incidentd commands.",
	    blocks);
	free(lines);
	return (CMD_DONE);
}
