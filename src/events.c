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
 * Clicks and modal submissions go to the command that owns them
 * (cmd_click, cmd_submit): this file only classifies.
 *
 * A command is only as good as its record. If the turn that handles it
 * fails to store its writes, the envelope goes unacknowledged and its
 * event id unrecorded (reactor.c), so Slack's redelivery redoes it, once.
 * The user is told "I could not record that" when no redo will succeed:
 * the store is full at its ceiling or broken, or no redelivery follows
 * (clicks, a last retry). A turn that has failed already starts no
 * command at all.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define EVENTS_MAX_RETRY	3	/* Slack redelivers at most 3 times */
#define EVENTS_TOLD_MAX		64	/* event ids told "not recorded" */

/* A command envelope being handled: whom to tell if its turn fails. */
struct events_watch {
	char	*channel;	/* NULL: nowhere to reply (a modal) */
	char	*user;
	char	*thread_ts;
	char	*event_id;	/* NULL: not an Events API envelope */
	int	 last_try;	/* no redelivery follows */
};

static char	*events_told[EVENTS_TOLD_MAX];
static size_t	 events_told_next;

static void	events_api(struct envelope *);
static void	events_interactive(struct envelope *);
static void	events_message(const cJSON *, int, struct envelope *);
static int	events_from_self_or_bot(const cJSON *);
static void	events_watch(struct envelope *, const char *, const char *,
		    const char *);
static void	events_watch_free(void *);
static void	events_unrecorded_cb(void *);
static int	events_told_before(const char *);

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

/*
 * Until the end of this turn, remember where a command came from, to say
 * so if the turn's writes fail.
 */
static void
events_watch(struct envelope *env, const char *channel, const char *user,
    const char *thread_ts)
{
	struct events_watch	*w;
	const char		*event_id;

	if (store == NULL)
		return;
	w = xcalloc(1, sizeof(*w));
	if (channel != NULL)
		w->channel = xstrdup(channel);
	w->user = xstrdup(user != NULL ? user : "");
	if (thread_ts != NULL)
		w->thread_ts = xstrdup(thread_ts);
	if (strcmp(env->type, "events_api") == 0 &&
	    (event_id = json_str(env->payload, "event_id")) != NULL) {
		w->event_id = xstrdup(event_id);
		w->last_try = env->retry_attempt >= EVENTS_MAX_RETRY;
	} else
		w->last_try = 1;	/* interactive: never redelivered */
	reactor_after_commit_or_abort(events_watch_free, events_unrecorded_cb,
	    w);
}

static void
events_watch_free(void *arg)
{
	struct events_watch	*w = arg;

	free(w->channel);
	free(w->user);
	free(w->thread_ts);
	free(w->event_id);
	free(w);
}

/* 1 if event_id was told already (its redeliveries fail too), else 0. */
static int
events_told_before(const char *event_id)
{
	size_t	i;

	for (i = 0; i < EVENTS_TOLD_MAX; i++) {
		if (events_told[i] != NULL &&
		    strcmp(events_told[i], event_id) == 0)
			return (1);
	}
	free(events_told[events_told_next]);
	events_told[events_told_next] = xstrdup(event_id);
	events_told_next = (events_told_next + 1) % EVENTS_TOLD_MAX;
	return (0);
}

/* The command's turn failed (its writes are gone): tell the user. */
static void
events_unrecorded_cb(void *arg)
{
	struct events_watch	*w = arg;
	struct cmd_item		*item;
	char			*why;
	int			 error, room;

	error = reactor_turn_error(&room);
	if (room && !w->last_try) {
		log_info("command from %s in %s not recorded; Slack "
		    "redelivers it and it runs then", w->user,
		    w->channel != NULL ? w->channel : "a modal");
		goto out;
	}
	if (w->event_id != NULL && events_told_before(w->event_id))
		goto out;
	if (error == STORE_MAP_FULL)
		why = xstrdup("the state store is full");
	else
		xasprintf(&why, "the state store failed: %s",
		    store_strerror(error));
	log_warnx("command from %s in %s could not be recorded (%s)", w->user,
	    w->channel != NULL ? w->channel : "a modal", why);
	if (w->channel != NULL) {
		item = cmd_item_new(w->channel, w->user, w->thread_ts);
		cmd_error(item, "I could not record that (%s); nothing was "
		    "done.", why);
		cmd_finish(item);
	}
	free(why);
out:
	events_watch_free(w);
}

/* Forget who was told (at shutdown). */
void
events_shutdown(void)
{
	size_t	i;

	for (i = 0; i < EVENTS_TOLD_MAX; i++) {
		free(events_told[i]);
		events_told[i] = NULL;
	}
	events_told_next = 0;
}

static void
events_message(const cJSON *ev, int mention, struct envelope *env)
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
	events_watch(env, channel, user, thread);
	if (store_failed(store) != 0) {
		/* Nothing it writes could be kept: say so, run nothing. */
		log_info("command from %s in %s not started: this turn's "
		    "writes failed", user != NULL ? user : "?", channel);
		return;
	}
	cmd_run(channel, user, ts, thread, text, is_dm);
}

static void
events_api(struct envelope *env)
{
	const cJSON	*ev;
	const char	*event_id, *type, *channel_type;
	int		 rv;

	event_id = json_str(env->payload, "event_id");
	if (event_id != NULL && store != NULL &&
	    (rv = store_event_seen(store, event_id, now_wall())) != 0) {
		if (rv == 1) {
			log_debug("event %s redelivered (attempt %d); already "
			    "handled", event_id, env->retry_attempt);
			return;
		}
		/* The turn failed: it goes unacknowledged (reactor.c). */
		log_debug("event %s: not recorded (%s)", event_id,
		    store_strerror(rv));
	}
	timeline_alive();
	ev = json_path(env->payload, "event");
	if ((type = json_str(ev, "type")) == NULL)
		return;
	if (strcmp(type, "app_mention") == 0)
		events_message(ev, 1, env);
	else if (strcmp(type, "message") == 0) {
		channel_type = json_str(ev, "channel_type");
		if (channel_type != NULL && strcmp(channel_type, "im") == 0)
			events_message(ev, 0, env);
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
	const char	*type;

	if ((type = json_str(env->payload, "type")) == NULL)
		return;
	if (strcmp(type, "block_actions") == 0)
		events_watch(env, json_str(env->payload, "channel.id"),
		    json_str(env->payload, "user.id"),
		    json_str(env->payload, "container.thread_ts"));
	else if (strcmp(type, "view_submission") == 0)
		events_watch(env, NULL, json_str(env->payload, "user.id"),
		    NULL);
	else {
		log_debug("interactive %s ignored", type);
		return;
	}
	if (store_failed(store) != 0) {
		log_info("interactive %s not handled: this turn's writes "
		    "failed", type);
		return;
	}
	if (strcmp(type, "block_actions") == 0) {
		cJSON_ArrayForEach(action, json_path(env->payload, "actions")) {
			if (!cmd_click(env->payload, action, env))
				log_debug("action %s ignored", json_str(action,
				    "action_id") != NULL ? json_str(action,
				    "action_id") : "?");
		}
		return;
	}
	if (!cmd_submit(env->payload, env))
		log_debug("view %s ignored", json_str(env->payload,
		    "view.callback_id") != NULL ? json_str(env->payload,
		    "view.callback_id") : "?");
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
