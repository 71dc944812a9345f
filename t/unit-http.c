/*
 * unit-http.c: the HTTP client against an in-process scripted server.
 *
 * The server listens on 127.0.0.1 port 0 in the reactor's own event base
 * (plain TCP, or TLS with a certificate made at test time). It reads
 * whole requests and answers each with the next step of a script: raw
 * response bytes, possibly followed by a close, or a close with no
 * answer, or silence. Tests run the loop one turn at a time until the
 * client callback fired or a generous deadline passed; nothing sleeps.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "incidentd.h"
#include "tap.h"

#define TEST_DEADLINE_MS	10000

struct step {
	const char	*resp;		/* raw bytes; NULL answers nothing */
	int		 close;		/* close after (or instead of) it */
};
#define SRV_CLOSE_NOTIFY	2	/* close: TLS close_notify, then FIN */

struct srv_conn {
	struct srv		*srv;
	struct bufferevent	*bev;
	int			 closing;
	int			 notify;	/* send close_notify first */
	TAILQ_ENTRY(srv_conn)	 entry;
};

struct srv {
	struct evconnlistener	*lis;
	int			 port;
	SSL_CTX			*ctx;
	const struct step	*steps;
	size_t			 nsteps;
	size_t			 next;
	int			 conns;		/* accepted */
	int			 reqs;		/* requests read */
	int			 freed;		/* connections torn down */
	char			 head[8192];	/* last request head */
	char			 body[256];	/* last request body */
	TAILQ_HEAD(, srv_conn)	 list;
};

struct cli {
	int		 done;
	int		 status;
	char		*error;
	char		*body;
	size_t		 body_len;
	int		 attempts;
	char		*hdr;		/* value of X-Test */
	uint64_t	 at;		/* now_ms() when the callback ran */
	int		 order;		/* completion order */
};

static int	 cli_completed;

static void	srv_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	srv_read_cb(struct bufferevent *, void *);
static void	srv_write_cb(struct bufferevent *, void *);
static void	srv_event_cb(struct bufferevent *, short, void *);
static void	srv_conn_close(struct srv_conn *);
static void	srv_conn_free_cb(void *);

static void
tick_cb(evutil_socket_t fd, short events, void *arg)
{
	/* Only here so that one loop turn never blocks for long. */
}

static int
run_until(const int *flag, int ms)
{
	uint64_t	end = now_ms() + ms;

	while (!*flag && now_ms() < end)
		event_base_loop(reactor_base, EVLOOP_ONCE);
	return (*flag);
}

static void
run_turns(int n)
{
	while (n-- > 0)
		event_base_loop(reactor_base, EVLOOP_NONBLOCK);
}

/* ------------------------------------------------------------------ */
/* The scripted server. */

static void
srv_start(struct srv *s, SSL_CTX *ctx, const struct step *steps,
    size_t nsteps)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	TAILQ_INIT(&s->list);
	s->ctx = ctx;
	s->steps = steps;
	s->nsteps = nsteps;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lis = evconnlistener_new_bind(reactor_base, srv_accept_cb, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (s->lis == NULL)
		fatal("evconnlistener_new_bind");
	if (getsockname(evconnlistener_get_fd(s->lis),
	    (struct sockaddr *)&sin, &len) == -1)
		fatal("getsockname");
	s->port = ntohs(sin.sin_port);
}

static void
srv_close_all(struct srv *s)
{
	struct srv_conn	*c;

	while ((c = TAILQ_FIRST(&s->list)) != NULL)
		srv_conn_close(c);
}

/* Close every connection now, with no loop turn for the client. */
static void
srv_close_now(struct srv *s)
{
	struct srv_conn	*c;

	while ((c = TAILQ_FIRST(&s->list)) != NULL) {
		TAILQ_REMOVE(&s->list, c, entry);
		s->freed++;
		bufferevent_free(c->bev);
		free(c);
	}
}

static void
srv_stop(struct srv *s)
{
	srv_close_all(s);
	run_turns(2);
	if (s->lis != NULL)
		evconnlistener_free(s->lis);
	s->lis = NULL;
}

static void
srv_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct srv	*s = arg;
	struct srv_conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	if (s->ctx != NULL) {
		c->bev = bufferevent_openssl_socket_new(reactor_base, fd,
		    SSL_new(s->ctx), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else
		c->bev = bufferevent_socket_new(reactor_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, srv_read_cb, srv_write_cb, srv_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->list, c, entry);
	s->conns++;
}

static void
srv_conn_close(struct srv_conn *c)
{
	/* No close_notify on TLS unless scripted: many servers do that. */
	if (c->notify && bufferevent_openssl_get_ssl(c->bev) != NULL)
		(void)SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	TAILQ_REMOVE(&c->srv->list, c, entry);
	reactor_defer(srv_conn_free_cb, c);
}

static void
srv_conn_free_cb(void *arg)
{
	struct srv_conn	*c = arg;

	c->srv->freed++;
	bufferevent_free(c->bev);
	free(c);
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct srv_conn		*c = arg;
	struct srv		*s = c->srv;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	const struct step	*st;
	const char		*cl;
	size_t			 hlen, blen;
	char			*head;

	while (!c->closing) {
		p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (p.pos == -1)
			return;
		hlen = p.pos + 4;
		head = xmalloc(hlen + 1);
		evbuffer_copyout(in, head, hlen);
		head[hlen] = '\0';
		blen = 0;
		if ((cl = strcasestr(head, "\r\nContent-Length:")) != NULL)
			blen = strtoul(cl + 17, NULL, 10);
		if (evbuffer_get_length(in) < hlen + blen) {
			free(head);
			return;
		}
		strlcpy(s->head, head, sizeof(s->head));
		free(head);
		evbuffer_drain(in, hlen);
		memset(s->body, 0, sizeof(s->body));
		evbuffer_remove(in, s->body, blen < sizeof(s->body) - 1 ?
		    blen : sizeof(s->body) - 1);
		if (blen >= sizeof(s->body))
			evbuffer_drain(in, blen - (sizeof(s->body) - 1));
		s->reqs++;

		if (s->next < s->nsteps)
			st = &s->steps[s->next++];
		else {
			static const struct step unscripted = {
			    "HTTP/1.1 418 Unscripted\r\n"
			    "Content-Length: 0\r\n\r\n", 0 };
			st = &unscripted;
		}
		if (st->resp != NULL)
			bufferevent_write(bev, st->resp, strlen(st->resp));
		if (st->close) {
			c->closing = 1;
			c->notify = st->close == SRV_CLOSE_NOTIFY;
			if (evbuffer_get_length(bufferevent_get_output(bev))
			    == 0) {
				srv_conn_close(c);
				return;
			}
		}
	}
}

static void
srv_write_cb(struct bufferevent *bev, void *arg)
{
	struct srv_conn	*c = arg;

	if (c->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		srv_conn_close(c);
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct srv_conn	*c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		srv_conn_close(c);
}

/* ------------------------------------------------------------------ */
/* The client side. */

static void
cli_reset(struct cli *c)
{
	free(c->error);
	free(c->body);
	free(c->hdr);
	memset(c, 0, sizeof(*c));
}

static void
cli_cb(const struct http_response *r, void *arg)
{
	struct cli	*c = arg;
	const char	*h;

	c->done++;
	c->status = r->status;
	c->error = r->error != NULL ? xstrdup(r->error) : NULL;
	c->body = xmalloc(r->body_len + 1);
	memcpy(c->body, r->body, r->body_len + 1);
	c->body_len = r->body_len;
	c->attempts = r->attempts;
	if ((h = http_response_header(r, "x-test")) != NULL)
		c->hdr = xstrdup(h);
	c->at = now_ms();
	c->order = ++cli_completed;
}

static struct http_req *
cli_start(struct cli *c, const char *method, const char *url, int flags,
    int timeout_ms, int max_attempts)
{
	struct http_request_args	a;

	cli_reset(c);
	memset(&a, 0, sizeof(a));
	a.method = method;
	a.url = url;
	a.flags = flags;
	a.timeout_ms = timeout_ms;
	a.max_attempts = max_attempts;
	a.log_name = "unit";
	return (http_request(&a, cli_cb, c));
}

static char *
url_for(struct srv *s, const char *scheme, const char *host,
    const char *path)
{
	char	*u;

	xasprintf(&u, "%s://%s:%d%s", scheme, host, s->port, path);
	return (u);
}

/* Run one request against a fresh server with the given script. */
static void
one_shot(struct cli *c, const struct step *steps, size_t n,
    const char *method, int flags, int max_attempts, struct srv *s)
{
	char	*u;

	srv_start(s, NULL, steps, n);
	u = url_for(s, "http", "127.0.0.1", "/x");
	cli_start(c, method, u, flags, 5000, max_attempts);
	free(u);
	run_until(&c->done, TEST_DEADLINE_MS);
}

/* ------------------------------------------------------------------ */
/* Tests. */

/* http_head_parse on s; the error, or NULL if it parsed. */
static const char *
head_err(const char *s, size_t len, struct http_head *h)
{
	const char	*err = NULL;

	if (http_head_parse(h, s, len, &err) == 0)
		return (NULL);
	ok(h->nhdrs == 0 && h->hdrs == NULL, "cleared after a failure");
	return (err);
}

/* The shared response-head parser (the client's and ws.c's). */
static void
test_head_parse(void)
{
	struct http_head	 h;
	const char		*e, *t;
	char			*big, *p;
	size_t			 i;

	t = "HTTP/1.1 101 Switching Protocols\r\nUpgrade:  websocket \t\r\n"
	    "X-Empty:\r\nCONNECTION: Upgrade\r\n\r\n";
	is_str(head_err(t, strlen(t), &h), NULL, "valid head parses");
	is_int(h.status, 101, "status");
	is_int(h.minor, 1, "minor version");
	is_int(h.nhdrs, 3, "three headers");
	is_str(http_head_get(&h, "upgrade"), "websocket",
	    "value trimmed, name case-insensitive");
	is_str(http_head_get(&h, "x-empty"), "", "empty value");
	is_str(http_head_get(&h, "Connection"), "Upgrade", "found by name");
	is_str(http_head_get(&h, "Absent"), NULL, "absent header");
	http_head_clear(&h);
	t = "HTTP/1.0 200\nA: b\n\n";
	is_str(head_err(t, strlen(t), &h), NULL, "LF line ends, no reason");
	is_int(h.minor, 0, "HTTP/1.0");
	http_head_clear(&h);

	/* Folded: a continuation line is refused, not unfolded. */
	t = "HTTP/1.1 101 OK\r\nX-A: b\r\n c\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: obsolete header line folding", "folded (space)");
	t = "HTTP/1.1 101 OK\r\nX-A: b\r\n\tc\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: obsolete header line folding", "folded (tab)");
	t = "HTTP/1.1 200 OK\r\n Upgrade: websocket\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: obsolete header line folding",
	    "first header indented");

	/* Invalid names and values. */
	t = "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n";
	is_str(head_err(t, strlen(t), &h), "bad response: malformed header",
	    "space in a name");
	t = "HTTP/1.1 200 OK\r\nName : x\r\n\r\n";
	is_str(head_err(t, strlen(t), &h), "bad response: malformed header",
	    "space before the colon");
	t = "HTTP/1.1 200 OK\r\n: x\r\n\r\n";
	is_str(head_err(t, strlen(t), &h), "bad response: malformed header",
	    "empty name");
	t = "HTTP/1.1 200 OK\r\nno colon\r\n\r\n";
	is_str(head_err(t, strlen(t), &h), "bad response: malformed header",
	    "no colon");
	t = "HTTP/1.1 200 OK\r\nA: b\rSet-Cookie: x\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: control character in header", "bare CR in a value");
	t = "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: control character in header", "DEL in a value");
	is_str(head_err("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", 24, &h),
	    "bad response: NUL in header", "NUL in a value");

	/* Status lines. */
	t = "HTTP/2 200 OK\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: malformed status line", "HTTP/2");
	t = "HTTP/1.1 20 OK\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: malformed status line", "two-digit status");
	t = "HTTP/1.1 600 No\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: malformed status line", "status 600");
	t = "HTTP/1.1 2000 OK\r\n\r\n";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: malformed status line", "four-digit status");

	/* Incomplete, trailing bytes, empty. */
	t = "HTTP/1.1 200 OK\r\nA: b\r\n";
	is_str(head_err(t, strlen(t), &h), "bad response: incomplete head",
	    "no empty line");
	t = "HTTP/1.1 200 OK\r\n\r\nX";
	is_str(head_err(t, strlen(t), &h),
	    "bad response: bytes after the head", "bytes after the head");
	is_str(head_err("", 0, &h), "bad response: empty response", "empty");

	/* Oversized: too many headers, too many bytes. */
	big = xmalloc(HTTP_MAX_HEADER_BYTES + 64);
	p = big + sprintf(big, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		p += sprintf(p, "X-%zu: v\r\n", i);
	p += sprintf(p, "\r\n");
	is_str(head_err(big, p - big, &h), NULL, "100 headers are fine");
	http_head_clear(&h);
	p -= 2;
	p += sprintf(p, "X-last: v\r\n\r\n");
	is_str(head_err(big, p - big, &h), "bad response: too many headers",
	    "101 headers refused");
	p = big + sprintf(big, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(p, 'x', HTTP_MAX_HEADER_BYTES);
	p += HTTP_MAX_HEADER_BYTES - 20;
	p += sprintf(p, "\r\n\r\n");
	is_str(head_err(big, p - big, &h), "bad response: headers too large",
	    "a head over 64 KiB refused");
	free(big);

	/* Trailers: checked, not kept. */
	e = NULL;
	is_int(http_head_header(NULL, "X-T: ok", &e), 0, "trailer checked");
	is_int(http_head_header(NULL, " folded", &e), -1, "folded trailer");
}

/* proxy.c: proxy URLs and no_proxy lists. */
static void
test_proxy_rules(void)
{
	static const struct {
		const char	*list;
		const char	*host;
		int		 port;
		int		 bypass;
	} np[] = {
		{ "*", "slack.com", 443, 1 },
		{ "example.com", "example.com", 443, 1 },
		{ "example.com", "api.example.com", 443, 1 },
		{ ".example.com", "api.EXAMPLE.com", 443, 1 },
		{ "*.example.com", "example.com", 443, 1 },
		{ "example.com", "badexample.com", 443, 0 },
		{ "example.com:8443", "example.com", 443, 0 },
		{ "example.com:8443", "example.com", 8443, 1 },
		{ "a.test, 10.0.0.1", "10.0.0.1", 80, 1 },
		{ "0.0.1", "10.0.0.1", 80, 0 },
		{ "::1", "::1", 443, 1 },
		{ "[::1]:8080", "::1", 8080, 1 },
		{ "[::1]:8080", "::1", 443, 0 },
		{ "", "slack.com", 443, 0 },
	};
	struct proxy_url	 pu;
	const char		*errstr;
	char			 name[160];
	size_t			 i;

	for (i = 0; i < sizeof(np) / sizeof(np[0]); i++) {
		snprintf(name, sizeof(name), "no_proxy \"%s\" %s %s:%d",
		    np[i].list, np[i].bypass ? "bypasses" : "keeps",
		    np[i].host, np[i].port);
		is_int(proxy_bypass(np[i].list, np[i].host, np[i].port),
		    np[i].bypass, name);
	}

	ok(proxy_parse_url("http://u%40x:p%3Aw@proxy.test:3128", 1, &pu,
	    &errstr) == 0, "proxy URL with credentials");
	is_str(pu.host, "proxy.test", "proxy host");
	is_int(pu.port, 3128, "proxy port");
	is_str(pu.user, "u@x", "user percent-decoded");
	is_str(pu.password, "p:w", "password percent-decoded");
	proxy_url_free(&pu);
	ok(proxy_parse_url("[::1]:8080", 1, &pu, &errstr) == 0 &&
	    strcmp(pu.host, "::1") == 0 && pu.port == 8080,
	    "scheme-less IPv6 proxy");
	proxy_url_free(&pu);
	ok(proxy_parse_url("http://u:p@proxy.test:3128", 0, &pu,
	    &errstr) == -1, "no password in proxy.url");
	ok(proxy_parse_url("http://proxy.test", 1, &pu, &errstr) == -1,
	    "a port is required");
	ok(proxy_parse_url("https://proxy.test:3128", 1, &pu, &errstr) == -1,
	    "https proxies refused");
	ok(proxy_parse_url("http://proxy.test:3128/x", 1, &pu,
	    &errstr) == -1, "no path");
	ok(proxy_parse_url("http://u:%0@proxy.test:3128", 1, &pu,
	    &errstr) == -1, "bad percent escape");
}

static void
test_retry_after(void)
{
	struct tm	tm;
	time_t		now;

	is_int(http_parse_retry_after("120", 0), 120000, "Retry-After 120");
	is_int(http_parse_retry_after("0", 0), 0, "Retry-After 0");
	is_int(http_parse_retry_after(" 5 ", 0), 5000,
	    "Retry-After with spaces");
	is_int(http_parse_retry_after("99999999999999999999", 0),
	    1000000000LL * 1000, "huge Retry-After is clamped");
	is_int(http_parse_retry_after("-1", 0), -1, "negative rejected");
	is_int(http_parse_retry_after("1.5", 0), -1, "fraction rejected");
	is_int(http_parse_retry_after("abc", 0), -1, "word rejected");
	is_int(http_parse_retry_after("", 0), -1, "empty rejected");
	is_int(http_parse_retry_after(NULL, 0), -1, "NULL rejected");

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 94;
	tm.tm_mon = 10;
	tm.tm_mday = 6;
	tm.tm_hour = 8;
	tm.tm_min = 49;
	tm.tm_sec = 7;
	now = timegm(&tm);
	is_int(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
	    30000, "IMF-fixdate");
	is_int(http_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT",
	    now), 30000, "RFC 850 date");
	is_int(http_parse_retry_after("Sun Nov  6 08:49:37 1994", now),
	    30000, "asctime date");
	is_int(http_parse_retry_after("Sun, 06 Nov 1994 08:48:00 GMT", now),
	    0, "date in the past is 0");
	is_int(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now),
	    -1, "non-GMT zone rejected");
	is_int(http_parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now),
	    -1, "bad month rejected");
	is_int(http_parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now),
	    -1, "bad hour rejected");
	is_int(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT x",
	    now), -1, "trailing garbage rejected");
}

static void
test_content_length(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		  "X-Test: yes\r\n\r\nhello", 0 },
	};
	struct srv			 s;
	struct cli			 c = { 0 };
	struct http_request_args	 a;
	const char			*hdrs[] = { "Authorization: Bearer t0k",
					    NULL };
	char				*u, *want;

	srv_start(&s, NULL, steps, 1);
	u = url_for(&s, "http", "127.0.0.1", "/api/x?y=1");
	memset(&a, 0, sizeof(a));
	a.method = "POST";
	a.url = u;
	a.headers = hdrs;
	a.content_type = "application/json";
	a.body = "{\"a\":1}";
	a.body_len = 7;
	http_request(&a, cli_cb, &c);
	free(u);
	ok(!c.done, "callback not run inside http_request");
	is_int(http_inflight(), 1, "one request in flight");
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.done, 1, "Content-Length: callback ran once");
	is_int(c.status, 200, "Content-Length: status");
	is_str(c.body, "hello", "Content-Length: body");
	is_int(c.body_len, 5, "Content-Length: body_len");
	is_str(c.error, NULL, "Content-Length: no error");
	is_int(c.attempts, 1, "Content-Length: one attempt");
	is_str(c.hdr, "yes", "header lookup is case-insensitive");
	is_int(http_inflight(), 0, "nothing in flight after the callback");

	ok(str_has_prefix(s.head, "POST /api/x?y=1 HTTP/1.1\r\n"),
	    "request line");
	xasprintf(&want, "\r\nHost: 127.0.0.1:%d\r\n", s.port);
	ok(strstr(s.head, want) != NULL, "Host with port");
	free(want);
	ok(strstr(s.head, "\r\nUser-Agent: incidentd/" VERSION "\r\n") !=
	    NULL, "User-Agent");
	ok(strstr(s.head, "\r\nContent-Type: application/json\r\n") != NULL,
	    "Content-Type");
	ok(strstr(s.head, "\r\nContent-Length: 7\r\n") != NULL,
	    "Content-Length sent");
	ok(strstr(s.head, "\r\nConnection: keep-alive\r\n") != NULL,
	    "Connection: keep-alive");
	ok(strstr(s.head, "\r\nAuthorization: Bearer t0k\r\n") != NULL,
	    "caller header");
	is_str(s.body, "{\"a\":1}", "body sent");
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_chunked(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5;name=value\r\nhello\r\n7\r\n, world\r\n"
		  "0\r\nX-Trailer: 1\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "A\r\n0123456789\r\n0\r\n\r\n", 0 },
	};
	struct srv	 s;
	struct cli	 c = { 0 };
	char		*u;

	srv_start(&s, NULL, steps, 2);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "chunked: status");
	is_str(c.body, "hello, world", "chunked: body with extension");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.body, "0123456789", "chunked: upper-case hex size");
	is_int(s.conns, 1, "chunked: connection reused after trailers");
	free(u);
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_keepalive(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd", 0 },
	};
	struct srv	 s;
	struct cli	 c = { 0 };
	char		*u;
	int		 freed;

	srv_start(&s, NULL, steps, 4);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.body, "a", "keep-alive: first response");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.body, "b", "keep-alive: second response");
	is_int(s.conns, 1, "keep-alive: one connection for two requests");
	is_int(s.reqs, 2, "keep-alive: two requests");

	/* The server drops the idle connection; the client notices. */
	freed = s.freed;
	srv_close_all(&s);
	run_until(&s.freed, TEST_DEADLINE_MS);
	ok(s.freed > freed, "server closed the idle connection");
	run_turns(3);
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "after idle close: request succeeds");
	is_str(c.body, "c", "after idle close: body");
	is_int(c.attempts, 1, "after idle close: one attempt");
	is_int(s.conns, 2, "after idle close: a new connection");

	/* Closed right before reuse, before the EOF event could run. */
	freed = s.freed;
	srv_close_now(&s);
	ok(s.freed > freed, "server closed the idle connection again");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "close racing reuse: request succeeds");
	is_str(c.body, "d", "close racing reuse: body");
	is_int(s.conns, 3, "close racing reuse: a new connection");
	free(u);
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_stale_replay(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 0 },
		{ NULL, 1 },	/* reads the request, closes, no answer */
		{ "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nb", 0 },
	};
	static const struct step fresh[] = {
		{ NULL, 1 },
	};
	static const struct step fresh_get[] = {
		{ NULL, 1 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0 },
	};
	struct srv	 s;
	struct cli	 c = { 0 };
	char		*u;

	/* An idempotent request is replayed once on a fresh connection. */
	srv_start(&s, NULL, steps, 3);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_start(&c, "PUT", u, HTTP_IDEMPOTENT, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "stale: first PUT");
	cli_start(&c, "PUT", u, HTTP_IDEMPOTENT, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 201,
	    "stale: idempotent PUT replayed once on a fresh connection");
	is_str(c.body, "b", "stale: body of the replay");
	is_int(c.attempts, 1, "stale: a replay is not an attempt");
	is_int(s.conns, 2, "stale: two connections");
	is_int(s.reqs, 3, "stale: three requests seen");
	free(u);
	srv_stop(&s);

	/*
	 * A POST is not: the server read it and may have acted. Only the
	 * job engine may send it again, after its probe.
	 */
	srv_start(&s, NULL, steps, 3);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_start(&c, "POST", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "stale: first POST");
	cli_start(&c, "POST", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 0, "stale: a POST is not replayed");
	is_str(c.error, "connection closed before response",
	    "stale POST: the caller learns it");
	is_int(s.reqs, 2, "stale POST: sent once");
	free(u);
	srv_stop(&s);

	/* On a fresh connection the same failure is not replayed. */
	one_shot(&c, fresh, 1, "POST", 0, 5, &s);
	is_int(c.status, 0, "fresh close: POST not retried");
	is_str(c.error, "connection closed before response",
	    "fresh close: error");
	is_int(c.attempts, 1, "fresh close: one attempt");
	srv_stop(&s);

	one_shot(&c, fresh_get, 2, "GET", HTTP_IDEMPOTENT, 5, &s);
	is_int(c.status, 200, "fresh close: idempotent GET retried");
	is_int(c.attempts, 2, "fresh close: two attempts");
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_5xx(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0 },
	};
	struct srv	s;
	struct cli	c = { 0 };

	one_shot(&c, steps, 2, "GET", HTTP_IDEMPOTENT, 0, &s);
	is_int(c.status, 200, "503 then 200: idempotent GET retried");
	is_str(c.body, "ok", "503 then 200: body of the last attempt");
	is_int(c.attempts, 2, "503 then 200: two attempts");
	srv_stop(&s);

	one_shot(&c, steps, 2, "POST", 0, 0, &s);
	is_int(c.status, 503, "503: POST not retried");
	is_str(c.body, "busy", "503: body handed over");
	is_int(c.attempts, 1, "503: one attempt");
	is_int(s.reqs, 1, "503: server saw one request");
	srv_stop(&s);

	one_shot(&c, steps, 2, "GET", HTTP_IDEMPOTENT, 1, &s);
	is_int(c.status, 503, "503: max_attempts 1 is respected");
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_429(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 429 Too Many\r\nRetry-After: 1\r\n"
		  "Content-Length: 0\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0 },
	};
	static const struct step long_wait[] = {
		{ "HTTP/1.1 429 Too Many\r\nRetry-After: 1000\r\n"
		  "Content-Length: 0\r\n\r\n", 0 },
	};
	struct srv	s;
	struct cli	c = { 0 };
	uint64_t	start;

	start = now_ms();
	one_shot(&c, steps, 2, "POST", 0, 0, &s);
	is_int(c.status, 200, "429: POST retried after Retry-After");
	is_int(c.attempts, 2, "429: two attempts");
	ok(c.at - start >= 900, "429: waited at least Retry-After");
	srv_stop(&s);

	one_shot(&c, steps, 2, "POST", HTTP_NO_RETRY, 0, &s);
	is_int(c.status, 429, "429: HTTP_NO_RETRY returns the 429");
	is_int(c.attempts, 1, "429: HTTP_NO_RETRY makes one attempt");
	srv_stop(&s);

	start = now_ms();
	one_shot(&c, long_wait, 1, "GET", HTTP_IDEMPOTENT, 0, &s);
	is_int(c.status, 429, "429: a wait over 120 s gives up");
	is_int(c.attempts, 1, "429: at once");
	ok(c.at - start < 5000, "429: without waiting");
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_timeout(void)
{
	static const struct step steps[] = {
		{ NULL, 0 },		/* never answers */
	};
	struct srv	 s;
	struct cli	 c = { 0 };
	uint64_t	 start;
	char		*u;

	srv_start(&s, NULL, steps, 1);
	u = url_for(&s, "http", "127.0.0.1", "/");
	start = now_ms();
	cli_start(&c, "GET", u, HTTP_IDEMPOTENT, 300, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 0, "timeout: no status");
	is_str(c.error, "timeout", "timeout: error");
	ok(c.at - start >= 250, "timeout: after the deadline");
	run_until(&s.freed, TEST_DEADLINE_MS);
	is_int(s.freed, 1, "timeout: connection closed");
	free(u);
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_refused(void)
{
	struct srv	 s;
	struct cli	 c = { 0 };
	char		*u;
	int		 port;

	srv_start(&s, NULL, NULL, 0);
	port = s.port;
	srv_stop(&s);
	xasprintf(&u, "http://127.0.0.1:%d/", port);
	cli_start(&c, "POST", u, HTTP_NO_RETRY, 2000, 0);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 0, "refused: no status");
	is_str(c.error, "connect: Connection refused", "refused: error");
	is_int(c.attempts, 1, "refused: HTTP_NO_RETRY");

	/* Nothing was sent, so even a POST is retried. */
	cli_start(&c, "POST", u, 0, 2000, 2);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.attempts, 2, "refused: retried since nothing was sent");
	free(u);
	cli_reset(&c);
}

static void
test_malformed(void)
{
	static const struct step bad_status[] = {
		{ "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", 1 },
	};
	static const struct step garbage[] = {
		{ "SSH-2.0-OpenSSH\r\n\r\n", 1 },
	};
	static const struct step bad_chunk[] = {
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\n", 1 },
	};
	static const struct step bad_len[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", 1 },
	};
	static const struct step gzip[] = {
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 1 },
	};
	static const struct step folded[] = {
		{ "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\n\r\n", 1 },
	};
	static const struct step huge_body[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n", 1 },
	};
	static const struct step truncated[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1 },
	};
	struct step	 big[1], many[1];
	struct srv	 s;
	struct cli	 c = { 0 };
	struct evbuffer	*b;
	char		*resp;
	int		 i;

	one_shot(&c, bad_status, 1, "GET", HTTP_IDEMPOTENT, 0, &s);
	is_int(c.status, 0, "bad status line: status 0");
	is_str(c.error, "bad response: malformed status line",
	    "bad status line: error");
	is_int(c.attempts, 1, "bad status line: not retried");
	srv_stop(&s);

	one_shot(&c, garbage, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: malformed status line",
	    "not HTTP at all");
	srv_stop(&s);

	one_shot(&c, bad_chunk, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: invalid chunk size",
	    "bad chunk size");
	srv_stop(&s);

	one_shot(&c, bad_len, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: invalid Content-Length",
	    "conflicting Content-Length");
	srv_stop(&s);

	one_shot(&c, gzip, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: unsupported transfer coding",
	    "unsupported transfer coding");
	srv_stop(&s);

	one_shot(&c, folded, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: obsolete header line folding",
	    "obsolete line folding");
	srv_stop(&s);

	one_shot(&c, huge_body, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: body too large", "body over 16 MiB");
	srv_stop(&s);

	one_shot(&c, truncated, 1, "GET", 0, 0, &s);
	is_str(c.error, "connection closed mid-response", "truncated body");
	srv_stop(&s);

	/* One header of 70 KiB. */
	b = evbuffer_new();
	evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\nX-Big: ");
	for (i = 0; i < 70 * 1024; i++)
		evbuffer_add(b, "a", 1);
	evbuffer_add_printf(b, "\r\nContent-Length: 0\r\n\r\n");
	evbuffer_add(b, "", 1);
	resp = xstrdup((char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	big[0].resp = resp;
	big[0].close = 1;
	one_shot(&c, big, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: headers too large",
	    "oversized headers");
	srv_stop(&s);
	free(resp);

	b = evbuffer_new();
	evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 101; i++)
		evbuffer_add_printf(b, "X-H%d: %d\r\n", i, i);
	evbuffer_add_printf(b, "Content-Length: 0\r\n\r\n");
	evbuffer_add(b, "", 1);
	resp = xstrdup((char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	many[0].resp = resp;
	many[0].close = 1;
	one_shot(&c, many, 1, "GET", 0, 0, &s);
	is_str(c.error, "bad response: too many headers", "101 headers");
	srv_stop(&s);
	free(resp);
	cli_reset(&c);
}

static void
test_framings(void)
{
	static const struct step until_close[] = {
		{ "HTTP/1.0 200 OK\r\n\r\nuntil close", 1 },
	};
	static const struct step head[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0 },
		{ "HTTP/1.1 204 No Content\r\n\r\n", 0 },
		{ "HTTP/1.1 100 Continue\r\n\r\n"
		  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0 },
	};
	struct srv	 s;
	struct cli	 c = { 0 };
	char		*u;

	one_shot(&c, until_close, 1, "GET", 0, 0, &s);
	is_int(c.status, 200, "HTTP/1.0 until close: status");
	is_str(c.body, "until close", "HTTP/1.0 until close: body");
	srv_stop(&s);

	srv_start(&s, NULL, head, 3);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_start(&c, "HEAD", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "HEAD: status");
	is_int(c.body_len, 0, "HEAD: no body read");
	cli_start(&c, "DELETE", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 204, "204: no body");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "100 Continue skipped");
	is_str(c.body, "ok", "100 Continue: final body");
	is_int(s.conns, 1, "HEAD, 204 and 100 keep the connection");
	free(u);
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_bad_requests(void)
{
	struct http_request_args	 a;
	struct cli			 c = { 0 };
	const char			*inj[] = { "X-A: 1\r\nX-B: 2", NULL };
	const char			*host[] = { "Host: evil", NULL };

	cli_start(&c, "GET", "ftp://example.com/", 0, 0, 0);
	ok(!c.done, "bad URL: not called synchronously");
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.done, 1, "bad URL: called once");
	ok(c.error != NULL && str_has_prefix(c.error, "bad request: "),
	    "bad URL: bad request");
	is_int(c.attempts, 0, "bad URL: no attempt");

	cli_start(&c, "G ET", "http://127.0.0.1/", 0, 0, 0);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.error, "bad request: invalid method", "bad method");

	cli_reset(&c);
	memset(&a, 0, sizeof(a));
	a.method = "GET";
	a.url = "http://127.0.0.1:1/";
	a.headers = inj;
	http_request(&a, cli_cb, &c);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.error, "bad request: control character in header",
	    "header injection rejected");

	cli_reset(&c);
	a.headers = host;
	http_request(&a, cli_cb, &c);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.error, "bad request: header is set by http.c",
	    "framing header rejected");
	cli_reset(&c);
}

static void
test_cancel(void)
{
	static const struct step steps[] = {
		{ NULL, 0 },
	};
	struct srv		 s;
	struct cli		 c = { 0 };
	struct http_req		*req;
	char			*u;

	srv_start(&s, NULL, steps, 1);
	u = url_for(&s, "http", "127.0.0.1", "/");
	req = cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&s.reqs, TEST_DEADLINE_MS);
	is_int(s.reqs, 1, "cancel: request reached the server");
	http_cancel(req);
	is_int(http_inflight(), 0, "cancel: nothing in flight");
	run_until(&s.freed, TEST_DEADLINE_MS);
	is_int(s.freed, 1, "cancel: connection closed");
	run_turns(5);
	is_int(c.done, 0, "cancel: callback never ran");

	/* Cancelled while its connection is being dialed. */
	req = cli_start(&c, "GET", u, 0, 5000, 1);
	http_cancel(req);
	run_turns(5);
	is_int(c.done, 0, "cancel at once: callback never ran");
	free(u);
	srv_stop(&s);
	cli_reset(&c);
}

static void
test_queue(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3", 0 },
	};
	struct srv	 s;
	struct cli	 c[3];
	char		*u;
	int		 i;

	memset(c, 0, sizeof(c));
	http_set_max_per_host(1);
	srv_start(&s, NULL, steps, 3);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_completed = 0;
	for (i = 0; i < 3; i++)
		cli_start(&c[i], "GET", u, 0, 5000, 1);
	run_until(&c[2].done, TEST_DEADLINE_MS);
	for (i = 0; i < 3; i++) {
		is_int(c[i].status, 200, "queue: request succeeded");
		is_int(c[i].order, i + 1, "queue: FIFO order");
	}
	is_str(c[2].body, "3", "queue: last body");
	is_int(s.conns, 1, "queue: max_per_host 1 means one connection");
	http_set_max_per_host(8);
	free(u);
	srv_stop(&s);
	for (i = 0; i < 3; i++)
		cli_reset(&c[i]);
}

struct dial_res {
	int			 done;
	struct bufferevent	*bev;
	char			*error;
};

static void
dial_cb(struct bufferevent *bev, const char *error, void *arg)
{
	struct dial_res	*d = arg;

	d->done++;
	d->bev = bev;
	d->error = error != NULL ? xstrdup(error) : NULL;
}

static void
dial_reset(struct dial_res *d)
{
	if (d->bev != NULL)
		bufferevent_free(d->bev);
	free(d->error);
	memset(d, 0, sizeof(*d));
}

static void
test_dial(void)
{
	struct srv		 s;
	struct dial_res		 d = { 0 };
	struct http_dial	*hd;
	int			 port;

	srv_start(&s, NULL, NULL, 0);
	http_dial("127.0.0.1", s.port, 0, 2000, dial_cb, &d);
	ok(!d.done, "dial: not called synchronously");
	run_until(&d.done, TEST_DEADLINE_MS);
	ok(d.bev != NULL && d.error == NULL, "dial: connected");
	dial_reset(&d);

	http_dial("localhost", s.port, 0, 2000, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	ok(d.bev != NULL, "dial: localhost through evdns");
	dial_reset(&d);

	hd = http_dial("127.0.0.1", s.port, 0, 2000, dial_cb, &d);
	http_dial_cancel(hd);
	run_turns(5);
	is_int(d.done, 0, "dial: cancelled dial never calls back");

	http_dial("bad host", 80, 0, 300, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	is_str(d.error, "connect: invalid host", "dial: bad host name");
	dial_reset(&d);

	port = s.port;
	srv_stop(&s);
	http_dial("127.0.0.1", port, 0, 2000, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	is_str(d.error, "connect: Connection refused", "dial: refused");
	dial_reset(&d);
}

/* ------------------------------------------------------------------ */
/* TLS with certificates made here. */

static EVP_PKEY *
tls_test_key(void)
{
	EVP_PKEY	*key;

	if ((key = EVP_EC_gen("P-256")) == NULL)
		fatalx("EVP_EC_gen failed");
	return (key);
}

static X509 *
tls_test_cert(EVP_PKEY *key, const char *san)
{
	static long	 serial = 1;
	X509		*x;
	X509_NAME	*name;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;

	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"incidentd unit test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x, key, EVP_sha256()) == 0)
		fatalx("X509_sign failed");
	return (x);
}

static SSL_CTX *
tls_test_server(EVP_PKEY *key, X509 *x)
{
	SSL_CTX	*ctx;

	ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		fatalx("server certificate");
	return (ctx);
}

static void
tls_test_write(const char *path, X509 *x)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		fatal("%s", path);
	PEM_write_X509(f, x);
	fclose(f);
}

static void
test_tls(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain", 0 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclean",
		    SRV_CLOSE_NOTIFY },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndirty", 1 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "Connection: close\r\n\r\nsized", 1 },
	};
	char		 good_ca[] = "/tmp/unit-http-good.XXXXXX";
	char		 wrong_ca[] = "/tmp/unit-http-wrong.XXXXXX";
	EVP_PKEY	*key;
	X509		*good, *wrong;
	SSL_CTX		*good_ctx, *wrong_ctx;
	struct srv	 s, plain;
	struct cli	 c = { 0 };
	struct dial_res	 d = { 0 };
	char		*u, *cause = NULL;
	int		 fd;

	ok(tls_new_ssl("localhost") == NULL, "tls: no SSL before tls_init");

	key = tls_test_key();
	good = tls_test_cert(key, "DNS:localhost,IP:127.0.0.1");
	wrong = tls_test_cert(key, "DNS:wrong.example");
	good_ctx = tls_test_server(key, good);
	wrong_ctx = tls_test_server(key, wrong);
	if ((fd = mkstemp(good_ca)) == -1 || close(fd) == -1)
		fatal("mkstemp");
	if ((fd = mkstemp(wrong_ca)) == -1 || close(fd) == -1)
		fatal("mkstemp");
	tls_test_write(good_ca, good);
	tls_test_write(wrong_ca, wrong);

	is_int(tls_init(good_ca, &cause), 0, "tls: init with ca_file");
	free(cause);
	cause = NULL;

	srv_start(&s, good_ctx, steps, 5);
	u = url_for(&s, "https", "127.0.0.1", "/");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "tls: request to an IP SAN");
	is_str(c.body, "secure", "tls: body");
	free(u);
	u = url_for(&s, "https", "localhost", "/");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.body, "again", "tls: request to a DNS SAN");
	/* A body that ends with the connection needs close_notify. */
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "tls: close_notify ends a body framed by close");
	is_str(c.body, "clean", "tls: body framed by the close");
	ok(c.error == NULL, "tls: no error");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 0, "tls: a FIN without close_notify is no response");
	is_str(c.error, "tls: response truncated (connection closed without "
	    "close_notify)", "tls: truncation reported");
	cli_start(&c, "GET", u, 0, 5000, 1);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_int(c.status, 200, "tls: Content-Length body, then a bare FIN");
	is_str(c.body, "sized", "tls: framed body complete before the close");
	free(u);

	/* A TLS handshake against a server that never speaks TLS. */
	srv_start(&plain, NULL, NULL, 0);
	http_dial("127.0.0.1", plain.port, 1, 300, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	is_str(d.error, "timeout after 300 ms", "tls: handshake deadline");
	dial_reset(&d);
	srv_stop(&plain);

	/* A failed reload keeps the context that works. */
	ok(tls_reload("/nonexistent/ca.pem", &cause) == -1 &&
	    cause != NULL && strstr(cause, "/nonexistent/ca.pem") != NULL,
	    "tls: reload with a missing file fails");
	free(cause);
	cause = NULL;
	http_dial("127.0.0.1", s.port, 1, 2000, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	ok(d.bev != NULL, "tls: old context kept after a failed reload");
	tls_shutdown(d.bev);
	dial_reset(&d);
	srv_stop(&s);

	/* Hostname and IP mismatches. */
	srv_start(&s, wrong_ctx, NULL, 0);
	is_int(tls_reload(wrong_ca, &cause), 0, "tls: reload");
	free(cause);
	cause = NULL;
	http_dial("localhost", s.port, 1, 2000, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	is_str(d.error, "tls: certificate verify failed: hostname mismatch",
	    "tls: hostname mismatch");
	dial_reset(&d);
	u = url_for(&s, "https", "127.0.0.1", "/");
	cli_start(&c, "GET", u, HTTP_IDEMPOTENT, 2000, 3);
	run_until(&c.done, TEST_DEADLINE_MS);
	is_str(c.error, "tls: certificate verify failed: IP address mismatch",
	    "tls: IP address mismatch");
	is_int(c.attempts, 1, "tls: verify failures are not retried");
	free(u);
	srv_stop(&s);

	/* A certificate nobody vouches for. */
	srv_start(&s, good_ctx, NULL, 0);
	http_dial("localhost", s.port, 1, 2000, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	ok(d.error != NULL && str_has_prefix(d.error,
	    "tls: certificate verify failed: "), "tls: untrusted issuer");
	dial_reset(&d);
	srv_stop(&s);

	http_shutdown();
	tls_free();
	SSL_CTX_free(good_ctx);
	SSL_CTX_free(wrong_ctx);
	X509_free(good);
	X509_free(wrong);
	EVP_PKEY_free(key);
	unlink(good_ca);
	unlink(wrong_ca);
	cli_reset(&c);
}

struct chain {
	struct http_req	*self;
	struct cli	 next;
	char		*url;
	int		 done;
	int		 shutdown;	/* call http_shutdown in the callback */
};

static void
chain_cb(const struct http_response *r, void *arg)
{
	struct chain	*ch = arg;

	ch->done = r->status;
	/* Harmless on itself, from inside its callback. */
	http_cancel(ch->self);
	if (ch->shutdown)
		http_shutdown();
	else
		cli_start(&ch->next, "GET", ch->url, 0, 5000, 1);
}

static void
test_reentry(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 0 },
		{ "HTTP/1.1 202 OK\r\nContent-Length: 1\r\n\r\nb", 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", 0 },
	};
	static const struct step hang[] = {
		{ NULL, 0 },
	};
	struct http_request_args	 a;
	struct srv			 s, s2;
	struct chain			 ch;
	struct cli			 other = { 0 };
	char				*u2;

	srv_start(&s, NULL, steps, 3);
	srv_start(&s2, NULL, hang, 1);
	u2 = url_for(&s2, "http", "127.0.0.1", "/");
	memset(&ch, 0, sizeof(ch));
	ch.url = url_for(&s, "http", "127.0.0.1", "/");
	memset(&a, 0, sizeof(a));
	a.url = ch.url;
	ch.self = http_request(&a, chain_cb, &ch);
	run_until(&ch.next.done, TEST_DEADLINE_MS);
	is_int(ch.done, 200, "re-entry: first callback");
	is_int(ch.next.status, 202, "re-entry: request from a callback");

	/* http_shutdown from a callback while another request waits. */
	ch.shutdown = 1;
	ch.done = 0;
	ch.self = http_request(&a, chain_cb, &ch);
	cli_start(&other, "GET", u2, 0, 5000, 1);
	run_until(&s2.reqs, TEST_DEADLINE_MS);
	run_until(&ch.done, TEST_DEADLINE_MS);
	is_int(ch.done, 200, "re-entry: shutdown from a callback");
	run_turns(5);
	is_int(other.done, 0, "re-entry: shutdown cancelled the other one");
	is_int(http_inflight(), 0, "re-entry: nothing in flight");
	free(ch.url);
	free(u2);
	srv_stop(&s);
	srv_stop(&s2);
	cli_reset(&ch.next);
	cli_reset(&other);
}

static void
test_big_body(void)
{
	struct step	 steps[1];
	struct srv	 s;
	struct cli	 c = { 0 };
	struct evbuffer	*b;
	char		*resp;
	size_t		 i, n = 1024 * 1024;

	b = evbuffer_new();
	evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
	    "\r\n", n);
	for (i = 0; i < n; i++)
		evbuffer_add(b, i % 2 ? "b" : "a", 1);
	evbuffer_add(b, "", 1);
	resp = xstrdup((char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	steps[0].resp = resp;
	steps[0].close = 0;
	one_shot(&c, steps, 1, "GET", 0, 1, &s);
	is_int(c.status, 200, "1 MiB body: status");
	is_int(c.body_len, n, "1 MiB body: length");
	ok(c.body != NULL && c.body[n] == '\0' && c.body[n - 1] == 'b',
	    "1 MiB body: NUL-terminated");
	srv_stop(&s);
	free(resp);
	cli_reset(&c);
}

static void
test_dns_deadline(void)
{
	struct dial_res		 d = { 0 }, gone = { 0 };
	struct http_dial	*cancelled;

	/* No network here: either the resolver answers or the deadline. */
	http_dial("nonexistent.invalid", 80, 0, 300, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	ok(d.error != NULL && (strcmp(d.error, "timeout after 300 ms") ==
	    0 || str_has_prefix(d.error, "dns: nonexistent.invalid: ")),
	    "dns: failure or deadline");
	dial_reset(&d);

	/* A lookup outliving its dial: the late answer must do nothing. */
	cancelled = http_dial("nonexistent.invalid", 80, 0, 2000, dial_cb,
	    &gone);
	http_dial_cancel(cancelled);
	http_dial("nonexistent.invalid", 80, 0, 2000, dial_cb, &d);
	run_until(&d.done, TEST_DEADLINE_MS);
	run_turns(5);
	is_int(gone.done, 0, "dns: cancelled dial stays silent");
	dial_reset(&d);
}

static void
test_shutdown(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 0 },
		{ NULL, 0 },
	};
	struct srv	 s;
	struct cli	 c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
	struct dial_res	 d = { 0 };
	char		*u;

	srv_start(&s, NULL, steps, 2);
	u = url_for(&s, "http", "127.0.0.1", "/");
	cli_start(&c1, "GET", u, 0, 5000, 1);
	run_until(&c1.done, TEST_DEADLINE_MS);
	cli_start(&c2, "GET", u, 0, 5000, 1);	/* hangs */
	run_until(&s.reqs, TEST_DEADLINE_MS);
	cli_start(&c3, "GET", u, 0, 5000, 1);	/* waits to be sent */
	http_dial("127.0.0.1", s.port, 0, 2000, dial_cb, &d);
	is_int(http_inflight(), 2, "shutdown: two requests in flight");
	http_shutdown();
	is_int(http_inflight(), 0, "shutdown: none left");
	run_turns(5);
	ok(!c2.done && !c3.done && !d.done, "shutdown: no callbacks");
	free(u);
	srv_stop(&s);
	cli_reset(&c1);
	cli_reset(&c2);
	cli_reset(&c3);
}

int
main(void)
{
	struct event	*tick;
	struct timeval	 tv = { 0, 50000 };

	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_WARN, "unit-http");
	reactor_init();
	http_init();
	tick = event_new(reactor_base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);

	test_retry_after();
	test_proxy_rules();
	test_head_parse();
	test_content_length();
	test_chunked();
	test_keepalive();
	test_stale_replay();
	test_5xx();
	test_429();
	test_timeout();
	test_refused();
	test_malformed();
	test_framings();
	test_bad_requests();
	test_cancel();
	test_queue();
	test_dial();
	test_reentry();
	test_big_body();
	test_dns_deadline();
	test_tls();
	test_shutdown();

	http_shutdown();
	run_turns(3);
	event_free(tick);
	reactor_free();
	return (done_testing());
}
