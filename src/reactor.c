/*
 * reactor.c: the one event_base and evdns_base, and the turn loop.
 *
 * The loop runs one libevent turn at a time (EVLOOP_ONCE). Whatever the
 * callbacks of a turn wrote to the store is committed together at its end
 * (group commit: one fsync per turn, however many envelopes it handled),
 * and only then do the after-commit hooks run, so an acknowledgement or an
 * outbound call never gets ahead of the state that justifies it. The
 * Socket Mode reader ends the transaction early (reactor_commit) once it
 * has handled every envelope one read brought, so their acks leave
 * together and wait for nothing else the turn holds.
 *
 * A turn whose writes failed (a store_put, store_del or the commit) is
 * aborted as a whole: its after-commit hooks do not run, their abort
 * functions do (to free what they hold, or to tell a user that nothing
 * was recorded), and so its Socket Mode acks are never sent: Slack
 * redelivers those envelopes, and since their event ids were not
 * recorded either, they are handled again, once. A full map is grown
 * (store_grow) so that the redo fits; at the configured ceiling the daemon
 * keeps running, reads work and writes fail, with an error logged once a
 * minute until old records expire.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/dns.h>

#include "incidentd.h"

#define REACTOR_FULL_LOG_MS	60000

struct reactor_hook {
	void			(*fn)(void *);
	void			(*abort_fn)(void *);
	void			 *arg;
	TAILQ_ENTRY(reactor_hook) entry;
};
TAILQ_HEAD(reactor_hooks, reactor_hook);

struct event_base	*reactor_base;
struct evdns_base	*reactor_dns;

/* The process's current configuration and store. */
struct config		*cfg;
struct store		*store;

static struct reactor_hooks	 reactor_deferred =
				    TAILQ_HEAD_INITIALIZER(reactor_deferred);
static struct reactor_hooks	 reactor_committed =
				    TAILQ_HEAD_INITIALIZER(reactor_committed);
static struct event		*reactor_defer_ev;
static int			 reactor_quit;
static int			 reactor_in_hooks;	/* running hooks */
/* While abort hooks run: why the turn failed, and whether a redo fits. */
static int			 reactor_fail_error;
static int			 reactor_fail_room;
static uint64_t			 reactor_fail_logged;	/* now_ms() */
static uint64_t			 reactor_fail_quiet;	/* not logged */

static void	reactor_defer_cb(evutil_socket_t, short, void *);
static void	reactor_run_hooks(struct reactor_hooks *, int);
static void	reactor_abort_turn(int);
static int	reactor_end_turn(void);
static void	reactor_log_cb(int, const char *);

static void
reactor_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Create the event and DNS bases. */
void
reactor_init(void)
{
	event_set_log_callback(reactor_log_cb);
	if ((reactor_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	reactor_dns = evdns_base_new(reactor_base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (reactor_dns == NULL) {
		/* No resolv.conf: loopback-only setups still work. */
		reactor_dns = evdns_base_new(reactor_base, 0);
		if (reactor_dns == NULL)
			fatalx("evdns_base_new failed");
	}
	evdns_base_set_option(reactor_dns, "timeout:", "5");
	evdns_base_set_option(reactor_dns, "attempts:", "2");
	reactor_defer_ev = event_new(reactor_base, -1, 0, reactor_defer_cb,
	    NULL);
	reactor_quit = 0;
}

/* Free everything; pending hooks are dropped. */
void
reactor_free(void)
{
	struct reactor_hook	*h;

	while ((h = TAILQ_FIRST(&reactor_deferred)) != NULL) {
		TAILQ_REMOVE(&reactor_deferred, h, entry);
		free(h);
	}
	while ((h = TAILQ_FIRST(&reactor_committed)) != NULL) {
		TAILQ_REMOVE(&reactor_committed, h, entry);
		free(h);
	}
	if (reactor_defer_ev != NULL)
		event_free(reactor_defer_ev);
	reactor_defer_ev = NULL;
	if (reactor_dns != NULL)
		evdns_base_free(reactor_dns, 1);
	reactor_dns = NULL;
	if (reactor_base != NULL)
		event_base_free(reactor_base);
	reactor_base = NULL;
}

/* Run each hook's fn, or on an aborted turn its abort_fn (if any). */
static void
reactor_run_hooks(struct reactor_hooks *list, int aborted)
{
	struct reactor_hooks	 run = TAILQ_HEAD_INITIALIZER(run);
	struct reactor_hook	*h;

	/* Hooks may add hooks: those run next time, not in this pass. */
	TAILQ_CONCAT(&run, list, entry);
	reactor_in_hooks++;
	while ((h = TAILQ_FIRST(&run)) != NULL) {
		TAILQ_REMOVE(&run, h, entry);
		if (!aborted)
			h->fn(h->arg);
		else if (h->abort_fn != NULL)
			h->abort_fn(h->arg);
		free(h);
	}
	reactor_in_hooks--;
}

static void
reactor_defer_cb(evutil_socket_t fd, short events, void *arg)
{
	reactor_run_hooks(&reactor_deferred, 0);
}

/*
 * The turn's writes failed: discard them, make room if the map was full,
 * and run the abort side of the turn's hooks. Errors that would repeat
 * every turn (a store full at its ceiling) are logged once a minute.
 */
static void
reactor_abort_turn(int error)
{
	struct store_size	 sz;
	uint64_t		 now = now_ms();
	int			 rv, room = 0;

	store_abort(store);
	if (error == STORE_MAP_FULL && (rv = store_grow(store)) == 0) {
		room = 1;
		(void)store_size(store, &sz);
		log_warnx("store: the map was full; grew it to %llu KiB "
		    "(%llu KiB used, ceiling %llu KiB); the turn's work is "
		    "redone", (unsigned long long)sz.map >> 10,
		    (unsigned long long)sz.used >> 10,
		    (unsigned long long)sz.max >> 10);
	} else if (reactor_fail_logged == 0 ||
	    now - reactor_fail_logged >= REACTOR_FULL_LOG_MS) {
		(void)store_size(store, &sz);
		if (error == STORE_MAP_FULL)
			log_error("store: full at its ceiling (%llu KiB, "
			    "map_size_max): writes fail until old records "
			    "expire or the ceiling is raised (%llu more "
			    "failed turn(s) not logged)",
			    (unsigned long long)sz.max >> 10,
			    (unsigned long long)reactor_fail_quiet);
		else
			log_error("store: a write failed (%s); the turn was "
			    "discarded (%llu more failed turn(s) not logged)",
			    store_strerror(error),
			    (unsigned long long)reactor_fail_quiet);
		reactor_fail_logged = now;
		reactor_fail_quiet = 0;
	} else
		reactor_fail_quiet++;

	reactor_fail_error = error;
	reactor_fail_room = room;
	reactor_run_hooks(&reactor_committed, 1);
	reactor_fail_error = 0;
	reactor_fail_room = 0;
}

/* Commit the turn's writes, then run the after-commit hooks. */
static int
reactor_end_turn(void)
{
	int	rv = 0;

	if (store != NULL) {
		if ((rv = store_failed(store)) == 0 && store_pending(store))
			rv = store_commit(store);
	}
	if (rv != 0)
		reactor_abort_turn(rv);
	else if (!TAILQ_EMPTY(&reactor_committed))
		reactor_run_hooks(&reactor_committed, 0);
	return (rv);
}

/*
 * End the turn's transaction early: commit what the turn wrote so far and
 * run its after-commit hooks (or, if the writes failed, its abort hooks),
 * exactly as the end of the turn would; later writes of the same turn
 * start a new transaction. ws.c's reader calls it (through slack-socket.c)
 * once it has handled every envelope a read brought, so their acks go
 * out together and do not wait behind the rest of the turn. Inside a hook
 * it does nothing: the turn's end (or the running commit) covers it.
 * Returns 0 or the store error that aborted the writes.
 */
int
reactor_commit(void)
{
	if (reactor_in_hooks > 0)
		return (0);
	return (reactor_end_turn());
}

/*
 * In an abort function: the store error that failed the turn (0 outside
 * them), and in *room whether the store has made room since, so that the
 * same work can succeed when it is redone (a redelivery).
 */
int
reactor_turn_error(int *room)
{
	if (room != NULL)
		*room = reactor_fail_room;
	return (reactor_fail_error);
}

/* Run the loop until reactor_stop. */
int
reactor_run(void)
{
	while (!reactor_quit) {
		if (event_base_loop(reactor_base, EVLOOP_ONCE) == -1)
			return (-1);
		(void)reactor_end_turn();
		if (event_base_got_break(reactor_base))
			break;
	}
	(void)reactor_end_turn();
	return (0);
}

/* Leave reactor_run after the current turn. */
void
reactor_stop(void)
{
	reactor_quit = 1;
	if (reactor_base != NULL)
		event_base_loopbreak(reactor_base);
}

/* True once reactor_stop was called. */
int
reactor_stopping(void)
{
	return (reactor_quit);
}

/* Run fn(arg) on the next loop turn. */
void
reactor_defer(void (*fn)(void *), void *arg)
{
	struct reactor_hook	*h;

	h = xcalloc(1, sizeof(*h));
	h->fn = fn;
	h->arg = arg;
	TAILQ_INSERT_TAIL(&reactor_deferred, h, entry);
	event_active(reactor_defer_ev, 0, 0);
}

/*
 * Run fn(arg) after this turn's store commit. If the turn's writes fail
 * instead, fn never runs and neither does anything else for this hook: a
 * caller whose arg owns memory uses reactor_after_commit_or_abort.
 */
void
reactor_after_commit(void (*fn)(void *), void *arg)
{
	reactor_after_commit_or_abort(fn, NULL, arg);
}

/* Run fn(arg) after this turn's commit, or abort_fn(arg) if it fails. */
void
reactor_after_commit_or_abort(void (*fn)(void *), void (*abort_fn)(void *),
    void *arg)
{
	struct reactor_hook	*h;

	h = xcalloc(1, sizeof(*h));
	h->fn = fn;
	h->abort_fn = abort_fn;
	h->arg = arg;
	TAILQ_INSERT_TAIL(&reactor_committed, h, entry);
	/* Make sure the turn ends promptly even if nothing else is ready. */
	event_active(reactor_defer_ev, 0, 0);
}

/*
 * For the fuzzers: one turn that does not wait (what is ready runs),
 * then its commit and after-commit work, as reactor_run does.
 */
void
reactor_turn(void)
{
	event_base_loop(reactor_base, EVLOOP_NONBLOCK);
	reactor_end_turn();
}
