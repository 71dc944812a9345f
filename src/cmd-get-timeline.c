/*
 * cmd-get-timeline.c: "get timeline [#channel|KEY] [markdown|jira] [nopd]".
 *
 * Compiles the messages tagged with the timeline emoji (timeline.c keeps
 * the index live) into one line each, in time order: date and time in UTC
 * and the configured zone, author, permalink, text with Slack markup made
 * readable (mentions resolved to names, links kept). The result goes to
 * the requester by DM (split within Slack's limits, never cut), as a
 * Markdown code block on request, or as a comment on the incident's Jira
 * issue. A channel's timeline is only for its members (and incident
 * managers). When the index may have missed something (downtime, a
 * channel older than the index, tags on messages never seen), history is
 * read first and the reply says so. The incident's PagerDuty events
 * (pd-watch.c) join the lines in time order, marked as PagerDuty's,
 * unless "nopd" leaves them out.
 *
 * The postmortem drafter (cmd-postmortem.c) takes the same lines in Jira
 * markup through cmd_get_timeline_jira: the same access rule, backfill
 * and name resolution, handed back instead of sent.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define GT_SLACK_CHUNK	3500		/* under Slack's 4,000 advice */
#define GT_JIRA_CHUNK	30000		/* under Jira's 32,767 */
#define GT_COMMENTS	20		/* newest comments a probe reads */
#define GT_NAME_TTL	3600		/* renamed users show within an hour */
#define GT_NAMES_MAX	4096		/* cached names, least recent dropped */
#define GT_NAME_BUCKETS	1024

enum gt_mode {
	GT_DM = 0,
	GT_MARKDOWN,
	GT_JIRA
};

/*
 * Names of users and channels, by id: a hash for lookups and a list in
 * order of use, so the cache stays within GT_NAMES_MAX however many
 * people a long incident mentions, and an entry older than GT_NAME_TTL
 * is fetched again (people rename themselves mid-incident).
 */
struct gt_name {
	char			*id;
	char			*name;
	time_t			 fetched;
	LIST_ENTRY(gt_name)	 hash;
	TAILQ_ENTRY(gt_name)	 lru;		/* most recent first */
};
LIST_HEAD(gt_bucket, gt_name);
TAILQ_HEAD(gt_names, gt_name);

struct gt_state {
	struct cmd_item		*item;
	int			 mode;
	int			 nopd;		/* leave PagerDuty out */
	size_t			 npd;		/* PagerDuty events shown */
	char			*channel;
	char			*channel_name;
	char			*key;
	char			*summary;
	int			 in_channel;	/* asked in the channel itself */
	int			 is_private;
	char			*cursor;	/* users.conversations */
	char			*backfill;	/* why, and what was read */
	struct strlist		 lookups;	/* ids to resolve */
	size_t			 lookup_i;
	struct strlist		 chunks;	/* messages to send */
	size_t			 chunk_i;
	size_t			 nentries;
	uint64_t		 start_ms;
	time_t			 created;	/* the channel's */
	uint64_t		 busy_us;	/* own work, not waiting */
	size_t			 nsent;
	cmd_get_timeline_cb	 done;		/* lines handed back here */
	void			*done_arg;
	TAILQ_ENTRY(gt_state)	 entry;
};
TAILQ_HEAD(gt_states, gt_state);

static struct gt_states	gt_busy = TAILQ_HEAD_INITIALIZER(gt_busy);
static struct gt_names	gt_names = TAILQ_HEAD_INITIALIZER(gt_names);
static struct gt_bucket	gt_name_hash[GT_NAME_BUCKETS];
static size_t		gt_name_count;

static enum cmd_retval	gt_exec(struct cmd_item *);
static void		gt_info_cb(const struct slack_result *, void *);
static void		gt_member_check(struct gt_state *);
static void		gt_member_cb(const struct slack_result *, void *);
static void		gt_maybe_backfill(struct gt_state *);
static void		gt_backfill_cb(const char *, const char *, void *);
static void		gt_resolve(struct gt_state *);
static void		gt_resolve_next(struct gt_state *);
static void		gt_lookup_cb(const struct slack_result *, void *);
static void		gt_render(struct gt_state *);
static void		gt_send_next(struct gt_state *);
static void		gt_sent_cb(const struct slack_result *, void *);
static void		gt_jira_cb(const struct jira_result *, void *);
static void		gt_send_run(struct job *);
static void		gt_sent_one(struct job *);
static void		gt_send_probe(struct job *);
static char		*gt_piece_token(struct job *);
static void		gt_found_cb(int, const char *, void *);
static void		gt_comments_cb(const struct jira_result *, void *);
static void		gt_send_ended(struct job *);
static void		gt_finish(struct gt_state *);
static void		gt_hand_back(struct gt_state *,
			    const struct strlist *);
static int		gt_lines(struct gt_state *, struct strlist *);
static const char	*gt_name_get(const char *);
static void		gt_name_set(const char *, const char *);
static struct gt_bucket	*gt_name_bucket(const char *);
static void		gt_name_drop(struct gt_name *);
static void		gt_want(struct gt_state *, const char *);
static char		*gt_plain(const char *);
static char		*gt_pd_line(int, const cJSON *);
static char		*gt_line(int,
			    const struct timeline_entry *);
static void		gt_chunk(struct strlist *, const char *, size_t,
			    const char *, const char *);
static char		*gt_jira_escape(const char *);
static void		 gt_fence(int, const char **, const char **);
static uint64_t		 gt_now_us(void);

const struct cmd_entry cmd_get_timeline_entry = {
	.name = "get timeline",
	.usage = "get timeline [#channel|KEY] [markdown|jira] [nopd]",
	.help = "DM you the incident's timeline: the messages tagged with "
	    "the timeline emoji, in time order (`markdown` for a copyable "
	    "block, `jira` to post it on the Jira issue), with the PagerDuty "
	    "events of the incident (`nopd` leaves them out).",
	.exec = gt_exec
};

static uint64_t
gt_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* ------------------------------------------------------------ names */

/* FNV-1a; even if ids collide, a chain holds at most GT_NAMES_MAX. */
static struct gt_bucket *
gt_name_bucket(const char *id)
{
	uint32_t	h = 2166136261U;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619U;
	return (&gt_name_hash[h % GT_NAME_BUCKETS]);
}

static void
gt_name_drop(struct gt_name *n)
{
	LIST_REMOVE(n, hash);
	TAILQ_REMOVE(&gt_names, n, lru);
	gt_name_count--;
	free(n->id);
	free(n->name);
	free(n);
}

/* The cached name of id at time now, or NULL (unknown or expired). */
const char *
cmd_get_timeline_name(const char *id, time_t now)
{
	struct gt_name	*n;

	LIST_FOREACH(n, gt_name_bucket(id), hash) {
		if (strcmp(n->id, id) == 0)
			break;
	}
	if (n == NULL)
		return (NULL);
	if (now - n->fetched >= GT_NAME_TTL || now < n->fetched) {
		gt_name_drop(n);
		return (NULL);
	}
	TAILQ_REMOVE(&gt_names, n, lru);
	TAILQ_INSERT_HEAD(&gt_names, n, lru);
	return (n->name);
}

/* Cache id's name as fetched at now, dropping the least recent if full. */
void
cmd_get_timeline_name_set(const char *id, const char *name, time_t now)
{
	struct gt_bucket	*b = gt_name_bucket(id);
	struct gt_name		*n;

	LIST_FOREACH(n, b, hash) {
		if (strcmp(n->id, id) == 0)
			break;
	}
	if (n == NULL) {
		if (gt_name_count >= GT_NAMES_MAX)
			gt_name_drop(TAILQ_LAST(&gt_names, gt_names));
		n = xcalloc(1, sizeof(*n));
		n->id = xstrdup(id);
		LIST_INSERT_HEAD(b, n, hash);
		gt_name_count++;
	} else {
		TAILQ_REMOVE(&gt_names, n, lru);
		free(n->name);
	}
	TAILQ_INSERT_HEAD(&gt_names, n, lru);
	n->name = xstrdup(name);
	n->fetched = now;
}

/* How many names are cached. */
size_t
cmd_get_timeline_names(void)
{
	return (gt_name_count);
}

static const char *
gt_name_get(const char *id)
{
	return (cmd_get_timeline_name(id, now_wall()));
}

static void
gt_name_set(const char *id, const char *name)
{
	cmd_get_timeline_name_set(id, name, now_wall());
}

/* Forget state at shutdown. */
void
cmd_get_timeline_shutdown(void)
{
	while (!TAILQ_EMPTY(&gt_busy))
		gt_finish(TAILQ_FIRST(&gt_busy));
	while (!TAILQ_EMPTY(&gt_names))
		gt_name_drop(TAILQ_FIRST(&gt_names));
}

/* ------------------------------------------------------------ command */

static int
gt_valid_id(const char *s, size_t len)
{
	size_t	i;

	if (len < 2 || len > 20)
		return (0);
	for (i = 0; i < len; i++) {
		if (!isupper((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/*
 * The timeline of channel (incident key's) for item's requester, one line
 * each in Jira markup as `get timeline jira` renders it, PagerDuty events
 * included; names, the ids in names (Slack users) are resolved too (read
 * them with cmd_get_timeline_name). cb gets the lines, or NULL after the
 * reason was told to item; either way item is the callback's again.
 */
void
cmd_get_timeline_jira(struct cmd_item *item, const char *key,
    const char *channel, const struct strlist *names, cmd_get_timeline_cb cb,
    void *arg)
{
	struct gt_state	*st;
	cJSON		*args;
	size_t		 i;

	st = xcalloc(1, sizeof(*st));
	st->start_ms = now_ms();
	st->item = item;
	st->mode = GT_JIRA;
	st->channel = xstrdup(channel);
	st->key = xstrdup(key);
	st->in_channel = strcmp(channel, item->channel) == 0;
	st->done = cb;
	st->done_arg = arg;
	for (i = 0; names != NULL && i < names->n; i++)
		gt_want(st, names->v[i]);
	TAILQ_INSERT_TAIL(&gt_busy, st, entry);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	slack_call("conversations.info", args, gt_info_cb, st);
}

/* Jira wiki markup escaped, as the timeline's lines are. */
char *
cmd_get_timeline_jira_escape(const char *s)
{
	return (gt_jira_escape(s != NULL ? s : ""));
}

static enum cmd_retval
gt_exec(struct cmd_item *item)
{
	struct gt_state	*st;
	cJSON		*inc, *args;
	char		*key = NULL, *channel = NULL, *k, *p;
	const char	*w;
	size_t		 len;
	int		 i, mode = GT_DM, nopd = 0;

	for (i = 0; i < item->argc; i++) {
		w = item->argv[i];
		if (strcasecmp(w, "jira") == 0)
			mode = GT_JIRA;
		else if (strcasecmp(w, "nopd") == 0)
			nopd = 1;
		else if (strcasecmp(w, "markdown") == 0 ||
		    strcasecmp(w, "md") == 0)
			mode = GT_MARKDOWN;
		else if (strncmp(w, "<#", 2) == 0 && channel == NULL) {
			len = strcspn(w + 2, "|>");
			if (!gt_valid_id(w + 2, len) || w[2] != 'C' ||
			    (w[2 + len] != '|' && w[2 + len] != '>'))
				goto usage;
			channel = xstrndup(w + 2, len);
		} else if (key == NULL && (k = jira_parse_key(w)) != NULL)
			key = k;
		else
			goto usage;
	}
	if (key != NULL && channel != NULL)
		goto usage;
	if (key != NULL && !jira_key_allowed(key)) {
		p = jira_projects_text();
		cmd_error(item, "%s is not an incident ticket: I only work "
		    "with tickets of %s.", key, p);
		free(p);
		goto fail;
	}
	if (key != NULL) {
		if ((inc = incident_load(key)) == NULL) {
			cmd_error(item, "I know no incident %s.", key);
			goto fail;
		}
		if (json_str(inc, "channel") == NULL) {
			cmd_error(item, "%s has no Slack channel, so it has no "
			    "timeline.", key);
			cJSON_Delete(inc);
			goto fail;
		}
		channel = xstrdup(json_str(inc, "channel"));
		cJSON_Delete(inc);
	} else if (channel == NULL) {
		if (item->is_dm) {
			cmd_error(item, "Which incident? Usage: `%s`, for "
			    "example `get timeline %s-123`.",
			    item->entry->usage, cfg->jira.project);
			goto fail;
		}
		channel = xstrdup(item->channel);
	}
	if (key == NULL)
		key = incident_key_for_channel(channel);
	if (mode == GT_JIRA && key == NULL) {
		cmd_error(item, "This channel belongs to no incident, so there "
		    "is no Jira issue to post the timeline on.");
		goto fail;
	}

	st = xcalloc(1, sizeof(*st));
	st->start_ms = now_ms();
	st->item = item;
	st->mode = mode;
	st->nopd = nopd;
	st->channel = channel;
	st->key = key;
	st->in_channel = strcmp(channel, item->channel) == 0;
	if (key != NULL && (inc = incident_load(key)) != NULL) {
		if (json_str(inc, "summary") != NULL)
			st->summary = xstrdup(json_str(inc, "summary"));
		cJSON_Delete(inc);
	}
	TAILQ_INSERT_TAIL(&gt_busy, st, entry);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	slack_call("conversations.info", args, gt_info_cb, st);
	return (CMD_WAIT);

usage:
	cmd_error(item, "Usage: `%s`. In an incident channel, `get "
	    "timeline` is enough; elsewhere name the channel (as a #link) or "
	    "the incident, for example `get timeline %s-123`.",
	    item->entry->usage, cfg->jira.project);
fail:
	free(key);
	free(channel);
	return (CMD_ERROR);
}

static void
gt_info_cb(const struct slack_result *sr, void *arg)
{
	struct gt_state	*st = arg;
	const char	*name;
	char		*e;

	if (!sr->ok) {
		e = slack_escape(sr->error);
		if (sr->error != NULL &&
		    strcmp(sr->error, "channel_not_found") == 0)
			cmd_error(st->item, "I cannot see that channel.");
		else
			cmd_error(st->item, "Slack did not tell me about the "
			    "channel: %s.", e);
		free(e);
		gt_finish(st);
		return;
	}
	name = json_str(sr->json, "channel.name");
	st->channel_name = xstrdup(name != NULL ? name : st->channel);
	gt_name_set(st->channel, st->channel_name);
	st->created = (time_t)json_int(sr->json, "channel.created", 0, 0,
	    253402300799LL);	/* up to 9999-12-31 */
	/*
	 * A timeline is for the channel's members (public channels too: the
	 * bot may read what a requester could not) and incident managers.
	 */
	st->is_private = json_bool(sr->json, "channel.is_private");
	if (!st->in_channel && !access_is_manager(st->item->user)) {
		gt_member_check(st);
		return;
	}
	gt_maybe_backfill(st);
}

static void
gt_member_check(struct gt_state *st)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "user", st->item->user);
	cJSON_AddStringToObject(args, "types", st->is_private ?
	    "private_channel" : "public_channel");
	cJSON_AddStringToObject(args, "limit", "200");
	if (st->cursor != NULL)
		cJSON_AddStringToObject(args, "cursor", st->cursor);
	slack_call("users.conversations", args, gt_member_cb, st);
}

static void
gt_member_cb(const struct slack_result *sr, void *arg)
{
	struct gt_state	*st = arg;
	const cJSON	*c;
	const char	*next;
	char		*e;

	if (!sr->ok) {
		e = slack_escape(sr->error);
		cmd_error(st->item, "I could not check that you are in that "
		    "channel: %s.", e);
		free(e);
		gt_finish(st);
		return;
	}
	cJSON_ArrayForEach(c, json_path(sr->json, "channels")) {
		if (json_str(c, "id") != NULL &&
		    strcmp(json_str(c, "id"), st->channel) == 0) {
			gt_maybe_backfill(st);
			return;
		}
	}
	next = json_str(sr->json, "response_metadata.next_cursor");
	free(st->cursor);
	st->cursor = NULL;
	if (next != NULL && *next != '\0') {
		st->cursor = xstrdup(next);
		gt_member_check(st);
		return;
	}
	cmd_error(st->item, "You are not in that channel, so I cannot give "
	    "you its timeline. Join it%s, or ask one of its members or an "
	    "incident manager.", st->is_private ? " (it is private: ask to "
	    "be invited)" : "");
	gt_finish(st);
}

static void
gt_maybe_backfill(struct gt_state *st)
{
	char	*why, *ch;
	time_t	 from, to;
	uint64_t t0 = gt_now_us();

	why = timeline_backfill_needed(st->channel, st->created, &from, &to);
	st->busy_us += gt_now_us() - t0;
	if (why == NULL) {
		gt_resolve(st);
		return;
	}
	st->backfill = why;
	if (from != 0 && cfg->timeline.history_per_minute < 30) {
		ch = slack_escape(st->channel_name);
		cmd_reply(st->item, "Reading the history of #%s first (%s). "
		    "Slack allows me %lld request(s) a minute, so this can "
		    "take a while; the timeline follows when it is done.", ch,
		    why, cfg->timeline.history_per_minute);
		free(ch);
	}
	timeline_backfill(st->channel, from, to, gt_backfill_cb, st);
}

static void
gt_backfill_cb(const char *error, const char *summary, void *arg)
{
	struct gt_state	*st = arg;
	char		*tmp, *e;

	if (error != NULL) {
		e = slack_escape(error);
		cmd_error(st->item, "I could not read the channel history "
		    "(%s), so the timeline may miss messages tagged while I "
		    "was away.", e);
		free(e);
		xasprintf(&tmp, "%s; reading history failed: %s, after %s",
		    st->backfill, error, summary);
	} else
		xasprintf(&tmp, "%s; %s", st->backfill, summary);
	free(st->backfill);
	st->backfill = tmp;
	gt_resolve(st);
}

/* ------------------------------------------------------------ names */

static void
gt_want(struct gt_state *st, const char *id)
{
	size_t	i;

	if (gt_name_get(id) != NULL)
		return;
	for (i = 0; i < st->lookups.n; i++) {
		if (strcmp(st->lookups.v[i], id) == 0)
			return;
	}
	strlist_add(&st->lookups, id);
}

/* Collect the user and channel ids the lines will name. */
static void
gt_resolve(struct gt_state *st)
{
	struct timeline_list	 l;
	const char		*p, *q;
	char			*id;
	size_t			 i, len;
	uint64_t		 t0 = gt_now_us();

	if (timeline_load(st->channel, &l) != 0) {
		cmd_error(st->item, "I could not read the timeline index.");
		gt_finish(st);
		return;
	}
	for (i = 0; i < l.n; i++) {
		if (l.v[i].user != NULL)
			gt_want(st, l.v[i].user);
		for (p = l.v[i].text; (p = strchr(p, '<')) != NULL; p++) {
			if ((p[1] != '@' && p[1] != '#') ||
			    (q = strpbrk(p + 2, "|>")) == NULL)
				continue;
			len = q - (p + 2);
			/* <#C1|name> names itself. */
			if (!gt_valid_id(p + 2, len) || (p[1] == '#' &&
			    *q == '|'))
				continue;
			id = xstrndup(p + 2, len);
			gt_want(st, id);
			free(id);
		}
	}
	timeline_list_free(&l);
	st->busy_us += gt_now_us() - t0;
	st->lookup_i = 0;
	gt_resolve_next(st);
}

static void
gt_resolve_next(struct gt_state *st)
{
	const char	*id;
	cJSON		*args;

	if (st->lookup_i >= st->lookups.n) {
		gt_render(st);
		return;
	}
	id = st->lookups.v[st->lookup_i];
	args = cJSON_CreateObject();
	if (id[0] == 'C' || id[0] == 'G') {
		cJSON_AddStringToObject(args, "channel", id);
		slack_call("conversations.info", args, gt_lookup_cb, st);
	} else {
		cJSON_AddStringToObject(args, "user", id);
		slack_call("users.info", args, gt_lookup_cb, st);
	}
}

static void
gt_lookup_cb(const struct slack_result *sr, void *arg)
{
	struct gt_state	*st = arg;
	const char	*id = st->lookups.v[st->lookup_i], *name = NULL;

	if (sr->ok && json_path(sr->json, "user") != NULL) {
		name = json_str(sr->json, "user.profile.display_name");
		if (name == NULL || *name == '\0')
			name = json_str(sr->json, "user.real_name");
		if (name == NULL || *name == '\0')
			name = json_str(sr->json, "user.name");
	} else if (sr->ok)
		name = json_str(sr->json, "channel.name");
	/* Unknown ids stay ids: better than dropping the mention. */
	gt_name_set(id, name != NULL && *name != '\0' ? name : id);
	st->lookup_i++;
	gt_resolve_next(st);
}

/* ------------------------------------------------------------ render */

/* Slack markup to plain text, mentions by name, on one line. */
static char *
gt_plain(const char *text)
{
	const char	*p = text, *q, *name;
	char		*pre, *out, *id, *o;
	size_t		 len, cap;

	cap = strlen(text) + 1;
	pre = xmalloc(cap);
	o = pre;
	while (*p != '\0') {
		if (p[0] == '<' && (p[1] == '@' || p[1] == '#') &&
		    (q = strpbrk(p + 2, "|>")) != NULL && *q == '>' &&
		    gt_valid_id(p + 2, q - (p + 2))) {
			id = xstrndup(p + 2, q - (p + 2));
			name = gt_name_get(id);
			if (name != NULL) {
				/* <@U1> becomes <@U1|name>. */
				len = (size_t)(q - p) + 1 + strlen(name);
				cap += len;
				len = o - pre;
				pre = xrealloc(pre, cap);
				o = pre + len;
				memcpy(o, p, q - p);
				o += q - p;
				*o++ = '|';
				memcpy(o, name, strlen(name));
				o += strlen(name);
				*o++ = '>';
				p = q + 1;
				free(id);
				continue;
			}
			free(id);
		}
		*o++ = *p++;
	}
	*o = '\0';
	out = slack_plain_text(pre);
	free(pre);
	/* One line per message: newlines become " / ". */
	for (o = out; *o != '\0'; o++) {
		if (*o == '\r' || *o == '\t')
			*o = ' ';
	}
	len = 0;
	for (p = out; *p != '\0'; p++)
		len += *p == '\n' ? 3 : 1;
	pre = xmalloc(len + 1);
	o = pre;
	for (p = out; *p != '\0'; p++) {
		if (*p == '\n') {
			memcpy(o, " / ", 3);
			o += 3;
		} else
			*o++ = *p;
	}
	*o = '\0';
	free(out);
	return (pre);
}

/* Escape Jira wiki markup so user text stays text. */
static char *
gt_jira_escape(const char *s)
{
	char	*out, *o;

	out = o = xmalloc(strlen(s) * 2 + 1);
	for (; *s != '\0'; s++) {
		if (strchr("[]{}*_^+~?|!#-\\", *s) != NULL)
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	return (out);
}

/* One timeline line for an entry in the state's mode. */
static char *
gt_line(int mode, const struct timeline_entry *e)
{
	const char	*who;
	char		*when, *text, *url, *line, *etext, *ewho, *tmp;

	when = timeline_format_time(e->ts);
	who = e->user != NULL ? gt_name_get(e->user) : NULL;
	if (who == NULL)
		who = e->username != NULL ? e->username :
		    e->user != NULL ? e->user : "unknown";
	text = e->pending ? xstrdup("(text not available: the message was "
	    "not seen and history could not be read)") : gt_plain(e->text);
	if (e->thread_ts != NULL) {
		xasprintf(&tmp, "(in thread) %s", text);
		free(text);
		text = tmp;
	}
	url = slack_permalink(e->channel, e->ts);
	switch (mode) {
	case GT_JIRA:
		etext = gt_jira_escape(text);
		ewho = gt_jira_escape(who);
		xasprintf(&line, "* [%s|%s] *%s*: %s", when, url, ewho,
		    etext);
		break;
	case GT_MARKDOWN:
		etext = slack_escape(text);
		ewho = slack_escape(who);
		xasprintf(&line, "- %s — **%s**: %s ([link](%s))", when, ewho,
		    etext, url);
		break;
	default:
		etext = slack_escape(text);
		ewho = slack_escape(who);
		xasprintf(&line, "• *%s* — *%s* (<%s|link>): %s", when, ewho,
		    url, etext);
		break;
	}
	free(etext);
	free(ewho);
	free(when);
	free(text);
	free(url);
	return (line);
}

/* One PagerDuty event (pd_watch_events), marked as PagerDuty's. */
static char *
gt_pd_line(int mode, const cJSON *ev)
{
	char		 ts[32], *when, *text, *line;
	const char	*s;

	/* A stored event without text (an older or damaged record). */
	if ((s = json_str(ev, "text")) == NULL)
		s = "(no text)";
	snprintf(ts, sizeof(ts), "%lld.000000", json_int(ev, "at", 0, 0,
	    253402300799LL));
	when = timeline_format_time(ts);
	switch (mode) {
	case GT_JIRA:
		text = gt_jira_escape(s);
		xasprintf(&line, "* %s *PagerDuty event*: %s", when, text);
		break;
	case GT_MARKDOWN:
		text = slack_escape(s);
		xasprintf(&line, "- %s — **PagerDuty event**: %s", when, text);
		break;
	default:
		text = slack_escape(s);
		xasprintf(&line, "• *%s* — :pager: *PagerDuty event*: %s",
		    when, text);
		break;
	}
	free(text);
	free(when);
	return (line);
}

/*
 * Append line to the chunks, starting a new one when max would be
 * passed; a line longer than max is split (at a space when it can be)
 * and continued, never cut. head/tail wrap every chunk (code fences).
 */
static void
gt_chunk(struct strlist *chunks, const char *line, size_t max,
    const char *head, const char *tail)
{
	char		*last, *tmp;
	size_t		 len, cut, wrap = strlen(head) + strlen(tail);
	const char	*p = line;

	max -= wrap;
	while (*p != '\0') {
		last = chunks->n > 0 ? chunks->v[chunks->n - 1] : NULL;
		len = strlen(p);
		if (last != NULL && strlen(last) + 1 + len <= max) {
			xasprintf(&tmp, "%s\n%s", last, p);
			free(last);
			chunks->v[chunks->n - 1] = tmp;
			return;
		}
		if (len <= max) {
			strlist_add(chunks, p);
			return;
		}
		/* Longer than a message: split, at a space if possible. */
		cut = max;
		while (cut > max / 2 && p[cut] != ' ')
			cut--;
		if (p[cut] != ' ')
			cut = max;
		/* Do not split a UTF-8 sequence. */
		cut = utf8_cut(p, cut);
		if (cut == 0)
			cut = 1;
		tmp = xstrndup(p, cut);
		strlist_add(chunks, tmp);
		free(tmp);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

/*
 * The timeline's lines in the state's mode: tagged messages and, unless
 * nopd, PagerDuty's events (pd-watch.c) merged in time order. 0 or -1.
 */
static int
gt_lines(struct gt_state *st, struct strlist *lines)
{
	struct timeline_list	 l;
	cJSON			*pd;

	if (timeline_load(st->channel, &l) != 0)
		return (-1);
	st->nentries = l.n;
	pd = st->key != NULL && !st->nopd ? pd_watch_events(st->key) :
	    cJSON_CreateArray();
	st->npd = (size_t)cJSON_GetArraySize(pd);
	cmd_get_timeline_lines(st->mode, &l, pd, lines);
	cJSON_Delete(pd);
	timeline_list_free(&l);
	return (0);
}

/*
 * The lines of a timeline in mode (0 DM, 1 markdown, 2 Jira): the
 * entries and PagerDuty's events (pd_watch_events, in time order) merged.
 */
void
cmd_get_timeline_lines(int mode, const struct timeline_list *l,
    const cJSON *pd, struct strlist *lines)
{
	const cJSON	*ev;
	size_t		 i;

	ev = pd != NULL ? pd->child : NULL;
	timeline_tz_begin();
	for (i = 0; i <= l->n; i++) {
		while (ev != NULL && (i == l->n || json_num(ev, "at", 0) <=
		    strtod(l->v[i].ts, NULL))) {
			lines->v = xreallocarray(lines->v, lines->n + 1,
			    sizeof(*lines->v));
			lines->v[lines->n++] = gt_pd_line(mode, ev);
			ev = ev->next;
		}
		if (i == l->n)
			break;
		lines->v = xreallocarray(lines->v, lines->n + 1,
		    sizeof(*lines->v));
		lines->v[lines->n++] = gt_line(mode, &l->v[i]);
	}
	timeline_tz_end();
}

/* The lines cut into messages within mode's limit, code-fenced in 1. */
void
cmd_get_timeline_chunks(int mode, const struct strlist *lines,
    struct strlist *chunks)
{
	const char	*head, *tail;
	size_t		 i, max;

	max = cmd_get_timeline_chunk_max(mode);
	gt_fence(mode, &head, &tail);
	for (i = 0; i < lines->n; i++)
		gt_chunk(chunks, lines->v[i], max, head, tail);
}

/* What wraps every piece in mode: a code fence for markdown. */
static void
gt_fence(int mode, const char **head, const char **tail)
{
	*head = mode == GT_MARKDOWN ? "```\n" : "";
	*tail = mode == GT_MARKDOWN ? "\n```" : "";
}

/* The longest message cmd_get_timeline_chunks makes in mode. */
size_t
cmd_get_timeline_chunk_max(int mode)
{
	return (mode == GT_JIRA ? GT_JIRA_CHUNK : GT_SLACK_CHUNK);
}

static void
gt_render(struct gt_state *st)
{
	struct strlist		 chunks = { NULL, 0 }, lines = { NULL, 0 };
	const char		*head, *tail;
	char			*hdr, *sum, *ch, *tz, *tmp, *bf, *pdn;
	size_t			 i, max;
	uint64_t		 t0;

	t0 = gt_now_us();
	if (gt_lines(st, &lines) != 0) {
		strlist_free(&lines);
		cmd_error(st->item, "I could not read the timeline index.");
		gt_finish(st);
		return;
	}
	if (st->done != NULL) {
		gt_hand_back(st, &lines);
		strlist_free(&lines);
		return;
	}
	max = cmd_get_timeline_chunk_max(st->mode);
	gt_fence(st->mode, &head, &tail);
	cmd_get_timeline_chunks(st->mode, &lines, &chunks);
	strlist_free(&lines);

	/* The heading: incident, summary, channel, zone, backfill. */
	sum = st->summary != NULL ? xstrdup(st->summary) : xstrdup("");
	ch = xstrdup(st->channel_name);
	tmp = st->mode == GT_JIRA ? gt_jira_escape(sum) : slack_escape(sum);
	free(sum);
	sum = tmp;
	tmp = st->mode == GT_JIRA ? gt_jira_escape(ch) : slack_escape(ch);
	free(ch);
	ch = tmp;
	if (strcmp(cfg->timeline.timezone, "UTC") == 0)
		tz = xstrdup("times in UTC");
	else
		xasprintf(&tz, "times in UTC and %s", cfg->timeline.timezone);
	if (st->backfill != NULL) {
		tmp = st->mode == GT_JIRA ? gt_jira_escape(st->backfill) :
		    slack_escape(st->backfill);
		xasprintf(&bf, "\nA backfill from the channel history was "
		    "needed: %s.", tmp);
		free(tmp);
	} else
		bf = xstrdup("");
	if (st->npd > 0)
		xasprintf(&pdn, " and %zu PagerDuty event%s", st->npd,
		    st->npd == 1 ? "" : "s");
	else
		pdn = xstrdup("");
	if (st->key != NULL)
		xasprintf(&hdr, "%sTimeline of %s%s%s (#%s): %zu tagged "
		    "message%s%s, %s.%s", st->mode == GT_JIRA ? "" : ":memo: ",
		    st->key, *sum != '\0' ? ": " : "", sum, ch, st->nentries,
		    st->nentries == 1 ? "" : "s", pdn, tz, bf);
	else
		xasprintf(&hdr, ":memo: Timeline of #%s: %zu tagged message%s, "
		    "%s.%s", ch, st->nentries, st->nentries == 1 ? "" : "s",
		    tz, bf);
	free(sum);
	free(ch);
	free(tz);
	free(bf);
	free(pdn);
	if (st->nentries == 0) {
		xasprintf(&tmp, "%s\nNothing is tagged yet: add the :%s: "
		    "reaction to the messages that matter.", hdr,
		    cfg->slack.timeline_emoji);
		free(hdr);
		hdr = tmp;
	}
	/* Heading and pieces; "(part i/n)" when it takes several. */
	strlist_add(&st->chunks, hdr);
	for (i = 0; i < chunks.n; i++) {
		if (chunks.n > 1)
			xasprintf(&tmp, "%s(part %zu/%zu)%s\n%s%s%s",
			    st->mode == GT_JIRA ? "" : "_", i + 1, chunks.n,
			    st->mode == GT_JIRA ? "" : "_", head, chunks.v[i],
			    tail);
		else
			xasprintf(&tmp, "%s%s%s", head, chunks.v[i], tail);
		strlist_add(&st->chunks, tmp);
		free(tmp);
	}
	free(hdr);
	strlist_free(&chunks);
	/* The heading and the first piece in one message when they fit. */
	if (st->chunks.n > 1 && strlen(st->chunks.v[0]) +
	    strlen(st->chunks.v[1]) + 2 <= max) {
		xasprintf(&tmp, "%s\n%s%s", st->chunks.v[0],
		    st->mode == GT_JIRA ? "\n" : "", st->chunks.v[1]);
		free(st->chunks.v[1]);
		st->chunks.v[1] = tmp;
		st->chunk_i = 1;
	}
	st->busy_us += gt_now_us() - t0;
	gt_send_next(st);
}

/*
 * Hand the rendered pieces to a timeline_send job: they go out in order,
 * one per attempt step, each recorded before the next, so a stop in the
 * middle resumes at the piece it was sending. Each probe looks before
 * writing again: a DM piece by the token in its metadata, a Jira
 * comment among the newest comments.
 */
static void
gt_send_next(struct gt_state *st)
{
	cJSON	*args, *pieces;
	char	*key, *id;
	size_t	 i;

	args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "mode", st->mode);
	cJSON_AddStringToObject(args, "user", st->item->user);
	if (st->key != NULL)
		cJSON_AddStringToObject(args, "key", st->key);
	cJSON_AddStringToObject(args, "reply_channel", st->item->channel);
	if (st->item->thread_ts != NULL)
		cJSON_AddStringToObject(args, "reply_thread",
		    st->item->thread_ts);
	cJSON_AddBoolToObject(args, "is_dm", st->item->is_dm);
	cJSON_AddStringToObject(args, "channel_name", st->channel_name);
	cJSON_AddNumberToObject(args, "entries", (double)st->nentries);
	cJSON_AddNumberToObject(args, "next", (double)st->chunk_i);
	pieces = cJSON_AddArrayToObject(args, "pieces");
	for (i = 0; i < st->chunks.n; i++)
		cJSON_AddItemToArray(pieces,
		    cJSON_CreateString(st->chunks.v[i]));
	/* One request, one send: keyed by the command's message. */
	xasprintf(&key, "%s-%s", st->item->channel, st->item->ts);
	if ((id = job_create("timeline_send", key, args, 0)) == NULL)
		cmd_error(st->item, "I could not record that (state store "
		    "error); nothing was sent. Try again in a moment.");
	free(id);
	free(key);
	log_info("get timeline: %zu entries of %s: daemon time %llu.%03llu "
	    "ms; %zu message(s) to send", st->nentries, st->channel,
	    (unsigned long long)st->busy_us / 1000,
	    (unsigned long long)st->busy_us % 1000, st->chunks.n - st->chunk_i);
	gt_finish(st);
}

/* timeline_send: the next piece, or the closing reply. */
static void
gt_send_run(struct job *j)
{
	cJSON		*a = job_args(j);
	const cJSON	*pieces = json_path(a, "pieces");
	int		 next = (int)json_num(a, "next", 0);
	const char	*piece;
	char		*token;

	if (next >= cJSON_GetArraySize(pieces)) {
		job_done(j, NULL);
		return;
	}
	piece = cJSON_GetArrayItem(pieces, next)->valuestring;
	if ((int)json_num(a, "mode", GT_DM) == GT_JIRA) {
		jira_issue_comment(json_str(a, "key"), piece, gt_jira_cb, j);
		return;
	}
	token = gt_piece_token(j);
	slack_post_keyed(json_str(a, "user"), NULL, piece, NULL, token,
	    gt_sent_cb, j);
	free(token);
}

/* What a DM piece carries in its metadata: the job's token and its index. */
static char *
gt_piece_token(struct job *j)
{
	char	*token;

	xasprintf(&token, "%s.%d", job_token(j),
	    (int)json_num(job_args(j), "next", 0));
	return (token);
}

/*
 * A piece is out: record it (and when, for the next piece's probe to
 * look from), then the next.
 */
static void
gt_sent_one(struct job *j)
{
	cJSON	*a = job_args(j);
	int	 next = (int)json_num(a, "next", 0) + 1;

	cJSON_DeleteItemFromObject(a, "next");
	cJSON_AddNumberToObject(a, "next", next);
	cJSON_DeleteItemFromObject(a, "sent_at");
	cJSON_AddNumberToObject(a, "sent_at", (double)now_wall());
	job_checkpoint(j, gt_send_run);
}

static void
gt_sent_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j);
	const char	*dm;

	if (!sr->ok) {
		slack_job_post_failed(j, sr);
		return;
	}
	/* The DM's id, so a later piece's probe need not open it. */
	dm = json_str(sr->json, "channel");
	if (dm != NULL && *dm == 'D' && slack_valid_id(dm) &&
	    json_str(a, "dm_channel") == NULL)
		cJSON_AddStringToObject(a, "dm_channel", dm);
	gt_sent_one(j);
}

static void
gt_jira_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;

	if (jr->error == NULL)
		gt_sent_one(j);
	else
		jira_job_failed(j, jr);
}

/*
 * Was the piece posted (or commented) before the answer was lost? A DM
 * piece is looked up by its token, from a minute before the previous
 * piece was recorded (or the job began).
 */
static void
gt_send_probe(struct job *j)
{
	cJSON		*a = job_args(j);
	const char	*to;
	char		*token;
	time_t		 since;

	if ((int)json_num(a, "mode", GT_DM) == GT_JIRA) {
		jira_issue_comments(json_str(a, "key"), GT_COMMENTS,
		    gt_comments_cb, j);
		return;
	}
	if ((to = json_str(a, "dm_channel")) == NULL)
		to = json_str(a, "user");
	since = (time_t)json_num(a, "sent_at", (double)job_created(j));
	token = gt_piece_token(j);
	slack_post_find(to, NULL, token, since - 60, gt_found_cb, j);
	free(token);
}

static void
gt_found_cb(int found, const char *ts, void *arg)
{
	slack_job_found(arg, found, gt_sent_one);
}

static void
gt_comments_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j);
	const cJSON	*c, *piece;
	const char	*body;

	if (jr->error != NULL) {
		job_unsure(j, jr->error);
		return;
	}
	piece = cJSON_GetArrayItem(json_path(a, "pieces"),
	    (int)json_num(a, "next", 0));
	cJSON_ArrayForEach(c, json_path(jr->json, "comments")) {
		body = json_str(c, "body");
		if (body != NULL && cJSON_IsString(piece) &&
		    strcmp(body, piece->valuestring) == 0) {
			gt_sent_one(j);
			return;
		}
	}
	job_resend(j);
}

/* Done or failed: tell the requester where the command was typed. */
static void
gt_send_ended(struct job *j)
{
	cJSON	*a = job_args(j);
	char	*ch, *e, *text = NULL;
	int	 n = (int)json_num(a, "entries", 0);

	ch = slack_escape(json_str(a, "channel_name"));
	if (!job_succeeded(j)) {
		e = slack_escape(job_error(j));
		if ((int)json_num(a, "mode", GT_DM) == GT_JIRA)
			xasprintf(&text, ":warning: Jira did not take the "
			    "timeline comment on %s: %s.", json_str(a, "key"),
			    e);
		else
			xasprintf(&text, ":warning: I could not send you the "
			    "timeline: %s (after %d of %d messages).", e,
			    (int)json_num(a, "next", 0),
			    cJSON_GetArraySize(json_path(a, "pieces")));
		free(e);
	} else if ((int)json_num(a, "mode", GT_DM) == GT_JIRA)
		xasprintf(&text, "Posted the timeline of #%s (%d tagged "
		    "message%s) on %s.", ch, n, n == 1 ? "" : "s",
		    json_str(a, "key"));
	else if (!json_bool(a, "is_dm"))
		xasprintf(&text, "Sent you the timeline of #%s (%d tagged "
		    "message%s) in a DM.", ch, n, n == 1 ? "" : "s");
	if (text != NULL)
		cmd_reply_job(json_str(a, "reply_channel"),
		    json_str(a, "reply_thread"), text, job_id(j));
	if (job_succeeded(j) && json_str(a, "key") != NULL)
		evlog_add_id(json_str(a, "key"), EVLOG_TIMELINE_SENT,
		    now_wall(), job_token(j));
	free(text);
	free(ch);
}

const struct job_kind gt_send_job = {
	.name = "timeline_send",
	.run = gt_send_run,
	.probe = gt_send_probe,
	.ended = gt_send_ended,
	.max_attempts = 8
};

/* Give the lines to the caller that asked for them. */
static void
gt_hand_back(struct gt_state *st, const struct strlist *lines)
{
	cmd_get_timeline_cb	 cb = st->done;

	st->done = NULL;
	cb(st->item, lines, st->done_arg);
	st->item = NULL;
	gt_finish(st);
}

static void
gt_finish(struct gt_state *st)
{
	cmd_get_timeline_cb	cb = st->done;

	TAILQ_REMOVE(&gt_busy, st, entry);
	/* Handed back on failure: the caller finishes the item. */
	if (cb != NULL)
		cb(st->item, NULL, st->done_arg);
	else if (st->item != NULL)
		cmd_finish(st->item);
	free(st->channel);
	free(st->channel_name);
	free(st->key);
	free(st->summary);
	free(st->cursor);
	free(st->backfill);
	strlist_free(&st->lookups);
	strlist_free(&st->chunks);
	free(st);
}
