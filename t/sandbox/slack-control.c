/*
 * slack-control.c: what the workspace's people do, driven by the control
 * API (POST /control/slack/<op>) and the demo console.
 *
 * Ops (JSON body in, JSON out; {"error":...} is a 400):
 *   message  {"user","channel","text","thread_ts"?,"subtype"?,"bot_id"?}
 *            -> {"ts","event_ids","envelope_ids"}: message event, and
 *            app_mention for a non-DM text with <@U0BOT>
 *            message, click and submit also take "team_id"/"api_app_id"
 *            (T.../A...): the payload comes as if for another workspace
 *            (org-wide install) or another app
 *   edit     {"channel","ts","text","user"?}  -> message_changed
 *   delete   {"channel","ts"}                 -> message_deleted
 *   reaction {"user","channel","ts","reaction","removed"?}
 *   click    {"user","channel","message_ts","action_id","value"?} or
 *            {"user","view_id","action_id","value"?}
 *            -> block_actions; {"trigger_id","envelope_id","response_url"}
 *   submit   {"user","view_id","values":{block_id:{action_id:{...}}}}
 *            -> view_submission; the ack's response_action is applied
 *   user     {"id","name","email","real_name","is_bot","tz",
 *            "is_restricted"?,"is_ultra_restricted"?,"team_id"?}: a
 *            guest (single-channel guests are both, as in Slack) or a
 *            member of another team (Slack Connect)
 *   usergroup {"id":"S...","handle","name"?,"users":[...]}: create or
 *            replace (usergroups.list, usergroups.users.list)
 *   channel  {"id","name","members":[...],"is_private","created"?}
 *   channel_archive, channel_unarchive {"channel","user"?}: a person
 *            (default the admin, U0ALICE) archives or unarchives it from
 *            the UI; Slack's errors (already_archived, not_archived,
 *            cant_archive_general...) as {"error"}
 *   channel_join {"channel","user"}: a person joins a public channel
 *            from the UI (is_archived, private and DM channels refused
 *            as conversations.join refuses them)
 *   channel_delete {"channel"}: an admin deletes it; every method then
 *            answers channel_not_found (not the general channel, not DMs)
 *   bulk     {"user","channel","count","prefix"?,"tag_every"?,"tagger"?,
 *            "reaction"?} -> {"first_ts","last_ts","tagged"}: count
 *            messages "<prefix> <i>" with their events; every tag_every-th
 *            gets the reaction (default memo) from tagger (timelines)
 *   users, usergroups, channels, messages {"channel"}, ephemeral, views,
 *   bookmarks {"channel"}: read the model
 *   ratelimit {"method","per_minute"}   (fake-slack.c)
 *   history_limits {"per_minute","max_limit"}: conversations.history
 *            and .replies (default 1 a minute, 15 a page, as Slack)
 *   manifest, scopes: the app's manifest as JSON with the granted
 *            scopes, and the method -> scopes table (slack-manifest.c)
 *   reset: the seed workspace again; requests, acks, limits cleared
 * Everything else goes to fake-socket.c (redeliver, raw, disconnect,
 * enable, drop, silence, acks, connections, envelope {"id"}).
 *
 * response_url: block_actions carry https://hooks.slack.com/actions/...;
 * POSTs to the same path on the Slack listener act on the message (good
 * 30 minutes, 5 uses).
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sandbox.h"
#include "slack.h"

static cJSON	*sc_error(const char *);
static cJSON	*sc_user_message(cJSON *);
static cJSON	*sc_edit(cJSON *);
static cJSON	*sc_delete(cJSON *);
static cJSON	*sc_reaction(cJSON *);
static cJSON	*sc_click(cJSON *);
static cJSON	*sc_submit(cJSON *);
static cJSON	*sc_add_user(cJSON *);
static cJSON	*sc_add_channel(cJSON *);
static cJSON	*sc_add_group(cJSON *);
static cJSON	*sc_channel_state(const char *, cJSON *);
static const char *sc_overrides(cJSON *, const char **, const char **);
static cJSON	*sc_bulk(cJSON *);
static cJSON	*sc_list(const char *, cJSON *);
static cJSON	*sc_reset(void);
static struct sl_chan *sc_chan(cJSON *, const char *);
static char	*sc_hook_new(const char *, const char *, const char *);
static cJSON	*sc_find_action(cJSON *, const char *, const char **);
static cJSON	*sc_action(const cJSON *, const char *, const char *);
static cJSON	*sc_slack_error(cJSON *);
static cJSON	*sc_ids_result(cJSON **, cJSON **);
static const cJSON *sc_option(const cJSON *, const char *);
static cJSON	*sc_user_ref(const struct sl_user *, const char *);
static cJSON	*sc_team_ref(const char *);
static const cJSON *sc_view_input(const cJSON *, const char *, const char *);
static int	 sc_input_empty(const cJSON *);
static int	 sc_valid_id(const char *, const char *);
static cJSON	*sc_members(const struct sl_chan *);

static cJSON *
sc_error(const char *msg)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "error", msg);
	return (o);
}

/* Run a control op for the console (same as POST /control/slack/op). */
cJSON *
slack_control(const char *op, cJSON *body)
{
	return (sl_control(op, body));
}

/* POST /control/slack/<op>. */
cJSON *
sl_control(const char *op, cJSON *body)
{
	cJSON	*res;

	if (strcmp(op, "message") == 0)
		return (sc_user_message(body));
	if (strcmp(op, "edit") == 0)
		return (sc_edit(body));
	if (strcmp(op, "delete") == 0)
		return (sc_delete(body));
	if (strcmp(op, "reaction") == 0)
		return (sc_reaction(body));
	if (strcmp(op, "click") == 0)
		return (sc_click(body));
	if (strcmp(op, "submit") == 0)
		return (sc_submit(body));
	if (strcmp(op, "user") == 0)
		return (sc_add_user(body));
	if (strcmp(op, "channel") == 0)
		return (sc_add_channel(body));
	if (strcmp(op, "usergroup") == 0)
		return (sc_add_group(body));
	if (strcmp(op, "channel_archive") == 0 ||
	    strcmp(op, "channel_unarchive") == 0 ||
	    strcmp(op, "channel_join") == 0 ||
	    strcmp(op, "channel_delete") == 0)
		return (sc_channel_state(op + 8, body));
	if (strcmp(op, "bulk") == 0)
		return (sc_bulk(body));
	if (strcmp(op, "reset") == 0)
		return (sc_reset());
	if ((res = sc_list(op, body)) != NULL)
		return (res);
	if ((res = sl_manifest_control(op)) != NULL)
		return (res);
	if ((res = sl_dispatch_control(op, body)) != NULL)
		return (res);
	return (socket_control(op, body));
}

/* Many messages (and tags) at once, each with its events. */
static cJSON *
sc_bulk(cJSON *body)
{
	struct sl_chan	*c;
	struct sl_user	*u, *t = NULL;
	const char	*prefix, *reaction;
	long long	 count, every, i, tagged = 0;
	char		*text;
	cJSON		*m, *res, *err, *first = NULL;

	if ((u = sl_user_find(sb_json_str(body, "user"))) == NULL)
		return (sc_error("user_not_found"));
	if ((c = sc_chan(body, "channel")) == NULL)
		return (sc_error("channel_not_found"));
	if (!sl_is_member(c, u->id))
		return (sc_error("user_not_in_channel"));
	count = sb_json_int(body, "count", 0);
	every = sb_json_int(body, "tag_every", 0);
	if (count < 1 || count > 100000 || every < 0)
		return (sc_error("count: 1..100000, tag_every >= 0"));
	if (every > 0 && (t = sl_user_find(sb_json_str(body, "tagger"))) ==
	    NULL)
		return (sc_error("tagger: user_not_found"));
	prefix = sb_json_str(body, "prefix");
	reaction = sb_json_str(body, "reaction");
	if (reaction == NULL)
		reaction = "memo";
	m = NULL;
	for (i = 1; i <= count; i++) {
		sb_asprintf(&text, "%s %lld", prefix != NULL ? prefix :
		    "message", i);
		m = sl_store(c, u->id, text, sl_rich_text(text), NULL, NULL);
		free(text);
		if (first == NULL)
			first = m;
		sl_emit(c, sl_msg_event(c, m), NULL, NULL);
		if (every > 0 && i % every == 0) {
			if ((err = sl_react(c, m, t->id, reaction, 0, NULL,
			    NULL)) != NULL)
				return (sc_slack_error(err));
			tagged++;
		}
	}
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddStringToObject(res, "first_ts", sb_json_str(first, "ts"));
	cJSON_AddStringToObject(res, "last_ts", sb_json_str(m, "ts"));
	cJSON_AddNumberToObject(res, "tagged", (double)tagged);
	return (res);
}

/* The channel named by body[key] (id or name), NULL if none. */
static struct sl_chan *
sc_chan(cJSON *body, const char *key)
{
	const char	*s = sb_json_str(body, key);
	struct sl_chan	*c;

	if ((c = sl_chan_find(s)) == NULL)
		c = sl_chan_by_name(s);
	return (c);
}

static cJSON *
sc_slack_error(cJSON *reply)
{
	cJSON	*o;

	o = sc_error(sb_json_str(reply, "error"));
	cJSON_Delete(reply);
	return (o);
}

/* A person (or another bot) types a message. */
static cJSON *
sc_user_message(cJSON *body)
{
	struct sl_chan	*c;
	struct sl_user	*u;
	const char	*text, *thread_ts, *subtype, *bot_id, *team, *app;
	const char	*parent_ts = NULL, *why;
	cJSON		*m, *res, *eids, *envs, *ev;

	if ((why = sc_overrides(body, &team, &app)) != NULL)
		return (sc_error(why));
	text = sb_json_str(body, "text");
	thread_ts = sb_json_str(body, "thread_ts");
	subtype = sb_json_str(body, "subtype");
	bot_id = sb_json_str(body, "bot_id");
	if ((u = sl_user_find(sb_json_str(body, "user"))) == NULL)
		return (sc_error("user_not_found"));
	if ((c = sc_chan(body, "channel")) == NULL)
		return (sc_error("channel_not_found"));
	if (text == NULL)
		return (sc_error("no_text"));
	if (!sl_is_member(c, u->id))
		return (sc_error("user_not_in_channel"));
	if (c->is_archived)
		return (sc_error("is_archived"));
	/* What the Slack client says with the Messages tab turned off. */
	if (c->im_user != NULL && !sl_messages_tab())
		return (sc_error("messages_tab_disabled: Sending messages to "
		    "this app has been turned off."));
	if (thread_ts != NULL && sl_resolve_thread(c, thread_ts, &parent_ts)
	    != 0)
		return (sc_error("thread_not_found"));
	m = sl_store(c, u->id, text, subtype == NULL && bot_id == NULL ?
	    sl_rich_text(text) : NULL, parent_ts, subtype);
	if (bot_id != NULL)
		cJSON_AddStringToObject(m, "bot_id", bot_id);
	console_message(c->id, m, 0);

	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddStringToObject(res, "channel", c->id);
	cJSON_AddStringToObject(res, "ts", sb_json_str(m, "ts"));
	eids = cJSON_AddArrayToObject(res, "event_ids");
	envs = cJSON_AddArrayToObject(res, "envelope_ids");
	sl_emit_as(c, sl_msg_event(c, m), team, app, eids, envs);
	/* Mentions in channels (not DMs) also come as app_mention. */
	if (c->im_user == NULL && strstr(text, "<@" SLACK_BOT_USER ">") !=
	    NULL) {
		ev = cJSON_Duplicate(m, 1);
		sl_set_str(ev, "type", "app_mention");
		sl_set_str(ev, "channel", c->id);
		sl_set_str(ev, "event_ts", sb_json_str(m, "ts"));
		sl_emit_as(c, ev, team, app, eids, envs);
	}
	return (res);
}

static cJSON *
sc_ids_result(cJSON **eids, cJSON **envs)
{
	cJSON	*res;

	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	*eids = cJSON_AddArrayToObject(res, "event_ids");
	*envs = cJSON_AddArrayToObject(res, "envelope_ids");
	return (res);
}

static cJSON *
sc_edit(cJSON *body)
{
	struct sl_chan	*c;
	const char	*text, *user;
	cJSON		*m, *res, *eids, *envs;

	if ((c = sc_chan(body, "channel")) == NULL)
		return (sc_error("channel_not_found"));
	if ((m = sl_msg_find(c, sb_json_str(body, "ts"))) == NULL)
		return (sc_error("message_not_found"));
	if ((text = sb_json_str(body, "text")) == NULL)
		return (sc_error("no_text"));
	user = sb_json_str(body, "user");
	if (user == NULL)
		user = sb_json_str(m, "user");
	res = sc_ids_result(&eids, &envs);
	sl_edit(c, m, text, NULL, user, eids, envs);
	return (res);
}

static cJSON *
sc_delete(cJSON *body)
{
	struct sl_chan	*c;
	cJSON		*m, *res, *eids, *envs;

	if ((c = sc_chan(body, "channel")) == NULL)
		return (sc_error("channel_not_found"));
	if ((m = sl_msg_find(c, sb_json_str(body, "ts"))) == NULL)
		return (sc_error("message_not_found"));
	res = sc_ids_result(&eids, &envs);
	sl_delete(c, m, eids, envs);
	return (res);
}

static cJSON *
sc_reaction(cJSON *body)
{
	struct sl_chan	*c;
	struct sl_user	*u;
	const char	*name;
	cJSON		*m, *res, *eids, *envs, *err;

	if ((u = sl_user_find(sb_json_str(body, "user"))) == NULL)
		return (sc_error("user_not_found"));
	if ((c = sc_chan(body, "channel")) == NULL)
		return (sc_error("channel_not_found"));
	if ((m = sl_msg_find(c, sb_json_str(body, "ts"))) == NULL)
		return (sc_error("message_not_found"));
	name = sb_json_str(body, "reaction");
	if (name == NULL || *name == '\0' || *name == ':')
		return (sc_error("invalid_name"));
	res = sc_ids_result(&eids, &envs);
	if ((err = sl_react(c, m, u->id, name, sb_json_bool(body, "removed"),
	    eids, envs)) != NULL) {
		cJSON_Delete(res);
		return (sc_slack_error(err));
	}
	return (res);
}

/* A trigger_id for user, valid once for 3 seconds. */
const char *
sl_trigger_new(const char *user)
{
	struct sl_trigger	*t;
	char			 hex[33];

	sl_triggers = sb_realloc(sl_triggers, sl_ntriggers + 1,
	    sizeof(*sl_triggers));
	t = &sl_triggers[sl_ntriggers++];
	memset(t, 0, sizeof(*t));
	sb_random_hex(hex, 16);
	snprintf(t->id, sizeof(t->id), "%llu.%u.%s",
	    (unsigned long long)(sb_now() * 1000), 1700000000u +
	    (unsigned)sl_ntriggers, hex);
	snprintf(t->user, sizeof(t->user), "%s", user);
	t->issued_ms = sb_mono_ms();
	return (t->id);
}

/* Exchange a trigger_id: NULL and *user, or the Slack error. */
const char *
sl_trigger_use(const char *id, const char **user)
{
	const char	*p;
	size_t		 i;
	int		 dots = 0;

	for (p = id; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (!isxdigit((unsigned char)*p))
			return ("invalid_trigger_id");
	}
	if (dots != 2)
		return ("invalid_trigger_id");
	for (i = 0; i < sl_ntriggers; i++) {
		if (strcmp(sl_triggers[i].id, id) != 0)
			continue;
		if (sl_triggers[i].used)
			return ("exchanged_trigger_id");
		if (sb_mono_ms() - sl_triggers[i].issued_ms >
		    SL_TRIGGER_TTL_MS)
			return ("expired_trigger_id");
		sl_triggers[i].used = 1;
		*user = sl_triggers[i].user;
		return (NULL);
	}
	return ("invalid_trigger_id");
}

static char *
sc_hook_new(const char *channel, const char *ts, const char *user)
{
	struct sl_hook	*h;
	char		 hex[25], *url;

	sb_random_hex(hex, 12);
	h = sb_calloc(1, sizeof(*h));
	sb_asprintf(&h->path, "/actions/%s/%llu/%s", SLACK_TEAM_ID,
	    (unsigned long long)(sb_now() * 1000), hex);
	h->channel = sb_strdup(channel);
	h->message_ts = ts != NULL ? sb_strdup(ts) : NULL;
	h->user = sb_strdup(user);
	h->issued_ms = sb_mono_ms();
	sl_hooks = sb_realloc(sl_hooks, sl_nhooks + 1, sizeof(*sl_hooks));
	sl_hooks[sl_nhooks++] = h;
	sb_asprintf(&url, "https://hooks.slack.com%s", h->path);
	return (url);
}

/* The interactive element with action_id in blocks; *block_id set. */
static cJSON *
sc_find_action(cJSON *blocks, const char *action_id, const char **block_id)
{
	cJSON		*b, *e, *els;
	const char	*aid;

	cJSON_ArrayForEach(b, blocks) {
		*block_id = sb_json_str(b, "block_id");
		els = cJSON_GetObjectItemCaseSensitive(b, "elements");
		if (strcmp(sb_json_str(b, "type") != NULL ?
		    sb_json_str(b, "type") : "", "actions") == 0) {
			cJSON_ArrayForEach(e, els) {
				aid = sb_json_str(e, "action_id");
				if (aid != NULL && strcmp(aid, action_id) == 0)
					return (e);
			}
		}
		if ((e = cJSON_GetObjectItemCaseSensitive(b, "accessory")) !=
		    NULL && (aid = sb_json_str(e, "action_id")) != NULL &&
		    strcmp(aid, action_id) == 0)
			return (e);
	}
	return (NULL);
}

/* The option whose value is value in an element's options. */
static const cJSON *
sc_option(const cJSON *e, const char *value)
{
	const cJSON	*o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(e, "options")) {
		if (value != NULL && sb_json_str(o, "value") != NULL &&
		    strcmp(sb_json_str(o, "value"), value) == 0)
			return (o);
	}
	return (NULL);
}

/* actions[0] of a block_actions payload for element e. */
static cJSON *
sc_action(const cJSON *e, const char *block_id, const char *value)
{
	const char	*type = sb_json_str(e, "type");
	const cJSON	*opt;
	cJSON		*a;
	char		 ts[32];

	sl_new_ts(ts);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "action_id", sb_json_str(e, "action_id"));
	cJSON_AddStringToObject(a, "block_id", block_id != NULL ? block_id :
	    "");
	if (cJSON_GetObjectItemCaseSensitive(e, "text") != NULL)
		cJSON_AddItemToObject(a, "text", cJSON_Duplicate(
		    cJSON_GetObjectItemCaseSensitive(e, "text"), 1));
	cJSON_AddStringToObject(a, "type", type);
	if (strcmp(type, "button") == 0) {
		if (sb_json_str(e, "value") != NULL)
			cJSON_AddStringToObject(a, "value",
			    sb_json_str(e, "value"));
		if (sb_json_str(e, "style") != NULL)
			cJSON_AddStringToObject(a, "style",
			    sb_json_str(e, "style"));
	} else if ((opt = sc_option(e, value)) != NULL)
		cJSON_AddItemToObject(a, "selected_option",
		    cJSON_Duplicate(opt, 1));
	else if (strstr(type, "users_select") != NULL && value != NULL)
		cJSON_AddStringToObject(a, "selected_user", value);
	else if (strstr(type, "conversations_select") != NULL &&
	    value != NULL)
		cJSON_AddStringToObject(a, "selected_conversation", value);
	else if (strcmp(type, "datepicker") == 0 && value != NULL)
		cJSON_AddStringToObject(a, "selected_date", value);
	else if (value != NULL)
		cJSON_AddStringToObject(a, "value", value);
	cJSON_AddStringToObject(a, "action_ts", ts);
	return (a);
}

/*
 * The optional "team_id" (T...) and "api_app_id" (A...) overrides of a
 * message, click or submit; NULL when absent. An error text if bad.
 */
static const char *
sc_overrides(cJSON *body, const char **team, const char **app)
{
	*team = sb_json_str(body, "team_id");
	*app = sb_json_str(body, "api_app_id");
	if (*team != NULL && !sc_valid_id(*team, "TE"))
		return ("team_id: T or E and uppercase letters or digits");
	if (*app != NULL && !sc_valid_id(*app, "A"))
		return ("api_app_id: A and uppercase letters or digits");
	return (NULL);
}

/* The user of an interactive payload; team overrides the user's own. */
static cJSON *
sc_user_ref(const struct sl_user *u, const char *team)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", u->id);
	cJSON_AddStringToObject(o, "username", u->name);
	cJSON_AddStringToObject(o, "name", u->name);
	cJSON_AddStringToObject(o, "team_id", team != NULL ? team :
	    sl_user_team(u));
	return (o);
}

static cJSON *
sc_team_ref(const char *team)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", team != NULL ? team : SLACK_TEAM_ID);
	cJSON_AddStringToObject(o, "domain", SL_TEAM_DOMAIN);
	return (o);
}

/* Someone clicks a button (or picks an option) in a message or modal. */
static cJSON *
sc_click(cJSON *body)
{
	struct sl_user	*u;
	struct sl_chan	*c = NULL;
	struct sl_view	*v = NULL;
	const char	*action_id, *block_id = NULL, *trigger, *env, *ts;
	const char	*team, *app, *why;
	char		*url = NULL;
	cJSON		*m = NULL, *e, *p, *o, *acts, *res;

	if ((why = sc_overrides(body, &team, &app)) != NULL)
		return (sc_error(why));
	if ((u = sl_user_find(sb_json_str(body, "user"))) == NULL)
		return (sc_error("user_not_found"));
	if ((action_id = sb_json_str(body, "action_id")) == NULL)
		return (sc_error("action_id required"));
	if (sb_json_str(body, "view_id") != NULL) {
		if ((v = sl_view_find(sb_json_str(body, "view_id"))) == NULL ||
		    v->closed)
			return (sc_error("view_not_found"));
		e = sc_find_action(cJSON_GetObjectItemCaseSensitive(v->view,
		    "blocks"), action_id, &block_id);
	} else {
		if ((c = sc_chan(body, "channel")) == NULL)
			return (sc_error("channel_not_found"));
		ts = sb_json_str(body, "message_ts");
		if ((m = sl_msg_find(c, ts)) == NULL)
			return (sc_error("message_not_found"));
		e = sc_find_action(cJSON_GetObjectItemCaseSensitive(m,
		    "blocks"), action_id, &block_id);
	}
	if (e == NULL)
		return (sc_error("no_such_action"));

	trigger = sl_trigger_new(u->id);
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "type", "block_actions");
	cJSON_AddItemToObject(p, "user", sc_user_ref(u, team));
	cJSON_AddStringToObject(p, "api_app_id", app != NULL ? app :
	    SLACK_APP_ID);
	cJSON_AddStringToObject(p, "token", "sandbox-verification-token");
	o = cJSON_AddObjectToObject(p, "container");
	if (v != NULL) {
		cJSON_AddStringToObject(o, "type", "view");
		cJSON_AddStringToObject(o, "view_id", v->id);
	} else {
		cJSON_AddStringToObject(o, "type", "message");
		cJSON_AddStringToObject(o, "message_ts",
		    sb_json_str(m, "ts"));
		cJSON_AddStringToObject(o, "channel_id", c->id);
		cJSON_AddFalseToObject(o, "is_ephemeral");
	}
	cJSON_AddStringToObject(p, "trigger_id", trigger);
	cJSON_AddItemToObject(p, "team", sc_team_ref(team));
	cJSON_AddNullToObject(p, "enterprise");
	cJSON_AddFalseToObject(p, "is_enterprise_install");
	if (v != NULL)
		cJSON_AddItemToObject(p, "view", cJSON_Duplicate(v->view, 1));
	else {
		o = cJSON_AddObjectToObject(p, "channel");
		cJSON_AddStringToObject(o, "id", c->id);
		cJSON_AddStringToObject(o, "name", c->name != NULL ? c->name :
		    "directmessage");
		cJSON_AddItemToObject(p, "message", cJSON_Duplicate(m, 1));
		o = cJSON_AddObjectToObject(p, "state");
		cJSON_AddObjectToObject(o, "values");
		url = sc_hook_new(c->id, sb_json_str(m, "ts"), u->id);
		cJSON_AddStringToObject(p, "response_url", url);
	}
	acts = cJSON_AddArrayToObject(p, "actions");
	cJSON_AddItemToArray(acts, sc_action(e, block_id,
	    sb_json_str(body, "value")));

	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddStringToObject(res, "trigger_id", trigger);
	cJSON_AddItemToObject(res, "action",
	    cJSON_Duplicate(cJSON_GetArrayItem(acts, 0), 1));
	if (url != NULL)
		cJSON_AddStringToObject(res, "response_url", url);
	free(url);
	if ((env = socket_deliver("interactive", p)) != NULL)
		cJSON_AddStringToObject(res, "envelope_id", env);
	else
		cJSON_AddNullToObject(res, "envelope_id");
	return (res);
}

/* The input element behind block_id/action_id in a view, or NULL. */
static const cJSON *
sc_view_input(const cJSON *view, const char *block_id, const char *action_id)
{
	const cJSON	*b, *e;

	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(view,
	    "blocks")) {
		if (sb_json_str(b, "type") == NULL ||
		    strcmp(sb_json_str(b, "type"), "input") != 0 ||
		    sb_json_str(b, "block_id") == NULL ||
		    strcmp(sb_json_str(b, "block_id"), block_id) != 0)
			continue;
		e = cJSON_GetObjectItemCaseSensitive(b, "element");
		if (sb_json_str(e, "action_id") != NULL &&
		    strcmp(sb_json_str(e, "action_id"), action_id) == 0)
			return (e);
	}
	return (NULL);
}

/* An input value that counts as not filled in. */
static int
sc_input_empty(const cJSON *act)
{
	const cJSON	*v;

	if (act == NULL)
		return (1);
	if ((v = cJSON_GetObjectItemCaseSensitive(act, "value")) != NULL)
		return (!cJSON_IsString(v) || *v->valuestring == '\0');
	if ((v = cJSON_GetObjectItemCaseSensitive(act, "selected_options")) !=
	    NULL)
		return (cJSON_GetArraySize(v) == 0);
	for (v = act->child; v != NULL; v = v->next) {
		if (strncmp(v->string, "selected_", 9) == 0 &&
		    !cJSON_IsNull(v))
			return (0);
	}
	return (1);
}

/* Someone submits a modal opened with views.open. */
static cJSON *
sc_submit(cJSON *body)
{
	struct sl_user	*u;
	struct sl_view	*v;
	const cJSON	*values, *blk, *act, *e, *b;
	cJSON		*p, *view, *state, *vals, *bo, *ao, *res;
	const char	*env, *bid, *aid, *etype, *team, *app, *why;

	if ((why = sc_overrides(body, &team, &app)) != NULL)
		return (sc_error(why));
	if ((u = sl_user_find(sb_json_str(body, "user"))) == NULL)
		return (sc_error("user_not_found"));
	if ((v = sl_view_find(sb_json_str(body, "view_id"))) == NULL ||
	    v->closed)
		return (sc_error("view_not_found"));
	values = cJSON_GetObjectItemCaseSensitive(body, "values");
	if (values != NULL && !cJSON_IsObject(values))
		return (sc_error("values must be an object"));

	/* Every value must name an input of the view. */
	cJSON_ArrayForEach(blk, values) {
		cJSON_ArrayForEach(act, blk) {
			if (!cJSON_IsObject(act) || sc_view_input(v->view,
			    blk->string, act->string) == NULL)
				return (sc_error("no_such_input"));
		}
	}
	view = cJSON_Duplicate(v->view, 1);
	state = cJSON_CreateObject();
	vals = cJSON_AddObjectToObject(state, "values");
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(v->view,
	    "blocks")) {
		if (strcmp(sb_json_str(b, "type"), "input") != 0)
			continue;
		e = cJSON_GetObjectItemCaseSensitive(b, "element");
		bid = sb_json_str(b, "block_id");
		aid = sb_json_str(e, "action_id");
		act = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(values, bid), aid);
		/* Slack's client refuses to submit a required input empty. */
		if (!sb_json_bool(b, "optional") && sc_input_empty(act)) {
			cJSON_Delete(view);
			cJSON_Delete(state);
			return (sc_error("required input left empty"));
		}
		etype = sb_json_str(e, "type");
		bo = cJSON_AddObjectToObject(vals, bid);
		if (act != NULL)
			ao = cJSON_Duplicate(act, 1);
		else {
			/* Optional and left empty: Slack sends nulls. */
			ao = cJSON_CreateObject();
			cJSON_AddNullToObject(ao, strstr(etype, "select") !=
			    NULL || strcmp(etype, "radio_buttons") == 0 ?
			    "selected_option" : "value");
		}
		if (cJSON_GetObjectItemCaseSensitive(ao, "type") == NULL)
			cJSON_AddStringToObject(ao, "type", etype);
		cJSON_AddItemToObject(bo, aid, ao);
	}
	sl_set_item(view, "state", state);

	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "type", "view_submission");
	cJSON_AddItemToObject(p, "team", sc_team_ref(team));
	cJSON_AddItemToObject(p, "user", sc_user_ref(u, team));
	cJSON_AddStringToObject(p, "api_app_id", app != NULL ? app :
	    SLACK_APP_ID);
	cJSON_AddStringToObject(p, "token", "sandbox-verification-token");
	cJSON_AddStringToObject(p, "trigger_id", sl_trigger_new(u->id));
	cJSON_AddItemToObject(p, "view", view);
	cJSON_AddArrayToObject(p, "response_urls");
	cJSON_AddFalseToObject(p, "is_enterprise_install");
	cJSON_AddNullToObject(p, "enterprise");
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddStringToObject(res, "view_id", v->id);
	if ((env = socket_deliver("interactive", p)) != NULL)
		cJSON_AddStringToObject(res, "envelope_id", env);
	else
		cJSON_AddNullToObject(res, "envelope_id");
	return (res);
}

/*
 * The app acked an interactive envelope: apply a view_submission's
 * response_action (none or "clear" closes, "errors" keeps the modal
 * open, "update"/"push" replace it).
 */
void
slack_interactive_acked(const cJSON *payload, const cJSON *ack)
{
	struct sl_view	*v;
	const char	*type, *action;
	cJSON		*view, *err;
	const cJSON	*nv;
	size_t		 i;

	type = sb_json_str(payload, "type");
	if (type == NULL || strcmp(type, "view_submission") != 0)
		return;
	v = sl_view_find(sb_json_str(cJSON_GetObjectItemCaseSensitive(
	    payload, "view"), "id"));
	if (v == NULL)
		return;
	action = sb_json_str(ack, "response_action");
	cJSON_Delete(v->errors);
	v->errors = NULL;
	if (action == NULL || strcmp(action, "clear") == 0) {
		for (i = 0; i < sl_nviews; i++) {
			if (sl_views[i] == v || (action != NULL &&
			    strcmp(sl_views[i]->user, v->user) == 0))
				sl_views[i]->closed = 1;
		}
		console_view(v->user, NULL, "closed");
	} else if (strcmp(action, "errors") == 0) {
		v->errors = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
		    ack, "errors"), 1);
		console_view_errors(v->id, v->errors);
	} else if (strcmp(action, "update") == 0 ||
	    strcmp(action, "push") == 0) {
		nv = cJSON_GetObjectItemCaseSensitive(ack, "view");
		view = cJSON_IsObject(nv) ? cJSON_Duplicate(nv, 1) : NULL;
		if (view == NULL || (err = sl_check_view(view)) != NULL) {
			console_note("the app answered response_action %s "
			    "with an invalid view", action);
			cJSON_Delete(view);
			if (view != NULL)
				cJSON_Delete(err);
			return;
		}
		sl_set_str(view, "id", v->id);
		cJSON_Delete(v->view);
		v->view = view;
		console_view(v->user, v->view, action);
	}
}

/* POST to a response_url handed out with a click. */
void
sl_hook_handle(struct sb_req *r)
{
	struct sl_hook	*h = NULL;
	struct sl_chan	*c;
	const char	*text, *rtype, *thread_ts;
	cJSON		*body, *m, *blocks = NULL, *e;
	char		*why, ts[32];
	size_t		 i;

	for (i = 0; i < sl_nhooks; i++) {
		if (strcmp(sl_hooks[i]->path, r->path) == 0)
			h = sl_hooks[i];
	}
	if (strcmp(r->method, "POST") != 0) {
		sb_reply_text(r, 405, "text/plain", "method_not_allowed", NULL);
		return;
	}
	if (h == NULL) {
		sb_reply_text(r, 404, "text/plain", "no_active_hooks", NULL);
		return;
	}
	if (sb_mono_ms() - h->issued_ms > SL_HOOK_TTL_MS) {
		sb_reply_text(r, 404, "text/plain", "expired_url", NULL);
		return;
	}
	if (h->uses >= SL_HOOK_USES) {
		sb_reply_text(r, 404, "text/plain", "used_url", NULL);
		return;
	}
	if ((body = r->json) == NULL || !cJSON_IsObject(body)) {
		sb_reply_text(r, 400, "text/plain", "invalid_payload", NULL);
		return;
	}
	if (sl_arg_json(body, "blocks", &blocks) < 0 || (blocks != NULL &&
	    sl_check_blocks(blocks, SL_SURFACE_MESSAGE, "/blocks", &why) !=
	    0)) {
		if (blocks != NULL)
			free(why);
		cJSON_Delete(blocks);
		sb_reply_text(r, 400, "text/plain", "invalid_blocks", NULL);
		return;
	}
	text = sb_json_str(body, "text");
	if ((text == NULL || *text == '\0') && blocks == NULL &&
	    !sb_json_bool(body, "delete_original")) {
		sb_reply_text(r, 400, "text/plain", "no_text", NULL);
		return;
	}
	h->uses++;
	c = sl_chan_find(h->channel);
	m = c != NULL ? sl_msg_find(c, h->message_ts) : NULL;
	rtype = sb_json_str(body, "response_type");
	if (sb_json_bool(body, "delete_original")) {
		if (m != NULL)
			sl_delete(c, m, NULL, NULL);
		cJSON_Delete(blocks);
	} else if (sb_json_bool(body, "replace_original") && m != NULL) {
		sl_edit(c, m, text != NULL ? text : "", blocks,
		    SLACK_BOT_USER, NULL, NULL);
		console_message(c->id, m, 1);
	} else if (c != NULL && rtype != NULL &&
	    strcmp(rtype, "in_channel") == 0) {
		thread_ts = sb_json_str(body, "thread_ts");
		if (thread_ts != NULL && sl_msg_find(c, thread_ts) == NULL)
			thread_ts = NULL;
		m = sl_store(c, SLACK_BOT_USER, text, blocks, thread_ts, NULL);
		console_message(c->id, m, 0);
		sl_emit(c, sl_msg_event(c, m), NULL, NULL);
	} else {
		sl_new_ts(ts);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "channel", h->channel);
		cJSON_AddStringToObject(e, "user", h->user);
		cJSON_AddStringToObject(e, "ts", ts);
		cJSON_AddStringToObject(e, "text", text != NULL ? text : "");
		if (blocks != NULL)
			cJSON_AddItemToObject(e, "blocks", blocks);
		cJSON_AddItemToArray(sl_ephemeral, e);
		console_ephemeral(h->channel, h->user, e);
	}
	e = cJSON_CreateObject();
	cJSON_AddTrueToObject(e, "ok");
	sb_reply(r, 200, e, NULL);
}

static int
sc_valid_id(const char *id, const char *prefixes)
{
	const char	*p;

	if (id == NULL || strchr(prefixes, *id) == NULL || strlen(id) < 3 ||
	    strlen(id) > 20)
		return (0);
	for (p = id + 1; *p != '\0'; p++) {
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
			return (0);
	}
	return (1);
}

static cJSON *
sc_add_user(cJSON *body)
{
	struct sl_user	*u;
	const char	*id, *name, *p, *team;
	cJSON		*res;

	id = sb_json_str(body, "id");
	name = sb_json_str(body, "name");
	team = sb_json_str(body, "team_id");
	if (!sc_valid_id(id, "UW"))
		return (sc_error("id: U or W and uppercase letters or digits"));
	if (team != NULL && !sc_valid_id(team, "T"))
		return (sc_error("team_id: T and uppercase letters or digits"));
	if (name == NULL || *name == '\0' || strlen(name) > 80)
		return (sc_error("name required"));
	for (p = name; *p != '\0'; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)
		    && strchr("._-", *p) == NULL)
			return (sc_error("name: lowercase letters, digits, "
			    ". _ -"));
	}
	if (strcmp(id, SLACK_BOT_USER) == 0)
		return (sc_error("the bot cannot be replaced"));
	u = sl_user_add(id, name, sb_json_str(body, "real_name"),
	    sb_json_str(body, "email"), sb_json_str(body, "tz"),
	    sb_json_bool(body, "is_bot"));
	if (team != NULL && strcmp(team, SLACK_TEAM_ID) != 0)
		u->team_id = sb_strdup(team);
	/* Slack marks a single-channel guest as both kinds of guest. */
	u->is_ultra_restricted = sb_json_bool(body, "is_ultra_restricted");
	u->is_restricted = u->is_ultra_restricted ||
	    sb_json_bool(body, "is_restricted");
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddItemToObject(res, "user", sl_user_json(u));
	return (res);
}

static cJSON *
sc_add_channel(cJSON *body)
{
	struct sl_chan	*c;
	const char	*id, *name, *p;
	const cJSON	*members, *mem;
	cJSON		*res;

	id = sb_json_str(body, "id");
	name = sb_json_str(body, "name");
	if (!sc_valid_id(id, "CG"))
		return (sc_error("id: C or G and uppercase letters or digits"));
	if (sl_chan_find(id) != NULL)
		return (sc_error("channel id exists"));
	if (name == NULL || *name == '\0' || strlen(name) > 80)
		return (sc_error("name required"));
	for (p = name; *p != '\0'; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)
		    && strchr("_-", *p) == NULL)
			return (sc_error("name_invalid"));
	}
	if (sl_chan_by_name(name) != NULL)
		return (sc_error("name_taken"));
	members = cJSON_GetObjectItemCaseSensitive(body, "members");
	if (members != NULL && !cJSON_IsArray(members))
		return (sc_error("members must be an array"));
	cJSON_ArrayForEach(mem, members) {
		if (!cJSON_IsString(mem) || sl_user_find(mem->valuestring) ==
		    NULL)
			return (sc_error("user_not_found"));
	}
	c = sl_chan_add(id, name, sb_json_bool(body, "is_private"), NULL);
	if (sb_json_int(body, "created", 0) > 0)
		c->created = sb_json_int(body, "created", 0);
	cJSON_ArrayForEach(mem, members)
		sl_add_member(c, mem->valuestring);
	if (sb_json_str(body, "topic") != NULL) {
		free(c->topic);
		c->topic = sb_strdup(sb_json_str(body, "topic"));
	}
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddItemToObject(res, "channel", sl_chan_json(c, 1));
	return (res);
}

/* Create or replace a user group. */
static cJSON *
sc_add_group(cJSON *body)
{
	struct sl_group	*g;
	const char	*id, *handle, *p;
	const cJSON	*users, *mem;
	cJSON		*res;

	id = sb_json_str(body, "id");
	handle = sb_json_str(body, "handle");
	if (!sc_valid_id(id, "S"))
		return (sc_error("id: S and uppercase letters or digits"));
	if (handle == NULL || *handle == '\0' || strlen(handle) > 80)
		return (sc_error("handle required"));
	for (p = handle; *p != '\0'; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)
		    && strchr("._-", *p) == NULL)
			return (sc_error("handle: lowercase letters, digits, "
			    ". _ -"));
	}
	users = cJSON_GetObjectItemCaseSensitive(body, "users");
	if (users != NULL && !cJSON_IsArray(users))
		return (sc_error("users must be an array"));
	cJSON_ArrayForEach(mem, users) {
		if (!cJSON_IsString(mem) || sl_user_find(mem->valuestring) ==
		    NULL)
			return (sc_error("user_not_found"));
	}
	g = sl_group_set(id, handle, sb_json_str(body, "name"));
	cJSON_ArrayForEach(mem, users) {
		g->users = sb_realloc(g->users, g->nusers + 1,
		    sizeof(*g->users));
		g->users[g->nusers++] = sb_strdup(mem->valuestring);
	}
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	cJSON_AddItemToObject(res, "usergroup", sl_group_json(g, 1));
	return (res);
}

/* channel_archive, channel_unarchive, channel_delete: what admins do. */
static cJSON *
sc_channel_state(const char *what, cJSON *body)
{
	struct sl_chan	*c;
	const char	*user;
	cJSON		*err, *res;

	if ((c = sc_chan(body, "channel")) == NULL)
		return (sc_error("channel_not_found"));
	user = sb_json_str(body, "user");
	if (user == NULL)
		user = SL_ADMIN_USER;
	else if (sl_user_find(user) == NULL)
		return (sc_error("user_not_found"));
	if (strcmp(what, "archive") == 0)
		err = sl_archive(c, user, 0);
	else if (strcmp(what, "unarchive") == 0)
		err = sl_unarchive(c, user);
	else if (strcmp(what, "join") == 0) {
		if (c->is_archived)
			return (sc_error("is_archived"));
		if (c->im_user != NULL || c->is_private)
			return (sc_error("method_not_supported_for_channel_"
			    "type"));
		if (!sl_is_member(c, user)) {
			sl_add_member(c, user);
			sl_system_message(c, user, "channel_join",
			    "has joined the channel", NULL, NULL);
		}
		err = NULL;
	} else {
		if (c->im_user != NULL || c->is_general)
			return (sc_error("cant_delete_channel"));
		sl_chan_delete(c);
		err = NULL;
	}
	if (err != NULL)
		return (sc_slack_error(err));
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	return (res);
}

static cJSON *
sc_members(const struct sl_chan *c)
{
	cJSON	*arr = cJSON_CreateArray();
	size_t	 i;

	for (i = 0; i < c->nmembers; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(c->members[i]));
	return (arr);
}

/* The read-only ops; NULL if op is none of them. */
static cJSON *
sc_list(const char *op, cJSON *body)
{
	struct sl_chan	*c;
	cJSON		*res, *arr, *o;
	size_t		 i;

	if (strcmp(op, "users") == 0) {
		res = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(res, "users");
		for (i = 0; i < sl_nusers; i++)
			cJSON_AddItemToArray(arr, sl_user_json(sl_users[i]));
		return (res);
	}
	if (strcmp(op, "usergroups") == 0) {
		res = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(res, "usergroups");
		for (i = 0; i < sl_ngroups; i++)
			cJSON_AddItemToArray(arr, sl_group_json(sl_groups[i],
			    1));
		return (res);
	}
	if (strcmp(op, "channels") == 0) {
		res = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(res, "channels");
		for (i = 0; i < sl_nchans; i++) {
			o = sl_chan_json(sl_chans[i], 1);
			cJSON_AddItemToObject(o, "members",
			    sc_members(sl_chans[i]));
			cJSON_AddItemToArray(arr, o);
		}
		return (res);
	}
	if (strcmp(op, "messages") == 0 || strcmp(op, "bookmarks") == 0) {
		if ((c = sc_chan(body, "channel")) == NULL)
			return (sc_error("channel_not_found"));
		res = cJSON_CreateObject();
		cJSON_AddStringToObject(res, "channel", c->id);
		cJSON_AddItemToObject(res, op, cJSON_Duplicate(op[0] == 'm' ?
		    c->messages : c->bookmarks, 1));
		if (op[0] == 'm')
			cJSON_AddItemToObject(res, "members", sc_members(c));
		return (res);
	}
	if (strcmp(op, "ephemeral") == 0) {
		res = cJSON_CreateObject();
		cJSON_AddItemToObject(res, "ephemeral",
		    cJSON_Duplicate(sl_ephemeral, 1));
		return (res);
	}
	if (strcmp(op, "views") == 0) {
		res = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(res, "views");
		for (i = 0; i < sl_nviews; i++) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "id", sl_views[i]->id);
			cJSON_AddStringToObject(o, "user", sl_views[i]->user);
			cJSON_AddBoolToObject(o, "closed", sl_views[i]->closed);
			cJSON_AddItemToObject(o, "view",
			    cJSON_Duplicate(sl_views[i]->view, 1));
			if (sl_views[i]->errors != NULL)
				cJSON_AddItemToObject(o, "errors",
				    cJSON_Duplicate(sl_views[i]->errors, 1));
			cJSON_AddItemToArray(arr, o);
		}
		return (res);
	}
	return (NULL);
}

static cJSON *
sc_reset(void)
{
	cJSON	*res;

	sl_clear();
	sl_seed();
	socket_reset();
	res = sl_dispatch_control("reset", NULL);
	cJSON_Delete(res);
	sl_limits_seed();
	sb_requests_clear("slack");
	res = cJSON_CreateObject();
	cJSON_AddTrueToObject(res, "ok");
	return (res);
}
