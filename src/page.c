/*
 * page.c: the paging engine.
 *
 * A confirmed page becomes one job per target in STORE_JOBS
 * ("page/<page id>/<index>"), written in the confirming turn and only
 * sent after that turn's commit. Each send is idempotent:
 *
 * - Creating a PagerDuty incident carries an incident_key derived from
 *   the Jira key (or the page id). A resend after a crash gets 400
 *   "matching dedup key": the incident exists, so it is fetched.
 * - A responder request is first marked "sending" (committed), and its
 *   message carries "[incidentd <job>]". A job found "sending" after a
 *   restart or a 5xx looks for that marker on the incident first.
 *
 * One PagerDuty incident per incident: the incident manager's page, or
 * the first page, creates it; later pages add responders. A 402 (no
 * coordinated_responding) switches the incident to one PagerDuty
 * incident per paged service. At most pagerduty.max_concurrency jobs run
 * at once, and a low ratelimit-remaining pauses dispatch until the
 * window resets. When a page's last job ends, the channel is told who
 * was paged and they are invited.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <cjson/cJSON.h>

#include "incidentd.h"

#define PAGE_MAX_ROUNDS		12	/* requeues after 429/5xx */
#define PAGE_IM_WAIT_S		60	/* wait for an IM page under way */
#define PAGE_SECTION_MAX	2900
#define PAGE_TITLE_MAX		1000
#define PAGE_BLOCKS_MAX		48

struct page_job {
	char			*key;		/* STORE_JOBS key */
	char			*page;
	int			 rounds;
	int			 check;		/* look for the marker first */
	struct event		*timer;
	TAILQ_ENTRY(page_job)	 entry;
};
TAILQ_HEAD(page_jobs, page_job);

struct page_run {
	char			*id;
	int			 remaining;
	TAILQ_ENTRY(page_run)	 entry;
};
TAILQ_HEAD(page_runs, page_run);

/* Announcing a finished page: PD users to map to Slack users. */
struct page_announce {
	char		*page;
	cJSON		*users;		/* [{id, name, email, slack}] */
	int		 pending;
	struct strlist	 lines;
};

static struct page_jobs	 page_ready = TAILQ_HEAD_INITIALIZER(page_ready);
static struct page_jobs	 page_waiting = TAILQ_HEAD_INITIALIZER(page_waiting);
static struct page_jobs	 page_delayed = TAILQ_HEAD_INITIALIZER(page_delayed);
static struct page_jobs	 page_inflight = TAILQ_HEAD_INITIALIZER(page_inflight);
static struct page_runs	 page_runs = TAILQ_HEAD_INITIALIZER(page_runs);
static struct strlist	 page_creating;	/* incidents whose PD incident is
					   being created */
static int		 page_running;
static int		 page_draining;
static int		 page_stopped = 1;
static uint64_t		 page_pause_until;
static struct event	*page_pause_ev;
static time_t		 page_shortcuts_mtime;
static char		*page_requester;	/* PD user id of pagerduty.from */
static uint32_t		 page_seq;

static void	 page_pump(void);
static void	 page_pump_cb(void *);
static void	 page_pause_cb(evutil_socket_t, short, void *);
static void	 page_delay_cb(evutil_socket_t, short, void *);
static void	 page_job_free(struct page_job *);
static void	 page_job_run(struct page_job *);
static void	 page_job_later(struct page_job *, long long);
static void	 page_job_end(struct page_job *, const cJSON *, const char *);
static cJSON	*page_job_load(const char *);
static void	 page_job_save(const char *, const cJSON *);
static void	 page_send_create_cb(void *);
static void	 page_created_cb(const struct pd_result *, void *);
static void	 page_existing_cb(const struct pd_result *, void *);
static void	 page_send_rr_cb(void *);
static void	 page_rr_check_cb(const struct pd_result *, void *);
static void	 page_rr_cb(const struct pd_result *, void *);
static void	 page_requester_cb(const struct pd_result *, void *);
static int	 page_retryable(struct page_job *, const struct pd_result *);
static void	 page_ratelimit(const struct pd_result *);
static char	*page_ikey(const cJSON *, const cJSON *);
static void	 page_creator_done(const char *);
static void	 page_users_from(cJSON *, const cJSON *, const char *);
static struct page_run *page_run_find(const char *);
static void	 page_finish(const char *);
static void	 page_run_end(const char *);
static int	 page_collect_cb(const char *, const char *, size_t, void *);
static int	 page_resume_cb(const char *, const char *, size_t, void *);
static void	 page_announce_user_cb(const struct pd_result *, void *);
static void	 page_announce_slack_cb(const struct slack_result *, void *);
static void	 page_announce_post(struct page_announce *);
static void	 page_poll_shortcuts_cb(void *);

struct page_user_ctx {
	struct page_announce	*an;
	int			 idx;
};

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

static cJSON *
page_job_load(const char *key)
{
	char	*val;
	size_t	 len;
	cJSON	*j;

	if (store_get(store, STORE_JOBS, key, &val, &len) != 0)
		return (NULL);
	j = cJSON_ParseWithLength(val, len);
	free(val);
	return (j);
}

static void
page_job_save(const char *key, const cJSON *job)
{
	char	*val;
	int	 rv;

	val = json_print(job);
	if ((rv = store_put(store, STORE_JOBS, key, val, strlen(val))) != 0)
		log_warnx("page job %s: store: %s", key, store_strerror(rv));
	free(val);
}

static struct page_run *
page_run_find(const char *id)
{
	struct page_run	*r;

	TAILQ_FOREACH(r, &page_runs, entry) {
		if (strcmp(r->id, id) == 0)
			return (r);
	}
	r = xcalloc(1, sizeof(*r));
	r->id = xstrdup(id);
	TAILQ_INSERT_TAIL(&page_runs, r, entry);
	return (r);
}

/* One of the page's jobs is over; the last one finishes the page. */
static void
page_run_end(const char *id)
{
	struct page_run	*r;

	TAILQ_FOREACH(r, &page_runs, entry) {
		if (strcmp(r->id, id) == 0)
			break;
	}
	if (r == NULL || --r->remaining > 0)
		return;
	TAILQ_REMOVE(&page_runs, r, entry);
	page_finish(r->id);
	free(r->id);
	free(r);
}

static struct page_job *
page_job_new(const char *key, const char *page)
{
	struct page_job	*j;

	j = xcalloc(1, sizeof(*j));
	j->key = xstrdup(key);
	j->page = xstrdup(page);
	return (j);
}

static void
page_job_free(struct page_job *j)
{
	if (j->timer != NULL)
		event_free(j->timer);
	free(j->key);
	free(j->page);
	free(j);
}

/* Record every target of a confirmed page as a pending job. */
void
page_start(const cJSON *page)
{
	const cJSON	*t;
	const char	*id = json_str(page, "id");
	const char	*inc = json_str(page, "incident");
	struct page_run	*run;
	struct page_job	*pj;
	cJSON		*job;
	char		*key;
	int		 i = 0;

	run = page_run_find(id);
	cJSON_ArrayForEach(t, json_path(page, "targets")) {
		xasprintf(&key, "page/%s/%04d", id, i);
		job = cJSON_Duplicate(t, 1);
		cJSON_AddStringToObject(job, "page", id);
		cJSON_AddNumberToObject(job, "idx", i);
		cJSON_AddStringToObject(job, "state", "pending");
		if (inc != NULL)
			cJSON_AddStringToObject(job, "incident", inc);
		page_job_save(key, job);
		cJSON_Delete(job);
		pj = page_job_new(key, id);
		TAILQ_INSERT_TAIL(&page_ready, pj, entry);
		run->remaining++;
		free(key);
		i++;
	}
	log_info("page %s: %d job(s) recorded", id, i);
	reactor_after_commit(page_pump_cb, NULL);
}

static void
page_pump_cb(void *arg)
{
	page_pump();
}

static void
page_pause_cb(evutil_socket_t fd, short events, void *arg)
{
	page_pump();
}

/* Start ready jobs while under the concurrency bound and not paused. */
static void
page_pump(void)
{
	struct page_job	*j;
	struct timeval	 tv;
	uint64_t	 now, ms;
	long long	 max = cfg->pagerduty.max_concurrency;

	if (page_stopped || page_draining)
		return;
	now = now_ms();
	if (page_pause_until > now) {
		ms = page_pause_until - now;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(page_pause_ev, &tv);
		return;
	}
	if (page_requester == NULL) {
		/* Responder requests need a requester: pagerduty.from. */
		if (page_running == 0 && !TAILQ_EMPTY(&page_ready)) {
			char	*q, *path;

			q = url_encode(cfg->pagerduty.from);
			xasprintf(&path, "/users?query=%s&limit=100", q);
			page_running++;
			pd_request("GET", path, NULL, 0, page_requester_cb,
			    NULL);
			free(q);
			free(path);
		}
		return;
	}
	while (page_running < max && (j = TAILQ_FIRST(&page_ready)) != NULL) {
		TAILQ_REMOVE(&page_ready, j, entry);
		page_job_run(j);
	}
}

static void
page_requester_cb(const struct pd_result *pr, void *arg)
{
	const cJSON	*u;
	const char	*email;

	page_running--;
	if (page_stopped)
		return;
	page_ratelimit(pr);
	cJSON_ArrayForEach(u, json_path(pr->json, "users")) {
		email = json_str(u, "email");
		if (email != NULL && strcasecmp(email,
		    cfg->pagerduty.from) == 0 && json_str(u, "id") != NULL) {
			page_requester = xstrdup(json_str(u, "id"));
			break;
		}
	}
	if (page_requester == NULL) {
		log_warnx("pagerduty.from %s is not a PagerDuty user; "
		    "responder requests name no requester",
		    cfg->pagerduty.from);
		page_requester = xstrdup("");
	}
	page_pump();
}

/* Remember ratelimit-*: pause when the window is nearly spent. */
static void
page_ratelimit(const struct pd_result *pr)
{
	uint64_t	until;
	int		reset;

	if (pr->rl_remaining < 0 || pr->rl_remaining >
	    cfg->pagerduty.max_concurrency)
		return;
	reset = pr->rl_reset > 0 ? pr->rl_reset : 1;
	if (reset > 60)
		reset = 60;
	until = now_ms() + (uint64_t)reset * 1000;
	if (until > page_pause_until) {
		page_pause_until = until;
		log_info("pagerduty: %d request(s) left in the rate window; "
		    "pausing pages for %d s", pr->rl_remaining, reset);
	}
}

static void
page_delay_cb(evutil_socket_t fd, short events, void *arg)
{
	struct page_job	*j = arg;

	TAILQ_REMOVE(&page_delayed, j, entry);
	TAILQ_INSERT_TAIL(&page_ready, j, entry);
	page_pump();
}

/* Run the job again after ms (0: as soon as a slot is free). */
static void
page_job_later(struct page_job *j, long long ms)
{
	struct timeval	tv;

	if (ms <= 0) {
		TAILQ_INSERT_TAIL(&page_ready, j, entry);
		return;
	}
	if (j->timer == NULL)
		j->timer = evtimer_new(reactor_base, page_delay_cb, j);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	TAILQ_INSERT_TAIL(&page_delayed, j, entry);
	evtimer_add(j->timer, &tv);
}

/* The incident_key for a job that creates its own PD incident. */
static char *
page_ikey(const cJSON *job, const cJSON *inc)
{
	const char	*key = json_str(job, "incident");
	char		*out;

	if (key == NULL)
		xasprintf(&out, "incidentd/page/%s/%d", json_str(job, "page"),
		    (int)json_num(job, "idx", 0));
	else if (cfg->pagerduty.incident_mode == PD_MODE_PER_PAGE)
		xasprintf(&out, "incidentd/%s/page/%s/%d", key,
		    json_str(job, "page"), (int)json_num(job, "idx", 0));
	else if (inc != NULL && json_str(inc, "pd.mode") != NULL &&
	    strcmp(json_str(inc, "pd.mode"), "per_service") == 0)
		xasprintf(&out, "incidentd/%s/%s/%s", key,
		    json_str(job, "kind"), json_str(job, "id"));
	else
		xasprintf(&out, "incidentd/%s", key);
	return (out);
}

/* Decide what the job does next; every send waits for the commit. */
static void
page_job_run(struct page_job *j)
{
	cJSON		*job, *inc = NULL, *pd;
	const char	*state, *key, *pdid = NULL, *mode = NULL, *ims;
	char		*ikey;

	/* Gone or over already: nothing to send, but the page counts it. */
	state = (job = page_job_load(j->key)) != NULL ?
	    json_str(job, "state") : NULL;
	if (job == NULL || (state != NULL && (strcmp(state, "done") == 0 ||
	    strcmp(state, "failed") == 0))) {
		log_warnx("page job %s: %s; not sent", j->key, job == NULL ?
		    "its record is gone" : "already over");
		cJSON_Delete(job);
		page_run_end(j->page);
		page_job_free(j);
		return;
	}
	page_running++;
	TAILQ_INSERT_TAIL(&page_inflight, j, entry);
	key = json_str(job, "incident");
	if (key != NULL && cfg->pagerduty.incident_mode == PD_MODE_PER_INCIDENT &&
	    (inc = incident_load(key)) != NULL) {
		mode = json_str(inc, "pd.mode");
		pdid = json_str(inc, "pd.incident");
		ims = json_str(inc, "im_page.state");
		if (pdid == NULL && ims != NULL && strcmp(ims, "paged") == 0)
			pdid = json_str(inc, "im_page.pd_incident");
		if (mode != NULL && strcmp(mode, "per_service") == 0)
			goto create;
		if (pdid != NULL) {
			/* Add responders to the incident's PD incident. */
			cJSON_DeleteItemFromObject(job, "pd_incident");
			cJSON_AddStringToObject(job, "pd_incident", pdid);
			if (strcmp(state, "sending") == 0)
				j->check = 1;
			cJSON_ReplaceItemInObject(job, "state",
			    cJSON_CreateString("sending"));
			page_job_save(j->key, job);
			reactor_after_commit(page_send_rr_cb, j);
			goto out;
		}
		if (ims != NULL && strcmp(ims, "paging") == 0 &&
		    now_wall() - (time_t)json_num(inc, "im_page.at", 0) <
		    PAGE_IM_WAIT_S) {
			/* The IM page will be the PD incident: wait. */
			TAILQ_REMOVE(&page_inflight, j, entry);
			page_running--;
			page_job_later(j, 1000);
			goto out;
		}
		if (json_str(inc, "pd.creator") != NULL &&
		    strcmp(json_str(inc, "pd.creator"), j->key) != 0) {
			/* Another job creates it; wait for that one. */
			TAILQ_REMOVE(&page_inflight, j, entry);
			page_running--;
			TAILQ_INSERT_TAIL(&page_waiting, j, entry);
			goto out;
		}
		/* This job creates the incident's PD incident. */
		if ((pd = cJSON_GetObjectItem(inc, "pd")) == NULL)
			pd = cJSON_AddObjectToObject(inc, "pd");
		if (cJSON_GetObjectItem(pd, "creator") == NULL)
			cJSON_AddStringToObject(pd, "creator", j->key);
		incident_save(inc);
		strlist_add(&page_creating, key);
	}
create:
	ikey = page_ikey(job, inc);
	cJSON_DeleteItemFromObject(job, "incident_key");
	cJSON_AddStringToObject(job, "incident_key", ikey);
	free(ikey);
	page_job_save(j->key, job);
	reactor_after_commit(page_send_create_cb, j);
out:
	cJSON_Delete(inc);
	cJSON_Delete(job);
}

/* The PagerDuty incident's title and details. */
static void
page_texts(const cJSON *job, const cJSON *page, char **title, char **details)
{
	const char	*key = json_str(job, "incident");
	const char	*msg = json_str(page, "message");
	const char	*chname = json_str(page, "channel_name");
	cJSON		*inc = NULL;
	char		*url = NULL, *link;

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
		    json_str(job, "name"), msg != NULL ? "\nMessage: " : "",
		    msg != NULL ? msg : "");
	} else {
		xasprintf(title, "Page from Slack%s%s (no incident)",
		    msg != NULL ? ": " : "", msg != NULL ? msg : "");
		xasprintf(details, "This page belongs to no incident.\n"
		    "Slack channel: %s %s\nPaged from Slack by user %s for %s"
		    "%s%s", json_str(page, "channel"), link,
		    json_str(page, "user"), json_str(job, "name"),
		    msg != NULL ? "\nMessage: " : "", msg != NULL ? msg : "");
	}
	(*title)[utf8_cut(*title, PAGE_TITLE_MAX)] = '\0';
	free(url);
	free(link);
	cJSON_Delete(inc);
}

static void
page_send_create_cb(void *arg)
{
	struct page_job	*j = arg;
	cJSON		*job, *page, *body, *i, *o, *a, *as;
	const char	*svc;
	char		*title, *details;

	if (page_stopped)
		return;
	job = page_job_load(j->key);
	page = page_load(j->page);
	if (job == NULL || page == NULL) {
		cJSON_Delete(job);
		cJSON_Delete(page);
		page_job_end(j, NULL, "its record is gone");
		return;
	}
	page_texts(job, page, &title, &details);
	body = cJSON_CreateObject();
	i = cJSON_AddObjectToObject(body, "incident");
	cJSON_AddStringToObject(i, "type", "incident");
	cJSON_AddStringToObject(i, "title", title);
	if (strcmp(json_str(job, "kind"), "user") == 0)
		svc = cfg->pagerduty.default_service != NULL ?
		    cfg->pagerduty.default_service :
		    cfg->pagerduty.incident_manager_service;
	else
		svc = json_str(job, "id");
	o = cJSON_AddObjectToObject(i, "service");
	cJSON_AddStringToObject(o, "id", svc);
	cJSON_AddStringToObject(o, "type", "service_reference");
	cJSON_AddStringToObject(i, "urgency", "high");
	cJSON_AddStringToObject(i, "incident_key", json_str(job,
	    "incident_key"));
	o = cJSON_AddObjectToObject(i, "body");
	cJSON_AddStringToObject(o, "type", "incident_body");
	cJSON_AddStringToObject(o, "details", details);
	if (strcmp(json_str(job, "kind"), "user") == 0) {
		as = cJSON_AddArrayToObject(i, "assignments");
		a = cJSON_CreateObject();
		o = cJSON_AddObjectToObject(a, "assignee");
		cJSON_AddStringToObject(o, "id", json_str(job, "id"));
		cJSON_AddStringToObject(o, "type", "user_reference");
		cJSON_AddItemToArray(as, a);
	}
	/* Safe to resend: incident_key deduplicates. */
	pd_request("POST", "/incidents", body, HTTP_IDEMPOTENT,
	    page_created_cb, j);
	free(title);
	free(details);
	cJSON_Delete(job);
	cJSON_Delete(page);
}

/* 429 or 5xx or unreachable: requeue with backoff; 1 if so. */
static int
page_retryable(struct page_job *j, const struct pd_result *pr)
{
	long long	ms;

	if (pr->status != 0 && pr->status != 429 && pr->status < 500)
		return (0);
	if (++j->rounds > PAGE_MAX_ROUNDS)
		return (0);
	ms = (long long)backoff_ms((unsigned)j->rounds - 1, 500, 30000);
	if (pr->status == 429 && pr->rl_reset > 0 && pr->rl_reset <= 60)
		ms = pr->rl_reset * 1000LL;
	log_info("page job %s: %s; again in %lld ms", j->key, pr->error, ms);
	TAILQ_REMOVE(&page_inflight, j, entry);
	page_running--;
	page_job_later(j, ms);
	page_pump();
	return (1);
}

static void
page_created_cb(const struct pd_result *pr, void *arg)
{
	struct page_job	*j = arg;
	cJSON		*job;
	char		*q, *path;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error == NULL) {
		page_job_end(j, json_path(pr->json, "incident"), NULL);
		return;
	}
	if (pr->status == 400 && strstr(pr->error, "matching dedup key")) {
		if ((job = page_job_load(j->key)) == NULL) {
			page_job_end(j, NULL, "its record is gone");
			return;
		}
		q = url_encode(json_str(job, "incident_key"));
		xasprintf(&path, "/incidents?incident_key=%s"
		    "&statuses[]=triggered&statuses[]=acknowledged", q);
		pd_request("GET", path, NULL, 0, page_existing_cb, j);
		free(q);
		free(path);
		cJSON_Delete(job);
		return;
	}
	if (page_retryable(j, pr))
		return;
	page_job_end(j, NULL, pr->error);
}

static void
page_existing_cb(const struct pd_result *pr, void *arg)
{
	struct page_job	*j = arg;
	const cJSON	*first;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL && page_retryable(j, pr))
		return;
	first = cJSON_GetArrayItem(json_path(pr->json, "incidents"), 0);
	if (pr->error == NULL && first != NULL)
		page_job_end(j, first, NULL);
	else
		page_job_end(j, NULL, pr->error != NULL ? pr->error :
		    "PagerDuty reported a duplicate but has no such incident");
}

static void
page_send_rr_cb(void *arg)
{
	struct page_job	*j = arg;
	cJSON		*job;
	char		*path, *q;

	if (page_stopped)
		return;
	if ((job = page_job_load(j->key)) == NULL) {
		page_job_end(j, NULL, "its record is gone");
		return;
	}
	if (j->check) {
		/* Maybe sent before a crash or a 5xx: look for the marker. */
		q = url_encode(json_str(job, "pd_incident"));
		xasprintf(&path, "/incidents/%s", q);
		free(q);
		pd_request("GET", path, NULL, 0, page_rr_check_cb, j);
	} else {
		cJSON		*body, *ts, *w, *t;
		cJSON		*page = page_load(j->page);
		const char	*inc = json_str(job, "incident");
		char		*msg, *link;

		link = slack_permalink(page != NULL ? json_str(page,
		    "channel") : "", page != NULL && json_str(page, "ts") !=
		    NULL ? json_str(page, "ts") : "0");
		xasprintf(&msg, "Please join incident %s in Slack: %s%s%s "
		    "[incidentd %s]", inc, link, page != NULL &&
		    json_str(page, "message") != NULL ? " - " : "",
		    page != NULL && json_str(page, "message") != NULL ?
		    json_str(page, "message") : "", j->key);
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "requester_id", page_requester);
		cJSON_AddStringToObject(body, "message", msg);
		ts = cJSON_AddArrayToObject(body, "responder_request_targets");
		w = cJSON_CreateObject();
		t = cJSON_AddObjectToObject(w, "responder_request_target");
		if (strcmp(json_str(job, "kind"), "user") == 0) {
			cJSON_AddStringToObject(t, "id", json_str(job, "id"));
			cJSON_AddStringToObject(t, "type", "user_reference");
		} else {
			cJSON_AddStringToObject(t, "id", json_str(job, "ep") !=
			    NULL ? json_str(job, "ep") : "");
			cJSON_AddStringToObject(t, "type",
			    "escalation_policy_reference");
		}
		cJSON_AddItemToArray(ts, w);
		q = url_encode(json_str(job, "pd_incident"));
		xasprintf(&path, "/incidents/%s/responder_requests", q);
		free(q);
		pd_request("POST", path, body, 0, page_rr_cb, j);
		free(msg);
		free(link);
		cJSON_Delete(page);
	}
	free(path);
	cJSON_Delete(job);
}

static void
page_rr_check_cb(const struct pd_result *pr, void *arg)
{
	struct page_job	*j = arg;
	const cJSON	*rr;
	const char	*msg;
	char		*marker;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error != NULL) {
		if (!page_retryable(j, pr))
			page_job_end(j, NULL, pr->error);
		return;
	}
	xasprintf(&marker, "[incidentd %s]", j->key);
	cJSON_ArrayForEach(rr, json_path(pr->json,
	    "incident.responder_requests")) {
		msg = json_str(rr, "message");
		if (msg != NULL && strstr(msg, marker) != NULL) {
			log_info("page job %s: already sent", j->key);
			free(marker);
			page_job_end(j, rr, NULL);
			return;
		}
	}
	free(marker);
	j->check = 0;
	page_send_rr_cb(j);
}

static void
page_rr_cb(const struct pd_result *pr, void *arg)
{
	struct page_job	*j = arg;
	cJSON		*job, *inc, *pd;
	const char	*key;

	if (page_stopped)
		return;
	page_ratelimit(pr);
	if (pr->error == NULL) {
		page_job_end(j, json_path(pr->json, "responder_request"),
		    NULL);
		return;
	}
	if (pr->status == 402) {
		/* No coordinated_responding: one PD incident per service. */
		job = page_job_load(j->key);
		key = json_str(job, "incident");
		if (key != NULL && (inc = incident_load(key)) != NULL) {
			/* No "pd" yet when the IM page made the PD incident. */
			if ((pd = cJSON_GetObjectItem(inc, "pd")) == NULL)
				pd = cJSON_AddObjectToObject(inc, "pd");
			cJSON_DeleteItemFromObject(pd, "mode");
			cJSON_AddStringToObject(pd, "mode", "per_service");
			incident_save(inc);
			cJSON_Delete(inc);
			log_warnx("incident %s: PagerDuty has no coordinated "
			    "responding; one PagerDuty incident per service",
			    key);
		}
		if (job != NULL) {
			cJSON_ReplaceItemInObject(job, "state",
			    cJSON_CreateString("pending"));
			cJSON_DeleteItemFromObject(job, "fallback");
			cJSON_AddTrueToObject(job, "fallback");
			page_job_save(j->key, job);
		}
		cJSON_Delete(job);
		TAILQ_REMOVE(&page_inflight, j, entry);
		page_running--;
		j->check = 0;
		page_job_later(j, 0);
		reactor_after_commit(page_pump_cb, NULL);
		return;
	}
	if (pr->status == 429 || pr->status == 0 || pr->status >= 500)
		j->check = pr->status != 429;
	if (page_retryable(j, pr))
		return;
	page_job_end(j, NULL, pr->error);
}

/* PD users an incident or responder request reached, into users. */
static void
page_users_from(cJSON *users, const cJSON *obj, const char *unused)
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

/* Let jobs waiting for an incident's PD incident go. */
static void
page_creator_done(const char *key)
{
	struct page_job	*w, *tmp;
	size_t		 i;

	for (i = 0; i < page_creating.n; i++) {
		if (strcmp(page_creating.v[i], key) != 0)
			continue;
		free(page_creating.v[i]);
		page_creating.v[i] = page_creating.v[--page_creating.n];
		break;
	}
	TAILQ_FOREACH_SAFE(w, &page_waiting, entry, tmp) {
		TAILQ_REMOVE(&page_waiting, w, entry);
		TAILQ_INSERT_TAIL(&page_ready, w, entry);
	}
}

/* The job is over: record the outcome (pdobj on success). */
static void
page_job_end(struct page_job *j, const cJSON *pdobj, const char *error)
{
	cJSON		*job, *inc, *users, *pd;
	const char	*key, *id;

	if ((job = page_job_load(j->key)) != NULL) {
		cJSON_DeleteItemFromObject(job, "state");
		cJSON_AddStringToObject(job, "state", error != NULL ?
		    "failed" : "done");
		if (error != NULL)
			cJSON_AddStringToObject(job, "error", error);
		else {
			users = cJSON_AddArrayToObject(job, "users");
			page_users_from(users, pdobj, NULL);
			id = json_str(pdobj, "id");
			if (id == NULL)
				id = json_str(pdobj, "incident.id");
			if (id != NULL && json_str(job, "pd_incident") == NULL)
				cJSON_AddStringToObject(job, "pd_incident", id);
			if (json_str(pdobj, "html_url") != NULL)
				cJSON_AddStringToObject(job, "pd_url",
				    json_str(pdobj, "html_url"));
		}
		key = json_str(job, "incident");
		if (key != NULL && (inc = incident_load(key)) != NULL) {
			pd = cJSON_GetObjectItem(inc, "pd");
			if (pd != NULL && json_str(pd, "creator") != NULL &&
			    strcmp(json_str(pd, "creator"), j->key) == 0) {
				cJSON_DeleteItemFromObject(pd, "creator");
				if (error == NULL && json_str(job,
				    "pd_incident") != NULL &&
				    json_str(pd, "incident") == NULL)
					cJSON_AddStringToObject(pd, "incident",
					    json_str(job, "pd_incident"));
				incident_save(inc);
				page_creator_done(key);
			}
			cJSON_Delete(inc);
		}
		page_job_save(j->key, job);
		if (error != NULL)
			log_warnx("page job %s failed: %s", j->key, error);
		cJSON_Delete(job);
	}
	TAILQ_REMOVE(&page_inflight, j, entry);
	page_running--;
	page_run_end(j->page);
	page_job_free(j);
	reactor_after_commit(page_pump_cb, NULL);
}

static int
page_collect_cb(const char *key, const char *val, size_t len, void *arg)
{
	cJSON	*all = arg, *j;

	if ((j = cJSON_ParseWithLength(val, len)) != NULL)
		cJSON_AddItemToArray(all, j);
	return (0);
}

/* Every job of the page is over: report, then announce who was paged. */
static void
page_finish(const char *id)
{
	struct page_announce	*an;
	struct page_user_ctx	*uc;
	cJSON			*page, *all, *u, *x;
	const cJSON		*job, *pu;
	const char		*name, *state, *error;
	char			*prefix, *n, *line, *path, *q;
	int			 ok = 0, failed = 0, fallback = 0, idx;

	if ((page = page_load(id)) == NULL)
		return;
	all = cJSON_CreateArray();
	xasprintf(&prefix, "page/%s/", id);
	store_foreach(store, STORE_JOBS, prefix, page_collect_cb, all);
	free(prefix);
	an = xcalloc(1, sizeof(*an));
	an->page = xstrdup(id);
	an->users = cJSON_CreateArray();
	cJSON_ArrayForEach(job, all) {
		name = json_str(job, "name") != NULL ? json_str(job, "name") :
		    json_str(job, "id");
		n = slack_escape(name != NULL ? name : "?");
		state = json_str(job, "state");
		if (state != NULL && strcmp(state, "done") == 0) {
			ok++;
			if (json_bool(job, "fallback"))
				fallback++;
			cJSON_ArrayForEach(pu, json_path(job, "users")) {
				cJSON_ArrayForEach(x, an->users) {
					if (strcmp(json_str(x, "id"),
					    json_str(pu, "id")) == 0)
						break;
				}
				if (x == NULL)
					cJSON_AddItemToArray(an->users,
					    cJSON_Duplicate(pu, 1));
			}
		} else {
			/* Failed, or never sent (its record changed). */
			failed++;
			error = json_str(job, "error");
			if (error == NULL)
				error = state != NULL && strcmp(state,
				    "failed") == 0 ? "no reason given" :
				    "it was never sent";
			line = slack_escape(error);
			strlist_addf(&an->lines, ":x: Could not page *%s*: %s",
			    n, line);
			free(line);
		}
		free(n);
	}
	if (fallback > 0)
		strlist_addf(&an->lines, ":information_source: This PagerDuty "
		    "account cannot add responders (no coordinated "
		    "responding), so each paged service got its own PagerDuty "
		    "incident, titled with the Jira key.");
	cJSON_DeleteItemFromObject(page, "state");
	cJSON_AddStringToObject(page, "state", "done");
	cJSON_AddNumberToObject(page, "paged", ok);
	cJSON_AddNumberToObject(page, "failed", failed);
	page_save(page);
	log_info("page %s: %d paged, %d failed", id, ok, failed);
	strlist_addf(&an->lines, "%s*%d of %d* target(s) paged%s%s.",
	    failed > 0 ? ":warning: " : ":pager: ", ok, ok + failed,
	    json_str(page, "incident") != NULL ? " for " : "",
	    json_str(page, "incident") != NULL ? json_str(page, "incident") :
	    " (this page belongs to no incident)");
	cJSON_Delete(all);
	cJSON_Delete(page);
	an->pending = cJSON_GetArraySize(an->users);
	if (an->pending == 0) {
		page_announce_post(an);
		return;
	}
	idx = 0;
	cJSON_ArrayForEach(u, an->users) {
		uc = xcalloc(1, sizeof(*uc));
		uc->an = an;
		uc->idx = idx++;
		q = url_encode(json_str(u, "id"));
		xasprintf(&path, "/users/%s", q);
		pd_request("GET", path, NULL, 0, page_announce_user_cb, uc);
		free(q);
		free(path);
	}
}

static void
page_announce_user_cb(const struct pd_result *pr, void *arg)
{
	struct page_user_ctx	*uc = arg;
	struct page_announce	*an = uc->an;
	cJSON			*u, *args;
	const char		*email;

	if (page_stopped) {
		free(uc);
		return;
	}
	u = cJSON_GetArrayItem(an->users, uc->idx);
	email = json_str(pr->json, "user.email");
	if (pr->error == NULL && json_str(pr->json, "user.name") != NULL) {
		cJSON_DeleteItemFromObject(u, "name");
		cJSON_AddStringToObject(u, "name", json_str(pr->json,
		    "user.name"));
	}
	if (email == NULL) {
		free(uc);
		if (--an->pending == 0)
			page_announce_post(an);
		return;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "email", email);
	slack_call("users.lookupByEmail", args, page_announce_slack_cb, uc);
}

static void
page_announce_slack_cb(const struct slack_result *sr, void *arg)
{
	struct page_user_ctx	*uc = arg;
	struct page_announce	*an = uc->an;
	cJSON			*u;

	if (page_stopped) {
		free(uc);
		return;
	}
	u = cJSON_GetArrayItem(an->users, uc->idx);
	if (sr->ok && json_str(sr->json, "user.id") != NULL)
		cJSON_AddStringToObject(u, "slack", json_str(sr->json,
		    "user.id"));
	free(uc);
	if (--an->pending == 0)
		page_announce_post(an);
}

/* Post the report and who was paged; invite them to the incident. */
static void
page_announce_post(struct page_announce *an)
{
	cJSON		*page, *inc = NULL, *args;
	const cJSON	*u;
	char		*who = NULL, *tmp, *n, *invite = NULL;
	const char	*key, *channel;
	struct strlist	 invites = { NULL, 0 };
	size_t		 i;
	int		 ninvite = 0;

	if ((page = page_load(an->page)) == NULL)
		goto out;
	channel = json_str(page, "channel");
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
	page_post_lines(channel, json_str(page, "thread_ts"), NULL,
	    &an->lines);
	key = json_str(page, "incident");
	if (invite != NULL)
		strlist_add(&invites, invite);
	if (invites.n > 0 && key != NULL && (inc = incident_load(key)) !=
	    NULL && json_str(inc, "channel") != NULL) {
		for (i = 0; i < invites.n; i++) {
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "channel", json_str(inc,
			    "channel"));
			cJSON_AddStringToObject(args, "users", invites.v[i]);
			/* Members already in the channel must not fail it. */
			cJSON_AddBoolToObject(args, "force", 1);
			slack_call("conversations.invite", args, NULL, NULL);
		}
	}
	strlist_free(&invites);
	free(invite);
	cJSON_Delete(inc);
	cJSON_Delete(page);
out:
	cJSON_Delete(an->users);
	strlist_free(&an->lines);
	free(an->page);
	free(an);
}

/* Post lines as sections, split across messages within Slack's limits. */
int
page_post_lines(const char *channel, const char *thread_ts,
    const char *title, const struct strlist *lines)
{
	cJSON	*blocks = NULL;
	char	*sec = NULL, *tmp;
	size_t	 i, len;
	int	 posted = 0, nblocks = 0;

	for (i = 0; i <= lines->n; i++) {
		len = i < lines->n ? strlen(lines->v[i]) : 0;
		if (sec != NULL && (i == lines->n ||
		    strlen(sec) + len + 1 > PAGE_SECTION_MAX)) {
			if (blocks == NULL)
				blocks = cJSON_CreateArray();
			cJSON_AddItemToArray(blocks, blocks_section(sec));
			free(sec);
			sec = NULL;
			if (++nblocks == PAGE_BLOCKS_MAX || i == lines->n) {
				slack_post(channel, thread_ts, title != NULL ?
				    title : "incidentd", blocks, NULL, NULL);
				blocks = NULL;
				nblocks = 0;
				posted++;
			}
		}
		if (i == lines->n)
			break;
		if (sec == NULL) {
			sec = utf8_truncate(lines->v[i], PAGE_SECTION_MAX, 1);
		} else {
			xasprintf(&tmp, "%s\n%s", sec, lines->v[i]);
			free(sec);
			sec = tmp;
		}
	}
	return (posted);
}

static int
page_resume_cb(const char *key, const char *val, size_t len, void *arg)
{
	cJSON		*all = arg, *j;

	if ((j = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	cJSON_AddStringToObject(j, "_key", key);
	cJSON_AddItemToArray(all, j);
	return (0);
}

/* Watch the shortcuts file: reload on a new mtime, keep the old if bad. */
static void
page_poll_shortcuts_cb(void *arg)
{
	struct strlist		 errors = { NULL, 0 };
	struct shortcuts	 sc = { NULL, 0 };
	struct stat		 sb;
	size_t			 i;

	if (cfg->pagerduty.shortcuts_file == NULL ||
	    stat(cfg->pagerduty.shortcuts_file, &sb) != 0)
		return;
	if (page_shortcuts_mtime == 0 || sb.st_mtime == page_shortcuts_mtime) {
		page_shortcuts_mtime = sb.st_mtime;
		return;
	}
	page_shortcuts_mtime = sb.st_mtime;
	if (config_load_shortcuts(cfg->pagerduty.shortcuts_file, &sc,
	    &errors) != 0) {
		for (i = 0; i < errors.n; i++)
			log_error("%s", errors.v[i]);
		log_error("shortcuts reload rejected: keeping the running "
		    "shortcuts");
		strlist_free(&errors);
		config_free_shortcuts(&sc);
		return;
	}
	config_free_shortcuts(&cfg->pagerduty.shortcuts);
	cfg->pagerduty.shortcuts = sc;
	strlist_free(&errors);
	log_info("shortcuts reloaded from %s (%zu)",
	    cfg->pagerduty.shortcuts_file, sc.n);
}

/* Resume the jobs a previous run left, and watch the shortcuts file. */
void
page_init(void)
{
	cJSON		*all;
	const cJSON	*j;
	const char	*state, *pid;
	struct page_run	*run;
	struct page_job	*pj;
	int		 n = 0;

	page_stopped = 0;
	page_draining = 0;
	page_pause_ev = evtimer_new(reactor_base, page_pause_cb, NULL);
	all = cJSON_CreateArray();
	store_foreach(store, STORE_JOBS, "page/", page_resume_cb, all);
	cJSON_ArrayForEach(j, all) {
		state = json_str(j, "state");
		pid = json_str(j, "page");
		if (state == NULL || pid == NULL ||
		    strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)
			continue;
		run = page_run_find(pid);
		run->remaining++;
		pj = page_job_new(json_str(j, "_key"), pid);
		TAILQ_INSERT_TAIL(&page_ready, pj, entry);
		n++;
	}
	cJSON_Delete(all);
	if (n > 0) {
		log_info("page: resuming %d pending job(s)", n);
		reactor_defer(page_pump_cb, NULL);
	}
	page_poll_shortcuts_cb(NULL);
	schedule_every("shortcuts", cfg->schedule.poll_interval,
	    page_poll_shortcuts_cb, NULL);
}

/* Start no more jobs: the daemon is draining for shutdown. */
void
page_drain(void)
{
	page_draining = 1;
}

static void
page_free_list(struct page_jobs *l)
{
	struct page_job	*j;

	while ((j = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, j, entry);
		page_job_free(j);
	}
}

/* Free everything; pending jobs stay in the store for the next run. */
void
page_shutdown(void)
{
	struct page_run	*r;

	page_stopped = 1;
	page_free_list(&page_ready);
	page_free_list(&page_waiting);
	page_free_list(&page_delayed);
	page_free_list(&page_inflight);
	while ((r = TAILQ_FIRST(&page_runs)) != NULL) {
		TAILQ_REMOVE(&page_runs, r, entry);
		free(r->id);
		free(r);
	}
	strlist_free(&page_creating);
	if (page_pause_ev != NULL)
		event_free(page_pause_ev);
	page_pause_ev = NULL;
	free(page_requester);
	page_requester = NULL;
	page_running = 0;
}
