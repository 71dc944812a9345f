/*
 * slack-socket.c: the Slack Socket Mode connection manager.
 *
 * apps.connections.open (with the app-level token) hands out a single-use
 * wss:// URL; the first frame on it is "hello", after which Slack sends
 * envelopes that must each be acknowledged with {"envelope_id": ...}.
 *
 * Acknowledgements wait for the store: an envelope is handled at once, but
 * its ack is queued and sent by one after-commit hook per loop turn, so a
 * crash can never ack an event whose effects were not yet persisted (Slack
 * redelivers unacked envelopes; events.c dedupes on event_id). An ack goes
 * out on the connection its envelope came from or not at all. If the
 * turn's writes fail, its acks are dropped: the envelopes come back, and
 * their event ids, not recorded either, let them be handled again.
 *
 * Slack refreshes connections every few hours with a "disconnect" frame.
 * We then open a second connection and close the old one only once the
 * new one has said hello, so there is no window without a listener;
 * envelopes still arriving on the old one are handled and acked on it.
 * Slack allows up to 10 connections per app.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <cjson/cJSON.h>

#include "incidentd.h"

#define SOCKET_PING_MS		5000
#define SOCKET_PONG_TIMEOUT_MS	10000
#define SOCKET_HELLO_TIMEOUT_MS	15000
#define SOCKET_STABLE_MS	60000	/* up this long: reset backoff */
#define SOCKET_BACKOFF_BASE_MS	1000
#define SOCKET_BACKOFF_CAP_MS	60000
#define SOCKET_DISABLED_MS	(10 * 60 * 1000)	/* link_disabled */
#define SOCKET_MAX_CONNS	10	/* Slack's per-app limit */

struct socket_ack {
	char			*text;
	size_t			 len;
	uint64_t		 received;	/* now_ms(), for metrics */
	TAILQ_ENTRY(socket_ack)	 entry;
};
TAILQ_HEAD(socket_acks, socket_ack);

struct socket_conn {
	uint64_t		 id;
	struct ws		*ws;
	char			*host;	/* for logs; never the URL */
	int			 hello;		/* "hello" received */
	int			 stable;	/* up SOCKET_STABLE_MS */
	int			 draining;	/* got "disconnect" */
	int			 retire;	/* close at next flush */
	const char		*retire_why;
	int			 dead;		/* reaper frees it */
	uint64_t		 envelopes;
	struct event		 hello_timer;
	struct event		 stable_timer;
	struct socket_acks	 acks;
	TAILQ_ENTRY(socket_conn) entry;
};
TAILQ_HEAD(socket_conns, socket_conn);

static struct socket_conns	 socket_conns =
				    TAILQ_HEAD_INITIALIZER(socket_conns);
static int			 socket_running;
static struct event		 socket_retry_timer;
static int			 socket_retry_ready;
static unsigned			 socket_attempt;
/* Generation of the apps.connections.open call in flight, 0 if none. */
static uint64_t			 socket_open_gen;
static uint64_t			 socket_gen;
static uint64_t			 socket_next_id;
static uint64_t			 socket_envelope_count;
static int			 socket_flush_queued;
static int			 socket_reap_queued;
static int			 socket_depth;	/* in a ws callback */
static char			*socket_app;	/* app id from hello */
static void			(*socket_observer)(int);

static void	socket_open_now(void);
static void	socket_open_cb(const struct slack_result *, void *);
static int	socket_check_url(const char *, char **, const char **);
static void	socket_need_conn(int);
static uint64_t	socket_backoff(void);
static void	socket_schedule(uint64_t);
static void	socket_timer_add(struct event *, uint64_t);
static void	socket_retry_cb(evutil_socket_t, short, void *);
static struct socket_conn *socket_conn_new(const char *);
static void	socket_tell(void);
static void	socket_conn_close(struct socket_conn *, const char *);
static void	socket_conn_kill(struct socket_conn *);
static void	socket_conn_free(struct socket_conn *);
static void	socket_reap_cb(void *);
static void	socket_hello_timer_cb(evutil_socket_t, short, void *);
static void	socket_stable_timer_cb(evutil_socket_t, short, void *);
static void	socket_ws_open_cb(struct ws *, void *);
static void	socket_ws_message_cb(struct ws *, const char *, size_t,
		    void *);
static void	socket_ws_closed_cb(struct ws *, const char *, void *);
static void	socket_ws_received_cb(struct ws *, void *);
static void	socket_frame(struct socket_conn *, const char *, size_t);
static void	socket_hello(struct socket_conn *, const cJSON *);
static void	socket_disconnect(struct socket_conn *, const cJSON *);
static void	socket_link_disabled(void);
static void	socket_envelope(struct socket_conn *, const cJSON *,
		    const char *, const char *);
static void	socket_queue_flush(void);
static void	socket_flush_cb(void *);
static void	socket_unflush_cb(void *);
static size_t	socket_drop_acks(struct socket_conn *);

static const struct ws_cbs	socket_ws_cbs = {
	socket_ws_open_cb,
	socket_ws_message_cb,
	socket_ws_closed_cb,
	socket_ws_received_cb
};

/* Start connecting (after auth.test has identified the bot). */
void
socket_start(void)
{
	if (socket_running)
		return;
	socket_running = 1;
	socket_attempt = 0;
	if (socket_retry_ready)
		evtimer_del(&socket_retry_timer);
	evtimer_assign(&socket_retry_timer, reactor_base, socket_retry_cb,
	    NULL);
	socket_retry_ready = 1;
	socket_open_now();
}

/* Close every connection and forget pending opens and retries. */
void
socket_stop(void)
{
	struct socket_conn	*c;

	if (!socket_running && TAILQ_EMPTY(&socket_conns))
		return;
	socket_running = 0;
	socket_open_gen = 0;	/* a late answer is ignored */
	if (socket_retry_ready)
		evtimer_del(&socket_retry_timer);
	TAILQ_FOREACH(c, &socket_conns, entry)
		socket_conn_close(c, "shutting down");
	if (socket_depth == 0)
		socket_reap_cb(NULL);
	free(socket_app);
	socket_app = NULL;
}

/*
 * Tell the timeline when events start or stop flowing: it records the
 * gaps a later get timeline must read back from history.
 */
static void
socket_tell(void)
{
	static int	told = -1;
	int		up = socket_connected();

	if (up != told) {
		told = up;
		if (socket_observer != NULL)
			socket_observer(up);
	}
}

/* Who to tell when events start (1) or stop (0) flowing. */
void
socket_observe(void (*fn)(int))
{
	socket_observer = fn;
}

/* The app id hello named, or NULL before the first hello. */
const char *
socket_app_id(void)
{
	return (socket_app);
}

/* True if some connection has received hello. */
int
socket_connected(void)
{
	struct socket_conn	*c;

	TAILQ_FOREACH(c, &socket_conns, entry) {
		if (!c->dead && c->hello)
			return (1);
	}
	return (0);
}

/* Envelopes handled since start, for metrics. */
uint64_t
socket_envelopes(void)
{
	return (socket_envelope_count);
}

/* Ask Slack for a connection URL. */
static void
socket_open_now(void)
{
	struct socket_conn	*c;
	int			 n = 0;

	if (!socket_running || socket_open_gen != 0)
		return;
	if (socket_retry_ready)
		evtimer_del(&socket_retry_timer);
	TAILQ_FOREACH(c, &socket_conns, entry) {
		if (!c->dead)
			n++;
	}
	if (n >= SOCKET_MAX_CONNS) {
		log_warnx("socket mode: %d connections open already; not "
		    "opening another", n);
		socket_schedule(socket_backoff());
		return;
	}
	socket_open_gen = ++socket_gen;
	log_debug("socket mode: calling apps.connections.open");
	/* The generation travels as the argument: nothing to free if the
	 * answer never comes (shutdown). */
	slack_call_app("apps.connections.open", NULL, socket_open_cb,
	    (void *)(uintptr_t)socket_open_gen);
}

static void
socket_open_cb(const struct slack_result *res, void *arg)
{
	struct socket_conn	*c;
	const char		*url, *why;
	char			*host;
	uint64_t		 delay;

	if ((uint64_t)(uintptr_t)arg != socket_open_gen || !socket_running)
		return;		/* stopped or superseded meanwhile */
	socket_open_gen = 0;

	if (!res->ok) {
		delay = socket_backoff();
		log_warnx("socket mode: apps.connections.open failed: %s%s; "
		    "retrying in %llu ms", res->error != NULL ? res->error :
		    "unknown error", res->error != NULL &&
		    (strcmp(res->error, "invalid_auth") == 0 ||
		    strcmp(res->error, "not_authed") == 0) ?
		    " (check slack.app_token: an app-level token with the "
		    "connections:write scope)" : "", (unsigned long long)delay);
		socket_schedule(delay);
		return;
	}
	url = json_str(res->json, "url");
	if (url == NULL || socket_check_url(url, &host, &why) != 0) {
		delay = socket_backoff();
		log_warnx("socket mode: apps.connections.open returned an "
		    "unusable URL: %s; retrying in %llu ms",
		    url == NULL ? "no url" : why, (unsigned long long)delay);
		socket_schedule(delay);
		return;
	}

	c = socket_conn_new(host);
	free(host);
	log_debug("socket mode: connecting to %s", c->host);
	c->ws = ws_open(url, &socket_ws_cbs, c, SOCKET_PING_MS,
	    SOCKET_PONG_TIMEOUT_MS);
	if (c->ws == NULL) {
		socket_conn_kill(c);
		socket_need_conn(0);
		return;
	}
	socket_timer_add(&c->hello_timer, SOCKET_HELLO_TIMEOUT_MS);
}

/* wss:// anywhere, ws:// only to loopback (the sandbox); *host is
 * malloc'd on success. The URL itself carries a ticket: never log it. */
static int
socket_check_url(const char *url, char **host, const char **why)
{
	struct url	u;

	if (url_parse(url, &u, why) != 0)
		return (-1);
	if (strcmp(u.scheme, "wss") != 0 && (strcmp(u.scheme, "ws") != 0 ||
	    !url_host_is_loopback(u.host))) {
		*why = strcmp(u.scheme, "ws") == 0 ?
		    "ws:// is only allowed to loopback hosts" :
		    "scheme is not wss";
		url_free(&u);
		return (-1);
	}
	*host = xstrdup(u.host);
	url_free(&u);
	return (0);
}

/* Jittered exponential backoff; the attempt count resets once a
 * connection has been up for SOCKET_STABLE_MS. */
static uint64_t
socket_backoff(void)
{
	uint64_t	delay;

	delay = backoff_ms(socket_attempt, SOCKET_BACKOFF_BASE_MS,
	    SOCKET_BACKOFF_CAP_MS);
	if (socket_attempt < 32)
		socket_attempt++;
	return (delay);
}

static void
socket_timer_add(struct event *ev, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static void
socket_schedule(uint64_t delay)
{
	if (!socket_running)
		return;
	socket_timer_add(&socket_retry_timer, delay);
}

static void
socket_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	socket_open_now();
}

/*
 * Make sure a healthy connection exists or is on its way; if not, open
 * one, at once (a routine refresh) or after a backoff (a failure).
 */
static void
socket_need_conn(int now)
{
	struct socket_conn	*c;
	uint64_t		 delay;

	if (!socket_running || socket_open_gen != 0 ||
	    evtimer_pending(&socket_retry_timer, NULL))
		return;
	TAILQ_FOREACH(c, &socket_conns, entry) {
		if (!c->dead && !c->draining)
			return;
	}
	if (now) {
		socket_open_now();
		return;
	}
	delay = socket_backoff();
	log_info("socket mode: reconnecting in %llu ms",
	    (unsigned long long)delay);
	socket_schedule(delay);
}

static struct socket_conn *
socket_conn_new(const char *host)
{
	struct socket_conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->id = ++socket_next_id;
	c->host = xstrdup(host);
	TAILQ_INIT(&c->acks);
	evtimer_assign(&c->hello_timer, reactor_base, socket_hello_timer_cb,
	    c);
	evtimer_assign(&c->stable_timer, reactor_base,
	    socket_stable_timer_cb, c);
	TAILQ_INSERT_TAIL(&socket_conns, c, entry);
	return (c);
}

/* Close our side (no ws callbacks follow) and mark the conn dead. */
static void
socket_conn_close(struct socket_conn *c, const char *reason)
{
	if (c->ws != NULL) {
		ws_close(c->ws, reason);
		c->ws = NULL;
	}
	socket_conn_kill(c);
}

/* Mark dead; its queued acks are dropped and it is freed next turn. */
static void
socket_conn_kill(struct socket_conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	evtimer_del(&c->hello_timer);
	evtimer_del(&c->stable_timer);
	socket_tell();
	if (!socket_reap_queued) {
		socket_reap_queued = 1;
		reactor_defer(socket_reap_cb, NULL);
	}
}

/* Forget a connection's queued acks; how many. */
static size_t
socket_drop_acks(struct socket_conn *c)
{
	struct socket_ack	*a;
	size_t			 dropped = 0;

	while ((a = TAILQ_FIRST(&c->acks)) != NULL) {
		TAILQ_REMOVE(&c->acks, a, entry);
		free(a->text);
		free(a);
		dropped++;
	}
	return (dropped);
}

static void
socket_conn_free(struct socket_conn *c)
{
	size_t	dropped;

	if ((dropped = socket_drop_acks(c)) > 0)
		log_debug("socket mode: dropped %zu ack(s) for the closed "
		    "connection to %s (Slack will redeliver)", dropped,
		    c->host);
	evtimer_del(&c->hello_timer);
	evtimer_del(&c->stable_timer);
	free(c->host);
	free(c);
}

static void
socket_reap_cb(void *arg)
{
	struct socket_conn	*c, *c1;

	socket_reap_queued = 0;	/* harmless if a queued run follows */
	TAILQ_FOREACH_SAFE(c, &socket_conns, entry, c1) {
		if (!c->dead)
			continue;
		TAILQ_REMOVE(&socket_conns, c, entry);
		socket_conn_free(c);
	}
}

static void
socket_hello_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct socket_conn	*c = arg;

	log_warnx("socket mode: no hello from %s within %d s; reconnecting",
	    c->host, SOCKET_HELLO_TIMEOUT_MS / 1000);
	socket_conn_close(c, "no hello");
	socket_need_conn(0);
}

static void
socket_stable_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct socket_conn	*c = arg;

	log_debug("socket mode: connection to %s stable; backoff reset",
	    c->host);
	c->stable = 1;
	socket_attempt = 0;
}

static void
socket_ws_open_cb(struct ws *ws, void *arg)
{
	struct socket_conn	*c = arg;

	log_debug("socket mode: websocket to %s open; waiting for hello",
	    c->host);
}

static void
socket_ws_message_cb(struct ws *ws, const char *data, size_t len, void *arg)
{
	struct socket_conn	*c = arg;

	if (c->dead)
		return;
	socket_depth++;
	socket_frame(c, data, len);
	socket_depth--;
}

/*
 * Group commit: every envelope of a read has been handled. Commit now
 * (reactor_commit runs socket_flush_cb, or on failure socket_unflush_cb,
 * as the end of the turn would) so the read's acks go out together, in
 * one write, and do not wait behind whatever else the turn holds.
 */
static void
socket_ws_received_cb(struct ws *ws, void *arg)
{
	struct socket_conn	*c = arg;

	if (c->dead || TAILQ_EMPTY(&c->acks))
		return;
	socket_depth++;
	(void)reactor_commit();
	socket_depth--;
}

static void
socket_ws_closed_cb(struct ws *ws, const char *reason, void *arg)
{
	struct socket_conn	*c = arg;

	c->ws = NULL;	/* ws.c frees it */
	if (c->dead)
		return;
	if (c->draining)
		log_info("socket mode: old connection to %s closed: %s",
		    c->host, reason);
	else
		log_warnx("socket mode: connection to %s lost: %s", c->host,
		    reason);
	socket_conn_kill(c);
	socket_need_conn(0);
}

/*
 * For the fuzzers and tests: one text frame handled as if Slack sent it,
 * on a connection of its own that has no websocket. Its acks are not
 * sent: the next injection drops them (a closed connection's fate).
 */
void
socket_inject(const char *data, size_t len)
{
	struct socket_conn	*c;

	TAILQ_FOREACH(c, &socket_conns, entry) {
		if (c->ws == NULL && !c->dead &&
		    strcmp(c->host, "(injected)") == 0)
			break;
	}
	if (c == NULL)
		c = socket_conn_new("(injected)");
	socket_drop_acks(c);
	socket_ws_message_cb(NULL, data, len, c);
}

/* One text frame: a JSON object (hello, disconnect or an envelope). */
static void
socket_frame(struct socket_conn *c, const char *data, size_t len)
{
	cJSON		*j;
	const char	*type, *envelope_id;

	j = cJSON_ParseWithLength(data, len);
	if (j == NULL || !cJSON_IsObject(j)) {
		log_warnx("socket mode: ignoring a %zu-byte frame from %s "
		    "that is not a JSON object", len, c->host);
		cJSON_Delete(j);
		return;
	}
	type = json_str(j, "type");
	envelope_id = json_str(j, "envelope_id");
	metrics_envelope(type);
	if (envelope_id != NULL)
		socket_envelope(c, j, type, envelope_id);
	else if (type != NULL && strcmp(type, "hello") == 0)
		socket_hello(c, j);
	else if (type != NULL && strcmp(type, "disconnect") == 0)
		socket_disconnect(c, j);
	else
		log_debug("socket mode: ignoring a frame of type %s",
		    type != NULL ? type : "(none)");
	cJSON_Delete(j);
}

static void
socket_hello(struct socket_conn *c, const cJSON *j)
{
	struct socket_conn	*old;
	int			 n, retired = 0;

	if (c->hello) {
		log_debug("socket mode: duplicate hello from %s", c->host);
		return;
	}
	c->hello = 1;
	socket_tell();
	evtimer_del(&c->hello_timer);
	socket_timer_add(&c->stable_timer, SOCKET_STABLE_MS);
	n = (int)json_int(j, "num_connections", 0, 0, INT_MAX);
	/* The app we are: envelopes for another one are not for us. */
	if (json_str(j, "connection_info.app_id") != NULL) {
		free(socket_app);
		socket_app = xstrdup(json_str(j, "connection_info.app_id"));
	}
	log_info("socket mode connected (host %s, %d connection%s)", c->host,
	    n, n == 1 ? "" : "s");
	notify_ready("connected to Slack (Socket Mode)");

	/* The replacement is up: retire the connections it replaces, after
	 * their pending acks have gone out (see socket_flush_cb). */
	TAILQ_FOREACH(old, &socket_conns, entry) {
		if (old != c && !old->dead && old->draining) {
			old->retire = 1;
			old->retire_why = "replaced";
			retired++;
		}
	}
	if (retired > 0)
		socket_queue_flush();
}

static void
socket_disconnect(struct socket_conn *c, const cJSON *j)
{
	const char	*reason = json_str(j, "reason");

	if (reason == NULL)
		reason = "(no reason)";
	if (strcmp(reason, "link_disabled") == 0) {
		socket_link_disabled();
		return;
	}
	/* refresh_requested, warning, or anything new: same answer. */
	log_info("socket mode: %s asked us to reconnect (%s)", c->host,
	    reason);
	c->draining = 1;
	evtimer_del(&c->hello_timer);
	/*
	 * A routine refresh of a working connection is answered at once.
	 * One that never said hello (too_many_websockets, say) backs off,
	 * or every new connection would ask for the next in a tight loop;
	 * so does one that said hello but has not been up SOCKET_STABLE_MS:
	 * Slack refreshes after hours, and a server that tells every new
	 * connection to go again (a disconnect storm) is the same loop.
	 * The old connection still delivers while we wait.
	 */
	socket_need_conn(c->stable);
}

/* Socket Mode was turned off for the app: retrying soon is pointless. */
static void
socket_link_disabled(void)
{
	struct socket_conn	*c;
	uint64_t		 delay;

	log_error("Socket Mode is disabled for this app (link_disabled): "
	    "enable it in the app settings");
	socket_open_gen = 0;
	TAILQ_FOREACH(c, &socket_conns, entry) {
		if (!c->dead) {
			c->draining = 1;
			c->retire = 1;
			c->retire_why = "link_disabled";
		}
	}
	socket_queue_flush();
	delay = SOCKET_DISABLED_MS + rand_uniform(SOCKET_DISABLED_MS / 5);
	log_warnx("socket mode: retrying in %llu s",
	    (unsigned long long)delay / 1000);
	if (socket_retry_ready)
		evtimer_del(&socket_retry_timer);
	socket_schedule(delay);
}

/* Hand an envelope to events.c, then queue its ack for after commit. */
static void
socket_envelope(struct socket_conn *c, const cJSON *j, const char *type,
    const char *envelope_id)
{
	struct envelope		 env;
	struct socket_ack	*a;
	const char		*reason;
	double			 attempt;
	char			*q;
	uint64_t		 received = now_ms();

	memset(&env, 0, sizeof(env));
	env.type = type != NULL ? type : "";
	env.envelope_id = envelope_id;
	env.payload = json_path(j, "payload");
	attempt = json_num(j, "retry_attempt", 0);
	if (attempt > 0 && attempt <= INT_MAX)
		env.retry_attempt = (int)attempt;
	if (env.retry_attempt > 0) {
		reason = json_str(j, "retry_reason");
		log_debug("socket mode: envelope %s (%s) is retry %d (%s)",
		    envelope_id, env.type, env.retry_attempt,
		    reason != NULL ? reason : "no reason");
	}
	socket_envelope_count++;
	c->envelopes++;

	events_handle(&env);

	a = xcalloc(1, sizeof(*a));
	a->received = received;
	q = json_quote(envelope_id);
	if (env.ack_payload != NULL)
		a->len = xasprintf(&a->text, "{\"envelope_id\":%s,"
		    "\"payload\":%s}", q, env.ack_payload);
	else
		a->len = xasprintf(&a->text, "{\"envelope_id\":%s}", q);
	free(q);
	free(env.ack_payload);
	TAILQ_INSERT_TAIL(&c->acks, a, entry);
	socket_queue_flush();
}

static void
socket_queue_flush(void)
{
	if (socket_flush_queued)
		return;
	socket_flush_queued = 1;
	reactor_after_commit_or_abort(socket_flush_cb, socket_unflush_cb,
	    NULL);
}

/*
 * The turn's writes failed: drop its acks (every queued ack is from this
 * turn) so Slack redelivers the envelopes, then retire as usual.
 */
static void
socket_unflush_cb(void *arg)
{
	struct socket_conn	*c;
	size_t			 dropped = 0;

	TAILQ_FOREACH(c, &socket_conns, entry)
		dropped += socket_drop_acks(c);
	if (dropped > 0)
		log_warnx("socket mode: %zu envelope(s) not acknowledged: "
		    "their state could not be stored (Slack redelivers them)",
		    dropped);
	socket_flush_cb(arg);
}

/*
 * After the turn's commit: send every queued ack on its own connection,
 * then close the connections that a newer one has replaced.
 */
static void
socket_flush_cb(void *arg)
{
	struct socket_conn	*c;
	struct socket_ack	*a;
	size_t			 sent;

	socket_flush_queued = 0;
	TAILQ_FOREACH(c, &socket_conns, entry) {
		if (c->dead || c->ws == NULL)
			continue;	/* acks dropped when it is freed */
		sent = 0;
		while ((a = TAILQ_FIRST(&c->acks)) != NULL) {
			TAILQ_REMOVE(&c->acks, a, entry);
			if (ws_send_text(c->ws, a->text, a->len) != 0)
				log_warnx("socket mode: could not send an ack "
				    "to %s", c->host);
			else {
				metrics_ack(a->received);
				sent++;
			}
			free(a->text);
			free(a);
		}
		if (sent > 0)
			metrics_ack_batch();
		if (c->retire) {
			log_info("socket mode: closing the connection to %s "
			    "(%s; %llu envelopes)", c->host, c->retire_why,
			    (unsigned long long)c->envelopes);
			socket_conn_close(c, c->retire_why);
		}
	}
}
