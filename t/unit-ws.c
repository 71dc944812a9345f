/*
 * unit-ws.c: the WebSocket client against an in-process server.
 *
 * The server listens on 127.0.0.1 port 0, parses the Upgrade request and
 * computes Sec-WebSocket-Accept by its own code (not ws_accept_key), then
 * frames with a wslay server context. Each test picks a server mode and
 * runs the loop one turn at a time until the expected outcome or a
 * generous deadline; nothing sleeps.
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
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "incidentd.h"
#include "tap.h"

#define TEST_DEADLINE_MS	10000

enum srv_mode {
	SRV_ECHO,		/* greet, echo texts + ping, close on pong */
	SRV_QUIET,		/* frames flow, the server starts nothing */
	SRV_SILENT,		/* handshake, then never reads again */
	SRV_BAD_ACCEPT,
	SRV_401,
	SRV_NO_CONNECTION,	/* 101 without Connection: upgrade */
	SRV_EXTENSION,		/* 101 choosing an extension not offered */
	SRV_BIG_HEAD,		/* 101 head over 16 KiB */
	SRV_BIG_MESSAGE		/* a maximal message, then one byte more */
};

struct srv {
	struct evconnlistener	*lis;
	int			 port;
	enum srv_mode		 mode;
	struct bufferevent	*bev;
	wslay_event_context_ptr	 ctx;
	int			 closing;	/* free once output drains */

	/* What the server saw. */
	char			*head;		/* the client's request head */
	int			 connections;
	int			 texts;
	char			 last_text[64];
	int			 pings;
	int			 pongs;
	char			 pong_payload[64];
	int			 close_code;	/* from the client, 0 if none */
	int			 gone;		/* connection torn down */
};

struct cli {
	struct ws	*ws;
	int		 opened;
	int		 closed;
	char		*reason;
	int		 nmsgs;
	char		*msgs[4];
	size_t		 lens[4];
	int		 close_on_message;	/* ws_close from message cb */
};

static struct srv	 srv;
static struct cli	 cli;

/* Server side. */

static void
srv_accept_key(const char *key, size_t len, char *out)
{
	static const char	 guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
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
	int	n;

	n = evbuffer_remove(bufferevent_get_input(srv.bev), buf, len);
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
	evbuffer_add(bufferevent_get_output(srv.bev), data, len);
	return ((ssize_t)len);
}

static void
srv_queue(uint8_t opcode, const void *msg, size_t len)
{
	struct wslay_event_msg	m = { opcode, msg, len };

	if (wslay_event_queue_msg(srv.ctx, &m) != 0)
		diag("server: queue failed");
}

static void
srv_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	char	buf[128];
	int	n;

	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
		srv.texts++;
		snprintf(srv.last_text, sizeof(srv.last_text), "%.*s",
		    (int)m->msg_length, (const char *)m->msg);
		if (srv.mode == SRV_ECHO) {
			n = snprintf(buf, sizeof(buf), "echo:%.*s",
			    (int)m->msg_length, (const char *)m->msg);
			srv_queue(WSLAY_TEXT_FRAME, buf, (size_t)n);
			srv_queue(WSLAY_PING, "srv-ping", 8);
		}
		break;
	case WSLAY_PING:
		srv.pings++;
		break;
	case WSLAY_PONG:
		srv.pongs++;
		snprintf(srv.pong_payload, sizeof(srv.pong_payload), "%.*s",
		    (int)m->msg_length, (const char *)m->msg);
		if (srv.mode == SRV_ECHO)
			wslay_event_queue_close(ctx, 1001,
			    (const uint8_t *)"bye", 3);
		break;
	case WSLAY_CONNECTION_CLOSE:
		srv.close_code = m->status_code;
		break;
	}
}

static void
srv_free(void)
{
	if (srv.bev != NULL)
		bufferevent_free(srv.bev);
	if (srv.ctx != NULL)
		wslay_event_context_free(srv.ctx);
	srv.bev = NULL;
	srv.ctx = NULL;
	srv.closing = 0;
	srv.gone = 1;
}

static void
srv_pump(void)
{
	if (srv.ctx == NULL)
		return;
	wslay_event_recv(srv.ctx);
	wslay_event_send(srv.ctx);
	if (!wslay_event_want_read(srv.ctx) &&
	    !wslay_event_want_write(srv.ctx)) {
		/* Close handshake done: close once the output is out. */
		srv.closing = 1;
		if (evbuffer_get_length(bufferevent_get_output(srv.bev)) == 0)
			srv_free();
	}
}

static void
srv_handshake(void)
{
	struct evbuffer			*in = bufferevent_get_input(srv.bev);
	struct evbuffer			*out = bufferevent_get_output(srv.bev);
	struct evbuffer_ptr		 p;
	struct wslay_event_callbacks	 cbs = { srv_recv_cb, srv_send_cb,
					    NULL, NULL, NULL, NULL,
					    srv_msg_cb };
	char				 accept[64], *k, *end;
	size_t				 len, i;
	static char			 big[24 * 1024];

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1)
		return;
	len = (size_t)p.pos + 4;
	free(srv.head);
	srv.head = calloc(1, len + 1);
	evbuffer_remove(in, srv.head, len);

	accept[0] = '\0';
	if ((k = strcasestr(srv.head, "\r\nSec-WebSocket-Key:")) != NULL) {
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
		evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n");
		memset(big, 'x', sizeof(big));
		for (i = 0; i + 100 < sizeof(big); i += 100)
			evbuffer_add_printf(out, "X-Filler: %.90s\r\n", big);
		return;	/* never finished */
	default:
		break;
	}
	/* Mixed case and a token list, as real servers send them. */
	evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\n"
	    "%s"
	    "%s"
	    "Sec-WebSocket-Accept: %s\r\n\r\n",
	    srv.mode == SRV_NO_CONNECTION ? "" :
	    "Connection: keep-alive, Upgrade\r\n",
	    srv.mode == SRV_EXTENSION ?
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "", accept);
	if (srv.mode == SRV_BAD_ACCEPT || srv.mode == SRV_NO_CONNECTION ||
	    srv.mode == SRV_EXTENSION)
		return;

	wslay_event_context_server_init(&srv.ctx, &cbs, NULL);
	if (srv.mode == SRV_SILENT) {
		/* Read nothing more: client pings go unanswered. */
		bufferevent_disable(srv.bev, EV_READ);
		return;
	}
	if (srv.mode == SRV_ECHO) {
		/* Goes out in the same write as the 101. */
		srv_queue(WSLAY_TEXT_FRAME, "welcome", 7);
	}
	if (srv.mode == SRV_BIG_MESSAGE) {
		char	*m = malloc(WS_MAX_MESSAGE + 1);

		memset(m, 'a', WS_MAX_MESSAGE + 1);
		srv_queue(WSLAY_TEXT_FRAME, m, WS_MAX_MESSAGE);
		srv_queue(WSLAY_TEXT_FRAME, m, WS_MAX_MESSAGE + 1);
		free(m);
	}
	srv_pump();
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	if (srv.ctx == NULL)
		srv_handshake();
	else
		srv_pump();
}

static void
srv_write_cb(struct bufferevent *bev, void *arg)
{
	if (srv.closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		srv_free();
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		srv_free();
}

static void
srv_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	if (srv.bev != NULL) {
		close(fd);
		return;
	}
	srv.connections++;
	srv.gone = 0;
	srv.bev = bufferevent_socket_new(reactor_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(srv.bev, srv_read_cb, srv_write_cb, srv_event_cb,
	    NULL);
	bufferevent_enable(srv.bev, EV_READ | EV_WRITE);
}

static void
srv_start(enum srv_mode mode)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);

	free(srv.head);
	memset(&srv, 0, sizeof(srv));
	srv.mode = mode;
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
	srv_free();
	if (srv.lis != NULL)
		evconnlistener_free(srv.lis);
	srv.lis = NULL;
}

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
		/* Must be a no-op: already closing. */
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

static const struct ws_cbs	cli_cbs = {
	cli_open_cb, cli_message_cb, cli_closed_cb
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

/* Loop driving. */

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
static int	pred_srv_gone(void) { return (srv.gone && srv.connections); }
static int	pred_closed_and_gone(void) { return (cli.closed && srv.gone); }
static int	pred_srv_pings(void) { return (srv.pings >= 4 || cli.closed); }

/* Tests. */

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
	ok(srv.head != NULL && str_has_prefix(srv.head,
	    "GET /link/?ticket=t1&app_id=A1 HTTP/1.1\r\n"),
	    "request line carries path and query");
	snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n", srv.port);
	ok(srv.head != NULL && strstr(srv.head, want) != NULL, "Host header");
	ok(srv.head != NULL && strstr(srv.head, "\r\nUpgrade: websocket\r\n"),
	    "Upgrade header");
	ok(srv.head != NULL && strstr(srv.head, "\r\nConnection: Upgrade\r\n"),
	    "Connection header");
	ok(srv.head != NULL &&
	    strstr(srv.head, "\r\nSec-WebSocket-Version: 13\r\n"),
	    "version 13");
	is_int(cli.nmsgs, 2, "two messages");
	is_str(cli.msgs[0], "welcome",
	    "frame sent right behind the 101 delivered");
	is_str(cli.msgs[1], "echo:hello", "text round trip");
	is_str(srv.last_text, "hello", "server got the client's text");
	is_int(srv.pongs, 1, "server ping answered");
	is_str(srv.pong_payload, "srv-ping", "pong echoes the ping payload");
	is_int(cli.closed, 1, "closed callback once");
	is_str(cli.reason, "closed by peer (code 1001)", "close reason");
	is_int(srv.close_code, 1001, "client answered the close frame");
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
	is_int(srv.close_code, 1000, "client sent close 1000");
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
	ok(cli.reason != NULL && strncmp(cli.reason, "connect: ", 9) == 0,
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
	ok(cli.reason != NULL && strncmp(cli.reason, "message too large",
	    17) == 0, "reason: message too large");
	ok(run_until(pred_srv_gone, TEST_DEADLINE_MS), "server done");
	is_int(srv.close_code, 1009, "client sent close 1009");
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
	ok(srv.pings >= 4, "client pings every interval");
	is_int(cli.closed, 0, "answered pings keep it open");
	ws_close(cli.ws, "test: done");
	run_until(pred_srv_gone, TEST_DEADLINE_MS);
	settle();
	srv_stop();
}

int
main(void)
{
	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_ERROR, "unit-ws");
	reactor_init();

	test_keys();
	test_bad_urls();
	test_round_trip();
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
	test_refused();
	test_oversized();
	test_ping_timeout();
	test_pings_answered();

	cli_reset();
	free(srv.head);
	settle();
	reactor_free();
	return (done_testing());
}
