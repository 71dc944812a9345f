/*
 * follow.c: after the incident, driven by Jira.
 *
 * Nobody should have to remember the weekly after-action review, the
 * corrective actions' due dates or the channels of closed incidents. One
 * incremental poller (the job kind "jira_poll", one job per poll) reads
 * the tickets that changed since the last successful poll (less an
 * overlap margin, as a relative JQL period, so Jira's clock decides),
 * page by page, and records what it learnt per ticket in STORE_FOLLOW:
 *
 *	{ "key", "kind": "incident"|"action", "summary", "status", "cat",
 *	  "owner": {"id", "name", "email"}, "aar", "aar_seq", "due",
 *	  "incident", "label", "closes", "archive": {"gen", "channel",
 *	  "state", "at", "members", "archived_at"} }
 *
 * This file owns those records and the poll state (STORE_META key
 * "follow.poll": {"seq", "last_ok"}). Everything a change calls for is a
 * job created in the same turn, most with a due time, so a restart, a
 * clock step or hours of downtime neither lose nor repeat a notice: the
 * engine runs what came due while the daemon was down once, at start-up.
 * A job checks, when it runs, that what it was made for still holds (the
 * same AAR value, the same due date and not done, the same archive
 * generation), so a change of plan needs no cancelling: the old job sees
 * it is stale and ends without a word.
 *
 *   aar_notice        an incident's AAR field got a value or a new one:
 *		       one DM to the owner (assignee, else declarer or
 *		       reporter: follow_incident_owner) with the
 *		       time in their zone (users.info). Keyed by a sequence
 *		       number per ticket: a changed value is a new notice,
 *		       the same value seen again is none.
 *   followup_warn     followup_warn_before the due date of a corrective
 *   followup_overdue  action (label, due date, linked to an incident), and
 *		       once it has passed: DMs to the assignee, keyed by the
 *		       due date (a moved date makes new ones); the ticket is
 *		       read again first, so a done ticket gets nothing.
 *   archive_notice    the ticket of an incident with a channel is done:
 *   archive	       archive_after later the channel is archived, with a
 *		       "Keep open" notice a day before (halfway for short
 *		       delays). Keyed by a generation: Keep open and a reopen
 *		       make the old jobs stale. Archiving is never early: the
 *		       due time is counted from when the poll saw the close.
 *   archive_reopened  the ticket was reopened after its channel was
 *		       archived: the owner and the channel's members are told,
 *		       with a button that opens a fresh channel (or unarchives
 *		       with slack.user_token: bot tokens cannot).
 *   channel_unarchive that button, with a user token.
 *
 * Jira users map to Slack users through jira.users (for accounts whose
 * email Jira hides), then by email (users.lookupByEmail). An owner who
 * cannot be mapped is reported in the incident channel instead.
 *
 * A reconcile pass at start-up and after each poll completes what was
 * left half-built: closed incidents whose channel was recorded after the
 * poll saw the close get their archive, channels not linked back in Jira
 * get their link (cmd-new-channel.c), and unfinished jobs the engine does
 * not hold are handed back to it (jobs.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "incidentd.h"

#define FOLLOW_RECONCILE_DELAY_S	1	/* the repair pass after start */
#define FOLLOW_RECONCILE_SLICE		1000	/* records a loop turn */

/*
 * The repair pass in slices, one a loop turn: the follow records, then
 * the incidents (cmd-new-channel.c), then the jobs (jobs.c). At once, it
 * held the loop for 130 ms on a store of 100,000 incidents, at start-up
 * and after every poll.
 */
enum follow_rep_stage {
	FOLLOW_REP_IDLE,
	FOLLOW_REP_FOLLOW,
	FOLLOW_REP_INCIDENTS,
	FOLLOW_REP_JOBS
};
static struct {
	struct event		*ev;
	enum follow_rep_stage	 stage;
	int			 again;	/* asked for while one walked */
	char			*cursor;
	int			 n;	/* repairs started */
} follow_rep;
static void		 follow_reconcile_slice_cb(evutil_socket_t, short,
			    void *);

#define FOLLOW_POLL_KIND	"jira_poll"
#define FOLLOW_META_KEY		"follow.poll"
#define FOLLOW_OVERLAP_S	120		/* re-read the last 2 minutes */
#define FOLLOW_FIRST_S		(30 * 86400)	/* first poll looks back */
#define FOLLOW_POLL_PAGES	200		/* x 100 issues a poll */
#define FOLLOW_MEMBERS_MAX	200		/* remembered per channel */
#define FOLLOW_DM_MAX		50		/* told of a reopen */
#define FOLLOW_DAY		86400
#define FOLLOW_FIELDS		"summary,status,assignee,reporter,duedate," \
				"labels,issuelinks,issuetype,project,updated"

/* One poll in flight: its job, where it is, when it started. */
struct follow_poll {
	struct job	*job;
	char		*cursor;
	time_t		 started;
	long long	 minutes;
	int		 pages;
	int		 seen;
};

static cJSON	*follow_load(const char *);
static int	 follow_save(const cJSON *);
static cJSON	*follow_meta(void);
static void	 follow_schedule_poll(time_t);
static void	 follow_poll_run(struct job *);
static void	 follow_poll_page(struct follow_poll *);
static void	 follow_poll_cb(const struct jira_result *, void *);
static void	 follow_poll_ended(struct job *);
static void	 follow_issue(const cJSON *);
static cJSON	*follow_owner(const cJSON *);
static void	 follow_incident_owner(cJSON *, const cJSON *);
static char	*follow_aar_value(const cJSON *);
static int	 follow_aar_past(const char *);
static void	 follow_incident(cJSON *, const cJSON *, const char *);
static void	 follow_action(cJSON *, const cJSON *, const char *);
static char	*follow_linked_incident(const cJSON *);
static void	 follow_log_close(cJSON *, int, int);
static void	 follow_log_action_closed(const cJSON *, const char *,
		    const char *);
static void	 follow_aar_plan(const char *, const char *, int);
static void	 follow_aar_held_run(struct job *);
static void	 follow_archive_schedule(cJSON *, const char *, const char *);
static char	*follow_incident_channel(const char *);
static void	 follow_reconcile(void);
static int	 follow_reconcile_cb(const char *, const char *, size_t,
		    void *);
static void	 follow_notice_run(struct job *);
static void	 follow_notice_next(struct job *, const char *);
static void	 follow_check_run(struct job *);
static void	 follow_check_cb(const struct jira_result *, void *);
static void	 follow_who_run(struct job *);
static void	 follow_who_cb(const struct slack_result *, void *);
static void	 follow_who_done(struct job *, const char *);
static void	 follow_tz_run(struct job *);
static void	 follow_tz_cb(const struct slack_result *, void *);
static char	*follow_fallback_channel(struct job *);
static void	 follow_send_run(struct job *);
static void	 follow_sent_cb(const struct slack_result *, void *);
static char	*follow_notice_text(struct job *, int);
static void	 follow_archive_notice_run(struct job *);
static void	 follow_archive_notice_cb(const struct slack_result *,
		    void *);
static void	 follow_archive_notice_probe(struct job *);
static void	 follow_archive_notice_found_cb(int, const char *, void *);
static void	 follow_archive_notice_done(struct job *);
static int	 follow_archive_current(struct job *);
static void	 follow_archive_run(struct job *);
static void	 follow_members_cb(const struct slack_result *, void *);
static void	 follow_archived_cb(const struct slack_result *, void *);
static void	 follow_archive_ended(struct job *);
static void	 follow_unarchive_run(struct job *);
static void	 follow_unarchived_cb(const struct slack_result *, void *);
static void	 follow_rejoined_cb(const struct slack_result *, void *);
static void	 follow_unarchive_ended(struct job *);

/* No side effect but the log entry: repeat freely. */
const struct job_kind follow_aar_held_job = {
	.name = "aar_held",
	.run = follow_aar_held_run,
	.max_attempts = 4
};

const struct job_kind follow_poll_job = {
	.name = FOLLOW_POLL_KIND,
	.run = follow_poll_run,
	.ended = follow_poll_ended,
	.max_attempts = 6,
	.concurrency = 1,
	.backoff_base_ms = 1000,
	.backoff_cap_ms = 300000
};
const struct job_kind follow_aar_job = {
	.name = "aar_notice",
	.run = follow_notice_run,
	.max_attempts = 10,
	.concurrency = 4
};
const struct job_kind follow_warn_job = {
	.name = "followup_warn",
	.run = follow_notice_run,
	.max_attempts = 10,
	.concurrency = 4
};
const struct job_kind follow_overdue_job = {
	.name = "followup_overdue",
	.run = follow_notice_run,
	.max_attempts = 10,
	.concurrency = 4
};
const struct job_kind follow_reopened_job = {
	.name = "archive_reopened",
	.run = follow_notice_run,
	.max_attempts = 10,
	.concurrency = 2
};
const struct job_kind follow_archive_notice_job = {
	.name = "archive_notice",
	.run = follow_archive_notice_run,
	.probe = follow_archive_notice_probe,
	.max_attempts = 10,
	.concurrency = 4
};
const struct job_kind follow_archive_job = {
	.name = "archive",
	.run = follow_archive_run,
	.ended = follow_archive_ended,
	.max_attempts = 10,
	.concurrency = 2
};
const struct job_kind follow_unarchive_job = {
	.name = "channel_unarchive",
	.run = follow_unarchive_run,
	.ended = follow_unarchive_ended,
	.max_attempts = 8,
	.concurrency = 2
};

/* ------------------------------------------------------------ records */

static cJSON *
follow_load(const char *key)
{
	cJSON	*j;

	if (store_get_json(store, STORE_FOLLOW, key, &j) != 0)
		return (NULL);
	return (j);
}

static int
follow_save(const cJSON *rec)
{
	const char	*key = json_str(rec, "key");
	int		 rv;

	if (key == NULL)
		return (-1);
	if ((rv = store_put_json(store, STORE_FOLLOW, key, rec)) != 0)
		log_warnx("follow %s: store: %s", key, store_strerror(rv));
	return (rv);
}


static cJSON *
follow_meta(void)
{
	cJSON	*m;

	if (store_get_json(store, STORE_META, FOLLOW_META_KEY, &m) != 0 ||
	    !cJSON_IsObject(m)) {
		cJSON_Delete(m);
		m = cJSON_CreateObject();
	}
	return (m);
}

/* 1 if channel is the incident key's channel and the archive took it. */
int
follow_channel_archived(const char *key, const char *channel)
{
	cJSON		*rec;
	const char	*st, *ch;
	int		 yes;

	if ((rec = follow_load(key)) == NULL)
		return (0);
	st = json_str(rec, "archive.state");
	ch = json_str(rec, "archive.channel");
	yes = st != NULL && ch != NULL && channel != NULL &&
	    strcmp(ch, channel) == 0 && (strcmp(st, "archived") == 0 ||
	    strcmp(st, "reopened") == 0);
	cJSON_Delete(rec);
	return (yes);
}

struct follow_actions_walk {
	const char	*key;
	cJSON		*out;
	int		 all;		/* done ones too, with their status */
};

static int
follow_actions_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct follow_actions_walk *w = arg;
	cJSON			*rec, *o;
	const char		*inc, *kind, *cat;

	if ((rec = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	kind = json_str(rec, "kind");
	inc = json_str(rec, "incident");
	cat = json_str(rec, "cat");
	if (kind != NULL && strcmp(kind, "action") == 0 && inc != NULL &&
	    strcmp(inc, w->key) == 0 && (w->all || cat == NULL ||
	    strcmp(cat, "done") != 0)) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", key);
		cJSON_AddStringToObject(o, "summary", json_str(rec,
		    "summary") != NULL ? json_str(rec, "summary") : "");
		if (json_str(rec, "due") != NULL)
			cJSON_AddStringToObject(o, "due", json_str(rec, "due"));
		if (json_str(rec, "owner.name") != NULL)
			cJSON_AddStringToObject(o, "owner", json_str(rec,
			    "owner.name"));
		if (w->all) {
			if (json_str(rec, "status") != NULL)
				cJSON_AddStringToObject(o, "status",
				    json_str(rec, "status"));
			cJSON_AddBoolToObject(o, "done", cat != NULL &&
			    strcmp(cat, "done") == 0);
		}
		cJSON_AddItemToArray(w->out, o);
	}
	cJSON_Delete(rec);
	return (0);
}

/*
 * What the poller last saw of incident key, for its status (caller
 * frees): {"summary", "status", "assignee", "aar", "actions": [{"key",
 * "summary", "due", "owner"}] (the open corrective actions)}; the ticket's
 * fields are absent until a poll has read it.
 */
cJSON *
follow_status(const char *key)
{
	struct follow_actions_walk w;
	cJSON		*rec, *o;
	const char	*v;

	o = cJSON_CreateObject();
	if ((rec = follow_load(key)) != NULL) {
		if ((v = json_str(rec, "summary")) != NULL)
			cJSON_AddStringToObject(o, "summary", v);
		if ((v = json_str(rec, "status")) != NULL && *v != '\0')
			cJSON_AddStringToObject(o, "status", v);
		/* The owner may be the reporter: only an assignee counts. */
		if ((v = json_str(rec, "owner.name")) != NULL &&
		    json_str(rec, "owner.role") != NULL &&
		    strcmp(json_str(rec, "owner.role"), "assignee") == 0)
			cJSON_AddStringToObject(o, "assignee", v);
		if ((v = json_str(rec, "aar")) != NULL)
			cJSON_AddStringToObject(o, "aar", v);
		cJSON_Delete(rec);
	}
	w.key = key;
	w.out = cJSON_AddArrayToObject(o, "actions");
	w.all = 0;
	(void)store_foreach(store, STORE_FOLLOW, "", follow_actions_cb, &w);
	return (o);
}

/*
 * Every corrective action of incident key the poller has seen, done ones
 * too (caller frees): [{"key", "summary", "due", "owner", "status",
 * "done"}], in key order.
 */
cJSON *
follow_actions(const char *key)
{
	struct follow_actions_walk w;

	w.key = key;
	w.out = cJSON_CreateArray();
	w.all = 1;
	(void)store_foreach(store, STORE_FOLLOW, "", follow_actions_cb, &w);
	return (w.out);
}

/* ------------------------------------------------------------ polling */

/* Start polling: make sure the newest poll job is pending. */
void
follow_init(void)
{
	struct timeval	 tv = { FOLLOW_RECONCILE_DELAY_S, 0 };
	cJSON		*m, *rec;
	const char	*st;
	char		*id;
	int		 seq;

	m = follow_meta();
	seq = (int)json_num(m, "seq", 0);
	metrics_poll_ok((time_t)json_num(m, "last_ok", 0));
	cJSON_Delete(m);
	xasprintf(&id, "%s/%d", FOLLOW_POLL_KIND, seq);
	rec = seq > 0 ? job_load(id) : NULL;
	st = json_str(rec, "state");
	if (rec == NULL || st == NULL || strcmp(st, "done") == 0 ||
	    strcmp(st, "failed") == 0)
		follow_schedule_poll(now_wall());
	cJSON_Delete(rec);
	free(id);
	/*
	 * The repair pass reads every follow record and incident: on a
	 * large store (100,000 incidents) it held the Socket Mode hello,
	 * and with it readiness, back. Nothing in it is urgent (each repair
	 * is a keyed job), so it runs a moment after start, once the
	 * connection is usually up.
	 */
	follow_rep.ev = evtimer_new(reactor_base, follow_reconcile_slice_cb,
	    NULL);
	follow_rep.stage = FOLLOW_REP_FOLLOW;
	evtimer_add(follow_rep.ev, &tv);
}

/* At a stop: a repair pass under way (or not yet begun) stops. */
void
follow_shutdown(void)
{
	if (follow_rep.ev != NULL)
		event_free(follow_rep.ev);
	free(follow_rep.cursor);
	memset(&follow_rep, 0, sizeof(follow_rep));
}

/* The next poll, due at due: a new job in this turn. */
static void
follow_schedule_poll(time_t due)
{
	cJSON	*m;
	char	*key, *id;
	int	 seq;

	m = follow_meta();
	seq = (int)json_num(m, "seq", 0) + 1;
	json_set(m, "seq", cJSON_CreateNumber(seq));
	if (store_put_json(store, STORE_META, FOLLOW_META_KEY, m) != 0) {
		cJSON_Delete(m);
		return;
	}
	cJSON_Delete(m);
	xasprintf(&key, "%d", seq);
	id = job_create(FOLLOW_POLL_KIND, key, NULL, due);
	free(id);
	free(key);
}

static void
follow_poll_run(struct job *j)
{
	struct follow_poll	*p;
	cJSON			*m;
	time_t			 last;

	p = xcalloc(1, sizeof(*p));
	p->job = j;
	p->started = now_wall();
	m = follow_meta();
	last = (time_t)json_num(m, "last_ok", 0);
	cJSON_Delete(m);
	if (last <= 0 || last > p->started)
		last = p->started - FOLLOW_FIRST_S;
	/* Minute precision, and our clock is not Jira's: overlap. */
	p->minutes = (p->started - last + FOLLOW_OVERLAP_S + 59) / 60;
	follow_poll_page(p);
}

static void
follow_poll_page(struct follow_poll *p)
{
	char	*fields;

	if (cfg->jira.aar_field != NULL)
		xasprintf(&fields, "%s,%s", FOLLOW_FIELDS, cfg->jira.aar_field);
	else
		fields = xstrdup(FOLLOW_FIELDS);
	p->pages++;
	jira_issues_updated(p->minutes, fields, p->cursor, follow_poll_cb, p);
	free(fields);
}

static void
follow_poll_cb(const struct jira_result *jr, void *arg)
{
	struct follow_poll	*p = arg;
	struct job		*j = p->job;
	const cJSON		*is;
	cJSON			*m;
	char			*next;
	long long		 cap;

	if (jr->error != NULL) {
		/* Nothing is lost: the next try reads from the same mark. */
		cap = cfg->schedule.poll_interval * 10 * 1000;
		if (cap > 300000)
			cap = 300000;
		if (cap < cfg->schedule.poll_interval * 1000)
			cap = cfg->schedule.poll_interval * 1000;
		if (jr->status > 0)
			log_warnx("jira poll: HTTP %d: %s", jr->status,
			    jr->error);
		else
			log_warnx("jira poll: %s", jr->error);
		job_retry(j, (long long)backoff_ms((unsigned)job_attempt(j),
		    1000, (uint64_t)cap), jr->error);
		free(p->cursor);
		free(p);
		return;
	}
	/* Each page's decisions join this turn; a crash reads it again. */
	cJSON_ArrayForEach(is, json_path(jr->json, "issues")) {
		follow_issue(is);
		p->seen++;
	}
	next = jira_search_next(jr);
	free(p->cursor);
	p->cursor = next;
	if (next != NULL && p->pages < FOLLOW_POLL_PAGES) {
		follow_poll_page(p);
		return;
	}
	if (next != NULL)
		log_warnx("jira poll: more than %d pages changed; the rest "
		    "next time", FOLLOW_POLL_PAGES);
	else {
		m = follow_meta();
		json_set(m, "last_ok", cJSON_CreateNumber((double)
		    p->started));
		(void)store_put_json(store, STORE_META, FOLLOW_META_KEY, m);
		cJSON_Delete(m);
		metrics_poll_ok(p->started);
	}
	log_debug("jira poll: %d ticket(s) changed in the last %lld min",
	    p->seen, p->minutes);
	free(p->cursor);
	free(p);
	follow_reconcile();
	job_done(j, NULL);
}

/* Done or given up: the next poll, one interval on (never two). */
static void
follow_poll_ended(struct job *j)
{
	cJSON	*m;
	char	*id;
	int	 seq;

	m = follow_meta();
	seq = (int)json_num(m, "seq", 0);
	cJSON_Delete(m);
	xasprintf(&id, "%s/%d", FOLLOW_POLL_KIND, seq);
	if (strcmp(id, job_id(j)) == 0)
		follow_schedule_poll(now_wall() + cfg->schedule.poll_interval);
	free(id);
}

/* ------------------------------------------------------------ decisions */

/* One changed ticket: update its record, create the jobs it calls for. */
static void
follow_issue(const cJSON *is)
{
	const char	*key = json_str(is, "key"), *cat, *project, *itype;
	const cJSON	*f = json_path(is, "fields"), *l;
	cJSON		*rec, *owner, *before;
	char		*sum;
	int		 incident, label = 0;

	if (key == NULL || !jira_valid_key(key) || !cJSON_IsObject(f))
		return;
	project = json_str(f, "project.key");
	itype = json_str(f, "issuetype.name");
	cat = json_str(f, "status.statusCategory.key");
	cJSON_ArrayForEach(l, json_path(f, "labels")) {
		if (cJSON_IsString(l) && strcmp(l->valuestring,
		    cfg->jira.followup_label) == 0)
			label = 1;
	}
	incident = project != NULL && itype != NULL &&
	    strcmp(project, cfg->jira.project) == 0 &&
	    strcasecmp(itype, cfg->jira.issue_type) == 0;
	if (!incident && !label)
		return;
	if ((rec = follow_load(key)) == NULL) {
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "key", key);
	}
	/* Polls overlap, so most see the ticket as it was. */
	before = cJSON_Duplicate(rec, 1);
	json_set(rec, "kind", cJSON_CreateString(incident ? "incident" :
	    "action"));
	sum = utf8_truncate(json_str(f, "summary") != NULL ?
	    json_str(f, "summary") : "", 255, 1);
	json_set(rec, "summary", cJSON_CreateString(sum));
	free(sum);
	json_set(rec, "status", cJSON_CreateString(json_str(f,
	    "status.name") != NULL ? json_str(f, "status.name") : ""));
	if ((owner = follow_owner(f)) != NULL)
		json_set(rec, "owner", owner);
	json_set(rec, "label", cJSON_CreateBool(label));
	if (incident)
		follow_incident(rec, f, cat);
	else
		follow_action(rec, f, cat);
	json_set(rec, "cat", cJSON_CreateString(cat != NULL ? cat : ""));
	/*
	 * Its incident's pinned status shows the ticket and its actions:
	 * edit it when the record changed, not at every poll that sees it.
	 */
	if (!cJSON_Compare(before, rec, 1)) {
		follow_save(rec);
		if (incident)
			incident_changed(key);
		else if (json_str(rec, "incident") != NULL)
			incident_changed(json_str(rec, "incident"));
	}
	cJSON_Delete(before);
	cJSON_Delete(rec);
}

/*
 * Assignee, else reporter, as {"role", "id", "name", "email"}; NULL if
 * none.
 */
static cJSON *
follow_owner(const cJSON *f)
{
	const cJSON	*u = json_path(f, "assignee");
	const char	*id;
	cJSON		*o;

	const char	*role = "assignee";

	if (!cJSON_IsObject(u)) {
		u = json_path(f, "reporter");
		role = "reporter";
	}
	if (!cJSON_IsObject(u))
		return (NULL);
	if ((id = json_str(u, "accountId")) == NULL &&
	    (id = json_str(u, "name")) == NULL)
		id = json_str(u, "key");
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "role", role);
	if (id != NULL && strlen(id) <= 128)
		cJSON_AddStringToObject(o, "id", id);
	if (json_str(u, "displayName") != NULL)
		cJSON_AddStringToObject(o, "name", json_str(u,
		    "displayName"));
	if (json_str(u, "emailAddress") != NULL &&
	    strlen(json_str(u, "emailAddress")) <= 254)
		cJSON_AddStringToObject(o, "email", json_str(u,
		    "emailAddress"));
	return (o);
}

/* The AAR field as text (a date, a datetime, an option); NULL if unset. */
static char *
follow_aar_value(const cJSON *f)
{
	const cJSON	*v;

	if (cfg->jira.aar_field == NULL)
		return (NULL);
	v = cJSON_GetObjectItemCaseSensitive(f, cfg->jira.aar_field);
	if (cJSON_IsString(v) && *v->valuestring != '\0')
		return (utf8_truncate(v->valuestring, 200, 1));
	if (cJSON_IsObject(v) && json_str(v, "value") != NULL)
		return (utf8_truncate(json_str(v, "value"), 200, 1));
	return (NULL);
}

/* 1 if the AAR is a date or time already over (not worth a notice). */
static int
follow_aar_past(const char *v)
{
	time_t	t, now = now_wall();

	if (time_parse_iso(v, &t) == 0)
		return (t < now - 3600);
	if (time_day_end(v, "UTC", &t) == 0)
		return (t + FOLLOW_DAY < now);
	return (0);
}

static void
follow_incident(cJSON *rec, const cJSON *f, const char *cat)
{
	const char	*key = json_str(rec, "key"), *prev, *st, *ach;
	cJSON		*args, *a;
	char		*aar, *k, *id, *channel;
	int		 seq, done, was_done;

	/* AAR: a new value is one notice; the same value, none. */
	aar = follow_aar_value(f);
	if (aar != NULL && (json_str(rec, "aar") == NULL ||
	    strcmp(json_str(rec, "aar"), aar) != 0)) {
		json_set(rec, "aar", cJSON_CreateString(aar));
		seq = (int)json_num(rec, "aar_seq", 0) + 1;
		json_set(rec, "aar_seq", cJSON_CreateNumber(seq));
		if (follow_aar_past(aar))
			log_info("follow %s: AAR %s is over; no notice", key,
			    aar);
		else {
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "what", "aar");
			cJSON_AddStringToObject(args, "key", key);
			cJSON_AddStringToObject(args, "aar", aar);
			cJSON_AddStringToObject(args, "step", "check");
			xasprintf(&k, "%s.%d", key, seq);
			id = job_create("aar_notice", k, args, 0);
			log_info("follow %s: AAR %s: notice %s", key, aar,
			    id != NULL ? id : "not recorded");
			free(id);
			free(k);
		}
		follow_aar_plan(key, aar, seq);
	} else if (aar == NULL && json_str(rec, "aar") != NULL)
		json_set(rec, "aar", NULL);
	free(aar);

	/* Archiving: on the close, and cancelled by a reopen. */
	channel = follow_incident_channel(key);
	prev = json_str(rec, "cat");
	done = cat != NULL && strcmp(cat, "done") == 0;
	was_done = prev != NULL && strcmp(prev, "done") == 0;
	follow_log_close(rec, done, was_done);
	a = json_path(rec, "archive");
	st = json_str(a, "state");
	ach = json_str(a, "channel");
	/* PagerDuty: watching may end; resolve_on_close. */
	if (done && !was_done)
		pd_watch_ticket_closed(key);
	if (done && channel != NULL && (!was_done || ach == NULL ||
	    strcmp(ach, channel) != 0) && !(ach != NULL &&
	    strcmp(ach, channel) == 0 && st != NULL &&
	    (strcmp(st, "scheduled") == 0 || strcmp(st, "archived") == 0)))
		follow_archive_schedule(rec, key, channel);
	else if (!done && was_done && st != NULL &&
	    strcmp(st, "scheduled") == 0) {
		json_set(a, "state", cJSON_CreateString("cancelled"));
		log_info("follow %s: reopened; archiving #%s cancelled", key,
		    ach);
		xasprintf(&id, "archive_notice/%s.%d/cancelled", key,
		    (int)json_num(a, "gen", 0));
		xasprintf(&k, ":information_source: %s was reopened in "
		    "Jira, so this channel will not be archived.", key);
		cmd_reply_job(ach, NULL, k, id);
		free(k);
		free(id);
	} else if (!done && was_done && st != NULL &&
	    strcmp(st, "archived") == 0) {
		json_set(a, "state", cJSON_CreateString("reopened"));
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "what", "reopened");
		cJSON_AddStringToObject(args, "key", key);
		cJSON_AddStringToObject(args, "channel", ach);
		cJSON_AddNumberToObject(args, "gen", json_num(a, "gen", 0));
		cJSON_AddStringToObject(args, "step", "check");
		xasprintf(&k, "%s.%d", key, (int)json_num(a, "gen", 0));
		free(job_create("archive_reopened", k, args, 0));
		free(k);
		log_info("follow %s: reopened after #%s was archived", key,
		    ach);
	}
	free(channel);
}

/* The incident's Slack channel, or NULL; caller frees. */
static char *
follow_incident_channel(const char *key)
{
	cJSON		*inc;
	const char	*ch;
	char		*out = NULL;

	if ((inc = incident_load(key)) == NULL)
		return (NULL);
	if ((ch = json_str(inc, "channel")) != NULL && *ch != '\0' &&
	    strlen(ch) < 32 && strspn(ch, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789") == strlen(ch))
		out = xstrdup(ch);
	cJSON_Delete(inc);
	return (out);
}

/*
 * A new archive generation for channel: archived archive_after from now
 * (rounded up to the second: never early), the notice a day before, or
 * halfway when the delay is under two days.
 */
static void
follow_archive_schedule(cJSON *rec, const char *key, const char *channel)
{
	cJSON		*a, *args;
	struct timespec	 ts;
	long long	 after = cfg->schedule.archive_after, lead;
	time_t		 at;
	char		*k;
	int		 gen;

	clock_gettime(CLOCK_REALTIME, &ts);
	at = ts.tv_sec + (ts.tv_nsec > 0 ? 1 : 0) + (time_t)after;
	lead = after >= 2 * FOLLOW_DAY ? FOLLOW_DAY : after / 2;
	gen = (int)json_num(rec, "archive.gen", 0) + 1;
	a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "gen", gen);
	cJSON_AddStringToObject(a, "channel", channel);
	cJSON_AddStringToObject(a, "state", "scheduled");
	cJSON_AddNumberToObject(a, "at", (double)at);
	json_set(rec, "archive", a);
	xasprintf(&k, "%s.%d", key, gen);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "channel", channel);
	cJSON_AddNumberToObject(args, "gen", gen);
	cJSON_AddNumberToObject(args, "at", (double)at);
	cJSON_AddStringToObject(args, "step", "members");
	free(job_create("archive", k, args, at));
	if (lead >= 1) {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "key", key);
		cJSON_AddStringToObject(args, "channel", channel);
		cJSON_AddNumberToObject(args, "gen", gen);
		cJSON_AddNumberToObject(args, "at", (double)at);
		free(job_create("archive_notice", k, args, at - lead));
	}
	free(k);
	log_info("follow %s: closed; #%s archived at %lld (generation %d)",
	    key, channel, (long long)at, gen);
}

/* A corrective action: reminders for its due date, once per date. */
static void
follow_action(cJSON *rec, const cJSON *f, const char *cat)
{
	const char	*key = json_str(rec, "key"), *due;
	cJSON		*args;
	char		*inc, *k;
	time_t		 end, now = now_wall(), warn;

	due = json_str(f, "duedate");
	inc = follow_linked_incident(f);
	json_set(rec, "due", due != NULL ? cJSON_CreateString(due) : NULL);
	json_set(rec, "incident", inc != NULL ? cJSON_CreateString(inc) :
	    NULL);
	if (cat != NULL && strcmp(cat, "done") == 0) {
		follow_log_action_closed(rec, inc, due);
		goto out;
	}
	if (due == NULL || inc == NULL ||
	    time_day_end(due, cfg->timeline.timezone, &end) != 0)
		goto out;
	xasprintf(&k, "%s.%s", key, due);
	warn = end - (time_t)cfg->schedule.followup_warn_before;
	if (cfg->schedule.followup_warn_before > 0 && now < end) {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "what", "warn");
		cJSON_AddStringToObject(args, "key", key);
		cJSON_AddStringToObject(args, "due", due);
		cJSON_AddStringToObject(args, "incident", inc);
		cJSON_AddStringToObject(args, "step", "check");
		free(job_create("followup_warn", k, args, warn));
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "what", "overdue");
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "due", due);
	cJSON_AddStringToObject(args, "incident", inc);
	cJSON_AddStringToObject(args, "step", "check");
	free(job_create("followup_overdue", k, args, end));
	free(k);
out:
	free(inc);
}

/*
 * The poll saw an incident ticket close or reopen: an entry in the event
 * log, numbered per ticket ("closes" on the record) so each close counts
 * once. Only for incidents we hold a record of (declared here, or with a
 * channel): the first poll's look back is not news.
 */
static void
follow_log_close(cJSON *rec, int done, int was_done)
{
	const char	*key = json_str(rec, "key");
	cJSON		*inc;
	char		 id[32];
	int		 n = (int)json_num(rec, "closes", 0);

	if (done == was_done || (inc = incident_load(key)) == NULL)
		return;
	cJSON_Delete(inc);
	if (done) {
		n++;
		json_set(rec, "closes", cJSON_CreateNumber(n));
		(void)snprintf(id, sizeof(id), "%d", n);
		evlog_add_id(key, EVLOG_TICKET_CLOSED, now_wall(), id);
	} else if (n > 0) {
		(void)snprintf(id, sizeof(id), "%d", n);
		evlog_add_id(key, EVLOG_TICKET_REOPENED, now_wall(), id);
	}
}

/*
 * A corrective action of incident inc is done: on time if before its due
 * date ended (midnight in timeline.timezone). Its first close counts.
 */
static void
follow_log_action_closed(const cJSON *rec, const char *inc,
    const char *due)
{
	const char	*prev = json_str(rec, "cat");
	time_t		 end, now = now_wall();
	cJSON		*d;

	if (inc == NULL || (prev != NULL && strcmp(prev, "done") == 0))
		return;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "id", json_str(rec, "key"));
	if (due != NULL)
		cJSON_AddStringToObject(d, "due", due);
	cJSON_AddBoolToObject(d, "on_time", due == NULL ||
	    time_day_end(due, cfg->timeline.timezone, &end) != 0 ||
	    now <= end);
	evlog_add(inc, EVLOG_ACTION_CLOSED, now, d);
}

/*
 * The AAR is held when its time passes: a job due then (for a date, at
 * the end of that day in timeline.timezone) logs it, if the AAR is still
 * the same value. A value that is no time (an option) is not planned.
 */
static void
follow_aar_plan(const char *key, const char *aar, int seq)
{
	cJSON	*args;
	char	*k;
	time_t	 at;

	if (time_parse_iso(aar, &at) != 0 &&
	    time_day_end(aar, cfg->timeline.timezone, &at) != 0)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "aar", aar);
	cJSON_AddNumberToObject(args, "seq", seq);
	cJSON_AddNumberToObject(args, "at", (double)at);
	xasprintf(&k, "%s.%d", key, seq);
	free(job_create(follow_aar_held_job.name, k, args, at));
	free(k);
}

/* aar_held: the AAR's time came; log it if it is still the plan. */
static void
follow_aar_held_run(struct job *j)
{
	cJSON		*a = job_args(j), *rec, *d;
	const char	*key = json_str(a, "key");
	char		 id[32];

	if ((rec = follow_load(key)) != NULL && json_num(rec, "aar_seq", 0) ==
	    json_num(a, "seq", -1)) {
		d = cJSON_CreateObject();
		(void)snprintf(id, sizeof(id), "%d", (int)json_num(a, "seq",
		    0));
		cJSON_AddStringToObject(d, "id", id);
		cJSON_AddStringToObject(d, "aar", json_str(a, "aar"));
		evlog_add(key, EVLOG_AAR_HELD, (time_t)json_num(a, "at", 0), d);
		incident_changed(key);
	}
	cJSON_Delete(rec);
	job_done(j, NULL);
}

/* The first linked ticket that is an incident of jira.project. */
static char *
follow_linked_incident(const cJSON *f)
{
	const cJSON	*l, *o;
	const char	*k, *t;

	cJSON_ArrayForEach(l, json_path(f, "issuelinks")) {
		if ((o = json_path(l, "inwardIssue")) == NULL)
			o = json_path(l, "outwardIssue");
		k = json_str(o, "key");
		t = json_str(o, "fields.issuetype.name");
		if (k == NULL || !jira_valid_key(k) ||
		    strncmp(k, cfg->jira.project, strlen(cfg->jira.project))
		    != 0 || k[strlen(cfg->jira.project)] != '-')
			continue;
		if (t != NULL && strcasecmp(t, cfg->jira.issue_type) != 0)
			continue;
		return (xstrdup(k));
	}
	return (NULL);
}

/* ------------------------------------------------------------ repair */

/*
 * Complete what was left half-built: a closed incident whose channel
 * came after the poll saw the close, a channel never linked back in Jira,
 * jobs the engine does not hold. Idempotent: each repair is a keyed job.
 */
static void
follow_reconcile(void)
{
	struct timeval	tv = { 0, 0 };

	if (follow_rep.ev == NULL)
		return;
	if (follow_rep.stage == FOLLOW_REP_IDLE) {
		follow_rep.stage = FOLLOW_REP_FOLLOW;
		follow_rep.n = 0;
		evtimer_add(follow_rep.ev, &tv);
	} else if (follow_rep.stage != FOLLOW_REP_FOLLOW ||
	    follow_rep.cursor != NULL)
		follow_rep.again = 1;	/* it may have walked past the change */
	/* else a pass that has not begun walking covers it */
}

/* One slice of the repair pass; the next on the next loop turn. */
static void
follow_reconcile_slice_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { 0, 0 };
	int		rv;

	switch (follow_rep.stage) {
	case FOLLOW_REP_IDLE:
		return;
	case FOLLOW_REP_FOLLOW:
		rv = store_foreach_slice(store, STORE_FOLLOW, "",
		    &follow_rep.cursor, FOLLOW_RECONCILE_SLICE,
		    follow_reconcile_cb, &follow_rep.n);
		if (rv != 0)
			log_warnx("reconcile: reading the follow records: %s",
			    store_strerror(rv));
		break;
	case FOLLOW_REP_INCIDENTS:
		follow_rep.n += nc_reconcile(&follow_rep.cursor,
		    FOLLOW_RECONCILE_SLICE);
		break;
	case FOLLOW_REP_JOBS:
		follow_rep.n += jobs_reconcile(&follow_rep.cursor,
		    FOLLOW_RECONCILE_SLICE);
		break;
	}
	if (follow_rep.cursor != NULL)
		;			/* more of this stage */
	else if (follow_rep.stage == FOLLOW_REP_FOLLOW)
		follow_rep.stage = FOLLOW_REP_INCIDENTS;
	else if (follow_rep.stage == FOLLOW_REP_INCIDENTS)
		follow_rep.stage = FOLLOW_REP_JOBS;
	else {
		if (follow_rep.n > 0)
			log_info("reconcile: %d repair(s) started",
			    follow_rep.n);
		follow_rep.stage = FOLLOW_REP_IDLE;
		if (!follow_rep.again)
			return;
		follow_rep.again = 0;
		follow_rep.stage = FOLLOW_REP_FOLLOW;
		follow_rep.n = 0;
	}
	evtimer_add(follow_rep.ev, &tv);
}

static int
follow_reconcile_cb(const char *key, const char *val, size_t len, void *arg)
{
	int		*n = arg;
	cJSON		*rec;
	const char	*ach, *st;
	char		*channel;

	if ((rec = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	if (json_str(rec, "kind") == NULL || strcmp(json_str(rec, "kind"),
	    "incident") != 0 || json_str(rec, "cat") == NULL ||
	    strcmp(json_str(rec, "cat"), "done") != 0) {
		cJSON_Delete(rec);
		return (0);
	}
	channel = follow_incident_channel(key);
	ach = json_str(rec, "archive.channel");
	st = json_str(rec, "archive.state");
	/* Closed, with a channel, and nothing planned for that channel. */
	if (channel != NULL && (ach == NULL || strcmp(ach, channel) != 0 ||
	    st == NULL)) {
		follow_archive_schedule(rec, key, channel);
		follow_save(rec);
		(*n)++;
	}
	free(channel);
	cJSON_Delete(rec);
	return (0);
}

/* ------------------------------------------------------------ notices */

/*
 * The DM notices run as steps, each recorded before the next: check
 * (still wanted?), who (the Slack user), tz (AAR only), send.
 */
static void
follow_notice_run(struct job *j)
{
	const char	*step = json_str(job_args(j), "step");

	if (step == NULL || strcmp(step, "check") == 0)
		follow_check_run(j);
	else if (strcmp(step, "who") == 0)
		follow_who_run(j);
	else if (strcmp(step, "tz") == 0)
		follow_tz_run(j);
	else
		follow_send_run(j);
}

static void
follow_notice_next(struct job *j, const char *step)
{
	json_set(job_args(j), "step", cJSON_CreateString(step));
	job_checkpoint(j, follow_notice_run);
}

/* Is the notice still wanted? */
static void
follow_check_run(struct job *j)
{
	cJSON		*a = job_args(j), *rec, *to;
	const char	*what = json_str(a, "what"), *v, *m;
	const cJSON	*owner;

	if ((rec = follow_load(json_str(a, "key"))) == NULL) {
		job_done(j, NULL);
		return;
	}
	if (strcmp(what, "aar") == 0) {
		v = json_str(rec, "aar");
		if (v == NULL || strcmp(v, json_str(a, "aar")) != 0) {
			log_info("job %s: the AAR changed again; this notice "
			    "is stale", job_id(j));
			cJSON_Delete(rec);
			job_done(j, NULL);
			return;
		}
		follow_incident_owner(a, rec);
		json_set(a, "summary", cJSON_CreateString(json_str(rec,
		    "summary") != NULL ? json_str(rec, "summary") : ""));
		cJSON_Delete(rec);
		follow_notice_next(j, "who");
		return;
	}
	if (strcmp(what, "reopened") == 0) {
		if (json_num(rec, "archive.gen", 0) != json_num(a, "gen", -1) ||
		    json_str(rec, "archive.state") == NULL ||
		    strcmp(json_str(rec, "archive.state"), "reopened") != 0) {
			cJSON_Delete(rec);
			job_done(j, NULL);
			return;
		}
		follow_incident_owner(a, rec);
		json_set(a, "summary", cJSON_CreateString(json_str(rec,
		    "summary") != NULL ? json_str(rec, "summary") : ""));
		/* The members remembered at archive time are told too. */
		to = cJSON_CreateArray();
		cJSON_ArrayForEach(owner, json_path(rec, "archive.members")) {
			m = cJSON_IsString(owner) ? owner->valuestring : NULL;
			if (m != NULL && cJSON_GetArraySize(to) < FOLLOW_DM_MAX)
				cJSON_AddItemToArray(to, cJSON_CreateString(m));
		}
		json_set(a, "members", to);
		cJSON_Delete(rec);
		follow_notice_next(j, "who");
		return;
	}
	cJSON_Delete(rec);
	/* A reminder: Jira is asked again, the poll may lag. */
	jira_issue_get(json_str(a, "key"), "summary,status,duedate,labels,"
	    "assignee,reporter", follow_check_cb, j);
}

static void
follow_check_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j), *owner;
	const cJSON	*f = json_path(jr->json, "fields"), *l;
	const char	*cat, *due;
	int		 label = 0;

	if (jr->error != NULL) {
		if (jr->status == 404) {
			job_done(j, NULL);	/* gone: nobody to remind */
			return;
		}
		jira_job_failed(j, jr);
		return;
	}
	cat = json_str(f, "status.statusCategory.key");
	due = json_str(f, "duedate");
	cJSON_ArrayForEach(l, json_path(f, "labels")) {
		if (cJSON_IsString(l) && strcmp(l->valuestring,
		    cfg->jira.followup_label) == 0)
			label = 1;
	}
	if ((cat != NULL && strcmp(cat, "done") == 0) || !label ||
	    due == NULL || strcmp(due, json_str(a, "due")) != 0) {
		log_info("job %s: %s is done, moved or no longer a corrective "
		    "action; no reminder", job_id(j), json_str(a, "key"));
		job_done(j, NULL);
		return;
	}
	if ((owner = follow_owner(f)) == NULL) {
		log_info("job %s: %s has nobody to remind", job_id(j),
		    json_str(a, "key"));
		job_done(j, NULL);
		return;
	}
	json_set(a, "owner", owner);
	json_set(a, "summary", cJSON_CreateString(json_str(f, "summary") !=
	    NULL ? json_str(f, "summary") : ""));
	follow_notice_next(j, "who");
}

/*
 * An incident ticket's owner, into the job's args: the assignee; else,
 * for a ticket `new incident` opened (its reporter is incidentd's own
 * Jira account), whoever declared it; else the reporter; else whoever
 * brought the ticket to Slack.
 */
static void
follow_incident_owner(cJSON *a, const cJSON *rec)
{
	const cJSON	*owner = json_path(rec, "owner");
	const char	*role = json_str(owner, "role");
	cJSON		*inc, *o;
	const char	*by;

	o = owner != NULL ? cJSON_Duplicate(owner, 1) : cJSON_CreateObject();
	if (role == NULL || strcmp(role, "assignee") != 0) {
		inc = incident_load(json_str(a, "key"));
		by = json_str(inc, "declared_by");
		if (by != NULL && *by != '\0' && strlen(by) < 32 &&
		    (role == NULL || json_str(inc, "origin_channel") != NULL))
			json_set(o, "slack", cJSON_CreateString(by));
		cJSON_Delete(inc);
	}
	if (o->child != NULL)
		json_set(a, "owner", o);
	else
		cJSON_Delete(o);
}

/* The owner's Slack user: jira.users, then users.lookupByEmail. */
static void
follow_who_run(struct job *j)
{
	cJSON		*a = job_args(j), *args;
	const char	*id = json_str(a, "owner.id");
	const char	*email = json_str(a, "owner.email"), *u = NULL;

	if ((u = json_str(a, "owner.slack")) != NULL) {
		follow_who_done(j, u);
		return;
	}
	if (id != NULL)
		u = config_map_get(&cfg->jira.users, id);
	if (u == NULL && email != NULL)
		u = config_map_get(&cfg->jira.users, email);
	if (u != NULL) {
		follow_who_done(j, u);
		return;
	}
	if (email == NULL) {
		follow_who_done(j, NULL);
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "email", email);
	slack_call("users.lookupByEmail", args, follow_who_cb, j);
}

static void
follow_who_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	const char	*u = json_str(sr->json, "user.id");

	if (sr->ok && u != NULL && strlen(u) < 32 &&
	    !json_bool(sr->json, "user.deleted"))
		follow_who_done(j, u);
	else if (sr->ok || (sr->error != NULL &&
	    strcmp(sr->error, "users_not_found") == 0))
		follow_who_done(j, NULL);
	else
		slack_job_failed(j, sr);
}

static void
follow_who_done(struct job *j, const char *user)
{
	cJSON		*a = job_args(j);
	const char	*what = json_str(a, "what");
	time_t		 t;

	if (user != NULL && strspn(user, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789") != strlen(user))
		user = NULL;
	json_set(a, "user", user != NULL ? cJSON_CreateString(user) : NULL);
	if (user != NULL && strcmp(what, "aar") == 0 &&
	    time_parse_iso(json_str(a, "aar"), &t) == 0)
		follow_notice_next(j, "tz");
	else
		follow_notice_next(j, "send");
}

/* The owner's time zone, for a meeting time. */
static void
follow_tz_run(struct job *j)
{
	cJSON	*args = cJSON_CreateObject();

	cJSON_AddStringToObject(args, "user", json_str(job_args(j), "user"));
	slack_call("users.info", args, follow_tz_cb, j);
}

static void
follow_tz_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	const char	*tz = json_str(sr->json, "user.tz");

	if (!sr->ok && slack_transient(sr)) {
		slack_job_failed(j, sr);
		return;
	}
	/* Without a zone the notice still goes, in UTC. */
	if (sr->ok && tz_valid(tz))
		json_set(job_args(j), "tz", cJSON_CreateString(tz));
	follow_notice_next(j, "send");
}

/*
 * The notice's text. direct: to the owner ("you"); otherwise for the
 * incident channel, because the owner could not be found in Slack.
 */
static char *
follow_notice_text(struct job *j, int direct)
{
	cJSON		*a = job_args(j);
	const char	*what = json_str(a, "what"), *v, *tz;
	char		*url, *key, *sum, *text, *when, *inc, *iurl, *isum;
	char		*who, *ch, *owner, *exp, *tmp, *pm;
	cJSON		*irec;
	time_t		 t, end;

	key = slack_escape(json_str(a, "key"));
	url = jira_browse_url(json_str(a, "key"));
	sum = slack_escape(json_str(a, "summary"));
	owner = slack_escape(json_str(a, "owner.name") != NULL ?
	    json_str(a, "owner.name") : "the ticket's owner");
	if (strcmp(what, "aar") == 0) {
		v = json_str(a, "aar");
		tz = json_str(a, "tz");
		if (time_parse_iso(v, &t) == 0)
			when = time_format_zone(t, tz != NULL ? tz : "UTC",
			    "%A %d %B %Y at %H:%M %Z");
		else if (time_day_end(v, "UTC", &t) == 0)
			when = time_format_zone(t - FOLLOW_DAY, "UTC",
			    "%A %d %B %Y");
		else
			when = slack_escape(v);
		if ((ch = follow_incident_channel(json_str(a, "key"))) !=
		    NULL) {
			xasprintf(&tmp, "Incident channel: <#%s>\n", ch);
			free(ch);
			ch = tmp;
		} else
			ch = xstrdup("");
		exp = xstrdup(cfg->schedule.aar_expectations != NULL ?
		    cfg->schedule.aar_expectations : "");
		/* The draft if there is one, else how to get one. */
		if ((pm = postmortem_url(json_str(a, "key"))) != NULL) {
			xasprintf(&tmp, "\nThe postmortem draft: <%s|on %s>.",
			    pm, key);
			free(pm);
			pm = tmp;
		} else
			pm = xstrdup("\nType `postmortem` in the incident "
			    "channel for a draft.");
		xasprintf(&text, ":spiral_calendar_pad: *After-action review "
		    "for <%s|%s>*: %s\n*When:* %s%s\n%s%s%s", url, key, sum,
		    when, direct && json_str(a, "tz") != NULL ? " (your time)" :
		    "", ch, exp, pm);
		free(pm);
		free(exp);
		free(ch);
		free(when);
	} else if (strcmp(what, "warn") == 0 || strcmp(what, "overdue") == 0) {
		inc = slack_escape(json_str(a, "incident"));
		iurl = jira_browse_url(json_str(a, "incident"));
		irec = follow_load(json_str(a, "incident"));
		isum = slack_escape(json_str(irec, "summary"));
		cJSON_Delete(irec);
		if (time_day_end(json_str(a, "due"), cfg->timeline.timezone,
		    &end) != 0)
			end = now_wall();
		when = slack_escape(json_str(a, "due"));
		if (strcmp(what, "warn") == 0)
			xasprintf(&text, ":hourglass_flowing_sand: Corrective "
			    "action <%s|%s> (%s) is due on *%s*. It came from "
			    "incident <%s|%s>%s%s.", url, key, sum, when, iurl,
			    inc, *isum != '\0' ? ": " : "", isum);
		else
			xasprintf(&text, ":warning: Corrective action <%s|%s> "
			    "(%s) was due on *%s* and is not done yet. It came "
			    "from incident <%s|%s>%s%s.", url, key, sum, when,
			    iurl, inc, *isum != '\0' ? ": " : "", isum);
		free(when);
		free(inc);
		free(iurl);
		free(isum);
	} else {
		ch = slack_escape(json_str(a, "channel"));
		xasprintf(&text, ":open_file_folder: <%s|%s> (%s) was reopened "
		    "in Jira, but its incident channel <#%s> was archived. "
		    "Slack does not let bots unarchive channels; %s",
		    url, key, sum, ch, cfg->slack.user_token != NULL ?
		    "the button below unarchives it with an admin's token." :
		    "the button below opens a fresh channel for the ticket, "
		    "linked to the old one.");
		free(ch);
	}
	if (!direct) {
		xasprintf(&who, "%s\n_I could not find %s in Slack to tell "
		    "them directly (map their Jira account in jira.users)._",
		    text, owner);
		free(text);
		text = who;
	}
	free(owner);
	free(key);
	free(url);
	free(sum);
	return (text);
}

/* Where a notice goes when its owner is not in Slack: the channel. */
static char *
follow_fallback_channel(struct job *j)
{
	cJSON		*a = job_args(j);
	const char	*what = json_str(a, "what");

	if (strcmp(what, "warn") == 0 || strcmp(what, "overdue") == 0)
		return (follow_incident_channel(json_str(a, "incident")));
	if (strcmp(what, "aar") == 0)
		return (follow_incident_channel(json_str(a, "key")));
	return (NULL);
}

/*
 * Send: one DM (or, for a reopen, one to the owner and each member),
 * each recorded before the next. Slack has no idempotency key for posts:
 * a crash between a post and its record sends that one again.
 */
static void
follow_send_run(struct job *j)
{
	cJSON		*a = job_args(j), *to, *blocks, *el;
	const cJSON	*m;
	const char	*user = json_str(a, "user"), *what;
	char		*text, *ch;
	int		 next = (int)json_num(a, "next", 0), direct;

	what = json_str(a, "what");
	if (strcmp(what, "reopened") != 0) {
		if (next > 0) {
			job_done(j, NULL);
			return;
		}
		direct = user != NULL;
		ch = direct ? xstrdup(user) : follow_fallback_channel(j);
		if (ch == NULL) {
			log_warnx("job %s: nobody to tell: %s is not in Slack "
			    "and there is no incident channel", job_id(j),
			    json_str(a, "owner.name") != NULL ?
			    json_str(a, "owner.name") : "the owner");
			job_done(j, NULL);
			return;
		}
		text = follow_notice_text(j, direct);
		slack_post(ch, NULL, text, NULL, follow_sent_cb, j);
		free(text);
		free(ch);
		return;
	}
	/* A reopen: the owner first, then the channel's members. */
	to = cJSON_CreateArray();
	if (user != NULL)
		cJSON_AddItemToArray(to, cJSON_CreateString(user));
	cJSON_ArrayForEach(m, json_path(a, "members")) {
		if (!cJSON_IsString(m) || (user != NULL &&
		    strcmp(m->valuestring, user) == 0) ||
		    (slack_self.user_id != NULL &&
		    strcmp(m->valuestring, slack_self.user_id) == 0))
			continue;
		cJSON_AddItemToArray(to, cJSON_CreateString(m->valuestring));
	}
	if (next >= cJSON_GetArraySize(to)) {
		cJSON_Delete(to);
		job_done(j, NULL);
		return;
	}
	text = follow_notice_text(j, 1);
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	el = cJSON_CreateArray();
	cJSON_AddItemToArray(el, blocks_button(cfg->slack.user_token != NULL ?
	    "Unarchive the channel" : "Open a new channel", "nc_reopen",
	    json_str(a, "key"), "primary"));
	cJSON_AddItemToArray(blocks, blocks_actions("reopen", el));
	slack_post(cJSON_GetArrayItem(to, next)->valuestring, NULL, text,
	    blocks, follow_sent_cb, j);
	free(text);
	cJSON_Delete(to);
}

static void
follow_sent_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j);
	int		 next = (int)json_num(a, "next", 0);

	if (!sr->ok && !slack_transient(sr) && strcmp(json_str(a, "what"),
	    "reopened") == 0) {
		/* One member who cannot be reached must not stop the rest. */
		log_warnx("job %s: DM %d: %s", job_id(j), next, sr->error);
	} else if (!sr->ok) {
		slack_job_failed(j, sr);
		return;
	} else if (next == 0 && strcmp(json_str(a, "what"), "reopened") != 0)
		/* A reminder (AAR, due soon, overdue) went out. */
		evlog_add_id(json_str(a, "incident") != NULL ? json_str(a,
		    "incident") : json_str(a, "key"), EVLOG_REMINDER_SENT,
		    now_wall(), job_token(j));
	json_set(a, "next", cJSON_CreateNumber(next + 1));
	job_checkpoint(j, follow_send_run);
}

/* ------------------------------------------------------------ archiving */

/* Is the job's archive generation still the plan? */
static int
follow_archive_current(struct job *j)
{
	cJSON		*a = job_args(j), *rec;
	const char	*st;
	int		 yes;

	if ((rec = follow_load(json_str(a, "key"))) == NULL)
		return (0);
	st = json_str(rec, "archive.state");
	yes = json_num(rec, "archive.gen", 0) == json_num(a, "gen", -1) &&
	    st != NULL && strcmp(st, "scheduled") == 0;
	cJSON_Delete(rec);
	return (yes);
}

/* The notice a day (or half the delay) before, with Keep open. */
static void
follow_archive_notice_run(struct job *j)
{
	cJSON	*a = job_args(j), *blocks, *el;
	char	*text, *when, *key, *url, *value, *dur;

	if (!follow_archive_current(j)) {
		job_done(j, NULL);
		return;
	}
	dur = duration_text(cfg->schedule.archive_after);
	when = slack_date((time_t)json_num(a, "at", 0),
	    "{date_long_pretty} at {time}");
	key = slack_escape(json_str(a, "key"));
	url = jira_browse_url(json_str(a, "key"));
	xasprintf(&text, ":file_cabinet: <%s|%s> is closed in Jira, so this "
	    "channel will be archived on %s. Press *Keep open* (or type "
	    "`keep open`) to keep it for another %s.", url, key, when, dur);
	xasprintf(&value, "%s %d", json_str(a, "key"),
	    (int)json_num(a, "gen", 0));
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	el = cJSON_CreateArray();
	cJSON_AddItemToArray(el, blocks_button("Keep open", "keep_open",
	    value, NULL));
	cJSON_AddItemToArray(blocks, blocks_actions("archive", el));
	/* Keyed: a notice whose answer was lost is looked up, not repeated. */
	slack_post_keyed(json_str(a, "channel"), NULL, text, blocks,
	    job_token(j), follow_archive_notice_cb, j);
	free(value);
	free(text);
	free(when);
	free(key);
	free(url);
	free(dur);
}

static void
follow_archive_notice_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok || (sr->error != NULL &&
	    (strcmp(sr->error, "channel_not_found") == 0 ||
	    strcmp(sr->error, "is_archived") == 0)))
		job_done(j, NULL);
	else
		slack_job_post_failed(j, sr);
}

/* Was the notice posted? Its token says. */
static void
follow_archive_notice_probe(struct job *j)
{
	slack_post_find(json_str(job_args(j), "channel"), NULL, job_token(j),
	    job_created(j) - 60, follow_archive_notice_found_cb, j);
}

static void
follow_archive_notice_found_cb(int found, const char *ts, void *arg)
{
	slack_job_found(arg, found, follow_archive_notice_done);
}

static void
follow_archive_notice_done(struct job *j)
{
	job_done(j, NULL);
}

/*
 * Archive: remember who was in the channel (they are told if the ticket
 * is reopened later), then conversations.archive. A channel already
 * archived or deleted is the outcome we wanted.
 */
static void
follow_archive_run(struct job *j)
{
	cJSON		*a = job_args(j), *args;
	const char	*step = json_str(a, "step");

	if (!follow_archive_current(j)) {
		log_info("job %s: kept open, reopened or replanned; not "
		    "archiving", job_id(j));
		job_done(j, NULL);
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(a, "channel"));
	if (step != NULL && strcmp(step, "members") == 0) {
		cJSON_AddNumberToObject(args, "limit", FOLLOW_MEMBERS_MAX);
		slack_call("conversations.members", args, follow_members_cb,
		    j);
		return;
	}
	slack_call("conversations.archive", args, follow_archived_cb, j);
}

static void
follow_members_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a = job_args(j), *m;
	const cJSON	*u;

	if (!sr->ok && slack_transient(sr)) {
		slack_job_failed(j, sr);
		return;
	}
	m = cJSON_CreateArray();
	cJSON_ArrayForEach(u, json_path(sr->json, "members")) {
		if (cJSON_IsString(u) && strlen(u->valuestring) < 32 &&
		    cJSON_GetArraySize(m) < FOLLOW_MEMBERS_MAX)
			cJSON_AddItemToArray(m, cJSON_CreateString(
			    u->valuestring));
	}
	if (!sr->ok)
		log_warnx("job %s: conversations.members: %s; archiving "
		    "without the member list", job_id(j), sr->error);
	json_set(a, "members", m);
	json_set(a, "step", cJSON_CreateString("archive"));
	job_checkpoint(j, follow_archive_run);
}

static void
follow_archived_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	const char	*e = sr->error;
	cJSON		*r;

	if (sr->ok || (e != NULL && (strcmp(e, "already_archived") == 0 ||
	    strcmp(e, "channel_not_found") == 0 ||
	    strcmp(e, "is_archived") == 0))) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "outcome", sr->ok ? "archived" :
		    e);
		job_done(j, r);
		return;
	}
	slack_job_failed(j, sr);
}

/* Record the archive on the ticket; a reopen meanwhile is told now. */
static void
follow_archive_ended(struct job *j)
{
	cJSON		*a = job_args(j), *rec, *ar, *args, *d;
	const char	*key = json_str(a, "key"), *out;
	char		*k, *text, *id;

	out = json_str(job_result(j), "outcome");
	if (!job_succeeded(j)) {
		xasprintf(&text, ":warning: I could not archive this channel "
		    "(%s). Archive it by hand, or ask an admin to check the "
		    "app's permissions.", job_error(j) != NULL ?
		    job_error(j) : "unknown error");
		xasprintf(&id, "%s/failed", job_id(j));
		cmd_reply_job(json_str(a, "channel"), NULL, text, id);
		free(id);
		free(text);
		return;
	}
	if (out == NULL || (rec = follow_load(key)) == NULL)
		return;	/* stale generation: nothing was archived */
	ar = json_path(rec, "archive");
	if (json_num(ar, "gen", 0) != json_num(a, "gen", -1)) {
		cJSON_Delete(rec);
		return;
	}
	json_set(ar, "state", cJSON_CreateString(strcmp(out,
	    "channel_not_found") == 0 ? "gone" : "archived"));
	json_set(ar, "archived_at", cJSON_CreateNumber((double)now_wall()));
	json_set(ar, "members", cJSON_Duplicate(json_path(a, "members"),
	    1));
	if (strcmp(out, "channel_not_found") != 0) {
		d = cJSON_CreateObject();
		xasprintf(&id, "%d", (int)json_num(a, "gen", 0));
		cJSON_AddStringToObject(d, "id", id);
		free(id);
		cJSON_AddStringToObject(d, "channel", json_str(a, "channel"));
		evlog_add(key, EVLOG_CHANNEL_ARCHIVED, now_wall(), d);
	}
	log_info("follow %s: #%s %s", key, json_str(a, "channel"),
	    strcmp(out, "channel_not_found") == 0 ? "was deleted already" :
	    "archived");
	/* Reopened while the archive was in flight: tell them now. */
	if (strcmp(out, "channel_not_found") != 0 && json_str(rec, "cat") !=
	    NULL && strcmp(json_str(rec, "cat"), "done") != 0) {
		json_set(ar, "state", cJSON_CreateString("reopened"));
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "what", "reopened");
		cJSON_AddStringToObject(args, "key", key);
		cJSON_AddStringToObject(args, "channel", json_str(a,
		    "channel"));
		cJSON_AddNumberToObject(args, "gen", json_num(a, "gen", 0));
		cJSON_AddStringToObject(args, "step", "check");
		xasprintf(&k, "%s.%d", key, (int)json_num(a, "gen", 0));
		free(job_create("archive_reopened", k, args, 0));
		free(k);
	}
	follow_save(rec);
	cJSON_Delete(rec);
}

/*
 * Keep the channel of key open for another archive_after: a new
 * generation, so the planned archive and its notice go stale. Returns
 * the reply for the channel; caller frees.
 */
char *
follow_keep_open(const char *key, const char *user, int gen)
{
	cJSON		*rec;
	const char	*st, *ch;
	char		*text, *when;

	if ((rec = follow_load(key)) == NULL ||
	    (st = json_str(rec, "archive.state")) == NULL ||
	    strcmp(st, "scheduled") != 0 ||
	    (ch = json_str(rec, "archive.channel")) == NULL) {
		cJSON_Delete(rec);
		xasprintf(&text, "This channel is not going to be archived: "
		    "%s is not closed in Jira (or was reopened).", key);
		return (text);
	}
	if (gen > 0 && json_num(rec, "archive.gen", 0) != gen) {
		when = slack_date((time_t)json_num(rec, "archive.at", 0),
		    "{date_long_pretty} at {time}");
		cJSON_Delete(rec);
		xasprintf(&text, "This channel is already kept open: it will "
		    "be archived on %s.", when);
		free(when);
		return (text);
	}
	ch = xstrdup(ch);
	follow_archive_schedule(rec, key, ch);
	follow_save(rec);
	when = slack_date((time_t)json_num(rec, "archive.at", 0),
		    "{date_long_pretty} at {time}");
	xasprintf(&text, ":file_cabinet: <@%s> kept this channel open: it "
	    "will be archived on %s unless %s is reopened.", user, when, key);
	log_info("follow %s: kept open by %s", key, user);
	free(when);
	free((char *)ch);
	cJSON_Delete(rec);
	return (text);
}

/*
 * Unarchive the archived channel of key with slack.user_token, for user
 * (who pressed the button): a job. NULL, or why not; caller frees.
 */
char *
follow_unarchive(const char *key, const char *user)
{
	cJSON		*rec, *args;
	const char	*st, *ch;
	char		*k, *why = NULL, *id;

	if ((rec = follow_load(key)) == NULL ||
	    (st = json_str(rec, "archive.state")) == NULL ||
	    (ch = json_str(rec, "archive.channel")) == NULL ||
	    (strcmp(st, "archived") != 0 && strcmp(st, "reopened") != 0)) {
		cJSON_Delete(rec);
		xasprintf(&why, "The channel of %s is not archived.", key);
		return (why);
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "channel", ch);
	cJSON_AddStringToObject(args, "user", user);
	cJSON_AddNumberToObject(args, "gen", json_num(rec, "archive.gen", 0));
	xasprintf(&k, "%s.%d", key, (int)json_num(rec, "archive.gen", 0));
	if ((id = job_create("channel_unarchive", k, args, 0)) == NULL)
		xasprintf(&why, "I could not record that (state store error); "
		    "try again in a moment.");
	free(id);
	free(k);
	cJSON_Delete(rec);
	return (why);
}

static void
follow_unarchive_run(struct job *j)
{
	cJSON	*args = cJSON_CreateObject();

	cJSON_AddStringToObject(args, "channel", json_str(job_args(j),
	    "channel"));
	slack_call_user("conversations.unarchive", args,
	    follow_unarchived_cb, j);
}

static void
follow_unarchived_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	cJSON		*args;

	if (!sr->ok && (sr->error == NULL ||
	    strcmp(sr->error, "not_archived") != 0)) {
		slack_job_failed(j, sr);
		return;
	}
	/*
	 * Archiving removed the bot from the channel, and a bot cannot
	 * join back by itself where it is not invited: the token's user,
	 * now a member again, invites it. Run again, both steps say
	 * "already": not_archived, already_in_channel.
	 */
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(job_args(j),
	    "channel"));
	cJSON_AddStringToObject(args, "users", slack_self.user_id != NULL ?
	    slack_self.user_id : "");
	slack_call_user("conversations.invite", args, follow_rejoined_cb, j);
}

static void
follow_rejoined_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok || (sr->error != NULL &&
	    strcmp(sr->error, "already_in_channel") == 0))
		job_done(j, NULL);
	else
		slack_job_failed(j, sr);
}

/* Unarchived: the channel is live again; its people are let back in. */
static void
follow_unarchive_ended(struct job *j)
{
	cJSON		*a = job_args(j), *rec;
	const char	*key = json_str(a, "key"), *ch = json_str(a, "channel");
	const char	*user = json_str(a, "user");
	char		*text, *id;

	if (!job_succeeded(j)) {
		xasprintf(&text, "I could not unarchive the channel of %s: "
		    "%s.", key, job_error(j) != NULL ? job_error(j) :
		    "unknown error");
		xasprintf(&id, "%s/failed", job_id(j));
		cmd_reply_job(user, NULL, text, id);
		free(id);
		free(text);
		return;
	}
	if ((rec = follow_load(key)) != NULL) {
		json_set(json_path(rec, "archive"), "state",
		    cJSON_CreateString("unarchived"));
		follow_save(rec);
		cJSON_Delete(rec);
	}
	xasprintf(&id, "%s/invite", job_id(j));
	cmd_invite_job(ch, user, id);
	free(id);
	xasprintf(&text, ":open_file_folder: <@%s> unarchived this channel: "
	    "%s was reopened in Jira.", user, key);
	xasprintf(&id, "%s/said", job_id(j));
	cmd_reply_job(ch, NULL, text, id);
	free(id);
	free(text);
	log_info("follow %s: #%s unarchived for %s", key, ch, user);
}
