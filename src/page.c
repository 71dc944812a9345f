/*
 * page.c: pages, and the job kinds that carry them to PagerDuty.
 *
 * A page is a record in STORE_PAGES (this file alone writes them). When
 * it is confirmed (the Confirm click, or the incident-manager modal), the
 * same turn records one job per target in the job engine (jobs.c), and
 * the page lists their ids; they are sent only after that turn's commit.
 *
 * pd_incident creates a PagerDuty incident. Its incident_key is fixed in
 * the job's args when the job is created, never recomputed from the live
 * configuration. Its probe (after a crash or an ambiguous failure) looks
 * the key up across every status, so a resend after the incident was
 * resolved finds it instead of opening a second one: the job ends done
 * with that incident, and the page says it was resolved.
 *
 * pd_responder asks a target to join the incident's PagerDuty incident.
 * The message carries "[incidentd <job token>]"; its probe looks for that
 * marker on the incident's responder requests and log entries, twice and
 * some seconds apart (a request still in flight may land late), before
 * sending again. If PagerDuty has no coordinated responding (402), the
 * job records the incident as "one PagerDuty incident per service" and
 * creates its own, as a pd_incident would.
 *
 * One PagerDuty incident per incident: the first page of an incident
 * (the incident manager's, or any other) gets a pd_incident job, recorded
 * on the incident as pd.job; every later target is a pd_responder job
 * that waits for that job through the engine (job_wait) and then adds
 * the responder to the PagerDuty incident it made. pagerduty.incident_mode
 * per_page, and pages outside incidents, give every target its own.
 *
 * The engine bounds each kind by pagerduty.max_concurrency, retries 429s
 * (job_retry) and pauses both kinds while PagerDuty's rate window is
 * nearly spent (job_pause). When a page's last job has ended, one
 * announcement job (keyed by the page id, so once) reports and invites
 * the people paged; a page whose jobs ended while the daemon was down is
 * announced at start-up. Announcements are posts: at least once, not
 * exactly once (a stop in the middle posts again on resume).
 */
#include "config.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define PAGE_TITLE_MAX		1000
#define PAGE_WAIT_MS		500	/* look again for the creator */
#define PAGE_LOOK_AGAIN_MS	5000	/* a second look for a responder request */
#define PAGE_RATE_MAX_S		60
#define PAGE_CLOCK_SKEW		120	/* s between our clock and PagerDuty's */

/* Announcing a finished page. */
struct page_announce {
	struct job	*job;
	char		*page;
	cJSON		*users;		/* [{id, name, slack}] */
	struct strlist	 lines;
};

/* PagerDuty users being mapped to Slack users (page_people). */
struct page_people {
	cJSON		*users;
	int		 pending;
	page_people_cb	 cb;
	void		*arg;
};

struct page_user_ctx {
	struct page_people	*pp;
	int			 idx;
};

static char		*page_requester;	/* PD user id of ... */
static char		*page_requester_for;	/* ... this email */
static uint32_t		 page_seq;
static int		 page_stopped = 1;

static int	 page_concurrency(void);
static void	 page_ratelimit(const struct pd_result *);
static void	 page_outcome_failed(struct job *, const struct pd_result *);
static void	 page_read_failed(struct job *, const struct pd_result *);
static int	 page_job_failed(const char *);
static char	*page_own_key(const char *, const char *, const cJSON *, int);
static void	 page_texts(const cJSON *, const cJSON *, char **, char **);
static void	 page_inc_set(cJSON *, const char *, const char *);
static cJSON	*page_result(const cJSON *, const char *);
static void	 page_users_from(cJSON *, const cJSON *);
static void	 page_create_run(struct job *);
static void	 page_created_cb(const struct pd_result *, void *);
static void	 page_create_probe(struct job *);
static void	 page_found_cb(const struct pd_result *, void *);
static void	 page_probe_cb(const struct pd_result *, void *);
static void	 page_got_cb(const struct pd_result *, void *);
static const cJSON *page_pick_since(const cJSON *, time_t);
static const cJSON *page_pick(const cJSON *, int);
static void	 page_done_incident(struct job *, const cJSON *);
static int	 page_rr_incident(struct job *, const char **);
static void	 page_rr_run(struct job *);
static void	 page_rr_send(struct job *);
static void	 page_requester_cb(const struct pd_result *, void *);
static void	 page_service_cb(const struct pd_result *, void *);
static void	 page_rr_cb(const struct pd_result *, void *);
static void	 page_rr_probe(struct job *);
static void	 page_rr_probe_cb(const struct pd_result *, void *);
static void	 page_rr_log_cb(const struct pd_result *, void *);
static int	 page_has_marker(const cJSON *, struct job *);
static void	 page_target_ended(struct job *);
static void	 page_check_over(const char *);
static void	 page_log(const cJSON *);
static void	 page_announce_run(struct job *);
static void	 page_people_user_cb(const struct pd_result *, void *);
static void	 page_people_slack_cb(const struct slack_result *, void *);
static void	 page_people_one(struct page_people *);
static void	 page_announce_people_cb(cJSON *, void *);
static void	 page_announce_post(struct page_announce *);
static void	 page_announce_free(struct page_announce *);
static int	 page_resume_cb(const char *, const char *, size_t, void *);

const struct job_kind page_pd_incident_job = {
	.name = "pd_incident",
	.run = page_create_run,
	.probe = page_create_probe,
	.ended = page_target_ended,
	.max_attempts = 12,
	.concurrency_fn = page_concurrency,
	.backoff_base_ms = 500,
	.backoff_cap_ms = 30000
};

const struct job_kind page_pd_responder_job = {
	.name = "pd_responder",
	.run = page_rr_run,
	.probe = page_rr_probe,
	.ended = page_target_ended,
	.max_attempts = 12,
	.concurrency_fn = page_concurrency,
	.backoff_base_ms = 500,
	.backoff_cap_ms = 30000
};

/* Posts and invites: at least once (no probe; see the top comment). */
const struct job_kind page_announce_job = {
	.name = "page_announce",
	.run = page_announce_run,
	.max_attempts = 4
};

/* pagerduty.max_concurrency, read at each dispatch (SIGHUP applies). */
static int
page_concurrency(void)
{
	return (cfg != NULL && cfg->pagerduty.max_concurrency > 0 ?
	    (int)cfg->pagerduty.max_concurrency : 0);
}

/* A fresh page id: time and a sequence, sortable. */
char *
page_new_id(void)
{
	char	*id;

	xasprintf(&id, "%lld-%04u%04u", (long long)now_wall(),
	    (unsigned)rand_uniform(10000), (unsigned)(page_seq++ % 10000));
	return (id);
}

/* The page record for id, or NULL; caller frees. */
cJSON *
page_load(const char *id)
{
	char	*val;
	size_t	 len;
	cJSON	*j;

	if (id == NULL || store_get(store, STORE_PAGES, id, &val, &len) != 0)
		return (NULL);
	j = cJSON_ParseWithLength(val, len);
	free(val);
	return (j);
}

/* Save a page record in this turn's transaction. */
int
page_save(const cJSON *page)
{
	const char	*id = json_str(page, "id");
	char		*val;
	int		 rv;

	if (id == NULL)
		return (-1);
	val = json_print(page);
	rv = store_put(store, STORE_PAGES, id, val, strlen(val));
	free(val);
	if (rv != 0)
		log_warnx("page %s: store: %s", id, store_strerror(rv));
	return (rv);
}

/* Set pd.<name> on an incident record (NULL removes it). */
static void
page_inc_set(cJSON *inc, const char *name, const char *v)
{
	cJSON	*pd;

	if ((pd = cJSON_GetObjectItem(inc, "pd")) == NULL)
		pd = cJSON_AddObjectToObject(inc, "pd");
	cJSON_DeleteItemFromObject(pd, name);
	if (v != NULL)
		cJSON_AddStringToObject(pd, name, v);
}

/* The incident_key of a target that gets its own PagerDuty incident. */
static char *
page_own_key(const char *page, const char *key, const cJSON *t, int idx)
{
	char	*out;

	if (key == NULL)
		xasprintf(&out, "incidentd/page/%s/%d", page, idx);
	else if (cfg->pagerduty.incident_mode == PD_MODE_PER_PAGE)
		xasprintf(&out, "incidentd/%s/page/%s/%d", key, page, idx);
	else
		xasprintf(&out, "incidentd/%s/%s/%s", key, json_str(t, "kind"),
		    json_str(t, "id"));
	return (out);
}

/* 1 if the job id names a job that ended failed (or is gone). */
static int
page_job_failed(const char *id)
{
	cJSON		*rec;
	const char	*st;
	int		 failed;

	if ((rec = job_load(id)) == NULL)
		return (1);
	st = json_str(rec, "state");
	failed = st != NULL && strcmp(st, "failed") == 0;
	cJSON_Delete(rec);
	return (failed);
}

/*
 * A confirmed page: in this turn, one job per target, listed in the page
 * (saved here, state "paging"); they run after the commit. 0, or -1 if
 * the store refused a job.
 */
int
page_start(cJSON *page)
{
	const char	*id = json_str(page, "id");
	const char	*key = json_str(page, "incident");
	const char	*mode, *pdinc = NULL, *c;
	const cJSON	*t;
	cJSON		*inc = NULL, *jobs, *args;
	char		*jkey, *jid, *ikey, *creator = NULL;
	int		 i = 0, per_incident = 0, rv = 0;

	if (key != NULL && cfg->pagerduty.incident_mode ==
	    PD_MODE_PER_INCIDENT && (inc = incident_load(key)) != NULL) {
		mode = json_str(inc, "pd.mode");
		per_incident = mode == NULL || strcmp(mode, "per_service") != 0;
	}
	if (per_incident) {
		pdinc = json_str(inc, "pd.incident");
		if ((c = json_str(inc, "pd.job")) != NULL &&
		    !page_job_failed(c))
			creator = xstrdup(c);
	}
	cJSON_DeleteItemFromObject(page, "state");
	cJSON_AddStringToObject(page, "state", "paging");
	cJSON_DeleteItemFromObject(page, "jobs");
	jobs = cJSON_AddArrayToObject(page, "jobs");
	cJSON_ArrayForEach(t, json_path(page, "targets")) {
		xasprintf(&jkey, "%s/%04d", id, i);
		args = cJSON_Duplicate(t, 1);
		cJSON_AddStringToObject(args, "page", id);
		cJSON_AddNumberToObject(args, "idx", i);
		if (key != NULL)
			cJSON_AddStringToObject(args, "incident", key);
		if (per_incident && creator == NULL && pdinc == NULL) {
			/* This target creates the incident's PD incident. */
			if (json_str(page, "incident_key") != NULL)
				ikey = xstrdup(json_str(page, "incident_key"));
			else
				xasprintf(&ikey, "incidentd/%s", key);
			cJSON_AddStringToObject(args, "incident_key", ikey);
			free(ikey);
			cJSON_AddTrueToObject(args, "creator");
			jid = job_create("pd_incident", jkey, args, 0);
			if (jid != NULL) {
				creator = xstrdup(jid);
				page_inc_set(inc, "job", jid);
				incident_save(inc);
			}
		} else if (per_incident) {
			if (pdinc != NULL)
				cJSON_AddStringToObject(args, "pd_incident",
				    pdinc);
			else
				cJSON_AddStringToObject(args, "after",
				    creator);
			jid = job_create("pd_responder", jkey, args, 0);
		} else {
			ikey = page_own_key(id, key, t, i);
			cJSON_AddStringToObject(args, "incident_key", ikey);
			free(ikey);
			jid = job_create("pd_incident", jkey, args, 0);
		}
		free(jkey);
		if (jid == NULL) {
			rv = -1;
			break;
		}
		cJSON_AddItemToArray(jobs, cJSON_CreateString(jid));
		free(jid);
		i++;
	}
	if (page_save(page) != 0)
		rv = -1;
	log_info("page %s: %d job(s) recorded", id, i);
	if (key != NULL)
		incident_changed(key);
	free(creator);
	cJSON_Delete(inc);
	return (rv);
}

/* Remember ratelimit-*: pause both kinds when the window is nearly spent. */
static void
page_ratelimit(const struct pd_result *pr)
{
	int	reset;

	if (pr->rl_remaining < 0 || pr->rl_remaining >
	    cfg->pagerduty.max_concurrency)
		return;
	reset = pr->rl_reset > 0 ? pr->rl_reset : 1;
	if (reset > PAGE_RATE_MAX_S)
		reset = PAGE_RATE_MAX_S;
	log_info("pagerduty: %d request(s) left in the rate window; pausing "
	    "pages for %d s", pr->rl_remaining, reset);
	job_pause("pd_incident", reset * 1000LL);
	job_pause("pd_responder", reset * 1000LL);
}

/*
 * A change PagerDuty did not confirm: 429 was not done (pause, retry);
 * no answer or a 5xx may have been (look before resending); any other
 * 4xx is PagerDuty's final no.
 */
static void
page_outcome_failed(struct job *j, const struct pd_result *pr)
{
	long long	ms = 0;

	if (pr->status == 429) {
		if (pr->retry_after_ms > 0)
			ms = pr->retry_after_ms;
		else if (pr->rl_reset > 0)
			ms = pr->rl_reset * 1000LL;
		if (ms > PAGE_RATE_MAX_S * 1000LL)
			ms = PAGE_RATE_MAX_S * 1000LL;
		job_pause("pd_incident", ms);
		job_pause("pd_responder", ms);
		job_retry(j, ms, pr->error);
	} else if (pd_maybe_done(pr))
		job_unsure(j, pr->error);
	else
		job_fail(j, pr->error);
}

/* A failed read (nothing was changed): retry, unless a final 4xx. */
static void
page_read_failed(struct job *j, const struct pd_result *pr)
{
	/* A Retry-After far away must not park a page: a minute at most. */
	if (pr->status == 429 || pd_maybe_done(pr))
		job_retry(j, pr->retry_after_ms > PAGE_RATE_MAX_S * 1000LL ?
		    PAGE_RATE_MAX_S * 1000LL : pr->retry_after_ms, pr->error);
	else
		job_fail(j, pr->error);
}

/* The PagerDuty incident's title and details. */
static void
page_texts(const cJSON *a, const cJSON *page, char **title, char **details)
{
	const char	*key = json_str(a, "incident");
	const char	*msg = json_str(page, "message");
	const char	*chname = json_str(page, "channel_name");
	cJSON		*inc = NULL;
	char		*url = NULL, *link;

	if (json_str(page, "title") != NULL && json_str(page, "details") !=
	    NULL) {
		*title = xstrdup(json_str(page, "title"));
		*details = xstrdup(json_str(page, "details"));
		goto cut;
	}
	link = slack_permalink(json_str(page, "channel"),
	    json_str(page, "ts") != NULL ? json_str(page, "ts") : "0");
	if (key != NULL && (inc = incident_load(key)) != NULL) {
		url = jira_browse_url(key);
		xasprintf(title, "[%s] %s", key, json_str(inc, "summary") !=
		    NULL ? json_str(inc, "summary") : "incident");
		xasprintf(details, "Jira: %s %s\nSummary: %s\n"
		    "Slack channel: %s%s %s\nPaged from Slack by user %s for %s"
		    "%s%s", key, url, json_str(inc, "summary") != NULL ?
		    json_str(inc, "summary") : "",
		    chname != NULL ? "#" : "", chname != NULL ? chname :
		    json_str(page, "channel"), link, json_str(page, "user"),
		    json_str(a, "name"), msg != NULL ? "\nMessage: " : "",
		    msg != NULL ? msg : "");
	} else {
		xasprintf(title, "Page from Slack%s%s (no incident)",
		    msg != NULL ? ": " : "", msg != NULL ? msg : "");
		xasprintf(details, "This page belongs to no incident.\n"
		    "Slack channel: %s %s\nPaged from Slack by user %s for %s"
		    "%s%s", json_str(page, "channel"), link,
		    json_str(page, "user"), json_str(a, "name"),
		    msg != NULL ? "\nMessage: " : "", msg != NULL ? msg : "");
	}
	free(url);
	free(link);
	cJSON_Delete(inc);
cut:
	(*title)[utf8_cut(*title, PAGE_TITLE_MAX)] = '\0';
}

/* PD users an incident or responder request reached, into users. */
static void
page_users_from(cJSON *users, const cJSON *obj)
{
	const cJSON	*a, *t, *r;
	cJSON		*u;

	cJSON_ArrayForEach(a, json_path(obj, "assignments")) {
		if (json_str(a, "assignee.id") == NULL)
			continue;
		u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "id", json_str(a, "assignee.id"));
		cJSON_AddStringToObject(u, "name", json_str(a,
		    "assignee.summary") != NULL ? json_str(a,
		    "assignee.summary") : json_str(a, "assignee.id"));
		cJSON_AddItemToArray(users, u);
	}
	cJSON_ArrayForEach(t, json_path(obj, "responder_request_targets")) {
		cJSON_ArrayForEach(r, json_path(t,
		    "responder_request_target.incidents_responders")) {
			if (json_str(r, "user.id") == NULL)
				continue;
			u = cJSON_CreateObject();
			cJSON_AddStringToObject(u, "id", json_str(r,
			    "user.id"));
			cJSON_AddStringToObject(u, "name", json_str(r,
			    "user.summary") != NULL ? json_str(r,
			    "user.summary") : json_str(r, "user.id"));
			cJSON_AddItemToArray(users, u);
		}
	}
}

/* A job's result: the PagerDuty incident id, its link, who it reached. */
static cJSON *
page_result(const cJSON *obj, const char *pdid)
{
	cJSON		*res;
	const char	*url = json_str(obj, "html_url");

	res = cJSON_CreateObject();
	if (pdid == NULL)
		pdid = json_str(obj, "id");
	if (pdid != NULL)
		cJSON_AddStringToObject(res, "id", pdid);
	if (url != NULL)
		cJSON_AddStringToObject(res, "html_url", url);
	if (json_str(obj, "status") != NULL)
		cJSON_AddStringToObject(res, "status", json_str(obj,
		    "status"));
	page_users_from(cJSON_AddArrayToObject(res, "users"), obj);
	return (res);
}

/* pd_incident: create the target's (or the incident's) PD incident. */
static void
page_create_run(struct job *j)
{
	struct pd_incident_args	 pa;
	cJSON			*a = job_args(j), *page;
	char			*title, *details;

	if ((page = page_load(json_str(a, "page"))) == NULL) {
		job_fail(j, "its page is gone");
		return;
	}
	page_texts(a, page, &title, &details);
	memset(&pa, 0, sizeof(pa));
	pa.title = title;
	pa.details = details;
	pa.incident_key = json_str(a, "incident_key");
	if (strcmp(json_str(a, "kind"), "user") == 0) {
		pa.service = cfg->pagerduty.default_service != NULL ?
		    cfg->pagerduty.default_service :
		    cfg->pagerduty.incident_manager_service;
		pa.assignee = json_str(a, "id");
	} else
		pa.service = json_str(a, "id");
	pd_incident_create(&pa, page_created_cb, j);
	free(title);
	free(details);
	cJSON_Delete(page);
}

static void
page_created_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error == NULL && json_str(pr->json, "incident.id") != NULL)
		page_done_incident(j, json_path(pr->json, "incident"));
	else if (pr->error == NULL)
		/* A 2xx that names no incident: it may exist all the same. */
		job_unsure(j, "PagerDuty answered without an incident id");
	else if (pr->status == 400 && strstr(pr->error,
	    "matching dedup key") != NULL)
		/* Open with our key already (a second daemon, a resend). */
		pd_incident_find_by_key(json_str(job_args(j), "incident_key"),
		    page_found_cb, j);
	else
		page_outcome_failed(j, pr);
}

/* The job made (or found) obj; the result keeps what the page needs. */
static void
page_done_incident(struct job *j, const cJSON *obj)
{
	const char	*status = json_str(obj, "status");

	if (status != NULL && strcmp(status, "resolved") == 0)
		log_info("job %s: PagerDuty incident %s with key %s is "
		    "resolved; not opened again", job_id(j), json_str(obj,
		    "id"), json_str(job_args(j), "incident_key"));
	job_done(j, page_result(obj, NULL));
}

/* The newest open incident in list, else (if resolved_ok) the newest. */
static const cJSON *
page_pick(const cJSON *list, int resolved_ok)
{
	const cJSON	*i, *open = NULL, *any = NULL;
	const char	*st;

	cJSON_ArrayForEach(i, list) {
		if (json_str(i, "id") == NULL)
			continue;
		st = json_str(i, "status");
		if (st == NULL || strcmp(st, "resolved") != 0)
			open = i;
		any = i;
	}
	return (open != NULL ? open : resolved_ok ? any : NULL);
}

/* The newest resolved incident of list created at or after since. */
static const cJSON *
page_pick_since(const cJSON *list, time_t since)
{
	const cJSON	*i, *found = NULL;
	const char	*at;
	struct tm	 tm;

	cJSON_ArrayForEach(i, list) {
		if (json_str(i, "id") == NULL ||
		    (at = json_str(i, "created_at")) == NULL)
			continue;
		memset(&tm, 0, sizeof(tm));
		if (strptime(at, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
			continue;
		if (timegm(&tm) >= since)
			found = i;
	}
	return (found);
}

/* After a dedup 400: the open incident PagerDuty says it has. */
static void
page_found_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*i;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	/*
	 * Not found, or not answered: the next attempt probes (every
	 * status) before it posts, in case the incident was resolved since.
	 */
	if (pr->error != NULL)
		job_unsure(j, pr->error);
	else if ((i = page_pick(json_path(pr->json, "incidents"), 0)) == NULL)
		job_unsure(j, "PagerDuty reported a duplicate but lists no "
		    "open incident with the key");
	else
		page_done_incident(j, i);
}

/*
 * Was the incident created? By id once known, else by incident_key in
 * every status: a resolved one is ours too and is not opened again.
 */
static void
page_create_probe(struct job *j)
{
	const char	*id = json_str(job_result(j), "id");

	if (id != NULL)
		pd_incident_get(id, page_got_cb, j);
	else
		pd_incident_find_by_key(json_str(job_args(j), "incident_key"),
		    page_probe_cb, j);
}

static void
page_probe_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*i;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL) {
		job_unsure(j, pr->error);
		return;
	}
	/* No list is not an empty list: never resend on it. */
	if (!cJSON_IsArray(json_path(pr->json, "incidents"))) {
		job_unsure(j, "PagerDuty's answer has no incident list");
		return;
	}
	/*
	 * An open incident with the key is what a post would join anyway
	 * (PagerDuty deduplicates on open ones). A resolved one is ours
	 * only if it was created after this job was: keys are shared by
	 * the pages of an incident, and an older, resolved incident is
	 * not this page having been sent.
	 */
	if ((i = page_pick(json_path(pr->json, "incidents"), 0)) == NULL &&
	    (i = page_pick_since(json_path(pr->json, "incidents"),
	    job_created(j) - PAGE_CLOCK_SKEW)) == NULL) {
		log_info("job %s: no PagerDuty incident with key %s from this "
		    "page; sending", job_id(j), json_str(job_args(j),
		    "incident_key"));
		job_resend(j);
		return;
	}
	log_info("job %s: PagerDuty incident %s was created before; not "
	    "again", job_id(j), json_str(i, "id"));
	page_done_incident(j, i);
}

static void
page_got_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL)
		job_unsure(j, pr->error);
	else
		page_done_incident(j, json_path(pr->json, "incident"));
}

/*
 * The PagerDuty incident a responder joins: 1 with *id set, 0 if its
 * creator has not finished (the job waits), -1 if the job failed.
 */
static int
page_rr_incident(struct job *j, const char **id)
{
	cJSON		*a = job_args(j), *rec, *inc;
	const char	*after = json_str(a, "after"), *st, *v;
	char		*why;
	int		 rv = -1;

	if ((*id = json_str(a, "pd_incident")) != NULL)
		return (1);
	if (after == NULL) {
		job_fail(j, "no PagerDuty incident to join");
		return (-1);
	}
	if ((rec = job_load(after)) == NULL) {
		/* Its creator is gone: the incident may know the result. */
		inc = incident_load(json_str(a, "incident") != NULL ?
		    json_str(a, "incident") : "");
		if ((v = json_str(inc, "pd.incident")) != NULL) {
			cJSON_AddStringToObject(a, "pd_incident", v);
			*id = json_str(a, "pd_incident");
			rv = 1;
		} else {
			/* j (and a) are gone once it fails: answer first. */
			*id = NULL;
			job_fail(j, "the job creating the PagerDuty incident "
			    "is gone");
		}
		cJSON_Delete(inc);
		return (rv);
	}
	st = json_str(rec, "state");
	if (st != NULL && strcmp(st, "done") == 0 &&
	    (v = json_str(rec, "result.id")) != NULL) {
		cJSON_AddStringToObject(a, "pd_incident", v);
		*id = json_str(a, "pd_incident");
		rv = 1;
	} else if (st != NULL && (strcmp(st, "queued") == 0 ||
	    strcmp(st, "running") == 0)) {
		log_debug("job %s: waiting for %s", job_id(j), after);
		job_wait(j, PAGE_WAIT_MS);
		rv = 0;
	} else {
		xasprintf(&why, "the incident's PagerDuty incident could not "
		    "be created (%s)", json_str(rec, "error") != NULL ?
		    json_str(rec, "error") : "no reason given");
		job_fail(j, why);
		free(why);
	}
	cJSON_Delete(rec);
	return (rv);
}

/* pd_responder: once the incident's PD incident exists, ask to join. */
static void
page_rr_run(struct job *j)
{
	cJSON		*a = job_args(j);
	const char	*id;

	if (json_bool(a, "fallback")) {
		page_create_run(j);
		return;
	}
	if (page_rr_incident(j, &id) != 1)
		return;
	if (page_requester == NULL || page_requester_for == NULL ||
	    strcasecmp(page_requester_for, cfg->pagerduty.from) != 0) {
		/* Responder requests name a requester: pagerduty.from. */
		pd_user_by_email(cfg->pagerduty.from, page_requester_cb, j);
		return;
	}
	if (strcmp(json_str(a, "kind"), "user") != 0 &&
	    json_str(a, "ep") == NULL) {
		/* A service joins through its escalation policy. */
		pd_service_get(json_str(a, "id"), page_service_cb, j);
		return;
	}
	page_rr_send(j);
}

static void
page_requester_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL) {
		page_read_failed(j, pr);
		return;
	}
	free(page_requester);
	free(page_requester_for);
	page_requester_for = xstrdup(cfg->pagerduty.from);
	if (json_str(pr->json, "id") != NULL)
		page_requester = xstrdup(json_str(pr->json, "id"));
	else {
		log_warnx("pagerduty.from %s is not a PagerDuty user; "
		    "responder requests name no requester",
		    cfg->pagerduty.from);
		page_requester = xstrdup("");
	}
	page_rr_run(j);
}

static void
page_service_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const char	*ep;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL) {
		page_read_failed(j, pr);
		return;
	}
	if ((ep = json_str(pr->json, "service.escalation_policy.id")) ==
	    NULL) {
		job_fail(j, "the service has no escalation policy");
		return;
	}
	cJSON_AddStringToObject(job_args(j), "ep", ep);
	page_rr_send(j);
}

static void
page_rr_send(struct job *j)
{
	cJSON		*a = job_args(j), *page;
	const char	*msg = NULL, *user;
	char		*text, *link;

	page = page_load(json_str(a, "page"));
	link = slack_permalink(page != NULL ? json_str(page, "channel") : "",
	    page != NULL && json_str(page, "ts") != NULL ? json_str(page,
	    "ts") : "0");
	if (page != NULL)
		msg = json_str(page, "message");
	xasprintf(&text, "Please join incident %s in Slack: %s%s%s "
	    "[incidentd %s]", json_str(a, "incident"), link,
	    msg != NULL ? " - " : "", msg != NULL ? msg : "", job_token(j));
	user = strcmp(json_str(a, "kind"), "user") == 0 ? json_str(a, "id") :
	    NULL;
	pd_responder_request(json_str(a, "pd_incident"), page_requester, text,
	    user == NULL, user != NULL ? user : json_str(a, "ep"), page_rr_cb,
	    j);
	free(text);
	free(link);
	cJSON_Delete(page);
}

static void
page_rr_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	cJSON		*a, *inc;
	const char	*key;
	char		*ikey;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	a = job_args(j);
	if (pr->error == NULL) {
		job_done(j, page_result(json_path(pr->json,
		    "responder_request"), json_str(a, "pd_incident")));
		return;
	}
	if (pr->status != 402) {
		page_outcome_failed(j, pr);
		return;
	}
	/* No coordinated responding: one PD incident per service. */
	key = json_str(a, "incident");
	if (key != NULL && (inc = incident_load(key)) != NULL) {
		page_inc_set(inc, "mode", "per_service");
		incident_save(inc);
		cJSON_Delete(inc);
		log_warnx("incident %s: PagerDuty has no coordinated "
		    "responding; one PagerDuty incident per service", key);
	}
	ikey = page_own_key(json_str(a, "page"), key, a,
	    (int)json_num(a, "idx", 0));
	cJSON_DeleteItemFromObject(a, "incident_key");
	cJSON_AddStringToObject(a, "incident_key", ikey);
	free(ikey);
	cJSON_DeleteItemFromObject(a, "fallback");
	cJSON_AddTrueToObject(a, "fallback");
	/* The key and the mode are durable before the create. */
	job_checkpoint(j, page_create_run);
}

/* Was the request sent? Look for our marker before sending again. */
static void
page_rr_probe(struct job *j)
{
	const char	*id;
	int		 rv;

	if (json_bool(job_args(j), "fallback")) {
		page_create_probe(j);
		return;
	}
	/* No incident to join yet: nothing can have been sent. */
	if ((rv = page_rr_incident(j, &id)) == 1)
		pd_incident_get(id, page_rr_probe_cb, j);
}

/* 1 if obj (any JSON) mentions the job's marker. */
static int
page_has_marker(const cJSON *obj, struct job *j)
{
	char	*text, *marker;
	int	 found;

	if (obj == NULL)
		return (0);
	text = json_print(obj);
	xasprintf(&marker, "[incidentd %s]", job_token(j));
	found = strstr(text, marker) != NULL;
	free(marker);
	free(text);
	return (found);
}

static void
page_rr_probe_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*rr;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL) {
		job_unsure(j, pr->error);
		return;
	}
	cJSON_ArrayForEach(rr, json_path(pr->json,
	    "incident.responder_requests")) {
		if (page_has_marker(cJSON_GetObjectItem(rr, "message"), j)) {
			log_info("job %s: responder request sent before; not "
			    "again", job_id(j));
			job_done(j, page_result(rr, json_str(job_args(j),
			    "pd_incident")));
			return;
		}
	}
	/* Not listed there (an older API, an account without it): logs. */
	pd_incident_log_entries(json_str(job_args(j), "pd_incident"),
	    page_rr_log_cb, j);
}

static void
page_rr_log_cb(const struct pd_result *pr, void *arg)
{
	struct job	*j = arg;
	cJSON		*res;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL) {
		job_unsure(j, pr->error);
		return;
	}
	if (!page_has_marker(json_path(pr->json, "log_entries"), j)) {
		/*
		 * Responder requests have no idempotency key, and a request
		 * still on its way when we gave up on it (or died) can land
		 * after this look: look once more, some seconds on, before
		 * asking again.
		 */
		if (!json_bool(job_args(j), "looked")) {
			cJSON_AddTrueToObject(job_args(j), "looked");
			job_probe_later(j, PAGE_LOOK_AGAIN_MS,
			    "no responder request with our marker yet");
			return;
		}
		cJSON_DeleteItemFromObject(job_args(j), "looked");
		job_resend(j);
		return;
	}
	log_info("job %s: responder request logged before; not again",
	    job_id(j));
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "id", json_str(job_args(j),
	    "pd_incident"));
	cJSON_AddArrayToObject(res, "users");
	job_done(j, res);
}

/*
 * A target's job ended (in the turn that records it): the incident learns
 * its PagerDuty incident, and the page's last job starts the report.
 */
static void
page_target_ended(struct job *j)
{
	cJSON		*a = job_args(j), *inc;
	const char	*key = json_str(a, "incident");
	const char	*creator;

	if (key != NULL && (inc = incident_load(key)) != NULL) {
		creator = json_str(inc, "pd.job");
		if (job_succeeded(j) && json_str(job_result(j), "id") != NULL)
			/* Its status is followed in the incident's channel. */
			pd_watch_start(key, json_str(job_result(j), "id"));
		if (creator != NULL && strcmp(creator, job_id(j)) == 0) {
			if (job_succeeded(j)) {
				page_inc_set(inc, "incident",
				    json_str(job_result(j), "id"));
				page_inc_set(inc, "url",
				    json_str(job_result(j), "html_url"));
			} else
				/* The next page tries again. */
				page_inc_set(inc, "job", NULL);
			incident_save(inc);
		}
		cJSON_Delete(inc);
	}
	page_check_over(json_str(a, "page"));
}

/*
 * What became of each target of a page (caller frees):
 * {"paged", "failed", "targets": [{"name", "state" ("done", "failed" or
 * "unsent"), "error", "pd_incident", "pd_url", "status", "fallback",
 * "users"}]}. A job whose record is gone is left out; one that is neither
 * done nor failed (its record changed under us) counts as never sent.
 */
cJSON *
page_outcome(const char *id)
{
	cJSON		*page, *out, *ts, *t, *rec;
	const cJSON	*jid;
	const char	*st, *name;
	int		 ok = 0, failed = 0;

	if ((page = page_load(id)) == NULL)
		return (NULL);
	out = cJSON_CreateObject();
	ts = cJSON_AddArrayToObject(out, "targets");
	cJSON_ArrayForEach(jid, json_path(page, "jobs")) {
		if (!cJSON_IsString(jid) ||
		    (rec = job_load(jid->valuestring)) == NULL)
			continue;
		t = cJSON_CreateObject();
		name = json_str(rec, "args.name") != NULL ? json_str(rec,
		    "args.name") : json_str(rec, "args.id");
		cJSON_AddStringToObject(t, "name", name != NULL ? name : "?");
		st = json_str(rec, "state");
		if (st != NULL && strcmp(st, "done") == 0) {
			ok++;
			cJSON_AddStringToObject(t, "state", "done");
			if (json_str(rec, "result.id") != NULL)
				cJSON_AddStringToObject(t, "pd_incident",
				    json_str(rec, "result.id"));
			if (json_str(rec, "result.html_url") != NULL)
				cJSON_AddStringToObject(t, "pd_url",
				    json_str(rec, "result.html_url"));
			if (json_str(rec, "result.status") != NULL)
				cJSON_AddStringToObject(t, "status",
				    json_str(rec, "result.status"));
			cJSON_AddBoolToObject(t, "fallback", json_bool(rec,
			    "args.fallback"));
			cJSON_AddItemToObject(t, "users", cJSON_Duplicate(
			    json_path(rec, "result.users"), 1));
		} else {
			failed++;
			if (st != NULL && strcmp(st, "failed") == 0) {
				cJSON_AddStringToObject(t, "state", "failed");
				cJSON_AddStringToObject(t, "error",
				    json_str(rec, "error") != NULL ?
				    json_str(rec, "error") :
				    "no reason given");
			} else {
				cJSON_AddStringToObject(t, "state", "unsent");
				cJSON_AddStringToObject(t, "error",
				    "it was never sent");
			}
		}
		cJSON_AddItemToArray(ts, t);
		cJSON_Delete(rec);
	}
	cJSON_AddNumberToObject(out, "paged", ok);
	cJSON_AddNumberToObject(out, "failed", failed);
	cJSON_Delete(page);
	return (out);
}

struct page_summary_walk {
	const char	*key;
	cJSON		*out;
};

static int
page_summary_cb(const char *id, const char *val, size_t len, void *arg)
{
	struct page_summary_walk *w = arg;
	cJSON			*page, *o, *out, *ts;
	const cJSON		*t;
	const char		*inc, *st;

	if ((page = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	inc = json_str(page, "incident");
	if (inc == NULL || strcmp(inc, w->key) != 0) {
		cJSON_Delete(page);
		return (0);
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddNumberToObject(o, "created", json_num(page, "created", 0));
	if (json_str(page, "user") != NULL)
		cJSON_AddStringToObject(o, "by", json_str(page, "user"));
	st = json_str(page, "state");
	cJSON_AddStringToObject(o, "state", st != NULL ? st : "?");
	ts = cJSON_AddArrayToObject(o, "targets");
	/* While paging, the targets are listed but not all have ended. */
	if ((out = page_outcome(id)) != NULL)
		cJSON_ArrayForEach(t, json_path(out, "targets")) {
			if (st != NULL && strcmp(st, "paging") == 0 &&
			    strcmp(json_str(t, "state"), "unsent") == 0)
				cJSON_ReplaceItemInObject((cJSON *)t, "state",
				    cJSON_CreateString("paging"));
			cJSON_AddItemToArray(ts, cJSON_Duplicate(t, 1));
		}
	cJSON_Delete(out);
	cJSON_AddItemToArray(w->out, o);
	cJSON_Delete(page);
	return (0);
}

/*
 * The pages of incident key, oldest first (caller frees): [{"id",
 * "created", "by", "state", "targets": [as page_outcome's, "state" also
 * "paging"]}]. The PagerDuty states are those known when each target
 * ended (the watcher's live states replace them: pd_watch_summary).
 */
cJSON *
page_summary(const char *key)
{
	struct page_summary_walk w;

	w.key = key;
	w.out = cJSON_CreateArray();
	(void)store_foreach(store, STORE_PAGES, "", page_summary_cb, &w);
	return (w.out);
}

/*
 * If every job of the page has ended (or its record is gone), record the
 * page done and create its announcement, keyed by the page: once.
 */
static void
page_check_over(const char *id)
{
	cJSON		*page, *rec, *out, *args;
	const cJSON	*jid, *jobs;
	const char	*st, *kind;
	char		*aid;
	int		 i;

	if ((page = page_load(id)) == NULL)
		return;
	st = json_str(page, "state");
	if (st == NULL || strcmp(st, "paging") != 0)
		goto out;
	/* The last jobs finish last: look at them first. */
	jobs = json_path(page, "jobs");
	for (i = cJSON_GetArraySize(jobs) - 1; i >= 0; i--) {
		jid = cJSON_GetArrayItem(jobs, i);
		if (!cJSON_IsString(jid) ||
		    (rec = job_load(jid->valuestring)) == NULL)
			continue;
		st = json_str(rec, "state");
		if (st != NULL && (strcmp(st, "queued") == 0 ||
		    strcmp(st, "running") == 0)) {
			cJSON_Delete(rec);
			goto out;
		}
		cJSON_Delete(rec);
	}
	out = page_outcome(id);
	cJSON_ReplaceItemInObject(page, "state", cJSON_CreateString("done"));
	cJSON_DeleteItemFromObject(page, "paged");
	cJSON_DeleteItemFromObject(page, "failed");
	cJSON_AddNumberToObject(page, "paged", json_num(out, "paged", 0));
	cJSON_AddNumberToObject(page, "failed", json_num(out, "failed", 0));
	cJSON_Delete(out);
	if (page_save(page) != 0)
		goto out;
	log_info("page %s: %d paged, %d failed", id,
	    (int)json_num(page, "paged", 0), (int)json_num(page, "failed", 0));
	page_log(page);
	kind = json_str(page, "announce") != NULL ? json_str(page,
	    "announce") : "page_announce";
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "page", id);
	if ((aid = job_create(kind, id, args, 0)) == NULL)
		log_warnx("page %s: could not record its announcement", id);
	free(aid);
out:
	cJSON_Delete(page);
}

/*
 * The page ended: its entry in the event log (the targets and how each
 * went), the incident manager's first page that reached PagerDuty, and
 * a refresh of the incident's status.
 */
static void
page_log(const cJSON *page)
{
	const char	*id = json_str(page, "id");
	const char	*key = json_str(page, "incident");
	const cJSON	*t, *pt;
	cJSON		*out, *d, *ts, *e;
	int		 i = 0, im = json_bool(page, "im");

	if ((out = page_outcome(id)) == NULL)
		return;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "id", id);
	cJSON_AddBoolToObject(d, "im", im);
	cJSON_AddNumberToObject(d, "paged", json_num(out, "paged", 0));
	cJSON_AddNumberToObject(d, "failed", json_num(out, "failed", 0));
	ts = cJSON_AddArrayToObject(d, "targets");
	cJSON_ArrayForEach(t, json_path(out, "targets")) {
		pt = cJSON_GetArrayItem(json_path(page, "targets"), i++);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", json_str(pt, "label") !=
		    NULL ? json_str(pt, "label") : json_str(t, "name"));
		cJSON_AddStringToObject(e, "kind", json_str(pt, "kind") !=
		    NULL ? json_str(pt, "kind") : "?");
		cJSON_AddStringToObject(e, "state", json_str(t, "state"));
		cJSON_AddItemToArray(ts, e);
	}
	evlog_add(key, EVLOG_PAGE, (time_t)json_num(page, "created",
	    (double)now_wall()), d);
	t = cJSON_GetArrayItem(json_path(out, "targets"), 0);
	if (im && key != NULL && json_num(out, "paged", 0) > 0) {
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "page", id);
		if (json_str(t, "pd_incident") != NULL)
			cJSON_AddStringToObject(d, "pd_incident",
			    json_str(t, "pd_incident"));
		evlog_add(key, EVLOG_IM_PAGED, now_wall(), d);
	}
	cJSON_Delete(out);
	if (key != NULL)
		incident_changed(key);
}

/* page_announce: report, name who was paged, invite them. */
static void
page_announce_run(struct job *j)
{
	struct page_announce	*an;
	cJSON			*page, *out, *x, *users;
	const cJSON		*t, *pu;
	const char		*id = job_key(j), *key;
	char			*n, *e, *pd;
	int			 ok, failed, fallback = 0;

	if ((page = page_load(id)) == NULL ||
	    (out = page_outcome(id)) == NULL) {
		cJSON_Delete(page);
		job_fail(j, "the page is gone");
		return;
	}
	an = xcalloc(1, sizeof(*an));
	an->job = j;
	an->page = xstrdup(id);
	an->users = cJSON_CreateArray();
	cJSON_ArrayForEach(t, json_path(out, "targets")) {
		n = slack_escape(json_str(t, "name"));
		if (strcmp(json_str(t, "state"), "done") != 0) {
			e = slack_escape(json_str(t, "error"));
			strlist_addf(&an->lines, ":x: Could not page *%s*: %s",
			    n, e);
			free(e);
			free(n);
			continue;
		}
		if (json_bool(t, "fallback"))
			fallback++;
		if (json_str(t, "status") != NULL &&
		    strcmp(json_str(t, "status"), "resolved") == 0) {
			pd = slack_escape(json_str(t, "pd_incident"));
			strlist_addf(&an->lines, ":information_source: The "
			    "PagerDuty incident for *%s* (%s) was already "
			    "resolved; it was not opened again.", n, pd);
			free(pd);
		}
		free(n);
		cJSON_ArrayForEach(pu, json_path(t, "users")) {
			cJSON_ArrayForEach(x, an->users) {
				if (strcmp(json_str(x, "id"),
				    json_str(pu, "id")) == 0)
					break;
			}
			if (x == NULL)
				cJSON_AddItemToArray(an->users,
				    cJSON_Duplicate(pu, 1));
		}
	}
	if (fallback > 0)
		strlist_addf(&an->lines, ":information_source: This PagerDuty "
		    "account cannot add responders (no coordinated "
		    "responding), so each paged service got its own PagerDuty "
		    "incident, titled with the Jira key.");
	ok = (int)json_num(out, "paged", 0);
	failed = (int)json_num(out, "failed", 0);
	key = json_str(page, "incident");
	strlist_addf(&an->lines, "%s*%d of %d* target(s) paged%s%s.",
	    failed > 0 ? ":warning: " : ":pager: ", ok, ok + failed,
	    key != NULL ? " for " : "", key != NULL ? key :
	    " (this page belongs to no incident)");
	cJSON_Delete(out);
	cJSON_Delete(page);
	users = an->users;
	an->users = NULL;
	page_people(users, page_announce_people_cb, an);
}

static void
page_announce_people_cb(cJSON *users, void *arg)
{
	struct page_announce	*an = arg;

	an->users = users;
	page_announce_post(an);
}

/*
 * Name the PagerDuty users of users ([{id, name}], consumed and handed to
 * cb, once): each gets the user's "name" and "email" from PagerDuty and,
 * when that email is a Slack user's (users.lookupByEmail), "slack". One
 * that cannot be looked up keeps what it had.
 */
void
page_people(cJSON *users, page_people_cb cb, void *arg)
{
	struct page_people	*pp;
	struct page_user_ctx	*uc;
	const cJSON		*u;
	int			 idx = 0;

	pp = xcalloc(1, sizeof(*pp));
	pp->users = users;
	pp->cb = cb;
	pp->arg = arg;
	pp->pending = cJSON_GetArraySize(users) + 1;
	cJSON_ArrayForEach(u, users) {
		uc = xcalloc(1, sizeof(*uc));
		uc->pp = pp;
		uc->idx = idx++;
		pd_user_get(json_str(u, "id"), page_people_user_cb, uc);
	}
	page_people_one(pp);
}

/* One lookup ended: the last one hands the users over. */
static void
page_people_one(struct page_people *pp)
{
	if (--pp->pending > 0)
		return;
	pp->cb(pp->users, pp->arg);
	free(pp);
}

static void
page_people_user_cb(const struct pd_result *pr, void *arg)
{
	struct page_user_ctx	*uc = arg;
	struct page_people	*pp = uc->pp;
	cJSON			*u, *args;
	const char		*email;

	u = cJSON_GetArrayItem(pp->users, uc->idx);
	email = json_str(pr->json, "user.email");
	if (pr->error == NULL && json_str(pr->json, "user.name") != NULL) {
		cJSON_DeleteItemFromObject(u, "name");
		cJSON_AddStringToObject(u, "name", json_str(pr->json,
		    "user.name"));
	}
	if (email != NULL) {
		cJSON_DeleteItemFromObject(u, "email");
		cJSON_AddStringToObject(u, "email", email);
	}
	if (email == NULL || page_stopped) {
		free(uc);
		page_people_one(pp);
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "email", email);
	slack_call("users.lookupByEmail", args, page_people_slack_cb, uc);
}

static void
page_people_slack_cb(const struct slack_result *sr, void *arg)
{
	struct page_user_ctx	*uc = arg;
	struct page_people	*pp = uc->pp;
	cJSON			*u;

	u = cJSON_GetArrayItem(pp->users, uc->idx);
	if (sr->ok && json_str(sr->json, "user.id") != NULL) {
		cJSON_DeleteItemFromObject(u, "slack");
		cJSON_AddStringToObject(u, "slack", json_str(sr->json,
		    "user.id"));
	}
	free(uc);
	page_people_one(pp);
}

static void
page_announce_free(struct page_announce *an)
{
	cJSON_Delete(an->users);
	strlist_free(&an->lines);
	free(an->page);
	free(an);
}

/* Post the report and who was paged; invite them to the incident. */
static void
page_announce_post(struct page_announce *an)
{
	cJSON		*page, *inc = NULL;
	const cJSON	*u;
	char		*who = NULL, *tmp, *n, *invite = NULL;
	const char	*key;
	struct strlist	 invites = { NULL, 0 };
	size_t		 i;
	int		 ninvite = 0;

	if (page_stopped) {
		/* The engine is gone; the job resumes next time. */
		page_announce_free(an);
		return;
	}
	if ((page = page_load(an->page)) == NULL) {
		job_fail(an->job, "the page is gone");
		page_announce_free(an);
		return;
	}
	cJSON_ArrayForEach(u, an->users) {
		if (json_str(u, "slack") != NULL) {
			xasprintf(&tmp, "%s%s<@%s>", who != NULL ? who : "",
			    who != NULL ? ", " : "", json_str(u, "slack"));
			xasprintf(&n, "%s%s%s", invite != NULL ? invite : "",
			    invite != NULL ? "," : "", json_str(u, "slack"));
			free(invite);
			invite = n;
			/* conversations.invite takes up to 100 users. */
			if (++ninvite == 100) {
				strlist_add(&invites, invite);
				free(invite);
				invite = NULL;
				ninvite = 0;
			}
		} else {
			n = slack_escape(json_str(u, "name"));
			xasprintf(&tmp, "%s%s%s (PagerDuty, not found in "
			    "Slack)", who != NULL ? who : "", who != NULL ?
			    ", " : "", n);
			free(n);
		}
		free(who);
		who = tmp;
	}
	if (who != NULL) {
		strlist_addf(&an->lines, "Paged people: %s", who);
		free(who);
	}
	/* Jobs: the report and the invites survive a stop and a 5xx. */
	cmd_reply_lines_job(json_str(page, "channel"), json_str(page,
	    "thread_ts"), &an->lines, job_id(an->job));
	key = json_str(page, "incident");
	if (invite != NULL)
		strlist_add(&invites, invite);
	if (invites.n > 0 && key != NULL && (inc = incident_load(key)) !=
	    NULL && json_str(inc, "channel") != NULL) {
		for (i = 0; i < invites.n; i++) {
			xasprintf(&tmp, "%s#%zu", job_id(an->job), i);
			cmd_invite_job(json_str(inc, "channel"), invites.v[i],
			    tmp);
			free(tmp);
		}
	}
	strlist_free(&invites);
	free(invite);
	cJSON_Delete(inc);
	cJSON_Delete(page);
	job_done(an->job, NULL);
	page_announce_free(an);
}

/* A page still "paging" whose jobs all ended (while we were down). */
static int
page_resume_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct strlist	*ids = arg;
	cJSON		*p;
	const char	*st;

	if ((p = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	st = json_str(p, "state");
	if (st != NULL && strcmp(st, "paging") == 0 &&
	    json_path(p, "jobs") != NULL)
		strlist_add(ids, key);
	cJSON_Delete(p);
	return (0);
}

/*
 * After jobs_init: announce pages whose jobs all ended while the daemon
 * was down, and watch the shortcuts file.
 */
void
page_init(void)
{
	struct strlist	ids = { NULL, 0 };
	size_t		i;

	page_stopped = 0;
	store_foreach(store, STORE_PAGES, "", page_resume_cb, &ids);
	for (i = 0; i < ids.n; i++)
		page_check_over(ids.v[i]);
	strlist_free(&ids);
	config_watch_shortcuts();
}

/* The engine is going away: late answers must not touch its jobs. */
void
page_shutdown(void)
{
	page_stopped = 1;
	free(page_requester);
	page_requester = NULL;
	free(page_requester_for);
	page_requester_for = NULL;
}
