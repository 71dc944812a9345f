/*
 * cmd-postmortem.c: "postmortem [KEY]", a draft report on the Jira issue.
 *
 * Nobody should start a postmortem from a blank page when the bot saw the
 * whole incident. The draft is built from what is recorded: the ticket
 * (read live), the incident-manager form (severity, impact, services,
 * note: the incident record's "details"), the key times from the incident
 * event log (evlog.c) and the PagerDuty watcher, the people (declarer,
 * who paged and was paged, who acknowledged, who posted tagged messages),
 * the timeline exactly as `get timeline jira` renders it (the lines come
 * from cmd_get_timeline_jira: same access rule, backfill and names), the
 * corrective actions the poller saw (follow.c), and empty Root cause and
 * Lessons learned sections. It is Jira wiki markup; Slack text is made
 * plain and escaped the way the timeline escapes it.
 *
 * The requester sees a preview with a "Write to Jira" button that only
 * they may press. Pressing it records a "postmortem" job (keyed KEY.n,
 * n the draft's number) in the same turn; after the commit the job writes
 * the draft as a comment, or into jira.postmortem_field when that is set.
 * A comment carries a marker ("[incidentd postmortem KEY]"): the job
 * looks for it first and edits that comment in place (PUT), so a second
 * draft replaces the first instead of adding one. If an answer is lost
 * (a 5xx, a timeout, a crash), the probe reads the comments before any
 * resend: a comment with the marker and this very body means it was
 * written. One job runs at a time, so two confirmations cannot both
 * find no comment and both add one. A field is overwritten whole, which
 * is safe to repeat.
 *
 * This file owns the STORE_META records "postmortem.KEY":
 *
 *	{ "n", "user", "state" ("preview", "writing", "written",
 *	  "cancelled", "failed"), "body", "channel", "thread",
 *	  "comment" (the comment's id, once written), "field" }
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define PM_KIND		"postmortem"
#define PM_FIELDS	"summary,status,assignee"
#define PM_COMMENTS	100		/* newest comments searched */
#define PM_MAX		30000		/* under Jira's 32,767 */
#define PM_PREVIEW	2000		/* bytes of draft in the preview */
#define PM_TIME_FMT	"%Y-%m-%d %H:%M %Z"
#define PM_UNKNOWN	"—"

/* A draft being built: the ticket, then the timeline. */
struct pm_req {
	char			*key;
	char			*channel;	/* the incident's, or NULL */
	cJSON			*issue;		/* Jira's answer, or NULL */
	struct cmd_item		*item;
};

static enum cmd_retval	 pm_exec(struct cmd_item *);
static void		 pm_issue_cb(const struct jira_result *, void *);
static void		 pm_timeline_cb(struct cmd_item *,
			    const struct strlist *, void *);
static void		 pm_req_free(struct pm_req *);
static char		*pm_draft(struct pm_req *, const struct strlist *);
static char		*pm_section_timeline(const struct strlist *, size_t);
static char		*pm_esc(const char *);
static char		*pm_marker(const char *);
static void		 pm_section_summary(struct strlist *, struct pm_req *,
			    const cJSON *);
static void		 pm_section_times(struct strlist *, const char *,
			    const cJSON *);
static void		 pm_section_people(struct strlist *, const char *,
			    const cJSON *, const char *);
static void		 pm_section_actions(struct strlist *, const char *);
static time_t		 pm_evlog_time(const char *, const char *, int,
			    cJSON **);
static const char	*pm_name(const char *);
static void		 pm_preview(struct pm_req *, const char *);
static cJSON		*pm_click(const cJSON *, const cJSON *,
			    const char **);
static void		 pm_update_preview(const cJSON *, const cJSON *,
			    const char *);
static void		 pm_confirm_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 pm_cancel_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 pm_run(struct job *);
static void		 pm_found_cb(const struct jira_result *, void *);
static const cJSON	*pm_find(const struct jira_result *, const char *);
static void		 pm_written_cb(const struct jira_result *, void *);
static void		 pm_probe(struct job *);
static void		 pm_probe_cb(const struct jira_result *, void *);
static void		 pm_done(struct job *, const char *);
static void		 pm_ended(struct job *);

static const struct cmd_action pm_actions[] = {
	{ "pm_confirm", pm_confirm_click },
	{ "pm_cancel", pm_cancel_click },
	{ NULL, NULL }
};

const struct cmd_entry cmd_postmortem_entry = {
	.name = "postmortem",
	.usage = "postmortem [KEY]",
	.help = "Draft the incident's postmortem (summary, impact, key "
	    "times, people, timeline, corrective actions) and, once you "
	    "confirm the preview, write it to its Jira issue; run it again "
	    "to update the same draft (in an incident channel, or for KEY).",
	.exec = pm_exec,
	.actions = pm_actions
};

const struct job_kind postmortem_job = {
	.name = PM_KIND,
	.run = pm_run,
	.probe = pm_probe,
	.ended = pm_ended,
	.max_attempts = 8,
	.concurrency = 1
};

/* ------------------------------------------------------------ command */

static enum cmd_retval
pm_exec(struct cmd_item *item)
{
	struct pm_req	*r;
	cJSON		*inc;
	char		*key, *esc;

	if (item->argc > 1) {
		cmd_error(item, "Usage: `%s`.", cmd_postmortem_entry.usage);
		return (CMD_ERROR);
	}
	if (item->argc == 1) {
		if ((key = jira_parse_key(item->argv[0])) == NULL ||
		    !jira_key_allowed(key)) {
			free(key);
			esc = slack_escape(item->argv[0]);
			cmd_error(item, "`%s` is not a ticket of ours: give a "
			    "key like `%s-42`.", esc, cfg->jira.project);
			free(esc);
			return (CMD_ERROR);
		}
	} else if ((key = incident_key_for_channel(item->channel)) == NULL) {
		cmd_error(item, "This is not an incident channel. Ask in the "
		    "incident's channel, or name the ticket: `postmortem "
		    "KEY`.");
		return (CMD_ERROR);
	}
	if ((inc = incident_load(key)) == NULL) {
		cmd_error(item, "I know of no incident %s.", key);
		free(key);
		return (CMD_ERROR);
	}
	r = xcalloc(1, sizeof(*r));
	r->key = key;
	r->item = item;
	if (json_str(inc, "channel") != NULL)
		r->channel = xstrdup(json_str(inc, "channel"));
	cJSON_Delete(inc);
	jira_issue_get(key, PM_FIELDS, pm_issue_cb, r);
	return (CMD_WAIT);
}

static void
pm_req_free(struct pm_req *r)
{
	free(r->key);
	free(r->channel);
	cJSON_Delete(r->issue);
	free(r);
}

/* The ticket (or not: the draft says what the incident record knows). */
static void
pm_issue_cb(const struct jira_result *jr, void *arg)
{
	struct pm_req	*r = arg;
	struct strlist	 names = { NULL, 0 };
	cJSON		*inc;
	size_t		 i;

	if (jr->error == NULL && jr->json != NULL)
		r->issue = cJSON_Duplicate(jr->json, 1);
	if (r->channel == NULL) {
		pm_timeline_cb(r->item, NULL, r);
		return;
	}
	/* Slack people the draft names, resolved with the timeline's. */
	inc = incident_load(r->key);
	if (json_str(inc, "declared_by") != NULL &&
	    *json_str(inc, "declared_by") != '\0')
		strlist_add(&names, json_str(inc, "declared_by"));
	if (json_str(inc, "im_page.by") != NULL)
		strlist_add(&names, json_str(inc, "im_page.by"));
	for (i = 0; i < cfg->slack.incident_managers.n; i++)
		strlist_add(&names, cfg->slack.incident_managers.v[i]);
	cJSON_Delete(inc);
	cmd_get_timeline_jira(r->item, r->key, r->channel, &names,
	    pm_timeline_cb, r);
	strlist_free(&names);
}

/* The timeline's lines are here (NULL: none, or it failed and said so). */
static void
pm_timeline_cb(struct cmd_item *item, const struct strlist *lines,
    void *arg)
{
	struct pm_req	*r = arg;
	char		*body;

	if (lines == NULL && r->channel != NULL) {
		cmd_finish(item);
		pm_req_free(r);
		return;
	}
	body = pm_draft(r, lines);
	pm_preview(r, body);
	free(body);
	cmd_finish(item);
	pm_req_free(r);
}

/* ------------------------------------------------------------ the draft */

static char *
pm_esc(const char *s)
{
	return (cmd_get_timeline_jira_escape(s));
}

/* The marker that finds the draft's comment again, escaped as it is sent. */
static char *
pm_marker(const char *key)
{
	char	*m;

	xasprintf(&m, "\\[incidentd postmortem %s\\]", key);
	return (m);
}

/* A Slack user's name as the timeline resolved it, else the id. */
static const char *
pm_name(const char *id)
{
	const char	*n;

	n = cmd_get_timeline_name(id, now_wall());
	return (n != NULL ? n : id);
}

/* A field of the incident-manager form as one escaped line, or "—". */
static char *
pm_form(const cJSON *inc, const char *name)
{
	const char	*v = json_str(inc, name);
	char		*flat, *o, *out;

	if (v == NULL || *v == '\0')
		return (xstrdup(PM_UNKNOWN));
	/* Plain text from a modal: one line, so no line starts markup. */
	flat = xstrdup(v);
	for (o = flat; *o != '\0'; o++) {
		if (*o == '\n' || *o == '\r' || *o == '\t')
			*o = ' ';
	}
	out = pm_esc(flat);
	free(flat);
	return (out);
}

static void
pm_section_summary(struct strlist *l, struct pm_req *r, const cJSON *inc)
{
	const char	*sum, *st, *who;
	cJSON		*fs;
	char		*e1, *e2, *e3, *v;

	fs = follow_status(r->key);
	sum = json_str(r->issue, "fields.summary");
	st = json_str(r->issue, "fields.status.name");
	who = json_str(r->issue, "fields.assignee.displayName");
	if (r->issue == NULL) {
		sum = json_str(fs, "summary");
		st = json_str(fs, "status");
		who = json_str(fs, "assignee");
	}
	if (sum == NULL)
		sum = json_str(inc, "summary");
	strlist_add(l, "h2. Summary and severity");
	e1 = pm_esc(sum != NULL ? sum : "");
	e2 = pm_esc(st != NULL ? st : "unknown");
	e3 = pm_esc(who != NULL ? who : "nobody");
	strlist_addf(l, "* *Ticket:* %s: %s (Jira status: %s, assigned to "
	    "%s)", r->key, e1, e2, e3);
	free(e1);
	free(e2);
	free(e3);
	v = pm_form(inc, "details.severity");
	strlist_addf(l, "* *Severity:* %s", v);
	free(v);
	v = pm_form(inc, "details.services");
	strlist_addf(l, "* *Affected services:* %s", v);
	free(v);
	if (json_str(inc, "details.note") != NULL) {
		v = pm_form(inc, "details.note");
		strlist_addf(l, "* *Note on the incident-manager page:* %s", v);
		free(v);
	}
	strlist_add(l, "");
	strlist_add(l, "h2. Impact");
	if (json_str(inc, "details.impact") != NULL) {
		v = pm_form(inc, "details.impact");
		strlist_add(l, v);
		free(v);
	} else
		strlist_add(l, "_Not given on the incident-manager form: who "
		    "was affected, how, and for how long?_");
	strlist_add(l, "");
	cJSON_Delete(fs);
}

struct pm_evlog_walk {
	int	 last;
	time_t	 t;
	cJSON	*detail;
};

static int
pm_evlog_cb(const cJSON *e, void *arg)
{
	struct pm_evlog_walk	*w = arg;
	time_t			 t = (time_t)json_num(e, "time", 0);

	if (t <= 0 || (w->t != 0 && (w->last ? t < w->t : t >= w->t)))
		return (0);
	w->t = t;
	cJSON_Delete(w->detail);
	w->detail = cJSON_Duplicate(json_path(e, "detail"), 1);
	return (0);
}

/* The first (or last) time of an event of key, 0 if none; its detail. */
static time_t
pm_evlog_time(const char *key, const char *type, int last, cJSON **detail)
{
	struct pm_evlog_walk	w = { last, 0, NULL };

	(void)evlog_foreach(key, type, pm_evlog_cb, &w);
	if (detail != NULL)
		*detail = w.detail;
	else
		cJSON_Delete(w.detail);
	return (w.t);
}

/* The table of key times: each in the zone, and since the declaration. */
static void
pm_section_times(struct strlist *l, const char *key, const cJSON *inc)
{
	static const char *names[] = { "Declared", "Channel opened",
	    "Incident manager paged", "First acknowledgement",
	    "Resolved (PagerDuty)", "Ticket closed" };
	time_t		 t[6], decl, r;
	cJSON		*pd;
	const cJSON	*p;
	char		*when, *since;
	size_t		 i;
	int		 open = 0;

	decl = pm_evlog_time(key, EVLOG_DECLARED, 0, NULL);
	if (decl == 0)
		decl = (time_t)json_num(inc, "declared_at", 0);
	t[0] = decl;
	t[1] = pm_evlog_time(key, EVLOG_CHANNEL_OPENED, 0, NULL);
	t[2] = pm_evlog_time(key, EVLOG_IM_PAGED, 0, NULL);
	t[3] = pm_evlog_time(key, EVLOG_FIRST_ACK, 0, NULL);
	/* Resolved once every PagerDuty incident of it is: the last. */
	t[4] = 0;
	pd = pd_watch_summary(key);
	cJSON_ArrayForEach(p, pd) {
		if (time_parse_iso(json_str(p, "resolved_at"), &r) != 0)
			open = 1;
		else if (r > t[4])
			t[4] = r;
	}
	if (open)
		t[4] = 0;
	cJSON_Delete(pd);
	t[5] = pm_evlog_time(key, EVLOG_TICKET_CLOSED, 1, NULL);
	if (t[5] != 0 && pm_evlog_time(key, EVLOG_TICKET_REOPENED, 1,
	    NULL) > t[5])
		t[5] = 0;

	strlist_add(l, "h2. Key times and durations");
	when = pm_esc(cfg->timeline.timezone);
	strlist_addf(l, "_Times in %s; durations from the declaration._",
	    when);
	free(when);
	strlist_add(l, "||Event||Time||Since declared||");
	for (i = 0; i < 6; i++) {
		when = t[i] != 0 ? time_format_zone(t[i],
		    cfg->timeline.timezone, PM_TIME_FMT) : xstrdup(PM_UNKNOWN);
		since = i > 0 && t[i] != 0 && decl != 0 && t[i] >= decl ?
		    duration_short(t[i] - decl) : xstrdup(PM_UNKNOWN);
		strlist_addf(l, "|%s|%s|%s|", names[i], when, since);
		free(when);
		free(since);
	}
	strlist_add(l, "");
}

/* Append "name" to a list once. */
static void
pm_person(struct strlist *l, const char *name)
{
	size_t	i;

	if (name == NULL || *name == '\0')
		return;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], name) == 0)
			return;
	}
	strlist_add(l, name);
}

/* A labelled line of names, escaped; "—" when there are none. */
static void
pm_people_line(struct strlist *l, const char *label, struct strlist *names)
{
	char	*j, *e;

	j = strlist_join(names, ", ");
	e = pm_esc(j);
	strlist_addf(l, "* *%s:* %s", label, names->n > 0 ? e : PM_UNKNOWN);
	free(e);
	free(j);
	strlist_free(names);
}

static void
pm_section_people(struct strlist *l, const char *key, const cJSON *inc,
    const char *channel)
{
	struct strlist		 im = { NULL, 0 }, paged = { NULL, 0 };
	struct strlist		 acked = { NULL, 0 }, posted = { NULL, 0 };
	struct strlist		 one = { NULL, 0 };
	struct timeline_list	 tl;
	cJSON			*pages, *imd = NULL, *ackd = NULL, *live;
	const cJSON		*p, *t, *u;
	const char		*impage, *by;
	size_t			 i;

	strlist_add(l, "h2. People involved");
	by = json_str(inc, "declared_by");
	if (by != NULL && *by != '\0')
		pm_person(&one, pm_name(by));
	pm_people_line(l, "Declared by", &one);
	if ((by = json_str(inc, "im_page.by")) != NULL) {
		pm_person(&one, pm_name(by));
		pm_people_line(l, "Incident manager paged by", &one);
	}
	/* The incident manager's page: its targets' people are the IMs. */
	(void)pm_evlog_time(key, EVLOG_IM_PAGED, 0, &imd);
	impage = json_str(imd, "page");
	pages = page_summary(key);
	cJSON_ArrayForEach(p, pages) {
		cJSON_ArrayForEach(t, json_path(p, "targets")) {
			cJSON_ArrayForEach(u, json_path(t, "users")) {
				if (impage != NULL && json_str(p, "id") !=
				    NULL && strcmp(impage, json_str(p, "id")) ==
				    0)
					pm_person(&im, json_str(u, "name"));
				pm_person(&paged, json_str(u, "name"));
			}
			if (json_path(t, "users") == NULL ||
			    cJSON_GetArraySize(json_path(t, "users")) == 0)
				pm_person(&paged, json_str(t, "name"));
		}
	}
	cJSON_Delete(pages);
	cJSON_Delete(imd);
	pm_people_line(l, "Incident managers", &im);
	pm_people_line(l, "Paged", &paged);
	/* Who acknowledged: the first, then who holds each acknowledged. */
	(void)pm_evlog_time(key, EVLOG_FIRST_ACK, 0, &ackd);
	pm_person(&acked, json_str(ackd, "by"));
	cJSON_Delete(ackd);
	live = pd_watch_summary(key);
	cJSON_ArrayForEach(p, live) {
		if (json_str(p, "acknowledged_at") == NULL)
			continue;
		cJSON_ArrayForEach(u, json_path(p, "assignees"))
			pm_person(&acked, json_str(u, "name"));
	}
	cJSON_Delete(live);
	pm_people_line(l, "Acknowledged", &acked);
	if (channel != NULL && timeline_load(channel, &tl) == 0) {
		for (i = 0; i < tl.n; i++)
			pm_person(&posted, tl.v[i].user != NULL ?
			    pm_name(tl.v[i].user) : tl.v[i].username);
		timeline_list_free(&tl);
	}
	pm_people_line(l, "Posted tagged messages", &posted);
	strlist_add(l, "");
}

static void
pm_section_actions(struct strlist *l, const char *key)
{
	cJSON		*acts;
	const cJSON	*a;
	char		*s, *o, *st;

	strlist_add(l, "h2. Corrective actions");
	acts = follow_actions(key);
	if (cJSON_GetArraySize(acts) == 0)
		strlist_addf(l, "_None linked yet: create tickets labelled %s "
		    "and link them to %s._", cfg->jira.followup_label, key);
	else
		strlist_add(l, "||Ticket||Summary||Owner||Due||Status||");
	cJSON_ArrayForEach(a, acts) {
		s = pm_esc(json_str(a, "summary"));
		o = pm_esc(json_str(a, "owner") != NULL ? json_str(a,
		    "owner") : "unassigned");
		st = pm_esc(json_str(a, "status") != NULL ? json_str(a,
		    "status") : json_bool(a, "done") ? "done" : "open");
		strlist_addf(l, "|%s|%s|%s|%s|%s|", json_str(a, "key"), s, o,
		    json_str(a, "due") != NULL ? json_str(a, "due") :
		    PM_UNKNOWN, st);
		free(s);
		free(o);
		free(st);
	}
	cJSON_Delete(acts);
	strlist_add(l, "");
}

/* The timeline section within room bytes (lines NULL: no channel). */
static char *
pm_section_timeline(const struct strlist *lines, size_t room)
{
	struct strlist	 l = { NULL, 0 };
	size_t		 i, len = 128;
	char		*out;

	strlist_add(&l, "h2. Timeline");
	for (i = 0; lines != NULL && i < lines->n; i++) {
		if (len + strlen(lines->v[i]) + 1 > room)
			break;
		strlist_add(&l, lines->v[i]);
		len += strlen(lines->v[i]) + 1;
	}
	if (lines == NULL || lines->n == 0)
		strlist_addf(&l, "_Nothing tagged: add the :%s: reaction to "
		    "the messages that matter, then run postmortem again._",
		    cfg->slack.timeline_emoji);
	else if (i < lines->n)
		strlist_addf(&l, "_%zu more entries did not fit: get timeline "
		    "jira posts them all._", lines->n - i);
	strlist_add(&l, "");
	out = strlist_join(&l, "\n");
	strlist_free(&l);
	return (out);
}

/* The whole draft in Jira wiki markup (caller frees). */
static char *
pm_draft(struct pm_req *r, const struct strlist *lines)
{
	struct strlist	 l = { NULL, 0 };
	cJSON		*inc;
	char		*m, *when, *head, *tl, *tail, *out;
	size_t		 used;

	inc = incident_load(r->key);
	m = pm_marker(r->key);
	when = time_format_zone(now_wall(), cfg->timeline.timezone,
	    PM_TIME_FMT);
	strlist_addf(&l, "h1. Postmortem draft: %s", r->key);
	strlist_addf(&l, "_Drafted by incidentd on %s from Slack, PagerDuty "
	    "and Jira. Running postmortem again replaces this draft. %s_",
	    when, m);
	strlist_add(&l, "");
	free(when);
	free(m);
	pm_section_summary(&l, r, inc);
	pm_section_times(&l, r->key, inc);
	pm_section_people(&l, r->key, inc, r->channel);
	head = strlist_join(&l, "\n");
	strlist_free(&l);
	pm_section_actions(&l, r->key);
	strlist_add(&l, "h2. Root cause");
	strlist_add(&l, "_What failed, and why was it possible? Ask why "
	    "until the answer is something we can change._");
	strlist_add(&l, "");
	strlist_add(&l, "h2. Lessons learned");
	strlist_add(&l, "_What went well, what went badly, and where were "
	    "we lucky?_");
	tail = strlist_join(&l, "\n");
	strlist_free(&l);
	/* The timeline gets what the other sections leave of the limit. */
	used = strlen(head) + strlen(tail) + 2;
	tl = pm_section_timeline(lines, used < PM_MAX ? PM_MAX - used : 0);
	xasprintf(&out, "%s\n%s\n%s", head, tl, tail);
	free(head);
	free(tl);
	free(tail);
	cJSON_Delete(inc);
	return (out);
}

/* ------------------------------------------------------------ preview */




/* The preview's blocks: what it is, the draft's start, the buttons. */
static cJSON *
pm_blocks(const char *key, const char *intro, const char *body, int n)
{
	cJSON	*blocks, *els;
	char	*cut, *esc, *text, *v;

	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(intro));
	if (body != NULL) {
		cut = utf8_truncate(body, PM_PREVIEW, 1);
		esc = slack_escape(cut);
		xasprintf(&text, "```%s```", esc);
		cJSON_AddItemToArray(blocks, blocks_section(text));
		free(text);
		free(esc);
		free(cut);
	}
	if (n > 0) {
		xasprintf(&v, "%s|%d", key, n);
		els = cJSON_CreateArray();
		cJSON_AddItemToArray(els, blocks_button("Write to Jira",
		    "pm_confirm", v, "primary"));
		cJSON_AddItemToArray(els, blocks_button("Cancel", "pm_cancel",
		    v, NULL));
		cJSON_AddItemToArray(blocks, blocks_actions("pm_buttons", els));
		free(v);
	}
	return (blocks);
}

/* Record draft n for the requester and show it, with its buttons. */
static void
pm_preview(struct pm_req *r, const char *body)
{
	cJSON	*m;
	char	*url, *intro, *where;
	int	 n;

	if ((m = store_meta_get("postmortem", r->key)) == NULL)
		m = cJSON_CreateObject();
	n = (int)json_num(m, "n", 0) + 1;
	json_set(m, "n", cJSON_CreateNumber(n));
	json_set(m, "user", cJSON_CreateString(r->item->user));
	json_set(m, "state", cJSON_CreateString("preview"));
	json_set(m, "body", cJSON_CreateString(body));
	json_set(m, "channel", cJSON_CreateString(r->item->channel));
	if (r->item->thread_ts != NULL)
		json_set(m, "thread", cJSON_CreateString(r->item->thread_ts));
	else
		cJSON_DeleteItemFromObject(m, "thread");
	url = jira_browse_url(r->key);
	if (cfg->jira.postmortem_field != NULL)
		xasprintf(&where, "into its `%s` field (replacing what is "
		    "there)", cfg->jira.postmortem_field);
	else if (json_str(m, "comment") != NULL)
		where = xstrdup("over the draft comment already there");
	else
		where = xstrdup("as a comment");
	xasprintf(&intro, ":memo: *Postmortem draft for <%s|%s>* (%zu "
	    "characters in Jira markup; the start below). *Write to Jira* "
	    "puts it on the issue %s; only <@%s> can.", url, r->key,
	    strlen(body), where, r->item->user);
	(void)store_meta_put("postmortem", r->key, m);
	cmd_reply_blocks(r->item, intro, pm_blocks(r->key, intro, body, n));
	free(intro);
	free(where);
	free(url);
	cJSON_Delete(m);
}

/* The draft a click names, if the clicker may act on it; else NULL. */
static cJSON *
pm_click(const cJSON *payload, const cJSON *action, const char **user)
{
	const char	*ch = json_str(payload, "container.channel_id");
	const char	*v = json_str(action, "value"), *st;
	char		*key, *text = NULL;
	cJSON		*m;
	int		 n;

	if (ch == NULL)
		ch = json_str(payload, "channel.id");
	*user = json_str(payload, "user.id");
	if (v == NULL || *user == NULL || strchr(v, '|') == NULL)
		return (NULL);
	key = xstrndup(v, strcspn(v, "|"));
	n = atoi(strchr(v, '|') + 1);
	m = store_meta_get("postmortem", key);
	free(key);
	st = json_str(m, "state");
	if (m == NULL || (int)json_num(m, "n", 0) != n)
		text = xstrdup("A newer draft replaced this one: use the "
		    "newest preview, or run `postmortem` again.");
	else if (strcmp(json_str(m, "user"), *user) != 0)
		xasprintf(&text, "Only <@%s>, who asked for this draft, can "
		    "write it to Jira or cancel it. Type `postmortem` for a "
		    "draft of your own.", json_str(m, "user"));
	else if (st == NULL || strcmp(st, "preview") != 0)
		xasprintf(&text, "This draft was already %s.", st != NULL &&
		    strcmp(st, "cancelled") == 0 ? "cancelled" :
		    "sent to Jira");
	if (text != NULL) {
		if (ch != NULL)
			slack_post_ephemeral(ch, *user, text, NULL, NULL);
		free(text);
		cJSON_Delete(m);
		return (NULL);
	}
	return (m);
}

/* Show what became of the preview, without buttons, after the commit. */
static void
pm_update_preview(const cJSON *payload, const cJSON *m, const char *status)
{
	const char	*ch = json_str(payload, "container.channel_id");
	const char	*ts = json_str(payload, "container.message_ts");
	cJSON		*args;

	if (ch == NULL || ts == NULL)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", ch);
	cJSON_AddStringToObject(args, "ts", ts);
	cJSON_AddStringToObject(args, "text", status);
	cJSON_AddItemToObject(args, "blocks", pm_blocks(NULL, status,
	    json_str(m, "body"), 0));
	slack_call_after_commit("chat.update", args);
}

/* "Write to Jira": the job, in this turn; written after the commit. */
static void
pm_confirm_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user, *v = json_str(action, "value");
	cJSON		*m, *args;
	char		*key, *k, *id, *status;
	int		 n;

	if ((m = pm_click(payload, action, &user)) == NULL)
		return;
	key = xstrndup(v, strcspn(v, "|"));
	n = (int)json_num(m, "n", 0);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddNumberToObject(args, "n", n);
	cJSON_AddStringToObject(args, "user", user);
	cJSON_AddStringToObject(args, "body", json_str(m, "body"));
	if (cfg->jira.postmortem_field != NULL)
		cJSON_AddStringToObject(args, "field",
		    cfg->jira.postmortem_field);
	cJSON_AddStringToObject(args, "channel", json_str(m, "channel"));
	if (json_str(m, "thread") != NULL)
		cJSON_AddStringToObject(args, "thread", json_str(m, "thread"));
	xasprintf(&k, "%s.%d", key, n);
	if ((id = job_create(PM_KIND, k, args, 0)) != NULL) {
		json_set(m, "state", cJSON_CreateString("writing"));
		(void)store_meta_put("postmortem", key, m);
		xasprintf(&status, ":hourglass_flowing_sand: <@%s> confirmed: "
		    "writing the postmortem draft to %s…", user, key);
		pm_update_preview(payload, m, status);
		free(status);
	}
	free(id);
	free(k);
	free(key);
	cJSON_Delete(m);
}

static void
pm_cancel_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user, *v = json_str(action, "value");
	cJSON		*m;
	char		*key, *status;

	if ((m = pm_click(payload, action, &user)) == NULL)
		return;
	key = xstrndup(v, strcspn(v, "|"));
	json_set(m, "state", cJSON_CreateString("cancelled"));
	(void)store_meta_put("postmortem", key, m);
	xasprintf(&status, "Cancelled by <@%s>: nothing was written to %s.",
	    user, key);
	pm_update_preview(payload, m, status);
	free(status);
	free(key);
	cJSON_Delete(m);
}

/*
 * A link to incident key's postmortem draft once it is in Jira (the
 * comment, or the issue for a field), else NULL; caller frees.
 */
char *
postmortem_url(const char *key)
{
	cJSON	*m;
	char	*url = NULL;

	if (key == NULL || (m = store_meta_get("postmortem", key)) == NULL)
		return (NULL);
	if (json_str(m, "comment") != NULL)
		url = jira_comment_url(key, json_str(m, "comment"));
	else if (json_str(m, "field") != NULL)
		url = jira_browse_url(key);
	cJSON_Delete(m);
	return (url);
}

/* ------------------------------------------------------------ the job */

/* postmortem: into the field, or find the marked comment first. */
static void
pm_run(struct job *j)
{
	cJSON	*a = job_args(j);

	if (json_str(a, "field") != NULL) {
		jira_issue_set_field(json_str(a, "key"), json_str(a, "field"),
		    json_str(a, "body"), pm_written_cb, j);
		return;
	}
	jira_issue_comments(json_str(a, "key"), PM_COMMENTS, pm_found_cb, j);
}

/* The newest comment of an answer that carries key's marker, or NULL. */
static const cJSON *
pm_find(const struct jira_result *jr, const char *key)
{
	const cJSON	*c;
	const char	*body;
	char		*m;

	m = pm_marker(key);
	cJSON_ArrayForEach(c, json_path(jr->json, "comments")) {
		body = json_str(c, "body");
		if (body != NULL && strstr(body, m) != NULL &&
		    json_str(c, "id") != NULL)
			break;
	}
	free(m);
	return (c);
}

static void
pm_found_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j);
	const cJSON	*c;

	if (jr->error != NULL) {
		/* A read: nothing was written. */
		if (jr->status >= 400 && jr->status < 500 &&
		    jr->status != 429)
			job_fail(j, jr->error);
		else
			job_retry(j, 0, jr->error);
		return;
	}
	if ((c = pm_find(jr, json_str(a, "key"))) != NULL) {
		json_set(a, "comment", cJSON_CreateString(json_str(c, "id")));
		jira_issue_comment_update(json_str(a, "key"), json_str(c,
		    "id"), json_str(a, "body"), pm_written_cb, j);
	} else {
		cJSON_DeleteItemFromObject(a, "comment");
		jira_issue_comment(json_str(a, "key"), json_str(a, "body"),
		    pm_written_cb, j);
	}
}

static void
pm_written_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	const char	*id = json_str(jr->json, "id");

	if (jr->error != NULL) {
		jira_job_failed(j, jr);
		return;
	}
	pm_done(j, id != NULL ? id : json_str(job_args(j), "comment"));
}

static void
pm_done(struct job *j, const char *comment)
{
	cJSON	*res = cJSON_CreateObject();

	if (comment != NULL && json_str(job_args(j), "field") == NULL)
		cJSON_AddStringToObject(res, "comment", comment);
	job_done(j, res);
}

/* Before a resend: is the marked comment there with this very body? */
static void
pm_probe(struct job *j)
{
	cJSON	*a = job_args(j);

	if (json_str(a, "field") != NULL) {
		/* A field is overwritten whole: writing again is safe. */
		job_resend(j);
		return;
	}
	jira_issue_comments(json_str(a, "key"), PM_COMMENTS, pm_probe_cb, j);
}

static void
pm_probe_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j);
	const cJSON	*c;

	if (jr->error != NULL) {
		job_unsure(j, jr->error);
		return;
	}
	c = pm_find(jr, json_str(a, "key"));
	if (c != NULL && json_str(c, "body") != NULL &&
	    strcmp(json_str(c, "body"), json_str(a, "body")) == 0) {
		pm_done(j, json_str(c, "id"));
		return;
	}
	/* Not written: run again (it finds the comment to edit, if any). */
	job_resend(j);
}

/* Written or given up: the record, the event log, the reply. */
static void
pm_ended(struct job *j)
{
	cJSON		*a = job_args(j), *m, *d;
	const char	*key = json_str(a, "key");
	const char	*comment = json_str(job_result(j), "comment");
	char		*url, *text, *e;
	int		 current;

	m = store_meta_get("postmortem", key);
	current = m != NULL && (int)json_num(m, "n", 0) ==
	    (int)json_num(a, "n", 0);
	if (job_succeeded(j)) {
		if (m != NULL) {
			if (comment != NULL)
				json_set(m, "comment",
				    cJSON_CreateString(comment));
			if (json_str(a, "field") != NULL)
				json_set(m, "field", cJSON_CreateString(
				    json_str(a, "field")));
			if (current)
				json_set(m, "state",
				    cJSON_CreateString("written"));
			(void)store_meta_put("postmortem", key, m);
		}
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "by", json_str(a, "user"));
		(void)evlog_add(key, EVLOG_POSTMORTEM, now_wall(), d);
		url = comment != NULL ? jira_comment_url(key, comment) :
		    jira_browse_url(key);
		if (json_str(a, "field") != NULL)
			xasprintf(&text, ":memo: The postmortem draft is in "
			    "the `%s` field of <%s|%s>.", json_str(a, "field"),
			    url, key);
		else
			xasprintf(&text, ":memo: The postmortem draft is on "
			    "<%s|%s> (<%s|the comment>): fill in the root "
			    "cause and the lessons learned there.", url, key,
			    url);
		free(url);
	} else {
		if (current) {
			json_set(m, "state", cJSON_CreateString("failed"));
			(void)store_meta_put("postmortem", key, m);
		}
		e = slack_escape(job_error(j));
		xasprintf(&text, ":warning: Jira did not take the postmortem "
		    "draft for %s: %s. Run `postmortem` again to retry.", key,
		    e);
		free(e);
	}
	cmd_reply_job(json_str(a, "channel"), json_str(a, "thread"), text,
	    job_id(j));
	free(text);
	cJSON_Delete(m);
}
