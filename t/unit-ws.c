/*
 * unit-ws.c: the WebSocket client (ws.c) and the Socket Mode manager
 * (slack-socket.c) against an in-process server.
 *
 * The server listens on 127.0.0.1 port 0, parses the Upgrade request and
 * computes Sec-WebSocket-Accept with its own code (not ws_accept_key),
 * then frames with a wslay server context. Each test picks a server mode
 * and runs the loop until the expected outcome or a generous deadline;
 * nothing sleeps.
 *
 * For Socket Mode, this file stands in for slack.c and events.c (link
 * seams: the linker takes slack_call_app and events_handle from here, so
 * those objects are never pulled from the library). apps.connections.open
 * answers with a ws:// URL of the test server, which then plays Slack.
 * Those tests run inside reactor_run, because acks are sent by an
 * after-commit hook, and are driven step by step from a timer.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "incidentd.h"
#include "tap.h"

#define TEST_DEADLINE_MS	10000
#define SRV_MAXCONN		8
#define SRV_MAXTEXT		16
#define SRV_FLOOD_PINGS		30000	/* 3.9 MB of pongs */

enum srv_mode {
	SRV_ECHO,		/* greet, echo texts + ping, close on pong */
	SRV_QUIET,		/* frames flow, the server starts nothing */
	SRV_SILENT,		/* handshake, then never reads again */
	SRV_SLOW_HEAD,		/* 101 trickles out a few bytes per turn */
	SRV_FLOOD,		/* many pings while not reading */
	SRV_BAD_ACCEPT,
	SRV_401,
	SRV_NO_CONNECTION,	/* 101 without Connection: upgrade */
	SRV_EXTENSION,		/* 101 choosing an extension not offered */
	SRV_BIG_HEAD,		/* 101 head over 16 KiB */
	SRV_FOLDED,		/* 101 with a folded header line */
	SRV_BAD_NAME,		/* 101 with a space in a header name */
	SRV_MANY_HEADERS,	/* 101 with 101 small headers */
	SRV_BIG_MESSAGE,	/* a maximal message, then one byte more */
	SRV_SLACK		/* Socket Mode: hello on connect */
};

/* One accepted connection and what the server saw on it. */
struct sconn {
	int			 used;
	struct bufferevent	*bev;
	wslay_event_context_ptr	 ctx;
	int			 closing;	/* free once output drains */
	int			 gone;
	char			*head;		/* the client's request head */
	int			 ntexts;
	char			*texts[SRV_MAXTEXT];
	int			 pings;
	int			 pongs;
	char			 pong_payload[64];
	int			 close_code;	/* from the client, 0 if none */
	int			 close_notify;	/* TLS: got close_notify */
	struct evbuffer		*trickle;	/* SRV_SLOW_HEAD */
	struct event		*trickle_ev;
};

struct srv {
	struct evconnlistener	*lis;
	int			 port;
	enum srv_mode		 mode;
	int			 hold_hello;	/* SRV_SLACK: no hello */
	SSL_CTX			*tls;		/* speak TLS if set */
	int			 nconns;
	struct sconn		 conns[SRV_MAXCONN];
};

struct cli {
	struct ws	*ws;
	int		 opened;
	int		 closed;
	char		*reason;
	int		 nmsgs;
	int		 nmsgs_received;	/* nmsgs at the received cb */
	char		*msgs[4];
	size_t		 lens[4];
	int		 close_on_message;	/* ws_close from message cb */
};

static struct srv	 srv;
static struct cli	 cli;

static void	srv_conn_free(struct sconn *);

/* Server side. */

static void
srv_accept_key(const char *key, size_t len, char *out)
{
	static const char	 guid[] =
				    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char		 md[20];
	EVP_MD_CTX		*c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha1(), NULL);
	EVP_DigestUpdate(c, key, len);
	EVP_DigestUpdate(c, guid, strlen(guid));
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	EVP_EncodeBlock((unsigned char *)out, md, 20);
}

static ssize_t
srv_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct sconn	*sc = arg;
	int		 n;

	n = evbuffer_remove(bufferevent_get_input(sc->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	return (n);
}

static ssize_t
srv_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct sconn	*sc = arg;

	evbuffer_add(bufferevent_get_output(sc->bev), data, len);
	return ((ssize_t)len);
}

static void
srv_queue(struct sconn *sc, uint8_t opcode, const void *msg, size_t len)
{
	struct wslay_event_msg	m = { opcode, msg, len };

	if (sc->ctx == NULL || wslay_event_queue_msg(sc->ctx, &m) != 0)
		diag("server: queue failed");
}

static void
srv_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct sconn	*sc = arg;
	char		 buf[128];
	int		 n;

	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
		if (sc->ntexts < SRV_MAXTEXT) {
			sc->texts[sc->ntexts] = calloc(1, m->msg_length + 1);
			memcpy(sc->texts[sc->ntexts], m->msg, m->msg_length);
		}
		sc->ntexts++;
		if (srv.mode == SRV_ECHO) {
			n = snprintf(buf, sizeof(buf), "echo:%.*s",
			    (int)m->msg_length, (const char *)m->msg);
			srv_queue(sc, WSLAY_TEXT_FRAME, buf, (size_t)n);
			srv_queue(sc, WSLAY_PING, "srv-ping", 8);
		}
		break;
	case WSLAY_PING:
		sc->pings++;
		break;
	case WSLAY_PONG:
		sc->pongs++;
		snprintf(sc->pong_payload, sizeof(sc->pong_payload), "%.*s",
		    (int)m->msg_length, (const char *)m->msg);
		if (srv.mode == SRV_ECHO)
			wslay_event_queue_close(ctx, 1001,
			    (const uint8_t *)"bye", 3);
		break;
	case WSLAY_CONNECTION_CLOSE:
		sc->close_code = m->status_code;
		break;
	}
}

static void
srv_conn_free(struct sconn *sc)
{
	if (sc->trickle_ev != NULL)
		event_free(sc->trickle_ev);
	if (sc->trickle != NULL)
		evbuffer_free(sc->trickle);
	if (sc->bev != NULL)
		bufferevent_free(sc->bev);
	if (sc->ctx != NULL)
		wslay_event_context_free(sc->ctx);
	sc->trickle_ev = NULL;
	sc->trickle = NULL;
	sc->bev = NULL;
	sc->ctx = NULL;
	sc->closing = 0;
	sc->gone = 1;
}

static void
srv_pump(struct sconn *sc)
{
	if (sc->ctx == NULL || sc->bev == NULL)
		return;
	wslay_event_recv(sc->ctx);
	wslay_event_send(sc->ctx);
	if (!wslay_event_want_read(sc->ctx) &&
	    !wslay_event_want_write(sc->ctx) && srv.tls == NULL) {
		/* Close handshake done: close once the output is out. With
		 * TLS, wait for the client's EOF to see its close_notify. */
		sc->closing = 1;
		if (evbuffer_get_length(bufferevent_get_output(sc->bev)) == 0)
			srv_conn_free(sc);
	}
}

/* Send a text frame to connection i (Socket Mode tests). */
static void
srv_send_text(int i, const char *s)
{
	struct sconn	*sc = &srv.conns[i];

	srv_queue(sc, WSLAY_TEXT_FRAME, s, strlen(s));
	srv_pump(sc);
}

static void
srv_trickle_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sconn	*sc = arg;
	struct timeval	 tv = { 0, 1000 };
	size_t		 n;

	n = evbuffer_get_length(sc->trickle);
	if (n > 5)
		n = 5;
	evbuffer_remove_buffer(sc->trickle, bufferevent_get_output(sc->bev),
	    n);
	if (evbuffer_get_length(sc->trickle) > 0)
		evtimer_add(sc->trickle_ev, &tv);
}

static void
srv_handshake(struct sconn *sc)
{
	struct evbuffer			*in = bufferevent_get_input(sc->bev);
	struct evbuffer			*out = bufferevent_get_output(sc->bev);
	struct evbuffer_ptr		 p;
	struct wslay_event_callbacks	 cbs = { srv_recv_cb, srv_send_cb,
					    NULL, NULL, NULL, NULL,
					    srv_msg_cb };
	char				 accept[64], *k, *end, *m;
	const char			*hello;
	size_t				 len, i;
	static char			 big[24 * 1024];
	struct timeval			 tv = { 0, 1000 };

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1)
		return;
	len = (size_t)p.pos + 4;
	free(sc->head);
	sc->head = calloc(1, len + 1);
	evbuffer_remove(in, sc->head, len);

	accept[0] = '\0';
	if ((k = strcasestr(sc->head, "\r\nSec-WebSocket-Key:")) != NULL) {
		k += strlen("\r\nSec-WebSocket-Key:");
		k += strspn(k, " ");
		end = strstr(k, "\r\n");
		srv_accept_key(k, end - k, accept);
	}

	switch (srv.mode) {
	case SRV_401:
		evbuffer_add_printf(out, "HTTP/1.1 401 Unauthorized\r\n"
		    "Content-Length: 0\r\n\r\n");
		return;
	case SRV_BAD_ACCEPT:
		accept[0] = accept[0] == 'A' ? 'B' : 'A';
		break;
	case SRV_BIG_HEAD:
		evbuffer_add_printf(out,
		    "HTTP/1.1 101 Switching Protocols\r\n");
		memset(big, 'x', sizeof(big));
		for (i = 0; i + 100 < sizeof(big); i += 100)
			evbuffer_add_printf(out, "X-Filler: %.90s\r\n", big);
		return;	/* never finished */
	default:
		break;
	}
	if (srv.mode == SRV_SLOW_HEAD) {
		out = sc->trickle = evbuffer_new();
		sc->trickle_ev = evtimer_new(reactor_base, srv_trickle_cb, sc);
		evtimer_add(sc->trickle_ev, &tv);
	}
	/* Mixed case and a token list, as real servers send them. */
	evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\n"
	    "%s"
	    "%s"
	    "%s",
	    srv.mode == SRV_NO_CONNECTION ? "" :
	    "Connection: keep-alive, Upgrade\r\n",
	    srv.mode == SRV_EXTENSION ?
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "",
	    srv.mode == SRV_FOLDED ? "X-Folded: a\r\n b\r\n" :
	    srv.mode == SRV_BAD_NAME ? "Bad Name: x\r\n" : "");
	for (i = 0; srv.mode == SRV_MANY_HEADERS && i < 101; i++)
		evbuffer_add_printf(out, "X-%zu: v\r\n", i);
	evbuffer_add_printf(out, "Sec-WebSocket-Accept: %s\r\n\r\n",
	    accept);
	if (srv.mode == SRV_BAD_ACCEPT || srv.mode == SRV_NO_CONNECTION ||
	    srv.mode == SRV_EXTENSION || srv.mode == SRV_FOLDED ||
	    srv.mode == SRV_BAD_NAME || srv.mode == SRV_MANY_HEADERS)
		return;

	wslay_event_context_server_init(&sc->ctx, &cbs, sc);
	switch (srv.mode) {
	case SRV_SILENT:
		/* Read nothing more: client pings go unanswered. */
		bufferevent_disable(sc->bev, EV_READ);
		return;
	case SRV_SLOW_HEAD:
		/* A frame right behind the head, trickled out with it. */
		evbuffer_add(sc->trickle, "\x81\x05hello", 7);
		return;
	case SRV_ECHO:
		/* Goes out in the same write as the 101. */
		srv_queue(sc, WSLAY_TEXT_FRAME, "welcome", 7);
		break;
	case SRV_FLOOD:
		/* 125-byte pings while not reading: the client's pongs pile
		 * up in its output and it must stop reading for a while. */
		bufferevent_disable(sc->bev, EV_READ);
		memset(big, 'p', 125);
		for (i = 0; i < SRV_FLOOD_PINGS; i++)
			srv_queue(sc, WSLAY_PING, big, 125);
		break;
	case SRV_BIG_MESSAGE:
		m = malloc(WS_MAX_MESSAGE + 1);
		memset(m, 'a', WS_MAX_MESSAGE + 1);
		srv_queue(sc, WSLAY_TEXT_FRAME, m, WS_MAX_MESSAGE);
		srv_queue(sc, WSLAY_TEXT_FRAME, m, WS_MAX_MESSAGE + 1);
		free(m);
		break;
	case SRV_SLACK:
		if (!srv.hold_hello) {
			hello = "{\"type\":\"hello\",\"num_connections\":1,"
			    "\"debug_info\":{\"host\":\"applink-test\"}}";
			srv_queue(sc, WSLAY_TEXT_FRAME, hello, strlen(hello));
		}
		break;
	default:
		break;
	}
	srv_pump(sc);
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct sconn	*sc = arg;

	if (sc->ctx == NULL)
		srv_handshake(sc);
	else
		srv_pump(sc);
}

static void
srv_write_cb(struct bufferevent *bev, void *arg)
{
	struct sconn	*sc = arg;

	if (sc->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		srv_conn_free(sc);
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sconn	*sc = arg;
	SSL		*ssl;

	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) == 0)
		return;
	if (srv.tls != NULL && (ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		sc->close_notify = (SSL_get_shutdown(ssl) &
		    SSL_RECEIVED_SHUTDOWN) != 0;
	srv_conn_free(sc);
}

static void
srv_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sconn	*sc;
	int		 small = 65536;

	if (srv.nconns == SRV_MAXCONN) {
		close(fd);
		return;
	}
	if (srv.mode == SRV_FLOOD) {
		/* A small window makes the client's output back up soon. */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small,
		    sizeof(small));
	}
	sc = &srv.conns[srv.nconns++];
	sc->used = 1;
	if (srv.tls != NULL) {
		sc->bev = bufferevent_openssl_socket_new(reactor_base, fd,
		    SSL_new(srv.tls), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_openssl_set_allow_dirty_shutdown(sc->bev, 1);
	} else
		sc->bev = bufferevent_socket_new(reactor_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(sc->bev, srv_read_cb, srv_write_cb, srv_event_cb,
	    sc);
	bufferevent_enable(sc->bev, EV_READ | EV_WRITE);
}

static void
srv_clear(void)
{
	struct sconn	*sc;
	int		 i, j;

	for (i = 0; i < SRV_MAXCONN; i++) {
		sc = &srv.conns[i];
		srv_conn_free(sc);
		free(sc->head);
		for (j = 0; j < sc->ntexts && j < SRV_MAXTEXT; j++)
			free(sc->texts[j]);
	}
	memset(&srv.conns, 0, sizeof(srv.conns));
	srv.nconns = 0;
}

static void
srv_start(enum srv_mode mode)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);

	srv_clear();
	srv.mode = mode;
	srv.hold_hello = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.lis = evconnlistener_new_bind(reactor_base, srv_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (srv.lis == NULL)
		fatal("evconnlistener_new_bind");
	getsockname(evconnlistener_get_fd(srv.lis), (struct sockaddr *)&sin,
	    &slen);
	srv.port = ntohs(sin.sin_port);
}

static void
srv_stop(void)
{
	srv_clear();
	if (srv.lis != NULL)
		evconnlistener_free(srv.lis);
	srv.lis = NULL;
}

#define SC0	(&srv.conns[0])

/* Client side. */

static void
cli_open_cb(struct ws *ws, void *arg)
{
	cli.opened++;
}

static void
cli_message_cb(struct ws *ws, const char *msg, size_t len, void *arg)
{
	if (cli.nmsgs < 4) {
		cli.msgs[cli.nmsgs] = malloc(len + 1);
		memcpy(cli.msgs[cli.nmsgs], msg, len);
		cli.msgs[cli.nmsgs][len] = '\0';
		cli.lens[cli.nmsgs] = len;
	}
	cli.nmsgs++;
	if (len == 7 && memcmp(msg, "welcome", 7) == 0 &&
	    !cli.close_on_message)
		ws_send_text(ws, "hello", 5);
	if (cli.close_on_message) {
		ws_close(ws, "test: close from the message callback");
		ok(ws_send_text(ws, "late", 4) == -1,
		    "no sending after ws_close");
	}
}

static void
cli_closed_cb(struct ws *ws, const char *reason, void *arg)
{
	cli.closed++;
	free(cli.reason);
	cli.reason = strdup(reason);
	/* ws_close inside closed is tolerated (and does nothing). */
	ws_close(ws, "test: close inside closed");
}

/* After the messages of a read: only ever after at least one. */
static void
cli_received_cb(struct ws *ws, void *arg)
{
	if (cli.nmsgs > cli.nmsgs_received)
		cli.nmsgs_received = cli.nmsgs;
}

static const struct ws_cbs	cli_cbs = {
	cli_open_cb, cli_message_cb, cli_closed_cb, cli_received_cb
};

static void
cli_reset(void)
{
	int	i;

	for (i = 0; i < 4; i++)
		free(cli.msgs[i]);
	free(cli.reason);
	memset(&cli, 0, sizeof(cli));
}

static struct ws *
cli_open(const char *path, int ping, int pong)
{
	char	url[256];

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d%s", srv.port, path);
	cli.ws = ws_open(url, &cli_cbs, NULL, ping, pong);
	return (cli.ws);
}

/* Loop driving (WebSocket tests). */

static void
tick_cb(evutil_socket_t fd, short events, void *arg)
{
}

/* Run loop turns until pred() or ms elapse; returns pred(). */
static int
run_until(int (*pred)(void), int ms)
{
	struct event	*t;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	uint64_t	 deadline = now_ms() + ms;

	t = evtimer_new(reactor_base, tick_cb, NULL);
	evtimer_add(t, &tv);	/* so a turn never blocks past it */
	while (!pred() && now_ms() < deadline)
		event_base_loop(reactor_base, EVLOOP_ONCE);
	event_free(t);
	return (pred());
}

/* Let deferred frees run. */
static void
settle(void)
{
	int	i;

	for (i = 0; i < 8; i++)
		event_base_loop(reactor_base, EVLOOP_NONBLOCK);
}

static int	pred_closed(void) { return (cli.closed > 0); }
static int	pred_opened(void) { return (cli.opened > 0); }
static int	pred_srv_gone(void) { return (srv.nconns && SC0->gone); }
static int	pred_closed_and_gone(void) { return (cli.closed && SC0->gone); }
static int	pred_srv_pings(void) { return (SC0->pings >= 4 || cli.closed); }
static int	pred_one_msg(void) { return (cli.nmsgs > 0 || cli.closed); }
static int	pred_flooded(void) { return (SC0->pongs >= SRV_FLOOD_PINGS ||
		    cli.closed); }

/* WebSocket tests. */

static void
test_keys(void)
{
	char	out[29], k1[25], k2[25];

	/* RFC 6455 section 1.3's example. */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	is_str(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 accept key");
	ws_new_key(k1);
	ws_new_key(k2);
	is_int(strlen(k1), 24, "key is 24 base64 chars");
	ok(strcmp(k1 + 22, "==") == 0, "16 bytes end in ==");
	ok(strcmp(k1, k2) != 0, "keys are random");
}

static void
test_bad_urls(void)
{
	ok(ws_open("http://127.0.0.1/", &cli_cbs, NULL, 0, 0) == NULL,
	    "http:// refused");
	ok(ws_open("ws://", &cli_cbs, NULL, 0, 0) == NULL, "no host refused");
	ok(ws_open("wss://x/a b", &cli_cbs, NULL, 0, 0) == NULL,
	    "space in path refused");
	ok(ws_send_text(NULL, "x", 1) == -1, "send on NULL");
	ws_close(NULL, "nothing");
}

static void
test_round_trip(void)
{
	char	want[64];

	cli_reset();
	srv_start(SRV_ECHO);
	ok(cli_open("/link/?ticket=t1&app_id=A1", 0, 0) != NULL, "ws_open");
	ok(ws_send_text(cli.ws, "early", 5) == -1, "no send before open");
	ok(run_until(pred_closed_and_gone, TEST_DEADLINE_MS),
	    "echo session ran to the server's close");
	is_int(cli.opened, 1, "open callback once");
	ok(SC0->head != NULL && str_has_prefix(SC0->head,
	    "GET /link/?ticket=t1&app_id=A1 HTTP/1.1\r\n"),
	    "request line carries path and query");
	snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n", srv.port);
	ok(SC0->head != NULL && strstr(SC0->head, want) != NULL,
	    "Host header");
	ok(SC0->head != NULL &&
	    strstr(SC0->head, "\r\nUpgrade: websocket\r\n") != NULL,
	    "Upgrade header");
	ok(SC0->head != NULL &&
	    strstr(SC0->head, "\r\nConnection: Upgrade\r\n") != NULL,
	    "Connection header");
	ok(SC0->head != NULL &&
	    strstr(SC0->head, "\r\nSec-WebSocket-Version: 13\r\n") != NULL,
	    "version 13");
	is_int(cli.nmsgs, 2, "two messages");
	is_int(cli.nmsgs_received, 2, "received callback after the last");
	is_str(cli.msgs[0], "welcome",
	    "frame sent right behind the 101 delivered");
	is_str(cli.msgs[1], "echo:hello", "text round trip");
	is_int(SC0->ntexts, 1, "server got one text");
	is_str(SC0->texts[0], "hello", "server got the client's text");
	is_int(SC0->pongs, 1, "server ping answered");
	is_str(SC0->pong_payload, "srv-ping", "pong echoes the ping payload");
	is_int(cli.closed, 1, "closed callback once");
	is_str(cli.reason, "closed by peer (code 1001)", "close reason");
	is_int(SC0->close_code, 1001, "client answered the close frame");
	settle();
	srv_stop();
}

static void
test_slow_head(void)
{
	cli_reset();
	srv_start(SRV_SLOW_HEAD);
	cli_open("/", 0, 0);
	ok(run_until(pred_one_msg, TEST_DEADLINE_MS),
	    "101 in 5-byte pieces, then a frame");
	is_int(cli.opened, 1, "opened");
	is_str(cli.msgs[0], "hello", "frame after a trickled head");
	ws_close(cli.ws, "test: done");
	run_until(pred_srv_gone, TEST_DEADLINE_MS);
	settle();
	srv_stop();
}

static void
test_client_close(int from_callback)
{
	cli_reset();
	srv_start(from_callback ? SRV_ECHO : SRV_QUIET);
	cli.close_on_message = from_callback;
	cli_open("/", 0, 0);
	if (!from_callback) {
		ok(run_until(pred_opened, TEST_DEADLINE_MS), "opened");
		ws_close(cli.ws, "test: done");
		ws_close(cli.ws, "test: twice is harmless");
	}
	ok(run_until(pred_srv_gone, TEST_DEADLINE_MS),
	    "server saw the connection end");
	is_int(SC0->close_code, 1000, "client sent close 1000");
	is_int(cli.closed, 0, "no closed callback after ws_close");
	settle();
	is_int(cli.closed, 0, "still none after the deferred free");
	srv_stop();
}

static void
test_handshake_failure(enum srv_mode mode, const char *want,
    const char *name)
{
	cli_reset();
	srv_start(mode);
	cli_open("/", 0, 0);
	ok(run_until(pred_closed, TEST_DEADLINE_MS), name);
	is_str(cli.reason, want, "reason");
	is_int(cli.opened, 0, "never opened");
	settle();
	is_int(cli.closed, 1, "closed once");
	srv_stop();
}

static void
test_refused(void)
{
	char	url[64];
	int	port;

	cli_reset();
	srv_start(SRV_QUIET);
	port = srv.port;
	srv_stop();	/* nothing listens there now */
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
	cli.ws = ws_open(url, &cli_cbs, NULL, 0, 0);
	ok(cli.ws != NULL, "ws_open returns before connecting");
	is_int(cli.closed, 0, "no callback from inside ws_open");
	ok(run_until(pred_closed, TEST_DEADLINE_MS), "refused connection");
	ok(cli.reason != NULL && str_has_prefix(cli.reason, "connect: "),
	    "reason says connect");
	settle();
}

static void
test_oversized(void)
{
	cli_reset();
	srv_start(SRV_BIG_MESSAGE);
	cli_open("/", 0, 0);
	ok(run_until(pred_closed, TEST_DEADLINE_MS), "oversized closes");
	is_int(cli.nmsgs, 1, "the maximal message was delivered");
	is_int(cli.lens[0], WS_MAX_MESSAGE, "all of it");
	ok(cli.reason != NULL && str_has_prefix(cli.reason,
	    "message too large"), "reason: message too large");
	ok(run_until(pred_srv_gone, TEST_DEADLINE_MS), "server done");
	is_int(SC0->close_code, 1009, "client sent close 1009");
	settle();
	srv_stop();
}

static void
srv_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	if (SC0->bev != NULL) {
		bufferevent_enable(SC0->bev, EV_READ);
		srv_pump(SC0);
	}
}

static void
test_backpressure(void)
{
	struct event	*ev;
	struct timeval	 tv = { 0, 200 * 1000 };

	cli_reset();
	srv_start(SRV_FLOOD);
	cli_open("/", 0, 0);
	/* The server starts reading after a while; until then the client
	 * must hold its pongs and stop reading, not grow without bound. */
	ev = evtimer_new(reactor_base, srv_resume_cb, NULL);
	evtimer_add(ev, &tv);
	ok(run_until(pred_flooded, TEST_DEADLINE_MS),
	    "every ping of a flood answered");
	is_int(SC0->pongs, SRV_FLOOD_PINGS, "no pong lost across the pause");
	is_int(cli.closed, 0, "connection survived");
	event_free(ev);
	ws_close(cli.ws, "test: done");
	run_until(pred_srv_gone, TEST_DEADLINE_MS);
	settle();
	srv_stop();
}

static void
test_ping_timeout(void)
{
	uint64_t	start;

	cli_reset();
	srv_start(SRV_SILENT);
	start = now_ms();
	cli_open("/", 100, 200);
	ok(run_until(pred_closed, TEST_DEADLINE_MS), "silent peer detected");
	is_str(cli.reason, "ping timeout", "reason: ping timeout");
	ok(now_ms() - start >= 250, "not before ping + pong timeout");
	is_int(cli.opened, 1, "it had opened");
	settle();
	srv_stop();
}

static void
test_pings_answered(void)
{
	cli_reset();
	srv_start(SRV_QUIET);
	cli_open("/", 50, 100);
	run_until(pred_srv_pings, TEST_DEADLINE_MS);
	ok(SC0->pings >= 4, "client pings every interval");
	is_int(cli.closed, 0, "answered pings keep it open");
	ws_close(cli.ws, "test: done");
	run_until(pred_srv_gone, TEST_DEADLINE_MS);
	settle();
	srv_stop();
}

/* TLS: a throwaway self-signed certificate for 127.0.0.1. */

static char	tls_ca_path[256];

static SSL_CTX *
tls_test_setup(void)
{
	EVP_PKEY	*pkey;
	X509		*x;
	X509_NAME	*name;
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;
	SSL_CTX		*ctx;
	FILE		*f;
	const char	*tmp;
	char		*cause;
	int		 fd;

	if ((pkey = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		fatalx("cannot make a test key");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"incidentd unit-ws", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_subject_alt_name,
	    "IP:127.0.0.1");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_nconf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		fatalx("cannot sign the test certificate");

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(tls_ca_path, sizeof(tls_ca_path), "%s/unit-ws-ca.XXXXXX",
	    tmp);
	if ((fd = mkstemp(tls_ca_path)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL)
		fatal("mkstemp %s", tls_ca_path);
	PEM_write_X509(f, x);
	fclose(f);
	if (tls_init(tls_ca_path, &cause) != 0)
		fatalx("tls_init: %s", cause);

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
		fatalx("cannot make the server context");
	X509_free(x);
	EVP_PKEY_free(pkey);
	return (ctx);
}

static void
test_tls(void)
{
	SSL_CTX	*ctx;
	char	 url[64];

	ctx = tls_test_setup();

	cli_reset();
	srv_start(SRV_ECHO);
	srv.tls = ctx;
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/link/", srv.port);
	cli.ws = ws_open(url, &cli_cbs, NULL, 0, 0);
	ok(run_until(pred_closed_and_gone, TEST_DEADLINE_MS),
	    "wss: echo session ran to the server's close");
	is_int(cli.nmsgs, 2, "wss: two messages");
	is_str(cli.msgs[1], "echo:hello", "wss: text round trip");
	is_str(cli.reason, "closed by peer (code 1001)", "wss: close reason");
	is_int(SC0->close_code, 1001, "wss: close answered");
	is_int(SC0->close_notify, 1, "wss: close_notify after the close");
	settle();
	srv_stop();

	cli_reset();
	srv_start(SRV_QUIET);
	srv.tls = ctx;
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", srv.port);
	cli.ws = ws_open(url, &cli_cbs, NULL, 0, 0);
	ok(run_until(pred_opened, TEST_DEADLINE_MS), "wss: opened");
	ws_close(cli.ws, "test: done");
	ok(run_until(pred_srv_gone, TEST_DEADLINE_MS), "wss: server saw EOF");
	is_int(SC0->close_code, 1000, "wss: ws_close sent 1000");
	is_int(SC0->close_notify, 1, "wss: ws_close sent close_notify");
	is_int(cli.closed, 0, "wss: no closed callback after ws_close");
	settle();
	srv_stop();

	/* The certificate names 127.0.0.1 only. */
	cli_reset();
	srv_start(SRV_QUIET);
	srv.tls = ctx;
	snprintf(url, sizeof(url), "wss://localhost:%d/", srv.port);
	cli.ws = ws_open(url, &cli_cbs, NULL, 0, 0);
	ok(run_until(pred_closed, TEST_DEADLINE_MS), "wss: wrong name fails");
	ok(cli.reason != NULL && str_has_prefix(cli.reason,
	    "tls: certificate verify failed"), "wss: reason names the "
	    "certificate");
	is_int(cli.opened, 0, "wss: never opened");
	settle();
	srv_stop();

	srv.tls = NULL;
	SSL_CTX_free(ctx);
	tls_free();
	unlink(tls_ca_path);
}

/*
 * Socket Mode. The stand-ins below replace slack.c and events.c.
 */

static int	 stub_open_calls;
/* Planned answers, one per call: "error:CODE" or "url:URL"; then ok. */
static const char *stub_plan[4];
static int	 stub_nplan;
static int	 stub_handled;
static char	*stub_last_type;
static char	*stub_last_id;
static char	*stub_last_event_id;
static int	 stub_last_retry;

struct stub_open {
	slack_cb	 cb;
	void		*arg;
	struct event	*ev;
};

static void
stub_open_answer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct stub_open	*so = arg;
	struct slack_result	 sr;
	cJSON			*j;
	const char		*plan;
	char			 url[256];

	memset(&sr, 0, sizeof(sr));
	j = cJSON_CreateObject();
	snprintf(url, sizeof(url),
	    "ws://127.0.0.1:%d/link/?ticket=t%d&app_id=A1", srv.port,
	    stub_open_calls);
	plan = stub_nplan > 0 ? stub_plan[0] : NULL;
	if (stub_nplan > 0) {
		memmove(stub_plan, stub_plan + 1,
		    (size_t)--stub_nplan * sizeof(*stub_plan));
	}
	if (plan != NULL && str_has_prefix(plan, "error:")) {
		sr.error = plan + 6;
		cJSON_AddFalseToObject(j, "ok");
		cJSON_AddStringToObject(j, "error", plan + 6);
	} else {
		sr.ok = 1;
		cJSON_AddTrueToObject(j, "ok");
		cJSON_AddStringToObject(j, "url", plan != NULL &&
		    str_has_prefix(plan, "url:") ? plan + 4 : url);
	}
	sr.json = j;
	sr.http_status = 200;
	so->cb(&sr, so->arg);
	cJSON_Delete(j);
	event_free(so->ev);
	free(so);
}

/* Stand-in: answers apps.connections.open on the next turn. */
void
slack_call_app(const char *method, cJSON *args, slack_cb cb, void *arg)
{
	struct stub_open	*so;
	struct timeval		 now = { 0, 0 };

	cJSON_Delete(args);
	if (strcmp(method, "apps.connections.open") != 0) {
		diag("unexpected slack_call_app method");
		return;
	}
	stub_open_calls++;
	so = calloc(1, sizeof(*so));
	so->cb = cb;
	so->arg = arg;
	so->ev = evtimer_new(reactor_base, stub_open_answer_cb, so);
	evtimer_add(so->ev, &now);
}

/* Stand-in: records the envelope; interactive ones get an ack payload. */
void
events_handle(struct envelope *env)
{
	const char	*ev;

	stub_handled++;
	free(stub_last_type);
	free(stub_last_id);
	free(stub_last_event_id);
	stub_last_type = strdup(env->type);
	stub_last_id = strdup(env->envelope_id);
	ev = json_str(env->payload, "event_id");
	stub_last_event_id = ev != NULL ? strdup(ev) : NULL;
	stub_last_retry = env->retry_attempt;
	if (strcmp(env->type, "interactive") == 0)
		env->ack_payload = strdup("{\"response_action\":\"clear\"}");
}

/* Stand-ins: metrics.c would bring in the commands and slack.c. */
void
metrics_envelope(const char *type)
{
}

void
metrics_ack(uint64_t received)
{
}

void
metrics_ack_batch(void)
{
}

/* A step: an action, then a condition to wait for (with a deadline). */
struct step {
	const char	*name;
	void		(*action)(void);
	int		(*done)(void);
};

static const struct step	*steps;
static size_t			 nsteps, step_i;
static int			 step_started;
static uint64_t			 step_deadline;
static struct event		*step_ev;

static void
step_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	const struct step	*s;
	struct timeval		 tv = { 0, 5000 };

	while (step_i < nsteps) {
		s = &steps[step_i];
		if (!step_started) {
			step_started = 1;
			step_deadline = now_ms() + TEST_DEADLINE_MS;
			if (s->action != NULL)
				s->action();
		}
		if (s->done == NULL || s->done()) {
			ok(1, s->name);
		} else if (now_ms() > step_deadline) {
			ok(0, s->name);
			step_i = nsteps;	/* the rest would cascade */
			break;
		} else {
			evtimer_add(step_ev, &tv);
			return;
		}
		step_i++;
		step_started = 0;
	}
	reactor_stop();
}

/* Last text the server got on connection i, or "". */
static const char *
srv_last_text(int i)
{
	struct sconn	*sc = &srv.conns[i];

	if (sc->ntexts == 0 || sc->ntexts > SRV_MAXTEXT)
		return ("");
	return (sc->texts[sc->ntexts - 1]);
}

static int	s_ntexts_want[SRV_MAXCONN];

static int
s_connected(void)
{
	return (socket_connected());
}

static void
s_start(void)
{
	srv_start(SRV_SLACK);
	socket_start();
	socket_start();		/* a second start is harmless */
}

static void
s_check_start(void)
{
	is_int(stub_open_calls, 1, "one apps.connections.open");
	ok(SC0->head != NULL && str_has_prefix(SC0->head,
	    "GET /link/?ticket=t1&app_id=A1 HTTP/1.1\r\n"),
	    "connected to the URL it returned");
}

static int
s_acked0(void)
{
	return (srv.conns[0].ntexts >= s_ntexts_want[0]);
}

static void
s_envelope(void)
{
	s_ntexts_want[0] = srv.conns[0].ntexts + 1;
	srv_send_text(0, "{\"envelope_id\":\"e-1\",\"type\":\"events_api\","
	    "\"accepts_response_payload\":false,\"retry_attempt\":0,"
	    "\"retry_reason\":\"\",\"payload\":{\"event_id\":\"Ev1\","
	    "\"type\":\"event_callback\",\"event\":{\"type\":\"app_mention\"}"
	    "}}");
}

static void
s_check_envelope(void)
{
	is_int(stub_handled, 1, "events_handle called");
	is_str(stub_last_type, "events_api", "envelope type");
	is_str(stub_last_id, "e-1", "envelope id");
	is_str(stub_last_event_id, "Ev1", "payload passed through");
	is_int(stub_last_retry, 0, "first delivery");
	is_str(srv_last_text(0), "{\"envelope_id\":\"e-1\"}", "acked");
	is_int(socket_envelopes(), 1, "envelope counted");
}

static void
s_interactive(void)
{
	s_ntexts_want[0] = srv.conns[0].ntexts + 1;
	/* Garbage first: ignored, the connection stays. */
	srv_send_text(0, "not json");
	srv_send_text(0, "[1,2]");
	srv_send_text(0, "{\"type\":\"something_new\"}");
	srv_send_text(0, "{\"envelope_id\":\"e-\\\"2\","
	    "\"type\":\"interactive\",\"accepts_response_payload\":true,"
	    "\"payload\":{\"type\":\"view_submission\"}}");
}

static void
s_check_interactive(void)
{
	is_str(srv_last_text(0), "{\"envelope_id\":\"e-\\\"2\",\"payload\":"
	    "{\"response_action\":\"clear\"}}", "ack carries the payload, id "
	    "escaped");
	is_int(srv.conns[0].ntexts, 2, "nothing sent for non-envelopes");
}

static void
s_retry(void)
{
	s_ntexts_want[0] = srv.conns[0].ntexts + 1;
	srv_send_text(0, "{\"envelope_id\":\"e-3\",\"type\":\"events_api\","
	    "\"retry_attempt\":2,\"retry_reason\":\"timeout\",\"payload\":"
	    "{\"event_id\":\"Ev1\"}}");
}

static void
s_check_retry(void)
{
	is_int(stub_last_retry, 2, "retry_attempt passed on");
	is_str(srv_last_text(0), "{\"envelope_id\":\"e-3\"}",
	    "redelivery acked too");
}

static int
s_second_open(void)
{
	return (srv.nconns == 2 && srv.conns[1].ctx != NULL);
}

static void
s_refresh(void)
{
	srv.hold_hello = 1;	/* the new connection waits for our word */
	srv_send_text(0, "{\"type\":\"disconnect\",\"reason\":"
	    "\"refresh_requested\",\"debug_info\":{\"host\":\"x\"}}");
}

static void
s_old_still_used(void)
{
	is_int(stub_open_calls, 2, "disconnect opened a new connection");
	ok(socket_connected(), "still connected through the old one");
	/* An envelope on the old one meanwhile: handled, acked there. */
	s_ntexts_want[0] = srv.conns[0].ntexts + 1;
	srv_send_text(0, "{\"envelope_id\":\"e-4\",\"type\":\"events_api\","
	    "\"payload\":{\"event_id\":\"Ev4\"}}");
}

static void
s_hello_new(void)
{
	is_str(srv_last_text(0), "{\"envelope_id\":\"e-4\"}",
	    "old connection acks its envelope");
	is_int(srv.conns[0].close_code, 0, "old one not closed yet");
	srv_send_text(1, "{\"type\":\"hello\",\"num_connections\":2}");
}

static int
s_old_closed(void)
{
	return (srv.conns[0].gone);
}

static void
s_check_handover(void)
{
	is_int(srv.conns[0].close_code, 1000, "old one closed with 1000");
	ok(!srv.conns[1].gone, "new one stays");
	ok(socket_connected(), "connected");
	is_int(stub_open_calls, 2, "no extra open");
}

static int
s_acked1(void)
{
	return (srv.conns[1].ntexts >= s_ntexts_want[1]);
}

static void
s_envelope_new(void)
{
	s_ntexts_want[1] = srv.conns[1].ntexts + 1;
	srv_send_text(1, "{\"envelope_id\":\"e-5\",\"type\":\"events_api\","
	    "\"payload\":{\"event_id\":\"Ev5\"}}");
}

static void
s_drop(void)
{
	is_str(srv_last_text(1), "{\"envelope_id\":\"e-5\"}",
	    "acked on the new connection");
	srv.hold_hello = 0;
	srv_conn_free(&srv.conns[1]);	/* no close frame: a drop */
}

static int
s_third_up(void)
{
	return (srv.nconns == 3 && socket_connected());
}

static void
s_check_reconnect(void)
{
	is_int(stub_open_calls, 3, "reconnected after a drop");
}

static void
s_link_disabled(void)
{
	srv_send_text(2, "{\"type\":\"disconnect\",\"reason\":"
	    "\"link_disabled\"}");
}

static int
s_third_closed(void)
{
	return (srv.conns[2].gone);
}

static void
s_check_disabled(void)
{
	is_int(srv.conns[2].close_code, 1000, "closed on link_disabled");
	is_int(stub_open_calls, 3, "no immediate reconnect");
	ok(!socket_connected(), "not connected");
}

static void
s_restart_with_errors(void)
{
	socket_stop();
	ok(!socket_connected(), "stopped");
	/* Then a ws:// URL to a non-loopback host, then a good one. */
	stub_plan[0] = "error:invalid_auth";
	stub_plan[1] = "url:ws://slack.example.com/link/?ticket=x";
	stub_nplan = 2;
	socket_start();
}

static int
s_fourth_up(void)
{
	return (srv.nconns == 4 && socket_connected());
}

static void
s_check_fourth(void)
{
	is_int(stub_open_calls, 6, "error, bad URL, then success");
	is_int(srv.nconns, 4, "never connected to the bad URL");
}

static void
s_stop(void)
{
	socket_stop();
	socket_stop();
	ok(!socket_connected(), "not connected after stop");
}

static int
s_fourth_closed(void)
{
	return (srv.conns[3].gone);
}

static void
s_check_stop(void)
{
	is_int(srv.conns[3].close_code, 1000, "stop sent close 1000");
}

static const struct step	socket_steps[] = {
	{ "socket mode connects on hello", s_start, s_connected },
	{ "start checks", s_check_start, NULL },
	{ "envelope acked", s_envelope, s_acked0 },
	{ "envelope checks", s_check_envelope, NULL },
	{ "interactive acked with payload", s_interactive, s_acked0 },
	{ "interactive checks", s_check_interactive, NULL },
	{ "redelivery acked", s_retry, s_acked0 },
	{ "redelivery checks", s_check_retry, NULL },
	{ "refresh opens a second connection", s_refresh, s_second_open },
	{ "old connection still serves", s_old_still_used, s_acked0 },
	{ "old closed after new hello", s_hello_new, s_old_closed },
	{ "handover checks", s_check_handover, NULL },
	{ "envelope on the new connection", s_envelope_new, s_acked1 },
	{ "drop reconnects with backoff", s_drop, s_third_up },
	{ "reconnect checks", s_check_reconnect, NULL },
	{ "link_disabled closes", s_link_disabled, s_third_closed },
	{ "link_disabled checks", s_check_disabled, NULL },
	{ "open error, bad URL, then success", s_restart_with_errors,
	    s_fourth_up },
	{ "retry checks", s_check_fourth, NULL },
	{ "stop closes", s_stop, s_fourth_closed },
	{ "stop checks", s_check_stop, NULL },
};

static void
test_socket_mode(void)
{
	struct timeval	tv = { 0, 0 };

	steps = socket_steps;
	nsteps = sizeof(socket_steps) / sizeof(socket_steps[0]);
	step_i = 0;
	step_started = 0;
	step_ev = evtimer_new(reactor_base, step_tick_cb, NULL);
	evtimer_add(step_ev, &tv);
	/* reactor_run ends every turn with the after-commit hooks. */
	reactor_run();
	event_free(step_ev);
	socket_stop();
	settle();
	srv_stop();
	free(stub_last_type);
	free(stub_last_id);
	free(stub_last_event_id);
}

int
main(void)
{
	/* Errors only (link_disabled logs one); TEST_DEBUG=1 for all. */
	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_ERROR, "unit-ws");
	reactor_init();

	test_keys();
	test_bad_urls();
	test_round_trip();
	test_slow_head();
	test_client_close(0);
	test_client_close(1);
	test_handshake_failure(SRV_BAD_ACCEPT,
	    "handshake: bad Sec-WebSocket-Accept", "bad accept rejected");
	test_handshake_failure(SRV_401, "handshake: HTTP 401",
	    "401 rejected");
	test_handshake_failure(SRV_NO_CONNECTION,
	    "handshake: missing Connection: upgrade",
	    "missing Connection rejected");
	test_handshake_failure(SRV_EXTENSION,
	    "handshake: server chose an extension we did not offer",
	    "unrequested extension rejected");
	test_handshake_failure(SRV_BIG_HEAD,
	    "handshake: response head over 16384 bytes",
	    "oversized response head rejected");
	test_handshake_failure(SRV_FOLDED,
	    "handshake: bad response: obsolete header line folding",
	    "folded header rejected");
	test_handshake_failure(SRV_BAD_NAME,
	    "handshake: bad response: malformed header",
	    "invalid header name rejected");
	test_handshake_failure(SRV_MANY_HEADERS,
	    "handshake: bad response: too many headers",
	    "101 headers rejected");
	test_refused();
	test_oversized();
	test_backpressure();
	test_ping_timeout();
	test_pings_answered();
	test_tls();
	/* Last: reactor_run leaves the reactor stopping. */
	test_socket_mode();

	cli_reset();
	settle();
	reactor_free();
	return (done_testing());
}
