/*
 * cmd-new-channel.c: "new channel [KEY|URL]".
 *
 * Without an argument, offers the five newest open incident tickets as
 * buttons. With one: fetch the ticket, create #<prefix><key>, set the
 * topic, invite the incident managers and the requester, post the ticket
 * in the channel, record the channel on the incident and link it back in
 * Jira. One channel per incident: a second request points to the first
 * channel, and a request already under way is not started twice.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define NC_NAME_MAX	80
#define NC_TOPIC_MAX	250
#define NC_TOPIC_MIN	20		/* summary room worth a link */
#define NC_PICK_MAX	5
#define NC_SUFFIX_MAX	20

struct nc_state {
	struct cmd_item	*item;
	char		*key;
	char		*summary;
	char		*url;		/* Jira browse link */
	int		 done;		/* ticket is closed */
	char		*base;		/* channel name without suffix */
	char		*name;
	int		 suffix;
	char		*channel;
	TAILQ_ENTRY(nc_state) entry;
};
TAILQ_HEAD(nc_states, nc_state);

static struct nc_states	nc_busy = TAILQ_HEAD_INITIALIZER(nc_busy);

static void		nc_refuse_key(struct cmd_item *, const char *);
static enum cmd_retval	nc_exec(struct cmd_item *);
static void		nc_pick_cb(const struct jira_result *, void *);
static void		nc_start(struct cmd_item *, const char *);
static void		nc_issue_cb(const struct jira_result *, void *);
static void		nc_create(struct nc_state *);
static void		nc_created_cb(const struct slack_result *, void *);
static void		nc_setup(struct nc_state *);
static void		nc_link_cb(const struct jira_result *, void *);
static void		nc_comment_cb(const struct jira_result *, void *);
static void		nc_invite_cb(const struct slack_result *, void *);
static char		*nc_topic(const struct nc_state *);
static char		*nc_channel_name(const char *);
static void		nc_finish(struct nc_state *);
static int		nc_existing(struct cmd_item *, const char *);

const struct cmd_entry cmd_new_channel_entry = {
	.name = "new channel",
	.usage = "new channel [KEY|URL]",
	.help = "Create the incident's Slack channel (without a ticket: pick "
	    "one of the newest open incidents).",
	.exec = nc_exec
};

/* A ticket outside our projects: say which ones, touch nothing. */
static void
nc_refuse_key(struct cmd_item *item, const char *key)
{
	char	*p;

	p = jira_projects_text();
	cmd_error(item, "%s is not an incident ticket: I only work with "
	    "tickets of %s.", key, p);
	free(p);
}

static enum cmd_retval
nc_exec(struct cmd_item *item)
{
	char	*jql, *p, *t, *key;

	if (item->argc > 1) {
		cmd_error(item, "Usage: `%s`, for example `new channel "
		    "%s-123`.", item->entry->usage, cfg->jira.project);
		return (CMD_ERROR);
	}
	if (item->argc == 1) {
		if ((key = jira_parse_key(item->argv[0])) == NULL) {
			cmd_error(item, "That is not a Jira ticket key or "
			    "link. Usage: `%s`, for example `new channel "
			    "%s-123` or a link to the ticket.",
			    item->entry->usage, cfg->jira.project);
			return (CMD_ERROR);
		}
		if (!jira_key_allowed(key)) {
			nc_refuse_key(item, key);
			free(key);
			return (CMD_ERROR);
		}
		nc_start(item, key);
		free(key);
		return (CMD_WAIT);
	}
	p = jira_jql_quote(cfg->jira.project);
	t = jira_jql_quote(cfg->jira.issue_type);
	xasprintf(&jql, "project = %s AND issuetype = %s AND statusCategory "
	    "!= Done ORDER BY created DESC", p, t);
	jira_search(jql, "summary,status,created", NC_PICK_MAX, nc_pick_cb,
	    item);
	free(jql);
	free(p);
	free(t);
	return (CMD_WAIT);
}

/* The ticket picker: one section and button per open incident. */
static void
nc_pick_cb(const struct jira_result *jr, void *arg)
{
	struct cmd_item	*item = arg;
	const cJSON	*issue;
	const char	*key;
	cJSON		*blocks, *b;
	char		*text, *sum, *url, *status;
	int		 n = 0;

	if (jr->error != NULL) {
		status = slack_escape(jr->error);
		cmd_error(item, "I could not list the open incidents: %s. "
		    "Name one instead: `new channel %s-123`.", status,
		    cfg->jira.project);
		free(status);
		goto out;
	}
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section("Which incident needs a "
	    "channel? The newest open incident tickets:"));
	cJSON_ArrayForEach(issue, json_path(jr->json, "issues")) {
		key = json_str(issue, "key");
		if (key == NULL || !jira_valid_key(key) || n == NC_PICK_MAX)
			continue;
		url = jira_browse_url(key);
		sum = slack_escape(json_str(issue, "fields.summary"));
		status = slack_escape(json_str(issue, "fields.status.name") !=
		    NULL ? json_str(issue, "fields.status.name") : "open");
		xasprintf(&text, "*<%s|%s>* %s\n_%s_", url, key, sum, status);
		b = blocks_section(text);
		cJSON_AddItemToObject(b, "accessory", blocks_button(
		    "Create channel", "channel_pick", key, "primary"));
		cJSON_AddItemToArray(blocks, b);
		free(url);
		free(sum);
		free(status);
		free(text);
		n++;
	}
	if (n == 0) {
		cJSON_Delete(blocks);
		cmd_reply(item, "There are no open incident tickets in %s. "
		    "Declare one with `new incident &lt;summary&gt;`.",
		    cfg->jira.project);
		goto out;
	}
	cmd_reply_blocks(item, "Pick the incident that needs a channel.",
	    blocks);
out:
	cmd_finish(item);
}

/* A ticket was picked: continue as if its key had been typed. */
void
cmd_new_channel_pick_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	struct cmd_item	*item;
	const char	*user, *channel, *ts, *value;
	cJSON		*args, *blocks;
	char		*text;

	user = json_str(payload, "user.id");
	channel = json_str(payload, "container.channel_id");
	ts = json_str(payload, "container.message_ts");
	value = json_str(action, "value");
	if (user == NULL || channel == NULL || value == NULL ||
	    !jira_key_allowed(value))
		return;
	/* Replace the picker so nobody picks twice. */
	if (ts != NULL) {
		xasprintf(&text, "<@%s> picked %s.", user, value);
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "channel", channel);
		cJSON_AddStringToObject(args, "ts", ts);
		cJSON_AddStringToObject(args, "text", text);
		blocks = cJSON_AddArrayToObject(args, "blocks");
		cJSON_AddItemToArray(blocks, blocks_section(text));
		slack_call("chat.update", args, NULL, NULL);
		free(text);
	}
	item = cmd_item_new(channel, user, json_str(payload,
	    "message.thread_ts"));
	nc_start(item, value);
}

/* Point to the incident's channel if it has one. */
static int
nc_existing(struct cmd_item *item, const char *key)
{
	struct nc_state	*st;
	cJSON		*inc;
	const char	*ch;

	TAILQ_FOREACH(st, &nc_busy, entry) {
		if (strcmp(st->key, key) == 0) {
			cmd_reply(item, "The channel for %s is being created "
			    "right now.", key);
			return (1);
		}
	}
	if ((inc = incident_load(key)) == NULL)
		return (0);
	if ((ch = json_str(inc, "channel")) == NULL) {
		cJSON_Delete(inc);
		return (0);
	}
	cmd_reply(item, "%s already has a channel: <#%s>.", key, ch);
	cJSON_Delete(inc);
	return (1);
}

static void
nc_start(struct cmd_item *item, const char *key)
{
	struct nc_state	*st;
	char		*path;

	if (nc_existing(item, key)) {
		cmd_finish(item);
		return;
	}
	st = xcalloc(1, sizeof(*st));
	st->item = item;
	st->key = xstrdup(key);
	TAILQ_INSERT_TAIL(&nc_busy, st, entry);
	xasprintf(&path, "/rest/api/2/issue/%s?fields=summary,status", key);
	jira_request("GET", path, NULL, HTTP_IDEMPOTENT, nc_issue_cb, st);
	free(path);
}

static void
nc_finish(struct nc_state *st)
{
	TAILQ_REMOVE(&nc_busy, st, entry);
	cmd_finish(st->item);
	free(st->key);
	free(st->summary);
	free(st->url);
	free(st->base);
	free(st->name);
	free(st->channel);
	free(st);
}

/* "inc-" + "INC-42" -> "inc-inc-42", within Slack's naming rules. */
static char *
nc_channel_name(const char *key)
{
	char	*name, *p;

	xasprintf(&name, "%s%s", cfg->slack.channel_prefix, key);
	for (p = name; *p != '\0'; p++) {
		*p = tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			*p = '-';
	}
	if (strlen(name) > NC_NAME_MAX - 4)
		name[NC_NAME_MAX - 4] = '\0';	/* room for a suffix */
	return (name);
}

static void
nc_issue_cb(const struct jira_result *jr, void *arg)
{
	struct nc_state	*st = arg;
	const char	*sum, *cat, *key;
	char		*e;

	if (jr->error != NULL) {
		e = slack_escape(jr->error);
		if (jr->status == 404)
			cmd_error(st->item, "Jira has no ticket %s (or I am "
			    "not allowed to see it).", st->key);
		else
			cmd_error(st->item, "I could not read %s from Jira: "
			    "%s.", st->key, e);
		free(e);
		nc_finish(st);
		return;
	}
	/*
	 * Jira follows moved keys: use the key it answers with, unless the
	 * ticket moved out of our projects, where we must not follow it.
	 */
	key = json_str(jr->json, "key");
	if (key != NULL && jira_valid_key(key) && strcmp(key, st->key) != 0) {
		if (!jira_key_allowed(key)) {
			nc_refuse_key(st->item, key);
			nc_finish(st);
			return;
		}
		free(st->key);
		st->key = xstrdup(key);
	}
	sum = json_str(jr->json, "fields.summary");
	st->summary = xstrdup(sum != NULL ? sum : "");
	cat = json_str(jr->json, "fields.status.statusCategory.key");
	st->done = cat != NULL && strcmp(cat, "done") == 0;
	st->url = jira_browse_url(st->key);
	st->base = nc_channel_name(st->key);
	nc_create(st);
}

static void
nc_create(struct nc_state *st)
{
	cJSON	*args;

	free(st->name);
	if (st->suffix == 0)
		st->name = xstrdup(st->base);
	else
		xasprintf(&st->name, "%s-%d", st->base, st->suffix + 1);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "name", st->name);
	cJSON_AddBoolToObject(args, "is_private", 0);
	slack_call("conversations.create", args, nc_created_cb, st);
}

static void
nc_created_cb(const struct slack_result *sr, void *arg)
{
	struct nc_state	*st = arg;
	const char	*id;
	char		*e;

	if (!sr->ok && sr->error != NULL &&
	    strcmp(sr->error, "name_taken") == 0 &&
	    st->suffix < NC_SUFFIX_MAX) {
		/* An unrelated channel has the name: try the next suffix. */
		st->suffix++;
		nc_create(st);
		return;
	}
	if (!sr->ok || (id = json_str(sr->json, "channel.id")) == NULL) {
		e = slack_escape(sr->error != NULL ? sr->error :
		    "no channel id");
		cmd_error(st->item, "Slack would not create #%s: %s.",
		    st->name, e);
		free(e);
		nc_finish(st);
		return;
	}
	st->channel = xstrdup(id);
	nc_setup(st);
}

/*
 * The topic: ticket link and summary, within Slack's 250 characters
 * (counted here in bytes, which are never fewer). The summary is escaped,
 * then cut on a character boundary and never inside an entity. A link
 * too long to leave room for the summary is left out: the channel's
 * first message carries it.
 */
static char *
nc_topic(const struct nc_state *st)
{
	const char	*suffix = st->done ? " (closed)" : "", *dots = "…";
	const char	*url = st->url, *amp, *p;
	char		*esc, *out;
	size_t		 room, len;

	room = NC_TOPIC_MAX - strlen(suffix);
	if (strlen(url) + 1 + NC_TOPIC_MIN > room)
		url = "";
	room -= *url != '\0' ? strlen(url) + 1 : 0;
	esc = slack_escape(st->summary);
	len = strlen(esc);
	if (len > room) {
		len = utf8_cut(esc, room - strlen(dots));
		/* Every '&' in escaped text starts an entity. */
		for (amp = NULL, p = esc; p < esc + len; p++) {
			if (*p == '&')
				amp = p;
		}
		if (amp != NULL && memchr(amp, ';', len - (amp - esc)) == NULL)
			len = amp - esc;
		xasprintf(&out, "%s%s%.*s%s%s", url, *url != '\0' ? " " : "",
		    (int)len, esc, dots, suffix);
	} else
		xasprintf(&out, "%s%s%s%s", url, *url != '\0' ? " " : "",
		    esc, suffix);
	free(esc);
	return (out);
}

/* Record, topic, invitations, first message, Jira link, reply. */
static void
nc_setup(struct nc_state *st)
{
	struct cmd_item	*item = st->item;
	cJSON		*inc, *args, *blocks, *link, *obj;
	struct strlist	 users = { NULL, 0 };
	char		*topic, *text, *sum, *list, *tmp, *path, *gid, *curl;
	const char	*pd;
	size_t		 i;

	if ((inc = incident_load(st->key)) == NULL) {
		inc = cJSON_CreateObject();
		cJSON_AddStringToObject(inc, "key", st->key);
		cJSON_AddStringToObject(inc, "summary", st->summary);
		cJSON_AddStringToObject(inc, "declared_by", item->user);
		cJSON_AddNumberToObject(inc, "declared_at", (double)now_wall());
	}
	cJSON_DeleteItemFromObject(inc, "channel");
	cJSON_AddStringToObject(inc, "channel", st->channel);
	cJSON_DeleteItemFromObject(inc, "channel_name");
	cJSON_AddStringToObject(inc, "channel_name", st->name);
	incident_save(inc);
	log_info("incident %s: channel #%s (%s) created by %s", st->key,
	    st->name, st->channel, item->user);

	topic = nc_topic(st);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", st->channel);
	cJSON_AddStringToObject(args, "topic", topic);
	slack_call("conversations.setTopic", args, NULL, NULL);
	free(topic);

	for (i = 0; i < cfg->slack.incident_managers.n; i++)
		strlist_add(&users, cfg->slack.incident_managers.v[i]);
	if (*item->user != '\0')
		strlist_add(&users, item->user);
	list = xstrdup("");
	for (i = 0; i < users.n && i < 100; i++) {
		if (slack_self.user_id != NULL &&
		    strcmp(users.v[i], slack_self.user_id) == 0)
			continue;
		if (strstr(list, users.v[i]) != NULL)
			continue;
		xasprintf(&tmp, "%s%s%s", list, *list ? "," : "", users.v[i]);
		free(list);
		list = tmp;
	}
	strlist_free(&users);
	if (*list != '\0') {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "channel", st->channel);
		cJSON_AddStringToObject(args, "users", list);
		cJSON_AddBoolToObject(args, "force", 1);
		slack_call("conversations.invite", args, nc_invite_cb,
		    xstrdup(st->key));
	}
	free(list);

	sum = slack_escape(st->summary);
	xasprintf(&text, ":rotating_light: *<%s|%s>*: %s%s", st->url, st->key,
	    sum, st->done ? "\n:information_source: This ticket is already "
	    "closed in Jira." : "");
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	/* The incident's PagerDuty incident (page.c records it). */
	pd = json_str(inc, "pd.url");
	if (pd != NULL && strncmp(pd, "https://", 8) == 0 &&
	    strpbrk(pd, "|<> ") == NULL) {
		xasprintf(&tmp, ":pager: PagerDuty: <%s|incident>", pd);
		cJSON_AddItemToArray(blocks, blocks_section(tmp));
		free(tmp);
	} else if ((pd = json_str(inc, "pd.incident")) != NULL) {
		gid = slack_escape(pd);
		xasprintf(&tmp, ":pager: PagerDuty incident %s", gid);
		cJSON_AddItemToArray(blocks, blocks_section(tmp));
		free(tmp);
		free(gid);
	}
	xasprintf(&tmp, "Channel opened by <@%s>. Tag important messages "
	    "with :%s: for the timeline.", item->user,
	    cfg->slack.timeline_emoji);
	cJSON_AddItemToArray(blocks, blocks_context(tmp));
	free(tmp);
	slack_post(st->channel, NULL, text, blocks, NULL, NULL);
	free(text);
	free(sum);

	curl = slack_permalink(st->channel, "");
	/* The channel URL is the permalink without a message part. */
	if ((tmp = strstr(curl, "/p")) != NULL && tmp[2] == '\0')
		*tmp = '\0';
	link = cJSON_CreateObject();
	xasprintf(&gid, "slack:%s:%s", slack_self.team_id != NULL ?
	    slack_self.team_id : "", st->channel);
	cJSON_AddStringToObject(link, "globalId", gid);
	cJSON_AddStringToObject(link, "relationship", "incident channel");
	obj = cJSON_AddObjectToObject(link, "object");
	cJSON_AddStringToObject(obj, "url", curl);
	xasprintf(&tmp, "#%s", st->name);
	cJSON_AddStringToObject(obj, "title", tmp);
	free(tmp);
	cJSON_AddStringToObject(obj, "summary", "Slack incident channel");
	xasprintf(&path, "/rest/api/2/issue/%s/remotelink", st->key);
	xasprintf(&tmp, "%s %s", st->key, curl);
	/* Reusing globalId upserts, so a retry cannot add a second link. */
	jira_request("POST", path, link, HTTP_IDEMPOTENT, nc_link_cb, tmp);
	free(path);
	free(gid);
	free(curl);

	cmd_reply(item, "Created <#%s> for %s.%s", st->channel, st->key,
	    st->done ? " (The ticket is closed in Jira.)" : "");
	cJSON_Delete(inc);
	nc_finish(st);
}

static void
nc_invite_cb(const struct slack_result *sr, void *arg)
{
	char	*key = arg;

	if (!sr->ok && strcmp(sr->error, "already_in_channel") != 0)
		log_warnx("incident %s: inviting to the channel: %s", key,
		    sr->error);
	free(key);
}

/* Remote links unavailable (permissions, Jira config): comment instead. */
static void
nc_link_cb(const struct jira_result *jr, void *arg)
{
	char	*keyurl = arg, *url, *path, *text;
	cJSON	*body;

	if (jr->error == NULL || jr->status == 0) {
		if (jr->error != NULL)
			log_warnx("jira remote link %s: %s", keyurl, jr->error);
		free(keyurl);
		return;
	}
	url = strchr(keyurl, ' ');
	*url++ = '\0';
	body = cJSON_CreateObject();
	xasprintf(&text, "Slack incident channel: %s", url);
	cJSON_AddStringToObject(body, "body", text);
	xasprintf(&path, "/rest/api/2/issue/%s/comment", keyurl);
	jira_request("POST", path, body, 0, nc_comment_cb, keyurl);
	free(path);
	free(text);
}

static void
nc_comment_cb(const struct jira_result *jr, void *arg)
{
	char	*key = arg;

	if (jr->error != NULL)
		log_warnx("incident %s: could not link the channel in Jira: "
		    "%s", key, jr->error);
	free(key);
}
