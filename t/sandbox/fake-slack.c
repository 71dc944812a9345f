/*
 * fake-slack.c: the Slack workspace model and the request dispatcher.
 *
 * A stateful model (users, channels, members, messages with ts, threads,
 * reactions, views, bookmarks) behind /api/<method> (methods in
 * slack-api.c, Block Kit checks in slack-blocks.c, what people do in
 * slack-control.c; slack.h holds what they share). Strict the way Slack
 * is (slack-methods/<method>.json, api-notes.md §1-4):
 *
 * - Auth: "Authorization: Bearer <token>" only. The bot token for every
 *   method but apps.connections.open, which wants the app token; the
 *   wrong kind is not_allowed_token_type, an unknown one invalid_auth,
 *   none not_authed (apps.connections.open: missing_args, which is also
 *   what a token sent as a POST parameter gets). Tokens in the query or
 *   form are never looked at. The user token (--slack-user-token,
 *   default xoxp-sandbox-user-token) is the workspace admin's (alice,
 *   U0ALICE) and acts as her for the few methods slack-manifest.c lists
 *   (auth.test, conversations.info, .members, .invite, .unarchive),
 *   with the manifest's user scopes; the others refuse it with
 *   not_allowed_token_type.
 * - Archiving: a public channel loses its members (Slack's help: on
 *   unarchiving, "if it's public, the former members will not be
 *   restored"), a private one keeps them; unarchiving adds the one who
 *   does it. So the bot, removed, can neither unarchive nor read it:
 *   conversations.unarchive with the bot token is not_in_channel (what
 *   Slack answers; its docs say bot tokens cannot unarchive), or
 *   user_is_bot where it is still a member (private channels).
 *   conversations.members of an archived channel is
 *   fetch_members_failed (reports since 2019; Slack documents no other
 *   error for it). Archiving and unarchiving post the channel_archive
 *   and channel_unarchive messages; the channel_archive (group_archive)
 *   event itself goes out only to a manifest that subscribes to it.
 * - Bodies: form or query everywhere; application/json only for the
 *   methods that take it (writes). A JSON body to a read method
 *   (conversations.history/replies/info, users.*, reactions.get) is
 *   invalid_arguments: Slack ignores such bodies, so the call would run
 *   without its arguments. Other content types: invalid_post_type; a
 *   body without one: missing_post_type; a non-UTF-8 charset:
 *   invalid_charset; bad JSON: invalid_json / json_not_object.
 * - Scopes: the bot scopes of --manifest (slack-manifest.c); a method
 *   without its scope is missing_scope with needed/provided.
 * - A channel the bot is not in: not_in_channel (chat:write.public is
 *   not granted unless the manifest or --public-post grants it); private
 *   channels the bot is not in do not exist for it (channel_not_found).
 * - The Messages tab (features.app_home) closed: DMs to or from the bot
 *   are messages_tab_disabled.
 * - Block Kit is validated (types, lengths, ids); bad JSON or a
 *   non-array is invalid_blocks_format, bad content invalid_blocks with
 *   the reasons in "errors" and response_metadata.messages.
 * - thread_ts that names no message: thread_not_found (Slack's own
 *   behaviour here is undocumented; failing is the strict choice).
 * - Per-method sliding-window rate limits: POST /control/slack/ratelimit
 *   {"method","per_minute"} (0 lifts); beyond them 429, Retry-After and
 *   {"ok":false,"error":"ratelimited"}. conversations.history and
 *   .replies start with Slack's limits for non-Marketplace apps since
 *   2025 (api-notes.md §3): 1 request per minute each and at most 15
 *   messages a page (a larger limit is capped). POST
 *   /control/slack/history_limits {"per_minute","max_limit"} changes
 *   both for tests that read long histories.
 *
 * - Message metadata (chat.postMessage "metadata"): a JSON object, in
 *   a JSON body or JSON-encoded in a string, with a non-empty string
 *   event_type and an object event_payload. Not JSON or not an object
 *   is invalid_metadata_format; a missing or mistyped field,
 *   invalid_metadata_schema. It is kept with the message and returned
 *   by conversations.history and .replies only with
 *   include_all_metadata=true (the spec's "return all metadata"; the
 *   strict reading: without it, none at all), never in the Socket Mode
 *   echo (the app subscribes to no metadata events).
 * - conversations.open: users=U... gives the DM with that user, the same
 *   D id every time (im:write); channel=D... resumes one. There are no
 *   multi-person DMs: two users or more are
 *   method_not_supported_for_channel_type.
 *
 * Bot posts, edits and reactions are echoed to the app over Socket Mode
 * (with bot_id) when the bot is in the channel, as Slack does: the
 * daemon must ignore its own messages.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/time.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "sandbox.h"
#include "slack.h"

struct sl_limit {
	char		*method;
	int		 per_minute;
	uint64_t	*times;		/* ring of the last per_minute calls */
	int		 n, head;
};

struct sl_user		**sl_users;
size_t			  sl_nusers;
struct sl_chan		**sl_chans;
size_t			  sl_nchans;
struct sl_trigger	 *sl_triggers;
size_t			  sl_ntriggers;
struct sl_view		**sl_views;
size_t			  sl_nviews;
struct sl_hook		**sl_hooks;
size_t			  sl_nhooks;
cJSON			 *sl_ephemeral;		/* array */
struct sl_group		**sl_groups;
size_t			  sl_ngroups;
const char		 *sl_caller = SLACK_BOT_USER;
static struct sl_limit	**sl_limits;
static size_t		  sl_nlimits;
static int		  sl_history_max = SL_HISTORY_MAX;
static long long	  sl_last_ts_us;
static unsigned		  sl_counter;

static void	 sl_init(void);
static void	 sl_free(void);
static void	 sl_handle(struct sb_req *);
static char	*sl_xdup(const char *);
static void	 sl_user_free(struct sl_user *);
static void	 sl_chan_free(struct sl_chan *);
static void	 sl_group_free(struct sl_group *);
static void	 sl_event_id(char [16]);
static cJSON	*sl_bot_profile(void);
static void	 sl_thread_add(struct sl_chan *, cJSON *, const char *,
		    const char *);
static int	 sl_tz_offset(const char *, const char **);
static cJSON	*sl_ratelimit_set(cJSON *);
static int	 sl_ratelimited(const char *);
static cJSON	*sl_history_limits(long long, long long);
static int	 sl_charset_ok(const char *);
static cJSON	*sl_check_auth(struct sb_req *, const struct sl_method *,
		    const char **);
static void	 sl_chan_event(const struct sl_chan *, const char *,
		    const char *);
static cJSON	*sl_call_args(struct sb_req *, const struct sl_method *,
		    cJSON **);

const struct sb_service fake_slack = {
	"slack", sl_init, sl_handle, sl_control, sl_free
};

static char *
sl_xdup(const char *s)
{
	return (s != NULL ? sb_strdup(s) : NULL);
}

/* A Slack error reply {"ok":false,"error":code}. */
cJSON *
sl_err(const char *code)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", code);
	return (o);
}

/* An error with a response_metadata.messages line, as Slack adds. */
cJSON *
sl_err_msg(const char *code, const char *msg)
{
	cJSON	*o, *m;

	o = sl_err(code);
	m = cJSON_AddObjectToObject(o, "response_metadata");
	m = cJSON_AddArrayToObject(m, "messages");
	cJSON_AddItemToArray(m, cJSON_CreateString(msg));
	return (o);
}

/* invalid_arguments for a missing required field, as Slack words it. */
cJSON *
sl_missing(const char *field)
{
	char	*msg;
	cJSON	*o;

	sb_asprintf(&msg, "[ERROR] missing required field: %s", field);
	o = sl_err_msg("invalid_arguments", msg);
	free(msg);
	return (o);
}

/* A bare {"ok":true}. */
cJSON *
sl_ok(void)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddTrueToObject(o, "ok");
	return (o);
}

/* A fresh message ts: wall-clock microseconds, strictly increasing. */
void
sl_new_ts(char out[32])
{
	struct timeval	tv;
	long long	us;

	gettimeofday(&tv, NULL);
	us = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
	if (us <= sl_last_ts_us)
		us = sl_last_ts_us + 1;
	sl_last_ts_us = us;
	snprintf(out, 32, "%lld.%06lld", us / 1000000, us % 1000000);
}

/* Parse a ts ("1700000000.000100", "1700000000") to microseconds. */
int
sl_parse_ts(const char *s, long long *us)
{
	long long	sec = 0, frac = 0;
	int		n = 0, digits = 0;

	if (s == NULL || *s == '\0')
		return (-1);
	for (; isdigit((unsigned char)*s); s++) {
		if (++n > 12)
			return (-1);
		sec = sec * 10 + (*s - '0');
	}
	if (n == 0)
		return (-1);
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++) {
			if (++digits > 6)
				return (-1);
			frac = frac * 10 + (*s - '0');
		}
		for (; digits < 6; digits++)
			frac *= 10;
	}
	if (*s != '\0')
		return (-1);
	*us = sec * 1000000 + frac;
	return (0);
}

/* A Slack-looking id: prefix and 10 uppercase letters or digits. */
char *
sl_new_id(const char *prefix)
{
	static const char	 set[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	char			 hex[21], *id;
	size_t			 i, plen = strlen(prefix);
	unsigned		 b;

	sb_random_hex(hex, 10);
	id = sb_malloc(plen + 11);
	memcpy(id, prefix, plen);
	for (i = 0; i < 10; i++) {
		sscanf(hex + i * 2, "%2x", &b);
		id[plen + i] = set[b % (sizeof(set) - 1)];
	}
	id[plen + 10] = '\0';
	return (id);
}

/* The user with this id, or NULL. */
struct sl_user *
sl_user_find(const char *id)
{
	size_t	i;

	if (id == NULL)
		return (NULL);
	for (i = 0; i < sl_nusers; i++) {
		if (strcmp(sl_users[i]->id, id) == 0)
			return (sl_users[i]);
	}
	return (NULL);
}

/* Add a user, or replace the one with the same id. */
struct sl_user *
sl_user_add(const char *id, const char *name, const char *real_name,
    const char *email, const char *tz, int is_bot)
{
	struct sl_user	*u;

	if ((u = sl_user_find(id)) == NULL) {
		u = sb_calloc(1, sizeof(*u));
		u->id = sb_strdup(id);
		sl_users = sb_realloc(sl_users, sl_nusers + 1,
		    sizeof(*sl_users));
		sl_users[sl_nusers++] = u;
	}
	free(u->name);
	free(u->real_name);
	free(u->email);
	free(u->tz);
	free(u->team_id);
	u->team_id = NULL;
	u->is_restricted = u->is_ultra_restricted = u->is_admin = 0;
	u->name = sb_strdup(name);
	u->real_name = sb_strdup(real_name != NULL ? real_name : name);
	u->email = sl_xdup(email);
	u->tz = sb_strdup(tz != NULL ? tz : "Europe/London");
	u->is_bot = is_bot;
	return (u);
}

/* The channel (or DM) with this id, or NULL. */
struct sl_chan *
sl_chan_find(const char *id)
{
	size_t	i;

	if (id == NULL)
		return (NULL);
	for (i = 0; i < sl_nchans; i++) {
		if (strcmp(sl_chans[i]->id, id) == 0)
			return (sl_chans[i]);
	}
	return (NULL);
}

/* The channel named name ("general" or "#general"), or NULL. */
struct sl_chan *
sl_chan_by_name(const char *name)
{
	size_t	i;

	if (name == NULL)
		return (NULL);
	if (*name == '#')
		name++;
	for (i = 0; i < sl_nchans; i++) {
		if (sl_chans[i]->name != NULL &&
		    strcmp(sl_chans[i]->name, name) == 0)
			return (sl_chans[i]);
	}
	return (NULL);
}

/* 1 if user is in c. */
int
sl_is_member(const struct sl_chan *c, const char *user)
{
	size_t	i;

	for (i = 0; i < c->nmembers; i++) {
		if (strcmp(c->members[i], user) == 0)
			return (1);
	}
	return (0);
}

/* Put user in c (no-op if already there). */
void
sl_add_member(struct sl_chan *c, const char *user)
{
	if (sl_is_member(c, user))
		return;
	c->members = sb_realloc(c->members, c->nmembers + 1,
	    sizeof(*c->members));
	c->members[c->nmembers++] = sb_strdup(user);
}

/* A new channel; im_user makes it a DM between that user and the bot. */
struct sl_chan *
sl_chan_add(const char *id, const char *name, int is_private,
    const char *im_user)
{
	struct sl_chan	*c;

	c = sb_calloc(1, sizeof(*c));
	c->id = sb_strdup(id);
	c->name = sl_xdup(name);
	c->im_user = sl_xdup(im_user);
	c->is_private = is_private;
	c->creator = sb_strdup(im_user != NULL ? im_user : "U0ALICE");
	c->created = (long long)sb_now();
	c->topic = sb_strdup("");
	c->purpose = sb_strdup("");
	c->messages = cJSON_CreateArray();
	c->bookmarks = cJSON_CreateArray();
	if (im_user != NULL) {
		sl_add_member(c, im_user);
		sl_add_member(c, SLACK_BOT_USER);
	}
	sl_chans = sb_realloc(sl_chans, sl_nchans + 1, sizeof(*sl_chans));
	sl_chans[sl_nchans++] = c;
	return (c);
}

/* Visible to user: public, or private/DM with user in it. */
int
sl_sees(const struct sl_chan *c, const char *user)
{
	return ((!c->is_private && c->im_user == NULL) ||
	    sl_is_member(c, user));
}

int
sl_bot_sees(const struct sl_chan *c)
{
	return (sl_sees(c, SLACK_BOT_USER));
}

/* channel_type as events carry it: channel, group or im. */
const char *
sl_channel_type(const struct sl_chan *c)
{
	if (c->im_user != NULL)
		return ("im");
	return (c->is_private ? "group" : "channel");
}

static void
sl_user_free(struct sl_user *u)
{
	free(u->id);
	free(u->name);
	free(u->real_name);
	free(u->email);
	free(u->tz);
	free(u->team_id);
	free(u);
}

static void
sl_group_free(struct sl_group *g)
{
	size_t	i;

	for (i = 0; i < g->nusers; i++)
		free(g->users[i]);
	free(g->users);
	free(g->id);
	free(g->handle);
	free(g->name);
	free(g);
}

/* The user group with this id, or NULL. */
struct sl_group *
sl_group_find(const char *id)
{
	size_t	i;

	if (id == NULL)
		return (NULL);
	for (i = 0; i < sl_ngroups; i++) {
		if (strcmp(sl_groups[i]->id, id) == 0)
			return (sl_groups[i]);
	}
	return (NULL);
}

/* Create a user group, or empty and rename the one with this id. */
struct sl_group *
sl_group_set(const char *id, const char *handle, const char *name)
{
	struct sl_group	*g;
	size_t		 i;

	if ((g = sl_group_find(id)) == NULL) {
		g = sb_calloc(1, sizeof(*g));
		g->id = sb_strdup(id);
		g->created = (long long)sb_now();
		sl_groups = sb_realloc(sl_groups, sl_ngroups + 1,
		    sizeof(*sl_groups));
		sl_groups[sl_ngroups++] = g;
	}
	for (i = 0; i < g->nusers; i++)
		free(g->users[i]);
	free(g->users);
	g->users = NULL;
	g->nusers = 0;
	free(g->handle);
	free(g->name);
	g->handle = sb_strdup(handle);
	g->name = sb_strdup(name != NULL ? name : handle);
	return (g);
}

/* The usergroup object of usergroups.list (users: include_users). */
cJSON *
sl_group_json(const struct sl_group *g, int users)
{
	cJSON	*o, *p, *arr;
	char	 count[32];
	size_t	 i;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", g->id);
	cJSON_AddStringToObject(o, "team_id", SLACK_TEAM_ID);
	cJSON_AddTrueToObject(o, "is_usergroup");
	cJSON_AddFalseToObject(o, "is_subteam");
	cJSON_AddStringToObject(o, "name", g->name);
	cJSON_AddStringToObject(o, "description", "");
	cJSON_AddStringToObject(o, "handle", g->handle);
	cJSON_AddFalseToObject(o, "is_external");
	cJSON_AddNumberToObject(o, "date_create", (double)g->created);
	cJSON_AddNumberToObject(o, "date_update", (double)g->created);
	cJSON_AddNumberToObject(o, "date_delete", 0);
	cJSON_AddNullToObject(o, "auto_type");
	cJSON_AddFalseToObject(o, "auto_provision");
	cJSON_AddStringToObject(o, "enterprise_subteam_id", "");
	cJSON_AddStringToObject(o, "created_by", "U0ALICE");
	cJSON_AddStringToObject(o, "updated_by", "U0ALICE");
	cJSON_AddNullToObject(o, "deleted_by");
	p = cJSON_AddObjectToObject(o, "prefs");
	cJSON_AddArrayToObject(p, "channels");
	cJSON_AddArrayToObject(p, "groups");
	if (users) {
		arr = cJSON_AddArrayToObject(o, "users");
		for (i = 0; i < g->nusers; i++)
			cJSON_AddItemToArray(arr,
			    cJSON_CreateString(g->users[i]));
	}
	/* Slack sends the count as a string. */
	snprintf(count, sizeof(count), "%zu", g->nusers);
	cJSON_AddStringToObject(o, "user_count", count);
	return (o);
}

/* The workspace a user belongs to. */
const char *
sl_user_team(const struct sl_user *u)
{
	return (u != NULL && u->team_id != NULL ? u->team_id : SLACK_TEAM_ID);
}

static void
sl_chan_free(struct sl_chan *c)
{
	size_t	i;

	for (i = 0; i < c->nmembers; i++)
		free(c->members[i]);
	free(c->members);
	free(c->id);
	free(c->name);
	free(c->im_user);
	free(c->creator);
	free(c->topic);
	free(c->purpose);
	cJSON_Delete(c->messages);
	cJSON_Delete(c->bookmarks);
	free(c);
}

/* Forget the whole workspace. */
void
sl_clear(void)
{
	size_t	i;

	for (i = 0; i < sl_nusers; i++)
		sl_user_free(sl_users[i]);
	for (i = 0; i < sl_nchans; i++)
		sl_chan_free(sl_chans[i]);
	for (i = 0; i < sl_nviews; i++) {
		free(sl_views[i]->id);
		free(sl_views[i]->user);
		cJSON_Delete(sl_views[i]->view);
		cJSON_Delete(sl_views[i]->errors);
		free(sl_views[i]);
	}
	for (i = 0; i < sl_nhooks; i++) {
		free(sl_hooks[i]->path);
		free(sl_hooks[i]->channel);
		free(sl_hooks[i]->message_ts);
		free(sl_hooks[i]->user);
		free(sl_hooks[i]);
	}
	for (i = 0; i < sl_nlimits; i++) {
		free(sl_limits[i]->method);
		free(sl_limits[i]->times);
		free(sl_limits[i]);
	}
	for (i = 0; i < sl_ngroups; i++)
		sl_group_free(sl_groups[i]);
	free(sl_groups);
	sl_groups = NULL;
	sl_ngroups = 0;
	free(sl_users);
	free(sl_chans);
	free(sl_views);
	free(sl_hooks);
	free(sl_limits);
	free(sl_triggers);
	cJSON_Delete(sl_ephemeral);
	sl_users = NULL;
	sl_chans = NULL;
	sl_views = NULL;
	sl_hooks = NULL;
	sl_limits = NULL;
	sl_triggers = NULL;
	sl_ephemeral = NULL;
	sl_nusers = sl_nchans = sl_nviews = sl_nhooks = sl_nlimits = 0;
	sl_ntriggers = 0;
}

/* The seeded workspace. */
void
sl_seed(void)
{
	struct sl_chan	*c;

	sl_user_add(SLACK_BOT_USER, SL_BOT_NAME, "IncidentBot", NULL,
	    "Europe/London", 1);
	sl_user_add(SL_ADMIN_USER, "alice", "Alice Example",
	    "alice@example.com", "Europe/Paris", 0)->is_admin = 1;
	sl_user_add("U0BOB", "bob", "Bob Example", "bob@example.com",
	    "America/New_York", 0);
	sl_user_add("U0CAROL", "carol", "Carol Example", "carol@example.com",
	    "Asia/Tokyo", 0);
	c = sl_chan_add("C0GENERAL", "general", 0, NULL);
	c->is_general = 1;
	sl_add_member(c, "U0ALICE");
	sl_add_member(c, "U0BOB");
	sl_add_member(c, "U0CAROL");
	sl_add_member(c, SLACK_BOT_USER);
	free(c->purpose);
	c->purpose = sb_strdup("This is the one channel that will always "
	    "include everyone.");
	c = sl_chan_add("C0RANDOM", "random", 0, NULL);
	sl_add_member(c, "U0ALICE");
	sl_add_member(c, "U0BOB");
	sl_chan_add("D0ALICE", NULL, 1, "U0ALICE");
	sl_chan_add("D0BOB", NULL, 1, "U0BOB");
	sl_ephemeral = cJSON_CreateArray();
}

static void
sl_init(void)
{
	sl_manifest_init(sb_opts.slack_manifest);
	sl_seed();
	sl_limits_seed();
}

static void
sl_free(void)
{
	sl_clear();
	sl_manifest_free();
}

/* Display name for a user id. */
const char *
slack_user_name(const char *id)
{
	struct sl_user	*u = sl_user_find(id);

	return (u != NULL ? u->name : NULL);
}

/* Display name for a channel id (DMs: the other user's name). */
const char *
slack_channel_name(const char *id)
{
	struct sl_chan	*c = sl_chan_find(id);

	if (c == NULL)
		return (NULL);
	if (c->im_user != NULL)
		return (slack_user_name(c->im_user));
	return (c->name);
}

/* User id by name or id. */
const char *
slack_user_lookup(const char *s)
{
	size_t	i;

	if (s == NULL)
		return (NULL);
	if (*s == '@')
		s++;
	for (i = 0; i < sl_nusers; i++) {
		if (strcmp(sl_users[i]->id, s) == 0 ||
		    strcmp(sl_users[i]->name, s) == 0)
			return (sl_users[i]->id);
	}
	return (NULL);
}

/* Channel id by name or id. */
const char *
slack_channel_lookup(const char *s)
{
	struct sl_chan	*c;

	if ((c = sl_chan_find(s)) == NULL)
		c = sl_chan_by_name(s);
	return (c != NULL ? c->id : NULL);
}

/* The DM channel between user and the bot, created if needed. */
struct sl_chan *
sl_dm(const char *user)
{
	size_t	 i;
	char	*id;
	struct sl_chan *c;

	for (i = 0; i < sl_nchans; i++) {
		if (sl_chans[i]->im_user != NULL &&
		    strcmp(sl_chans[i]->im_user, user) == 0)
			return (sl_chans[i]);
	}
	id = sl_new_id("D");
	c = sl_chan_add(id, NULL, 1, user);
	free(id);
	return (c);
}

/* The DM between user and the bot, created on first use. */
const char *
slack_dm_channel(const char *user)
{
	if (sl_user_find(user) == NULL || strcmp(user, SLACK_BOT_USER) == 0)
		return (NULL);
	return (sl_dm(user)->id);
}

/* The stored message of c with this ts (thread replies too), or NULL. */
cJSON *
sl_msg_find(struct sl_chan *c, const char *ts)
{
	cJSON	*m;

	if (ts == NULL)
		return (NULL);
	cJSON_ArrayForEach(m, c->messages) {
		if (strcmp(sb_json_str(m, "ts"), ts) == 0)
			return (m);
	}
	return (NULL);
}

/* Set or replace a string member. */
void
sl_set_str(cJSON *o, const char *name, const char *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, name) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, name,
		    cJSON_CreateString(v));
	else
		cJSON_AddStringToObject(o, name, v);
}

/* Set or replace a member (item is consumed). */
void
sl_set_item(cJSON *o, const char *name, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, name) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
	else
		cJSON_AddItemToObject(o, name, v);
}

/* Unique, increasing event ids ("Ev" + 9 characters). */
static void
sl_event_id(char out[16])
{
	char	hex[9];
	size_t	i;

	sb_random_hex(hex, 4);
	for (i = 0; i < 8; i++)
		hex[i] = (char)toupper((unsigned char)hex[i]);
	snprintf(out, 16, "Ev%05u%.4s", ++sl_counter % 100000, hex);
}

/*
 * Send an event to the app (consumes ev) when the bot is in c. The
 * event_id and envelope_id are appended to the arrays if given.
 */
void
sl_emit(const struct sl_chan *c, cJSON *ev, cJSON *event_ids,
    cJSON *envelope_ids)
{
	sl_emit_as(c, ev, NULL, NULL, event_ids, envelope_ids);
}

/*
 * sl_emit for another workspace or app (NULL: ours): an event of an
 * org-wide install or a shared channel, delivered with that team_id (on
 * the envelope, its authorization and the event's team/user_team) or
 * that api_app_id.
 */
void
sl_emit_as(const struct sl_chan *c, cJSON *ev, const char *team,
    const char *app, cJSON *event_ids, cJSON *envelope_ids)
{
	cJSON		*p, *a, *auth;
	const char	*env;
	char		 id[16], ctx[64];

	if (team == NULL)
		team = SLACK_TEAM_ID;
	else {
		sl_set_str(ev, "team", team);
		sl_set_str(ev, "user_team", team);
	}
	if (app == NULL)
		app = SLACK_APP_ID;
	if (c != NULL && !sl_is_member(c, SLACK_BOT_USER)) {
		cJSON_Delete(ev);
		return;
	}
	sl_event_id(id);
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "token", "sandbox-verification-token");
	cJSON_AddStringToObject(p, "team_id", team);
	cJSON_AddStringToObject(p, "context_team_id", team);
	cJSON_AddNullToObject(p, "context_enterprise_id");
	cJSON_AddStringToObject(p, "api_app_id", app);
	cJSON_AddItemToObject(p, "event", ev);
	cJSON_AddStringToObject(p, "type", "event_callback");
	cJSON_AddStringToObject(p, "event_id", id);
	cJSON_AddNumberToObject(p, "event_time", (double)(long long)sb_now());
	a = cJSON_AddArrayToObject(p, "authorizations");
	auth = cJSON_CreateObject();
	cJSON_AddNullToObject(auth, "enterprise_id");
	cJSON_AddStringToObject(auth, "team_id", team);
	cJSON_AddStringToObject(auth, "user_id", SLACK_BOT_USER);
	cJSON_AddTrueToObject(auth, "is_bot");
	cJSON_AddFalseToObject(auth, "is_enterprise_install");
	cJSON_AddItemToArray(a, auth);
	cJSON_AddFalseToObject(p, "is_ext_shared_channel");
	snprintf(ctx, sizeof(ctx), "4-sandbox-%s-%s", team,
	    c != NULL ? c->id : "none");
	cJSON_AddStringToObject(p, "event_context", ctx);
	/* Undelivered (no connection) events are lost, as in Slack. */
	if ((env = socket_deliver("events_api", p)) == NULL)
		return;
	if (event_ids != NULL)
		cJSON_AddItemToArray(event_ids, cJSON_CreateString(id));
	if (envelope_ids != NULL)
		cJSON_AddItemToArray(envelope_ids, cJSON_CreateString(env));
}

/* The message as a "message" event in channel c. */
cJSON *
sl_msg_event(const struct sl_chan *c, const cJSON *m)
{
	cJSON	*ev;

	ev = cJSON_Duplicate(m, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "reactions");
	sl_set_str(ev, "type", "message");
	sl_set_str(ev, "channel", c->id);
	sl_set_str(ev, "event_ts", sb_json_str(m, "ts"));
	sl_set_str(ev, "channel_type", sl_channel_type(c));
	return (ev);
}

/* A system message (channel_join, channel_topic...) from user in c. */
void
sl_system_message(struct sl_chan *c, const char *user, const char *subtype,
    const char *text, const char *key, const char *value)
{
	cJSON	*m;

	m = sl_store(c, user, text, NULL, NULL, subtype);
	if (key != NULL)
		cJSON_AddStringToObject(m, key, value);
	console_message(c->id, m, 0);
	sl_emit(c, sl_msg_event(c, m), NULL, NULL);
}

/*
 * channel_<what> (group_<what> for a private channel) to the app, if the
 * manifest subscribes it and the bot is in c; user NULL: none named.
 */
static void
sl_chan_event(const struct sl_chan *c, const char *what, const char *user)
{
	cJSON	*ev;
	char	 type[32], ts[32];

	snprintf(type, sizeof(type), "%s_%s", c->is_private ? "group" :
	    "channel", what);
	if (!sl_subscribed(type))
		return;
	sl_new_ts(ts);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddStringToObject(ev, "channel", c->id);
	if (user != NULL)
		cJSON_AddStringToObject(ev, "user", user);
	if (strcmp(what, "archive") == 0)
		cJSON_AddNumberToObject(ev, "is_moved", 0);
	cJSON_AddStringToObject(ev, "event_ts", ts);
	sl_emit(c, ev, NULL, NULL);
}

/*
 * user archives c (member: only from inside it, as a token must be):
 * the channel_archive message and event while the members still get
 * them, then a public channel loses its members.
 */
cJSON *
sl_archive(struct sl_chan *c, const char *user, int member)
{
	size_t	i;

	if (c->im_user != NULL)
		return (sl_err("method_not_supported_for_channel_type"));
	if (c->is_archived)
		return (sl_err("already_archived"));
	if (c->is_general)
		return (sl_err("cant_archive_general"));
	if (member && !sl_is_member(c, user))
		return (sl_err("not_in_channel"));
	c->is_archived = 1;
	sl_system_message(c, user, "channel_archive", "archived the channel",
	    NULL, NULL);
	sl_chan_event(c, "archive", user);
	if (!c->is_private) {
		for (i = 0; i < c->nmembers; i++)
			free(c->members[i]);
		c->nmembers = 0;
	}
	return (NULL);
}

/* user unarchives c and is put in it. */
cJSON *
sl_unarchive(struct sl_chan *c, const char *user)
{
	if (c->im_user != NULL)
		return (sl_err("method_not_supported_for_channel_type"));
	if (!c->is_archived)
		return (sl_err("not_archived"));
	c->is_archived = 0;
	sl_add_member(c, user);
	sl_system_message(c, user, "channel_unarchive",
	    "un-archived the channel", NULL, NULL);
	sl_chan_event(c, "unarchive", user);
	return (NULL);
}

/* An admin deletes c: gone for every method (channel_not_found). */
void
sl_chan_delete(struct sl_chan *c)
{
	size_t	i;

	sl_chan_event(c, "deleted", NULL);
	for (i = 0; i < sl_nchans; i++) {
		if (sl_chans[i] == c) {
			sl_chans[i] = sl_chans[--sl_nchans];
			break;
		}
	}
	sl_chan_free(c);
}

/* The bot profile attached to the bot's messages. */
static cJSON *
sl_bot_profile(void)
{
	cJSON	*b;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "id", SLACK_BOT_ID);
	cJSON_AddFalseToObject(b, "deleted");
	cJSON_AddStringToObject(b, "name", SL_BOT_NAME);
	cJSON_AddNumberToObject(b, "updated", 1700000000);
	cJSON_AddStringToObject(b, "app_id", SLACK_APP_ID);
	cJSON_AddObjectToObject(b, "icons");
	cJSON_AddStringToObject(b, "team_id", SLACK_TEAM_ID);
	return (b);
}

/* Thread bookkeeping on the parent when a reply is added. */
static void
sl_thread_add(struct sl_chan *c, cJSON *parent, const char *user,
    const char *ts)
{
	cJSON		*ru;
	const cJSON	*u;
	int		 found = 0;

	sl_set_str(parent, "thread_ts", sb_json_str(parent, "ts"));
	sl_set_item(parent, "reply_count", cJSON_CreateNumber(
	    (double)sb_json_int(parent, "reply_count", 0) + 1));
	ru = cJSON_GetObjectItemCaseSensitive(parent, "reply_users");
	if (ru == NULL)
		ru = cJSON_AddArrayToObject(parent, "reply_users");
	cJSON_ArrayForEach(u, ru) {
		if (cJSON_IsString(u) && strcmp(u->valuestring, user) == 0)
			found = 1;
	}
	if (!found)
		cJSON_AddItemToArray(ru, cJSON_CreateString(user));
	sl_set_item(parent, "reply_users_count",
	    cJSON_CreateNumber(cJSON_GetArraySize(ru)));
	sl_set_str(parent, "latest_reply", ts);
	sl_set_item(parent, "is_locked", cJSON_CreateFalse());
	sl_set_item(parent, "subscribed", cJSON_CreateFalse());
}

/*
 * Store a new message in c and return it (owned by the channel). user
 * may be the bot. thread_ts must already be resolved to the parent.
 */
cJSON *
sl_store(struct sl_chan *c, const char *user, const char *text,
    cJSON *blocks, const char *thread_ts, const char *subtype)
{
	cJSON		*m, *parent;
	const char	*team;
	char		 ts[32], uuid[33];

	sl_new_ts(ts);
	m = cJSON_CreateObject();
	if (subtype != NULL)
		cJSON_AddStringToObject(m, "subtype", subtype);
	cJSON_AddStringToObject(m, "user", user);
	cJSON_AddStringToObject(m, "type", "message");
	cJSON_AddStringToObject(m, "ts", ts);
	if (strcmp(user, SLACK_BOT_USER) == 0) {
		cJSON_AddStringToObject(m, "bot_id", SLACK_BOT_ID);
		cJSON_AddStringToObject(m, "app_id", SLACK_APP_ID);
	} else if (subtype == NULL) {
		sb_random_hex(uuid, 16);
		cJSON_AddStringToObject(m, "client_msg_id", uuid);
	}
	cJSON_AddStringToObject(m, "text", text != NULL ? text : "");
	team = sl_user_team(sl_user_find(user));
	cJSON_AddStringToObject(m, "team", team);
	/* A Slack Connect member's messages name both teams. */
	if (strcmp(team, SLACK_TEAM_ID) != 0) {
		cJSON_AddStringToObject(m, "user_team", team);
		cJSON_AddStringToObject(m, "source_team", team);
	}
	if (strcmp(user, SLACK_BOT_USER) == 0)
		cJSON_AddItemToObject(m, "bot_profile", sl_bot_profile());
	if (blocks != NULL)
		cJSON_AddItemToObject(m, "blocks", blocks);
	if (thread_ts != NULL) {
		parent = sl_msg_find(c, thread_ts);
		cJSON_AddStringToObject(m, "thread_ts", thread_ts);
		if (parent != NULL) {
			cJSON_AddStringToObject(m, "parent_user_id",
			    sb_json_str(parent, "user"));
			sl_thread_add(c, parent, user, ts);
		}
	}
	cJSON_AddItemToArray(c->messages, m);
	return (m);
}

/* A thread_ts argument names the parent (replies resolve to theirs). */
int
sl_resolve_thread(struct sl_chan *c, const char *thread_ts,
    const char **parent_ts)
{
	cJSON		*m;
	const char	*t;

	if ((m = sl_msg_find(c, thread_ts)) == NULL)
		return (-1);
	t = sb_json_str(m, "thread_ts");
	*parent_ts = t != NULL ? t : sb_json_str(m, "ts");
	return (0);
}

/* A user-shaped rich_text block for text, as Slack clients send. */
cJSON *
sl_rich_text(const char *text)
{
	cJSON	*arr, *b, *els, *sec, *sels, *t;
	char	 id[9];

	sb_random_hex(id, 2);
	arr = cJSON_CreateArray();
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "rich_text");
	cJSON_AddStringToObject(b, "block_id", id);
	els = cJSON_AddArrayToObject(b, "elements");
	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "type", "rich_text_section");
	sels = cJSON_AddArrayToObject(sec, "elements");
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "text");
	cJSON_AddStringToObject(t, "text", text);
	cJSON_AddItemToArray(sels, t);
	cJSON_AddItemToArray(els, sec);
	cJSON_AddItemToArray(arr, b);
	return (arr);
}


/* The conversation object Slack returns for c. */
cJSON *
sl_chan_json(const struct sl_chan *c, int num_members)
{
	cJSON	*o, *t;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", c->id);
	if (c->im_user != NULL) {
		cJSON_AddNumberToObject(o, "created", (double)c->created);
		cJSON_AddBoolToObject(o, "is_archived", c->is_archived);
		cJSON_AddTrueToObject(o, "is_im");
		cJSON_AddFalseToObject(o, "is_org_shared");
		cJSON_AddStringToObject(o, "context_team_id", SLACK_TEAM_ID);
		cJSON_AddNumberToObject(o, "updated", (double)c->created *
		    1000);
		cJSON_AddStringToObject(o, "user", c->im_user);
		cJSON_AddFalseToObject(o, "is_user_deleted");
		cJSON_AddNumberToObject(o, "priority", 0);
		return (o);
	}
	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddBoolToObject(o, "is_channel", !c->is_private);
	cJSON_AddFalseToObject(o, "is_group");
	cJSON_AddFalseToObject(o, "is_im");
	cJSON_AddFalseToObject(o, "is_mpim");
	cJSON_AddBoolToObject(o, "is_private", c->is_private);
	cJSON_AddNumberToObject(o, "created", (double)c->created);
	cJSON_AddBoolToObject(o, "is_archived", c->is_archived);
	cJSON_AddBoolToObject(o, "is_general", c->is_general);
	cJSON_AddNumberToObject(o, "unlinked", 0);
	cJSON_AddStringToObject(o, "name_normalized", c->name);
	cJSON_AddFalseToObject(o, "is_shared");
	cJSON_AddFalseToObject(o, "is_org_shared");
	cJSON_AddFalseToObject(o, "is_pending_ext_shared");
	cJSON_AddArrayToObject(o, "pending_shared");
	cJSON_AddStringToObject(o, "context_team_id", SLACK_TEAM_ID);
	cJSON_AddNumberToObject(o, "updated", (double)c->created * 1000);
	cJSON_AddNullToObject(o, "parent_conversation");
	cJSON_AddStringToObject(o, "creator", c->creator);
	cJSON_AddFalseToObject(o, "is_ext_shared");
	t = cJSON_AddArrayToObject(o, "shared_team_ids");
	cJSON_AddItemToArray(t, cJSON_CreateString(SLACK_TEAM_ID));
	cJSON_AddArrayToObject(o, "pending_connected_team_ids");
	cJSON_AddBoolToObject(o, "is_member", sl_is_member(c, sl_caller));
	t = cJSON_AddObjectToObject(o, "topic");
	cJSON_AddStringToObject(t, "value", c->topic);
	cJSON_AddStringToObject(t, "creator", *c->topic != '\0' ?
	    SLACK_BOT_USER : "");
	cJSON_AddNumberToObject(t, "last_set", 0);
	t = cJSON_AddObjectToObject(o, "purpose");
	cJSON_AddStringToObject(t, "value", c->purpose);
	cJSON_AddStringToObject(t, "creator", "");
	cJSON_AddNumberToObject(t, "last_set", 0);
	cJSON_AddArrayToObject(o, "previous_names");
	if (num_members)
		cJSON_AddNumberToObject(o, "num_members", (double)c->nmembers);
	return (o);
}

static int
sl_tz_offset(const char *tz, const char **label)
{
	static const struct {
		const char	*tz;
		const char	*label;
		int		 offset;
	} tzs[] = {
		{ "Europe/Paris", "Central European Time", 3600 },
		{ "Europe/London", "Greenwich Mean Time", 0 },
		{ "America/New_York", "Eastern Standard Time", -18000 },
		{ "America/Los_Angeles", "Pacific Standard Time", -28800 },
		{ "Asia/Tokyo", "Japan Standard Time", 32400 },
	};
	size_t	i;

	for (i = 0; i < sizeof(tzs) / sizeof(tzs[0]); i++) {
		if (strcmp(tzs[i].tz, tz) == 0) {
			*label = tzs[i].label;
			return (tzs[i].offset);
		}
	}
	*label = "Coordinated Universal Time";
	return (0);
}

/* The user object users.info returns for u. */
cJSON *
sl_user_json(const struct sl_user *u)
{
	cJSON		*o, *p;
	const char	*label;
	int		 off;

	off = sl_tz_offset(u->tz, &label);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", u->id);
	cJSON_AddStringToObject(o, "team_id", sl_user_team(u));
	cJSON_AddStringToObject(o, "name", u->name);
	cJSON_AddFalseToObject(o, "deleted");
	cJSON_AddStringToObject(o, "color", "9f69e7");
	cJSON_AddStringToObject(o, "real_name", u->real_name);
	cJSON_AddStringToObject(o, "tz", u->tz);
	cJSON_AddStringToObject(o, "tz_label", label);
	cJSON_AddNumberToObject(o, "tz_offset", off);
	p = cJSON_AddObjectToObject(o, "profile");
	cJSON_AddStringToObject(p, "title", "");
	cJSON_AddStringToObject(p, "phone", "");
	cJSON_AddStringToObject(p, "skype", "");
	cJSON_AddStringToObject(p, "real_name", u->real_name);
	cJSON_AddStringToObject(p, "real_name_normalized", u->real_name);
	cJSON_AddStringToObject(p, "display_name", u->is_bot ? "" : u->name);
	cJSON_AddStringToObject(p, "display_name_normalized",
	    u->is_bot ? "" : u->name);
	cJSON_AddNullToObject(p, "fields");
	cJSON_AddStringToObject(p, "status_text", "");
	cJSON_AddStringToObject(p, "status_emoji", "");
	cJSON_AddNumberToObject(p, "status_expiration", 0);
	cJSON_AddStringToObject(p, "avatar_hash", "g0sandbox000");
	if (u->email != NULL && !u->is_bot)
		cJSON_AddStringToObject(p, "email", u->email);
	if (u->is_bot) {
		cJSON_AddStringToObject(p, "bot_id", SLACK_BOT_ID);
		cJSON_AddStringToObject(p, "api_app_id", SLACK_APP_ID);
		cJSON_AddTrueToObject(p, "always_active");
	}
	cJSON_AddStringToObject(p, "team", sl_user_team(u));
	cJSON_AddBoolToObject(o, "is_admin", u->is_admin);
	cJSON_AddBoolToObject(o, "is_owner", u->is_admin);
	cJSON_AddBoolToObject(o, "is_primary_owner", u->is_admin);
	cJSON_AddBoolToObject(o, "is_restricted", u->is_restricted);
	cJSON_AddBoolToObject(o, "is_ultra_restricted",
	    u->is_ultra_restricted);
	cJSON_AddBoolToObject(o, "is_bot", u->is_bot);
	cJSON_AddFalseToObject(o, "is_app_user");
	cJSON_AddNumberToObject(o, "updated", 1700000000);
	cJSON_AddBoolToObject(o, "is_email_confirmed", !u->is_bot);
	cJSON_AddStringToObject(o, "who_can_share_contact_card",
	    "EVERYONE");
	return (o);
}


/* Apply an edit to a stored message and tell the app (message_changed). */
void
sl_edit(struct sl_chan *c, cJSON *m, const char *text, cJSON *blocks,
    const char *editor, cJSON *eids, cJSON *envs)
{
	cJSON	*prev, *ev, *ed;
	char	 ts[32];

	prev = cJSON_Duplicate(m, 1);
	sl_new_ts(ts);
	if (text != NULL)
		sl_set_str(m, "text", text);
	if (blocks != NULL)
		sl_set_item(m, "blocks", blocks);
	ed = cJSON_CreateObject();
	cJSON_AddStringToObject(ed, "user", editor);
	cJSON_AddStringToObject(ed, "ts", ts);
	sl_set_item(m, "edited", ed);

	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", "message");
	cJSON_AddStringToObject(ev, "subtype", "message_changed");
	cJSON_AddTrueToObject(ev, "hidden");
	cJSON_AddItemToObject(ev, "message", cJSON_Duplicate(m, 1));
	cJSON_AddStringToObject(ev, "channel", c->id);
	cJSON_AddItemToObject(ev, "previous_message", prev);
	cJSON_AddStringToObject(ev, "event_ts", ts);
	cJSON_AddStringToObject(ev, "ts", ts);
	cJSON_AddStringToObject(ev, "channel_type", sl_channel_type(c));
	sl_emit(c, ev, eids, envs);
}

/* Remove a message; message_deleted goes to the app. */
void
sl_delete(struct sl_chan *c, cJSON *m, cJSON *eids, cJSON *envs)
{
	cJSON		*ev, *parent;
	const char	*thread_ts, *ts;
	char		 now[32];

	sl_new_ts(now);
	ts = sb_json_str(m, "ts");
	thread_ts = sb_json_str(m, "thread_ts");
	if (thread_ts != NULL && strcmp(thread_ts, ts) != 0 &&
	    (parent = sl_msg_find(c, thread_ts)) != NULL)
		sl_set_item(parent, "reply_count", cJSON_CreateNumber(
		    (double)sb_json_int(parent, "reply_count", 1) - 1));
	cJSON_DetachItemViaPointer(c->messages, m);
	console_deleted(c->id, ts);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", "message");
	cJSON_AddStringToObject(ev, "subtype", "message_deleted");
	cJSON_AddTrueToObject(ev, "hidden");
	cJSON_AddStringToObject(ev, "deleted_ts", ts);
	cJSON_AddStringToObject(ev, "channel", c->id);
	cJSON_AddItemToObject(ev, "previous_message", m);
	cJSON_AddStringToObject(ev, "event_ts", now);
	cJSON_AddStringToObject(ev, "ts", now);
	cJSON_AddStringToObject(ev, "channel_type", sl_channel_type(c));
	sl_emit(c, ev, eids, envs);
}

/*
 * Add (removed = 0) or remove a reaction by user; NULL on success, else
 * the Slack error. Sends reaction_added/removed to the app.
 */
cJSON *
sl_react(struct sl_chan *c, cJSON *m, const char *user, const char *name,
    int removed, cJSON *eids, cJSON *envs)
{
	cJSON		*rs, *r, *us, *u, *ev, *item;
	char		 ts[32];
	int		 found = 0;

	rs = cJSON_GetObjectItemCaseSensitive(m, "reactions");
	cJSON_ArrayForEach(r, rs) {
		if (strcmp(sb_json_str(r, "name"), name) == 0)
			break;
	}
	us = r != NULL ? cJSON_GetObjectItemCaseSensitive(r, "users") : NULL;
	cJSON_ArrayForEach(u, us) {
		if (cJSON_IsString(u) && strcmp(u->valuestring, user) == 0) {
			found = 1;
			break;
		}
	}
	if (!removed && found)
		return (sl_err("already_reacted"));
	if (removed && !found)
		return (sl_err("no_reaction"));
	if (!removed) {
		if (rs == NULL)
			rs = cJSON_AddArrayToObject(m, "reactions");
		if (r == NULL) {
			r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "name", name);
			us = cJSON_AddArrayToObject(r, "users");
			cJSON_AddNumberToObject(r, "count", 0);
			cJSON_AddItemToArray(rs, r);
		}
		cJSON_AddItemToArray(us, cJSON_CreateString(user));
	} else
		cJSON_Delete(cJSON_DetachItemViaPointer(us, u));
	sl_set_item(r, "count", cJSON_CreateNumber(cJSON_GetArraySize(us)));
	if (cJSON_GetArraySize(us) == 0)
		cJSON_Delete(cJSON_DetachItemViaPointer(rs, r));
	if (cJSON_GetArraySize(rs) == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(m, "reactions");

	sl_new_ts(ts);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", removed ? "reaction_removed" :
	    "reaction_added");
	cJSON_AddStringToObject(ev, "user", user);
	cJSON_AddStringToObject(ev, "reaction", name);
	cJSON_AddStringToObject(ev, "item_user", sb_json_str(m, "user"));
	item = cJSON_AddObjectToObject(ev, "item");
	cJSON_AddStringToObject(item, "type", "message");
	cJSON_AddStringToObject(item, "channel", c->id);
	cJSON_AddStringToObject(item, "ts", sb_json_str(m, "ts"));
	cJSON_AddStringToObject(ev, "event_ts", ts);
	sl_emit(c, ev, eids, envs);
	return (NULL);
}

/* A view opened by views.open, by id. */
struct sl_view *
sl_view_find(const char *id)
{
	size_t	i;

	if (id == NULL)
		return (NULL);
	for (i = 0; i < sl_nviews; i++) {
		if (strcmp(sl_views[i]->id, id) == 0)
			return (sl_views[i]);
	}
	return (NULL);
}

/* Set (per_minute > 0) or lift a sliding-window limit on a method. */
static cJSON *
sl_ratelimit_set(cJSON *body)
{
	struct sl_limit	*l = NULL;
	const char	*method;
	long long	 n;
	size_t		 i;
	cJSON		*o;

	method = sb_json_str(body, "method");
	n = sb_json_int(body, "per_minute", -1);
	if (method == NULL || n < 0 || n > 100000) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "error", "ratelimit: method and "
		    "per_minute (0 lifts the limit) required");
		return (o);
	}
	for (i = 0; i < sl_nlimits; i++) {
		if (strcmp(sl_limits[i]->method, method) == 0) {
			l = sl_limits[i];
			break;
		}
	}
	if (l != NULL) {
		free(l->times);
		if (n == 0) {
			free(l->method);
			free(l);
			sl_limits[i] = sl_limits[--sl_nlimits];
			l = NULL;
		}
	} else if (n > 0) {
		l = sb_calloc(1, sizeof(*l));
		l->method = sb_strdup(method);
		sl_limits = sb_realloc(sl_limits, sl_nlimits + 1,
		    sizeof(*sl_limits));
		sl_limits[sl_nlimits++] = l;
	}
	if (l != NULL) {
		l->per_minute = (int)n;
		l->times = sb_calloc((size_t)n, sizeof(*l->times));
		l->n = l->head = 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	return (o);
}

/* Sliding one-minute window: 0 if the call may go, else seconds to wait. */
static int
sl_ratelimited(const char *method)
{
	struct sl_limit	*l = NULL;
	uint64_t	 now = sb_mono_ms(), oldest;
	size_t		 i;

	for (i = 0; i < sl_nlimits; i++) {
		if (strcmp(sl_limits[i]->method, method) == 0)
			l = sl_limits[i];
	}
	if (l == NULL)
		return (0);
	while (l->n > 0 && l->times[l->head] + 60000 <= now) {
		l->head = (l->head + 1) % l->per_minute;
		l->n--;
	}
	if (l->n == l->per_minute) {
		oldest = l->times[l->head];
		return ((int)((oldest + 60000 - now + 999) / 1000));
	}
	l->times[(l->head + l->n) % l->per_minute] = now;
	l->n++;
	return (0);
}

/* Page cap and per-minute limit of conversations.history and .replies. */
static cJSON *
sl_history_limits(long long per_minute, long long max_limit)
{
	static const char *const methods[] = { "conversations.history",
	    "conversations.replies" };
	cJSON	*body, *res = NULL;
	size_t	 i;

	if (per_minute < 0 || per_minute > 100000 || max_limit < 1 ||
	    max_limit > 1000) {
		res = cJSON_CreateObject();
		cJSON_AddStringToObject(res, "error", "history_limits: "
		    "per_minute 0..100000 (0: none), max_limit 1..1000");
		return (res);
	}
	sl_history_max = (int)max_limit;
	for (i = 0; i < 2; i++) {
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "method", methods[i]);
		cJSON_AddNumberToObject(body, "per_minute", (double)per_minute);
		cJSON_Delete(res);
		res = sl_ratelimit_set(body);
		cJSON_Delete(body);
	}
	return (res);
}

/* The most messages a conversations.history or .replies page holds. */
int
sl_history_page_max(void)
{
	return (sl_history_max);
}

/* Slack's history limits, as a fresh workspace has them. */
void
sl_limits_seed(void)
{
	cJSON_Delete(sl_history_limits(SL_HISTORY_PER_MINUTE,
	    SL_HISTORY_MAX));
}

/* The dispatcher's control ops (rate limits). */
cJSON *
sl_dispatch_control(const char *op, cJSON *body)
{
	size_t	i;

	if (strcmp(op, "ratelimit") == 0)
		return (sl_ratelimit_set(body));
	if (strcmp(op, "history_limits") == 0)
		return (sl_history_limits(sb_json_int(body, "per_minute",
		    SL_HISTORY_PER_MINUTE), sb_json_int(body, "max_limit",
		    sl_history_max)));
	if (strcmp(op, "reset") == 0) {
		for (i = 0; i < sl_nlimits; i++) {
			free(sl_limits[i]->method);
			free(sl_limits[i]->times);
			free(sl_limits[i]);
		}
		free(sl_limits);
		sl_limits = NULL;
		sl_nlimits = 0;
	}
	return (NULL);
}

/* "charset=..." in a content type is absent or UTF-8. */
static int
sl_charset_ok(const char *ctype)
{
	const char	*cs;

	if ((cs = strcasestr(ctype, "charset=")) == NULL)
		return (1);
	cs += 8;
	if (*cs == '"')
		cs++;
	return (strncasecmp(cs, "utf-8", 5) == 0 ||
	    strncasecmp(cs, "utf8", 4) == 0);
}

/*
 * Check the token. NULL and whose it is in *caller if it fits the
 * method, else the error: the app token only opens connections, the bot
 * token does everything else, the user token what the sandbox serves it.
 */
static cJSON *
sl_check_auth(struct sb_req *r, const struct sl_method *m,
    const char **caller)
{
	const char	*auth, *tok;
	char		*msg;
	cJSON		*o;

	*caller = SLACK_BOT_USER;
	if ((auth = sb_header(r, "Authorization")) == NULL)
		return (sl_err(m->app_token ? "missing_args" : "not_authed"));
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return (sl_err("invalid_auth"));
	for (tok = auth + 7; *tok == ' '; tok++)
		;
	if (strcmp(tok, sb_opts.slack_bot_token) == 0)
		return (m->app_token ? sl_err("not_allowed_token_type") :
		    NULL);
	if (strcmp(tok, sb_opts.slack_app_token) == 0)
		return (m->app_token ? NULL :
		    sl_err("not_allowed_token_type"));
	if (strcmp(tok, sb_opts.slack_user_token) != 0)
		return (sl_err("invalid_auth"));
	if (m->app_token)
		return (sl_err("not_allowed_token_type"));
	if (!sl_user_method(m->name)) {
		sb_asprintf(&msg, "[ERROR] the sandbox does not act as a "
		    "person in %s; the user token serves auth.test and "
		    "conversations.info, .members, .invite, .unarchive",
		    m->name);
		o = sl_err_msg("not_allowed_token_type", msg);
		free(msg);
		return (o);
	}
	*caller = SL_ADMIN_USER;
	return (NULL);
}

/*
 * The arguments of a call as one JSON object: form and query parameters
 * as strings, or the JSON body for methods that accept one. NULL with
 * *err set if the body cannot be used.
 */
static cJSON *
sl_call_args(struct sb_req *r, const struct sl_method *m, cJSON **err)
{
	const char	*ctype;
	cJSON		*args, *q, *item;
	char		*msg;

	*err = NULL;
	ctype = sb_header(r, "Content-Type");
	if (strcmp(r->method, "POST") != 0 || r->body_len == 0)
		return (sb_params_json(r));
	if (ctype == NULL) {
		*err = sl_err("missing_post_type");
		return (NULL);
	}
	if (!sl_charset_ok(ctype)) {
		*err = sl_err("invalid_charset");
		return (NULL);
	}
	if (strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
		return (sb_params_json(r));
	if (strncasecmp(ctype, "application/json", 16) != 0) {
		*err = sl_err_msg("invalid_post_type", "[ERROR] the sandbox "
		    "takes application/x-www-form-urlencoded or "
		    "application/json");
		return (NULL);
	}
	if (!m->json) {
		/* Slack ignores JSON bodies here: the call has no args. */
		sb_asprintf(&msg, "[ERROR] %s does not accept JSON bodies; "
		    "send application/x-www-form-urlencoded or query "
		    "parameters", m->name);
		*err = sl_err_msg("invalid_arguments", msg);
		free(msg);
		return (NULL);
	}
	if (r->json == NULL) {
		*err = sl_err("invalid_json");
		return (NULL);
	}
	if (!cJSON_IsObject(r->json)) {
		*err = sl_err("json_not_object");
		return (NULL);
	}
	args = cJSON_Duplicate(r->json, 1);
	q = sb_params_json(r);
	while ((item = q->child) != NULL) {
		cJSON_DetachItemViaPointer(q, item);
		if (cJSON_GetObjectItemCaseSensitive(args, item->string) ==
		    NULL)
			cJSON_AddItemToObject(args, item->string, item);
		else
			cJSON_Delete(item);
	}
	cJSON_Delete(q);
	return (args);
}

/* Every request to the Slack listener. */
static void
sl_handle(struct sb_req *r)
{
	const struct sl_method	*m;
	const char		*headers[4], *caller;
	char			*reqid, *retry;
	char			 hex[17];
	cJSON			*args, *res;
	int			 wait, user;

	if (strncmp(r->path, "/actions/", 9) == 0) {
		sl_hook_handle(r);
		return;
	}
	sb_random_hex(hex, 8);
	sb_asprintf(&reqid, "X-Slack-Req-Id: %s", hex);
	headers[0] = reqid;
	headers[1] = sl_scopes_header(0);
	headers[2] = NULL;
	if (strncmp(r->path, "/api/", 5) != 0 ||
	    (m = sl_method_find(r->path + 5)) == NULL) {
		sb_reply(r, 404, sl_err("unknown_method"), headers);
		goto out;
	}
	if ((wait = sl_ratelimited(m->name)) > 0) {
		sb_asprintf(&retry, "Retry-After: %d", wait);
		headers[2] = retry;
		headers[3] = NULL;
		sb_reply(r, 429, sl_err("ratelimited"), headers);
		free(retry);
		goto out;
	}
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
		sb_reply(r, 405, sl_err("method_not_allowed"), headers);
		goto out;
	}
	if (m->app_token && strcmp(r->method, "POST") != 0) {
		sb_reply(r, 200, sl_err("insecure_request"), headers);
		goto out;
	}
	if ((res = sl_check_auth(r, m, &caller)) != NULL) {
		sb_reply(r, 200, res, headers);
		goto out;
	}
	user = strcmp(caller, SLACK_BOT_USER) != 0;
	headers[1] = sl_scopes_header(user);
	if ((args = sl_call_args(r, m, &res)) != NULL) {
		if ((res = sl_scope_check(m->name, args, user)) == NULL) {
			sl_caller = caller;
			res = m->fn(args);
			sl_caller = SLACK_BOT_USER;
		}
		cJSON_Delete(args);
	}
	sb_reply(r, 200, res, headers);
out:
	free(reqid);
}
