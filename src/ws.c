/*
 * ws.c: WebSocket client (RFC 6455) over a bufferevent from http_dial.
 *
 * libevent 2.1 has no WebSocket client, so the HTTP Upgrade handshake is
 * done here by hand (its response head read by http.c's parser, the
 * one every response goes through) and the framing (masking,
 * fragmentation, ping/pong, the close handshake, UTF-8 checks) is left to
 * wslay's event API, which reads from the bufferevent's input and writes
 * to its output.
 *
 * Lifetime: a struct ws belongs to this file. The user's closed callback
 * runs at most once, and after it (or after ws_close) the user must not
 * touch the ws again: it is freed here, always on a later loop turn via
 * reactor_defer and never inside a bufferevent callback. A clean close
 * lingers briefly so our close frame (and TLS close_notify) get out.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "incidentd.h"

#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_HEADER_MAX		(16 * 1024)	/* the whole 101 head */
#define WS_OUTPUT_HIGH		(1024 * 1024)	/* pause reads above */
#define WS_OUTPUT_LOW		(512 * 1024)	/* resume below */
#define WS_QUEUE_MAX		(16 * 1024 * 1024) /* refuse sends above */
#define WS_DIAL_TIMEOUT_MS	10000
#define WS_HANDSHAKE_TIMEOUT_MS	10000
#define WS_LINGER_MS		2000
#define WS_READ_MAX		(256 * 1024)	/* drained per read cb */
#define WS_READ_CHUNK		(64 * 1024)	/* one read(2) */
#define WS_MASK_POOL		4096		/* mask bytes per getrandom */

enum ws_state {
	WS_DIALING = 0,		/* waiting for http_dial */
	WS_HANDSHAKE,		/* Upgrade sent, waiting for 101 */
	WS_OPEN,		/* frames flow; user callbacks run */
	WS_CLOSING,		/* our close is out; no callbacks */
	WS_DONE			/* torn down; free is deferred */
};

struct ws {
	enum ws_state		 state;
	struct ws_cbs		 cbs;
	void			*arg;
	char			*host;
	int			 port;
	int			 tls;
	char			*path;	/* may hold a secret ticket */
	int			 ping_interval_ms;
	int			 pong_timeout_ms;

	struct http_dial	*dial;
	int			 in_dial;	/* in http_dial() */
	int			 dial_done;	/* ws_dial_cb ran */
	char			*dial_error;	/* reported in it */
	struct bufferevent	*bev;
	wslay_event_context_ptr	 ctx;
	char			 key[25];

	int			 reported;	/* no closed cb now */
	int			 recv_depth;	/* in wslay_event_recv */
	int			 close_pending;	/* ws_close in recv */
	int			 paused;	/* output full */
	int			 send_failed;	/* report deferred */
	uint64_t		 pings;

	struct event		 hs_timer;	/* handshake deadline */
	struct event		 ping_timer;	/* every interval */
	struct event		 pong_timer;	/* silence after ping */
	struct event		 linger_timer;	/* clean close bound */

	TAILQ_ENTRY(ws)		 entry;
};
TAILQ_HEAD(ws_list, ws);

/* Every ws until its deferred free, so none is lost at shutdown. */
static struct ws_list	ws_all = TAILQ_HEAD_INITIALIZER(ws_all);

static struct ws *ws_new(const struct url *, const struct ws_cbs *, void *,
		    int, int);
static void	ws_dial_cb(struct bufferevent *, const char *, void *);
static void	ws_dial_failed_cb(void *);
static void	ws_send_failed_cb(void *);
static const char *ws_dial_reason(const char *);
static void	ws_start_handshake(struct ws *);
static void	ws_handshake_read(struct ws *);
static int	ws_check_response(struct ws *, const char *, size_t, char **);
static int	ws_token_list_has(const char *, const char *);
static int	ws_start_framing(struct ws *);
static void	ws_recv(struct ws *);
static void	ws_drain_socket(struct ws *);
static int	ws_write(struct ws *);
static void	ws_check_terminal(struct ws *);
static void	ws_fail(struct ws *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	ws_report(struct ws *, const char *);
static void	ws_linger(struct ws *);
static void	ws_linger_check(struct ws *);
static void	ws_finalize(struct ws *, int);
static void	ws_free_cb(void *);
static void	ws_read_cb(struct bufferevent *, void *);
static void	ws_write_cb(struct bufferevent *, void *);
static void	ws_event_cb(struct bufferevent *, short, void *);
static void	ws_hs_timer_cb(evutil_socket_t, short, void *);
static void	ws_ping_timer_cb(evutil_socket_t, short, void *);
static void	ws_pong_timer_cb(evutil_socket_t, short, void *);
static void	ws_linger_timer_cb(evutil_socket_t, short, void *);
static ssize_t	ws_wslay_recv_cb(wslay_event_context_ptr, uint8_t *,
		    size_t, int, void *);
static ssize_t	ws_wslay_send_cb(wslay_event_context_ptr, const uint8_t *,
		    size_t, int, void *);
static int	ws_wslay_genmask_cb(wslay_event_context_ptr, uint8_t *,
		    size_t, void *);
static void	ws_wslay_msg_cb(wslay_event_context_ptr,
		    const struct wslay_event_on_msg_recv_arg *, void *);
static void	ws_random(void *, size_t);
static void	ws_set_timer(struct event *, int);

/* Fill buf with random bytes; a failing kernel RNG is a broken host. */
static void
ws_random(void *buf, size_t len)
{
	ssize_t	n;

	n = getrandom(buf, len, 0);
	if (n == (ssize_t)len)
		return;
	if (RAND_bytes(buf, (int)len) != 1)
		fatalx("%s: no source of random bytes", __func__);
}

static void
ws_set_timer(struct event *ev, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Sec-WebSocket-Accept for key: base64(SHA1(key + GUID)). */
void
ws_accept_key(const char *key, char out[29])
{
	EVP_MD_CTX	*md;
	unsigned char	 digest[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0;
	char		*b64;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(md, key, strlen(key)) != 1 ||
	    EVP_DigestUpdate(md, WS_GUID, strlen(WS_GUID)) != 1 ||
	    EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 20)
		fatalx("%s: SHA1 failed", __func__);
	EVP_MD_CTX_free(md);
	b64 = base64_encode(digest, dlen);
	strlcpy(out, b64, 29);
	free(b64);
}

/* A fresh Sec-WebSocket-Key: 16 random bytes, base64 (24 chars). */
void
ws_new_key(char out[25])
{
	unsigned char	 raw[16];
	char		*b64;

	ws_random(raw, sizeof(raw));
	b64 = base64_encode(raw, sizeof(raw));
	strlcpy(out, b64, 25);
	free(b64);
}

/*
 * Connect to a ws:// or wss:// URL. Returns NULL (and calls nothing) if
 * the URL is not one; otherwise exactly one of these follows: the closed
 * callback (with a reason) or a ws_close by the caller. Callbacks never
 * run before ws_open returns.
 */
struct ws *
ws_open(const char *url, const struct ws_cbs *cbs, void *arg,
    int ping_interval_ms, int pong_timeout_ms)
{
	struct ws		*ws;
	struct http_dial	*dial;
	struct url		 u;
	const char		*errstr;

	if (url_parse(url, &u, &errstr) != 0) {
		log_warnx("websocket: bad URL: %s", errstr);
		return (NULL);
	}
	if (strcmp(u.scheme, "ws") != 0 && strcmp(u.scheme, "wss") != 0) {
		log_warnx("websocket: URL scheme must be ws or wss, not %s",
		    u.scheme);
		url_free(&u);
		return (NULL);
	}

	ws = ws_new(&u, cbs, arg, ping_interval_ms, pong_timeout_ms);
	url_free(&u);

	log_debug("websocket: connecting to %s:%d%s", ws->host, ws->port,
	    ws->tls ? " (TLS)" : "");
	ws->in_dial = 1;
	dial = http_dial(ws->host, ws->port, ws->tls, WS_DIAL_TIMEOUT_MS,
	    ws_dial_cb, ws);
	ws->in_dial = 0;
	/* The callback may have run already; then the handle is spent. */
	if (!ws->dial_done) {
		ws->dial = dial;
		if (dial == NULL)
			ws->dial_error = xstrdup("connect: could not start");
	}
	if (ws->dial_error != NULL) {
		/* The caller does not hold the ws yet: report next turn. */
		reactor_defer(ws_dial_failed_cb, ws);
	}
	return (ws);
}

/* A ws for URL u, not yet connected. */
static struct ws *
ws_new(const struct url *u, const struct ws_cbs *cbs, void *arg,
    int ping_interval_ms, int pong_timeout_ms)
{
	struct ws	*ws;

	ws = xcalloc(1, sizeof(*ws));
	ws->state = WS_DIALING;
	if (cbs != NULL)
		ws->cbs = *cbs;
	ws->arg = arg;
	ws->host = xstrdup(u->host);
	ws->port = u->port;
	ws->tls = u->tls;
	ws->path = xstrdup(u->path);
	ws->ping_interval_ms = ping_interval_ms;
	ws->pong_timeout_ms = pong_timeout_ms;

	evtimer_assign(&ws->hs_timer, reactor_base, ws_hs_timer_cb, ws);
	event_assign(&ws->ping_timer, reactor_base, -1, EV_PERSIST,
	    ws_ping_timer_cb, ws);
	evtimer_assign(&ws->pong_timer, reactor_base, ws_pong_timer_cb, ws);
	evtimer_assign(&ws->linger_timer, reactor_base, ws_linger_timer_cb,
	    ws);
	TAILQ_INSERT_TAIL(&ws_all, ws, entry);
	return (ws);
}

/*
 * For the fuzzers and tests: a ws over an already connected bev (taken
 * over), its Upgrade request sent with the given key (24 characters of
 * base64), so a peer can answer it with a known accept value. Then as
 * ws_open: callbacks, ws_close.
 */
struct ws *
ws_attach(struct bufferevent *bev, const char *key, const struct ws_cbs *cbs,
    void *arg)
{
	struct ws	*ws;
	struct url	 u;
	const char	*errstr;

	if (strlen(key) != sizeof(ws->key) - 1 ||
	    url_parse("ws://localhost/", &u, &errstr) != 0)
		return (NULL);
	ws = ws_new(&u, cbs, arg, 0, 0);
	url_free(&u);
	ws->dial_done = 1;
	ws->bev = bev;
	strlcpy(ws->key, key, sizeof(ws->key));
	ws_start_handshake(ws);
	return (ws);
}

static void
ws_dial_failed_cb(void *arg)
{
	struct ws	*ws = arg;

	if (ws->state != WS_DIALING)
		return;		/* ws_close came first */
	ws_fail(ws, 0, "%s", ws_dial_reason(ws->dial_error));
}

/* http_dial's errors say which step failed ("dns: ...", "tls: ..."). */
static const char *
ws_dial_reason(const char *error)
{
	static char	buf[256];

	if (error == NULL)
		return ("connect: failed");
	if (str_has_prefix(error, "connect: ") ||
	    str_has_prefix(error, "dns: ") || str_has_prefix(error, "tls: "))
		return (error);
	snprintf(buf, sizeof(buf), "connect: %s", error);
	return (buf);
}

static void
ws_send_failed_cb(void *arg)
{
	struct ws	*ws = arg;

	if (ws->state != WS_OPEN)
		return;
	ws_fail(ws, 0, "websocket: send failed");
}

static void
ws_dial_cb(struct bufferevent *bev, const char *error, void *arg)
{
	struct ws	*ws = arg;

	ws->dial = NULL;
	ws->dial_done = 1;
	if (ws->state != WS_DIALING) {
		/* Cancelled meanwhile (http_dial_cancel should prevent it). */
		if (bev != NULL)
			bufferevent_free(bev);
		return;
	}
	if (bev == NULL) {
		if (ws->in_dial) {
			free(ws->dial_error);
			ws->dial_error = xstrdup(ws_dial_reason(error));
			return;
		}
		ws_fail(ws, 0, "%s", ws_dial_reason(error));
		return;
	}
	ws->bev = bev;
	ws_new_key(ws->key);
	ws_start_handshake(ws);
}

/* Send the Upgrade request and wait for the 101. */
static void
ws_start_handshake(struct ws *ws)
{
	struct evbuffer	*out;
	int		 defport, v6;

	bufferevent_setcb(ws->bev, ws_read_cb, ws_write_cb, ws_event_cb, ws);
	bufferevent_set_timeouts(ws->bev, NULL, NULL);
	bufferevent_setwatermark(ws->bev, EV_READ | EV_WRITE, 0, 0);
	bufferevent_enable(ws->bev, EV_READ | EV_WRITE);

	defport = ws->tls ? 443 : 80;
	v6 = strchr(ws->host, ':') != NULL;
	out = bufferevent_get_output(ws->bev);
	evbuffer_add_printf(out, "GET %s HTTP/1.1\r\n", ws->path);
	if (ws->port == defport)
		evbuffer_add_printf(out, "Host: %s%s%s\r\n", v6 ? "[" : "",
		    ws->host, v6 ? "]" : "");
	else
		evbuffer_add_printf(out, "Host: %s%s%s:%d\r\n", v6 ? "[" : "",
		    ws->host, v6 ? "]" : "", ws->port);
	evbuffer_add_printf(out,
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "User-Agent: %s/%s\r\n"
	    "\r\n", ws->key, INCIDENTD_NAME, PACKAGE_VERSION);

	ws->state = WS_HANDSHAKE;
	ws_set_timer(&ws->hs_timer, WS_HANDSHAKE_TIMEOUT_MS);
}

/* True if the comma-separated list value contains token (any case). */
static int
ws_token_list_has(const char *value, const char *token)
{
	const char	*p = value, *end;
	size_t		 len, tlen = strlen(token);

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		len = end - p;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == tlen && strncasecmp(p, token, tlen) == 0)
			return (1);
		p = end;
	}
	return (0);
}

/*
 * Check a complete response head of len bytes against RFC 6455 section
 * 4.1; http.c parses it (one parser for every response head). On failure
 * *reason is a malloc'd message.
 */
static int
ws_check_response(struct ws *ws, const char *head, size_t len, char **reason)
{
	struct http_head	 h;
	const char		*err, *name, *value;
	char			 expect[29];
	int			 upgrade = 0, connection = 0, accepts = 0;
	int			 accept_ok = 0, rv = -1;
	size_t			 i;

	if (http_head_parse(&h, head, len, &err) != 0) {
		xasprintf(reason, "handshake: %s", err);
		return (-1);
	}
	if (h.minor != 1) {
		xasprintf(reason, "handshake: not an HTTP/1.1 response");
		goto out;
	}
	if (h.status != 101) {
		xasprintf(reason, "handshake: HTTP %d", h.status);
		goto out;
	}
	ws_accept_key(ws->key, expect);
	for (i = 0; i < h.nhdrs; i++) {
		name = h.hdrs[i].name;
		value = h.hdrs[i].value;
		if (strcasecmp(name, "Upgrade") == 0)
			upgrade |= ws_token_list_has(value, "websocket");
		else if (strcasecmp(name, "Connection") == 0)
			connection |= ws_token_list_has(value, "upgrade");
		else if (strcasecmp(name, "Sec-WebSocket-Accept") == 0) {
			accepts++;
			accept_ok = strcmp(value, expect) == 0;
		} else if (strcasecmp(name, "Sec-WebSocket-Extensions") == 0 &&
		    *value != '\0') {
			xasprintf(reason, "handshake: server chose an "
			    "extension we did not offer");
			goto out;
		} else if (strcasecmp(name, "Sec-WebSocket-Protocol") == 0 &&
		    *value != '\0') {
			xasprintf(reason, "handshake: server chose a "
			    "subprotocol we did not offer");
			goto out;
		}
	}
	if (!upgrade)
		xasprintf(reason, "handshake: missing Upgrade: websocket");
	else if (!connection)
		xasprintf(reason, "handshake: missing Connection: upgrade");
	else if (accepts == 0)
		xasprintf(reason, "handshake: missing Sec-WebSocket-Accept");
	else if (accepts != 1 || !accept_ok)
		xasprintf(reason, "handshake: bad Sec-WebSocket-Accept");
	else
		rv = 0;
out:
	http_head_clear(&h);
	return (rv);
}

/* Read the 101 response; bytes after its head are the first frames. */
static void
ws_handshake_read(struct ws *ws)
{
	struct evbuffer		*in = bufferevent_get_input(ws->bev);
	struct evbuffer_ptr	 p;
	size_t			 len;
	char			*head, *reason = NULL;

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1) {
		if (evbuffer_get_length(in) > WS_HEADER_MAX)
			ws_fail(ws, 1, "handshake: response head over %d "
			    "bytes", WS_HEADER_MAX);
		return;
	}
	len = (size_t)p.pos + 4;
	if (len > WS_HEADER_MAX) {
		ws_fail(ws, 1, "handshake: response head over %d bytes",
		    WS_HEADER_MAX);
		return;
	}
	head = xmalloc(len);
	if (evbuffer_remove(in, head, len) != (int)len)
		fatalx("%s: evbuffer_remove short", __func__);
	if (ws_check_response(ws, head, len, &reason) != 0) {
		free(head);
		ws_fail(ws, 1, "%s", reason);
		free(reason);
		return;
	}
	free(head);
	if (ws_start_framing(ws) != 0) {
		ws_fail(ws, 1, "websocket: out of memory");
		return;
	}
	log_debug("websocket: connected to %s:%d", ws->host, ws->port);
	if (ws->cbs.open != NULL)
		ws->cbs.open(ws, ws->arg);
	if (ws->state != WS_OPEN)
		return;		/* ws_close from the open callback */
	if (evbuffer_get_length(in) > 0)
		ws_recv(ws);
}

/* Hand the connection to wslay and start the liveness timers. */
static int
ws_start_framing(struct ws *ws)
{
	struct wslay_event_callbacks	cbs = {
		ws_wslay_recv_cb,
		ws_wslay_send_cb,
		ws_wslay_genmask_cb,
		NULL,
		NULL,
		NULL,
		ws_wslay_msg_cb
	};

	if (wslay_event_context_client_init(&ws->ctx, &cbs, ws) != 0) {
		ws->ctx = NULL;
		return (-1);
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MAX_MESSAGE);
	/* A TLS read callback then brings every record that is ready (see
	 * ws_drain_socket for plain sockets). */
	if (ws->tls && bufferevent_set_max_single_read(ws->bev,
	    WS_READ_MAX) != 0)
		log_debug("websocket: cannot raise the TLS read size");
	evtimer_del(&ws->hs_timer);
	ws->state = WS_OPEN;
	if (ws->ping_interval_ms > 0)
		ws_set_timer(&ws->ping_timer, ws->ping_interval_ms);
	return (0);
}

static ssize_t
ws_wslay_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *arg)
{
	struct ws	*ws = arg;
	int		 n;

	if (len > INT32_MAX)
		len = INT32_MAX;
	n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	return (n);
}

static ssize_t
ws_wslay_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
    size_t len, int flags, void *arg)
{
	struct ws	*ws = arg;

	/* The output evbuffer takes everything; backpressure is applied
	 * to reading instead (see ws_write). */
	if (evbuffer_add(bufferevent_get_output(ws->bev), data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return (-1);
	}
	return ((ssize_t)len);
}

/*
 * Masking keys (4 bytes a frame) come from a pool filled by one
 * getrandom() per WS_MASK_POOL bytes instead of a syscall per frame: a
 * burst of acks is hundreds of frames. They only need to be unpredictable
 * to whoever sees the traffic, not secret from this process.
 */
static int
ws_wslay_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    void *arg)
{
	static uint8_t	pool[WS_MASK_POOL];
	static size_t	left;
	size_t		n;

	while (len > 0) {
		if (left == 0) {
			ws_random(pool, sizeof(pool));
			left = sizeof(pool);
		}
		n = len < left ? len : left;
		memcpy(buf, pool + sizeof(pool) - left, n);
		explicit_bzero(pool + sizeof(pool) - left, n);
		left -= n;
		buf += n;
		len -= n;
	}
	return (0);
}

static void
ws_wslay_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct ws	*ws = arg;
	size_t		 rlen;

	if (m->opcode == WSLAY_CONNECTION_CLOSE) {
		rlen = m->msg_length > 2 ? m->msg_length - 2 : 0;
		if (rlen > 123)
			rlen = 123;
		log_debug("websocket: %s sent close (code %u%s%.*s)",
		    ws->host, m->status_code, rlen > 0 ? ": " : "",
		    (int)rlen, rlen > 0 ? (const char *)m->msg + 2 : "");
		return;
	}
	if (ws->state != WS_OPEN)
		return;	/* ws_close was called: deliver nothing */
	if (m->opcode == WSLAY_TEXT_FRAME && ws->cbs.message != NULL)
		ws->cbs.message(ws, m->msg != NULL ? (const char *)m->msg : "",
		    m->msg_length, ws->arg);
	/* Binary messages, pings and pongs need nothing from us. */
}

/* Feed everything in the input buffer to wslay, then flush replies. */
static void
ws_recv(struct ws *ws)
{
	int	rv;

	if (ws->pong_timeout_ms > 0)
		evtimer_del(&ws->pong_timer);	/* the peer is alive */
	ws->recv_depth++;
	rv = wslay_event_recv(ws->ctx);
	/* Every complete message is delivered: let the user commit and
	 * answer them all; its sends are flushed below, in one write. */
	if (rv == 0 && ws->state == WS_OPEN && ws->cbs.received != NULL)
		ws->cbs.received(ws, ws->arg);
	ws->recv_depth--;
	if (ws->close_pending) {
		/* ws_close was called from the message callback. */
		ws->close_pending = 0;
		if (ws_write(ws) != 0) {
			ws_finalize(ws, 0);
			return;
		}
		ws_linger(ws);
		return;
	}
	if (ws->state == WS_CLOSING) {
		if (rv != 0 || ws_write(ws) != 0) {
			ws_finalize(ws, 0);
			return;
		}
		ws_linger_check(ws);
		return;
	}
	if (ws->state != WS_OPEN)
		return;
	if (rv != 0) {
		ws_fail(ws, 0, "websocket: receive failed");
		return;
	}
	if (ws_write(ws) != 0) {
		ws_fail(ws, 0, "websocket: send failed");
		return;
	}
	ws_check_terminal(ws);
}

/* Let wslay write what it has queued; pause reading if output piles up. */
static int
ws_write(struct ws *ws)
{
	size_t	len;

	if (ws->ctx == NULL || ws->bev == NULL)
		return (0);
	if (wslay_event_send(ws->ctx) != 0)
		return (-1);
	len = evbuffer_get_length(bufferevent_get_output(ws->bev));
	if (!ws->paused && len > WS_OUTPUT_HIGH && ws->state == WS_OPEN) {
		/* The le-proxy pattern: resume from the drained write cb. */
		ws->paused = 1;
		bufferevent_disable(ws->bev, EV_READ);
		bufferevent_setwatermark(ws->bev, EV_WRITE, WS_OUTPUT_LOW, 0);
		log_debug("websocket: %s output over %d bytes, pausing reads",
		    ws->host, WS_OUTPUT_HIGH);
	}
	return (0);
}

/* wslay is done in both directions: the close handshake finished or
 * it failed the connection (oversized message, protocol error). */
static void
ws_check_terminal(struct ws *ws)
{
	char		reason[128];
	unsigned	code;

	if (wslay_event_want_read(ws->ctx) || wslay_event_want_write(ws->ctx))
		return;
	if (wslay_event_get_close_received(ws->ctx))
		snprintf(reason, sizeof(reason), "closed by peer (code %u)",
		    wslay_event_get_status_code_received(ws->ctx));
	else {
		code = wslay_event_get_status_code_sent(ws->ctx);
		switch (code) {
		case WSLAY_CODE_MESSAGE_TOO_BIG:
			snprintf(reason, sizeof(reason), "message too large "
			    "(over %d bytes)", WS_MAX_MESSAGE);
			break;
		case WSLAY_CODE_PROTOCOL_ERROR:
			snprintf(reason, sizeof(reason), "protocol error");
			break;
		case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
			snprintf(reason, sizeof(reason), "invalid UTF-8 in a "
			    "text message");
			break;
		default:
			snprintf(reason, sizeof(reason), "closed (code %u)",
			    code);
			break;
		}
	}
	ws_linger(ws);
	ws_report(ws, reason);
}

/* Call the closed callback, once, unless the user closed it. */
static void
ws_report(struct ws *ws, const char *reason)
{
	if (ws->reported)
		return;
	ws->reported = 1;
	log_debug("websocket: %s:%d closed: %s", ws->host, ws->port, reason);
	if (ws->cbs.closed != NULL)
		ws->cbs.closed(ws, reason, ws->arg);
}

/* Tear down now and report; graceful sends TLS close_notify. */
static void
ws_fail(struct ws *ws, int graceful, const char *fmt, ...)
{
	va_list	 ap;
	char	*reason;

	va_start(ap, fmt);
	xvasprintf(&reason, fmt, ap);
	va_end(ap);
	ws_finalize(ws, graceful);
	ws_report(ws, reason);
	free(reason);
}

/*
 * Clean close: no more user callbacks; keep the connection until our
 * close frame is out and the peer's close has arrived (bounded by
 * WS_LINGER_MS), so the peer sees a close handshake rather than a reset.
 */
static void
ws_linger(struct ws *ws)
{
	if (ws->state == WS_DONE || (ws->state == WS_CLOSING &&
	    evtimer_pending(&ws->linger_timer, NULL)))
		return;
	ws->state = WS_CLOSING;
	evtimer_del(&ws->hs_timer);
	evtimer_del(&ws->ping_timer);
	evtimer_del(&ws->pong_timer);
	if (ws->paused) {
		ws->paused = 0;
		bufferevent_setwatermark(ws->bev, EV_WRITE, 0, 0);
	}
	bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
	ws_set_timer(&ws->linger_timer, WS_LINGER_MS);
	ws_linger_check(ws);
}

static void
ws_linger_check(struct ws *ws)
{
	if (ws->state != WS_CLOSING)
		return;
	if (evbuffer_get_length(bufferevent_get_output(ws->bev)) != 0)
		return;
	/*
	 * Our close frame is out. Wait for the peer's close frame (or its
	 * EOF, see ws_event_cb): closing first with its data unread would
	 * send a reset that can destroy our close frame in transit. At
	 * shutdown, do not wait.
	 */
	if (!reactor_stopping() && ws->ctx != NULL &&
	    !wslay_event_get_close_received(ws->ctx))
		return;
	ws_finalize(ws, 1);
}

/* Stop everything and free on the next turn. */
static void
ws_finalize(struct ws *ws, int graceful)
{
	if (ws->state == WS_DONE)
		return;
	ws->state = WS_DONE;
	evtimer_del(&ws->hs_timer);
	evtimer_del(&ws->ping_timer);
	evtimer_del(&ws->pong_timer);
	evtimer_del(&ws->linger_timer);
	if (ws->dial != NULL) {
		http_dial_cancel(ws->dial);
		ws->dial = NULL;
	}
	if (ws->bev != NULL) {
		/* Deferred callbacks may still fire after disable (#1809). */
		bufferevent_setcb(ws->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
		if (graceful && ws->tls)
			tls_shutdown(ws->bev);
	}
	reactor_defer(ws_free_cb, ws);
}

static void
ws_free_cb(void *arg)
{
	struct ws	*ws = arg;

	evtimer_del(&ws->hs_timer);
	evtimer_del(&ws->ping_timer);
	evtimer_del(&ws->pong_timer);
	evtimer_del(&ws->linger_timer);
	if (ws->bev != NULL)
		bufferevent_free(ws->bev);
	if (ws->ctx != NULL)
		wslay_event_context_free(ws->ctx);
	TAILQ_REMOVE(&ws_all, ws, entry);
	free(ws->dial_error);
	free(ws->host);
	if (ws->path != NULL)
		explicit_bzero(ws->path, strlen(ws->path));
	free(ws->path);
	free(ws);
}

/*
 * Read whatever else the socket has ready, up to WS_READ_MAX. libevent
 * 2.1 reads at most 4 KiB per read callback on a plain socket (about one
 * envelope), so without this every loop turn, and so every commit and
 * every ack batch, covered about one envelope however many were waiting.
 * A TLS bufferevent reads up to its max_single_read instead (raised in
 * ws_start_framing). EOF and errors are left for the bufferevent to find
 * on its next read: they persist.
 */
static void
ws_drain_socket(struct ws *ws)
{
	struct evbuffer		*in;
	struct evbuffer_iovec	 v;
	evutil_socket_t		 fd;
	size_t			 total;
	ssize_t			 n = 0;

	if (ws->tls || ws->paused)
		return;
	if ((fd = bufferevent_getfd(ws->bev)) == -1)
		return;
	in = bufferevent_get_input(ws->bev);
	/* The bufferevent keeps its input's end frozen but for its own
	 * reads; this is one of them. */
	evbuffer_unfreeze(in, 0);
	for (total = evbuffer_get_length(in); total < WS_READ_MAX;
	    total += (size_t)n) {
		if (evbuffer_reserve_space(in, WS_READ_CHUNK, &v, 1) < 1)
			break;
		n = read(fd, v.iov_base, v.iov_len);
		if (n <= 0) {
			v.iov_len = 0;
			(void)evbuffer_commit_space(in, &v, 1);
			break;
		}
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(in, &v, 1) != 0 ||
		    (size_t)n < WS_READ_CHUNK)
			break;		/* the socket is empty */
	}
	evbuffer_freeze(in, 0);
}

static void
ws_read_cb(struct bufferevent *bev, void *arg)
{
	struct ws	*ws = arg;

	switch (ws->state) {
	case WS_HANDSHAKE:
		ws_handshake_read(ws);
		break;
	case WS_OPEN:
		ws_drain_socket(ws);
		ws_recv(ws);
		break;
	case WS_CLOSING:
		if (wslay_event_get_read_enabled(ws->ctx)) {
			ws_recv(ws);
			break;
		}
		/* wslay gave up reading (it failed the connection): discard
		 * until the peer's EOF. */
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		ws_linger_check(ws);
		break;
	default:
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	}
}

static void
ws_write_cb(struct bufferevent *bev, void *arg)
{
	struct ws	*ws = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);

	if (ws->paused && evbuffer_get_length(out) <= WS_OUTPUT_LOW) {
		ws->paused = 0;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(bev, EV_READ);
		log_debug("websocket: %s output drained, reading again",
		    ws->host);
		/* Bytes read before the pause are not announced again. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
			ws_recv(ws);
			return;
		}
	}
	if (ws->state == WS_CLOSING)
		ws_linger_check(ws);
}

static void
ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ws	*ws = arg;
	const char	*why;

	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) == 0)
		return;
	if (ws->state == WS_CLOSING) {
		/* The peer hung up after (or instead of) its close frame. */
		ws_finalize(ws, 0);
		return;
	}
	if (what & BEV_EVENT_EOF)
		why = "connection closed without a close frame";
	else if (what & BEV_EVENT_TIMEOUT)
		why = "timeout";
	else if (ws->tls)
		why = tls_error(bev);
	else
		why = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	if (ws->state == WS_HANDSHAKE)
		ws_fail(ws, 0, "handshake: %s", why);
	else
		ws_fail(ws, 0, "%s", why);
}

static void
ws_hs_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ws	*ws = arg;

	ws_fail(ws, 0, "handshake: timeout after %d ms",
	    WS_HANDSHAKE_TIMEOUT_MS);
}

/* Ping on every interval; arm the pong deadline if it is not running. */
static void
ws_ping_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ws		*ws = arg;
	struct wslay_event_msg	 msg;
	char			 payload[32];
	int			 n;

	if (ws->state != WS_OPEN)
		return;
	n = snprintf(payload, sizeof(payload), "%llu",
	    (unsigned long long)++ws->pings);
	msg.opcode = WSLAY_PING;
	msg.msg = (const uint8_t *)payload;
	msg.msg_length = (size_t)n;
	if (wslay_event_queue_msg(ws->ctx, &msg) != 0) {
		ws_fail(ws, 0, "websocket: cannot queue ping");
		return;
	}
	if (ws->pong_timeout_ms > 0 &&
	    !evtimer_pending(&ws->pong_timer, NULL))
		ws_set_timer(&ws->pong_timer, ws->pong_timeout_ms);
	if (ws_write(ws) != 0)
		ws_fail(ws, 0, "websocket: send failed");
}

static void
ws_pong_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ws	*ws = arg;

	log_warnx("websocket: %s:%d: nothing received for %d ms after a "
	    "ping", ws->host, ws->port, ws->pong_timeout_ms);
	ws_fail(ws, 0, "ping timeout");
}

static void
ws_linger_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ws	*ws = arg;

	ws_finalize(ws, evbuffer_get_length(bufferevent_get_output(ws->bev))
	    == 0);
}

/* Queue a text message; -1 if the ws is not open or its queue is full. */
int
ws_send_text(struct ws *ws, const char *s, size_t len)
{
	struct wslay_event_msg	msg;
	size_t			queued;

	if (ws == NULL || ws->state != WS_OPEN)
		return (-1);
	queued = wslay_event_get_queued_msg_length(ws->ctx) +
	    evbuffer_get_length(bufferevent_get_output(ws->bev));
	if (len > WS_QUEUE_MAX || queued > WS_QUEUE_MAX - len) {
		log_warnx("websocket: %s: send queue full (%zu bytes)",
		    ws->host, queued);
		return (-1);
	}
	msg.opcode = WSLAY_TEXT_FRAME;
	msg.msg = (const uint8_t *)s;
	msg.msg_length = len;
	if (wslay_event_queue_msg(ws->ctx, &msg) != 0)
		return (-1);
	/* Inside wslay_event_recv, ws_recv flushes when it returns. */
	if (ws->recv_depth == 0 && ws_write(ws) != 0) {
		/* Only on allocation failure; report it from a clean stack
		 * (the free is deferred too, and comes after this). */
		if (!ws->send_failed) {
			ws->send_failed = 1;
			reactor_defer(ws_send_failed_cb, ws);
		}
		return (-1);
	}
	return (0);
}

/*
 * Close with code 1000 and free later; the closed callback is not called.
 * Safe from inside this ws's own callbacks.
 */
void
ws_close(struct ws *ws, const char *reason)
{
	if (ws == NULL || ws->state >= WS_CLOSING)
		return;
	log_debug("websocket: closing %s:%d: %s", ws->host, ws->port,
	    reason != NULL ? reason : "");
	ws->reported = 1;
	if (ws->state != WS_OPEN) {
		/* Dialing or mid-handshake: nothing to say to the peer. */
		ws_finalize(ws, ws->state == WS_HANDSHAKE);
		return;
	}
	(void)wslay_event_queue_close(ws->ctx, WSLAY_CODE_NORMAL_CLOSURE,
	    NULL, 0);
	if (ws->recv_depth > 0) {
		/* wslay is on the stack: ws_recv finishes the job. */
		ws->state = WS_CLOSING;
		ws->close_pending = 1;
		return;
	}
	if (ws_write(ws) != 0) {
		ws_finalize(ws, 0);
		return;
	}
	ws_linger(ws);
}
