/*
 * slack-api.c: the fake Slack's Web API methods.
 *
 * Each method takes its arguments as one JSON object (form and query
 * values are strings; JSON bodies keep their types) and returns the
 * reply, {"ok":true,...} or {"ok":false,"error":...}. The dispatcher in
 * fake-slack.c has already checked the token and the content type.
 * Errors and their order follow slack-methods/<method>.json and
 * api-notes.md §3. sl_caller is whose token came (the bot's, or the
 * admin's user token for the methods slack-manifest.c serves it):
 * channels are looked up as that person sees them.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "sandbox.h"
#include "slack.h"

static struct sl_chan *sl_api_chan(cJSON *, const char *, int, cJSON **);
static cJSON	*sl_api_blocks(cJSON *, cJSON **);
static int	 sl_has_attachments(cJSON *);
static cJSON	*sl_can_post(struct sl_chan *);
static cJSON	*sl_m_auth_test(cJSON *);
static cJSON	*sl_m_connections_open(cJSON *);
static cJSON	*sl_api_metadata(cJSON *, cJSON **);
static cJSON	*sl_m_post_message(cJSON *);
static cJSON	*sl_m_post_ephemeral(cJSON *);
static cJSON	*sl_m_update(cJSON *);
static cJSON	*sl_m_delete(cJSON *);
static const char *sl_check_name(const char *);
static cJSON	*sl_m_create(cJSON *);
static struct sl_chan *sl_managed_chan(cJSON *, cJSON **);
static cJSON	*sl_m_set_topic(cJSON *);
static cJSON	*sl_m_invite(cJSON *);
static cJSON	*sl_m_archive(cJSON *);
static cJSON	*sl_m_unarchive(cJSON *);
static cJSON	*sl_m_members(cJSON *);
static cJSON	*sl_m_join(cJSON *);
static cJSON	*sl_m_info(cJSON *);
static char	*sl_cursor_encode(const char *, const char *);
static char	*sl_cursor_decode(const char *, const char *);
static int	 sl_limit_arg(cJSON *, int, int, int *);
static cJSON	*sl_page(cJSON *, cJSON *, int, int, int);
static const char *sl_bounds(cJSON *, long long *, long long *);
static cJSON	*sl_m_history(cJSON *);
static cJSON	*sl_m_replies(cJSON *);
static cJSON	*sl_m_open(cJSON *);
static cJSON	*sl_m_users_info(cJSON *);
static cJSON	*sl_m_lookup_email(cJSON *);
static cJSON	*sl_m_users_conversations(cJSON *);
static cJSON	*sl_m_usergroups_list(cJSON *);
static cJSON	*sl_m_usergroups_users(cJSON *);
static cJSON	*sl_reaction_target(cJSON *, struct sl_chan **, cJSON **);
static cJSON	*sl_m_reactions_get(cJSON *);
static int	 sl_emoji_valid(const char *);
static cJSON	*sl_m_reactions_add(cJSON *);
static cJSON	*sl_m_reactions_remove(cJSON *);
static cJSON	*sl_m_bookmarks_add(cJSON *);
static cJSON	*sl_view_arg(cJSON *, cJSON **);
static void	 sl_view_hash(char [40]);
static void	 sl_view_complete(cJSON *, const char *, const char *);
static int	 sl_external_id_taken(const char *, const struct sl_view *);
static cJSON	*sl_m_views_open(cJSON *);
static cJSON	*sl_m_views_update(cJSON *);

/* A JSON-valued argument (blocks, view): 0 absent, 1 set, -1 bad JSON. */
int
sl_arg_json(cJSON *args, const char *name, cJSON **out)
{
	const cJSON	*v;

	*out = NULL;
	v = cJSON_GetObjectItemCaseSensitive(args, name);
	if (v == NULL || cJSON_IsNull(v))
		return (0);
	if (cJSON_IsString(v)) {
		if (*v->valuestring == '\0')
			return (0);
		if ((*out = cJSON_Parse(v->valuestring)) == NULL)
			return (-1);
		return (1);
	}
	*out = cJSON_Duplicate(v, 1);
	return (1);
}

/* The invalid_blocks reply for why (consumed). */
cJSON *
sl_invalid_blocks(char *why)
{
	cJSON	*o, *e;
	char	*msg;

	o = sl_err("invalid_blocks");
	e = cJSON_AddArrayToObject(o, "errors");
	cJSON_AddItemToArray(e, cJSON_CreateString(why));
	sb_asprintf(&msg, "[ERROR] %s", why);
	e = cJSON_AddObjectToObject(o, "response_metadata");
	e = cJSON_AddArrayToObject(e, "messages");
	cJSON_AddItemToArray(e, cJSON_CreateString(msg));
	free(msg);
	free(why);
	return (o);
}

/*
 * The channel argument as the caller sees it. by_name also accepts
 * "general"/"#general" and a user id (the DM with the bot), as
 * chat.postMessage does.
 */
static struct sl_chan *
sl_api_chan(cJSON *args, const char *name, int by_name, cJSON **err)
{
	struct sl_chan	*c;
	const char	*s;

	*err = NULL;
	s = sb_json_str(args, name);
	if (s == NULL || *s == '\0') {
		*err = sl_err("channel_not_found");
		return (NULL);
	}
	c = sl_chan_find(s);
	if (c == NULL && by_name) {
		if ((*s == 'U' || *s == 'W') && sl_user_find(s) != NULL &&
		    strcmp(s, SLACK_BOT_USER) != 0)
			c = sl_dm(s);
		else
			c = sl_chan_by_name(s);
	}
	if (c == NULL || !sl_sees(c, sl_caller)) {
		*err = sl_err("channel_not_found");
		return (NULL);
	}
	return (c);
}

/* Blocks argument: parsed into *blocks (caller's), or an error reply. */
static cJSON *
sl_api_blocks(cJSON *args, cJSON **blocks)
{
	char	*why;
	int	 rc;

	if ((rc = sl_arg_json(args, "blocks", blocks)) < 0 ||
	    (rc == 1 && !cJSON_IsArray(*blocks))) {
		cJSON_Delete(*blocks);
		*blocks = NULL;
		return (sl_err("invalid_blocks_format"));
	}
	if (rc == 1 && sl_check_blocks(*blocks, SL_SURFACE_MESSAGE, "/blocks",
	    &why) != 0) {
		cJSON_Delete(*blocks);
		*blocks = NULL;
		return (sl_invalid_blocks(why));
	}
	return (NULL);
}

static int
sl_has_attachments(cJSON *args)
{
	const cJSON	*a = cJSON_GetObjectItemCaseSensitive(args,
			    "attachments");

	if (cJSON_IsArray(a))
		return (cJSON_GetArraySize(a) > 0);
	return (cJSON_IsString(a) && strcmp(a->valuestring, "") != 0 &&
	    strcmp(a->valuestring, "[]") != 0);
}

/* The bot may write in c. */
static cJSON *
sl_can_post(struct sl_chan *c)
{
	if (c->is_archived)
		return (sl_err("is_archived"));
	if (!sl_is_member(c, SLACK_BOT_USER) && (c->im_user != NULL ||
	    c->is_private || !sl_granted("chat:write.public")))
		return (sl_err("not_in_channel"));
	return (NULL);
}

static cJSON *
sl_m_auth_test(cJSON *args)
{
	cJSON	*o = sl_ok();

	cJSON_AddStringToObject(o, "url", SL_TEAM_URL);
	cJSON_AddStringToObject(o, "team", "Sandbox");
	cJSON_AddStringToObject(o, "user", slack_user_name(sl_caller));
	cJSON_AddStringToObject(o, "team_id", SLACK_TEAM_ID);
	cJSON_AddStringToObject(o, "user_id", sl_caller);
	if (strcmp(sl_caller, SLACK_BOT_USER) == 0)
		cJSON_AddStringToObject(o, "bot_id", SLACK_BOT_ID);
	cJSON_AddFalseToObject(o, "is_enterprise_install");
	return (o);
}

static cJSON *
sl_m_connections_open(cJSON *args)
{
	cJSON	*o = sl_ok();
	char	*url;

	url = socket_new_url();
	cJSON_AddStringToObject(o, "url", url);
	free(url);
	return (o);
}

/*
 * The metadata argument: a JSON object {"event_type":"...",
 * "event_payload":{...}}, in a JSON body or JSON-encoded in a string.
 * Not JSON, or not an object: invalid_metadata_format; an object without
 * a non-empty string event_type or an object event_payload:
 * invalid_metadata_schema. Parsed into *md (caller's), or an error reply.
 */
static cJSON *
sl_api_metadata(cJSON *args, cJSON **md)
{
	const cJSON	*t, *p;
	int		 rc;

	if ((rc = sl_arg_json(args, "metadata", md)) == 0)
		return (NULL);
	if (rc < 0 || !cJSON_IsObject(*md)) {
		cJSON_Delete(*md);
		*md = NULL;
		return (sl_err("invalid_metadata_format"));
	}
	t = cJSON_GetObjectItemCaseSensitive(*md, "event_type");
	p = cJSON_GetObjectItemCaseSensitive(*md, "event_payload");
	if (!cJSON_IsString(t) || *t->valuestring == '\0' ||
	    !cJSON_IsObject(p)) {
		cJSON_Delete(*md);
		*md = NULL;
		return (sl_err("invalid_metadata_schema"));
	}
	return (NULL);
}

static cJSON *
sl_m_post_message(cJSON *args)
{
	struct sl_chan	*c;
	const char	*text, *thread_ts, *parent = NULL;
	cJSON		*err, *blocks = NULL, *md = NULL, *m, *o, *copy;

	if ((c = sl_api_chan(args, "channel", 1, &err)) == NULL)
		return (err);
	/* No Messages tab: the app cannot write to anyone's DM with it. */
	if (c->im_user != NULL && !sl_messages_tab())
		return (sl_err("messages_tab_disabled"));
	if ((err = sl_api_metadata(args, &md)) != NULL)
		return (err);
	if ((err = sl_api_blocks(args, &blocks)) != NULL)
		goto fail;
	text = sb_json_str(args, "text");
	if ((text == NULL || *text == '\0') && (blocks == NULL ||
	    cJSON_GetArraySize(blocks) == 0) && !sl_has_attachments(args)) {
		err = sl_err("no_text");
		goto fail;
	}
	if ((err = sl_can_post(c)) != NULL)
		goto fail;
	if (text != NULL && sb_utf8_len(text) > SL_MAX_TEXT) {
		err = sl_err("msg_too_long");
		goto fail;
	}
	thread_ts = sb_json_str(args, "thread_ts");
	if (thread_ts != NULL && *thread_ts != '\0' &&
	    sl_resolve_thread(c, thread_ts, &parent) != 0) {
		err = sl_err("thread_not_found");
		goto fail;
	}
	m = sl_store(c, SLACK_BOT_USER, text, blocks, parent, NULL);
	console_message(c->id, m, 0);
	/* The echo has no metadata: no metadata event subscription. */
	sl_emit(c, sl_msg_event(c, m), NULL, NULL);
	if (md != NULL)
		cJSON_AddItemToObject(m, "metadata", md);
	o = sl_ok();
	cJSON_AddStringToObject(o, "channel", c->id);
	cJSON_AddStringToObject(o, "ts", sb_json_str(m, "ts"));
	copy = cJSON_Duplicate(m, 1);
	cJSON_AddItemToObject(o, "message", copy);
	return (o);
fail:
	cJSON_Delete(blocks);
	cJSON_Delete(md);
	return (err);
}

static cJSON *
sl_m_post_ephemeral(cJSON *args)
{
	struct sl_chan	*c;
	struct sl_user	*u;
	const char	*text, *user;
	cJSON		*err, *blocks = NULL, *e, *o;
	char		 ts[32];

	if ((c = sl_api_chan(args, "channel", 1, &err)) == NULL)
		return (err);
	user = sb_json_str(args, "user");
	if (user == NULL || *user == '\0')
		return (sl_missing("user"));
	if ((err = sl_api_blocks(args, &blocks)) != NULL)
		return (err);
	text = sb_json_str(args, "text");
	if ((text == NULL || *text == '\0') && blocks == NULL &&
	    !sl_has_attachments(args))
		return (sl_err("no_text"));
	u = sl_user_find(user);
	if ((err = sl_can_post(c)) == NULL) {
		if (text != NULL && sb_utf8_len(text) > SL_MAX_TEXT)
			err = sl_err("msg_too_long");
		else if (u == NULL || !sl_is_member(c, u->id))
			err = sl_err("user_not_in_channel");
	}
	if (err != NULL) {
		cJSON_Delete(blocks);
		return (err);
	}
	sl_new_ts(ts);
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "channel", c->id);
	cJSON_AddStringToObject(e, "user", u->id);
	cJSON_AddStringToObject(e, "ts", ts);
	cJSON_AddStringToObject(e, "text", text != NULL ? text : "");
	if (blocks != NULL)
		cJSON_AddItemToObject(e, "blocks", blocks);
	if (sb_json_str(args, "thread_ts") != NULL)
		cJSON_AddStringToObject(e, "thread_ts",
		    sb_json_str(args, "thread_ts"));
	cJSON_AddItemToArray(sl_ephemeral, e);
	console_ephemeral(c->id, u->id, e);
	o = sl_ok();
	cJSON_AddStringToObject(o, "message_ts", ts);
	return (o);
}

static cJSON *
sl_m_update(cJSON *args)
{
	struct sl_chan	*c;
	const char	*text, *ts;
	cJSON		*err, *blocks = NULL, *m, *o;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	ts = sb_json_str(args, "ts");
	if ((m = sl_msg_find(c, ts)) == NULL)
		return (sl_err("message_not_found"));
	if ((err = sl_api_blocks(args, &blocks)) != NULL)
		return (err);
	text = sb_json_str(args, "text");
	if ((text == NULL || *text == '\0') && blocks == NULL &&
	    !sl_has_attachments(args))
		err = sl_err("no_text");
	else if (strcmp(sb_json_str(m, "user"), SLACK_BOT_USER) != 0)
		err = sl_err("cant_update_message");
	else if (c->is_archived)
		err = sl_err("is_inactive");
	else if (text != NULL && sb_utf8_len(text) > SL_MAX_UPDATE_TEXT)
		err = sl_err("msg_too_long");
	if (err != NULL) {
		cJSON_Delete(blocks);
		return (err);
	}
	sl_edit(c, m, text != NULL ? text : "", blocks, SLACK_BOT_USER, NULL,
	    NULL);
	console_message(c->id, m, 1);
	o = sl_ok();
	cJSON_AddStringToObject(o, "channel", c->id);
	cJSON_AddStringToObject(o, "ts", ts);
	cJSON_AddStringToObject(o, "text", sb_json_str(m, "text"));
	cJSON_AddItemToObject(o, "message", cJSON_Duplicate(m, 1));
	return (o);
}

static cJSON *
sl_m_delete(cJSON *args)
{
	struct sl_chan	*c;
	cJSON		*err, *m, *o;
	const char	*ts;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	ts = sb_json_str(args, "ts");
	if ((m = sl_msg_find(c, ts)) == NULL)
		return (sl_err("message_not_found"));
	if (strcmp(sb_json_str(m, "user"), SLACK_BOT_USER) != 0)
		return (sl_err("cant_delete_message"));
	o = sl_ok();
	cJSON_AddStringToObject(o, "channel", c->id);
	cJSON_AddStringToObject(o, "ts", ts);
	sl_delete(c, m, NULL, NULL);
	return (o);
}

/* Channel names: lowercase letters, digits, - and _, at most 80. */
static const char *
sl_check_name(const char *name)
{
	const char	*p;
	int		 alnum = 0;

	if (name == NULL || *name == '\0')
		return ("invalid_name_required");
	if (sb_utf8_len(name) > 80)
		return ("invalid_name_maxlength");
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			alnum = 1;
		else if (*p != '-' && *p != '_')
			return ("invalid_name_specials");
	}
	if (!alnum)
		return ("invalid_name_punctuation");
	return (NULL);
}

static cJSON *
sl_m_create(cJSON *args)
{
	struct sl_chan	*c;
	const char	*name, *why;
	char		*id;
	cJSON		*o;

	name = sb_json_str(args, "name");
	if ((why = sl_check_name(name)) != NULL)
		return (sl_err(why));
	if (sl_chan_by_name(name) != NULL)
		return (sl_err("name_taken"));
	id = sl_new_id("C");
	c = sl_chan_add(id, name, sb_json_bool(args, "is_private"), NULL);
	free(id);
	free(c->creator);
	c->creator = sb_strdup(SLACK_BOT_USER);
	sl_add_member(c, SLACK_BOT_USER);
	o = sl_ok();
	cJSON_AddItemToObject(o, "channel", sl_chan_json(c, 0));
	return (o);
}

/* A channel the caller manages: exists, not a DM, caller inside, not
 * archived. */
static struct sl_chan *
sl_managed_chan(cJSON *args, cJSON **err)
{
	struct sl_chan	*c;

	if ((c = sl_api_chan(args, "channel", 0, err)) == NULL)
		return (NULL);
	if (c->im_user != NULL)
		*err = sl_err("method_not_supported_for_channel_type");
	else if (c->is_archived)
		*err = sl_err("is_archived");
	else if (!sl_is_member(c, sl_caller))
		*err = sl_err("not_in_channel");
	return (*err != NULL ? NULL : c);
}

static cJSON *
sl_m_set_topic(cJSON *args)
{
	struct sl_chan	*c;
	const char	*topic;
	cJSON		*err, *o;
	char		*text;

	if ((c = sl_managed_chan(args, &err)) == NULL)
		return (err);
	if ((topic = sb_json_str(args, "topic")) == NULL)
		return (sl_missing("topic"));
	if (sb_utf8_len(topic) > 250)
		return (sl_err("too_long"));
	free(c->topic);
	c->topic = sb_strdup(topic);
	sb_asprintf(&text, "set the channel topic: %s", topic);
	sl_system_message(c, SLACK_BOT_USER, "channel_topic", text, "topic",
	    topic);
	free(text);
	o = sl_ok();
	cJSON_AddItemToObject(o, "channel", sl_chan_json(c, 0));
	return (o);
}

static cJSON *
sl_m_invite(cJSON *args)
{
	struct sl_chan	*c;
	const char	*users, *p, *end;
	const char	*first = NULL;
	char		*id, **ok = NULL, *text;
	size_t		 nok = 0, n = 0, i;
	cJSON		*err, *errors, *e, *o;

	if ((c = sl_managed_chan(args, &err)) == NULL)
		return (err);
	if ((users = sb_json_str(args, "users")) == NULL || *users == '\0')
		return (sl_err("no_user"));
	errors = cJSON_CreateArray();
	for (p = users; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		while (*p == ' ')
			p++;
		end = p + strcspn(p, ",");
		if (end == p)
			continue;
		if (++n > 100) {
			cJSON_Delete(errors);
			for (i = 0; i < nok; i++)
				free(ok[i]);
			free(ok);
			return (sl_err_msg("invalid_arguments",
			    "[ERROR] no more than 100 items allowed "
			    "[json-pointer:/users]"));
		}
		id = sb_strndup(p, (size_t)(end - p));
		while (*id != '\0' && id[strlen(id) - 1] == ' ')
			id[strlen(id) - 1] = '\0';
		e = NULL;
		if (sl_user_find(id) == NULL)
			e = sl_err("user_not_found");
		else if (strcmp(id, sl_caller) == 0)
			e = sl_err("cant_invite_self");
		else if (sl_is_member(c, id))
			e = sl_err("already_in_channel");
		if (e != NULL) {
			cJSON_AddStringToObject(e, "user", id);
			if (first == NULL)
				first = sb_json_str(e, "error");
			cJSON_AddItemToArray(errors, e);
			free(id);
		} else {
			ok = sb_realloc(ok, nok + 1, sizeof(*ok));
			ok[nok++] = id;
		}
	}
	if (n == 0) {
		cJSON_Delete(errors);
		return (sl_err("no_user"));
	}
	/* Without force, any failure fails the whole call. */
	if (first != NULL && !sb_json_bool(args, "force")) {
		o = sl_err(first);
		cJSON_AddItemToObject(o, "errors", errors);
		for (i = 0; i < nok; i++)
			free(ok[i]);
		free(ok);
		return (o);
	}
	for (i = 0; i < nok; i++) {
		if (!sl_is_member(c, ok[i])) {
			sl_add_member(c, ok[i]);
			sb_asprintf(&text, "<@%s> has joined the channel",
			    ok[i]);
			sl_system_message(c, ok[i], "channel_join", text,
			    "inviter", sl_caller);
			free(text);
		}
		free(ok[i]);
	}
	free(ok);
	o = sl_ok();
	cJSON_AddItemToObject(o, "channel", sl_chan_json(c, 0));
	if (cJSON_GetArraySize(errors) > 0)
		cJSON_AddItemToObject(o, "errors", errors);
	else
		cJSON_Delete(errors);
	return (o);
}

static cJSON *
sl_m_archive(cJSON *args)
{
	struct sl_chan	*c;
	cJSON		*err;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	if ((err = sl_archive(c, SLACK_BOT_USER, 1)) != NULL)
		return (err);
	return (sl_ok());
}

/*
 * Bot tokens cannot unarchive (the method's docs); Slack answers the bot
 * not_in_channel, archiving having removed it, and user_is_bot is what
 * its spec lists for a bot still in the channel.
 */
static cJSON *
sl_m_unarchive(cJSON *args)
{
	struct sl_chan	*c;
	cJSON		*err;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	if (c->im_user != NULL)
		return (sl_err("method_not_supported_for_channel_type"));
	if (!c->is_archived)
		return (sl_err("not_archived"));
	if (strcmp(sl_caller, SLACK_BOT_USER) == 0)
		return (sl_err(sl_is_member(c, SLACK_BOT_USER) ?
		    "user_is_bot" : "not_in_channel"));
	if ((err = sl_unarchive(c, sl_caller)) != NULL)
		return (err);
	return (sl_ok());
}

/*
 * Member ids in id order; the cursor is the id the next page starts
 * at, so members leaving between pages do not shift it.
 */
static cJSON *
sl_m_members(cJSON *args)
{
	struct sl_chan	 *c;
	const char	 *cursor, *next = NULL, *id;
	char		 *from = NULL, *enc;
	cJSON		 *err, *o, *arr, *rm;
	size_t		  i, k;
	int		  limit, n = 0;
	const char	**ids;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	if (sl_limit_arg(args, 100, 999, &limit) != 0)
		return (sl_err("invalid_limit"));
	cursor = sb_json_str(args, "cursor");
	if (cursor != NULL && *cursor != '\0' &&
	    (from = sl_cursor_decode("member", cursor)) == NULL)
		return (sl_err("invalid_cursor"));
	if (c->is_archived) {
		free(from);
		return (sl_err_msg("fetch_members_failed",
		    "[ERROR] Failed to fetch members for the channel."));
	}
	/* Sort a copy of the ids (insertion: channels are small). */
	ids = sb_calloc(c->nmembers + 1, sizeof(*ids));
	for (i = 0; i < c->nmembers; i++) {
		id = c->members[i];
		for (k = i; k > 0 && strcmp(ids[k - 1], id) > 0; k--)
			ids[k] = ids[k - 1];
		ids[k] = id;
	}
	o = sl_ok();
	arr = cJSON_AddArrayToObject(o, "members");
	for (i = 0; i < c->nmembers; i++) {
		if (from != NULL && strcmp(ids[i], from) < 0)
			continue;
		if (n == limit) {
			next = ids[i];
			break;
		}
		cJSON_AddItemToArray(arr, cJSON_CreateString(ids[i]));
		n++;
	}
	rm = cJSON_AddObjectToObject(o, "response_metadata");
	enc = next != NULL ? sl_cursor_encode("member", next) : NULL;
	cJSON_AddStringToObject(rm, "next_cursor", enc != NULL ? enc : "");
	free(enc);
	free(ids);
	free(from);
	return (o);
}

static cJSON *
sl_m_join(cJSON *args)
{
	struct sl_chan	*c;
	cJSON		*err, *o, *w;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	if (c->im_user != NULL || c->is_private)
		return (sl_err("method_not_supported_for_channel_type"));
	if (c->is_archived)
		return (sl_err("is_archived"));
	o = sl_ok();
	if (sl_is_member(c, SLACK_BOT_USER)) {
		cJSON_AddStringToObject(o, "warning", "already_in_channel");
		w = cJSON_AddObjectToObject(o, "response_metadata");
		w = cJSON_AddArrayToObject(w, "warnings");
		cJSON_AddItemToArray(w, cJSON_CreateString(
		    "already_in_channel"));
	} else {
		sl_add_member(c, SLACK_BOT_USER);
		sl_system_message(c, SLACK_BOT_USER, "channel_join",
		    "<@" SLACK_BOT_USER "> has joined the channel", NULL,
		    NULL);
	}
	cJSON_AddItemToObject(o, "channel", sl_chan_json(c, 0));
	return (o);
}

static cJSON *
sl_m_info(cJSON *args)
{
	struct sl_chan	*c;
	cJSON		*err, *o;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	o = sl_ok();
	cJSON_AddItemToObject(o, "channel", sl_chan_json(c,
	    sb_json_bool(args, "include_num_members")));
	return (o);
}

static char *
sl_cursor_encode(const char *kind, const char *value)
{
	unsigned char	 out[256];
	char		*raw;
	int		 n;

	sb_asprintf(&raw, "%s:%s", kind, value);
	n = EVP_EncodeBlock(out, (const unsigned char *)raw,
	    (int)strlen(raw) > 180 ? 180 : (int)strlen(raw));
	free(raw);
	return (sb_strndup((const char *)out, (size_t)n));
}

/* Decode a cursor made by sl_cursor_encode; NULL if not ours. */
static char *
sl_cursor_decode(const char *kind, const char *cursor)
{
	unsigned char	 out[256];
	size_t		 len = strlen(cursor), klen = strlen(kind);
	int		 n;

	if (len == 0 || len > 240 || len % 4 != 0)
		return (NULL);
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)cursor,
	    (int)len)) < 0)
		return (NULL);
	while (n > 0 && len > 0 && cursor[--len] == '=')
		n--;
	out[n] = '\0';
	if ((size_t)n <= klen + 1 || strncmp((char *)out, kind, klen) != 0 ||
	    out[klen] != ':' || memchr(out, '\0', (size_t)n) != NULL)
		return (NULL);
	return (sb_strdup((char *)out + klen + 1));
}

/* limit: default def, 1..max (over max is clamped, as Slack does). */
static int
sl_limit_arg(cJSON *args, int def, int max, int *limit)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(args, "limit");
	long long	 n;

	if (v == NULL || (cJSON_IsString(v) && *v->valuestring == '\0')) {
		*limit = def;
		return (0);
	}
	n = sb_json_int(args, "limit", -1);
	if (n < 0)
		return (-1);
	if (n == 0)
		n = def;
	*limit = n > max ? max : (int)n;
	return (0);
}

/*
 * Paging over messages already in answer order (newest first when desc).
 * The cursor holds the ts the next page starts at, so it survives
 * messages deleted in between.
 */
static cJSON *
sl_page(cJSON *list, cJSON *args, int def, int max, int desc)
{
	const char	*cursor;
	char		*start = NULL, *next = NULL;
	long long	 from = 0, ts;
	cJSON		*o, *arr, *m, *rm, *copy;
	int		 limit, n = 0, meta;

	if (sl_limit_arg(args, def, max, &limit) != 0) {
		cJSON_Delete(list);
		return (sl_err("invalid_limit"));
	}
	cursor = sb_json_str(args, "cursor");
	if (cursor != NULL && *cursor != '\0' &&
	    ((start = sl_cursor_decode("next_ts", cursor)) == NULL ||
	    sl_parse_ts(start, &from) != 0)) {
		free(start);
		cJSON_Delete(list);
		return (sl_err("invalid_cursor"));
	}
	meta = sb_json_bool(args, "include_all_metadata");
	o = sl_ok();
	arr = cJSON_AddArrayToObject(o, "messages");
	cJSON_ArrayForEach(m, list) {
		sl_parse_ts(sb_json_str(m, "ts"), &ts);
		if (start != NULL && (desc ? ts > from : ts < from))
			continue;
		if (n == limit) {
			next = sl_cursor_encode("next_ts",
			    sb_json_str(m, "ts"));
			break;
		}
		copy = cJSON_Duplicate(m, 1);
		if (!meta)
			cJSON_DeleteItemFromObjectCaseSensitive(copy,
			    "metadata");
		cJSON_AddItemToArray(arr, copy);
		n++;
	}
	cJSON_AddBoolToObject(o, "has_more", next != NULL);
	cJSON_AddNumberToObject(o, "pin_count", 0);
	rm = cJSON_AddObjectToObject(o, "response_metadata");
	cJSON_AddStringToObject(rm, "next_cursor", next != NULL ? next : "");
	free(next);
	free(start);
	cJSON_Delete(list);
	return (o);
}

/* oldest/latest bounds; 0 or an error name. */
static const char *
sl_bounds(cJSON *args, long long *oldest, long long *latest)
{
	const char	*s;

	*oldest = 0;
	*latest = (long long)9e15;
	if ((s = sb_json_str(args, "oldest")) != NULL && *s != '\0' &&
	    sl_parse_ts(s, oldest) != 0)
		return ("invalid_ts_oldest");
	if ((s = sb_json_str(args, "latest")) != NULL && *s != '\0' &&
	    sl_parse_ts(s, latest) != 0)
		return ("invalid_ts_latest");
	return (NULL);
}

static cJSON *
sl_m_history(cJSON *args)
{
	struct sl_chan	*c;
	const char	*why, *thread_ts;
	long long	 oldest, latest, ts;
	cJSON		*err, *list, *m;
	int		 inclusive;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	if (!sl_is_member(c, SLACK_BOT_USER))
		return (sl_err("not_in_channel"));
	if ((why = sl_bounds(args, &oldest, &latest)) != NULL)
		return (sl_err(why));
	inclusive = sb_json_bool(args, "inclusive");
	/* Newest first; thread replies stay in their threads. */
	list = cJSON_CreateArray();
	cJSON_ArrayForEach(m, c->messages) {
		thread_ts = sb_json_str(m, "thread_ts");
		if (thread_ts != NULL && strcmp(thread_ts,
		    sb_json_str(m, "ts")) != 0)
			continue;
		sl_parse_ts(sb_json_str(m, "ts"), &ts);
		if (ts < oldest || ts > latest || (!inclusive &&
		    (ts == oldest || ts == latest)))
			continue;
		cJSON_InsertItemInArray(list, 0, cJSON_Duplicate(m, 1));
	}
	return (sl_page(list, args, sl_history_page_max(),
	    sl_history_page_max(), 1));
}

static cJSON *
sl_m_replies(cJSON *args)
{
	struct sl_chan	*c;
	const char	*ts, *why, *t;
	long long	 oldest, latest, mts;
	cJSON		*err, *list, *m, *parent;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	ts = sb_json_str(args, "ts");
	if ((parent = sl_msg_find(c, ts)) == NULL)
		return (sl_err("thread_not_found"));
	if ((why = sl_bounds(args, &oldest, &latest)) != NULL)
		return (sl_err(why));
	list = cJSON_CreateArray();
	t = sb_json_str(parent, "thread_ts");
	if (t == NULL || strcmp(t, ts) != 0)
		cJSON_AddItemToArray(list, cJSON_Duplicate(parent, 1));
	else {
		cJSON_ArrayForEach(m, c->messages) {
			t = sb_json_str(m, "thread_ts");
			if (t == NULL || strcmp(t, ts) != 0)
				continue;
			sl_parse_ts(sb_json_str(m, "ts"), &mts);
			if (m != parent && (mts < oldest || mts > latest))
				continue;
			cJSON_AddItemToArray(list, cJSON_Duplicate(m, 1));
		}
	}
	return (sl_page(list, args, sl_history_page_max(),
	    sl_history_page_max(), 0));
}

/*
 * conversations.open: the DM with one user (users=U...), the same D id
 * each time; channel=D... resumes a DM the caller is in. The sandbox has
 * no multi-person DMs: more than one user is method_not_supported_for_
 * channel_type.
 */
#define SL_OPEN_UNSUPPORTED	"method_not_supported_for_channel_type"

static cJSON *
sl_m_open(cJSON *args)
{
	struct sl_chan	*c;
	const char	*users, *id;
	cJSON		*o, *ch;

	users = sb_json_str(args, "users");
	id = sb_json_str(args, "channel");
	if (users != NULL && *users != '\0') {
		if (strchr(users, ',') != NULL)
			return (sl_err(SL_OPEN_UNSUPPORTED));
		if (sl_user_find(users) == NULL)
			return (sl_err("user_not_found"));
		/* Oneself alone is no conversation. */
		if (strcmp(users, sl_caller) == 0)
			return (sl_err("not_enough_users"));
		c = sl_dm(users);
	} else if (id != NULL && *id != '\0') {
		if ((c = sl_chan_find(id)) == NULL || !sl_sees(c, sl_caller))
			return (sl_err("channel_not_found"));
		if (c->im_user == NULL)
			return (sl_err(SL_OPEN_UNSUPPORTED));
	} else
		return (sl_err("users_list_not_supplied"));
	o = sl_ok();
	cJSON_AddTrueToObject(o, "no_op");
	cJSON_AddTrueToObject(o, "already_open");
	ch = cJSON_AddObjectToObject(o, "channel");
	cJSON_AddStringToObject(ch, "id", c->id);
	return (o);
}

static cJSON *
sl_m_users_info(cJSON *args)
{
	struct sl_user	*u;
	cJSON		*o;

	if ((u = sl_user_find(sb_json_str(args, "user"))) == NULL)
		return (sl_err("user_not_found"));
	o = sl_ok();
	cJSON_AddItemToObject(o, "user", sl_user_json(u));
	return (o);
}

static cJSON *
sl_m_usergroups_list(cJSON *args)
{
	cJSON	*o, *arr;
	size_t	 i;
	int	 users;

	users = sb_json_bool(args, "include_users");
	o = sl_ok();
	arr = cJSON_AddArrayToObject(o, "usergroups");
	for (i = 0; i < sl_ngroups; i++)
		cJSON_AddItemToArray(arr, sl_group_json(sl_groups[i], users));
	return (o);
}

static cJSON *
sl_m_usergroups_users(cJSON *args)
{
	struct sl_group	*g;
	const char	*id;
	cJSON		*o, *arr;
	size_t		 i;

	if ((id = sb_json_str(args, "usergroup")) == NULL || *id == '\0')
		return (sl_missing("usergroup"));
	if ((g = sl_group_find(id)) == NULL)
		return (sl_err("no_such_subteam"));
	o = sl_ok();
	arr = cJSON_AddArrayToObject(o, "users");
	for (i = 0; i < g->nusers; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(g->users[i]));
	return (o);
}

static cJSON *
sl_m_lookup_email(cJSON *args)
{
	const char	*email;
	size_t		 i;
	cJSON		*o;

	if ((email = sb_json_str(args, "email")) == NULL || *email == '\0')
		return (sl_missing("email"));
	for (i = 0; i < sl_nusers; i++) {
		if (sl_users[i]->email != NULL && !sl_users[i]->is_bot &&
		    strcasecmp(sl_users[i]->email, email) == 0) {
			o = sl_ok();
			cJSON_AddItemToObject(o, "user",
			    sl_user_json(sl_users[i]));
			return (o);
		}
	}
	return (sl_err("users_not_found"));
}

static cJSON *
sl_m_users_conversations(cJSON *args)
{
	const char	*types, *user, *p, *cursor;
	char		*start = NULL, *next = NULL, *kind;
	int		 want[4] = { 0, 0, 0, 0 }, limit, n = 0, k, started;
	size_t		 i, len;
	struct sl_chan	*c;
	cJSON		*o, *arr, *rm;

	types = sb_json_str(args, "types");
	if (types == NULL || *types == '\0')
		types = "public_channel";
	for (p = types; *p != '\0'; p += *p == ',' ? 1 : 0) {
		len = strcspn(p, ",");
		kind = sb_strndup(p, len);
		if (strcmp(kind, "public_channel") == 0)
			want[0] = 1;
		else if (strcmp(kind, "private_channel") == 0)
			want[1] = 1;
		else if (strcmp(kind, "im") == 0)
			want[2] = 1;
		else if (strcmp(kind, "mpim") == 0)
			want[3] = 1;
		else {
			free(kind);
			return (sl_err("invalid_types"));
		}
		free(kind);
		p += len;
	}
	user = sb_json_str(args, "user");
	if (user == NULL || *user == '\0')
		user = SLACK_BOT_USER;
	else if (sl_user_find(user) == NULL)
		return (sl_err("user_not_found"));
	if (sl_limit_arg(args, 100, 999, &limit) != 0)
		return (sl_err("invalid_limit"));
	cursor = sb_json_str(args, "cursor");
	if (cursor != NULL && *cursor != '\0' &&
	    (start = sl_cursor_decode("channel", cursor)) == NULL)
		return (sl_err("invalid_cursor"));
	o = sl_ok();
	arr = cJSON_AddArrayToObject(o, "channels");
	started = start == NULL;
	for (i = 0; i < sl_nchans; i++) {
		c = sl_chans[i];
		k = c->im_user != NULL ? 2 : c->is_private ? 1 : 0;
		if (!want[k] || !sl_is_member(c, user) || !sl_bot_sees(c) ||
		    (c->is_archived && sb_json_bool(args, "exclude_archived")))
			continue;
		if (!started && strcmp(c->id, start) == 0)
			started = 1;
		if (!started)
			continue;
		if (n == limit) {
			next = sl_cursor_encode("channel", c->id);
			break;
		}
		cJSON_AddItemToArray(arr, sl_chan_json(c, 0));
		n++;
	}
	rm = cJSON_AddObjectToObject(o, "response_metadata");
	cJSON_AddStringToObject(rm, "next_cursor", next != NULL ? next : "");
	free(next);
	free(start);
	return (o);
}

/* The message for reactions.*: NULL with *err set. */
static cJSON *
sl_reaction_target(cJSON *args, struct sl_chan **cp, cJSON **err)
{
	const char	*chan, *ts;
	long long	 us;
	cJSON		*m;

	chan = sb_json_str(args, "channel");
	ts = sb_json_str(args, "timestamp");
	if (chan == NULL || *chan == '\0' || ts == NULL || *ts == '\0') {
		*err = sl_err("no_item_specified");
		return (NULL);
	}
	if ((*cp = sl_api_chan(args, "channel", 0, err)) == NULL)
		return (NULL);
	if (sl_parse_ts(ts, &us) != 0) {
		*err = sl_err("bad_timestamp");
		return (NULL);
	}
	if ((m = sl_msg_find(*cp, ts)) == NULL) {
		*err = sl_err("message_not_found");
		return (NULL);
	}
	return (m);
}

static cJSON *
sl_m_reactions_get(cJSON *args)
{
	struct sl_chan	*c;
	cJSON		*err, *m, *o;

	if ((m = sl_reaction_target(args, &c, &err)) == NULL)
		return (err);
	o = sl_ok();
	cJSON_AddStringToObject(o, "type", "message");
	cJSON_AddStringToObject(o, "channel", c->id);
	cJSON_AddItemToObject(o, "message", cJSON_Duplicate(m, 1));
	return (o);
}

/* Emoji names: lowercase letters, digits, - _ + ' (skin tones with ::). */
static int
sl_emoji_valid(const char *name)
{
	const char	*p;

	if (name == NULL || *name == '\0' || *name == ':' ||
	    strlen(name) > 100)
		return (0);
	for (p = name; *p != '\0'; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)
		    && strchr("-_+':", *p) == NULL)
			return (0);
	}
	return (1);
}

static cJSON *
sl_m_reactions_add(cJSON *args)
{
	struct sl_chan	*c;
	const char	*name;
	cJSON		*err, *m;

	if ((m = sl_reaction_target(args, &c, &err)) == NULL)
		return (err);
	name = sb_json_str(args, "name");
	if (!sl_emoji_valid(name))
		return (sl_err("invalid_name"));
	if (c->is_archived)
		return (sl_err("is_archived"));
	if ((err = sl_react(c, m, SLACK_BOT_USER, name, 0, NULL, NULL)) !=
	    NULL)
		return (err);
	return (sl_ok());
}

static cJSON *
sl_m_reactions_remove(cJSON *args)
{
	struct sl_chan	*c;
	const char	*name;
	cJSON		*err, *m;

	if ((m = sl_reaction_target(args, &c, &err)) == NULL)
		return (err);
	name = sb_json_str(args, "name");
	if (!sl_emoji_valid(name))
		return (sl_err("invalid_name"));
	if ((err = sl_react(c, m, SLACK_BOT_USER, name, 1, NULL, NULL)) !=
	    NULL)
		return (err);
	return (sl_ok());
}

/*
 * pins.add (pins:write): the bot must be in the channel; the message must
 * exist there; pinning twice is already_pinned (the spec's error list).
 * The pin is kept on the message as "pinned_to", as Slack shows it.
 */
static cJSON *
sl_m_pins_add(cJSON *args)
{
	struct sl_chan	*c;
	const char	*ts;
	cJSON		*err, *m, *to;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	ts = sb_json_str(args, "timestamp");
	if (ts == NULL || *ts == '\0')
		return (sl_err("no_item_specified"));
	if (c->is_archived)
		return (sl_err("is_archived"));
	if (!sl_is_member(c, SLACK_BOT_USER))
		return (sl_err("not_in_channel"));
	if ((m = sl_msg_find(c, ts)) == NULL)
		return (sl_err("message_not_found"));
	if ((to = cJSON_GetObjectItem(m, "pinned_to")) != NULL)
		return (sl_err("already_pinned"));
	to = cJSON_AddArrayToObject(m, "pinned_to");
	cJSON_AddItemToArray(to, cJSON_CreateString(c->id));
	return (sl_ok());
}

/* pins.list (pins:read): the pinned messages of a channel. */
static cJSON *
sl_m_pins_list(cJSON *args)
{
	struct sl_chan	*c;
	const cJSON	*m;
	cJSON		*err, *o, *items, *it;

	if ((c = sl_api_chan(args, "channel", 0, &err)) == NULL)
		return (err);
	o = sl_ok();
	items = cJSON_AddArrayToObject(o, "items");
	cJSON_ArrayForEach(m, c->messages) {
		if (cJSON_GetObjectItem(m, "pinned_to") == NULL)
			continue;
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "type", "message");
		cJSON_AddStringToObject(it, "channel", c->id);
		cJSON_AddItemToObject(it, "message", cJSON_Duplicate(m, 1));
		cJSON_AddItemToArray(items, it);
	}
	return (o);
}

static cJSON *
sl_m_bookmarks_add(cJSON *args)
{
	struct sl_chan	*c;
	const char	*title, *type, *link, *emoji;
	char		*id, hex[9];
	cJSON		*err, *b, *o;
	size_t		 n;

	if (sb_json_str(args, "channel_id") == NULL)
		return (sl_missing("channel_id"));
	if ((c = sl_api_chan(args, "channel_id", 0, &err)) == NULL)
		return (err);
	if ((title = sb_json_str(args, "title")) == NULL || *title == '\0')
		return (sl_missing("title"));
	if (sb_utf8_len(title) > 256)
		return (sl_err_msg("invalid_arguments", "[ERROR] must be less "
		    "than 257 characters [json-pointer:/title]"));
	if ((type = sb_json_str(args, "type")) == NULL)
		return (sl_missing("type"));
	if (strcmp(type, "link") != 0)
		return (sl_err("invalid_bookmark_type"));
	link = sb_json_str(args, "link");
	if (link == NULL || (strncmp(link, "http://", 7) != 0 &&
	    strncmp(link, "https://", 8) != 0) || strlen(link) > 2048)
		return (sl_err("invalid_link"));
	emoji = sb_json_str(args, "emoji");
	if (emoji != NULL && *emoji != '\0') {
		n = strlen(emoji);
		if (n < 3 || emoji[0] != ':' || emoji[n - 1] != ':')
			return (sl_err("invalid_emoji"));
	}
	if (c->is_archived)
		return (sl_err("is_archived"));
	if (cJSON_GetArraySize(c->bookmarks) >= 100)
		return (sl_err("too_many_bookmarks"));
	id = sl_new_id("Bk");
	sb_random_hex(hex, 4);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "id", id);
	cJSON_AddStringToObject(b, "channel_id", c->id);
	cJSON_AddStringToObject(b, "title", title);
	cJSON_AddStringToObject(b, "link", link);
	cJSON_AddStringToObject(b, "emoji", emoji != NULL ? emoji : "");
	cJSON_AddNullToObject(b, "icon_url");
	cJSON_AddStringToObject(b, "type", "link");
	cJSON_AddNullToObject(b, "entity_id");
	cJSON_AddNumberToObject(b, "date_created", (double)(long long)sb_now());
	cJSON_AddNumberToObject(b, "date_updated", 0);
	cJSON_AddStringToObject(b, "rank", hex);
	cJSON_AddStringToObject(b, "last_updated_by_user_id", SLACK_BOT_USER);
	cJSON_AddStringToObject(b, "last_updated_by_team_id", SLACK_TEAM_ID);
	cJSON_AddNullToObject(b, "shortcut_id");
	cJSON_AddStringToObject(b, "app_id", SLACK_APP_ID);
	cJSON_AddItemToArray(c->bookmarks, cJSON_Duplicate(b, 1));
	free(id);
	o = sl_ok();
	cJSON_AddItemToObject(o, "bookmark", b);
	return (o);
}

/* The view argument, parsed and checked; NULL with *err set. */
static cJSON *
sl_view_arg(cJSON *args, cJSON **err)
{
	cJSON	*view;
	char	*text;
	int	 rc;

	*err = NULL;
	if ((rc = sl_arg_json(args, "view", &view)) == 0) {
		*err = sl_missing("view");
		return (NULL);
	}
	if (rc < 0 || !cJSON_IsObject(view)) {
		cJSON_Delete(view);
		*err = sl_err_msg("invalid_arguments", "[ERROR] must provide "
		    "an object [json-pointer:/view]");
		return (NULL);
	}
	text = cJSON_PrintUnformatted(view);
	rc = strlen(text) > 250 * 1024;
	cJSON_free(text);
	if (rc) {
		cJSON_Delete(view);
		*err = sl_err("view_too_large");
		return (NULL);
	}
	if ((*err = sl_check_view(view)) != NULL) {
		cJSON_Delete(view);
		return (NULL);
	}
	return (view);
}

static void
sl_view_hash(char out[40])
{
	char	hex[9];

	sb_random_hex(hex, 4);
	snprintf(out, 40, "%lld.%s", (long long)sb_now(), hex);
}

/* Fill in what Slack adds to a stored view. */
static void
sl_view_complete(cJSON *v, const char *id, const char *root)
{
	static const char	*strs[] = { "private_metadata", "callback_id",
				    "external_id" };
	char			 hash[40];
	size_t			 i;

	sl_view_hash(hash);
	sl_set_str(v, "id", id);
	sl_set_str(v, "team_id", SLACK_TEAM_ID);
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (sb_json_str(v, strs[i]) == NULL)
			sl_set_str(v, strs[i], "");
	}
	sl_set_item(v, "state", cJSON_Parse("{\"values\":{}}"));
	sl_set_str(v, "hash", hash);
	if (cJSON_GetObjectItemCaseSensitive(v, "clear_on_close") == NULL)
		cJSON_AddFalseToObject(v, "clear_on_close");
	if (cJSON_GetObjectItemCaseSensitive(v, "notify_on_close") == NULL)
		cJSON_AddFalseToObject(v, "notify_on_close");
	if (cJSON_GetObjectItemCaseSensitive(v, "close") == NULL)
		cJSON_AddNullToObject(v, "close");
	if (cJSON_GetObjectItemCaseSensitive(v, "submit") == NULL)
		cJSON_AddNullToObject(v, "submit");
	sl_set_item(v, "previous_view_id", cJSON_CreateNull());
	sl_set_str(v, "root_view_id", root);
	sl_set_str(v, "app_id", SLACK_APP_ID);
	sl_set_str(v, "app_installed_team_id", SLACK_TEAM_ID);
	sl_set_str(v, "bot_id", SLACK_BOT_ID);
}

static int
sl_external_id_taken(const char *ext, const struct sl_view *except)
{
	size_t		 i;
	const char	*e;

	if (ext == NULL || *ext == '\0')
		return (0);
	for (i = 0; i < sl_nviews; i++) {
		e = sb_json_str(sl_views[i]->view, "external_id");
		if (sl_views[i] != except && e != NULL && strcmp(e, ext) == 0)
			return (1);
	}
	return (0);
}

static cJSON *
sl_m_views_open(cJSON *args)
{
	struct sl_view	*v;
	const char	*trigger, *why, *user;
	cJSON		*err, *view, *o;
	char		*id;

	trigger = sb_json_str(args, "trigger_id");
	if (trigger == NULL || *trigger == '\0')
		trigger = sb_json_str(args, "interactivity_pointer");
	if (trigger == NULL || *trigger == '\0')
		return (sl_missing("trigger_id"));
	if ((view = sl_view_arg(args, &err)) == NULL)
		return (err);
	if (sl_external_id_taken(sb_json_str(view, "external_id"), NULL)) {
		cJSON_Delete(view);
		return (sl_err("duplicate_external_id"));
	}
	if ((why = sl_trigger_use(trigger, &user)) != NULL) {
		cJSON_Delete(view);
		return (sl_err(why));
	}
	id = sl_new_id("V");
	sl_view_complete(view, id, id);
	v = sb_calloc(1, sizeof(*v));
	v->id = id;
	v->user = sb_strdup(user);
	v->view = view;
	sl_views = sb_realloc(sl_views, sl_nviews + 1, sizeof(*sl_views));
	sl_views[sl_nviews++] = v;
	console_view(v->user, v->view, "opened");
	o = sl_ok();
	cJSON_AddItemToObject(o, "view", cJSON_Duplicate(view, 1));
	return (o);
}

static cJSON *
sl_m_views_update(cJSON *args)
{
	struct sl_view	*v = NULL;
	const char	*id, *ext, *hash, *cur;
	cJSON		*err, *view, *o;
	size_t		 i;

	id = sb_json_str(args, "view_id");
	ext = sb_json_str(args, "external_id");
	if ((id == NULL || *id == '\0') && (ext == NULL || *ext == '\0'))
		return (sl_missing("view_id"));
	if (id != NULL && *id != '\0')
		v = sl_view_find(id);
	else {
		for (i = 0; i < sl_nviews; i++) {
			cur = sb_json_str(sl_views[i]->view, "external_id");
			if (cur != NULL && strcmp(cur, ext) == 0)
				v = sl_views[i];
		}
	}
	if (v == NULL || v->closed)
		return (sl_err("not_found"));
	hash = sb_json_str(args, "hash");
	if (hash != NULL && *hash != '\0' &&
	    strcmp(hash, sb_json_str(v->view, "hash")) != 0)
		return (sl_err("hash_conflict"));
	if ((view = sl_view_arg(args, &err)) == NULL)
		return (err);
	if (sl_external_id_taken(sb_json_str(view, "external_id"), v)) {
		cJSON_Delete(view);
		return (sl_err("duplicate_external_id"));
	}
	sl_view_complete(view, v->id, sb_json_str(v->view, "root_view_id"));
	cJSON_Delete(v->view);
	v->view = view;
	console_view(v->user, v->view, "updated");
	o = sl_ok();
	cJSON_AddItemToObject(o, "view", cJSON_Duplicate(view, 1));
	return (o);
}

/* json: the method takes application/json (slack-methods/<method>.json and
 * api-notes §3; when in doubt, no: a read method never needs it). */
static const struct sl_method sl_methods[] = {
	{ "apps.connections.open",	1, 1, sl_m_connections_open },
	{ "auth.test",			1, 0, sl_m_auth_test },
	{ "bookmarks.add",		1, 0, sl_m_bookmarks_add },
	{ "chat.delete",		1, 0, sl_m_delete },
	{ "chat.postEphemeral",		1, 0, sl_m_post_ephemeral },
	{ "chat.postMessage",		1, 0, sl_m_post_message },
	{ "chat.update",		1, 0, sl_m_update },
	{ "conversations.archive",	1, 0, sl_m_archive },
	{ "conversations.create",	1, 0, sl_m_create },
	{ "conversations.history",	0, 0, sl_m_history },
	{ "conversations.info",		0, 0, sl_m_info },
	{ "conversations.invite",	1, 0, sl_m_invite },
	{ "conversations.join",		1, 0, sl_m_join },
	{ "conversations.members",	0, 0, sl_m_members },
	{ "conversations.open",		1, 0, sl_m_open },
	{ "conversations.replies",	0, 0, sl_m_replies },
	{ "conversations.setTopic",	1, 0, sl_m_set_topic },
	{ "conversations.unarchive",	1, 0, sl_m_unarchive },
	{ "pins.add",			1, 0, sl_m_pins_add },
	{ "pins.list",			0, 0, sl_m_pins_list },
	{ "reactions.add",		1, 0, sl_m_reactions_add },
	{ "reactions.get",		0, 0, sl_m_reactions_get },
	{ "reactions.remove",		1, 0, sl_m_reactions_remove },
	{ "usergroups.list",		0, 0, sl_m_usergroups_list },
	{ "usergroups.users.list",	0, 0, sl_m_usergroups_users },
	{ "users.conversations",	0, 0, sl_m_users_conversations },
	{ "users.info",			0, 0, sl_m_users_info },
	{ "users.lookupByEmail",	0, 0, sl_m_lookup_email },
	{ "views.open",			1, 0, sl_m_views_open },
	{ "views.update",		1, 0, sl_m_views_update },
};

/* The method called name, NULL if the sandbox does not have it. */
const struct sl_method *
sl_method_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(sl_methods) / sizeof(sl_methods[0]); i++) {
		if (strcmp(sl_methods[i].name, name) == 0)
			return (&sl_methods[i]);
	}
	return (NULL);
}
