/*
 * cmd-status.c: "status [KEY]", and the pinned status message.
 *
 * One message says where an incident stands: the ticket as Jira has it
 * now (read live; if Jira does not answer, what the poller last saw, and
 * the message says so; the pinned message always shows the poller's),
 * the channel, when it was declared, every page with its PagerDuty state
 * and who holds it (page_summary's states from when each target ended,
 * replaced by the watcher's live ones: status_live), the open corrective
 * actions and the AAR. Remote text is
 * escaped; times are in timeline.timezone.
 *
 * The same text is pinned in the incident's channel and kept current:
 * incident_changed(key), called wherever an incident's state changes,
 * schedules one status_update job per incident. It coalesces: while one
 * is pending, further changes only bump a sequence number, and when the
 * job ends it starts another if the sequence moved on meanwhile (the
 * message it sent may predate the change). The job edits the message in
 * place (chat.update); the first one, or one whose message was deleted,
 * posts it and pins it (pins.add). The post is at least once, like every
 * post (cmd-new-channel.c): a stop between post and record may leave an
 * unpinned copy. This file owns the STORE_META records "status.KEY":
 *
 *	{ "channel", "ts", "seq", "queued" }
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define STATUS_KIND		"status_update"
#define STATUS_FIELDS		"summary,status,assignee"
#define STATUS_TIME_FMT		"%Y-%m-%d %H:%M %Z"

/* A status being built: the ticket is read from Jira first. */
struct status_req {
	char			*key;
	struct cmd_item		*item;
};

static enum cmd_retval	 status_exec(struct cmd_item *);
static void		 status_read(struct status_req *);
static void		 status_jira_cb(const struct jira_result *, void *);
static char		*status_text(const char *, const cJSON *, int);
static char		*status_when(time_t);
static void		 status_target(struct strlist *, const cJSON *);
static void		 status_live(cJSON *, const char *);
static void		 status_job_send(struct job *, const char *);
static void		 status_run(struct job *);
static void		 status_updated_cb(const struct slack_result *, void *);
static void		 status_posted_cb(const struct slack_result *, void *);
static void		 status_pin_run(struct job *);
static void		 status_pinned_cb(const struct slack_result *, void *);
static void		 status_ended(struct job *);

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "status [KEY]",
	.help = "Where the incident stands: the ticket, the channel, when it "
	    "was declared, every page and who holds it, open corrective "
	    "actions and the AAR (in an incident channel, or for KEY).",
	.exec = status_exec
};

const struct job_kind status_update_job = {
	.name = STATUS_KIND,
	.run = status_run,
	.ended = status_ended,
	.max_attempts = 6,
	.concurrency = 2
};

static enum cmd_retval
status_exec(struct cmd_item *item)
{
	struct status_req	*r;
	cJSON			*inc, *m;
	char			*key, *esc;

	if (item->argc > 1) {
		cmd_error(item, "Usage: `%s`.", cmd_status_entry.usage);
		return (CMD_ERROR);
	}
	if (item->argc == 1) {
		if ((key = jira_parse_key(item->argv[0])) == NULL ||
		    !jira_key_allowed(key)) {
			free(key);
			esc = slack_escape(item->argv[0]);
			cmd_error(item, "`%s` is not a ticket of ours: give a "
			    "key like `INC-42`.", esc);
			free(esc);
			return (CMD_ERROR);
		}
	} else if ((key = incident_key_for_channel(item->channel)) == NULL) {
		cmd_error(item, "This is not an incident channel. Ask in the "
		    "incident's channel, or name the ticket: `status KEY`.");
		return (CMD_ERROR);
	}
	if ((inc = incident_load(key)) == NULL) {
		cmd_error(item, "I know of no incident %s.", key);
		free(key);
		return (CMD_ERROR);
	}
	/* The first status in a channel without its pinned message. */
	m = store_meta_get("status", key);
	if (json_str(inc, "channel") != NULL && m == NULL)
		incident_changed(key);
	cJSON_Delete(m);
	cJSON_Delete(inc);
	r = xcalloc(1, sizeof(*r));
	r->key = key;
	r->item = item;
	status_read(r);
	return (CMD_WAIT);
}

static void
status_read(struct status_req *r)
{
	jira_issue_get(r->key, STATUS_FIELDS, status_jira_cb, r);
}

static void
status_jira_cb(const struct jira_result *jr, void *arg)
{
	struct status_req	*r = arg;
	char			*text;

	text = status_text(r->key, jr->error == NULL ? jr->json : NULL, 0);
	cmd_reply(r->item, "%s", text);
	cmd_finish(r->item);
	free(text);
	free(r->key);
	free(r);
}

/* A time in timeline.timezone: "2026-12-03 14:05 CET". */
static char *
status_when(time_t t)
{
	return (time_format_zone(t, cfg->timeline.timezone,
	    STATUS_TIME_FMT));
}

/*
 * The status of key as mrkdwn (caller frees); issue is Jira's answer or
 * NULL (Jira did not answer; for the pinned message, not asked). pinned:
 * the kept message, from what the poller saw, with when it was updated.
 */
static char *
status_text(const char *key, const cJSON *issue, int pinned)
{
	cJSON		*inc, *fs, *pages;
	const cJSON	*p, *t, *act;
	const char	*summary, *jst, *who, *ch;
	struct strlist	 l = { NULL, 0 };
	char		*url, *e1, *e2, *when, *ago, *out;
	time_t		 now = now_wall(), decl, aar;

	inc = incident_load(key);
	fs = follow_status(key);
	url = jira_browse_url(key);
	if (issue != NULL) {
		summary = json_str(issue, "fields.summary");
		jst = json_str(issue, "fields.status.name");
		who = json_str(issue, "fields.assignee.displayName");
	} else {
		summary = json_str(fs, "summary");
		jst = json_str(fs, "status");
		who = json_str(fs, "assignee");
	}
	if (summary == NULL)
		summary = json_str(inc, "summary");
	e1 = slack_escape(summary);
	strlist_addf(&l, ":bar_chart: *Status of <%s|%s>*: %s", url, key, e1);
	free(e1);
	e1 = slack_escape(jst != NULL ? jst : "unknown");
	e2 = slack_escape(who);
	strlist_addf(&l, "• Jira: %s, %s%s%s", e1, who != NULL ?
	    "assigned to " : "unassigned", e2, issue == NULL && !pinned ?
	    " _(Jira did not answer: as of the last poll)_" : "");
	free(e1);
	free(e2);
	if ((ch = json_str(inc, "channel")) != NULL)
		strlist_addf(&l, "• Channel: <#%s>", ch);
	else
		strlist_add(&l, "• Channel: none yet (`new channel KEY`)");
	if ((decl = (time_t)json_num(inc, "declared_at", 0)) > 0) {
		when = status_when(decl);
		ago = duration_short(now - decl);
		if (json_str(inc, "declared_by") != NULL &&
		    *json_str(inc, "declared_by") != '\0')
			strlist_addf(&l, "• Declared: %s (%s ago) by <@%s>",
			    when, ago, json_str(inc, "declared_by"));
		else
			strlist_addf(&l, "• Declared: %s (%s ago)", when, ago);
		free(when);
		free(ago);
	}
	pages = page_summary(key);
	status_live(pages, key);
	if (cJSON_GetArraySize(pages) == 0)
		strlist_add(&l, "• Pages: none");
	cJSON_ArrayForEach(p, pages) {
		when = status_when((time_t)json_num(p, "created", 0));
		if (json_str(p, "by") != NULL)
			strlist_addf(&l, "• Page of %s by <@%s>:", when,
			    json_str(p, "by"));
		else
			strlist_addf(&l, "• Page of %s:", when);
		free(when);
		cJSON_ArrayForEach(t, json_path(p, "targets"))
			status_target(&l, t);
	}
	cJSON_Delete(pages);
	if (cJSON_GetArraySize(json_path(fs, "actions")) == 0)
		strlist_add(&l, "• Open corrective actions: none");
	else
		strlist_add(&l, "• Open corrective actions:");
	cJSON_ArrayForEach(act, json_path(fs, "actions")) {
		e1 = slack_escape(json_str(act, "summary"));
		e2 = jira_browse_url(json_str(act, "key"));
		strlist_addf(&l, "      – <%s|%s> %s, due %s", e2,
		    json_str(act, "key"), e1, json_str(act, "due") != NULL ?
		    json_str(act, "due") : "(no date)");
		free(e1);
		free(e2);
	}
	/* A datetime in the configured zone; a date or other value as is. */
	if (time_parse_iso(json_str(fs, "aar"), &aar) == 0)
		e1 = status_when(aar);
	else
		e1 = slack_escape(json_str(fs, "aar"));
	strlist_addf(&l, "• AAR: %s", json_str(fs, "aar") !=
	    NULL ? e1 : "not scheduled");
	free(e1);
	if (pinned) {
		when = status_when(now);
		strlist_addf(&l, "_Kept up to date by the bot; last updated "
		    "%s._", when);
		free(when);
	}
	out = strlist_join(&l, "\n");
	strlist_free(&l);
	free(url);
	cJSON_Delete(fs);
	cJSON_Delete(inc);
	return (out);
}

/* One target of a page: "– payments: acknowledged (PagerDuty Q1), held
 * by Bob". */
/*
 * What the PagerDuty watcher knows now replaces the state each target had
 * when it was paged: its status and who holds it.
 */
static void
status_live(cJSON *pages, const char *key)
{
	cJSON		*live, *t, *p;
	const cJSON	*l;
	const char	*pd;

	live = pd_watch_summary(key);
	cJSON_ArrayForEach(p, pages) {
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(p, "targets")) {
			if ((pd = json_str(t, "pd_incident")) == NULL)
				continue;
			cJSON_ArrayForEach(l, live) {
				if (json_str(l, "id") == NULL ||
				    strcmp(json_str(l, "id"), pd) != 0)
					continue;
				cJSON_DeleteItemFromObject(t, "status");
				cJSON_AddStringToObject(t, "status",
				    json_str(l, "status") != NULL ?
				    json_str(l, "status") : "?");
				cJSON_DeleteItemFromObject(t, "users");
				cJSON_AddItemToObject(t, "users",
				    cJSON_Duplicate(json_path(l, "assignees"),
				    1));
				break;
			}
		}
	}
	cJSON_Delete(live);
}

static void
status_target(struct strlist *l, const cJSON *t)
{
	const cJSON	*u;
	const char	*st, *pd = json_str(t, "pd_incident");
	struct strlist	 names = { NULL, 0 };
	char		*name, *held, *epd, *us;

	st = json_str(t, "status") != NULL ? json_str(t, "status") :
	    json_str(t, "state");
	cJSON_ArrayForEach(u, json_path(t, "users")) {
		if (json_str(u, "name") != NULL)
			strlist_add(&names, json_str(u, "name"));
	}
	us = strlist_join_words(&names, "and");
	held = slack_escape(us);
	name = slack_escape(json_str(t, "name"));
	epd = slack_escape(pd);
	strlist_addf(l, "      – %s: %s%s%s%s%s%s", name, st != NULL ? st :
	    "?", pd != NULL ? " (PagerDuty " : "", epd, pd != NULL ? ")" : "",
	    names.n > 0 ? ", held by " : "", held);
	free(epd);
	free(name);
	free(held);
	free(us);
	strlist_free(&names);
}

/* ---------------------------------------------------- pinned message */




/* Start the status_update job for key's change number seq. */
static void
status_schedule(const char *key, cJSON *m, int seq)
{
	cJSON	*args;
	char	*k, *id;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddNumberToObject(args, "seq", seq);
	xasprintf(&k, "%s.%d", key, seq);
	id = job_create(STATUS_KIND, k, args, 0);
	json_set(m, "queued", cJSON_CreateBool(id != NULL));
	free(id);
	free(k);
}

/*
 * Incident key changed (in this turn): refresh its pinned status after
 * the commit. One job pending per incident; more changes meanwhile only
 * move the sequence on (see the top). Nothing for an incident without a
 * channel, or whose channel was archived.
 */
void
incident_changed(const char *key)
{
	cJSON		*inc, *m;
	const char	*ch;
	int		 seq;

	if (key == NULL || (inc = incident_load(key)) == NULL)
		return;
	ch = json_str(inc, "channel");
	if (ch == NULL || follow_channel_archived(key, ch)) {
		cJSON_Delete(inc);
		return;
	}
	cJSON_Delete(inc);
	if ((m = store_meta_get("status", key)) == NULL)
		m = cJSON_CreateObject();
	seq = (int)json_num(m, "seq", 0) + 1;
	json_set(m, "seq", cJSON_CreateNumber(seq));
	if (!json_bool(m, "queued"))
		status_schedule(key, m, seq);
	(void)store_meta_put("status", key, m);
	cJSON_Delete(m);
}

/* status_update: read the ticket, then edit (or post) the message. */
static void
status_run(struct job *j)
{
	const char		*key = json_str(job_args(j), "key");
	char			*text;
	cJSON			*inc;

	if (json_str(job_args(j), "step") != NULL &&
	    strcmp(json_str(job_args(j), "step"), "pin") == 0) {
		status_pin_run(j);
		return;
	}
	if ((inc = incident_load(key)) == NULL ||
	    json_str(inc, "channel") == NULL) {
		cJSON_Delete(inc);
		job_done(j, NULL);
		return;
	}
	cJSON_Delete(inc);
	/* What the poller saw: no Jira read for every change. */
	text = status_text(key, NULL, 1);
	status_job_send(j, text);
	free(text);
}

static void
status_job_send(struct job *j, const char *text)
{
	const char	*key = json_str(job_args(j), "key"), *ch;
	cJSON		*inc, *m, *args, *blocks;

	inc = incident_load(key);
	ch = json_str(inc, "channel");
	if (ch == NULL) {
		cJSON_Delete(inc);
		job_done(j, NULL);
		return;
	}
	m = store_meta_get("status", key);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", ch);
	cJSON_AddStringToObject(args, "text", text);
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	cJSON_AddItemToObject(args, "blocks", blocks);
	if (json_str(m, "ts") != NULL && json_str(m, "channel") != NULL &&
	    strcmp(json_str(m, "channel"), ch) == 0) {
		cJSON_AddStringToObject(args, "ts", json_str(m, "ts"));
		slack_call("chat.update", args, status_updated_cb, j);
	} else
		slack_call("chat.postMessage", args, status_posted_cb, j);
	cJSON_Delete(m);
	cJSON_Delete(inc);
}

static void
status_updated_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	const char	*key = json_str(job_args(j), "key");
	cJSON		*m;

	if (sr->ok) {
		job_done(j, NULL);
		return;
	}
	if (sr->error != NULL && (strcmp(sr->error, "message_not_found") ==
	    0 || strcmp(sr->error, "cant_update_message") == 0 ||
	    strcmp(sr->error, "edit_window_closed") == 0)) {
		/* Deleted (or not ours to edit): post and pin a new one. */
		log_info("job %s: the status message: %s; posting anew",
		    job_id(j), sr->error);
		if ((m = store_meta_get("status", key)) != NULL) {
			cJSON_DeleteItemFromObject(m, "ts");
			(void)store_meta_put("status", key, m);
			cJSON_Delete(m);
		}
		job_checkpoint(j, status_run);
		return;
	}
	slack_job_failed(j, sr);
}

static void
status_posted_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	const char	*key = json_str(job_args(j), "key");
	const char	*ts = json_str(sr->json, "ts");
	const char	*ch = json_str(sr->json, "channel");
	cJSON		*m;

	if (!sr->ok || ts == NULL || ch == NULL) {
		slack_job_failed(j, sr);
		return;
	}
	if ((m = store_meta_get("status", key)) == NULL)
		m = cJSON_CreateObject();
	json_set(m, "channel", cJSON_CreateString(ch));
	json_set(m, "ts", cJSON_CreateString(ts));
	(void)store_meta_put("status", key, m);
	cJSON_Delete(m);
	json_set(job_args(j), "step", cJSON_CreateString("pin"));
	job_checkpoint(j, status_pin_run);
}

/* Pin the posted message; pinning again is harmless (already_pinned). */
static void
status_pin_run(struct job *j)
{
	const char	*key = json_str(job_args(j), "key");
	cJSON		*m, *args;

	if ((m = store_meta_get("status", key)) == NULL || json_str(m, "ts") ==
	    NULL) {
		cJSON_Delete(m);
		job_done(j, NULL);
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(m, "channel"));
	cJSON_AddStringToObject(args, "timestamp", json_str(m, "ts"));
	slack_call("pins.add", args, status_pinned_cb, j);
	cJSON_Delete(m);
}

static void
status_pinned_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok || (sr->error != NULL && strcmp(sr->error,
	    "already_pinned") == 0)) {
		job_done(j, NULL);
		return;
	}
	if (slack_transient(sr)) {
		job_retry(j, 0, sr->error);
		return;
	}
	/* Unpinned, the message is still there and kept current. */
	log_warnx("job %s: pins.add: %s; the status stays unpinned",
	    job_id(j), sr->error != NULL ? sr->error : "failed");
	job_done(j, NULL);
}

/* The job ended: another if the incident changed while it ran. */
static void
status_ended(struct job *j)
{
	const char	*key = json_str(job_args(j), "key");
	cJSON		*m;
	int		 seq = (int)json_num(job_args(j), "seq", 0);

	if ((m = store_meta_get("status", key)) == NULL)
		return;
	json_set(m, "queued", cJSON_CreateBool(0));
	if ((int)json_num(m, "seq", 0) > seq)
		status_schedule(key, m, (int)json_num(m, "seq", 0));
	(void)store_meta_put("status", key, m);
	cJSON_Delete(m);
}
