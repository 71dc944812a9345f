/*
 * cmd-keep-open.c: "keep open", and the Keep open button.
 *
 * An incident channel is archived schedule.archive_after after its ticket
 * closes (follow.c), with a notice before. Anyone in the channel can
 * postpone it by another period, typing "keep open" there or pressing
 * the notice's button. Both go to follow_keep_open, which makes a new
 * archive generation in this turn: the planned archive and its notice
 * find themselves stale when they come due. The answer is posted after
 * the commit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

static enum cmd_retval	 keep_open_exec(struct cmd_item *);
static void		 keep_open_click(const cJSON *, const cJSON *,
			    struct envelope *);

static const struct cmd_action keep_open_actions[] = {
	{ "keep_open", keep_open_click },
	{ NULL, NULL }
};

const struct cmd_entry cmd_keep_open_entry = {
	.name = "keep open",
	.usage = "keep open",
	.help = "In an incident channel whose ticket is closed: postpone "
	    "archiving the channel by another period.",
	.exec = keep_open_exec,
	.actions = keep_open_actions
};

static enum cmd_retval
keep_open_exec(struct cmd_item *item)
{
	char	*key, *text;

	if (item->argc > 0) {
		cmd_error(item, "Usage: `keep open` (in the incident "
		    "channel).");
		return (CMD_ERROR);
	}
	if ((key = incident_key_for_channel(item->channel)) == NULL) {
		cmd_error(item, "This is not an incident channel: there is "
		    "nothing to keep open here.");
		return (CMD_ERROR);
	}
	text = follow_keep_open(key, item->user, 0);
	cmd_reply(item, "%s", text);
	free(text);
	free(key);
	return (CMD_DONE);
}

/* The notice's button: value "KEY GEN"; only in the incident's channel. */
static void
keep_open_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user = json_str(payload, "user.id");
	const char	*channel = json_str(payload, "channel.id");
	const char	*value = json_str(action, "value"), *ts;
	char		 key[64], *owner, *text;
	struct cmd_item	*item;
	cJSON		*args, *blocks;
	int		 gen;

	(void)env;
	if (user == NULL || channel == NULL || value == NULL ||
	    sscanf(value, "%63s %d", key, &gen) != 2 || !jira_valid_key(key))
		return;
	owner = incident_key_for_channel(channel);
	if (owner == NULL || strcmp(owner, key) != 0) {
		free(owner);
		return;
	}
	free(owner);
	item = cmd_item_new(channel, user, NULL);
	text = follow_keep_open(key, user, gen);
	cmd_reply(item, "%s", text);
	/* The notice loses its button: it was answered. */
	ts = json_str(payload, "container.message_ts");
	if (ts != NULL) {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "channel", channel);
		cJSON_AddStringToObject(args, "ts", ts);
		cJSON_AddStringToObject(args, "text", text);
		blocks = cJSON_CreateArray();
		cJSON_AddItemToArray(blocks, blocks_section(text));
		cJSON_AddItemToObject(args, "blocks", blocks);
		slack_call_after_commit("chat.update", args);
	}
	free(text);
	cmd_finish(item);
}
