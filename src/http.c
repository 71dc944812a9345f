/*
 * http.c: a small HTTP/1.1 client on bufferevents, with keep-alive pools.
 *
 * evhttp is not used (STYLE.md 4.4): its failures arrive without a
 * reason, freeing a connection in its callback crashes, and 2.1 sends no
 * Host header. Instead there are three objects here:
 *
 * - A dial (http_dial, also used by ws.c) resolves with the reactor's
 *   evdns base, connects to each address in turn and does the TLS
 *   handshake, all under one deadline. Its callback always runs on a
 *   later loop turn. A lookup answers through its dial's id, never a
 *   pointer, so a late answer for a dial that is gone does nothing.
 * - A connection belongs to the pool of its (tls, host, port) and runs
 *   one request at a time. Idle ones keep reading so a close by the
 *   server is noticed, and are closed after HTTP_IDLE_MS. A closed
 *   connection is freed on the next turn (reactor_defer), never inside
 *   its own callbacks.
 * - A request is queued FIFO on its pool when max_per_host connections
 *   are busy, and has a deadline per attempt. Its callback always runs
 *   from its own timer, never inside http_request and never inside a
 *   bufferevent callback, so user code can do anything there.
 *
 * Retries. A 429 is retried for every request unless HTTP_NO_RETRY,
 * after Retry-After or, without one, a jittered backoff; a wait over
 * HTTP_MAX_WAIT_MS gives up and hands the 429 to the caller. 5xx and
 * transport errors are retried only for HTTP_IDEMPOTENT requests, or
 * when nothing was sent (DNS, connect and TLS failures). A malformed
 * response or a certificate failure is not retried: it would repeat.
 *
 * Stale keep-alive connections. A server may close an idle connection
 * just as we reuse it, and then the request fails before any response
 * byte. A GET, HEAD or HTTP_IDEMPOTENT request is then replayed once on
 * a fresh connection without counting an attempt. Any other request is not: the
 * server may have acted on it and died before answering, and only the
 * caller (the job engine, after its probe) may decide to send it again.
 * To keep the window small an idle connection is checked for a pending
 * EOF (MSG_PEEK) before it is reused. A failure on a fresh connection, or
 * after a response byte, follows the normal rules above.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/dns.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "incidentd.h"

#define HTTP_DEFAULT_TIMEOUT	15000
#define HTTP_DEFAULT_ATTEMPTS	5
#define HTTP_MAX_ATTEMPTS	20
#define HTTP_DEFAULT_PER_HOST	8
#define HTTP_MAX_BODY		(16 * 1024 * 1024)
#define HTTP_MAX_CHUNK_LINE	1024
#define HTTP_IDLE_MS		30000
#define HTTP_MAX_WAIT_MS	120000LL
#define HTTP_MAX_HOST		255

enum http_dial_state {
	HTTP_DIAL_DNS = 0,
	HTTP_DIAL_CONNECT,
	HTTP_DIAL_TUNNEL,	/* CONNECT through the proxy */
	HTTP_DIAL_HANDSHAKE,
	HTTP_DIAL_DONE,		/* result waits for the timer */
	HTTP_DIAL_CALLING	/* inside the user's callback */
};

enum http_dial_err {
	HTTP_DIAL_OK = 0,
	HTTP_DIAL_EINVAL,
	HTTP_DIAL_EDNS,
	HTTP_DIAL_ECONNECT,
	HTTP_DIAL_ETLS,
	HTTP_DIAL_EVERIFY,
	HTTP_DIAL_EPROXYAUTH,	/* 407 from the proxy */
	HTTP_DIAL_ETIMEOUT
};

struct http_dial {
	uint64_t		 id;
	char			*host;
	int			 port;
	int			 tls;
	int			 timeout_ms;
	http_dial_cb		 cb;
	void			*arg;
	char			*via;		/* the proxy's host, or NULL */
	int			 via_port;
	struct proxy_tunnel	*tunnel;

	enum http_dial_state	 state;
	struct evutil_addrinfo	*ai;
	struct evutil_addrinfo	*next_ai;
	int			 last_errno;
	int			 fd;
	struct event		*conn_ev;
	struct bufferevent	*bev;
	struct event		*timer;	/* deadline, then result delivery */

	enum http_dial_err	 kind;
	char			*error;

	TAILQ_ENTRY(http_dial)	 entry;
};
TAILQ_HEAD(http_dials, http_dial);

enum http_req_state {
	HTTP_REQ_QUEUED = 0,	/* waiting for a connection */
	HTTP_REQ_ACTIVE,	/* on a connection (maybe still dialing) */
	HTTP_REQ_WAITING,	/* between attempts */
	HTTP_REQ_DONE,		/* result waits for the timer */
	HTTP_REQ_CALLING	/* inside the user's callback */
};

enum http_parse {
	HTTP_P_STATUS = 0,
	HTTP_P_HEADERS,
	HTTP_P_BODY,		/* Content-Length */
	HTTP_P_CHUNK_SIZE,
	HTTP_P_CHUNK_DATA,
	HTTP_P_CHUNK_END,
	HTTP_P_TRAILERS,
	HTTP_P_UNTIL_CLOSE,
	HTTP_P_DONE
};

struct http_pool;
struct http_conn;

struct http_req {
	char			*head;		/* request line and headers */
	size_t			 head_len;
	char			*body;
	size_t			 body_len;
	char			*log_name;
	int			 flags;
	int			 timeout_ms;
	int			 max_attempts;
	int			 is_head;
	uint64_t		 started;	/* now_ms() */
	http_cb			 cb;
	void			*arg;
	void			(*freecb)(void *);

	struct http_pool	*pool;
	struct http_conn	*conn;
	struct event		*timer;	/* deadline, backoff, delivery */
	enum http_req_state	 state;
	int			 attempts;
	int			 replayed;	/* stale replay used */
	int			 safe;		/* GET or HEAD */
	int			 fresh;		/* skip idle connections */

	/* This attempt. */
	int			 sent;		/* request bytes handed over */
	int			 reused;	/* on a used connection */
	int			 got_bytes;	/* any response byte seen */
	enum http_parse		 pstate;
	size_t			 hdr_bytes;
	size_t			 ntrailers;
	int			 conn_close;
	size_t			 remaining;
	struct http_head	 resp;		/* status line, headers */
	struct evbuffer		*body_buf;

	/* Result of the last attempt. */
	int			 status;
	char			*error;

	TAILQ_ENTRY(http_req)	 qentry;	/* pool queue */
	TAILQ_ENTRY(http_req)	 entry;		/* http_reqs */
};
TAILQ_HEAD(http_reqs, http_req);

enum http_conn_state {
	HTTP_CONN_DIALING = 0,
	HTTP_CONN_BUSY,
	HTTP_CONN_IDLE,
	HTTP_CONN_DEAD
};

struct http_conn {
	struct http_pool	*pool;
	struct http_dial	*dial;
	struct bufferevent	*bev;
	struct http_req		*req;
	struct event		*idle_timer;
	enum http_conn_state	 state;
	unsigned		 served;	/* responses read */
	int			 idled;		/* has been idle */
	int			 eof;		/* the server closed it */
	int			 clean;		/* send close_notify on free */
	uint64_t		 route_gen;	/* proxy_generation() at dial */

	TAILQ_ENTRY(http_conn)	 ientry;	/* pool idle list */
	TAILQ_ENTRY(http_conn)	 entry;		/* http_conns or http_dead */
};
TAILQ_HEAD(http_conns, http_conn);

struct http_pool {
	int			 tls;
	char			*host;
	int			 port;
	int			 nconns;	/* dialing, busy and idle */
	struct http_conns	 idle;		/* most recently used first */
	struct http_reqs	 queue;

	TAILQ_ENTRY(http_pool)	 entry;
};
TAILQ_HEAD(http_pools, http_pool);

static struct http_dials	 http_dials =
				    TAILQ_HEAD_INITIALIZER(http_dials);
static struct http_reqs		 http_reqs =
				    TAILQ_HEAD_INITIALIZER(http_reqs);
static struct http_conns	 http_conns =
				    TAILQ_HEAD_INITIALIZER(http_conns);
static struct http_conns	 http_dead =
				    TAILQ_HEAD_INITIALIZER(http_dead);
static struct http_pools	 http_pools =
				    TAILQ_HEAD_INITIALIZER(http_pools);
static uint64_t			 http_dial_next_id;
static int			 http_ninflight;
static int			 http_max_per_host = HTTP_DEFAULT_PER_HOST;
static int			 http_reap_scheduled;

static void	http_ms_to_tv(long long, struct timeval *);
static int	http_valid_host(const char *);
static int	http_is_tchar(int);
static const char *http_header_colon(const char *);

static struct http_dial *http_dial_find(uint64_t);
static void	http_dial_fail(struct http_dial *, enum http_dial_err,
		    const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	http_dial_succeed(struct http_dial *);
static void	http_dial_cleanup(struct http_dial *);
static void	http_dial_free(struct http_dial *);
static void	http_dial_dns_cb(int, struct evutil_addrinfo *, void *);
static void	http_dial_connect_next(struct http_dial *);
static void	http_dial_connect_cb(evutil_socket_t, short, void *);
static void	http_dial_connected(struct http_dial *);
static void	http_dial_tunnel_cb(int, int, const char *, void *);
static void	http_dial_start(struct http_dial *, int);
static void	http_dial_tls_event_cb(struct bufferevent *, short, void *);
static void	http_dial_timer_cb(evutil_socket_t, short, void *);

static struct http_pool *http_pool_get(int, const char *, int);
static void	http_pool_dispatch(struct http_pool *);
static void	http_pool_free(struct http_pool *);

static void	http_conn_new(struct http_pool *, struct http_req *);
static void	http_conn_strict_close(struct bufferevent *);
static void	http_conn_dial_cb(struct bufferevent *, const char *, void *);
static void	http_conn_send(struct http_conn *, struct http_req *);
static void	http_conn_available(struct http_conn *);
static int	http_conn_alive(struct http_conn *);
static void	http_conn_close(struct http_conn *, const char *, int);
static void	http_conn_fail(struct http_conn *, const char *, int);
static void	http_conn_response(struct http_conn *);
static void	http_conn_read_cb(struct bufferevent *, void *);
static void	http_conn_event_cb(struct bufferevent *, short, void *);
static void	http_conn_idle_cb(evutil_socket_t, short, void *);
static void	http_conn_free(struct http_conn *);
static void	http_reap(void);
static void	http_reap_cb(void *);

static int	http_req_setup(struct http_req *,
		    const struct http_request_args *, const char **);
static int	http_check_header(const char *, const char **);
static int	http_check_value(const char *);
static void	http_req_reset(struct http_req *);
static void	http_req_attempt(struct http_req *);
static void	http_req_replay(struct http_req *, const char *);
static void	http_req_bind(struct http_req *, struct http_conn *);
static void	http_req_detach(struct http_req *);
static void	http_req_fail(struct http_req *, const char *, int);
static void	http_req_result(struct http_req *);
static void	http_req_retry(struct http_req *, long long, const char *);
static void	http_req_finish(struct http_req *);
static void	http_req_deliver(struct http_req *);
static void	http_req_timer_cb(evutil_socket_t, short, void *);
static void	http_req_free(struct http_req *);
static const char *http_req_header(const struct http_req *, const char *);

static int	http_getline(struct evbuffer *, size_t, char **, size_t *);
static int	http_parse(struct http_req *, struct evbuffer *,
		    const char **);
static int	http_parse_status(struct http_req *, const char *,
		    const char **);
static int	http_parse_header(struct http_req *, char *, int,
		    const char **);
static int	http_headers_done(struct http_req *, const char **);
static int	http_parse_eof(struct http_req *);
static int	http_has_token(const char *, const char *);
static int	http_parse_date(const char *, time_t, time_t *);

static void
http_ms_to_tv(long long ms, struct timeval *tv)
{
	if (ms < 0)
		ms = 0;
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static int
http_is_tchar(int c)
{
	return (isalnum((unsigned char)c) || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

/* The colon after a non-empty token name at the start of h, or NULL. */
static const char *
http_header_colon(const char *h)
{
	const char	*colon, *p;

	if ((colon = strchr(h, ':')) == NULL || colon == h)
		return (NULL);
	for (p = h; p < colon; p++) {
		if (!http_is_tchar(*p))
			return (NULL);
	}
	return (colon);
}

static int
http_valid_host(const char *host)
{
	const char	*p;

	if (host == NULL || *host == '\0' || strlen(host) > HTTP_MAX_HOST)
		return (0);
	for (p = host; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr(".-_:%", *p) == NULL)
			return (0);
	}
	return (1);
}

/* Nothing to allocate up front; kept so startup reads symmetrically. */
void
http_init(void)
{
	log_debug("http: %d connection(s) per host", http_max_per_host);
}

/* ------------------------------------------------------------------ */
/* Dialing. */

static struct http_dial *
http_dial_find(uint64_t id)
{
	struct http_dial	*d;

	TAILQ_FOREACH(d, &http_dials, entry) {
		if (d->id == id)
			return (d);
	}
	return (NULL);
}

/* Connect TCP (and TLS) to host:port; cb runs once, on a later turn. */
struct http_dial *
http_dial(const char *host, int port, int tls, int timeout_ms,
    http_dial_cb cb, void *arg)
{
	struct http_dial	*d;
	struct evutil_addrinfo	 hints;
	struct timeval		 tv;
	char			 portstr[16];
	const char		*phost;
	int			 pport;

	if (reactor_base == NULL)
		fatalx("%s: reactor not initialized", __func__);
	d = xcalloc(1, sizeof(*d));
	d->id = ++http_dial_next_id;
	d->host = xstrdup(host != NULL ? host : "");
	d->port = port;
	d->tls = tls;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : HTTP_DEFAULT_TIMEOUT;
	d->cb = cb;
	d->arg = arg;
	d->fd = -1;
	if ((d->timer = evtimer_new(reactor_base, http_dial_timer_cb,
	    d)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	TAILQ_INSERT_TAIL(&http_dials, d, entry);
	http_ms_to_tv(d->timeout_ms, &tv);
	evtimer_add(d->timer, &tv);

	if (!http_valid_host(host)) {
		http_dial_fail(d, HTTP_DIAL_EINVAL, "connect: invalid host");
		return (d);
	}
	if (port < 1 || port > 65535) {
		http_dial_fail(d, HTTP_DIAL_EINVAL, "connect: invalid port");
		return (d);
	}
	if (reactor_dns == NULL) {
		/* A NULL base would block in getaddrinfo (4.6). */
		http_dial_fail(d, HTTP_DIAL_EDNS, "dns: no resolver");
		return (d);
	}
	if (proxy_route(d->host, port, &phost, &pport)) {
		d->via = xstrdup(phost);
		d->via_port = pport;
	}
	log_debug("http: dialing %s:%d%s%s%s", d->host, port, tls ? " (TLS)" :
	    "", d->via != NULL ? " via proxy " : "", d->via != NULL ?
	    d->via : "");
	d->state = HTTP_DIAL_DNS;
	snprintf(portstr, sizeof(portstr), "%d", d->via != NULL ? d->via_port :
	    port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	/*
	 * Literals and /etc/hosts names answer at once, inside this call;
	 * the dial is complete enough for that. The request handle is not
	 * kept: lookups are never cancelled (4.6), a late answer finds no
	 * dial with its id and is dropped.
	 */
	(void)evdns_getaddrinfo(reactor_dns, d->via != NULL ? d->via : d->host,
	    portstr, &hints,
	    http_dial_dns_cb, (void *)(uintptr_t)d->id);
	return (d);
}

/* Forget a dial; its callback will not run. */
void
http_dial_cancel(struct http_dial *d)
{
	if (d == NULL || d->state == HTTP_DIAL_CALLING)
		return;
	TAILQ_REMOVE(&http_dials, d, entry);
	http_dial_free(d);
}

/* Stop connecting: close the socket and (not inside its callback) the
 * bufferevent is kept for http_dial_free. */
static void
http_dial_cleanup(struct http_dial *d)
{
	if (d->conn_ev != NULL) {
		event_free(d->conn_ev);
		d->conn_ev = NULL;
	}
	if (d->fd != -1) {
		close(d->fd);
		d->fd = -1;
	}
	if (d->ai != NULL) {
		evutil_freeaddrinfo(d->ai);
		d->ai = d->next_ai = NULL;
	}
	if (d->tunnel != NULL) {
		proxy_tunnel_free(d->tunnel);
		d->tunnel = NULL;
	}
	if (d->bev != NULL) {
		bufferevent_setcb(d->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(d->bev, EV_READ | EV_WRITE);
	}
}

static void
http_dial_free(struct http_dial *d)
{
	http_dial_cleanup(d);
	if (d->bev != NULL)
		bufferevent_free(d->bev);
	event_free(d->timer);
	free(d->error);
	free(d->host);
	free(d->via);
	free(d);
}

static void
http_dial_fail(struct http_dial *d, enum http_dial_err kind,
    const char *fmt, ...)
{
	static const struct timeval	 now = { 0, 0 };
	va_list				 ap;

	if (d->state >= HTTP_DIAL_DONE)
		return;
	http_dial_cleanup(d);
	d->kind = kind;
	va_start(ap, fmt);
	xvasprintf(&d->error, fmt, ap);
	va_end(ap);
	log_debug("http: dial %s:%d failed: %s", d->host, d->port, d->error);
	d->state = HTTP_DIAL_DONE;
	evtimer_del(d->timer);
	evtimer_add(d->timer, &now);
}

static void
http_dial_succeed(struct http_dial *d)
{
	static const struct timeval	 now = { 0, 0 };

	d->kind = HTTP_DIAL_OK;
	d->state = HTTP_DIAL_DONE;
	evtimer_del(d->timer);
	evtimer_add(d->timer, &now);
}

static void
http_dial_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct http_dial	*d;

	d = http_dial_find((uint64_t)(uintptr_t)arg);
	if (d == NULL || d->state != HTTP_DIAL_DNS) {
		/* Cancelled or timed out meanwhile. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	if (result != 0) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		http_dial_fail(d, HTTP_DIAL_EDNS, "dns: %s%s: %s",
		    d->via != NULL ? "proxy " : "", d->via != NULL ? d->via :
		    d->host, evutil_gai_strerror(result));
		return;
	}
	if (res == NULL) {
		http_dial_fail(d, HTTP_DIAL_EDNS, "dns: %s%s: no address",
		    d->via != NULL ? "proxy " : "", d->via != NULL ? d->via :
		    d->host);
		return;
	}
	d->ai = d->next_ai = res;
	d->state = HTTP_DIAL_CONNECT;
	http_dial_connect_next(d);
}

/* Try the remaining addresses in order until one starts connecting. */
static void
http_dial_connect_next(struct http_dial *d)
{
	struct evutil_addrinfo	*ai;
	int			 fd;

	while ((ai = d->next_ai) != NULL) {
		d->next_ai = ai->ai_next;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			d->last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			d->fd = fd;
			http_dial_connected(d);
			return;
		}
		if (errno == EINPROGRESS || errno == EINTR) {
			d->fd = fd;
			d->conn_ev = event_new(reactor_base, fd, EV_WRITE,
			    http_dial_connect_cb, d);
			if (d->conn_ev == NULL)
				fatalx("%s: event_new failed", __func__);
			event_add(d->conn_ev, NULL);
			return;
		}
		d->last_errno = errno;
		close(fd);
	}
	http_dial_fail(d, HTTP_DIAL_ECONNECT, "connect: %s%s%s%s",
	    d->via != NULL ? "proxy " : "", d->via != NULL ? d->via : "",
	    d->via != NULL ? ": " : "",
	    strerror(d->last_errno != 0 ? d->last_errno : ECONNREFUSED));
}

static void
http_dial_connect_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_dial	*d = arg;
	int			 err = 0;
	socklen_t		 len = sizeof(err);

	event_free(d->conn_ev);
	d->conn_ev = NULL;
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		d->last_errno = err;
		close(d->fd);
		d->fd = -1;
		http_dial_connect_next(d);
		return;
	}
	http_dial_connected(d);
}

static void
http_dial_connected(struct http_dial *d)
{
	int	 fd, one = 1;

	/* Requests are written whole: do not wait for ACKs (Nagle). */
	(void)setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_freeaddrinfo(d->ai);
	d->ai = d->next_ai = NULL;
	fd = d->fd;
	d->fd = -1;

	if (d->via != NULL) {
		/* proxy.c owns fd until its callback hands it back. */
		d->state = HTTP_DIAL_TUNNEL;
		d->tunnel = proxy_tunnel(fd, d->host, d->port,
		    http_dial_tunnel_cb, d);
		return;
	}
	http_dial_start(d, fd);
}

static void
http_dial_tunnel_cb(int fd, int result, const char *error, void *arg)
{
	struct http_dial	*d = arg;

	d->tunnel = NULL;
	if (d->state != HTTP_DIAL_TUNNEL) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (fd == -1) {
		http_dial_fail(d, result == PROXY_EAUTH ?
		    HTTP_DIAL_EPROXYAUTH : HTTP_DIAL_ECONNECT, "%s",
		    error != NULL ? error : "proxy: failed");
		return;
	}
	http_dial_start(d, fd);
}

/* TCP (direct or tunnelled) is up on fd: TLS to the real host, or not. */
static void
http_dial_start(struct http_dial *d, int fd)
{
	SSL	*ssl;

	if (!d->tls) {
		d->bev = bufferevent_socket_new(reactor_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (d->bev == NULL) {
			close(fd);
			http_dial_fail(d, HTTP_DIAL_ECONNECT,
			    "connect: cannot create bufferevent");
			return;
		}
		http_dial_succeed(d);
		return;
	}

	/* A new SSL for every connection (4.3). */
	if ((ssl = tls_new_ssl(d->host)) == NULL) {
		close(fd);
		http_dial_fail(d, HTTP_DIAL_ETLS,
		    "tls: cannot set up a session (tls_init not done?)");
		return;
	}
	/* No BEV_OPT_DEFER_CALLBACKS: they can run after free (4.7). */
	d->bev = bufferevent_openssl_socket_new(reactor_base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (d->bev == NULL) {
		SSL_free(ssl);
		http_dial_fail(d, HTTP_DIAL_ETLS,
		    "tls: cannot create bufferevent");
		return;
	}
	/* With SSL_OP_IGNORE_UNEXPECTED_EOF this makes a close EOF (4.1). */
	bufferevent_openssl_set_allow_dirty_shutdown(d->bev, 1);
	bufferevent_setcb(d->bev, NULL, NULL, http_dial_tls_event_cb, d);
	d->state = HTTP_DIAL_HANDSHAKE;
}

static void
http_dial_tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_dial	*d = arg;
	SSL			*ssl;
	enum http_dial_err	 kind = HTTP_DIAL_ETLS;
	const char		*why;

	if (d->state != HTTP_DIAL_HANDSHAKE)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		http_dial_succeed(d);
		return;
	}
	ssl = bufferevent_openssl_get_ssl(bev);
	if (ssl != NULL && SSL_get_verify_result(ssl) != X509_V_OK)
		kind = HTTP_DIAL_EVERIFY;
	why = tls_error(bev);
	/* The bufferevent is freed with the dial, outside this callback. */
	http_dial_fail(d, kind, "tls: %s", why);
}

static void
http_dial_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_dial	*d = arg;
	struct bufferevent	*bev;

	if (d->state < HTTP_DIAL_DONE) {
		http_dial_fail(d, HTTP_DIAL_ETIMEOUT, "timeout after %d ms",
		    d->timeout_ms);
		return;
	}
	if (d->state != HTTP_DIAL_DONE)
		return;
	TAILQ_REMOVE(&http_dials, d, entry);
	bev = NULL;
	if (d->kind == HTTP_DIAL_OK) {
		bev = d->bev;
		d->bev = NULL;
	}
	d->state = HTTP_DIAL_CALLING;
	if (d->cb != NULL)
		d->cb(bev, bev == NULL ? d->error : NULL, d->arg);
	else if (bev != NULL)
		bufferevent_free(bev);
	http_dial_free(d);
}

/* ------------------------------------------------------------------ */
/* Pools and connections. */

static struct http_pool *
http_pool_get(int tls, const char *host, int port)
{
	struct http_pool	*pool;

	TAILQ_FOREACH(pool, &http_pools, entry) {
		if (pool->tls == tls && pool->port == port &&
		    strcasecmp(pool->host, host) == 0)
			return (pool);
	}
	pool = xcalloc(1, sizeof(*pool));
	pool->tls = tls;
	pool->host = xstrdup(host);
	pool->port = port;
	TAILQ_INIT(&pool->idle);
	TAILQ_INIT(&pool->queue);
	TAILQ_INSERT_TAIL(&http_pools, pool, entry);
	return (pool);
}

static void
http_pool_free(struct http_pool *pool)
{
	TAILQ_REMOVE(&http_pools, pool, entry);
	free(pool->host);
	free(pool);
}

/*
 * Give queued requests connections: an idle one that still looks alive,
 * else a new one while under max_per_host. The queue head is re-read on
 * every pass since sending can run callbacks that change it.
 */
static void
http_pool_dispatch(struct http_pool *pool)
{
	struct http_req		*req;
	struct http_conn	*conn;

	while ((req = TAILQ_FIRST(&pool->queue)) != NULL) {
		conn = NULL;
		if (!req->fresh) {
			while ((conn = TAILQ_FIRST(&pool->idle)) != NULL) {
				if (conn->route_gen != proxy_generation())
					http_conn_close(conn, "the proxy "
					    "setting changed", 1);
				else if (http_conn_alive(conn))
					break;
				else
					http_conn_close(conn,
					    "closed while idle", 0);
			}
		}
		if (conn != NULL) {
			TAILQ_REMOVE(&pool->idle, conn, ientry);
			TAILQ_REMOVE(&pool->queue, req, qentry);
			http_req_bind(req, conn);
			http_conn_send(conn, req);
			continue;
		}
		if (pool->nconns >= http_max_per_host && req->fresh &&
		    (conn = TAILQ_LAST(&pool->idle, http_conns)) != NULL)
			http_conn_close(conn, "making room", 1);
		if (pool->nconns >= http_max_per_host)
			break;
		TAILQ_REMOVE(&pool->queue, req, qentry);
		http_conn_new(pool, req);
	}
}

static void
http_conn_new(struct http_pool *pool, struct http_req *req)
{
	struct http_conn	*conn;

	conn = xcalloc(1, sizeof(*conn));
	conn->pool = pool;
	conn->state = HTTP_CONN_DIALING;
	if ((conn->idle_timer = evtimer_new(reactor_base, http_conn_idle_cb,
	    conn)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	pool->nconns++;
	TAILQ_INSERT_TAIL(&http_conns, conn, entry);
	http_req_bind(req, conn);
	/* http_dial picks the route at once, inside the call. */
	conn->route_gen = proxy_generation();
	conn->dial = http_dial(pool->host, pool->port, pool->tls,
	    req->timeout_ms, http_conn_dial_cb, conn);
}

/*
 * A body framed by the connection's close is only complete if the close
 * is TLS's close_notify; a bare TCP FIN may be an attacker (or a proxy)
 * cutting the body short. The dial lets a FIN pass as EOF (tls.c, for
 * ws.c); HTTP connections undo that, so a close without close_notify is
 * BEV_EVENT_ERROR and only close_notify is BEV_EVENT_EOF. Bodies framed
 * by Content-Length or chunked encoding are complete before any close.
 */
static void
http_conn_strict_close(struct bufferevent *bev)
{
	SSL	*ssl;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		SSL_clear_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 0);
}

static void
http_conn_dial_cb(struct bufferevent *bev, const char *error, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_pool	*pool = conn->pool;
	struct http_req		*req = conn->req;
	enum http_dial_err	 kind = conn->dial->kind;

	conn->dial = NULL;
	if (bev == NULL) {
		if (req != NULL)
			http_req_detach(req);
		http_conn_close(conn, error, 0);
		if (req != NULL) {
			/* Nothing was sent: retry unless it would repeat. */
			http_req_fail(req, kind == HTTP_DIAL_ETIMEOUT ?
			    "timeout" : error, kind != HTTP_DIAL_EVERIFY &&
			    kind != HTTP_DIAL_EINVAL &&
			    kind != HTTP_DIAL_EPROXYAUTH);
		}
		http_pool_dispatch(pool);
		return;
	}
	conn->bev = bev;
	if (pool->tls)
		http_conn_strict_close(bev);
	bufferevent_setcb(bev, http_conn_read_cb, NULL, http_conn_event_cb,
	    conn);
	if (req != NULL)
		http_conn_send(conn, req);
	else
		http_conn_available(conn);
}

/*
 * Queue the request on the connection. The write is queued with EV_WRITE
 * off so that a TLS bufferevent cannot write (and fail, and call back)
 * inside evbuffer_add; callers must not rely on conn or req afterwards.
 */
static void
http_conn_send(struct http_conn *conn, struct http_req *req)
{
	struct evbuffer	*out = bufferevent_get_output(conn->bev);

	conn->state = HTTP_CONN_BUSY;
	evtimer_del(conn->idle_timer);
	req->sent = 1;
	req->reused = conn->served > 0 || conn->idled;
	bufferevent_disable(conn->bev, EV_WRITE);
	evbuffer_add(out, req->head, req->head_len);
	if (req->body_len > 0)
		evbuffer_add(out, req->body, req->body_len);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

/* The connection is free: serve the queue head or go idle. */
static void
http_conn_available(struct http_conn *conn)
{
	struct http_pool	*pool = conn->pool;
	struct http_req		*req;
	struct timeval		 tv;

	if (conn->route_gen != proxy_generation()) {
		/* Dialled before a reload changed the proxy. */
		http_conn_close(conn, "the proxy setting changed", 1);
		http_pool_dispatch(pool);
		return;
	}
	if ((req = TAILQ_FIRST(&pool->queue)) != NULL) {
		TAILQ_REMOVE(&pool->queue, req, qentry);
		http_req_bind(req, conn);
		http_conn_send(conn, req);
		return;
	}
	conn->state = HTTP_CONN_IDLE;
	conn->idled = 1;
	TAILQ_INSERT_HEAD(&pool->idle, conn, ientry);
	http_ms_to_tv(HTTP_IDLE_MS, &tv);
	evtimer_add(conn->idle_timer, &tv);
	/* Keep reading: an EOF tells us the server closed it. */
	bufferevent_enable(conn->bev, EV_READ);
}

/*
 * Check an idle connection before reuse: the server may have closed it
 * in this very turn, before its EOF event ran.
 */
static int
http_conn_alive(struct http_conn *conn)
{
	char	c;
	ssize_t	n;
	int	fd;

	if (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0)
		return (0);
	if ((fd = bufferevent_getfd(conn->bev)) == -1)
		return (0);
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return (0);
	if (n > 0) {
		/* TLS may have a session ticket pending; plain must not. */
		return (conn->pool->tls);
	}
	return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

/* Take a connection out of service; it is freed on the next turn. */
static void
http_conn_close(struct http_conn *conn, const char *why, int clean)
{
	struct http_pool	*pool = conn->pool;

	if (conn->state == HTTP_CONN_DEAD)
		return;
	log_debug("http: %s:%d: closing connection: %s", pool->host,
	    pool->port, why);
	if (conn->state == HTTP_CONN_IDLE)
		TAILQ_REMOVE(&pool->idle, conn, ientry);
	evtimer_del(conn->idle_timer);
	if (conn->req != NULL)
		http_req_detach(conn->req);
	if (conn->dial != NULL) {
		http_dial_cancel(conn->dial);
		conn->dial = NULL;
	}
	if (conn->bev != NULL) {
		/* Callbacks off first: nothing may run after this (4.7). */
		bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
		conn->clean = clean && !conn->eof && evbuffer_get_length(
		    bufferevent_get_output(conn->bev)) == 0;
	}
	pool->nconns--;
	conn->state = HTTP_CONN_DEAD;
	TAILQ_REMOVE(&http_conns, conn, entry);
	TAILQ_INSERT_TAIL(&http_dead, conn, entry);
	if (!http_reap_scheduled) {
		http_reap_scheduled = 1;
		reactor_defer(http_reap_cb, NULL);
	}
}

/* The attempt on conn failed: close conn and fail or replay its request. */
static void
http_conn_fail(struct http_conn *conn, const char *why, int retryable)
{
	struct http_pool	*pool = conn->pool;
	struct http_req		*req = conn->req;
	int			 replay;

	replay = req != NULL && !req->got_bytes && req->reused &&
	    !req->replayed && (req->safe || (req->flags & HTTP_IDEMPOTENT));
	if (req != NULL)
		http_req_detach(req);
	http_conn_close(conn, why, 0);
	if (req != NULL) {
		if (replay)
			http_req_replay(req, why);
		else
			http_req_fail(req, why, retryable);
	}
	http_pool_dispatch(pool);
}

/* A whole response arrived: keep the connection if we may. */
static void
http_conn_response(struct http_conn *conn)
{
	struct http_req	*req = conn->req;
	struct http_pool *pool = conn->pool;
	int		 keep;

	keep = !req->conn_close && req->resp.minor == 1 &&
	    evbuffer_get_length(bufferevent_get_input(conn->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0;
	conn->served++;
	http_req_detach(req);
	if (keep)
		http_conn_available(conn);
	else {
		http_conn_close(conn, "not reusable", 1);
		http_pool_dispatch(pool);
	}
	http_req_result(req);
}

static void
http_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_req		*req = conn->req;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const char		*bad = NULL;
	int			 rv;

	if (conn->state != HTTP_CONN_BUSY || req == NULL) {
		/* Nothing is owed to us: do not trust this connection. */
		http_conn_close(conn, "unexpected data", 0);
		http_pool_dispatch(conn->pool);
		return;
	}
	if (evbuffer_get_length(in) > 0)
		req->got_bytes = 1;
	if ((rv = http_parse(req, in, &bad)) == 0)
		return;
	if (rv == -1) {
		http_conn_fail(conn, bad, 0);
		return;
	}
	http_conn_response(conn);
}

static void
http_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_req		*req = conn->req;
	int			 saved = EVUTIL_SOCKET_ERROR();
	char			*why;

	if (conn->state != HTTP_CONN_BUSY || req == NULL) {
		http_conn_close(conn, (what & BEV_EVENT_EOF) ?
		    "closed by server" : "error while idle", 0);
		http_pool_dispatch(conn->pool);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (http_parse_eof(req)) {
			conn->eof = 1;
			http_conn_response(conn);
			return;
		}
		xasprintf(&why, "connection closed %s", req->got_bytes ?
		    "mid-response" : "before response");
	} else if (conn->pool->tls && req->pstate == HTTP_P_UNTIL_CLOSE)
		xasprintf(&why, "tls: response truncated (%s)", tls_error(bev));
	else if (conn->pool->tls)
		xasprintf(&why, "tls: %s", tls_error(bev));
	else if (saved != 0)
		xasprintf(&why, "%s", strerror(saved));
	else
		why = xstrdup("connection error");
	http_conn_fail(conn, why, 1);
	free(why);
}

static void
http_conn_idle_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_conn	*conn = arg;

	http_conn_close(conn, "idle", 1);
}

static void
http_conn_free(struct http_conn *conn)
{
	if (conn->dial != NULL)
		http_dial_cancel(conn->dial);
	if (conn->bev != NULL) {
		if (conn->clean && conn->pool->tls)
			tls_shutdown(conn->bev);
		bufferevent_free(conn->bev);
	}
	event_free(conn->idle_timer);
	free(conn);
}

static void
http_reap(void)
{
	struct http_conn	*conn;

	while ((conn = TAILQ_FIRST(&http_dead)) != NULL) {
		TAILQ_REMOVE(&http_dead, conn, entry);
		http_conn_free(conn);
	}
}

static void
http_reap_cb(void *arg)
{
	http_reap_scheduled = 0;
	http_reap();
}

/* ------------------------------------------------------------------ */
/* Requests. */

/* 1 if value may go in a header: no CR, LF or other controls but HT. */
static int
http_check_value(const char *v)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return (0);
	}
	return (1);
}

/* Check one caller header "Name: value"; 0 or -1 with *errstr. */
static int
http_check_header(const char *h, const char **errstr)
{
	static const char	*ours[] = { "host", "content-length",
				    "transfer-encoding", "connection",
				    "keep-alive", "upgrade", "te" };
	const char		*colon;
	size_t			 i, n;

	if ((colon = http_header_colon(h)) == NULL) {
		*errstr = "invalid header name";
		return (-1);
	}
	if (!http_check_value(colon + 1)) {
		*errstr = "control character in header";
		return (-1);
	}
	n = colon - h;
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		if (strlen(ours[i]) == n && strncasecmp(h, ours[i], n) == 0) {
			*errstr = "header is set by http.c";
			return (-1);
		}
	}
	return (0);
}

/* Copy and check the arguments and build the request head. */
static int
http_req_setup(struct http_req *req, const struct http_request_args *args,
    const char **errstr)
{
	struct url	 url;
	struct evbuffer	*b;
	const char	*method, *p, **h;
	int		 defport, ua = 0, has_body;

	if (args == NULL) {
		*errstr = "no arguments";
		return (-1);
	}
	method = args->method != NULL ? args->method : "GET";
	if (*method == '\0' || strlen(method) > 20) {
		*errstr = "invalid method";
		return (-1);
	}
	for (p = method; *p != '\0'; p++) {
		if (!http_is_tchar(*p)) {
			*errstr = "invalid method";
			return (-1);
		}
	}
	if (args->url == NULL) {
		*errstr = "no URL";
		return (-1);
	}
	if (url_parse(args->url, &url, errstr) != 0)
		return (-1);
	if (strcmp(url.scheme, "http") != 0 &&
	    strcmp(url.scheme, "https") != 0) {
		*errstr = "scheme must be http or https";
		goto fail;
	}
	if (!http_valid_host(url.host)) {
		*errstr = "invalid host";
		goto fail;
	}
	if (args->body_len > 0 && args->body == NULL) {
		*errstr = "body_len without body";
		goto fail;
	}
	if (args->content_type != NULL &&
	    !http_check_value(args->content_type)) {
		*errstr = "control character in content type";
		goto fail;
	}
	for (h = args->headers; h != NULL && *h != NULL; h++) {
		if (http_check_header(*h, errstr) != 0)
			goto fail;
		if (strncasecmp(*h, "user-agent:", 11) == 0)
			ua = 1;
	}

	req->flags = args->flags;
	/* GET and HEAD change nothing (RFC 9110 9.2.1): safe to replay. */
	req->safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	req->timeout_ms = args->timeout_ms > 0 ? args->timeout_ms :
	    HTTP_DEFAULT_TIMEOUT;
	req->max_attempts = args->max_attempts > 0 ? args->max_attempts :
	    HTTP_DEFAULT_ATTEMPTS;
	if (req->max_attempts > HTTP_MAX_ATTEMPTS)
		req->max_attempts = HTTP_MAX_ATTEMPTS;
	if (args->log_name != NULL)
		req->log_name = xstrdup(args->log_name);
	else
		xasprintf(&req->log_name, "%s %s", method, url.host);
	req->is_head = strcmp(method, "HEAD") == 0;
	if (args->body_len > 0) {
		req->body = xmalloc(args->body_len);
		memcpy(req->body, args->body, args->body_len);
		req->body_len = args->body_len;
	}

	if ((b = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	evbuffer_add_printf(b, "%s %s HTTP/1.1\r\n", method, url.path);
	defport = url.tls ? 443 : 80;
	evbuffer_add_printf(b, strchr(url.host, ':') != NULL ?
	    "Host: [%s]" : "Host: %s", url.host);
	if (url.port != defport)
		evbuffer_add_printf(b, ":%d", url.port);
	evbuffer_add(b, "\r\n", 2);
	if (!ua)
		evbuffer_add_printf(b, "User-Agent: %s/%s\r\n",
		    INCIDENTD_NAME, VERSION);
	for (h = args->headers; h != NULL && *h != NULL; h++)
		evbuffer_add_printf(b, "%s\r\n", *h);
	if (args->content_type != NULL)
		evbuffer_add_printf(b, "Content-Type: %s\r\n",
		    args->content_type);
	has_body = args->body_len > 0 || args->content_type != NULL ||
	    strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0;
	if (has_body)
		evbuffer_add_printf(b, "Content-Length: %zu\r\n",
		    args->body_len);
	evbuffer_add_printf(b, "Connection: keep-alive\r\n\r\n");
	req->head_len = evbuffer_get_length(b);
	req->head = xmalloc(req->head_len);
	evbuffer_remove(b, req->head, req->head_len);
	evbuffer_free(b);

	req->pool = http_pool_get(url.tls, url.host, url.port);
	url_free(&url);
	return (0);
fail:
	url_free(&url);
	return (-1);
}

/* Start a request; cb runs exactly once, later, unless cancelled. */
struct http_req *
http_request(const struct http_request_args *args, http_cb cb, void *arg)
{
	struct http_req	*req;
	const char	*errstr = NULL;

	if (reactor_base == NULL)
		fatalx("%s: reactor not initialized", __func__);
	req = xcalloc(1, sizeof(*req));
	req->cb = cb;
	req->arg = arg;
	req->freecb = args->freecb;
	req->started = now_ms();
	if ((req->timer = evtimer_new(reactor_base, http_req_timer_cb,
	    req)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	if ((req->body_buf = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	TAILQ_INSERT_TAIL(&http_reqs, req, entry);
	http_ninflight++;

	if (http_req_setup(req, args, &errstr) != 0) {
		xasprintf(&req->error, "bad request: %s", errstr);
		http_req_finish(req);
		return (req);
	}
	http_req_attempt(req);
	return (req);
}

/* Forget the request: its callback will not run, its freecb does. */
void
http_cancel(struct http_req *req)
{
	struct http_conn	*conn;

	if (req == NULL || req->state == HTTP_REQ_CALLING)
		return;
	switch (req->state) {
	case HTTP_REQ_QUEUED:
		TAILQ_REMOVE(&req->pool->queue, req, qentry);
		break;
	case HTTP_REQ_ACTIVE:
		conn = req->conn;
		http_req_detach(req);
		/* A dialing connection is still useful to the queue. */
		if (conn != NULL && conn->state != HTTP_CONN_DIALING) {
			http_conn_close(conn, "request cancelled", 0);
			http_pool_dispatch(conn->pool);
		}
		break;
	default:
		break;
	}
	TAILQ_REMOVE(&http_reqs, req, entry);
	http_ninflight--;
	if (req->freecb != NULL)
		req->freecb(req->arg);
	http_req_free(req);
}

static void
http_req_free(struct http_req *req)
{
	http_req_reset(req);
	event_free(req->timer);
	evbuffer_free(req->body_buf);
	/* The head carries the caller's credentials. */
	if (req->head != NULL)
		explicit_bzero(req->head, req->head_len);
	if (req->body != NULL)
		explicit_bzero(req->body, req->body_len);
	free(req->head);
	free(req->body);
	free(req->log_name);
	free(req);
}

/* Forget the previous attempt's response. */
static void
http_req_reset(struct http_req *req)
{
	http_head_clear(&req->resp);
	evbuffer_drain(req->body_buf, evbuffer_get_length(req->body_buf));
	free(req->error);
	req->error = NULL;
	req->status = 0;
	req->sent = req->reused = req->got_bytes = 0;
	req->pstate = HTTP_P_STATUS;
	req->hdr_bytes = req->ntrailers = req->remaining = 0;
	req->conn_close = 0;
}

static void
http_req_attempt(struct http_req *req)
{
	req->attempts++;
	http_req_reset(req);
	req->fresh = 0;
	req->state = HTTP_REQ_QUEUED;
	TAILQ_INSERT_TAIL(&req->pool->queue, req, qentry);
	http_pool_dispatch(req->pool);
}

/* Same attempt again, first in line, on a fresh connection. */
static void
http_req_replay(struct http_req *req, const char *why)
{
	log_debug("http: %s: reused connection failed (%s), replaying",
	    req->log_name, why);
	http_req_reset(req);
	req->replayed = 1;
	req->fresh = 1;
	req->state = HTTP_REQ_QUEUED;
	TAILQ_INSERT_HEAD(&req->pool->queue, req, qentry);
	/* The caller dispatches. */
}

static void
http_req_bind(struct http_req *req, struct http_conn *conn)
{
	struct timeval	tv;

	req->conn = conn;
	conn->req = req;
	req->state = HTTP_REQ_ACTIVE;
	http_ms_to_tv(req->timeout_ms, &tv);
	evtimer_del(req->timer);
	evtimer_add(req->timer, &tv);
}

static void
http_req_detach(struct http_req *req)
{
	if (req->conn != NULL) {
		req->conn->req = NULL;
		req->conn = NULL;
	}
	evtimer_del(req->timer);
}

/* The attempt failed without a response. */
static void
http_req_fail(struct http_req *req, const char *why, int retryable)
{
	free(req->error);
	req->error = xstrdup(why);
	req->status = 0;
	if (retryable && !(req->flags & HTTP_NO_RETRY) &&
	    req->attempts < req->max_attempts &&
	    ((req->flags & HTTP_IDEMPOTENT) || !req->sent)) {
		http_req_retry(req, (long long)backoff_ms(req->attempts - 1,
		    500, 30000), why);
		return;
	}
	http_req_finish(req);
}

/* The attempt got a response: retry 429 and (if idempotent) 5xx. */
static void
http_req_result(struct http_req *req)
{
	const char	*ra;
	long long	 wait = -1;
	char		 why[32];

	if (req->flags & HTTP_NO_RETRY || req->attempts >= req->max_attempts)
		goto done;
	if (req->status != 429 && !(req->status >= 500 &&
	    (req->flags & HTTP_IDEMPOTENT)))
		goto done;
	if ((ra = http_req_header(req, "Retry-After")) != NULL)
		wait = http_parse_retry_after(ra, now_wall());
	if (wait < 0 && req->status == 429)
		wait = (long long)backoff_ms(req->attempts - 1, 1000, 60000);
	else if (wait < 0)
		wait = (long long)backoff_ms(req->attempts - 1, 500, 30000);
	snprintf(why, sizeof(why), "HTTP %d", req->status);
	if (wait > HTTP_MAX_WAIT_MS) {
		log_info("%s: %s, asked to wait %lld s: giving up",
		    req->log_name, why, wait / 1000);
		goto done;
	}
	http_req_retry(req, wait, why);
	return;
done:
	http_req_finish(req);
}

static void
http_req_retry(struct http_req *req, long long wait, const char *why)
{
	struct timeval	tv;

	log_info("%s: %s; retrying in %lld ms (attempt %d of %d)",
	    req->log_name, why, wait, req->attempts + 1, req->max_attempts);
	req->state = HTTP_REQ_WAITING;
	http_ms_to_tv(wait, &tv);
	evtimer_del(req->timer);
	evtimer_add(req->timer, &tv);
}

static void
http_req_finish(struct http_req *req)
{
	static const struct timeval	 now = { 0, 0 };

	req->state = HTTP_REQ_DONE;
	evtimer_del(req->timer);
	evtimer_add(req->timer, &now);
}

static void
http_req_deliver(struct http_req *req)
{
	struct http_response	 resp;
	char			*body;
	size_t			 len;

	len = evbuffer_get_length(req->body_buf);
	body = xmalloc(len + 1);
	evbuffer_remove(req->body_buf, body, len);
	body[len] = '\0';

	memset(&resp, 0, sizeof(resp));
	resp.status = req->status;
	resp.error = req->status == 0 ? (req->error != NULL ? req->error :
	    "failed") : NULL;
	resp.body = body;
	resp.body_len = len;
	resp.attempts = req->attempts;
	resp.elapsed_ms = now_ms() - req->started;
	resp.priv = req;

	/* Out of the lists first: the callback may cancel or shut down. */
	TAILQ_REMOVE(&http_reqs, req, entry);
	http_ninflight--;
	req->state = HTTP_REQ_CALLING;
	if (req->cb != NULL)
		req->cb(&resp, req->arg);
	free(body);
	http_req_free(req);
}

static void
http_req_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_req		*req = arg;
	struct http_conn	*conn;
	struct http_pool	*pool;

	switch (req->state) {
	case HTTP_REQ_ACTIVE:
		conn = req->conn;
		pool = req->pool;
		http_req_detach(req);
		/* A dial goes on for the queue; a used connection is lost. */
		if (conn != NULL && conn->state != HTTP_CONN_DIALING)
			http_conn_close(conn, "request timed out", 0);
		http_req_fail(req, "timeout", 1);
		http_pool_dispatch(pool);
		break;
	case HTTP_REQ_WAITING:
		http_req_attempt(req);
		break;
	case HTTP_REQ_DONE:
		http_req_deliver(req);
		break;
	default:
		break;
	}
}

static const char *
http_req_header(const struct http_req *req, const char *name)
{
	return (http_head_get(&req->resp, name));
}

/* Case-insensitive response header lookup (the first one). */
const char *
http_response_header(const struct http_response *resp, const char *name)
{
	if (resp == NULL || resp->priv == NULL || name == NULL)
		return (NULL);
	return (http_req_header(resp->priv, name));
}

/*
 * The proxy setting changed (a reload): close the idle connections that
 * were dialled the old way. Busy ones are closed when their response is
 * read (http_conn_available), so none is reused on the old route.
 */
void
http_reroute(void)
{
	struct http_pool	*pool;
	struct http_conn	*conn, *next;

	TAILQ_FOREACH(pool, &http_pools, entry) {
		TAILQ_FOREACH_SAFE(conn, &pool->idle, ientry, next) {
			if (conn->route_gen != proxy_generation())
				http_conn_close(conn,
				    "the proxy setting changed", 1);
		}
	}
}

/* Requests started and not yet completed or cancelled. */
int
http_inflight(void)
{
	return (http_ninflight);
}

/* Connections per (tls, host, port); at least 1. */
void
http_set_max_per_host(int n)
{
	struct http_pool	*pool, *tpool;

	http_max_per_host = n < 1 ? 1 : n;
	TAILQ_FOREACH_SAFE(pool, &http_pools, entry, tpool)
		http_pool_dispatch(pool);
}

/* Cancel every request and dial and free every connection and pool. */
void
http_shutdown(void)
{
	struct http_req		*req;
	struct http_conn	*conn;
	struct http_dial	*d;
	struct http_pool	*pool;

	while ((req = TAILQ_FIRST(&http_reqs)) != NULL)
		http_cancel(req);
	while ((conn = TAILQ_FIRST(&http_conns)) != NULL)
		http_conn_close(conn, "shutting down", 1);
	http_reap();
	/* Only dials of other users (ws.c) are left. */
	while ((d = TAILQ_FIRST(&http_dials)) != NULL)
		http_dial_cancel(d);
	while ((pool = TAILQ_FIRST(&http_pools)) != NULL)
		http_pool_free(pool);
	/* A pending reap hook finds nothing; a new one may be needed. */
	http_reap_scheduled = 0;
}

/* ------------------------------------------------------------------ */
/* Response parsing. */

/*
 * The response head parser, shared with ws.c's handshake: one reading of
 * RFC 9112 for every response incidentd takes. Strict on purpose: no
 * obsolete line folding (a folded line could smuggle a header past a
 * proxy that unfolds differently), header names are tokens, values hold
 * no control characters but HT, and the count and size are bounded.
 */

/* "HTTP/1.1 200 OK" (the reason phrase may be empty or absent). */
int
http_head_status(struct http_head *h, const char *line, const char **errstr)
{
	int	i;

	if (strncmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ')
		goto fail;
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)line[i]))
			goto fail;
	}
	if (line[12] != ' ' && line[12] != '\0')
		goto fail;
	if (!http_check_value(line + 12))
		goto fail;
	h->minor = line[7] - '0';
	h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (h->status < 100 || h->status > 599)
		goto fail;
	return (0);
fail:
	h->status = 0;
	*errstr = "bad response: malformed status line";
	return (-1);
}

/*
 * One header line "Name: value" (without its end of line) added to h,
 * or only checked if h is NULL (trailers). 0, or -1 with *errstr.
 */
int
http_head_header(struct http_head *h, const char *line, const char **errstr)
{
	const char	*colon, *v, *e;

	if (*line == ' ' || *line == '\t') {
		*errstr = "bad response: obsolete header line folding";
		return (-1);
	}
	if ((colon = http_header_colon(line)) == NULL) {
		*errstr = "bad response: malformed header";
		return (-1);
	}
	if (!http_check_value(colon + 1)) {
		*errstr = "bad response: control character in header";
		return (-1);
	}
	if (h == NULL)
		return (0);
	if (h->nhdrs >= HTTP_MAX_HEADERS) {
		*errstr = "bad response: too many headers";
		return (-1);
	}
	v = colon + 1;
	v += strspn(v, " \t");
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h->hdrs = xreallocarray(h->hdrs, h->nhdrs + 1, sizeof(*h->hdrs));
	h->hdrs[h->nhdrs].name = xstrndup(line, colon - line);
	h->hdrs[h->nhdrs].value = xstrndup(v, e - v);
	h->nhdrs++;
	return (0);
}

/*
 * A complete head of len bytes: status line, headers, the empty line and
 * nothing after it; lines end in CRLF or LF. 0, or -1 with *errstr (h is
 * then cleared).
 */
int
http_head_parse(struct http_head *h, const char *head, size_t len,
    const char **errstr)
{
	const char	*p = head, *end = head + len, *nl;
	char		*line;
	size_t		 n;
	int		 rv, first = 1;

	memset(h, 0, sizeof(*h));
	if (len > HTTP_MAX_HEADER_BYTES) {
		*errstr = "bad response: headers too large";
		return (-1);
	}
	if (memchr(head, '\0', len) != NULL) {
		*errstr = "bad response: NUL in header";
		return (-1);
	}
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			break;
		n = nl - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		line = xstrndup(p, n);
		p = nl + 1;
		if (first)
			rv = http_head_status(h, line, errstr);
		else if (*line == '\0') {
			free(line);
			if (p != end) {
				*errstr = "bad response: bytes after the head";
				goto fail;
			}
			return (0);
		} else
			rv = http_head_header(h, line, errstr);
		free(line);
		if (rv != 0)
			goto fail;
		first = 0;
	}
	*errstr = first ? "bad response: empty response" :
	    "bad response: incomplete head";
fail:
	http_head_clear(h);
	return (-1);
}

/* The first header called name (case-insensitive), or NULL. */
const char *
http_head_get(const struct http_head *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->nhdrs; i++) {
		if (strcasecmp(h->hdrs[i].name, name) == 0)
			return (h->hdrs[i].value);
	}
	return (NULL);
}

/* Free the headers; h can be used again. */
void
http_head_clear(struct http_head *h)
{
	size_t	i;

	for (i = 0; i < h->nhdrs; i++) {
		free(h->hdrs[i].name);
		free(h->hdrs[i].value);
	}
	free(h->hdrs);
	memset(h, 0, sizeof(*h));
}

/*
 * Take one line (LF or CRLF) of at most max bytes with its end of line.
 * Returns 1 with *line (caller frees) and *used set, 0 if more input is
 * needed, -1 if the line is too long, -2 if it holds a NUL.
 */
static int
http_getline(struct evbuffer *in, size_t max, char **line, size_t *used)
{
	struct evbuffer_ptr	 p;
	size_t			 eol;

	p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (p.pos == -1)
		return (evbuffer_get_length(in) >= max ? -1 : 0);
	if ((size_t)p.pos + eol > max)
		return (-1);
	*line = xmalloc(p.pos + 1);
	evbuffer_remove(in, *line, p.pos);
	(*line)[p.pos] = '\0';
	evbuffer_drain(in, eol);
	*used = p.pos + eol;
	if (memchr(*line, '\0', p.pos) != NULL) {
		free(*line);
		*line = NULL;
		return (-2);
	}
	return (1);
}

/* 1 if the comma-separated list v holds token (case-insensitive). */
static int
http_has_token(const char *v, const char *token)
{
	size_t	n, tlen = strlen(token);

	while (*v != '\0') {
		v += strspn(v, " \t,");
		n = strcspn(v, ",");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == tlen && strncasecmp(v, token, n) == 0)
			return (1);
		v += strcspn(v, ",");
	}
	return (0);
}

static int
http_parse_status(struct http_req *req, const char *line, const char **bad)
{
	if (http_head_status(&req->resp, line, bad) != 0) {
		req->status = 0;
		return (-1);
	}
	req->status = req->resp.status;
	req->pstate = HTTP_P_HEADERS;
	return (0);
}

/*
 * One header (or trailer) line; an empty line ends the block. Returns
 * 0 to go on, 1 if the response is complete, -1 if it is malformed.
 */
static int
http_parse_header(struct http_req *req, char *line, int trailer,
    const char **bad)
{
	if (*line == '\0') {
		if (trailer) {
			req->pstate = HTTP_P_DONE;
			return (1);
		}
		return (http_headers_done(req, bad));
	}
	if (!trailer)
		return (http_head_header(&req->resp, line, bad));
	/* Checked and dropped: nothing here needs them. */
	if (http_head_header(NULL, line, bad) != 0)
		return (-1);
	if (++req->ntrailers > HTTP_MAX_HEADERS) {
		*bad = "bad response: too many trailers";
		return (-1);
	}
	return (0);
}

/* The header block is complete: pick the body framing (RFC 9112 6.3). */
static int
http_headers_done(struct http_req *req, const char **bad)
{
	const char	*v, *p;
	size_t		 i, n, te = 0, cl_seen = 0;
	long long	 cl = -1, one;
	int		 chunked = 0;

	if (req->status < 200) {
		if (req->status == 101) {
			*bad = "bad response: unexpected 101";
			return (-1);
		}
		/* Interim response (100 Continue): wait for the real one. */
		http_head_clear(&req->resp);
		req->status = 0;
		req->pstate = HTTP_P_STATUS;
		return (0);
	}
	if (req->resp.minor == 0)
		req->conn_close = 1;
	for (i = 0; i < req->resp.nhdrs; i++) {
		v = req->resp.hdrs[i].value;
		if (strcasecmp(req->resp.hdrs[i].name, "Connection") == 0) {
			if (http_has_token(v, "close"))
				req->conn_close = 1;
		} else if (strcasecmp(req->resp.hdrs[i].name,
		    "Transfer-Encoding") == 0) {
			te++;
			/* We send no TE: chunked is the one coding allowed. */
			p = v;
			while (*p != '\0') {
				p += strspn(p, " \t,");
				if (*p == '\0')
					break;
				n = strcspn(p, ",");
				while (n > 0 && (p[n - 1] == ' ' ||
				    p[n - 1] == '\t'))
					n--;
				if (n != 7 || chunked ||
				    strncasecmp(p, "chunked", 7) != 0) {
					*bad = "bad response: unsupported "
					    "transfer coding";
					return (-1);
				}
				chunked = 1;
				p += strcspn(p, ",");
			}
		} else if (strcasecmp(req->resp.hdrs[i].name,
		    "Content-Length") == 0) {
			cl_seen++;
			/* "42" or a list of equal values ("42, 42"). */
			p = v;
			do {
				p += strspn(p, " \t,");
				if (!isdigit((unsigned char)*p))
					goto badlen;
				one = 0;
				while (isdigit((unsigned char)*p)) {
					one = one * 10 + (*p++ - '0');
					if (one > HTTP_MAX_BODY) {
						*bad = "bad response: body too "
						    "large";
						return (-1);
					}
				}
				p += strspn(p, " \t");
				if ((*p != ',' && *p != '\0') ||
				    (cl != -1 && one != cl))
					goto badlen;
				cl = one;
			} while (*p != '\0' && p[strspn(p, " \t,")] != '\0');
		}
	}
	if (te > 0 && !chunked) {
		*bad = "bad response: unsupported transfer coding";
		return (-1);
	}
	if (req->is_head || req->status == 204 || req->status == 304) {
		req->pstate = HTTP_P_DONE;
		return (1);
	}
	if (chunked) {
		/* Both framings: smuggling territory, do not reuse. */
		if (cl_seen)
			req->conn_close = 1;
		req->pstate = HTTP_P_CHUNK_SIZE;
		return (0);
	}
	if (cl >= 0) {
		req->remaining = (size_t)cl;
		req->pstate = cl > 0 ? HTTP_P_BODY : HTTP_P_DONE;
		return (cl > 0 ? 0 : 1);
	}
	req->conn_close = 1;
	req->pstate = HTTP_P_UNTIL_CLOSE;
	return (0);
badlen:
	*bad = "bad response: invalid Content-Length";
	return (-1);
}

/* Parse what input there is: 1 complete, 0 need more, -1 malformed. */
static int
http_parse(struct http_req *req, struct evbuffer *in, const char **bad)
{
	char		*line, *p;
	size_t		 used, n, have;
	unsigned long	 size;
	int		 rv, d;

	for (;;) {
		switch (req->pstate) {
		case HTTP_P_STATUS:
		case HTTP_P_HEADERS:
		case HTTP_P_TRAILERS:
			rv = http_getline(in, HTTP_MAX_HEADER_BYTES -
			    req->hdr_bytes, &line, &used);
			if (rv == 0)
				return (0);
			if (rv == -2) {
				*bad = "bad response: NUL in header";
				return (-1);
			}
			if (rv == -1) {
				*bad = "bad response: headers too large";
				return (-1);
			}
			req->hdr_bytes += used;
			if (req->pstate == HTTP_P_STATUS)
				rv = http_parse_status(req, line, bad);
			else
				rv = http_parse_header(req, line,
				    req->pstate == HTTP_P_TRAILERS, bad);
			free(line);
			if (rv != 0)
				return (rv);
			break;
		case HTTP_P_BODY:
		case HTTP_P_CHUNK_DATA:
			have = evbuffer_get_length(in);
			n = have < req->remaining ? have : req->remaining;
			if (n > 0)
				evbuffer_remove_buffer(in, req->body_buf, n);
			req->remaining -= n;
			if (req->remaining > 0)
				return (0);
			if (req->pstate == HTTP_P_BODY) {
				req->pstate = HTTP_P_DONE;
				return (1);
			}
			req->pstate = HTTP_P_CHUNK_END;
			break;
		case HTTP_P_CHUNK_SIZE:
			rv = http_getline(in, HTTP_MAX_CHUNK_LINE, &line,
			    &used);
			if (rv == 0)
				return (0);
			if (rv < 0) {
				*bad = "bad response: invalid chunk size";
				return (-1);
			}
			size = 0;
			for (p = line; isxdigit((unsigned char)*p); p++) {
				d = isdigit((unsigned char)*p) ? *p - '0' :
				    tolower((unsigned char)*p) - 'a' + 10;
				size = size * 16 + d;
				if (size > HTTP_MAX_BODY)
					break;
			}
			rv = p != line && (*p == '\0' || *p == ';' ||
			    *p == ' ' || *p == '\t');
			free(line);
			if (size > HTTP_MAX_BODY || size > HTTP_MAX_BODY -
			    evbuffer_get_length(req->body_buf)) {
				*bad = "bad response: body too large";
				return (-1);
			}
			if (!rv) {
				*bad = "bad response: invalid chunk size";
				return (-1);
			}
			if (size == 0)
				req->pstate = HTTP_P_TRAILERS;
			else {
				req->remaining = size;
				req->pstate = HTTP_P_CHUNK_DATA;
			}
			break;
		case HTTP_P_CHUNK_END:
			rv = http_getline(in, 2, &line, &used);
			if (rv == 0)
				return (0);
			if (rv == 1) {
				rv = *line == '\0' ? 1 : -1;
				free(line);
			}
			if (rv < 0) {
				*bad = "bad response: missing CRLF after chunk";
				return (-1);
			}
			req->pstate = HTTP_P_CHUNK_SIZE;
			break;
		case HTTP_P_UNTIL_CLOSE:
			n = evbuffer_get_length(in);
			if (n > HTTP_MAX_BODY -
			    evbuffer_get_length(req->body_buf)) {
				*bad = "bad response: body too large";
				return (-1);
			}
			evbuffer_remove_buffer(in, req->body_buf, n);
			return (0);
		case HTTP_P_DONE:
			return (1);
		}
	}
}

/* The peer closed: 1 if that ends the body (close-delimited), else 0. */
static int
http_parse_eof(struct http_req *req)
{
	if (req->pstate != HTTP_P_UNTIL_CLOSE)
		return (0);
	/* The close (close_notify over TLS) ends the body. */
	req->pstate = HTTP_P_DONE;
	req->conn_close = 1;
	return (1);
}

/*
 * For the fuzzers and tests: parse a response as if read from a socket,
 * the bytes arriving in pieces that end at cuts (ascending offsets), the
 * peer closing after the last if eof. 1 with *resp filled (body
 * NUL-terminated, headers by http_response_header) until
 * http_parse_free, or -1 with *errstr set (the result still needs
 * http_parse_free). Nothing is dialled or sent.
 */
struct http_req *
http_parse_pieces(const char *data, size_t len, const size_t *cuts,
    size_t ncuts, int is_head, int eof, struct http_response *resp,
    const char **errstr)
{
	struct http_req	*req;
	struct evbuffer	*in;
	size_t		 i, at = 0, end;
	int		 rv = 0;
	char		*body;

	req = xcalloc(1, sizeof(*req));
	req->is_head = is_head;
	if ((req->body_buf = evbuffer_new()) == NULL ||
	    (in = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	memset(resp, 0, sizeof(*resp));
	*errstr = NULL;
	for (i = 0; i <= ncuts && rv == 0; i++) {
		end = i < ncuts && cuts[i] < len ? cuts[i] : len;
		if (end < at)
			continue;
		evbuffer_add(in, data + at, end - at);
		at = end;
		rv = http_parse(req, in, errstr);
	}
	if (rv == 0 && eof && http_parse_eof(req))
		rv = 1;
	evbuffer_free(in);
	if (rv != 1) {
		if (rv == 0)
			*errstr = "connection closed mid-response";
		return (req);
	}
	len = evbuffer_get_length(req->body_buf);
	body = xmalloc(len + 1);
	evbuffer_remove(req->body_buf, body, len);
	body[len] = '\0';
	req->body = body;
	req->body_len = len;
	resp->status = req->status;
	resp->body = body;
	resp->body_len = len;
	resp->attempts = 1;
	resp->priv = req;
	return (req);
}

void
http_parse_free(struct http_req *req)
{
	if (req == NULL)
		return;
	http_head_clear(&req->resp);
	evbuffer_free(req->body_buf);
	free(req->body);
	free(req);
}

/* ------------------------------------------------------------------ */
/* Retry-After. */

/*
 * An HTTP-date in any of the three forms of RFC 9110 5.6.7, GMT only:
 * "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT" and
 * asctime's "Sun Nov  6 08:49:37 1994".
 */
static int
http_parse_date(const char *s, time_t now, time_t *t)
{
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr",
				    "May", "Jun", "Jul", "Aug", "Sep", "Oct",
				    "Nov", "Dec" };
	static const char	*days[] = { "Mon", "Tue", "Wed", "Thu", "Fri",
				    "Sat", "Sun" };
	static const char	*longdays[] = { "Monday", "Tuesday",
				    "Wednesday", "Thursday", "Friday",
				    "Saturday", "Sunday" };
	struct tm		 tm, nowtm;
	char			 wd[16], mon[8];
	int			 day, year, hh, mm, ss, n, i, ok, len;
	int			 rfc850 = 0;

	len = (int)strlen(s);
	n = -1;
	if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n",
	    wd, &day, mon, &year, &hh, &mm, &ss, &n) == 7 && n == len)
		;
	else if ((n = -1, sscanf(s,
	    "%9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n",
	    wd, &day, mon, &year, &hh, &mm, &ss, &n)) == 7 && n == len)
		rfc850 = 1;
	else if ((n = -1, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d "
	    "%4d%n", wd, mon, &day, &hh, &mm, &ss, &year, &n)) == 7 &&
	    n == len)
		;
	else
		return (-1);

	ok = 0;
	for (i = 0; i < 7; i++) {
		if (strcmp(wd, rfc850 ? longdays[i] : days[i]) == 0)
			ok = 1;
	}
	if (!ok)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = -1;
	for (i = 0; i < 12; i++) {
		if (strcmp(mon, months[i]) == 0)
			tm.tm_mon = i;
	}
	if (tm.tm_mon == -1 || day < 1 || day > 31 || hh < 0 || hh > 23 ||
	    mm < 0 || mm > 59 || ss < 0 || ss > 60 || year < 0)
		return (-1);
	if (rfc850) {
		/* Two-digit year: the latest one not 50 years ahead. */
		if (gmtime_r(&now, &nowtm) == NULL)
			return (-1);
		year += (nowtm.tm_year + 1900) / 100 * 100;
		if (year > nowtm.tm_year + 1900 + 50)
			year -= 100;
	}
	if (year < 1970 || year > 9999)
		return (-1);
	tm.tm_year = year - 1900;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	if ((*t = timegm(&tm)) == (time_t)-1)
		return (-1);
	return (0);
}

/* Retry-After (delay-seconds or HTTP-date) in ms from now; -1 if bad. */
long long
http_parse_retry_after(const char *s, time_t now)
{
	char		 buf[64];
	const char	*p;
	size_t		 len;
	long long	 secs = 0;
	time_t		 t;

	if (s == NULL)
		return (-1);
	s += strspn(s, " \t");
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (isdigit((unsigned char)buf[0])) {
		for (p = buf; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p))
				return (-1);
			/* Anything this long means "much later" anyway. */
			if (secs < 1000000000LL)
				secs = secs * 10 + (*p - '0');
		}
		if (secs > 1000000000LL)
			secs = 1000000000LL;
		return (secs * 1000);
	}
	if (http_parse_date(buf, now, &t) != 0)
		return (-1);
	if (t <= now)
		return (0);
	if (t - now > 1000000000LL)
		return (1000000000LL * 1000);
	return ((long long)(t - now) * 1000);
}
