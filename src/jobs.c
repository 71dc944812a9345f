/*
 * jobs.c: the one durable engine every outbound side effect runs through.
 *
 * A job is a record in STORE_JOBS, keyed "<kind>/<key>":
 *
 *	{ "kind", "key", "token", "state", "attempts", "unsure", "due",
 *	  "created", "ended", "args", "result", "error" }
 *
 * It is written in the same turn as the change that asks for it (a click,
 * a command) and acted on only after that turn's commit. Before each
 * attempt the record says "running" and the attempt is counted, and that
 * too is committed before the kind's run function sends anything. So
 * after a crash, a job found "running" may or may not have done its work:
 * it is marked unsure, and its kind's probe looks before anything is sent
 * again. The same happens after an ambiguous failure (a timeout after the
 * request left, a 5xx from a service that may have acted). The token is
 * fixed when the job is created and goes with the request where the
 * service can keep it (a Jira label, a PagerDuty incident_key, a marker in
 * a message), so the probe has something to look for.
 *
 * Kinds register in jobs_kinds[] the way commands register in cmd_table[]:
 * a run function, an optional probe, an optional ended hook, a retry
 * policy (attempts, backoff with full jitter) and a concurrency bound.
 * The engine owns the queue, the bounds, backoff, pauses (rate limits),
 * due times (one evtimer for the earliest due job), resume at start-up and
 * the record of how each job ended. A kind never touches STORE_JOBS.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <cjson/cJSON.h>

#include "incidentd.h"

#define JOBS_DEF_ATTEMPTS	8
#define JOBS_DEF_CONCURRENCY	8
#define JOBS_DEF_BASE_MS	500
#define JOBS_DEF_CAP_MS		60000
#define JOBS_MAX_KINDS		32

struct job {
	char			*id;		/* "<kind>/<key>" */
	const struct job_kind	*kind;
	cJSON			*rec;		/* while active: our copy */
	int			 active;	/* lent to the kind */
	int			 probing;
	void			(*next)(struct job *);	/* after commit */
	uint64_t		 due;		/* wall ms */
	TAILQ_ENTRY(job)	 entry;
};
TAILQ_HEAD(jobs_list, job);

struct jobs_kind_state {
	int		 running;
	uint64_t	 paused_until;	/* wall ms */
};

/* Every kind, as commands are in cmd_table[]. */
const struct job_kind *jobs_kinds[] = {
	&cmd_reply_job_kind,
	&cmd_invite_job_kind,
	&ni_create_job,
	&ni_prompt_job,
	&nc_setup_job,
	&page_pd_incident_job,
	&page_pd_responder_job,
	&page_announce_job,
	&ni_announce_job,
	&ni_comment_job,
	&ni_update_job,
	&gt_send_job,
	&nc_link_job,
	&follow_poll_job,
	&follow_aar_job,
	&follow_warn_job,
	&follow_overdue_job,
	&follow_reopened_job,
	&follow_archive_notice_job,
	&follow_archive_job,
	&follow_unarchive_job,
	&follow_aar_held_job,
	&status_update_job,
	&pd_watch_job,
	&pd_post_job,
	&pd_nudge_job,
	&pd_escalate_job,
	&pd_resolve_job,
	&postmortem_job,
	NULL
};

static struct jobs_list		 jobs_waiting = TAILQ_HEAD_INITIALIZER(jobs_waiting);
static struct jobs_list		 jobs_active = TAILQ_HEAD_INITIALIZER(jobs_active);
static struct jobs_kind_state	 jobs_state[JOBS_MAX_KINDS];
static struct event		*jobs_timer;
static int			 jobs_started;
static int			 jobs_draining;
static int			 jobs_pump_queued;
static uint64_t			 jobs_ended_count;

static const struct job_kind *jobs_kind_find(const char *);
static struct jobs_kind_state *jobs_kstate(const struct job_kind *);
static uint64_t	 jobs_wall_ms(void);
static cJSON	*jobs_load(const char *);
static int	 jobs_save(const char *, const cJSON *);
static void	 jobs_enqueue(struct job *);
static int	 jobs_known(const char *);
static void	 jobs_pump(void);
static void	 jobs_pump_cb(void *);
static void	 jobs_timer_cb(evutil_socket_t, short, void *);
static void	 jobs_start_cb(void *);
static void	 jobs_next_cb(void *);
static void	 jobs_pump_abort_cb(void *);
static void	 jobs_unwind_cb(void *);
static void	 jobs_requeue_cb(void *);
static void	 jobs_free_id_cb(void *);
static void	 jobs_release(struct job *);
static void	 jobs_end(struct job *, const char *, cJSON *, const char *);
static void	 jobs_again(struct job *, uint64_t, int, const char *);
static int	 jobs_resume_cb(const char *, const char *, size_t, void *);
static int	 jobs_reconcile_cb(const char *, const char *, size_t, void *);
static void	 jobs_job_free(struct job *);
static int	 jobs_attempts_max(const struct job_kind *);
static int	 jobs_count(const struct jobs_list *);

static uint64_t
jobs_wall_ms(void)
{
	return ((uint64_t)now_wall() * 1000);
}

static const struct job_kind *
jobs_kind_find(const char *name)
{
	size_t	i;

	for (i = 0; name != NULL && jobs_kinds[i] != NULL; i++) {
		if (strcmp(jobs_kinds[i]->name, name) == 0)
			return (jobs_kinds[i]);
	}
	return (NULL);
}

static struct jobs_kind_state *
jobs_kstate(const struct job_kind *k)
{
	size_t	i;

	for (i = 0; jobs_kinds[i] != NULL && i < JOBS_MAX_KINDS; i++) {
		if (jobs_kinds[i] == k)
			return (&jobs_state[i]);
	}
	fatalx("%s: unregistered job kind %s", __func__, k->name);
}

static int
jobs_attempts_max(const struct job_kind *k)
{
	return (k->max_attempts > 0 ? k->max_attempts : JOBS_DEF_ATTEMPTS);
}

static cJSON *
jobs_load(const char *id)
{
	cJSON	*j;

	if (store == NULL)
		return (NULL);
	(void)store_get_json(store, STORE_JOBS, id, &j);
	return (j);
}

static int
jobs_save(const char *id, const cJSON *rec)
{
	int	rv;

	if ((rv = store_put_json(store, STORE_JOBS, id, rec)) != 0)
		log_warnx("job %s: store: %s", id, store_strerror(rv));
	return (rv);
}

static void
jobs_set_str(cJSON *o, const char *name, const char *v)
{
	cJSON_DeleteItemFromObject(o, name);
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
}

static void
jobs_set_num(cJSON *o, const char *name, double v)
{
	cJSON_DeleteItemFromObject(o, name);
	cJSON_AddNumberToObject(o, name, v);
}

static void
jobs_set_bool(cJSON *o, const char *name, int v)
{
	cJSON_DeleteItemFromObject(o, name);
	cJSON_AddBoolToObject(o, name, v);
}

/* A copy of the record of job id, or NULL; caller frees. */
cJSON *
job_load(const char *id)
{
	return (jobs_load(id));
}

/*
 * Create a job of kind for key in this turn, with args (consumed); it runs
 * after the commit, at due (wall seconds, 0 for now). Creating is
 * idempotent: if kind/key exists, nothing changes and its id is returned.
 * Returns the id (caller frees), or NULL if the store refused it.
 */
char *
job_create(const char *kind, const char *key, cJSON *args, time_t due)
{
	const struct job_kind	*k;
	struct job		*j;
	cJSON			*rec, *old;
	unsigned char		 raw[16];
	char			*id, token[33];
	size_t			 i;

	if ((k = jobs_kind_find(kind)) == NULL)
		fatalx("%s: unknown job kind %s", __func__, kind);
	xasprintf(&id, "%s/%s", kind, key);
	if ((old = jobs_load(id)) != NULL) {
		cJSON_Delete(old);
		cJSON_Delete(args);
		return (id);
	}
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)rand_uniform(256);
	for (i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "kind", kind);
	cJSON_AddStringToObject(rec, "key", key);
	cJSON_AddStringToObject(rec, "token", token);
	cJSON_AddStringToObject(rec, "state", "queued");
	cJSON_AddNumberToObject(rec, "attempts", 0);
	cJSON_AddNumberToObject(rec, "created", (double)now_wall());
	cJSON_AddNumberToObject(rec, "due", due > 0 ? (double)due * 1000 :
	    0);
	cJSON_AddItemToObject(rec, "args", args != NULL ? args :
	    cJSON_CreateObject());
	if (jobs_save(id, rec) != 0) {
		cJSON_Delete(rec);
		free(id);
		return (NULL);
	}
	cJSON_Delete(rec);
	j = xcalloc(1, sizeof(*j));
	j->id = xstrdup(id);
	j->kind = k;
	j->due = due > 0 ? (uint64_t)due * 1000 : 0;
	/* Acted on only once this turn is committed. */
	jobs_enqueue(j);
	log_debug("job %s created", id);
	return (id);
}

/* 1 if a job with this id is queued or lent to its kind already. */
static int
jobs_known(const char *id)
{
	struct job	*w;

	TAILQ_FOREACH(w, &jobs_waiting, entry) {
		if (strcmp(w->id, id) == 0)
			return (1);
	}
	TAILQ_FOREACH(w, &jobs_active, entry) {
		if (strcmp(w->id, id) == 0)
			return (1);
	}
	return (0);
}

static void
jobs_enqueue(struct job *j)
{
	struct job	*w;

	/*
	 * One struct per id: a creating turn that failed leaves its struct
	 * queued, and the redelivered command creates the record again.
	 */
	if (jobs_known(j->id)) {
		jobs_job_free(j);
		return;
	}

	/* Kept in due order, so the head is the next to run. */
	TAILQ_FOREACH(w, &jobs_waiting, entry) {
		if (w->due > j->due)
			break;
	}
	if (w != NULL)
		TAILQ_INSERT_BEFORE(w, j, entry);
	else
		TAILQ_INSERT_TAIL(&jobs_waiting, j, entry);
	if (!jobs_pump_queued) {
		jobs_pump_queued = 1;
		reactor_after_commit_or_abort(jobs_pump_cb, jobs_pump_abort_cb,
		    NULL);
	}
}

/* The turn failed: pump anyway a moment later (what is queued stands). */
static void
jobs_pump_abort_cb(void *arg)
{
	struct timeval	tv = { 1, 0 };

	jobs_pump_queued = 0;
	if (jobs_timer != NULL && jobs_started)
		evtimer_add(jobs_timer, &tv);
}

static void
jobs_pump_cb(void *arg)
{
	jobs_pump_queued = 0;
	jobs_pump();
}

static void
jobs_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	jobs_pump();
}

/*
 * Start what is due, within each kind's bound and pause. A started job is
 * marked running (and its attempt counted) in this turn; its kind runs it
 * after the commit.
 */
static void
jobs_pump(void)
{
	struct job		*j, *next;
	struct jobs_kind_state	*ks;
	struct timeval		 tv;
	uint64_t		 now = jobs_wall_ms(), wake = 0, t;
	int			 bound;
	cJSON			*rec;

	if (!jobs_started || jobs_draining)
		return;
	for (j = TAILQ_FIRST(&jobs_waiting); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		ks = jobs_kstate(j->kind);
		t = j->due > ks->paused_until ? j->due : ks->paused_until;
		if (t > now) {
			if (wake == 0 || t < wake)
				wake = t;
			continue;
		}
		bound = j->kind->concurrency_fn != NULL ?
		    j->kind->concurrency_fn() : j->kind->concurrency;
		if (bound <= 0)
			bound = JOBS_DEF_CONCURRENCY;
		if (ks->running >= bound)
			continue;
		if ((rec = jobs_load(j->id)) == NULL) {
			log_warnx("job %s: its record is gone", j->id);
			TAILQ_REMOVE(&jobs_waiting, j, entry);
			jobs_job_free(j);
			continue;
		}
		TAILQ_REMOVE(&jobs_waiting, j, entry);
		/*
		 * Found running, not queued: the turn that recorded the last
		 * attempt's outcome failed, so that outcome is unknown.
		 */
		if (strcmp(json_str(rec, "state") != NULL ?
		    json_str(rec, "state") : "", "running") == 0)
			jobs_set_bool(rec, "unsure", 1);
		jobs_set_str(rec, "state", "running");
		jobs_set_num(rec, "attempts", json_num(rec, "attempts", 0) + 1);
		if (jobs_save(j->id, rec) != 0) {
			/* Try again later; nothing was sent. */
			cJSON_Delete(rec);
			j->due = now + 1000;
			jobs_enqueue(j);
			continue;
		}
		j->rec = rec;
		j->active = 1;
		j->probing = json_bool(rec, "unsure") && j->kind->probe != NULL;
		ks->running++;
		TAILQ_INSERT_TAIL(&jobs_active, j, entry);
		reactor_after_commit_or_abort(jobs_start_cb, jobs_unwind_cb,
		    j);
	}
	if (jobs_timer != NULL) {
		evtimer_del(jobs_timer);
		if (wake != 0) {
			t = wake - now;
			tv.tv_sec = t / 1000;
			tv.tv_usec = (t % 1000) * 1000;
			evtimer_add(jobs_timer, &tv);
		}
	}
}

static void
jobs_start_cb(void *arg)
{
	struct job	*j = arg;

	if (jobs_draining && !j->probing) {
		/* Stopping: leave it running in the store; resumed later. */
		log_debug("job %s: not started (stopping)", j->id);
		return;
	}
	log_debug("job %s: attempt %d%s", j->id, job_attempt(j),
	    j->probing ? " (probing first)" : "");
	if (j->probing)
		j->kind->probe(j);
	else
		j->kind->run(j);
}

/*
 * The turn that started j (or recorded its progress) failed: nothing of
 * it is in the store. Take j back and queue it again from the record.
 */
static void
jobs_unwind_cb(void *arg)
{
	struct job	*j = arg;

	log_warnx("job %s: its turn failed; queued again", j->id);
	jobs_release(j);
	cJSON_Delete(j->rec);
	j->rec = NULL;
	j->next = NULL;
	j->due = jobs_wall_ms() + 1000;
	jobs_enqueue(j);
}

/* An outcome's turn failed: queue the job again (it probes first). */
static void
jobs_requeue_cb(void *arg)
{
	char		*id = arg;
	struct job	*j;
	cJSON		*rec;

	if ((rec = jobs_load(id)) != NULL) {
		j = xcalloc(1, sizeof(*j));
		j->id = id;
		j->kind = jobs_kind_find(json_str(rec, "kind"));
		j->due = jobs_wall_ms() + 1000;
		cJSON_Delete(rec);
		if (j->kind != NULL) {
			log_warnx("job %s: its outcome was not recorded; "
			    "queued again", id);
			jobs_enqueue(j);
			return;
		}
		free(j);
	}
	free(id);
}

static void
jobs_free_id_cb(void *arg)
{
	free(arg);
}

/* The kind is done with j for now. */
static void
jobs_release(struct job *j)
{
	struct jobs_kind_state	*ks = jobs_kstate(j->kind);

	if (!j->active)
		fatalx("%s: job %s: outcome twice", __func__, j->id);
	j->active = 0;
	j->probing = 0;
	ks->running--;
	TAILQ_REMOVE(&jobs_active, j, entry);
}

static void
jobs_job_free(struct job *j)
{
	if (j == NULL)
		return;
	cJSON_Delete(j->rec);
	free(j->id);
	free(j);
}

/* Record how j ended, call its ended hook, forget it. */
static void
jobs_end(struct job *j, const char *state, cJSON *result, const char *why)
{
	jobs_release(j);
	jobs_set_str(j->rec, "state", state);
	jobs_set_num(j->rec, "ended", (double)now_wall());
	jobs_set_bool(j->rec, "unsure", 0);
	if (result != NULL) {
		cJSON_DeleteItemFromObject(j->rec, "result");
		cJSON_AddItemToObject(j->rec, "result", result);
	}
	jobs_set_str(j->rec, "error", why);
	if (jobs_save(j->id, j->rec) != 0)
		log_warnx("job %s: its end could not be recorded", j->id);
	if (strcmp(state, "done") == 0)
		log_info("job %s done (attempt %d)", j->id, job_attempt(j));
	else
		log_warnx("job %s failed: %s", j->id, why != NULL ? why : "?");
	jobs_ended_count++;
	metrics_job_ended(j->kind->name, state);
	reactor_after_commit_or_abort(jobs_free_id_cb, jobs_requeue_cb,
	    xstrdup(j->id));
	if (j->kind->ended != NULL)
		j->kind->ended(j);
	jobs_job_free(j);
	jobs_pump();
}

/* Queue j again at wall ms at; counts as an attempt unless free_try. */
static void
jobs_again(struct job *j, uint64_t at, int unsure, const char *why)
{
	jobs_release(j);
	jobs_set_str(j->rec, "state", "queued");
	jobs_set_num(j->rec, "due", (double)at);
	if (unsure)
		jobs_set_bool(j->rec, "unsure", 1);
	jobs_set_str(j->rec, "error", why);
	if (jobs_save(j->id, j->rec) != 0)
		log_warnx("job %s: could not record the retry", j->id);
	cJSON_Delete(j->rec);
	j->rec = NULL;
	j->due = at;
	jobs_enqueue(j);
}

/* The work is done; result (consumed, may be NULL) is kept. */
void
job_done(struct job *j, cJSON *result)
{
	jobs_end(j, "done", result, NULL);
}

/* The work cannot be done: give up and say why. */
void
job_fail(struct job *j, const char *why)
{
	jobs_end(j, "failed", NULL, why != NULL ? why : "failed");
}

/*
 * The work was certainly not done (refused before acting, 429, a
 * connection that never sent the request): run again after at least
 * delay_ms (backoff with jitter), up to the kind's attempts.
 */
void
job_retry(struct job *j, long long delay_ms, const char *why)
{
	const struct job_kind	*k = j->kind;
	uint64_t		 ms;
	int			 n = job_attempt(j);

	if (n >= jobs_attempts_max(k)) {
		job_fail(j, why);
		return;
	}
	ms = backoff_ms((unsigned)n - 1, k->backoff_base_ms > 0 ?
	    k->backoff_base_ms : JOBS_DEF_BASE_MS, k->backoff_cap_ms > 0 ?
	    k->backoff_cap_ms : JOBS_DEF_CAP_MS);
	if (delay_ms > 0 && (uint64_t)delay_ms > ms)
		ms = (uint64_t)delay_ms;
	log_info("job %s: %s; again in %llu ms", j->id, why != NULL ? why :
	    "retry", (unsigned long long)ms);
	jobs_again(j, jobs_wall_ms() + ms, 0, why);
}

/*
 * The work may or may not have been done (a timeout after the request
 * left, a 5xx from a service that may have acted): the next attempt
 * probes before it sends anything.
 */
void
job_unsure(struct job *j, const char *why)
{
	const struct job_kind	*k = j->kind;
	uint64_t		 ms, base;
	int			 n = job_attempt(j);

	if (k->probe == NULL) {
		job_retry(j, 0, why);
		return;
	}
	if (n >= jobs_attempts_max(k)) {
		/*
		 * Out of attempts, and the last one may have worked: one
		 * last look before giving up. If even that cannot tell,
		 * the job fails as "unknown", never as "nothing was done".
		 */
		if (!json_bool(j->rec, "last_look")) {
			jobs_set_bool(j->rec, "last_look", 1);
			jobs_again(j, jobs_wall_ms() + (k->backoff_base_ms > 0 ?
			    k->backoff_base_ms : JOBS_DEF_BASE_MS), 1, why);
			return;
		}
		jobs_set_bool(j->rec, "unknown", 1);
		job_fail(j, why);
		return;
	}
	base = k->backoff_base_ms > 0 ? k->backoff_base_ms :
	    JOBS_DEF_BASE_MS;
	ms = backoff_ms((unsigned)n - 1, base, k->backoff_cap_ms > 0 ?
	    k->backoff_cap_ms : JOBS_DEF_CAP_MS);
	/* The service may need a moment to show what it did. */
	if (ms < base)
		ms = base;
	log_info("job %s: %s; will look before sending again", j->id,
	    why != NULL ? why : "unsure");
	jobs_again(j, jobs_wall_ms() + ms, 1, why);
}

/* From a probe: the work was not done; run it now. */
void
job_resend(struct job *j)
{
	char	*why;

	if (!j->active || !j->probing)
		fatalx("%s: job %s is not probing", __func__, j->id);
	/* The last look found nothing: certainly not done; give up. */
	if (json_bool(j->rec, "last_look")) {
		why = xstrdup(json_str(j->rec, "error") != NULL ?
		    json_str(j->rec, "error") : "failed");
		job_fail(j, why);
		free(why);
		return;
	}
	j->probing = 0;
	jobs_set_bool(j->rec, "unsure", 0);
	/* The cleared mark must be durable before the resend. */
	job_checkpoint(j, j->kind->run);
}

/*
 * Not now, and not a failure (waiting for another job, for a resource):
 * look again after ms without counting an attempt.
 */
void
job_wait(struct job *j, long long ms)
{
	jobs_set_num(j->rec, "attempts", json_num(j->rec, "attempts", 1) - 1);
	jobs_again(j, jobs_wall_ms() + (uint64_t)(ms > 0 ? ms : 0), 0, NULL);
}

/*
 * From a probe that found nothing yet, where the service may be slow to
 * show what it did (a search index): look again after ms, without
 * counting an attempt, before anything is sent again.
 */
void
job_probe_later(struct job *j, long long ms, const char *why)
{
	char	*err;

	if (!j->active || !j->probing)
		fatalx("%s: job %s is not probing", __func__, j->id);
	jobs_set_num(j->rec, "attempts", json_num(j->rec, "attempts", 1) - 1);
	log_info("job %s: %s; looking again in %lld ms", j->id,
	    why != NULL ? why : "not found yet", ms);
	/* The error that made it unsure stays the one to report. */
	err = json_str(j->rec, "error") != NULL ?
	    xstrdup(json_str(j->rec, "error")) : NULL;
	jobs_again(j, jobs_wall_ms() + (uint64_t)(ms > 0 ? ms : 0), 1, err);
	free(err);
}

/* Save args and progress in this turn, then fn(j) after the commit. */
void
job_checkpoint(struct job *j, void (*fn)(struct job *))
{
	if (jobs_save(j->id, j->rec) != 0) {
		job_retry(j, 1000, "could not record progress");
		return;
	}
	j->next = fn;
	reactor_after_commit_or_abort(jobs_next_cb, jobs_unwind_cb, j);
}

static void
jobs_next_cb(void *arg)
{
	struct job	*j = arg;

	j->next(j);
}

/* Hold every job of kind until ms from now (a rate-limit window). */
void
job_pause(const char *kind, long long ms)
{
	const struct job_kind	*k = jobs_kind_find(kind);
	struct jobs_kind_state	*ks;
	uint64_t		 until = jobs_wall_ms() + (uint64_t)ms;

	if (k == NULL)
		return;
	ks = jobs_kstate(k);
	if (until > ks->paused_until)
		ks->paused_until = until;
}

const char *
job_id(const struct job *j)
{
	return (j->id);
}

const char *
job_key(const struct job *j)
{
	return (json_str(j->rec, "key"));
}

/* Fixed at creation: what the probe looks for. */
const char *
job_token(const struct job *j)
{
	return (json_str(j->rec, "token"));
}

/* The job's arguments; a kind may change them and job_checkpoint. */
cJSON *
job_args(struct job *j)
{
	cJSON	*a = cJSON_GetObjectItem(j->rec, "args");

	if (a == NULL)
		a = cJSON_AddObjectToObject(j->rec, "args");
	return (a);
}

/* The result kept by job_done (for ended hooks). */
const cJSON *
job_result(const struct job *j)
{
	return (cJSON_GetObjectItem(j->rec, "result"));
}

const char *
job_error(const struct job *j)
{
	return (json_str(j->rec, "error"));
}

/* When the job was created (wall seconds). */
time_t
job_created(const struct job *j)
{
	return ((time_t)json_num(j->rec, "created", 0));
}

/* 1-based number of the current attempt. */
int
job_attempt(const struct job *j)
{
	return ((int)json_num(j->rec, "attempts", 1));
}

/* 1 if it failed while unsure whether the work was done. */
int
job_unknown(const struct job *j)
{
	return (json_bool(j->rec, "unknown"));
}

/* 1 if the job ended done (in an ended hook). */
int
job_succeeded(const struct job *j)
{
	const char	*s = json_str(j->rec, "state");

	return (s != NULL && strcmp(s, "done") == 0);
}

static int
jobs_resume_cb(const char *key, const char *val, size_t len, void *arg)
{
	const struct job_kind	*k;
	struct job		*j;
	cJSON			*rec;
	const char		*state;
	int			*n = arg;

	if ((rec = cJSON_ParseWithLength(val, len)) == NULL) {
		log_warnx("job %s: its record is not JSON; skipped", key);
		return (0);
	}
	state = json_str(rec, "state");
	k = jobs_kind_find(json_str(rec, "kind"));
	if (state == NULL || (strcmp(state, "queued") != 0 &&
	    strcmp(state, "running") != 0)) {
		cJSON_Delete(rec);
		return (0);
	}
	if (k == NULL) {
		log_warnx("job %s: unknown kind %s (from another version?); "
		    "left as it is", key, json_str(rec, "kind") != NULL ?
		    json_str(rec, "kind") : "?");
		cJSON_Delete(rec);
		return (0);
	}
	j = xcalloc(1, sizeof(*j));
	j->id = xstrdup(key);
	j->kind = k;
	j->due = (uint64_t)json_num(rec, "due", 0);
	if (strcmp(state, "running") == 0) {
		/* Interrupted: whatever it sent may have arrived. */
		jobs_set_str(rec, "state", "queued");
		jobs_set_bool(rec, "unsure", 1);
		jobs_save(key, rec);
		log_info("job %s was running at the last stop; it will look "
		    "before sending again", key);
	}
	cJSON_Delete(rec);
	jobs_enqueue(j);
	(*n)++;
	return (0);
}

/* Load every unfinished job and start the engine. */
void
jobs_init(void)
{
	int	n = 0;

	if (jobs_timer == NULL)
		jobs_timer = evtimer_new(reactor_base, jobs_timer_cb, NULL);
	jobs_started = 1;
	jobs_draining = 0;
	if (store_foreach(store, STORE_JOBS, "", jobs_resume_cb, &n) != 0)
		log_warnx("jobs: could not read the pending jobs");
	if (n > 0)
		log_info("jobs: %d unfinished job(s) resumed", n);
	jobs_pump();
}

/* A record the engine does not hold: hand it back, as at start-up. */
static int
jobs_reconcile_cb(const char *key, const char *val, size_t len, void *arg)
{
	if (jobs_known(key))
		return (0);
	return (jobs_resume_cb(key, val, len, arg));
}

/*
 * A slice of the repair pass (follow.c): unfinished records that no
 * struct holds (a bug, or a record restored by hand) are taken up again.
 * At most max records after *cursor (store_foreach_slice); how many.
 */
int
jobs_reconcile(char **cursor, size_t max)
{
	int	n = 0;

	if (!jobs_started) {
		free(*cursor);
		*cursor = NULL;
		return (0);
	}
	if (store_foreach_slice(store, STORE_JOBS, "", cursor, max,
	    jobs_reconcile_cb, &n) != 0)
		log_warnx("jobs: could not read the pending jobs");
	if (n > 0)
		log_warnx("jobs: %d unfinished job(s) were not queued; "
		    "resumed", n);
	return (n);
}

/* Start nothing new (shutdown drain); running ones finish or resume. */
void
jobs_drain(void)
{
	jobs_draining = 1;
}

static int
jobs_count(const struct jobs_list *list)
{
	const struct job	*j;
	int			 n = 0;

	TAILQ_FOREACH(j, list, entry)
		n++;
	return (n);
}

/* Jobs lent to kinds right now, for the shutdown drain and metrics. */
int
jobs_running(void)
{
	return (jobs_count(&jobs_active));
}

/* Jobs waiting for their turn or due time, for metrics. */
int
jobs_queued(void)
{
	return (jobs_count(&jobs_waiting));
}

/*
 * The backlog bound (jobs.max_pending). Every job the engine holds counts,
 * queued, due later or running, since each is memory and a store record:
 * at the bound cmd.c refuses new commands, while the jobs already held,
 * and those they create as they run, go on.
 */
int
jobs_full(void)
{
	return ((long long)jobs_queued() + jobs_running() >=
	    cfg->limits.jobs_max_pending);
}

/* Free everything; unfinished jobs stay in the store for next time. */
void
jobs_shutdown(void)
{
	struct job	*j;

	while ((j = TAILQ_FIRST(&jobs_waiting)) != NULL) {
		TAILQ_REMOVE(&jobs_waiting, j, entry);
		jobs_job_free(j);
	}
	while ((j = TAILQ_FIRST(&jobs_active)) != NULL) {
		TAILQ_REMOVE(&jobs_active, j, entry);
		jobs_job_free(j);
	}
	if (jobs_timer != NULL)
		event_free(jobs_timer);
	jobs_timer = NULL;
	memset(jobs_state, 0, sizeof(jobs_state));
	jobs_started = 0;
	jobs_pump_queued = 0;
}
