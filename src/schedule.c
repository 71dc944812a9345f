/*
 * schedule.c: periodic timers for housekeeping, reminders and archiving.
 *
 * Each task is an evtimer of its own. The work a task finds to do is
 * recorded in the store first (STORE_JOBS) by the feature that owns it, so
 * a restart resumes it; the timer only decides when to look.
 *
 * Housekeeping keeps the store bounded, since a full map stops every
 * write (reactor.c): processed event ids are forgotten after a day (Slack
 * redelivers for minutes, not days), finished jobs a week after they
 * ended (the job engine writes "state" done or failed and "ended", wall
 * clock seconds), and page records after 90 days (a page id starts with
 * its creation time in seconds). timeline.c expires its message cache on
 * its own schedule. Each runs hourly and once just after start, so a
 * store restarted full gets room at once. The deletions join the turn:
 * if they cannot be stored either the turn fails as a whole (reactor.c
 * logs it) and the next run tries again.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <cjson/cJSON.h>

#include "incidentd.h"

struct schedule_task {
	char			*name;
	long long		 interval;
	void			(*fn)(void *);
	void			 *arg;
	struct event		 *ev;
	TAILQ_ENTRY(schedule_task) entry;
};
TAILQ_HEAD(schedule_tasks, schedule_task);

static struct schedule_tasks	schedule_tasks =
				    TAILQ_HEAD_INITIALIZER(schedule_tasks);

#define SCHEDULE_HOUSEKEEPING_S	3600
#define SCHEDULE_EVENT_TTL	(24 * 60 * 60)
#define SCHEDULE_JOB_TTL	(7 * 24 * 60 * 60)
#define SCHEDULE_PAGE_TTL	(90 * 24 * 60 * 60)

/* One expiry pass: the keys to delete, and what decides. */
struct schedule_expiry {
	time_t		 cutoff;
	int		(*old)(const char *, const char *, size_t, time_t);
	struct strlist	 keys;
};

static void	schedule_arm(struct schedule_task *);
static void	schedule_fire_cb(evutil_socket_t, short, void *);
static int	schedule_expire(enum store_db, time_t,
		    int (*)(const char *, const char *, size_t, time_t));
static int	schedule_expire_cb(const char *, const char *, size_t, void *);
static int	schedule_job_old(const char *, const char *, size_t, time_t);
static int	schedule_page_old(const char *, const char *, size_t, time_t);
static void	schedule_housekeeping_cb(void *);

/* Nothing to set up yet beyond the task list. */
void
schedule_init(void)
{
	TAILQ_INIT(&schedule_tasks);
}

/* Cancel and free every task. */
void
schedule_free(void)
{
	struct schedule_task	*t;

	while ((t = TAILQ_FIRST(&schedule_tasks)) != NULL) {
		TAILQ_REMOVE(&schedule_tasks, t, entry);
		event_free(t->ev);
		free(t->name);
		free(t);
	}
}

/* Up to 10% jitter keeps tasks from firing in lockstep. */
static void
schedule_arm(struct schedule_task *t)
{
	struct timeval	tv;
	uint64_t	ms;

	ms = (uint64_t)t->interval * 1000;
	ms += rand_uniform((uint32_t)(ms / 10 + 1));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(t->ev, &tv);
}

static void
schedule_fire_cb(evutil_socket_t fd, short events, void *arg)
{
	struct schedule_task	*t = arg;

	log_debug("schedule: running %s", t->name);
	t->fn(t->arg);
	schedule_arm(t);
}

/* Run fn(arg) every interval seconds. */
void
schedule_every(const char *name, long long interval, void (*fn)(void *),
    void *arg)
{
	struct schedule_task	*t;

	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->interval = interval > 0 ? interval : 1;
	t->fn = fn;
	t->arg = arg;
	t->ev = evtimer_new(reactor_base, schedule_fire_cb, t);
	TAILQ_INSERT_TAIL(&schedule_tasks, t, entry);
	schedule_arm(t);
}

static int
schedule_expire_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct schedule_expiry	*x = arg;

	if (x->old(key, val, len, x->cutoff))
		strlist_add(&x->keys, key);
	return (0);
}

/*
 * Delete the records of db that old() says are from before cutoff; how
 * many, or a negative store error (the turn has failed then).
 */
static int
schedule_expire(enum store_db db, time_t cutoff,
    int (*old)(const char *, const char *, size_t, time_t))
{
	struct schedule_expiry	x;
	size_t			i;
	int			rv, n = 0;

	memset(&x, 0, sizeof(x));
	x.cutoff = cutoff;
	x.old = old;
	/* Collect first: deleting under a walk's cursor is not allowed. */
	rv = store_foreach(store, db, "", schedule_expire_cb, &x);
	for (i = 0; rv == 0 && i < x.keys.n; i++) {
		rv = store_del(store, db, x.keys.v[i]);
		if (rv == STORE_NOTFOUND)
			rv = 0;
		else if (rv == 0 && n < INT_MAX)
			n++;
	}
	strlist_free(&x.keys);
	if (rv != 0)
		return (rv > 0 ? -rv : rv);
	return (n);
}

/* A finished job ("done" or "failed") that ended before cutoff. */
static int
schedule_job_old(const char *key, const char *val, size_t len, time_t cutoff)
{
	cJSON		*j;
	const char	*state;
	double		 ended;
	int		 old = 0;

	if ((j = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);	/* not ours to judge: the engine logs it */
	state = json_str(j, "state");
	ended = json_num(j, "ended", -1);
	if (state != NULL && (strcmp(state, "done") == 0 ||
	    strcmp(state, "failed") == 0) && ended >= 0 &&
	    ended < (double)cutoff)
		old = 1;
	cJSON_Delete(j);
	return (old);
}

/* A page whose id ("1700000000-...") says it was made before cutoff. */
static int
schedule_page_old(const char *key, const char *val, size_t len,
    time_t cutoff)
{
	const char	*errstr;
	char		 buf[24];
	size_t		 n;
	long long	 t;

	n = strspn(key, "0123456789");
	if (n == 0 || n >= sizeof(buf) || (key[n] != '-' && key[n] != '\0'))
		return (0);
	memcpy(buf, key, n);
	buf[n] = '\0';
	t = strtonum(buf, 0, LLONG_MAX, &errstr);
	return (errstr == NULL && t < (long long)cutoff);
}

/* Forget processed event ids first seen over a day before now. */
int
schedule_expire_events(time_t now)
{
	return (store_expire_events(store, now - SCHEDULE_EVENT_TTL));
}

/* Forget jobs that finished over a week before now. */
int
schedule_expire_jobs(time_t now)
{
	return (schedule_expire(STORE_JOBS, now - SCHEDULE_JOB_TTL,
	    schedule_job_old));
}

/* Forget pages made over 90 days before now. */
int
schedule_expire_pages(time_t now)
{
	return (schedule_expire(STORE_PAGES, now - SCHEDULE_PAGE_TTL,
	    schedule_page_old));
}

static void
schedule_housekeeping_cb(void *arg)
{
	static const struct {
		const char	 *what;
		int		(*fn)(time_t);
	} tasks[] = {
		{ "processed event id", schedule_expire_events },
		{ "finished job", schedule_expire_jobs },
		{ "page record", schedule_expire_pages },
	};
	time_t	now = now_wall();
	size_t	i;
	int	n;

	if (store == NULL)
		return;
	for (i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++) {
		n = tasks[i].fn(now);
		if (n > 0)
			log_info("store: expired %d %s(s)", n, tasks[i].what);
		else if (n < 0) {
			/* The turn fails (reactor.c); the next run retries. */
			log_warnx("store: expiring old %ss failed: %s",
			    tasks[i].what, store_strerror(n));
			break;
		}
	}
}

/* Keep the store bounded: expire old records hourly, and once now. */
void
schedule_housekeeping(void)
{
	schedule_every("housekeeping", SCHEDULE_HOUSEKEEPING_S,
	    schedule_housekeeping_cb, NULL);
	reactor_defer(schedule_housekeeping_cb, NULL);
}
