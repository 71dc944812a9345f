/*
 * schedule.c: periodic timers for housekeeping, reminders and archiving.
 *
 * Each task is an evtimer of its own. The work a task finds to do is
 * recorded in the store first (STORE_JOBS) by the feature that owns it, so
 * a restart resumes it; the timer only decides when to look.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

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

static void	schedule_arm(struct schedule_task *);
static void	schedule_fire_cb(evutil_socket_t, short, void *);

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
