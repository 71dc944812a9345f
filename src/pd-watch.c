/*
 * pd-watch.c: live PagerDuty status in the incident channel.
 *
 * Once a page has made (or joined) the PagerDuty incident of an incident
 * (page.c calls pd_watch_start), people in the channel should see what
 * happens to it without opening PagerDuty: who acknowledged, who it
 * escalated or was reassigned to, who accepted or declined a responder
 * request, when it was resolved. This file owns, in STORE_PDWATCH:
 *
 *	KEY			{ "key", "seq", "closed", "people": {pd id:
 *				  {"name", "email", "slack"}}, "incidents":
 *				  {pd id: {"id", "html_url", "service",
 *				  "status", "assignees": [{"id", "name"}],
 *				  "level", "acknowledged_at", "resolved_at",
 *				  "since", "responders": {pd user: state}}}}
 *	KEY/ev/PDID/EVENT	one PagerDuty event: { "key", "pd", "id",
 *				  "type", "at", "text" (mrkdwn, people as
 *				  {P:id}), "plain", "people": [{"id",
 *				  "name"}] }
 *
 * The poller is a job kind ("pd_watch", one job per poll, keyed by the
 * incident and a sequence like follow.c's Jira poll) that reads each
 * PagerDuty incident and its log entries since the newest one seen,
 * page by page. Each new event is stored in the poll's turn, keyed by its
 * log entry id (a responder's answer: by user and state), and a "pd_post"
 * job keyed the same way posts it after the commit: an event seen again
 * (the overlap of "since", a restart) finds its record and makes nothing.
 * Watching ends once every PagerDuty incident is resolved and the
 * incident's ticket is closed (follow.c calls pd_watch_ticket_closed).
 *
 * A page nobody acknowledges within pagerduty.ack_timeout gets one nudge
 * ("pd_nudge", keyed by the PagerDuty incident) with buttons: escalate
 * to the next level, or page someone else. A ticket closed while its
 * PagerDuty incident is open asks (a Resolve button), resolves, or does
 * nothing (pagerduty.resolve_on_close). The writes to PagerDuty are jobs
 * ("pd_escalate" keyed by the level, "pd_resolve") that probe before a
 * resend. The buttons belong to the "pagerduty" command below.
 *
 * PagerDuty webhooks (pd-webhook.c) only hurry the poller along:
 * pd_watch_poke makes the watch's next poll due now (a poll in flight
 * leaves "again" on the record, and the next one follows at once). The
 * poll stays the one path that stores and posts events, so an event seen
 * by both a webhook and a poll is posted once, by its log entry id. A
 * poke replaces a queued poll with a new sequence number; the old job
 * finds itself superseded and ends without polling.
 *
 * Every change stored calls incident_changed(key); pd_watch_summary and
 * pd_watch_events are how others read these records.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define PDW_POLL_KIND	"pd_watch"
#define PDW_LOG_PAGES	20		/* x 100 entries a poll */
#define PDW_RATE_MAX_MS	60000		/* a Retry-After beyond: a minute */
#define PDW_EV		"/ev/"
#define PDW_ID_MAX	64		/* a button's key and id: "%63s" */

/* One poll in flight: the job, the PagerDuty incidents left, a page. */
struct pdw_poll {
	struct job	*job;
	char		*key;
	struct strlist	 ids;
	size_t		 i;
	int		 offset;
	int		 pages;
	cJSON		*entries;	/* this incident's, newest first */
	int		 changed;
};

/* A post in flight (pd_post, pd_nudge, the resolve prompt). */
struct pdw_post {
	struct job	*job;
	char		*channel;
	char		*text;
	cJSON		*blocks;
};

static cJSON	*pdw_load(const char *);
static int	 pdw_save(const cJSON *);
static void	 pdw_acked(const char *, cJSON *, const char *, const char *);
static cJSON	*pdw_pd(cJSON *, const char *);
static char	*pdw_channel(const char *);
static int	 pdw_watching(const cJSON *);
static void	 pdw_schedule(cJSON *, time_t);
static void	 pdw_failed(struct job *, const struct pd_result *, int);
static int	 pdw_answered(struct job *, const struct pd_result *);
static void	 pdw_poll_run(struct job *);
static void	 pdw_poll_next(struct pdw_poll *);
static void	 pdw_poll_free(struct pdw_poll *);
static void	 pdw_incident_cb(const struct pd_result *, void *);
static void	 pdw_log_cb(const struct pd_result *, void *);
static void	 pdw_poll_ended(struct job *);
static void	 pdw_entries(struct pdw_poll *, cJSON *, cJSON *);
static int	 pdw_event(const char *, cJSON *, const char *, const char *,
		    const char *, time_t, const char *, const cJSON *);
static void	 pdw_person(cJSON *, const char *, const char *);
static char	*pdw_who(const cJSON *, const char *);
static cJSON	*pdw_people(const cJSON *, const cJSON *);
static char	*pdw_render(const char *, const cJSON *, int);
static void	 pdw_post_run(struct job *);
static void	 pdw_post_people_cb(cJSON *, void *);
static void	 pdw_posted_cb(const struct slack_result *, void *);
static void	 pdw_nudge_run(struct job *);
static void	 pdw_nudge_cb(const struct pd_result *, void *);
static void	 pdw_escalate_run(struct job *);
static void	 pdw_escalate_probe(struct job *);
static void	 pdw_escalate_probe_cb(const struct pd_result *, void *);
static void	 pdw_resolve_run(struct job *);
static void	 pdw_resolve_probe(struct job *);
static void	 pdw_resolve_probe_cb(const struct pd_result *, void *);
static void	 pdw_write_cb(const struct pd_result *, void *);
static void	 pdw_write_ended(struct job *);
static void	 pdw_post_job(const char *, const char *, const char *,
		    cJSON *, cJSON *);
static enum cmd_retval pdw_exec(struct cmd_item *);
static int	 pdw_click_check(const cJSON *, const cJSON *,
		    char [PDW_ID_MAX], char [PDW_ID_MAX], int *);
static void	 pdw_click_answer(const cJSON *, const char *, const char *);
static void	 pdw_escalate_click(const cJSON *, const cJSON *,
		    struct envelope *);
static void	 pdw_other_click(const cJSON *, const cJSON *,
		    struct envelope *);
static void	 pdw_resolve_click(const cJSON *, const cJSON *,
		    struct envelope *);

static int	 pdw_stopped = 1;

const struct job_kind pd_watch_job = {
	.name = PDW_POLL_KIND,
	.run = pdw_poll_run,
	.ended = pdw_poll_ended,
	.max_attempts = 6,
	.concurrency = 4,
	.backoff_base_ms = 1000,
	.backoff_cap_ms = 300000
};
/* Posts: at least once (Slack has no idempotency key for a post). */
const struct job_kind pd_post_job = {
	.name = "pd_post",
	.run = pdw_post_run,
	.max_attempts = 8
};
const struct job_kind pd_nudge_job = {
	.name = "pd_nudge",
	.run = pdw_nudge_run,
	.max_attempts = 6
};
const struct job_kind pd_escalate_job = {
	.name = "pd_escalate",
	.run = pdw_escalate_run,
	.probe = pdw_escalate_probe,
	.ended = pdw_write_ended,
	.max_attempts = 6
};
const struct job_kind pd_resolve_job = {
	.name = "pd_resolve",
	.run = pdw_resolve_run,
	.probe = pdw_resolve_probe,
	.ended = pdw_write_ended,
	.max_attempts = 6
};

static const struct cmd_action pdw_actions[] = {
	{ "pd_escalate", pdw_escalate_click },
	{ "pd_other", pdw_other_click },
	{ "pd_resolve", pdw_resolve_click },
	{ NULL, NULL }
};

const struct cmd_entry cmd_pagerduty_entry = {
	.name = "pagerduty",
	.usage = "pagerduty",
	.help = "In an incident channel: the state of its PagerDuty "
	    "incidents (status, who has it, escalation level). Changes are "
	    "posted here as they happen.",
	.exec = pdw_exec,
	.actions = pdw_actions
};

/* ------------------------------------------------------------ records */

static cJSON *
pdw_load(const char *key)
{
	cJSON	*j;

	if (store_get_json(store, STORE_PDWATCH, key, &j) != 0)
		return (NULL);
	return (j);
}

static int
pdw_save(const cJSON *rec)
{
	const char	*key = json_str(rec, "key");
	int		 rv;

	if (key == NULL)
		return (-1);
	if ((rv = store_put_json(store, STORE_PDWATCH, key, rec)) != 0)
		log_warnx("pd watch %s: store: %s", key, store_strerror(rv));
	return (rv);
}


/*
 * The first acknowledgement of PagerDuty incident pd (ISO time at, by a
 * PagerDuty user's name): kept on the watch record, and in the incident
 * event log (evlog keeps the first one per incident).
 */
static void
pdw_acked(const char *key, cJSON *pd, const char *at, const char *by)
{
	cJSON	*d;
	time_t	 t;

	if (json_str(pd, "acknowledged_at") != NULL ||
	    time_parse_iso(at, &t) != 0)
		return;
	json_set(pd, "acknowledged_at", cJSON_CreateString(at));
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "by", by != NULL ? by : "");
	cJSON_AddStringToObject(d, "pd_incident", json_str(pd, "id") !=
	    NULL ? json_str(pd, "id") : "");
	(void)evlog_add(key, EVLOG_FIRST_ACK, t, d);
}

/* The record's entry for PagerDuty incident id, or NULL. */
static cJSON *
pdw_pd(cJSON *rec, const char *id)
{
	return (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(rec,
	    "incidents"), id));
}

/* The incident's Slack channel, or NULL; caller frees. */
static char *
pdw_channel(const char *key)
{
	cJSON	*inc;
	char	*ch = NULL;

	if ((inc = incident_load(key)) == NULL)
		return (NULL);
	if (json_str(inc, "channel") != NULL)
		ch = xstrdup(json_str(inc, "channel"));
	cJSON_Delete(inc);
	return (ch);
}

/* Watch on while a PagerDuty incident is open or the ticket is. */
static int
pdw_watching(const cJSON *rec)
{
	const cJSON	*p;
	const char	*st;

	if (!json_bool(rec, "closed"))
		return (1);
	cJSON_ArrayForEach(p, json_path(rec, "incidents")) {
		st = json_str(p, "status");
		if (st == NULL || strcmp(st, "resolved") != 0)
			return (1);
	}
	return (0);
}

/* The next poll of rec (saved here), due at due: a new job this turn. */
static void
pdw_schedule(cJSON *rec, time_t due)
{
	int	 seq = (int)json_num(rec, "seq", 0) + 1;
	char	*k;

	json_set(rec, "seq", cJSON_CreateNumber(seq));
	if (pdw_save(rec) != 0)
		return;
	xasprintf(&k, "%s.%d", json_str(rec, "key"), seq);
	free(job_create(PDW_POLL_KIND, k, NULL, due));
	free(k);
}

/*
 * Follow PagerDuty incident pd of incident key (in this turn): a poll
 * starts unless one runs, and the nudge is planned. Again is nothing.
 */
void
pd_watch_start(const char *key, const char *pd)
{
	cJSON	*rec, *p, *args;
	char	*k;
	int	 fresh;

	if (key == NULL || pd == NULL)
		return;
	if ((rec = pdw_load(key)) == NULL) {
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "key", key);
		cJSON_AddObjectToObject(rec, "incidents");
		cJSON_AddObjectToObject(rec, "people");
	}
	if (pdw_pd(rec, pd) != NULL) {
		cJSON_Delete(rec);
		return;
	}
	fresh = !pdw_watching(rec) || json_num(rec, "seq", 0) == 0;
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "id", pd);
	cJSON_AddStringToObject(p, "status", "triggered");
	cJSON_AddNumberToObject(p, "level", 1);
	cJSON_AddItemToObject(cJSON_GetObjectItem(rec, "incidents"), pd, p);
	log_info("pd watch %s: following PagerDuty incident %s", key, pd);
	if (fresh)
		pdw_schedule(rec, 0);
	else
		pdw_save(rec);
	cJSON_Delete(rec);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "pd", pd);
	xasprintf(&k, "%s:%s", key, pd);
	free(job_create("pd_nudge", k, args, now_wall() +
	    (time_t)cfg->pagerduty.ack_timeout));
	free(k);
}

/* The watch that follows PagerDuty incident pd (a pd_watch_poke). */
struct pdw_find {
	const char	*pd;
	char		*key;
};

static int
pdw_find_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct pdw_find	*f = arg;
	cJSON		*rec;
	int		 found = 0;

	if (strstr(key, PDW_EV) != NULL)
		return (0);
	if ((rec = cJSON_ParseWithLength(val, len)) != NULL) {
		found = pdw_pd(rec, f->pd) != NULL;
		cJSON_Delete(rec);
	}
	if (found)
		f->key = xstrdup(key);
	return (found);
}

/*
 * Poll PagerDuty incident pd now (a webhook said it changed), in this
 * turn. The poll due now is the current one if it is queued and due, else
 * a new one; a poll in flight gets a successor at once (see the top).
 */
int
pd_watch_poke(const char *pd)
{
	struct pdw_find	 f = { pd, NULL };
	cJSON		*rec = NULL, *j = NULL;
	const char	*st;
	char		*id = NULL;
	int		 rv = 0;

	if (pdw_stopped || pd == NULL || *pd == '\0')
		return (0);
	if (store_foreach(store, STORE_PDWATCH, "", pdw_find_cb, &f) < 0 ||
	    f.key == NULL || (rec = pdw_load(f.key)) == NULL ||
	    !pdw_watching(rec))
		goto out;
	xasprintf(&id, "%s/%s.%d", PDW_POLL_KIND, f.key,
	    (int)json_num(rec, "seq", 0));
	j = job_load(id);
	st = json_str(j, "state") != NULL ? json_str(j, "state") : "";
	rv = 1;
	if (strcmp(st, "running") == 0) {
		json_set(rec, "again", cJSON_CreateBool(1));
		if (pdw_save(rec) != 0)
			rv = -1;
	} else if (strcmp(st, "queued") != 0 ||
	    json_num(j, "due", 0) > (double)now_wall() * 1000) {
		log_debug("pd watch %s: %s changed, polling now", f.key, pd);
		pdw_schedule(rec, 0);
		if (store_failed(store))
			rv = -1;
	}
out:
	cJSON_Delete(j);
	cJSON_Delete(rec);
	free(id);
	free(f.key);
	return (rv);
}

/* Start up: every watch whose last poll ended gets its next one. */
static int
pdw_init_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct strlist	*keys = arg;

	(void)val;
	(void)len;
	if (strstr(key, PDW_EV) == NULL)
		strlist_add(keys, key);
	return (0);
}

void
pd_watch_init(void)
{
	struct strlist	 keys = { NULL, 0 };
	cJSON		*rec, *j;
	const char	*st;
	char		*id;
	size_t		 i;

	pdw_stopped = 0;
	store_foreach(store, STORE_PDWATCH, "", pdw_init_cb, &keys);
	for (i = 0; i < keys.n; i++) {
		if ((rec = pdw_load(keys.v[i])) == NULL)
			continue;
		xasprintf(&id, "%s/%s.%d", PDW_POLL_KIND, keys.v[i],
		    (int)json_num(rec, "seq", 0));
		j = job_load(id);
		st = json_str(j, "state");
		if (pdw_watching(rec) && (j == NULL || st == NULL ||
		    strcmp(st, "done") == 0 || strcmp(st, "failed") == 0))
			pdw_schedule(rec, now_wall());
		cJSON_Delete(j);
		free(id);
		cJSON_Delete(rec);
	}
	strlist_free(&keys);
}

/*
 * A failed PagerDuty call's job outcome. 429: the kind waits out the
 * window (Retry-After, else ratelimit-reset). A write that got no answer
 * or a 5xx may have acted (probe first); a read is simply retried.
 */
static void
pdw_failed(struct job *j, const struct pd_result *pr, int write)
{
	char		*kind;
	long long	 ms;

	if (pr->status == 429) {
		ms = pr->retry_after_ms > 0 ? pr->retry_after_ms :
		    pr->rl_reset > 0 ? pr->rl_reset * 1000LL : 1000;
		if (ms > PDW_RATE_MAX_MS)
			ms = PDW_RATE_MAX_MS;
		kind = xstrndup(job_id(j), strcspn(job_id(j), "/"));
		job_pause(kind, ms);
		free(kind);
		job_retry(j, ms, pr->error);
	} else if (pr->status == 0 || pr->status >= 500) {
		if (write)
			job_unsure(j, pr->error);
		else
			job_retry(j, 0, pr->error);
	} else
		job_fail(j, pr->error);
}

/* 1 if a read answered and the engine is up; else the job is handled. */
static int
pdw_answered(struct job *j, const struct pd_result *pr)
{
	if (pdw_stopped)
		return (0);
	if (pr->error != NULL) {
		pdw_failed(j, pr, 0);
		return (0);
	}
	return (1);
}

/* ------------------------------------------------------------ polling */

static void
pdw_poll_run(struct job *j)
{
	struct pdw_poll	*p;
	cJSON		*rec;
	const cJSON	*i;
	const char	*key = job_key(j);
	const char	*dot = strrchr(key, '.');

	p = xcalloc(1, sizeof(*p));
	p->job = j;
	p->key = xstrndup(key, dot != NULL ? (size_t)(dot - key) :
	    strlen(key));
	/* Superseded (pd_watch_poke) or gone: the newer poll does it. */
	if ((rec = pdw_load(p->key)) == NULL || (dot != NULL &&
	    atoi(dot + 1) != (int)json_num(rec, "seq", 0))) {
		cJSON_Delete(rec);
		pdw_poll_free(p);
		job_done(j, NULL);
		return;
	}
	cJSON_ArrayForEach(i, json_path(rec, "incidents")) {
		if (json_str(i, "id") != NULL)
			strlist_add(&p->ids, json_str(i, "id"));
	}
	cJSON_Delete(rec);
	pdw_poll_next(p);
}

static void
pdw_poll_free(struct pdw_poll *p)
{
	strlist_free(&p->ids);
	cJSON_Delete(p->entries);
	free(p->key);
	free(p);
}

/* The next PagerDuty incident of the poll, or the end of it. */
static void
pdw_poll_next(struct pdw_poll *p)
{
	struct job	*j = p->job;

	if (p->i >= p->ids.n) {
		if (p->changed)
			incident_changed(p->key);
		pdw_poll_free(p);
		job_done(j, NULL);
		return;
	}
	cJSON_Delete(p->entries);
	p->entries = cJSON_CreateArray();
	p->offset = 0;
	p->pages = 0;
	pd_incident_get(p->ids.v[p->i], pdw_incident_cb, p);
}

static void
pdw_incident_cb(const struct pd_result *pr, void *arg)
{
	struct pdw_poll	*p = arg;
	const cJSON	*in = json_path(pr->json, "incident"), *a, *r;
	cJSON		*rec, *pd, *as, *x, *rs;
	const char	*id = p->ids.v[p->i], *st, *old, *uid, *name;
	char		*ev, *text, *since;
	time_t		 t;

	if (pr->error != NULL) {
		pdw_failed(p->job, pr, 0);
		pdw_poll_free(p);
		return;
	}
	if ((rec = pdw_load(p->key)) == NULL ||
	    (pd = pdw_pd(rec, id)) == NULL) {
		cJSON_Delete(rec);
		p->i++;
		pdw_poll_next(p);
		return;
	}
	/* What the summary shows: status, holders, links. */
	if ((st = json_str(in, "status")) != NULL &&
	    strcmp(st, json_str(pd, "status") != NULL ?
	    json_str(pd, "status") : "") != 0) {
		json_set(pd, "status", cJSON_CreateString(st));
		p->changed = 1;
	}
	if (json_str(in, "html_url") != NULL)
		json_set(pd, "html_url", cJSON_CreateString(json_str(in,
		    "html_url")));
	if (json_str(in, "service.summary") != NULL)
		json_set(pd, "service", cJSON_CreateString(json_str(in,
		    "service.summary")));
	if (json_num(in, "incident_number", 0) > 0)
		json_set(pd, "number", cJSON_CreateNumber(json_num(in,
		    "incident_number", 0)));
	as = cJSON_CreateArray();
	cJSON_ArrayForEach(a, json_path(in, "assignments")) {
		if ((uid = json_str(a, "assignee.id")) == NULL)
			continue;
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "id", uid);
		name = json_str(a, "assignee.summary");
		cJSON_AddStringToObject(x, "name", name != NULL ? name : uid);
		cJSON_AddItemToArray(as, x);
	}
	json_set(pd, "assignees", as);
	if ((a = cJSON_GetArrayItem(json_path(in, "acknowledgements"), 0)) !=
	    NULL && json_str(a, "at") != NULL)
		pdw_acked(p->key, pd, json_str(a, "at"),
		    json_str(a, "acknowledger.summary"));
	if (json_str(in, "resolved_at") != NULL)
		json_set(pd, "resolved_at", cJSON_CreateString(json_str(in,
		    "resolved_at")));
	/* A responder's answer: one event per user and state. */
	if ((rs = cJSON_GetObjectItem(pd, "responders")) == NULL)
		rs = cJSON_AddObjectToObject(pd, "responders");
	cJSON_ArrayForEach(r, json_path(in, "incidents_responders")) {
		uid = json_str(r, "user.id");
		st = json_str(r, "state");
		if (uid == NULL || st == NULL)
			continue;
		old = json_str(rs, uid);
		if (old != NULL && strcmp(old, st) == 0)
			continue;
		json_set(rs, uid, cJSON_CreateString(st));
		if (strcmp(st, "joined") != 0 && strcmp(st, "declined") != 0)
			continue;
		pdw_person(rec, uid, json_str(r, "user.summary"));
		xasprintf(&ev, "rr-%s-%s", uid, st);
		xasprintf(&text, "{P:%s} %s the request to respond.", uid,
		    strcmp(st, "joined") == 0 ? "accepted" : "declined");
		if (json_str(r, "updated_at") == NULL ||
		    time_parse_iso(json_str(r, "updated_at"), &t) != 0)
			t = now_wall();
		x = cJSON_CreateArray();
		cJSON_AddItemToArray(x, cJSON_CreateString(uid));
		p->changed |= pdw_event(p->key, rec, id, ev, strcmp(st,
		    "joined") == 0 ? "responder_accepted" :
		    "responder_declined", t, text, x);
		cJSON_Delete(x);
		free(ev);
		free(text);
	}
	pdw_save(rec);
	since = json_str(pd, "since") != NULL ? xstrdup(json_str(pd,
	    "since")) : NULL;
	cJSON_Delete(rec);
	pd_incident_log_page(id, since, 0, pdw_log_cb, p);
	free(since);
}

static void
pdw_log_cb(const struct pd_result *pr, void *arg)
{
	struct pdw_poll	*p = arg;
	const cJSON	*le;
	cJSON		*rec, *pd;
	int		 n = 0;

	if (pr->error != NULL) {
		pdw_failed(p->job, pr, 0);
		pdw_poll_free(p);
		return;
	}
	cJSON_ArrayForEach(le, json_path(pr->json, "log_entries")) {
		cJSON_AddItemToArray(p->entries, cJSON_Duplicate(le, 1));
		n++;
	}
	p->pages++;
	if (json_bool(pr->json, "more") && n > 0 &&
	    p->pages < PDW_LOG_PAGES) {
		p->offset += n;
		pd_incident_log_page(p->ids.v[p->i], NULL, p->offset,
		    pdw_log_cb, p);
		return;
	}
	/* Oldest first, each stored in this turn. */
	if ((rec = pdw_load(p->key)) != NULL &&
	    (pd = pdw_pd(rec, p->ids.v[p->i])) != NULL) {
		pdw_entries(p, rec, pd);
		pdw_save(rec);
	}
	cJSON_Delete(rec);
	p->i++;
	pdw_poll_next(p);
}

/* 1 if type is what a new routing logs with its assignment. */
static int
pdw_routing(const char *type)
{
	return (strcmp(type, "trigger_log_entry") == 0 ||
	    strcmp(type, "escalate_log_entry") == 0 ||
	    strcmp(type, "reopen_log_entry") == 0 ||
	    strcmp(type, "delegate_log_entry") == 0);
}

/*
 * The log entries of one PagerDuty incident (newest first in p->entries):
 * the ones people care about become events, oldest first. An assignment
 * logged with an escalation (same time) is part of it, not a reassign.
 */
static void
pdw_entries(struct pdw_poll *p, cJSON *rec, cJSON *pd)
{
	const cJSON	*le, *o, *a;
	const char	*type, *at, *id = json_str(pd, "id"), *s;
	char		*text = NULL, *who, *to;
	cJSON		*people;
	time_t		 t;
	int		 i, level;

	for (i = cJSON_GetArraySize(p->entries) - 1; i >= 0; i--) {
		le = cJSON_GetArrayItem(p->entries, i);
		type = json_str(le, "type");
		at = json_str(le, "created_at");
		if (type == NULL || at == NULL || json_str(le, "id") == NULL ||
		    time_parse_iso(at, &t) != 0)
			continue;
		json_set(pd, "since", cJSON_CreateString(at));
		people = cJSON_CreateArray();
		who = pdw_who(le, "agent");
		if (json_str(le, "agent.id") != NULL && strcmp(json_str(le,
		    "agent.type") != NULL ? json_str(le, "agent.type") : "",
		    "user_reference") == 0) {
			pdw_person(rec, json_str(le, "agent.id"),
			    json_str(le, "agent.summary"));
			cJSON_AddItemToArray(people, cJSON_CreateString(
			    json_str(le, "agent.id")));
		}
		to = NULL;
		cJSON_ArrayForEach(a, json_path(le, "assignees")) {
			if (json_str(a, "id") == NULL)
				continue;
			pdw_person(rec, json_str(a, "id"), json_str(a,
			    "summary"));
			cJSON_AddItemToArray(people, cJSON_CreateString(
			    json_str(a, "id")));
			free(to);
			xasprintf(&to, "{P:%s}", json_str(a, "id"));
		}
		if (strcmp(type, "acknowledge_log_entry") == 0) {
			xasprintf(&text, "acknowledged by %s.", who);
			pdw_acked(p->key, pd, at, json_str(le,
			    "agent.summary"));
		} else if (strcmp(type, "resolve_log_entry") == 0) {
			xasprintf(&text, "resolved by %s.", who);
			json_set(pd, "resolved_at", cJSON_CreateString(at));
			json_set(pd, "status", cJSON_CreateString("resolved"));
		} else if (strcmp(type, "escalate_log_entry") == 0) {
			level = (int)json_num(pd, "level", 1) + 1;
			s = json_str(le, "summary");
			if (s != NULL && (s = strstr(s, "level ")) != NULL)
				level = atoi(s + 6);
			if (level < 1)
				level = 1;
			json_set(pd, "level", cJSON_CreateNumber(level));
			xasprintf(&text, "escalated to %s (level %d) by %s.",
			    to != NULL ? to : "the next level", level, who);
		} else if (strcmp(type, "assign_log_entry") == 0 &&
		    to != NULL && json_str(le, "channel.summary") == NULL &&
		    !str_has_prefix(json_str(le, "summary") != NULL ?
		    json_str(le, "summary") : "", "Responders requested")) {
			/*
			 * Not a responder request (it carries the request's
			 * message; the page's announcement told it).
			 */
			/* Skip the assignment a routing logs with itself. */
			cJSON_ArrayForEach(o, p->entries) {
				if (json_str(o, "type") != NULL &&
				    pdw_routing(json_str(o, "type")) &&
				    json_str(o, "created_at") != NULL &&
				    strcmp(json_str(o, "created_at"), at) == 0)
					break;
			}
			if (o == NULL)
				xasprintf(&text, "reassigned to %s by %s.", to,
				    who);
		}
		if (text != NULL)
			p->changed |= pdw_event(p->key, rec, id, json_str(le,
			    "id"), type, t, text, people);
		cJSON_Delete(people);
		free(text);
		text = NULL;
		free(who);
		free(to);
	}
}

/* Remember a PagerDuty user's name for the summary and the timeline. */
static void
pdw_person(cJSON *rec, const char *id, const char *name)
{
	cJSON	*people, *u;

	if ((people = cJSON_GetObjectItem(rec, "people")) == NULL)
		people = cJSON_AddObjectToObject(rec, "people");
	if ((u = cJSON_GetObjectItemCaseSensitive(people, id)) == NULL)
		u = cJSON_AddObjectToObject(people, id);
	if (name != NULL)
		json_set(u, "name", cJSON_CreateString(name));
}

/* [{"id", "name"}] for PagerDuty user ids, names as rec knows them. */
static cJSON *
pdw_people(const cJSON *rec, const cJSON *ids)
{
	cJSON		*out, *u;
	const cJSON	*x;
	const char	*n;

	out = cJSON_CreateArray();
	cJSON_ArrayForEach(x, ids) {
		u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "id", x->valuestring);
		n = json_str(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItem(rec, "people"), x->valuestring),
		    "name");
		cJSON_AddStringToObject(u, "name", n != NULL ? n :
		    x->valuestring);
		cJSON_AddItemToArray(out, u);
	}
	return (out);
}

/* "{P:id}" for a user at path of o, else "PagerDuty"; caller frees. */
static char *
pdw_who(const cJSON *o, const char *path)
{
	char	*p, *s;

	xasprintf(&p, "%s.type", path);
	s = (char *)json_str(o, p);
	free(p);
	if (s == NULL || strcmp(s, "user_reference") != 0)
		return (xstrdup("PagerDuty"));
	xasprintf(&p, "%s.id", path);
	xasprintf(&s, "{P:%s}", json_str(o, p));
	free(p);
	return (s);
}

/*
 * Store one event of PagerDuty incident pd (unless it is known) and
 * create the job that posts it, keyed by it: 1 if it was new.
 */
static int
pdw_event(const char *key, cJSON *rec, const char *pd, const char *id,
    const char *type, time_t at, const char *text, const cJSON *people)
{
	cJSON		*ev, *args, *old;
	char		*k, *jk, *full, *plain;

	xasprintf(&k, "%s" PDW_EV "%s/%s", key, pd, id);
	if (store_get_json(store, STORE_PDWATCH, k, &old) == 0) {
		cJSON_Delete(old);
		free(k);
		return (0);
	}
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "key", key);
	cJSON_AddStringToObject(ev, "pd", pd);
	cJSON_AddStringToObject(ev, "id", id);
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddNumberToObject(ev, "at", (double)at);
	xasprintf(&full, "PagerDuty {I:%s}: %s", pd, text);
	cJSON_AddStringToObject(ev, "text", full);
	if (json_str(pdw_pd(rec, pd), "html_url") != NULL)
		cJSON_AddStringToObject(ev, "url", json_str(pdw_pd(rec, pd),
		    "html_url"));
	cJSON_AddItemToObject(ev, "people", pdw_people(rec, people));
	plain = pdw_render(full, ev, 0);
	cJSON_AddStringToObject(ev, "plain", plain);
	free(plain);
	free(full);
	if (store_put_json(store, STORE_PDWATCH, k, ev) != 0) {
		cJSON_Delete(ev);
		free(k);
		return (0);
	}
	cJSON_Delete(ev);
	log_info("pd watch %s: %s %s (%s)", key, pd, id, type);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "event", k);
	xasprintf(&jk, "%s:%s:%s", key, pd, id);
	free(job_create("pd_post", jk, args, 0));
	free(jk);
	free(k);
	return (1);
}

/*
 * Fill in an event's text: {P:id} is the person (a mention when slack,
 * a Slack user, else the name; escaped), {I:id} the PagerDuty incident
 * (a link when slack and its URL is known). Caller frees.
 */
static char *
pdw_render(const char *text, const cJSON *ev, int slack)
{
	const cJSON	*u, *people = json_path(ev, "people");
	const char	*p = text, *end, *v;
	char		*out = xstrdup(""), *tmp, *id, *e;

	while (*p != '\0') {
		if ((p[0] != '{' || (p[1] != 'P' && p[1] != 'I') ||
		    p[2] != ':') || (end = strchr(p, '}')) == NULL) {
			xasprintf(&tmp, "%s%c", out, *p++);
			free(out);
			out = tmp;
			continue;
		}
		id = xstrndup(p + 3, (size_t)(end - p - 3));
		v = NULL;
		if (p[1] == 'P') {
			cJSON_ArrayForEach(u, people) {
				if (strcmp(json_str(u, "id"), id) == 0)
					break;
			}
			if (slack && json_str(u, "slack") != NULL)
				xasprintf(&e, "<@%s>", json_str(u, "slack"));
			else {
				v = json_str(u, "name") != NULL ?
				    json_str(u, "name") : id;
				e = slack ? slack_escape(v) : xstrdup(v);
			}
		} else if (slack && (v = json_str(ev, "url")) != NULL)
			xasprintf(&e, "<%s|%s>", v, id);
		else
			e = xstrdup(id);
		xasprintf(&tmp, "%s%s", out, e);
		free(out);
		free(e);
		free(id);
		out = tmp;
		p = end + 1;
	}
	return (out);
}

/* Done or given up: the next poll, one interval on, while watching. */
static void
pdw_poll_ended(struct job *j)
{
	const char	*key = job_key(j), *dot = strrchr(key, '.');
	cJSON		*rec;
	char		*k;
	int		 again;

	k = xstrndup(key, dot != NULL ? (size_t)(dot - key) : strlen(key));
	if ((rec = pdw_load(k)) != NULL && dot != NULL &&
	    atoi(dot + 1) == (int)json_num(rec, "seq", 0)) {
		if (pdw_watching(rec)) {
			/* A webhook came while it ran: again, now. */
			again = json_bool(rec, "again");
			json_set(rec, "again", NULL);
			pdw_schedule(rec, again ? 0 : now_wall() +
			    (time_t)cfg->pagerduty.poll_interval);
		} else
			log_info("pd watch %s: resolved and closed; no longer "
			    "watched", k);
	}
	cJSON_Delete(rec);
	free(k);
}

/* ------------------------------------------------------------ posts */

/*
 * A post of key's channel as a pd_post job keyed jkey: text with {P:id}
 * and {I:id} (see pdw_render), people ids (consumed, may be NULL) and
 * buttons (consumed, may be NULL: [{text, action_id, value}]).
 */
static void
pdw_post_job(const char *jkey, const char *key, const char *text,
    cJSON *people, cJSON *buttons)
{
	cJSON		*args, *rec;

	rec = pdw_load(key);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "text", text);
	cJSON_AddItemToObject(args, "people", pdw_people(rec, people));
	cJSON_Delete(people);
	if (buttons != NULL)
		cJSON_AddItemToObject(args, "buttons", buttons);
	free(job_create("pd_post", jkey, args, 0));
	cJSON_Delete(rec);
}

/* pd_post: an event (args "event") or a prompt (args text, people). */
static void
pdw_post_run(struct job *j)
{
	struct pdw_post	*pp;
	cJSON		*ctx, *people, *rec;
	const char	*ek = json_str(job_args(j), "event"), *pd;

	if (ek != NULL) {
		if (store_get_json(store, STORE_PDWATCH, ek, &ctx) != 0) {
			job_fail(j, "its event is gone");
			return;
		}
	} else
		ctx = cJSON_Duplicate(job_args(j), 1);
	/* A prompt's {I:id} links to the incident as the record knows it. */
	if (ek == NULL && (rec = pdw_load(json_str(ctx, "key"))) != NULL) {
		pd = json_str(ctx, "pd");
		if (pd != NULL && json_str(pdw_pd(rec, pd), "html_url") != NULL)
			json_set(ctx, "url", cJSON_CreateString(json_str(
			    pdw_pd(rec, pd), "html_url")));
		cJSON_Delete(rec);
	}
	pp = xcalloc(1, sizeof(*pp));
	pp->job = j;
	pp->blocks = ctx;
	if ((pp->channel = pdw_channel(json_str(ctx, "key"))) == NULL) {
		log_warnx("job %s: the incident has no channel", job_id(j));
		cJSON_Delete(ctx);
		free(pp);
		job_done(j, NULL);
		return;
	}
	people = cJSON_DetachItemFromObject(ctx, "people");
	page_people(people != NULL ? people : cJSON_CreateArray(),
	    pdw_post_people_cb, pp);
}

/* Named: remember who is who, render, post. */
static void
pdw_post_people_cb(cJSON *people, void *arg)
{
	struct pdw_post	*pp = arg;
	cJSON		*ctx = pp->blocks, *rec, *m, *u, *blocks, *el;
	const cJSON	*x, *b;
	char		*text;

	pp->blocks = NULL;
	cJSON_AddItemToObject(ctx, "people", people);
	if (pdw_stopped) {
		cJSON_Delete(ctx);
		free(pp->channel);
		free(pp);
		return;
	}
	if ((rec = pdw_load(json_str(ctx, "key"))) != NULL) {
		if ((m = cJSON_GetObjectItem(rec, "people")) == NULL)
			m = cJSON_AddObjectToObject(rec, "people");
		cJSON_ArrayForEach(x, people) {
			if ((u = cJSON_GetObjectItemCaseSensitive(m,
			    json_str(x, "id"))) == NULL)
				u = cJSON_AddObjectToObject(m, json_str(x,
				    "id"));
			if (json_str(x, "email") != NULL)
				json_set(u, "email", cJSON_CreateString(
				    json_str(x, "email")));
			if (json_str(x, "name") != NULL)
				json_set(u, "name", cJSON_CreateString(
				    json_str(x, "name")));
		}
		pdw_save(rec);
		cJSON_Delete(rec);
	}
	text = pdw_render(json_str(ctx, "text"), ctx, 1);
	blocks = NULL;
	if (json_path(ctx, "buttons") != NULL) {
		blocks = cJSON_CreateArray();
		cJSON_AddItemToArray(blocks, blocks_section(text));
		el = cJSON_CreateArray();
		cJSON_ArrayForEach(b, json_path(ctx, "buttons"))
			cJSON_AddItemToArray(el, blocks_button(json_str(b,
			    "text"), json_str(b, "action_id"), json_str(b,
			    "value"), json_str(b, "style")));
		cJSON_AddItemToArray(blocks, blocks_actions("pd", el));
	}
	slack_post(pp->channel, NULL, text, blocks, pdw_posted_cb, pp);
	free(text);
	cJSON_Delete(ctx);
}

static void
pdw_posted_cb(const struct slack_result *sr, void *arg)
{
	struct pdw_post	*pp = arg;

	if (!pdw_stopped) {
		if (sr->ok)
			job_done(pp->job, NULL);
		else
			slack_job_failed(pp->job, sr);
	}
	free(pp->channel);
	free(pp);
}

/* ------------------------------------------------------------ nudge */

/* pd_nudge: nobody acknowledged within ack_timeout? Look, then ask. */
static void
pdw_nudge_run(struct job *j)
{
	cJSON		*rec;
	const cJSON	*pd;
	int		 open;

	rec = pdw_load(json_str(job_args(j), "key"));
	pd = pdw_pd(rec, json_str(job_args(j), "pd"));
	open = pd != NULL && json_str(pd, "acknowledged_at") == NULL &&
	    strcmp(json_str(pd, "status") != NULL ? json_str(pd, "status") :
	    "", "triggered") == 0;
	cJSON_Delete(rec);
	if (!open) {
		job_done(j, NULL);
		return;
	}
	pd_incident_get(json_str(job_args(j), "pd"), pdw_nudge_cb, j);
}

static void
pdw_nudge_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const char	*key = json_str(job_args(j), "key");
	const char	*pd = json_str(job_args(j), "pd");
	const cJSON	*a;
	cJSON		*rec, *people, *buttons, *b;
	char		*who = NULL, *tmp, *text, *v, *jk;
	int		 level;

	if (!pdw_answered(j, pr))
		return;
	if (strcmp(json_str(pr->json, "incident.status") != NULL ?
	    json_str(pr->json, "incident.status") : "", "triggered") != 0 ||
	    cJSON_GetArraySize(json_path(pr->json,
	    "incident.acknowledgements")) > 0) {
		job_done(j, NULL);
		return;
	}
	rec = pdw_load(key);
	level = (int)json_num(pdw_pd(rec, pd), "level", 1);
	people = cJSON_CreateArray();
	cJSON_ArrayForEach(a, json_path(pr->json, "incident.assignments")) {
		if (json_str(a, "assignee.id") == NULL)
			continue;
		cJSON_AddItemToArray(people, cJSON_CreateString(json_str(a,
		    "assignee.id")));
		xasprintf(&tmp, "%s%s{P:%s}", who != NULL ? who : "",
		    who != NULL ? ", " : "", json_str(a, "assignee.id"));
		free(who);
		who = tmp;
	}
	cJSON_Delete(rec);
	tmp = duration_text(cfg->pagerduty.ack_timeout);
	xasprintf(&text, ":hourglass: Nobody has acknowledged the page for "
	    "*%s* (PagerDuty {I:%s}%s%s) after %s. Page the next escalation "
	    "level, or someone else?", key, pd, who != NULL ? ", paged: " :
	    "", who != NULL ? who : "", tmp);
	free(tmp);
	free(who);
	buttons = cJSON_CreateArray();
	b = cJSON_CreateObject();
	xasprintf(&v, "%s %s %d", key, pd, level + 1);
	xasprintf(&tmp, "Page level %d", level + 1);
	cJSON_AddStringToObject(b, "text", tmp);
	cJSON_AddStringToObject(b, "action_id", "pd_escalate");
	cJSON_AddStringToObject(b, "value", v);
	cJSON_AddStringToObject(b, "style", "primary");
	cJSON_AddItemToArray(buttons, b);
	free(tmp);
	free(v);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "text", "Page someone else");
	cJSON_AddStringToObject(b, "action_id", "pd_other");
	cJSON_AddStringToObject(b, "value", key);
	cJSON_AddItemToArray(buttons, b);
	xasprintf(&jk, "nudge:%s:%s", key, pd);
	pdw_post_job(jk, key, text, people, buttons);
	/* The prompt's {I:id}: which incident. */
	free(jk);
	free(text);
	log_info("pd watch %s: %s unacknowledged; nudge", key, pd);
	job_done(j, NULL);
}

/* ------------------------------------------------------------ writes */

static void
pdw_escalate_run(struct job *j)
{
	pd_incident_escalate(json_str(job_args(j), "pd"),
	    (int)json_num(job_args(j), "level", 2), pdw_write_cb, j);
}

static void
pdw_resolve_run(struct job *j)
{
	pd_incident_resolve(json_str(job_args(j), "pd"), pdw_write_cb, j);
}

static void
pdw_write_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;

	if (pdw_stopped)
		return;
	if (pr->error == NULL)
		job_done(j, NULL);
	else
		pdw_failed(j, pr, 1);
}

/* Did an escalation happen since the job was made? */
static void
pdw_escalate_probe(struct job *j)
{
	char		 since[32];
	time_t		 t = job_created(j) - 1;
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pd_incident_log_page(json_str(job_args(j), "pd"), since, 0,
	    pdw_escalate_probe_cb, j);
}

static void
pdw_escalate_probe_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*le;

	if (!pdw_answered(j, pr))
		return;
	cJSON_ArrayForEach(le, json_path(pr->json, "log_entries")) {
		if (strcmp(json_str(le, "type") != NULL ? json_str(le,
		    "type") : "", "escalate_log_entry") == 0) {
			job_done(j, NULL);
			return;
		}
	}
	job_resend(j);
}

static void
pdw_resolve_probe(struct job *j)
{
	pd_incident_get(json_str(job_args(j), "pd"), pdw_resolve_probe_cb, j);
}

static void
pdw_resolve_probe_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const char	*st;

	if (!pdw_answered(j, pr))
		return;
	st = json_str(pr->json, "incident.status");
	if (st != NULL && strcmp(st, "resolved") == 0)
		job_done(j, NULL);
	else
		job_resend(j);
}

/* A write that failed is told in the channel; one that worked is seen
 * by the next poll. */
static void
pdw_write_ended(struct job *j)
{
	char	*ch, *e, *text;

	if (job_succeeded(j) || (ch = pdw_channel(json_str(job_args(j),
	    "key"))) == NULL)
		return;
	e = slack_escape(job_error(j) != NULL ? job_error(j) : "failed");
	xasprintf(&text, ":x: PagerDuty could not %s %s: %s",
	    str_has_prefix(job_id(j), "pd_resolve/") ? "resolve" :
	    "escalate", json_str(job_args(j), "pd"), e);
	cmd_reply_job(ch, NULL, text, job_id(j));
	free(text);
	free(e);
	free(ch);
}

/* ------------------------------------------------------------ close */

/*
 * The incident's ticket closed (follow.c, in its turn): watching can end
 * once PagerDuty is resolved too, and an open PagerDuty incident is
 * asked about, resolved or left (pagerduty.resolve_on_close).
 */
void
pd_watch_ticket_closed(const char *key)
{
	cJSON		*rec, *args, *buttons, *b;
	const cJSON	*p;
	const char	*id, *st;
	char		*k, *v, *text;

	if ((rec = pdw_load(key)) == NULL)
		return;
	if (json_bool(rec, "closed")) {
		cJSON_Delete(rec);
		return;
	}
	json_set(rec, "closed", cJSON_CreateTrue());
	pdw_save(rec);
	cJSON_ArrayForEach(p, json_path(rec, "incidents")) {
		id = json_str(p, "id");
		st = json_str(p, "status");
		if (id == NULL || (st != NULL && strcmp(st, "resolved") == 0))
			continue;
		xasprintf(&k, "%s:%s", key, id);
		switch (cfg->pagerduty.resolve_on_close) {
		case PD_RESOLVE_AUTO:
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "key", key);
			cJSON_AddStringToObject(args, "pd", id);
			free(job_create("pd_resolve", k, args, 0));
			log_info("pd watch %s: closed; resolving %s", key, id);
			break;
		case PD_RESOLVE_ASK:
			xasprintf(&text, ":white_check_mark: %s is closed in "
			    "Jira, but its PagerDuty incident {I:%s} is still "
			    "%s. Resolve it?", key, id, st != NULL ? st :
			    "open");
			buttons = cJSON_CreateArray();
			b = cJSON_CreateObject();
			xasprintf(&v, "%s %s", key, id);
			cJSON_AddStringToObject(b, "text", "Resolve in PagerDuty");
			cJSON_AddStringToObject(b, "action_id", "pd_resolve");
			cJSON_AddStringToObject(b, "value", v);
			cJSON_AddStringToObject(b, "style", "primary");
			cJSON_AddItemToArray(buttons, b);
			free(v);
			free(k);
			xasprintf(&k, "resolve:%s:%s", key, id);
			pdw_post_job(k, key, text, NULL, buttons);
			free(text);
			break;
		default:
			break;
		}
		free(k);
	}
	cJSON_Delete(rec);
}

/* ------------------------------------------------------------ readers */

/*
 * The PagerDuty incidents of incident key, as the last poll saw them
 * (see incidentd.h); caller frees. An empty array if none.
 */
cJSON *
pd_watch_summary(const char *key)
{
	cJSON		*rec, *out, *o, *as, *u;
	const cJSON	*p, *a, *who;

	out = cJSON_CreateArray();
	if ((rec = pdw_load(key)) == NULL)
		return (out);
	cJSON_ArrayForEach(p, json_path(rec, "incidents")) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", json_str(p, "id"));
		cJSON_AddItemToObject(o, "html_url", json_str(p, "html_url") !=
		    NULL ? cJSON_CreateString(json_str(p, "html_url")) :
		    cJSON_CreateNull());
		cJSON_AddItemToObject(o, "service", json_str(p, "service") !=
		    NULL ? cJSON_CreateString(json_str(p, "service")) :
		    cJSON_CreateNull());
		cJSON_AddStringToObject(o, "status", json_str(p, "status"));
		as = cJSON_AddArrayToObject(o, "assignees");
		cJSON_ArrayForEach(a, json_path(p, "assignees")) {
			u = cJSON_CreateObject();
			cJSON_AddStringToObject(u, "id", json_str(a, "id"));
			cJSON_AddStringToObject(u, "name", json_str(a, "name"));
			who = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItem(rec, "people"), json_str(a,
			    "id"));
			cJSON_AddItemToObject(u, "email", json_str(who,
			    "email") != NULL ? cJSON_CreateString(json_str(who,
			    "email")) : cJSON_CreateNull());
			cJSON_AddItemToArray(as, u);
		}
		cJSON_AddNumberToObject(o, "escalation_level", json_num(p,
		    "level", 1));
		cJSON_AddItemToObject(o, "acknowledged_at", json_str(p,
		    "acknowledged_at") != NULL ? cJSON_CreateString(json_str(p,
		    "acknowledged_at")) : cJSON_CreateNull());
		cJSON_AddItemToObject(o, "resolved_at", json_str(p,
		    "resolved_at") != NULL ? cJSON_CreateString(json_str(p,
		    "resolved_at")) : cJSON_CreateNull());
		cJSON_AddItemToArray(out, o);
	}
	cJSON_Delete(rec);
	return (out);
}

static int
pdw_events_cb(const char *key, const char *val, size_t len, void *arg)
{
	cJSON	*out = arg, *ev, *o;

	(void)key;
	if ((ev = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "at", json_num(ev, "at", 0));
	cJSON_AddStringToObject(o, "pd", json_str(ev, "pd"));
	cJSON_AddStringToObject(o, "type", json_str(ev, "type"));
	cJSON_AddStringToObject(o, "text", json_str(ev, "plain") != NULL ?
	    json_str(ev, "plain") : "");
	cJSON_AddItemToArray(out, o);
	cJSON_Delete(ev);
	return (0);
}

static int
pdw_events_cmp(const void *a, const void *b)
{
	double	x = json_num(*(const cJSON *const *)a, "at", 0);
	double	y = json_num(*(const cJSON *const *)b, "at", 0);

	return (x < y ? -1 : x > y);
}

/*
 * The stored PagerDuty events of incident key in time order (caller
 * frees): [{"at" (seconds), "pd", "type", "text" (plain, names)}].
 */
cJSON *
pd_watch_events(const char *key)
{
	cJSON	*all, *out, **v;
	char	*prefix;
	int	 i, n;

	all = cJSON_CreateArray();
	xasprintf(&prefix, "%s" PDW_EV, key);
	store_foreach(store, STORE_PDWATCH, prefix, pdw_events_cb, all);
	free(prefix);
	n = cJSON_GetArraySize(all);
	v = xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(all, 0);
	qsort(v, (size_t)n, sizeof(*v), pdw_events_cmp);
	out = cJSON_CreateArray();
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(out, v[i]);
	free(v);
	cJSON_Delete(all);
	return (out);
}

/* ------------------------------------------------------------ command */

static enum cmd_retval
pdw_exec(struct cmd_item *item)
{
	cJSON		*sum;
	const cJSON	*p, *a;
	struct strlist	 lines = { NULL, 0 };
	char		*key, *who, *tmp, *n;
	size_t		 i;

	if ((key = incident_key_for_channel(item->channel)) == NULL) {
		cmd_error(item, "This is not an incident channel: type "
		    "`pagerduty` in one.");
		return (CMD_ERROR);
	}
	sum = pd_watch_summary(key);
	cJSON_ArrayForEach(p, sum) {
		who = NULL;
		cJSON_ArrayForEach(a, json_path(p, "assignees")) {
			n = slack_escape(json_str(a, "name"));
			xasprintf(&tmp, "%s%s%s", who != NULL ? who : "",
			    who != NULL ? ", " : "", n);
			free(n);
			free(who);
			who = tmp;
		}
		n = slack_escape(json_str(p, "service") != NULL ?
		    json_str(p, "service") : "?");
		strlist_addf(&lines, ":pager: <%s|%s> (%s): *%s*, level %d%s%s%s%s",
		    json_str(p, "html_url") != NULL ? json_str(p, "html_url") :
		    "", json_str(p, "id"), n, json_str(p, "status"),
		    (int)json_num(p, "escalation_level", 1),
		    who != NULL ? ", held by " : "", who != NULL ? who : "",
		    json_str(p, "acknowledged_at") != NULL ?
		    ", first acknowledged " : "",
		    json_str(p, "acknowledged_at") != NULL ?
		    json_str(p, "acknowledged_at") : "");
		free(n);
		free(who);
	}
	if (lines.n == 0)
		cmd_reply(item, "%s has no PagerDuty incident yet (`page` "
		    "makes one).", key);
	else {
		tmp = xstrdup("");
		for (i = 0; i < lines.n; i++) {
			xasprintf(&n, "%s%s%s", tmp, i > 0 ? "\n" : "",
			    lines.v[i]);
			free(tmp);
			tmp = n;
		}
		cmd_reply(item, "%s", tmp);
		free(tmp);
	}
	strlist_free(&lines);
	cJSON_Delete(sum);
	free(key);
	return (CMD_DONE);
}

/*
 * A button of ours: value "KEY PDID [N]", pressed in KEY's channel.
 * 0 with key, pd and *n (0 if absent) filled, or -1.
 */
static int
pdw_click_check(const cJSON *payload, const cJSON *action,
    char key[PDW_ID_MAX], char pd[PDW_ID_MAX], int *n)
{
	const char	*channel = json_str(payload, "channel.id");
	const char	*value = json_str(action, "value");
	char		*owner;
	int		 ok;

	*n = 0;
	if (json_str(payload, "user.id") == NULL || channel == NULL ||
	    value == NULL)
		return (-1);
	if (sscanf(value, "%63s %63s %d", key, pd, n) < 2 ||
	    !jira_valid_key(key))
		return (-1);
	owner = incident_key_for_channel(channel);
	ok = owner != NULL && strcmp(owner, key) == 0;
	free(owner);
	return (ok ? 0 : -1);
}

/* Reply in the channel, and the prompt loses its buttons: answered. */
static void
pdw_click_answer(const cJSON *payload, const char *channel,
    const char *text)
{
	struct cmd_item	*item;
	cJSON		*args, *blocks;
	const char	*ts = json_str(payload, "container.message_ts");

	item = cmd_item_new(channel, json_str(payload, "user.id"), NULL);
	cmd_reply(item, "%s", text);
	cmd_finish(item);
	if (ts == NULL)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	cJSON_AddStringToObject(args, "ts", ts);
	cJSON_AddStringToObject(args, "text", text);
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	cJSON_AddItemToObject(args, "blocks", blocks);
	slack_call_after_commit("chat.update", args);
}

static void
pdw_escalate_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	char	 key[PDW_ID_MAX], pd[PDW_ID_MAX], *k, *text;
	cJSON	*args;
	int	 level;

	(void)env;
	if (pdw_click_check(payload, action, key, pd, &level) != 0 || level < 2)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "pd", pd);
	cJSON_AddNumberToObject(args, "level", level);
	cJSON_AddStringToObject(args, "user", json_str(payload, "user.id"));
	xasprintf(&k, "%s:%s:%d", key, pd, level);
	free(job_create("pd_escalate", k, args, 0));
	free(k);
	xasprintf(&text, ":arrow_up: <@%s> asked PagerDuty to escalate %s to "
	    "level %d.", json_str(payload, "user.id"), pd, level);
	pdw_click_answer(payload, json_str(payload, "channel.id"), text);
	free(text);
}

static void
pdw_other_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	struct cmd_item	*item;
	const char	*channel = json_str(payload, "channel.id");
	char		*owner;

	(void)env;
	if (channel == NULL || json_str(payload, "user.id") == NULL ||
	    json_str(action, "value") == NULL)
		return;
	owner = incident_key_for_channel(channel);
	if (owner == NULL || strcmp(owner, json_str(action, "value")) != 0) {
		free(owner);
		return;
	}
	free(owner);
	item = cmd_item_new(channel, json_str(payload, "user.id"), NULL);
	cmd_reply(item, "To page someone else, type `page <shortcut|service|"
	    "@user>` here (`page list` shows the shortcuts).");
	cmd_finish(item);
}

static void
pdw_resolve_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	char	 key[PDW_ID_MAX], pd[PDW_ID_MAX], *k, *text;
	cJSON	*args;
	int	 n;

	(void)env;
	if (pdw_click_check(payload, action, key, pd, &n) != 0)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "pd", pd);
	cJSON_AddStringToObject(args, "user", json_str(payload, "user.id"));
	xasprintf(&k, "%s:%s", key, pd);
	free(job_create("pd_resolve", k, args, 0));
	free(k);
	xasprintf(&text, ":white_check_mark: <@%s> resolved %s in "
	    "PagerDuty.", json_str(payload, "user.id"), pd);
	pdw_click_answer(payload, json_str(payload, "channel.id"), text);
	free(text);
}

/* Late answers must not touch the engine's jobs once it is gone. */
void
pd_watch_shutdown(void)
{
	pdw_stopped = 1;
}
