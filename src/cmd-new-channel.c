/*
 * cmd-new-channel.c: "new channel [KEY|URL]".
 *
 * Without an argument, offers the five newest open incident tickets as
 * buttons. With one, typed or picked, the command only records a
 * channel_setup job for the ticket, in its own turn, and the job does the
 * work after the commit. The job is keyed by the Jira key: two requests
 * for one ticket, at once or across a restart, find the same job, and the
 * second requester is told the channel is being set up (or where it is).
 * A failed job does not block the ticket: the next request makes the
 * next generation of the job ("KEY.2").
 *
 * The job runs as steps. Each is recorded (job_checkpoint) before the
 * next starts, so a crash resumes at the step it interrupted, and each has
 * its own answer to "was it done?" (the probe after a crash):
 *
 *   issue    read the ticket; keys outside our projects are refused, also
 *	      when Jira says the ticket moved there. A read: just repeat.
 *   create   conversations.create. The name is chosen and recorded in
 *	      the job before the create is sent. Slack names are unique, so
 *	      the probe looks that name up among the bot's channels
 *	      (users.conversations): a channel of that name that the bot
 *	      created and no other incident owns is ours, the create whose
 *	      answer was lost, and is adopted instead of making a "-2". A
 *	      name taken by a channel that is not ours gets the next suffix,
 *	      again recorded before it is sent. The channel is written on the
 *	      incident (incident.c) in the turn that records the step.
 *   topic    conversations.setTopic: the same topic again changes nothing.
 *   invite   conversations.invite: already_in_channel is success.
 *   post     the ticket, posted in the channel: AT LEAST ONCE. Slack has
 *	      no idempotency key for chat.postMessage, and looking for the
 *	      message would take conversations.history, which Slack limits
 *	      to one call a minute for most apps. A crash while posting may
 *	      post it twice, never zero times.
 *   link     the Jira remote link, upserted by globalId: repeat freely.
 *   comment  only where Jira refuses remote links: a comment with the
 *	      channel's URL; its probe reads the newest comments first.
 *
 * A step Slack refuses for good (topic, invite, post: the channel is
 * usable without) is left out, and the answer says what was.
 *
 * The ended hook answers the requester through a reply job, so the answer
 * is sent once the end is committed, after a crash too. Every error text
 * is plain and escaped (slack_escape) on its way to Slack.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define NC_KIND		"channel_setup"
#define NC_NAME_MAX	80
#define NC_TOPIC_MAX	250
#define NC_TOPIC_MIN	20		/* summary room worth a link */
#define NC_PICK_MAX	5
#define NC_SUFFIX_MAX	20
#define NC_GEN_MAX	100		/* failed jobs kept per ticket */
#define NC_LOOKUP_PAGES	20		/* of 999 channels */
#define NC_INVITE_MAX	100		/* conversations.invite's limit */
#define NC_COMMENTS	50		/* read by the comment probe */

/* One name lookup (users.conversations), page by page. */
struct nc_lookup {
	struct job	*job;
	int		 probing;	/* from the probe: job_resend after */
	int		 taken;		/* Slack said name_taken */
	int		 pages;
};

struct nc_step {
	const char	*name;
	void		(*run)(struct job *);
	void		(*probe)(struct job *);	/* NULL: run it again */
};

static void		 nc_refusal(const char *, char **);
static enum cmd_retval	 nc_exec(struct cmd_item *);
static void		 nc_pick_cb(const struct jira_result *, void *);
static int		 nc_existing(struct cmd_item *, const char *);
static void		 nc_start(struct cmd_item *, const char *);
static char		*nc_channel_name(const char *);
static char		*nc_topic(const char *, const char *, int);
static const struct nc_step *nc_step_find(struct job *);
static void		 nc_run(struct job *);
static void		 nc_probe(struct job *);
static void		 nc_ended(struct job *);
static void		 nc_advance(struct job *, const char *);
static void		 nc_finish(struct job *, int);
static void		 nc_slack_failed(struct job *, const char *,
			    const char *, const struct slack_result *,
			    const char *);
static void		 nc_issue_run(struct job *);
static void		 nc_issue_cb(const struct jira_result *, void *);
static void		 nc_create_run(struct job *);
static void		 nc_created_cb(const struct slack_result *, void *);
static int		 nc_adopt(struct job *, const char *);
static void		 nc_create_probe(struct job *);
static void		 nc_lookup(struct nc_lookup *, const char *);
static void		 nc_lookup_cb(const struct slack_result *, void *);
static int		 nc_ours(struct job *, const cJSON *);
static void		 nc_lookup_next_name(struct nc_lookup *);
static void		 nc_lookup_end(struct nc_lookup *);
static void		 nc_topic_run(struct job *);
static void		 nc_topic_cb(const struct slack_result *, void *);
static void		 nc_invite_run(struct job *);
static void		 nc_invite_cb(const struct slack_result *, void *);
static void		 nc_post_run(struct job *);
static void		 nc_posted_cb(const struct slack_result *, void *);
static void		 nc_post_probe(struct job *);
static void		 nc_post_found_cb(int, const char *, void *);
static void		 nc_post_found(struct job *);
static void		 nc_link_run(struct job *);
static void		 nc_link_cb(const struct jira_result *, void *);
static void		 nc_link_send(struct job *, jira_cb);
static void		 nc_mark_linked(const cJSON *);
static void		 nc_relink_run(struct job *);
static void		 nc_relink_ended(struct job *);
static int		 nc_reconcile_cb(const char *, const char *, size_t,
			    void *);
static int		 nc_busy(const char *);
static char		*nc_comment_text(struct job *);
static void		 nc_comment_run(struct job *);
static void		 nc_comment_cb(const struct jira_result *, void *);
static void		 nc_comment_probe(struct job *);
static void		 nc_comments_cb(const struct jira_result *, void *);

static void		 nc_pick_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 nc_reopen_click(const cJSON *, const cJSON *,
			    struct envelope *);

static const struct cmd_action nc_actions[] = {
	{ "channel_pick", nc_pick_click },
	{ "nc_reopen", nc_reopen_click },
	{ NULL, NULL }
};

const struct cmd_entry cmd_new_channel_entry = {
	.name = "new channel",
	.usage = "new channel [KEY|URL]",
	.help = "Create the incident's Slack channel (without a ticket: pick "
	    "one of the newest open incidents).",
	.exec = nc_exec,
	.actions = nc_actions
};

static const struct nc_step nc_steps[] = {
	{ "issue",	nc_issue_run,	NULL },
	{ "create",	nc_create_run,	nc_create_probe },
	{ "topic",	nc_topic_run,	NULL },
	{ "invite",	nc_invite_run,	NULL },
	{ "post",	nc_post_run,	nc_post_probe },
	{ "link",	nc_link_run,	NULL },
	{ "comment",	nc_comment_run,	nc_comment_probe },
};

/* The repair pass's link for a channel that never got one. */
const struct job_kind nc_link_job = {
	.name = "channel_link",
	.run = nc_relink_run,
	.ended = nc_relink_ended,
	.max_attempts = 8,
	.concurrency = 2
};

const struct job_kind nc_setup_job = {
	.name = NC_KIND,
	.run = nc_run,
	.probe = nc_probe,
	.ended = nc_ended,
	/* Counted over all the steps together. */
	.max_attempts = 12,
	.concurrency = 4
};


/* A ticket outside our projects: say which ones (plain text). */
static void
nc_refusal(const char *key, char **out)
{
	char	*p;

	p = jira_projects_text();
	xasprintf(out, "%s is not an incident ticket: I only work with "
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
			nc_refusal(key, &p);
			cmd_error(item, "%s", p);
			free(p);
			free(key);
			return (CMD_ERROR);
		}
		nc_start(item, key);
		free(key);
		return (CMD_DONE);
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

/* A ticket was picked: start its job as if its key had been typed. */
static void
nc_pick_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	struct cmd_item	*item;
	const char	*user, *channel, *ts, *value, *ats;
	cJSON		*args, *blocks;
	char		*text;

	user = json_str(payload, "user.id");
	channel = json_str(payload, "container.channel_id");
	ts = json_str(payload, "container.message_ts");
	value = json_str(action, "value");
	ats = json_str(action, "action_ts");
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
		slack_call_after_commit("chat.update", args);
		free(text);
	}
	item = cmd_item_new(channel, user, json_str(payload,
	    "message.thread_ts"));
	/* What this request is, for its "being set up" answer. */
	free(item->ts);
	item->ts = xstrdup(ats != NULL ? ats : (ts != NULL ? ts : ""));
	nc_start(item, value);
	cmd_finish(item);
}

/* Point to the incident's channel if it has one. */
static int
nc_existing(struct cmd_item *item, const char *key)
{
	cJSON		*inc;
	const char	*ch;

	if ((inc = incident_load(key)) == NULL)
		return (0);
	if ((ch = json_str(inc, "channel")) == NULL || !slack_valid_id(ch) ||
	    follow_channel_archived(key, ch)) {
		cJSON_Delete(inc);
		return (0);
	}
	cmd_reply(item, "%s already has a channel: <#%s>.", key, ch);
	cJSON_Delete(inc);
	return (1);
}

/*
 * Find the ticket's job: the first generation that has not failed. One
 * that is queued or running is shared; one that is done points to its
 * channel; if all failed, record the next generation in this turn.
 */
static void
nc_start(struct cmd_item *item, const char *key)
{
	cJSON		*args, *rec, *inc;
	const char	*state, *ch, *first, *prev;
	char		*jkey = NULL, *id = NULL, *text, *for_id;
	int		 gen;

	if (nc_existing(item, key))
		return;
	for (gen = 1; gen <= NC_GEN_MAX; gen++) {
		free(jkey);
		free(id);
		if (gen == 1)
			jkey = xstrdup(key);
		else
			xasprintf(&jkey, "%s.%d", key, gen);
		xasprintf(&id, "%s/%s", NC_KIND, jkey);
		if ((rec = job_load(id)) == NULL)
			break;
		state = json_str(rec, "state");
		if (state != NULL && strcmp(state, "failed") == 0) {
			cJSON_Delete(rec);
			continue;
		}
		ch = json_str(rec, "result.channel");
		first = json_str(rec, "args.user");
		/* Its channel was archived: this request makes a fresh one. */
		if (state != NULL && strcmp(state, "done") == 0 &&
		    ch != NULL && follow_channel_archived(key, ch)) {
			cJSON_Delete(rec);
			continue;
		}
		if (state != NULL && strcmp(state, "done") == 0 &&
		    ch != NULL && slack_valid_id(ch))
			xasprintf(&text, "%s already has a channel: <#%s>.",
			    key, ch);
		else if (slack_valid_id(first))
			xasprintf(&text, "The channel for %s is being set up "
			    "right now (<@%s> asked first).", key, first);
		else
			xasprintf(&text, "The channel for %s is being set up "
			    "right now.", key);
		/* After the commit: the job it points to may be this turn's. */
		xasprintf(&for_id, "%s/wait/%s-%s", id, item->channel,
		    item->ts);
		cmd_reply_job(item->channel, item->thread_ts, text, for_id);
		free(for_id);
		free(text);
		cJSON_Delete(rec);
		goto out;
	}
	if (gen > NC_GEN_MAX) {
		cmd_error(item, "Setting up a channel for %s failed %d times; "
		    "check the log before trying again.", key, NC_GEN_MAX);
		goto out;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "from", item->channel);
	cJSON_AddStringToObject(args, "user", item->user);
	if (item->thread_ts != NULL)
		cJSON_AddStringToObject(args, "thread_ts", item->thread_ts);
	cJSON_AddStringToObject(args, "step", "issue");
	if ((inc = incident_load(key)) != NULL) {
		prev = json_str(inc, "channel");
		if (prev != NULL && slack_valid_id(prev) &&
		    follow_channel_archived(key, prev))
			cJSON_AddStringToObject(args, "previous", prev);
		cJSON_Delete(inc);
	}
	free(id);
	if ((id = job_create(NC_KIND, jkey, args, 0)) == NULL)
		cmd_error(item, "I could not record that (state store error); "
		    "nothing was done. Try again in a moment.");
	else
		log_info("incident %s: channel requested by %s", key,
		    item->user);
out:
	free(jkey);
	free(id);
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

/*
 * The topic: ticket link and summary, within Slack's 250 characters
 * (counted here in bytes, which are never fewer). The summary is escaped,
 * then cut on a character boundary and never inside an entity. A link
 * too long to leave room for the summary is left out: the channel's
 * first message carries it.
 */
static char *
nc_topic(const char *browse, const char *summary, int closed)
{
	const char	*suffix = closed ? " (closed)" : "", *dots = "…";
	const char	*url = browse, *amp, *p;
	char		*esc, *out;
	size_t		 room, len;

	room = NC_TOPIC_MAX - strlen(suffix);
	if (strlen(url) + 1 + NC_TOPIC_MIN > room)
		url = "";
	room -= *url != '\0' ? strlen(url) + 1 : 0;
	esc = slack_escape(summary);
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


static const struct nc_step *
nc_step_find(struct job *j)
{
	const char	*step = json_str(job_args(j), "step");
	size_t		 i;

	for (i = 0; step != NULL && i < sizeof(nc_steps) /
	    sizeof(nc_steps[0]); i++) {
		if (strcmp(nc_steps[i].name, step) == 0)
			return (&nc_steps[i]);
	}
	return (NULL);
}

/* Run the step the job is at. */
static void
nc_run(struct job *j)
{
	const struct nc_step	*s;

	/* Links and ownership need the bot's identity (auth.test). */
	if (slack_self.user_id == NULL) {
		job_wait(j, 500);
		return;
	}
	if ((s = nc_step_find(j)) == NULL) {
		job_fail(j, "the job is at an unknown step");
		return;
	}
	log_debug("job %s: step %s", job_id(j), s->name);
	s->run(j);
}

/* After a crash or an unsure answer: the step's own probe, or again. */
static void
nc_probe(struct job *j)
{
	const struct nc_step	*s;

	if (slack_self.user_id == NULL) {
		job_wait(j, 500);
		return;
	}
	if ((s = nc_step_find(j)) == NULL || s->probe == NULL) {
		job_resend(j);
		return;
	}
	log_info("job %s: looking whether step %s was done", job_id(j),
	    s->name);
	s->probe(j);
}

/* Record that the job is at step next, then run it after the commit. */
static void
nc_advance(struct job *j, const char *next)
{
	cJSON	*a = job_args(j);

	json_set(a, "step", cJSON_CreateString(next));
	job_checkpoint(j, nc_run);
}

/* The channel is set up (or existed already). */
static void
nc_finish(struct job *j, int existing)
{
	cJSON	*a = job_args(j), *res;

	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "key", json_str(a, "ikey"));
	cJSON_AddStringToObject(res, "channel", json_str(a, "channel"));
	if (json_str(a, "name") != NULL)
		cJSON_AddStringToObject(res, "name", json_str(a, "name"));
	cJSON_AddBoolToObject(res, "existing", existing);
	/* The pinned status message, posted (or refreshed) after this. */
	incident_changed(json_str(a, "ikey"));
	job_done(j, res);
}

/*
 * A Slack call of a step failed: try again later if Slack may take it
 * then, else note it and go on to next (the channel is usable without);
 * the requester is told what was left undone (args "skipped").
 */
static void
nc_slack_failed(struct job *j, const char *method, const char *what,
    const struct slack_result *sr, const char *next)
{
	cJSON	*a = job_args(j), *sk;
	char	*why, *note;

	xasprintf(&why, "Slack %s: %s", method, sr->error != NULL ?
	    sr->error : "failed");
	if (slack_transient(sr))
		job_retry(j, 0, why);
	else {
		log_warnx("job %s: %s; going on", job_id(j), why);
		if (!cJSON_IsArray(sk = cJSON_GetObjectItemCaseSensitive(a,
		    "skipped")))
			sk = cJSON_AddArrayToObject(a, "skipped");
		xasprintf(&note, "I could not %s: %s", what, sr->error != NULL ?
		    sr->error : "failed");
		cJSON_AddItemToArray(sk, cJSON_CreateString(note));
		free(note);
		nc_advance(j, next);
	}
	free(why);
}

/* Step issue: read the ticket. */
static void
nc_issue_run(struct job *j)
{
	jira_issue_get(json_str(job_args(j), "key"), "summary,status",
	    nc_issue_cb, j);
}

static void
nc_issue_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j);
	const char	*key = json_str(a, "key"), *moved, *sum, *cat;
	char		*why, *name;

	if (jr->error != NULL) {
		if (jr->status == 429) {
			job_retry(j, 0, jr->error);
			return;
		}
		/* Nothing was done yet: fail now, a new request starts over. */
		if (jr->status == 404)
			xasprintf(&why, "Jira has no ticket %s (or I am not "
			    "allowed to see it).", key);
		else
			xasprintf(&why, "I could not read %s from Jira: %s.",
			    key, jr->error);
		job_fail(j, why);
		free(why);
		return;
	}
	/*
	 * Jira follows moved keys: use the key it answers with, unless the
	 * ticket moved out of our projects, where we must not follow it.
	 */
	moved = json_str(jr->json, "key");
	if (moved != NULL && jira_valid_key(moved) && strcmp(moved, key) != 0) {
		if (!jira_key_allowed(moved)) {
			nc_refusal(moved, &why);
			job_fail(j, why);
			free(why);
			return;
		}
		key = moved;
	}
	sum = json_str(jr->json, "fields.summary");
	cat = json_str(jr->json, "fields.status.statusCategory.key");
	json_set(a, "ikey", cJSON_CreateString(key));
	json_set(a, "summary", cJSON_CreateString(sum != NULL ? sum : ""));
	json_set(a, "closed", cJSON_CreateBool(cat != NULL &&
	    strcmp(cat, "done") == 0));
	/* The name is chosen, and recorded, before any create is sent. */
	name = nc_channel_name(key);
	json_set(a, "base", cJSON_CreateString(name));
	json_set(a, "name", cJSON_CreateString(name));
	json_set(a, "suffix", cJSON_CreateNumber(0));
	free(name);
	nc_advance(j, "create");
}

/* Step create: the channel of the recorded name. */
static void
nc_create_run(struct job *j)
{
	cJSON		*a = job_args(j), *inc, *args;
	const char	*ch;

	/* Another job (a moved key, an older generation) made one. */
	if ((inc = incident_load(json_str(a, "ikey"))) != NULL &&
	    (ch = json_str(inc, "channel")) != NULL && slack_valid_id(ch) &&
	    !follow_channel_archived(json_str(a, "ikey"), ch)) {
		json_set(a, "channel", cJSON_CreateString(ch));
		cJSON_Delete(inc);
		nc_finish(j, 1);
		return;
	}
	cJSON_Delete(inc);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "name", json_str(a, "name"));
	cJSON_AddBoolToObject(args, "is_private", 0);
	log_info("job %s: creating #%s", job_id(j), json_str(a, "name"));
	slack_call("conversations.create", args, nc_created_cb, j);
}

static void
nc_created_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	struct nc_lookup *lk;
	const char	*id = json_str(sr->json, "channel.id");
	char		*why;

	if (sr->ok && slack_valid_id(id)) {
		if (nc_adopt(j, id) == 0)
			nc_advance(j, "topic");
		return;
	}
	if (!sr->ok && sr->error != NULL &&
	    strcmp(sr->error, "name_taken") == 0) {
		/* Ours from before (a lost answer), or someone else's? */
		lk = xcalloc(1, sizeof(*lk));
		lk->job = j;
		lk->taken = 1;
		nc_lookup(lk, NULL);
		return;
	}
	if (sr->http_status == 429 || (sr->error != NULL &&
	    strcmp(sr->error, "ratelimited") == 0)) {
		job_retry(j, 0, "Slack conversations.create: ratelimited");
		return;
	}
	if (sr->ok || slack_transient(sr)) {
		/* No (usable) answer: Slack may have made it; look first. */
		job_unsure(j, sr->ok ? "Slack conversations.create: no "
		    "channel id" : sr->error);
		return;
	}
	xasprintf(&why, "Slack would not create #%s: %s.",
	    json_str(job_args(j), "name"), sr->error);
	job_fail(j, why);
	free(why);
}

/* The channel is ours: record it in the job and on the incident. */
static int
nc_adopt(struct job *j, const char *id)
{
	cJSON		*a = job_args(j), *d;
	const char	*key = json_str(a, "ikey");

	json_set(a, "channel", cJSON_CreateString(id));
	if (incident_set_channel(key, json_str(a, "summary"),
	    json_str(a, "user"), id, json_str(a, "name")) != 0) {
		job_retry(j, 1000, "could not record the channel");
		return (-1);
	}
	log_info("incident %s: channel #%s (%s) for %s", key,
	    json_str(a, "name"), id, json_str(a, "user"));
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "channel", id);
	evlog_add(key, EVLOG_CHANNEL_OPENED, now_wall(), d);
	return (0);
}

/* Was the create sent before the stop done? Look the name up. */
static void
nc_create_probe(struct job *j)
{
	struct nc_lookup	*lk;

	lk = xcalloc(1, sizeof(*lk));
	lk->job = j;
	lk->probing = 1;
	nc_lookup(lk, NULL);
}

/* One page of the bot's public channels (archived ones are not ours). */
static void
nc_lookup(struct nc_lookup *lk, const char *cursor)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "types", "public_channel");
	cJSON_AddBoolToObject(args, "exclude_archived", 1);
	cJSON_AddNumberToObject(args, "limit", 999);
	if (cursor != NULL)
		cJSON_AddStringToObject(args, "cursor", cursor);
	lk->pages++;
	slack_call("users.conversations", args, nc_lookup_cb, lk);
}

static void
nc_lookup_cb(const struct slack_result *sr, void *arg)
{
	struct nc_lookup	*lk = arg;
	struct job		*j = lk->job;
	const char		*name = json_str(job_args(j), "name");
	const char		*next;
	const cJSON		*c, *found = NULL;
	char			*why;

	if (!sr->ok) {
		xasprintf(&why, "Slack users.conversations: %s", sr->error);
		/* Still unsure, if it was: the next attempt looks again. */
		if (slack_transient(sr))
			job_retry(j, 0, why);
		else
			job_fail(j, why);
		free(why);
		free(lk);
		return;
	}
	cJSON_ArrayForEach(c, json_path(sr->json, "channels")) {
		if (json_str(c, "name") != NULL &&
		    strcmp(json_str(c, "name"), name) == 0) {
			found = c;
			break;
		}
	}
	if (found != NULL && nc_ours(j, found)) {
		log_info("job %s: #%s (%s) was created before; not again",
		    job_id(j), name, json_str(found, "id"));
		if (nc_adopt(j, json_str(found, "id")) != 0) {
			free(lk);
			return;
		}
		json_set(job_args(j), "step", cJSON_CreateString("topic"));
		nc_lookup_end(lk);
		return;
	}
	if (found != NULL) {
		/* The name is someone else's channel: the next name. */
		nc_lookup_next_name(lk);
		return;
	}
	/* Taken or not, ours may be on a later page: read them all first. */
	next = json_str(sr->json, "response_metadata.next_cursor");
	if (next != NULL && *next != '\0' && lk->pages < NC_LOOKUP_PAGES) {
		nc_lookup(lk, next);
		return;
	}
	if (lk->taken) {
		nc_lookup_next_name(lk);
		return;
	}
	/* Not there: the create never happened; send it (same name). */
	nc_lookup_end(lk);
}

/*
 * c has our name. It is ours if the bot created it and no other
 * incident owns it: names are unique, and the name is derived from the
 * key and recorded before the create, so only this job made it.
 */
static int
nc_ours(struct job *j, const cJSON *c)
{
	const char	*id = json_str(c, "id"), *creator;
	char		*owner;
	int		 ours;

	creator = json_str(c, "creator");
	if (!slack_valid_id(id) || creator == NULL ||
	    strcmp(creator, slack_self.user_id) != 0 ||
	    json_bool(c, "is_archived"))
		return (0);
	owner = incident_key_for_channel(id);
	ours = owner == NULL || strcmp(owner, json_str(job_args(j),
	    "ikey")) == 0;
	free(owner);
	return (ours);
}

/* The name belongs to a channel that is not ours: record the next one. */
static void
nc_lookup_next_name(struct nc_lookup *lk)
{
	struct job	*j = lk->job;
	cJSON		*a = job_args(j);
	char		*name, *why;
	int		 suffix = (int)json_num(a, "suffix", 0) + 1;

	if (suffix > NC_SUFFIX_MAX) {
		xasprintf(&why, "Slack would not create #%s: every name up to "
		    "#%s-%d is taken.", json_str(a, "base"),
		    json_str(a, "base"), suffix);
		job_fail(j, why);
		free(why);
		free(lk);
		return;
	}
	xasprintf(&name, "%s-%d", json_str(a, "base"), suffix + 1);
	log_info("job %s: #%s is taken; trying #%s", job_id(j),
	    json_str(a, "name"), name);
	json_set(a, "name", cJSON_CreateString(name));
	json_set(a, "suffix", cJSON_CreateNumber(suffix));
	free(name);
	nc_lookup_end(lk);
}

/* Go on from what the lookup recorded, once it is committed. */
static void
nc_lookup_end(struct nc_lookup *lk)
{
	struct job	*j = lk->job;

	if (lk->probing)
		job_resend(j);
	else
		job_checkpoint(j, nc_run);
	free(lk);
}


/* Step topic: the same topic set twice is still one topic. */
static void
nc_topic_run(struct job *j)
{
	cJSON	*a = job_args(j), *args;
	char	*topic, *url;

	url = jira_browse_url(json_str(a, "ikey"));
	topic = nc_topic(url, json_str(a, "summary"), json_bool(a, "closed"));
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(a, "channel"));
	cJSON_AddStringToObject(args, "topic", topic);
	slack_call("conversations.setTopic", args, nc_topic_cb, j);
	free(topic);
	free(url);
}

static void
nc_topic_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok)
		nc_advance(j, "invite");
	else
		nc_slack_failed(j, "conversations.setTopic",
		    "set its topic", sr, "invite");
}

/* Step invite: the incident managers and the requester. */
static void
nc_invite_run(struct job *j)
{
	cJSON		*a = job_args(j), *args;
	struct strlist	 users = { NULL, 0 };
	const char	*user = json_str(a, "user");
	char		*list, *tmp;
	size_t		 i, n = 0;

	for (i = 0; i < cfg->slack.incident_managers.n; i++)
		strlist_add(&users, cfg->slack.incident_managers.v[i]);
	if (user != NULL && *user != '\0')
		strlist_add(&users, user);
	list = xstrdup("");
	for (i = 0; i < users.n && n < NC_INVITE_MAX; i++) {
		if (strcmp(users.v[i], slack_self.user_id) == 0 ||
		    strstr(list, users.v[i]) != NULL)
			continue;
		xasprintf(&tmp, "%s%s%s", list, *list ? "," : "", users.v[i]);
		free(list);
		list = tmp;
		n++;
	}
	strlist_free(&users);
	if (*list == '\0') {
		free(list);
		nc_advance(j, "post");
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(a, "channel"));
	cJSON_AddStringToObject(args, "users", list);
	cJSON_AddBoolToObject(args, "force", 1);
	slack_call("conversations.invite", args, nc_invite_cb, j);
	free(list);
}

static void
nc_invite_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	/* Invited before (a resend after a crash): done as well. */
	if (sr->ok || (sr->error != NULL &&
	    strcmp(sr->error, "already_in_channel") == 0))
		nc_advance(j, "post");
	else
		nc_slack_failed(j, "conversations.invite",
		    "invite everyone", sr, "post");
}

/* Step post: the ticket in the channel (at least once, see the top). */
static void
nc_post_run(struct job *j)
{
	cJSON		*a = job_args(j), *inc, *blocks;
	const char	*pd, *key = json_str(a, "ikey");
	char		*text, *sum, *tmp, *url, *esc;
	int		 closed = json_bool(a, "closed");

	url = jira_browse_url(key);
	sum = slack_escape(json_str(a, "summary"));
	xasprintf(&text, ":rotating_light: *<%s|%s>*: %s%s", url, key, sum,
	    closed ? "\n:information_source: This ticket is already closed "
	    "in Jira." : "");
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	/* The incident's PagerDuty incident (page.c records it). */
	inc = incident_load(key);
	pd = json_str(inc, "pd.url");
	if (pd != NULL && strncmp(pd, "https://", 8) == 0 &&
	    strpbrk(pd, "|<> ") == NULL) {
		xasprintf(&tmp, ":pager: PagerDuty: <%s|incident>", pd);
		cJSON_AddItemToArray(blocks, blocks_section(tmp));
		free(tmp);
	} else if ((pd = json_str(inc, "pd.incident")) != NULL) {
		esc = slack_escape(pd);
		xasprintf(&tmp, ":pager: PagerDuty incident %s", esc);
		cJSON_AddItemToArray(blocks, blocks_section(tmp));
		free(tmp);
		free(esc);
	}
	cJSON_Delete(inc);
	if (slack_valid_id(json_str(a, "previous"))) {
		xasprintf(&tmp, ":open_file_folder: The ticket was reopened: "
		    "this channel continues <#%s>, which is archived.",
		    json_str(a, "previous"));
		cJSON_AddItemToArray(blocks, blocks_section(tmp));
		free(tmp);
	}
	if (slack_valid_id(json_str(a, "user")))
		xasprintf(&tmp, "Channel opened by <@%s>. Tag important "
		    "messages with :%s: for the timeline.", json_str(a, "user"),
		    cfg->slack.timeline_emoji);
	else
		xasprintf(&tmp, "Tag important messages with :%s: for the "
		    "timeline.", cfg->slack.timeline_emoji);
	cJSON_AddItemToArray(blocks, blocks_context(tmp));
	free(tmp);
	/* Keyed: a post whose answer was lost is looked up, not repeated. */
	slack_post_keyed(json_str(a, "channel"), NULL, text, blocks,
	    job_token(j), nc_posted_cb, j);
	free(text);
	free(sum);
	free(url);
}

static void
nc_posted_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok)
		nc_advance(j, "link");
	else if (slack_maybe_done(sr))
		job_unsure(j, sr->error);
	else
		nc_slack_failed(j, "chat.postMessage",
		    "post the ticket in it", sr, "link");
}

/* Was the ticket posted in the channel? Its token says. */
static void
nc_post_probe(struct job *j)
{
	slack_post_find(json_str(job_args(j), "channel"), NULL, job_token(j),
	    job_created(j) - 60, nc_post_found_cb, j);
}

static void
nc_post_found_cb(int found, const char *ts, void *arg)
{
	slack_job_found(arg, found, nc_post_found);
}

static void
nc_post_found(struct job *j)
{
	nc_advance(j, "link");
}

/* Step link: the channel on the ticket, as a remote link. */
static void
nc_link_run(struct job *j)
{
	nc_link_send(j, nc_link_cb);
}

/* The remote link for the job's channel (args ikey, channel, name). */
static void
nc_link_send(struct job *j, jira_cb cb)
{
	cJSON			*a = job_args(j);
	struct jira_link	 l;
	char			*url, *gid, *title;

	url = slack_channel_url(json_str(a, "channel"));
	xasprintf(&gid, "slack:%s:%s", slack_self.team_id != NULL ?
	    slack_self.team_id : "", json_str(a, "channel"));
	xasprintf(&title, "#%s", json_str(a, "name"));
	memset(&l, 0, sizeof(l));
	l.global_id = gid;
	l.url = url;
	l.title = title;
	l.summary = "Slack incident channel";
	l.relationship = "incident channel";
	jira_issue_link(json_str(a, "ikey"), &l, cb, j);
	free(url);
	free(gid);
	free(title);
}

static void
nc_link_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;

	if (jr->error == NULL) {
		nc_mark_linked(job_args(j));
		nc_finish(j, 0);
	} else if (jr->status == 429 || jira_maybe_done(jr))
		/* An upsert: sending it again cannot add a second link. */
		job_retry(j, 0, jr->error);
	else {
		/* Remote links unavailable (permissions, Jira config). */
		log_warnx("job %s: Jira refused the remote link (%s); "
		    "commenting instead", job_id(j), jr->error);
		nc_advance(j, "comment");
	}
}

static char *
nc_comment_text(struct job *j)
{
	char	*url, *text;

	url = slack_channel_url(json_str(job_args(j), "channel"));
	xasprintf(&text, "Slack incident channel: %s", url);
	free(url);
	return (text);
}

/* Step comment: the channel's URL as a comment, where links are refused. */
static void
nc_comment_run(struct job *j)
{
	char	*text;

	text = nc_comment_text(j);
	jira_issue_comment(json_str(job_args(j), "ikey"), text, nc_comment_cb,
	    j);
	free(text);
}

static void
nc_comment_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;

	if (jr->error == NULL) {
		nc_mark_linked(job_args(j));
		nc_finish(j, 0);
	} else if (jr->status == 429)
		job_retry(j, 0, jr->error);
	else if (jira_maybe_done(jr))
		/* Jira may have added it: read the comments first. */
		job_unsure(j, jr->error);
	else {
		log_warnx("job %s: could not link the channel in Jira: %s",
		    job_id(j), jr->error);
		nc_finish(j, 0);
	}
}

/* Is the comment there already? The newest comments tell. */
static void
nc_comment_probe(struct job *j)
{
	jira_issue_comments(json_str(job_args(j), "ikey"), NC_COMMENTS,
	    nc_comments_cb, j);
}

static void
nc_comments_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*c;
	const char	*body;
	char		*text;
	int		 found = 0;

	if (jr->error != NULL) {
		job_retry(j, 0, jr->error);
		return;
	}
	text = nc_comment_text(j);
	cJSON_ArrayForEach(c, json_path(jr->json, "comments")) {
		body = json_str(c, "body");
		if (body != NULL && strcmp(body, text) == 0)
			found = 1;
	}
	free(text);
	if (found) {
		log_info("job %s: the Jira comment was added before; not "
		    "again", job_id(j));
		nc_mark_linked(job_args(j));
		nc_finish(j, 0);
	} else
		job_resend(j);
}

/* Answer the requester (after the commit, so after a crash too). */
static void
nc_ended(struct job *j)
{
	cJSON		*a = job_args(j);
	const cJSON	*sk;
	const char	*key, *ch = json_str(a, "channel");
	char		*text, *e, *tmp;

	key = json_str(a, "ikey") != NULL ? json_str(a, "ikey") :
	    json_str(a, "key");
	if (ch != NULL && !slack_valid_id(ch))
		ch = NULL;
	if (job_succeeded(j) && ch != NULL) {
		if (json_bool(job_result(j), "existing"))
			xasprintf(&text, "%s already has a channel: <#%s>.",
			    key, ch);
		else
			xasprintf(&text, "Created <#%s> for %s.%s", ch, key,
			    json_bool(a, "closed") ? " (The ticket is closed "
			    "in Jira.)" : "");
		/* A step Slack refused, left out (nc_slack_failed). */
		cJSON_ArrayForEach(sk, cJSON_GetObjectItemCaseSensitive(a,
		    "skipped")) {
			if (!cJSON_IsString(sk))
				continue;
			e = slack_escape(sk->valuestring);
			xasprintf(&tmp, "%s\n:warning: %s.", text, e);
			free(text);
			free(e);
			text = tmp;
		}
	} else {
		e = slack_escape(job_error(j) != NULL ? job_error(j) :
		    "failed");
		if (ch != NULL)
			xasprintf(&text, ":warning: Created <#%s> for %s, but "
			    "I could not finish setting it up: %s", ch, key,
			    e);
		else
			xasprintf(&text, ":warning: %s", e);
		free(e);
	}
	cmd_reply_job(json_str(a, "from"), json_str(a, "thread_ts"), text,
	    job_id(j));
	free(text);
}

/* The channel is linked from the ticket: the repair pass skips it. */
static void
nc_mark_linked(const cJSON *a)
{
	const char	*key = json_str(a, "ikey"), *ch = json_str(a, "channel");
	cJSON		*inc;

	if (key == NULL || ch == NULL || (inc = incident_load(key)) == NULL)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(inc, "linked");
	cJSON_AddStringToObject(inc, "linked", ch);
	(void)incident_save(inc);
	cJSON_Delete(inc);
}

/*
 * "Open a new channel" (or "Unarchive") on the notice that an incident
 * whose channel was archived has been reopened: with slack.user_token
 * the old channel is unarchived (a job, follow.c), else a fresh channel
 * is set up like "new channel KEY", linked to the old one.
 */
static void
nc_reopen_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user = json_str(payload, "user.id");
	const char	*channel = json_str(payload, "channel.id");
	char		*key, *why;
	struct cmd_item	*item;

	(void)env;
	key = jira_parse_key(json_str(action, "value"));
	if (key == NULL || !jira_key_allowed(key) || !slack_valid_id(user) ||
	    !slack_valid_id(channel)) {
		free(key);
		return;
	}
	item = cmd_item_new(channel, user, NULL);
	free(item->ts);
	item->ts = xstrdup(json_str(payload, "action_ts") != NULL ?
	    json_str(payload, "action_ts") : "0");
	if (cfg->slack.user_token != NULL) {
		if ((why = follow_unarchive(key, user)) != NULL)
			cmd_error(item, "%s", why);
		else
			cmd_reply(item, "Unarchiving the channel of %s; you "
			    "will be invited.", key);
		free(why);
	} else
		nc_start(item, key);
	cmd_finish(item);
	free(key);
}

/* A channel_setup job of key is still queued or running. */
static int
nc_busy(const char *key)
{
	cJSON		*rec;
	const char	*st;
	char		*id;
	int		 gen, busy = 0;

	for (gen = 1; gen <= NC_GEN_MAX && !busy; gen++) {
		if (gen == 1)
			xasprintf(&id, "%s/%s", NC_KIND, key);
		else
			xasprintf(&id, "%s/%s.%d", NC_KIND, key, gen);
		rec = job_load(id);
		free(id);
		if (rec == NULL)
			break;
		st = json_str(rec, "state");
		busy = st != NULL && (strcmp(st, "queued") == 0 ||
		    strcmp(st, "running") == 0);
		cJSON_Delete(rec);
	}
	return (busy);
}

/*
 * A slice of the repair pass (follow.c): incident channels not linked
 * back in Jira while no setup job is at work on them get a channel_link
 * job. At most max incidents after *cursor (store_foreach_slice); how
 * many repairs started.
 */
int
nc_reconcile(char **cursor, size_t max)
{
	int	n = 0, rv;

	rv = store_foreach_slice(store, STORE_INCIDENTS, "", cursor, max,
	    nc_reconcile_cb, &n);
	if (rv != 0)
		log_warnx("reconcile: reading the incidents: %s",
		    store_strerror(rv));
	return (n);
}

static int
nc_reconcile_cb(const char *key, const char *val, size_t len, void *arg)
{
	int		*n = arg;
	cJSON		*inc, *args;
	const char	*ch, *linked;
	char		*jkey, *id;

	if ((inc = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	ch = json_str(inc, "channel");
	linked = json_str(inc, "linked");
	if (ch != NULL && slack_valid_id(ch) && jira_valid_key(key) &&
	    (linked == NULL || strcmp(linked, ch) != 0) && !nc_busy(key)) {
		xasprintf(&jkey, "%s.%s", key, ch);
		xasprintf(&id, "channel_link/%s", jkey);
		if ((args = job_load(id)) == NULL) {
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "ikey", key);
			cJSON_AddStringToObject(args, "channel", ch);
			cJSON_AddStringToObject(args, "name", json_str(inc,
			    "channel_name") != NULL ? json_str(inc,
			    "channel_name") : ch);
			free(job_create("channel_link", jkey, args, 0));
			log_info("reconcile: %s: #%s is not linked from the "
			    "ticket; linking it", key, ch);
			(*n)++;
		} else
			cJSON_Delete(args);
		free(id);
		free(jkey);
	}
	cJSON_Delete(inc);
	return (0);
}

static void
nc_relink_run(struct job *j)
{
	if (slack_self.user_id == NULL) {
		job_wait(j, 500);
		return;
	}
	nc_link_send(j, jira_job_cb);
}


/* Linked, or refused for good: either way the pass stops asking. */
static void
nc_relink_ended(struct job *j)
{
	if (!job_succeeded(j))
		log_warnx("job %s: could not link the channel from the "
		    "ticket: %s", job_id(j), job_error(j) != NULL ?
		    job_error(j) : "failed");
	nc_mark_linked(job_args(j));
}
