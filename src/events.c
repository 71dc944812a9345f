/*
 * events.c: what to do with each Socket Mode envelope.
 *
 * A chat command is either a channel message that starts by mentioning the
 * bot (delivered as app_mention) or any message in a DM with the bot
 * (delivered as message with channel_type "im"). A channel mention also
 * arrives as a plain message event; only the app_mention copy is used, so a
 * command never runs twice. Redeliveries carry a new envelope_id but the
 * same event_id, which the store remembers. Envelopes for another
 * workspace or app (org-wide installs, Slack Connect) are dropped first.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

static const struct events_action events_actions[] = {
	{ "im_page", cmd_new_incident_page_click },
	{ "im_decline", cmd_new_incident_decline_click },
	{ "channel_pick", cmd_new_channel_pick_click },
	{ "page_confirm", cmd_page_confirm_click },
	{ "page_cancel", cmd_page_cancel_click },
	{ "page_pick", cmd_page_pick_click },
};
static const struct events_view events_views[] = {
	{ "im_page_modal", cmd_new_incident_modal_submit },
};

static void	events_api(struct envelope *);
static void	events_interactive(struct envelope *);
static void	events_message(const cJSON *, int);
static int	events_from_self_or_bot(const cJSON *);

/* 1 if text starts with a mention of bot_id; *rest is what follows. */
int
events_mentions_bot(const char *text, const char *bot_id, const char **rest)
{
	const char	*p = text;
	size_t		 len;

	if (text == NULL || bot_id == NULL || *bot_id == '\0')
		return (0);
	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "<@", 2) != 0)
		return (0);
	p += 2;
	len = strlen(bot_id);
	if (strncmp(p, bot_id, len) != 0)
		return (0);
	p += len;
	if (*p == '|') {
		/* <@U123|name>: legacy clients add the name. */
		p = strchr(p, '>');
		if (p == NULL)
			return (0);
	}
	if (*p != '>')
		return (0);
	p++;
	while (isspace((unsigned char)*p))
		p++;
	if (rest != NULL)
		*rest = p;
	return (1);
}

static int
events_from_self_or_bot(const cJSON *ev)
{
	const char	*user = json_str(ev, "user");

	if (json_str(ev, "bot_id") != NULL || json_path(ev, "bot_profile"))
		return (1);
	if (user == NULL)
		return (1);
	return (slack_self.user_id != NULL &&
	    strcmp(user, slack_self.user_id) == 0);
}

static void
events_message(const cJSON *ev, int mention)
{
	const char	*text, *rest, *channel, *user, *ts, *thread;
	int		 is_dm;

	/* Edits, joins, bot posts and other subtypes are not commands. */
	if (json_str(ev, "subtype") != NULL || json_path(ev, "edited"))
		return;
	if (events_from_self_or_bot(ev))
		return;
	channel = json_str(ev, "channel");
	user = json_str(ev, "user");
	ts = json_str(ev, "ts");
	text = json_str(ev, "text");
	if (channel == NULL || ts == NULL || text == NULL)
		return;
	thread = json_str(ev, "thread_ts");
	is_dm = !mention && channel[0] == 'D';

	if (events_mentions_bot(text, slack_self.user_id, &rest))
		text = rest;
	else if (!is_dm)
		return;	/* mentioned mid-sentence: not addressed to us */
	cmd_run(channel, user, ts, thread, text, is_dm);
}

static void
events_api(struct envelope *env)
{
	const cJSON	*ev;
	const char	*event_id, *type, *channel_type;

	event_id = json_str(env->payload, "event_id");
	if (event_id != NULL && store != NULL &&
	    store_event_seen(store, event_id, now_wall()) == 1) {
		log_debug("event %s redelivered (attempt %d); already handled",
		    event_id, env->retry_attempt);
		return;
	}
	timeline_alive();
	ev = json_path(env->payload, "event");
	if ((type = json_str(ev, "type")) == NULL)
		return;
	if (strcmp(type, "app_mention") == 0)
		events_message(ev, 1);
	else if (strcmp(type, "message") == 0) {
		channel_type = json_str(ev, "channel_type");
		if (channel_type != NULL && strcmp(channel_type, "im") == 0)
			events_message(ev, 0);
		else
			timeline_message(ev);
	} else if (strcmp(type, "reaction_added") == 0)
		timeline_reaction(ev, 1);
	else if (strcmp(type, "reaction_removed") == 0)
		timeline_reaction(ev, 0);
	else
		log_debug("event %s ignored", type);
}

/* Button clicks and modal submissions, by action_id / callback_id. */
static void
events_interactive(struct envelope *env)
{
	const cJSON	*action;
	const char	*type, *id;
	size_t		 i;

	if ((type = json_str(env->payload, "type")) == NULL)
		return;
	if (strcmp(type, "block_actions") == 0) {
		cJSON_ArrayForEach(action, json_path(env->payload, "actions")) {
			if ((id = json_str(action, "action_id")) == NULL)
				continue;
			for (i = 0; i < sizeof(events_actions) /
			    sizeof(events_actions[0]); i++) {
				if (strcmp(id, events_actions[i].action_id) == 0)
					events_actions[i].fn(env->payload,
					    action, env);
			}
		}
	} else if (strcmp(type, "view_submission") == 0) {
		id = json_str(env->payload, "view.callback_id");
		for (i = 0; id != NULL && i < sizeof(events_views) /
		    sizeof(events_views[0]); i++) {
			if (strcmp(id, events_views[i].callback_id) == 0)
				events_views[i].fn(env->payload, env);
		}
	} else
		log_debug("interactive %s ignored", type);
}

/* Handle one envelope; the caller acknowledges it afterwards. */
void
events_handle(struct envelope *env)
{
	if (env->type == NULL || env->payload == NULL)
		return;
	log_debug("envelope %s (%s)", env->envelope_id, env->type);
	if (!access_envelope_ours(env->type, env->payload)) {
		log_info("envelope %s for another workspace or app ignored",
		    env->envelope_id != NULL ? env->envelope_id : "?");
		return;
	}
	if (strcmp(env->type, "events_api") == 0)
		events_api(env);
	else if (strcmp(env->type, "interactive") == 0)
		events_interactive(env);
	else
		log_debug("envelope type %s ignored", env->type);
}
