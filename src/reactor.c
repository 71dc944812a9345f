/*
 * reactor.c: the one event_base and evdns_base, and the turn loop.
 *
 * The loop runs one libevent turn at a time (EVLOOP_ONCE). Whatever the
 * callbacks of a turn wrote to the store is committed together at its end
 * (group commit: one fsync per turn, however many envelopes it handled),
 * and only then do the after-commit hooks run, so an acknowledgement or an
 * outbound call never gets ahead of the state that justifies it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/dns.h>

#include "incidentd.h"

struct reactor_hook {
	void			(*fn)(void *);
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

static void	reactor_defer_cb(evutil_socket_t, short, void *);
static void	reactor_run_hooks(struct reactor_hooks *);
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

static void
reactor_run_hooks(struct reactor_hooks *list)
{
	struct reactor_hooks	 run = TAILQ_HEAD_INITIALIZER(run);
	struct reactor_hook	*h;

	/* Hooks may add hooks: those run next time, not in this pass. */
	TAILQ_CONCAT(&run, list, entry);
	while ((h = TAILQ_FIRST(&run)) != NULL) {
		TAILQ_REMOVE(&run, h, entry);
		h->fn(h->arg);
		free(h);
	}
}

static void
reactor_defer_cb(evutil_socket_t fd, short events, void *arg)
{
	reactor_run_hooks(&reactor_deferred);
}

/* Commit the turn's writes, then run the after-commit hooks. */
static void
reactor_end_turn(void)
{
	int	rv;

	if (store != NULL && store_pending(store)) {
		if ((rv = store_commit(store)) != 0)
			fatalx("store commit: %s", store_strerror(rv));
	}
	if (!TAILQ_EMPTY(&reactor_committed))
		reactor_run_hooks(&reactor_committed);
}

/* Run the loop until reactor_stop. */
int
reactor_run(void)
{
	while (!reactor_quit) {
		if (event_base_loop(reactor_base, EVLOOP_ONCE) == -1)
			return (-1);
		reactor_end_turn();
		if (event_base_got_break(reactor_base))
			break;
	}
	reactor_end_turn();
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

/* Run fn(arg) after this turn's store commit. */
void
reactor_after_commit(void (*fn)(void *), void *arg)
{
	struct reactor_hook	*h;

	h = xcalloc(1, sizeof(*h));
	h->fn = fn;
	h->arg = arg;
	TAILQ_INSERT_TAIL(&reactor_committed, h, entry);
	/* Make sure the turn ends promptly even if nothing else is ready. */
	event_active(reactor_defer_ev, 0, 0);
}
