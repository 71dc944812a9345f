/*
 * sandbox.c: the sandbox workspace for integration tests and the demo.
 *
 * One libevent program serving, on 127.0.0.1 port 0 each: the Slack Web
 * API (fake-slack.c), the Socket Mode WebSocket server (fake-socket.c),
 * Jira (fake-jira.c), PagerDuty (fake-pagerduty.c) and this control API.
 * Ports are published as JSON in --ports-file (written to PATH.tmp, then
 * renamed): {"slack":N,"socket":N,"jira":N,"pagerduty":N,"control":N,
 * "proxy":N,"pid":N}. "proxy" is an HTTP CONNECT proxy (fake-proxy.c)
 * for the egress tests, with its own ops under /control/proxy/.
 *
 * Every request to a service is recorded, checked against armed faults,
 * then handed to the service. The control API (plain HTTP, JSON bodies):
 *
 *   GET  /control/health                    {"ok":true}
 *   POST /control/fault                     arm a fault (see below)
 *   GET  /control/faults                    armed faults
 *   POST /control/faults/clear              disarm all
 *   GET  /control/requests?service=S&since=N[&match=PATH][&wait_ms=MS]
 *        recorded requests with seq > since, oldest first, as
 *        {"requests":[{seq,time,service,method,path,query,headers,body,
 *        json,params,status,response,response_headers,response_text}],
 *        "next":N}; pass "next" as the next "since". With wait_ms,
 *        answers as soon as one matching request has been answered (or
 *        the time is up): tests need no sleeps. "response" is the answer
 *        parsed; "response_headers" its header lines as the fake set them
 *        (["Name: value",...]; evhttp adds Date, Content-Length and
 *        Connection) and "response_text" its body verbatim (null if
 *        empty), so the fuzz seeds (fuzz/seed.pl) are real answers.
 *   POST /control/requests/clear[?service=S]
 *   POST /control/reset                     every service's "reset" op,
 *                                           plus requests and faults
 *   POST /control/<service>/<op>            the service's control hook
 *   GET  /control/<service>/<op>?k=v        same, query as a JSON object
 *
 * Slack ops (POST /control/slack/<op>, GET for the read-only ones; see
 * slack-control.c and fake-socket.c for their bodies):
 *   people:  message edit delete reaction click submit bulk
 *   model:   user usergroup channel channel_archive channel_unarchive
 *            channel_delete users usergroups channels messages
 *            ephemeral views bookmarks ratelimit history_limits
 *            manifest scopes reset
 *   socket:  redeliver raw disconnect enable drop silence acks
 *            connections envelope envelopes
 *   socket faults: refuse nohello storm frame (for t/socket-faults.t)
 * Faults: {"service":"slack","match":"chat.postMessage","status":429,
 * "retry_after":2,"count":1,"delay_ms":0,"body":{...}}: the next count
 * requests of the service whose path contains match get that status
 * (after delay_ms); an optional "method" ("POST") narrows the match,
 * and so does "contains":"TEXT": only a request whose body holds TEXT
 * (one chat.postMessage among the many a command makes).
 * "raw":"TEXT" sends TEXT verbatim as the body (malformed, truncated,
 * empty or huge JSON; "" for empty) instead of the service's error
 * shape; "location":"URL" adds a Location header (a 3xx redirect).
 * status 0 with delay_ms only delays normal handling;
 * "pad_bytes":N sends the answer (the fault's, or the fake's own with
 * status 0) followed by N spaces, up to 64 MiB: over a client's body cap;
 * status -1 drops the connection without an answer; "never":true holds
 * the request unanswered until the client closes the connection;
 * "cut_bytes":N cuts the answer mid-body: the headers say its full
 * Content-Length, only the first N bytes of the body follow (at least
 * one fewer than promised), then the connection is closed (plain http
 * listeners only). With status 0 the fake does the work first.
 *
 * A fault with "after":true lets the fake do the work first (the issue
 * is created, the message posted) and then replaces only the answer the
 * client gets: the status, a reset (-1), the real answer delay_ms late
 * (status 0), or no answer at all ("never"). That is the window where
 * real services breed duplicates: the work was done and the client did
 * not learn it. Each recorded request says "processed" (the fake did
 * the work) and "answered": "pending", "real", "late", "fault", "reset",
 * "cut" or "never" (with "client_closed" once the client gave up); after an
 * "after" fault, "processed_status" and "processed_response" hold the
 * answer the fake gave and the client never saw.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
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
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "queue.h"
#include "sandbox.h"

#define SB_MAX_BODY		(8 * 1024 * 1024)
#define SB_MAX_HEADERS		(64 * 1024)
#define SB_MAX_RECORDS		20000
#define SB_MAX_WAIT_MS		60000

struct sb_kv {
	char	*name;
	char	*value;
};

/* A recorded request, kept for GET /control/requests. */
struct sb_record {
	int			 seq;
	double			 time;
	char			*service;
	char			*method;
	char			*path;
	char			*query;
	cJSON			*headers;	/* lowercased names */
	char			*body;
	cJSON			*json;
	cJSON			*params;
	int			 status;	/* 0: not yet, -1: dropped */
	cJSON			*response;	/* parsed answer or string */
	cJSON			*response_headers; /* ["Name: value"] */
	char			*response_text;	/* as sent, or NULL */
	int			 processed;	/* the fake did the work */
	const char		*answered;	/* how; NULL: pending */
	int			 client_closed;	/* gave up on a held one */
	int			 hidden;	/* after fault: the fake's */
	int			 hidden_status;	/* real answer, not sent */
	cJSON			*hidden_response;
	TAILQ_ENTRY(sb_record)	 entry;
};
TAILQ_HEAD(sb_records, sb_record);

/* A request in flight; sb_req comes first so the handlers' pointer
 * casts back. */
struct sb_pending {
	struct sb_req		 r;
	const struct sb_service	*svc;
	struct sb_record	*rec;
	struct sb_kv		*kv;
	size_t			 nkv;
	size_t			 kvcap;
	int			 is_form;
	struct event		*timer;		/* fault delay */
	int			 fault_status;	/* what the timer does */
	int			 fault_retry_after;
	int			 fault_delay_ms;
	int			 fault_after;	/* strikes the answer */
	int			 fault_never;	/* hold, never answer */
	long long		 fault_pad;	/* bytes of padding sent */
	long long		 fault_cut;	/* body bytes sent, or -1 */
	cJSON			*fault_body;
	char			*fault_raw;	/* body sent verbatim */
	char			*fault_location;
	const char		*how;		/* the answer, for the record */
	struct event		*watch;		/* held: the client's close */
	struct sb_answer	*late;		/* the fake's answer, held */
	TAILQ_ENTRY(sb_pending)	 entry;
};
TAILQ_HEAD(sb_pendings, sb_pending);

/* An answer kept to be sent late (an "after" fault with delay_ms). */
struct sb_answer {
	int			 status;
	char			*ctype;
	char			*text;
	size_t			 len;
	char			**headers;	/* NULL-terminated */
};

struct sb_fault {
	int			 id;
	char			*service;
	char			*match;
	char			*method;	/* or NULL: any */
	char			*contains;	/* in the body, or NULL */
	int			 status;
	int			 retry_after;	/* -1: no header */
	int			 count;
	int			 delay_ms;
	int			 after;
	int			 never;
	int			 hits;
	cJSON			*body;
	long long		 pad_bytes;
	long long		 cut_bytes;	/* -1: not cut */
	char			*raw;		/* or NULL */
	char			*location;	/* or NULL */
	TAILQ_ENTRY(sb_fault)	 entry;
};
TAILQ_HEAD(sb_faults, sb_fault);

/* A long-polling GET /control/requests. */
struct sb_waiter {
	struct evhttp_request	*req;
	char			*service;
	char			*match;
	int			 since;
	struct event		*timer;
	TAILQ_ENTRY(sb_waiter)	 entry;
};
TAILQ_HEAD(sb_waiters, sb_waiter);

struct event_base	*sb_base;
SSL_CTX			*sb_ssl_ctx;
struct sb_options	 sb_opts;

static struct sb_records sb_records = TAILQ_HEAD_INITIALIZER(sb_records);
static int		 sb_nrecords;
static int		 sb_seq;
static struct sb_pendings sb_pendings = TAILQ_HEAD_INITIALIZER(sb_pendings);
static struct sb_faults	 sb_faults = TAILQ_HEAD_INITIALIZER(sb_faults);
static int		 sb_fault_id;
static struct sb_waiters sb_waiters = TAILQ_HEAD_INITIALIZER(sb_waiters);

static const struct sb_service *sb_services[] = {
	&fake_slack, &fake_jira, &fake_pagerduty
};
#define SB_NSERVICES	(sizeof(sb_services) / sizeof(sb_services[0]))
static struct evhttp	*sb_https[SB_NSERVICES];
static struct evhttp	*sb_control_http;
static struct event	*sb_sigterm, *sb_sigint;

static char	*sb_decode(const char *, size_t, int);
static void	 sb_parse_form(struct sb_pending *, const char *);
static void	 sb_send(struct sb_pending *, int, const char *, const char *,
		    size_t, const char **);
static void	 sb_pending_free(struct sb_pending *);
static void	 sb_record_free(struct sb_record *);
static void	 sb_record_forget(struct sb_record *);
static void	 sb_record_done(struct sb_record *, int, const char *,
		    size_t, const char *, const char *, cJSON *);
static cJSON	*sb_header_lines(struct evkeyvalq *);
static cJSON	*sb_response_json(const char *, size_t, const char *);
static void	 sb_handle(struct sb_pending *);
static void	 sb_pad(struct evbuffer *, long long);
static void	 sb_cut(struct sb_pending *, int, const char *,
		    const char *, size_t, const char **);
static void	 sb_after(struct sb_pending *, int, const char *,
		    const char *, size_t, const char **);
static struct sb_answer *sb_answer_new(int, const char *, const char *,
		    size_t, const char **);
static void	 sb_answer_free(struct sb_answer *);
static void	 sb_hold(struct sb_pending *);
static void	 sb_hold_cb(evutil_socket_t, short, void *);
static void	 sb_abort(struct sb_pending *);
static int	 sb_record_settled(const struct sb_record *);
static void	 sb_fault_arm(struct sb_pending *);
static cJSON	*sb_record_json(const struct sb_record *);
static void	 sb_waiters_check(void);
static void	 sb_waiter_answer(struct sb_waiter *);
static void	 sb_waiter_timeout_cb(evutil_socket_t, short, void *);
static void	 sb_fault_free(struct sb_fault *);
static void	 sb_faults_clear(void);
static void	 sb_fault_reply(struct sb_pending *, int, int, cJSON *);
static void	 sb_drop(struct sb_pending *);
static void	 sb_fault_raw(struct sb_pending *);
static void	 sb_fault_timer_cb(evutil_socket_t, short, void *);
static void	 sb_service_cb(struct evhttp_request *, void *);
static void	 sb_control_cb(struct evhttp_request *, void *);
static void	 sb_control_reply(struct evhttp_request *, int, cJSON *);
static struct bufferevent *sb_tls_bev_cb(struct event_base *, void *);
static struct evhttp *sb_listen(const struct sb_service *, int, int *);
static void	 sb_write_ports(const char *);
static void	 sb_signal_cb(evutil_socket_t, short, void *);
static void	 sb_usage(void) __attribute__((__noreturn__));
static struct sb_pending *sb_pending_new(struct evhttp_request *,
		    const struct sb_service *);
static int	 sb_record_matches(const struct sb_record *, const char *,
		    const char *, int);
static cJSON	*sb_requests_list(const char *, const char *, int);
static void	 sb_waiter_free(struct sb_waiter *);
static cJSON	*sb_fault_body(const char *, int);
static cJSON	*sb_control_error(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
static const struct sb_service *sb_service_find(const char *, size_t);
static int	 sb_control_fault(cJSON *, cJSON **);
static cJSON	*sb_faults_list(void);
static int	 sb_control_requests(struct evhttp_request *, cJSON *,
		    cJSON **);
static void	 sb_reset_all(void);
static cJSON	*sb_query_json(const char *);
static double	 sb_parse_seconds(const char *, const char *);
static void	 sb_tls_init(const char *, const char *);

/*
 * Percent-decode n bytes of s; plus turns '+' into a space (forms). Bad
 * escapes are kept as they are, like most servers do.
 */
static char *
sb_decode(const char *s, size_t n, int plus)
{
	char	*out, *o;
	size_t	 i;
	int	 hi, lo;

	o = out = sb_malloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0' :
			    tolower((unsigned char)s[i + 1]) - 'a' + 10;
			lo = isdigit((unsigned char)s[i + 2]) ? s[i + 2] - '0' :
			    tolower((unsigned char)s[i + 2]) - 'a' + 10;
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else if (plus && s[i] == '+')
			*o++ = ' ';
		else
			*o++ = s[i];
	}
	*o = '\0';
	return (out);
}

/* Split "a=1&b=2" into decoded name/value pairs appended to p->kv. */
static void
sb_parse_form(struct sb_pending *p, const char *s)
{
	const char	*amp, *eq, *end;

	while (*s != '\0') {
		amp = strchr(s, '&');
		end = amp != NULL ? amp : s + strlen(s);
		if (end > s) {
			eq = memchr(s, '=', (size_t)(end - s));
			if (p->nkv == p->kvcap) {
				p->kvcap = p->kvcap == 0 ? 16 : p->kvcap * 2;
				p->kv = sb_realloc(p->kv, p->kvcap,
				    sizeof(*p->kv));
			}
			if (eq == NULL) {
				p->kv[p->nkv].name = sb_decode(s,
				    (size_t)(end - s), 1);
				p->kv[p->nkv].value = sb_strdup("");
			} else {
				p->kv[p->nkv].name = sb_decode(s,
				    (size_t)(eq - s), 1);
				p->kv[p->nkv].value = sb_decode(eq + 1,
				    (size_t)(end - eq - 1), 1);
			}
			p->nkv++;
		}
		if (amp == NULL)
			break;
		s = amp + 1;
	}
}

/* Query-string or form parameter, NULL if absent. */
const char *
sb_param(struct sb_req *r, const char *name)
{
	return (sb_param_n(r, name, 0));
}

/* The n-th value of a (repeated) parameter. */
const char *
sb_param_n(struct sb_req *r, const char *name, int n)
{
	struct sb_pending	*p = (struct sb_pending *)r;
	size_t			 i;

	for (i = 0; i < p->nkv; i++) {
		if (strcmp(p->kv[i].name, name) == 0 && n-- == 0)
			return (p->kv[i].value);
	}
	return (NULL);
}

/* Every parameter as a JSON object; repeated names keep the first. */
cJSON *
sb_params_json(struct sb_req *r)
{
	struct sb_pending	*p = (struct sb_pending *)r;
	cJSON			*o;
	size_t			 i;

	o = cJSON_CreateObject();
	for (i = 0; i < p->nkv; i++) {
		if (cJSON_GetObjectItemCaseSensitive(o, p->kv[i].name) == NULL)
			cJSON_AddStringToObject(o, p->kv[i].name,
			    p->kv[i].value);
	}
	return (o);
}

/* 1 if the body was a form. */
int
sb_is_form(struct sb_req *r)
{
	return (((struct sb_pending *)r)->is_form);
}

/* Request header (case-insensitive), NULL if absent. */
const char *
sb_header(struct sb_req *r, const char *name)
{
	return (evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    name));
}

/* The reason phrase for an HTTP status ("Unknown" if we have none). */
const char *
sb_reason(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 201: return ("Created");
	case 202: return ("Accepted");
	case 204: return ("No Content");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 402: return ("Payment Required");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 408: return ("Request Timeout");
	case 409: return ("Conflict");
	case 410: return ("Gone");
	case 413: return ("Payload Too Large");
	case 415: return ("Unsupported Media Type");
	case 422: return ("Unprocessable Entity");
	case 429: return ("Too Many Requests");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 502: return ("Bad Gateway");
	case 503: return ("Service Unavailable");
	case 504: return ("Gateway Timeout");
	}
	return ("Unknown");
}

/* Send the answer, record it, free the request. */
static void
sb_send(struct sb_pending *p, int status, const char *ctype,
    const char *text, size_t len, const char **headers)
{
	struct evkeyvalq	*out;
	struct evbuffer		*buf;
	const char		*colon, *v;
	char			*name;
	cJSON			*lines;
	int			 have_ctype = 0;
	size_t			 i;

	if (p->fault_after) {
		sb_after(p, status, ctype, text, len, headers);
		return;
	}
	if (p->fault_cut >= 0) {
		sb_cut(p, status, ctype, text, len, headers);
		return;
	}
	out = evhttp_request_get_output_headers(p->r.req);
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((colon = strchr(headers[i], ':')) == NULL)
			continue;
		name = sb_strndup(headers[i], (size_t)(colon - headers[i]));
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcasecmp(name, "Content-Type") == 0)
			have_ctype = 1;
		evhttp_add_header(out, name, v);
		free(name);
	}
	if (!have_ctype && ctype != NULL && len > 0)
		evhttp_add_header(out, "Content-Type", ctype);
	if ((buf = evbuffer_new()) == NULL)
		sb_fatal("evbuffer_new failed");
	if (len > 0)
		evbuffer_add(buf, text, len);
	sb_pad(buf, p->fault_pad);
	lines = sb_header_lines(out);
	evhttp_send_reply(p->r.req, status, sb_reason(status), buf);
	evbuffer_free(buf);
	sb_log("%s %s %s%s%s -> %d (%s)", p->r.service, p->r.method, p->r.path,
	    p->r.query != NULL ? "?" : "", p->r.query != NULL ? p->r.query : "",
	    status, p->how);
	sb_record_done(p->rec, status, text, len, ctype, p->how, lines);
	sb_pending_free(p);
	sb_waiters_check();
}

/*
 * A "pad_bytes" fault: the answer goes out followed by that many spaces
 * (still valid JSON, only too big), to test a client's body cap. The
 * record keeps the answer unpadded.
 */
static void
sb_pad(struct evbuffer *buf, long long n)
{
	static char	spaces[4096];
	size_t		chunk;

	if (spaces[0] != ' ')
		memset(spaces, ' ', sizeof(spaces));
	while (n > 0) {
		chunk = n > (long long)sizeof(spaces) ? sizeof(spaces) :
		    (size_t)n;
		evbuffer_add(buf, spaces, chunk);
		n -= (long long)chunk;
	}
}

/*
 * A "cut_bytes" fault: the status line and headers promise the whole
 * body (Content-Length), then only its first bytes are written and the
 * connection is closed, as when a proxy or the service dies mid-answer.
 * Written to the socket directly (the request body was read in full, so
 * nothing is left to read and the close is a FIN), then sb_abort lets
 * evhttp free the connection through its error path.
 */
static void
sb_cut(struct sb_pending *p, int status, const char *ctype,
    const char *text, size_t len, const char **headers)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	evutil_socket_t			 fd = -1;
	struct evbuffer			*buf;
	cJSON				*lines;
	char				*line;
	size_t				 i, n = (size_t)p->fault_cut;
	int				 have_ctype = 0;

	if (n >= len)
		n = len > 0 ? len - 1 : 0;
	if ((buf = evbuffer_new()) == NULL)
		sb_fatal("evbuffer_new failed");
	evbuffer_add_printf(buf, "HTTP/1.1 %d %s\r\n", status,
	    sb_reason(status));
	lines = cJSON_CreateArray();
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (strncasecmp(headers[i], "Content-Type:", 13) == 0)
			have_ctype = 1;
		evbuffer_add_printf(buf, "%s\r\n", headers[i]);
		cJSON_AddItemToArray(lines, cJSON_CreateString(headers[i]));
	}
	if (!have_ctype && ctype != NULL) {
		evbuffer_add_printf(buf, "Content-Type: %s\r\n", ctype);
		sb_asprintf(&line, "Content-Type: %s", ctype);
		cJSON_AddItemToArray(lines, cJSON_CreateString(line));
		free(line);
	}
	/* One byte promised even for an empty answer: always a cut. */
	evbuffer_add_printf(buf, "Content-Length: %zu\r\n\r\n",
	    len > 0 ? len : 1);
	if (n > 0)
		evbuffer_add(buf, text, n);
	evcon = evhttp_request_get_connection(p->r.req);
	if (evcon != NULL && (bev = evhttp_connection_get_bufferevent(evcon))
	    != NULL)
		fd = bufferevent_getfd(bev);
	if (fd != -1 && !sb_opts.tls) {
		/* Small, on loopback: the socket buffer takes it whole. */
		while (evbuffer_get_length(buf) > 0 &&
		    evbuffer_write(buf, fd) > 0)
			;
	}
	evbuffer_free(buf);
	sb_log("%s %s %s -> %d, cut after %zu of %zu body bytes",
	    p->r.service, p->r.method, p->r.path, status, n, len);
	sb_record_done(p->rec, status, text, len, ctype, "cut", lines);
	sb_abort(p);
	sb_waiters_check();
}

/*
 * An "after" fault: the fake has done the work and given its answer;
 * keep that answer in the record and give the client the fault instead,
 * always from a timer (never inside evhttp's request callback).
 */
static void
sb_after(struct sb_pending *p, int status, const char *ctype,
    const char *text, size_t len, const char **headers)
{
	p->fault_after = 0;
	sb_log("%s %s %s -> %d, answer replaced by a fault", p->r.service,
	    p->r.method, p->r.path, status);
	if (p->rec != NULL) {
		p->rec->hidden = 1;
		p->rec->hidden_status = status;
		p->rec->hidden_response = sb_response_json(text, len, ctype);
	}
	if (p->fault_never) {
		sb_hold(p);
		return;
	}
	if (p->fault_status == 0)
		p->late = sb_answer_new(status, ctype, text, len, headers);
	sb_fault_arm(p);
}

/* Copy an answer to send it later. */
static struct sb_answer *
sb_answer_new(int status, const char *ctype, const char *text, size_t len,
    const char **headers)
{
	struct sb_answer	*a;
	size_t			 i, n;

	a = sb_calloc(1, sizeof(*a));
	a->status = status;
	a->ctype = ctype != NULL ? sb_strdup(ctype) : NULL;
	a->text = sb_malloc(len + 1);
	if (len > 0)
		memcpy(a->text, text, len);
	a->text[len] = '\0';
	a->len = len;
	for (n = 0; headers != NULL && headers[n] != NULL; n++)
		;
	a->headers = sb_calloc(n + 1, sizeof(*a->headers));
	for (i = 0; i < n; i++)
		a->headers[i] = sb_strdup(headers[i]);
	return (a);
}

static void
sb_answer_free(struct sb_answer *a)
{
	size_t	i;

	if (a == NULL)
		return;
	for (i = 0; a->headers[i] != NULL; i++)
		free(a->headers[i]);
	free(a->headers);
	free(a->ctype);
	free(a->text);
	free(a);
}

/* Answer with JSON. */
void
sb_reply(struct sb_req *r, int status, cJSON *body, const char **headers)
{
	char	*text = NULL;

	if (body != NULL) {
		text = cJSON_PrintUnformatted(body);
		cJSON_Delete(body);
		if (text == NULL)
			sb_fatal("cJSON_PrintUnformatted failed");
	}
	sb_send((struct sb_pending *)r, status,
	    "application/json; charset=utf-8", text,
	    text != NULL ? strlen(text) : 0, headers);
	cJSON_free(text);
}

/* Answer with no body. */
void
sb_reply_empty(struct sb_req *r, int status)
{
	sb_send((struct sb_pending *)r, status, NULL, NULL, 0, NULL);
}

/* Answer with a non-JSON body. */
void
sb_reply_text(struct sb_req *r, int status, const char *ctype,
    const char *text, const char **headers)
{
	sb_send((struct sb_pending *)r, status, ctype, text,
	    text != NULL ? strlen(text) : 0, headers);
}

static void
sb_pending_free(struct sb_pending *p)
{
	size_t	i;

	TAILQ_REMOVE(&sb_pendings, p, entry);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->watch != NULL)
		event_free(p->watch);
	sb_answer_free(p->late);
	cJSON_Delete(p->fault_body);
	free(p->fault_raw);
	free(p->fault_location);
	for (i = 0; i < p->nkv; i++) {
		free(p->kv[i].name);
		free(p->kv[i].value);
	}
	free(p->kv);
	free(p->r.path);
	free(p->r.query);
	free(p->r.body);
	cJSON_Delete(p->r.json);
	free(p);
}

static void
sb_record_free(struct sb_record *rec)
{
	free(rec->service);
	free(rec->method);
	free(rec->path);
	free(rec->query);
	free(rec->body);
	cJSON_Delete(rec->headers);
	cJSON_Delete(rec->json);
	cJSON_Delete(rec->params);
	cJSON_Delete(rec->response);
	cJSON_Delete(rec->response_headers);
	free(rec->response_text);
	cJSON_Delete(rec->hidden_response);
	free(rec);
}

/* An answer body as recorded: parsed JSON, a string, or NULL if empty. */
static cJSON *
sb_response_json(const char *text, size_t len, const char *ctype)
{
	cJSON	*o = NULL;
	char	*s;

	if (text == NULL || len == 0)
		return (NULL);
	if (ctype != NULL && strstr(ctype, "json") != NULL)
		o = cJSON_ParseWithLength(text, len);
	if (o == NULL) {
		s = sb_strndup(text, len);
		o = cJSON_CreateString(s);
		free(s);
	}
	return (o);
}

/*
 * The request was answered (status) or dropped (-1), and how; lines
 * (consumed) are the answer's header lines.
 */
static void
sb_record_done(struct sb_record *rec, int status, const char *text,
    size_t len, const char *ctype, const char *how, cJSON *lines)
{
	if (rec == NULL) {
		cJSON_Delete(lines);
		return;
	}
	rec->status = status;
	rec->answered = how;
	rec->response = sb_response_json(text, len, ctype);
	rec->response_headers = lines;
	if (text != NULL && len > 0)
		rec->response_text = sb_strndup(text, len);
}

/* Headers as the lines of an answer: ["Name: value", ...], in order. */
static cJSON *
sb_header_lines(struct evkeyvalq *headers)
{
	struct evkeyval	*kv;
	cJSON		*lines;
	char		*line;

	lines = cJSON_CreateArray();
	TAILQ_FOREACH(kv, headers, next) {
		sb_asprintf(&line, "%s: %s", kv->key, kv->value);
		cJSON_AddItemToArray(lines, cJSON_CreateString(line));
		free(line);
	}
	return (lines);
}

/* Answered, or held for good: a long poll may report it. */
static int
sb_record_settled(const struct sb_record *rec)
{
	return (rec->answered != NULL);
}

/* Drop one record (the oldest when there are too many). */
static void
sb_record_forget(struct sb_record *rec)
{
	struct sb_pending	*p;

	TAILQ_REMOVE(&sb_records, rec, entry);
	sb_nrecords--;
	/* A request in flight keeps no dangling pointer. */
	TAILQ_FOREACH(p, &sb_pendings, entry) {
		if (p->rec == rec)
			p->rec = NULL;
	}
	sb_record_free(rec);
}

/* Forget recorded requests of one service, or all. */
void
sb_requests_clear(const char *service)
{
	struct sb_record	*rec, *next;

	TAILQ_FOREACH_SAFE(rec, &sb_records, entry, next) {
		if (service == NULL || strcmp(rec->service, service) == 0)
			sb_record_forget(rec);
	}
}

/* Record a new request and wrap it for the handler. */
static struct sb_pending *
sb_pending_new(struct evhttp_request *req, const struct sb_service *svc)
{
	struct sb_pending	*p;
	struct sb_record	*rec;
	const struct evhttp_uri	*uri;
	struct evkeyvalq	*in;
	struct evkeyval		*kv;
	struct evbuffer		*buf;
	const char		*path, *query, *ctype, *method;
	char			*lower, *joined;
	cJSON			*old, *arr;
	size_t			 i, len;

	p = sb_calloc(1, sizeof(*p));
	p->svc = svc;
	p->how = "real";
	p->fault_cut = -1;
	p->r.req = req;
	p->r.service = svc->name;
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:	method = "GET"; break;
	case EVHTTP_REQ_POST:	method = "POST"; break;
	case EVHTTP_REQ_HEAD:	method = "HEAD"; break;
	case EVHTTP_REQ_PUT:	method = "PUT"; break;
	case EVHTTP_REQ_DELETE:	method = "DELETE"; break;
	case EVHTTP_REQ_OPTIONS: method = "OPTIONS"; break;
	case EVHTTP_REQ_TRACE:	method = "TRACE"; break;
	case EVHTTP_REQ_CONNECT: method = "CONNECT"; break;
	case EVHTTP_REQ_PATCH:	method = "PATCH"; break;
	default:		method = "UNKNOWN"; break;
	}
	p->r.method = method;

	uri = evhttp_request_get_evhttp_uri(req);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";
	p->r.path = sb_decode(path, strlen(path), 0);
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (query != NULL)
		p->r.query = sb_strdup(query);

	buf = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(buf);
	p->r.body = sb_malloc(len + 1);
	evbuffer_copyout(buf, p->r.body, len);
	p->r.body[len] = '\0';
	p->r.body_len = len;

	ctype = sb_header(&p->r, "Content-Type");
	if (ctype != NULL && strcasestr(ctype, "json") != NULL && len > 0)
		p->r.json = cJSON_ParseWithLength(p->r.body, len);
	if (p->r.query != NULL)
		sb_parse_form(p, p->r.query);
	if (ctype != NULL && strncasecmp(ctype,
	    "application/x-www-form-urlencoded", 33) == 0) {
		p->is_form = 1;
		sb_parse_form(p, p->r.body);
	}

	rec = sb_calloc(1, sizeof(*rec));
	rec->seq = p->r.seq = ++sb_seq;
	rec->time = sb_now();
	rec->service = sb_strdup(svc->name);
	rec->method = sb_strdup(method);
	rec->path = sb_strdup(p->r.path);
	if (p->r.query != NULL)
		rec->query = sb_strdup(p->r.query);
	rec->body = sb_strdup(p->r.body);
	rec->json = p->r.json != NULL ? cJSON_Duplicate(p->r.json, 1) : NULL;
	rec->headers = cJSON_CreateObject();
	in = evhttp_request_get_input_headers(req);
	TAILQ_FOREACH(kv, in, next) {
		lower = sb_strdup(kv->key);
		for (i = 0; lower[i] != '\0'; i++)
			lower[i] = (char)tolower((unsigned char)lower[i]);
		old = cJSON_GetObjectItemCaseSensitive(rec->headers, lower);
		if (cJSON_IsString(old)) {
			sb_asprintf(&joined, "%s, %s", old->valuestring,
			    kv->value);
			cJSON_ReplaceItemInObjectCaseSensitive(rec->headers,
			    lower, cJSON_CreateString(joined));
			free(joined);
		} else
			cJSON_AddStringToObject(rec->headers, lower, kv->value);
		free(lower);
	}
	rec->params = cJSON_CreateObject();
	for (i = 0; i < p->nkv; i++) {
		old = cJSON_GetObjectItemCaseSensitive(rec->params,
		    p->kv[i].name);
		if (old == NULL)
			cJSON_AddStringToObject(rec->params, p->kv[i].name,
			    p->kv[i].value);
		else if (cJSON_IsArray(old))
			cJSON_AddItemToArray(old,
			    cJSON_CreateString(p->kv[i].value));
		else {
			arr = cJSON_CreateArray();
			cJSON_AddItemToArray(arr,
			    cJSON_CreateString(old->valuestring));
			cJSON_AddItemToArray(arr,
			    cJSON_CreateString(p->kv[i].value));
			cJSON_ReplaceItemInObjectCaseSensitive(rec->params,
			    p->kv[i].name, arr);
		}
	}
	TAILQ_INSERT_TAIL(&sb_records, rec, entry);
	sb_nrecords++;
	p->rec = rec;
	TAILQ_INSERT_TAIL(&sb_pendings, p, entry);
	if (sb_nrecords > SB_MAX_RECORDS)
		sb_record_forget(TAILQ_FIRST(&sb_records));
	return (p);
}

static cJSON *
sb_record_json(const struct sb_record *rec)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", rec->seq);
	cJSON_AddNumberToObject(o, "time", rec->time);
	cJSON_AddStringToObject(o, "service", rec->service);
	cJSON_AddStringToObject(o, "method", rec->method);
	cJSON_AddStringToObject(o, "path", rec->path);
	if (rec->query != NULL)
		cJSON_AddStringToObject(o, "query", rec->query);
	else
		cJSON_AddNullToObject(o, "query");
	cJSON_AddItemToObject(o, "headers", cJSON_Duplicate(rec->headers, 1));
	cJSON_AddStringToObject(o, "body", rec->body);
	if (rec->json != NULL)
		cJSON_AddItemToObject(o, "json", cJSON_Duplicate(rec->json, 1));
	else
		cJSON_AddNullToObject(o, "json");
	cJSON_AddItemToObject(o, "params", cJSON_Duplicate(rec->params, 1));
	cJSON_AddNumberToObject(o, "status", rec->status);
	if (rec->response != NULL)
		cJSON_AddItemToObject(o, "response",
		    cJSON_Duplicate(rec->response, 1));
	else
		cJSON_AddNullToObject(o, "response");
	if (rec->response_headers != NULL)
		cJSON_AddItemToObject(o, "response_headers",
		    cJSON_Duplicate(rec->response_headers, 1));
	else
		cJSON_AddArrayToObject(o, "response_headers");
	if (rec->response_text != NULL)
		cJSON_AddStringToObject(o, "response_text",
		    rec->response_text);
	else
		cJSON_AddNullToObject(o, "response_text");
	cJSON_AddBoolToObject(o, "processed", rec->processed);
	cJSON_AddStringToObject(o, "answered", rec->answered != NULL ?
	    rec->answered : "pending");
	if (rec->client_closed)
		cJSON_AddTrueToObject(o, "client_closed");
	if (rec->hidden) {
		cJSON_AddNumberToObject(o, "processed_status",
		    rec->hidden_status);
		if (rec->hidden_response != NULL)
			cJSON_AddItemToObject(o, "processed_response",
			    cJSON_Duplicate(rec->hidden_response, 1));
		else
			cJSON_AddNullToObject(o, "processed_response");
	}
	return (o);
}

static int
sb_record_matches(const struct sb_record *rec, const char *service,
    const char *match, int since)
{
	if (rec->seq <= since)
		return (0);
	if (service != NULL && strcmp(rec->service, service) != 0)
		return (0);
	if (match != NULL && strstr(rec->path, match) == NULL)
		return (0);
	return (1);
}

static cJSON *
sb_requests_list(const char *service, const char *match, int since)
{
	struct sb_record	*rec;
	cJSON			*o, *arr;
	int			 next = since;

	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "requests");
	TAILQ_FOREACH(rec, &sb_records, entry) {
		if (!sb_record_matches(rec, service, match, since))
			continue;
		cJSON_AddItemToArray(arr, sb_record_json(rec));
		next = rec->seq;
	}
	cJSON_AddNumberToObject(o, "next", next);
	return (o);
}

static void
sb_waiter_free(struct sb_waiter *w)
{
	TAILQ_REMOVE(&sb_waiters, w, entry);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w->service);
	free(w->match);
	free(w);
}

static void
sb_waiter_answer(struct sb_waiter *w)
{
	sb_control_reply(w->req, 200, sb_requests_list(w->service, w->match,
	    w->since));
	sb_waiter_free(w);
}

static void
sb_waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb_waiter	*w = arg;

	sb_waiter_answer(w);
}

/* Wake the long polls that now have an answered matching request. */
static void
sb_waiters_check(void)
{
	struct sb_waiter	*w, *wnext;
	struct sb_record	*rec;

	TAILQ_FOREACH_SAFE(w, &sb_waiters, entry, wnext) {
		TAILQ_FOREACH(rec, &sb_records, entry) {
			if (sb_record_settled(rec) && sb_record_matches(rec,
			    w->service, w->match, w->since)) {
				sb_waiter_answer(w);
				break;
			}
		}
	}
}

static void
sb_fault_free(struct sb_fault *f)
{
	free(f->service);
	free(f->match);
	free(f->method);
	free(f->contains);
	cJSON_Delete(f->body);
	free(f->raw);
	free(f->location);
	free(f);
}

static void
sb_faults_clear(void)
{
	struct sb_fault	*f;

	while ((f = TAILQ_FIRST(&sb_faults)) != NULL) {
		TAILQ_REMOVE(&sb_faults, f, entry);
		sb_fault_free(f);
	}
}

/* The canned error body each service uses for status. */
static cJSON *
sb_fault_body(const char *service, int status)
{
	cJSON	*o, *e;
	char	*msg;

	o = cJSON_CreateObject();
	if (strcmp(service, "slack") == 0) {
		if (status == 429) {
			cJSON_AddFalseToObject(o, "ok");
			cJSON_AddStringToObject(o, "error", "ratelimited");
		} else {
			cJSON_Delete(o);
			return (NULL);
		}
	} else if (strcmp(service, "pagerduty") == 0) {
		e = cJSON_AddObjectToObject(o, "error");
		if (status == 429) {
			cJSON_AddStringToObject(e, "message",
			    "Rate Limit Exceeded");
			cJSON_AddNumberToObject(e, "code", 2020);
		} else {
			cJSON_AddStringToObject(e, "message",
			    sb_reason(status));
			cJSON_AddNumberToObject(e, "code", status >= 500 ?
			    2000 : 2001);
		}
	} else {
		if (status == 429)
			msg = sb_strdup("Rate limit exceeded.");
		else
			sb_asprintf(&msg, "%s (sandbox fault)",
			    sb_reason(status));
		e = cJSON_AddArrayToObject(o, "errorMessages");
		cJSON_AddItemToArray(e, cJSON_CreateString(msg));
		cJSON_AddObjectToObject(o, "errors");
		free(msg);
	}
	return (o);
}

/* Answer with an armed fault's status. */
static void
sb_fault_reply(struct sb_pending *p, int status, int retry_after,
    cJSON *body)
{
	const char	*headers[2] = { NULL, NULL };
	char		*ra = NULL, *text;

	if (retry_after >= 0) {
		sb_asprintf(&ra, "Retry-After: %d", retry_after);
		headers[0] = ra;
	}
	if (body == NULL)
		body = sb_fault_body(p->r.service, status);
	if (body != NULL)
		sb_reply(&p->r, status, body, headers);
	else {
		/* Slack's 5xx pages are not JSON. */
		sb_asprintf(&text, "%d %s\n", status, sb_reason(status));
		sb_reply_text(&p->r, status, "text/plain; charset=utf-8", text,
		    headers);
		free(text);
	}
	free(ra);
}

/*
 * A fault's raw body (malformed, truncated, empty or huge JSON, sent as
 * application/json) and/or a redirect's Location, with the status.
 */
static void
sb_fault_raw(struct sb_pending *p)
{
	const char	*headers[3] = { NULL, NULL, NULL };
	char		*loc = NULL, *ra = NULL;
	int		 n = 0;

	if (p->fault_location != NULL) {
		sb_asprintf(&loc, "Location: %s", p->fault_location);
		headers[n++] = loc;
	}
	if (p->fault_retry_after >= 0) {
		sb_asprintf(&ra, "Retry-After: %d", p->fault_retry_after);
		headers[n++] = ra;
	}
	sb_send(p, p->fault_status, "application/json; charset=utf-8",
	    p->fault_raw != NULL ? p->fault_raw : "", p->fault_raw != NULL ?
	    strlen(p->fault_raw) : 0, headers);
	free(loc);
	free(ra);
}

/*
 * Close the connection without an answer. Freeing an evhttp connection
 * inside its own request callback is unsafe, so shut the socket down
 * and let evhttp notice: the reply written after it fails and evhttp
 * frees the connection and the request through its normal error path.
 */
static void
sb_abort(struct sb_pending *p)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	evutil_socket_t			 fd;

	if (p->watch != NULL) {
		event_free(p->watch);
		p->watch = NULL;
	}
	evcon = evhttp_request_get_connection(p->r.req);
	if (evcon != NULL && (bev = evhttp_connection_get_bufferevent(evcon))
	    != NULL && (fd = bufferevent_getfd(bev)) != -1)
		shutdown(fd, SHUT_RDWR);
	evhttp_send_reply(p->r.req, 500, "Dropped", NULL);
	sb_pending_free(p);
}

/* Drop the connection without an answer (status -1). */
static void
sb_drop(struct sb_pending *p)
{
	sb_log("%s %s %s -> dropped", p->r.service, p->r.method, p->r.path);
	sb_record_done(p->rec, -1, NULL, 0, NULL, "reset", NULL);
	sb_abort(p);
	sb_waiters_check();
}

/*
 * Hold the request and never answer. evhttp stops reading a connection
 * while its request is with us, so it would not see the client go; watch
 * the socket ourselves: a client that waits sends nothing more, so the
 * socket turning readable means it closed (or gave up), and the held
 * request is let go.
 */
static void
sb_hold(struct sb_pending *p)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	evutil_socket_t			 fd = -1;

	sb_log("%s %s %s -> held", p->r.service, p->r.method, p->r.path);
	evcon = evhttp_request_get_connection(p->r.req);
	if (evcon != NULL && (bev = evhttp_connection_get_bufferevent(evcon))
	    != NULL)
		fd = bufferevent_getfd(bev);
	if (fd != -1) {
		p->watch = event_new(sb_base, fd, EV_READ, sb_hold_cb, p);
		if (p->watch == NULL)
			sb_fatal("event_new failed");
		event_add(p->watch, NULL);
	}
	if (p->rec != NULL)
		p->rec->answered = "never";
	sb_waiters_check();
}

static void
sb_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb_pending	*p = arg;

	sb_log("%s %s %s: the client closed a held request", p->r.service,
	    p->r.method, p->r.path);
	if (p->rec != NULL)
		p->rec->client_closed = 1;
	sb_abort(p);
}

/* Hand the request to its fake. */
static void
sb_handle(struct sb_pending *p)
{
	if (p->rec != NULL)
		p->rec->processed = 1;
	p->svc->handle(&p->r);
}

/*
 * Run the fault from a timer, even after 0 ms, so the answer (or the
 * drop) never happens inside evhttp's request callback.
 */
static void
sb_fault_arm(struct sb_pending *p)
{
	struct timeval	tv;

	if ((p->timer = evtimer_new(sb_base, sb_fault_timer_cb, p)) == NULL)
		sb_fatal("evtimer_new failed");
	tv.tv_sec = p->fault_delay_ms / 1000;
	tv.tv_usec = (p->fault_delay_ms % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

static void
sb_fault_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb_pending	*p = arg;
	struct sb_answer	*a;
	cJSON			*body;

	event_free(p->timer);
	p->timer = NULL;
	if (p->fault_status == -1)
		sb_drop(p);
	else if (p->fault_status > 0) {
		body = p->fault_body;
		p->fault_body = NULL;
		p->how = "fault";
		if (p->fault_raw != NULL || p->fault_location != NULL) {
			cJSON_Delete(body);
			sb_fault_raw(p);
		} else
			sb_fault_reply(p, p->fault_status,
			    p->fault_retry_after, body);
	} else if ((a = p->late) != NULL) {
		/* The fake's own answer, late; sb_send frees p and a. */
		p->how = "late";
		sb_send(p, a->status, a->ctype, a->text, a->len,
		    (const char **)a->headers);
	} else {
		p->how = "late";
		sb_handle(p);
	}
}

/* A request to one of the fake services. */
static void
sb_service_cb(struct evhttp_request *req, void *arg)
{
	const struct sb_service	*svc = arg;
	struct sb_pending	*p;
	struct sb_fault		*f;

	p = sb_pending_new(req, svc);
	TAILQ_FOREACH(f, &sb_faults, entry) {
		if (strcmp(f->service, svc->name) == 0 &&
		    strstr(p->r.path, f->match) != NULL && f->count > 0 &&
		    (f->method == NULL || strcmp(f->method, p->r.method) == 0) &&
		    (f->contains == NULL || strstr(p->r.body, f->contains) !=
		    NULL))
			break;
	}
	if (f == NULL) {
		sb_handle(p);
		return;
	}
	f->hits++;
	p->fault_status = f->status;
	p->fault_retry_after = f->retry_after;
	p->fault_delay_ms = f->delay_ms;
	p->fault_after = f->after;
	p->fault_never = f->never;
	p->fault_pad = f->pad_bytes;
	p->fault_cut = f->cut_bytes;
	p->fault_body = f->body != NULL ? cJSON_Duplicate(f->body, 1) : NULL;
	p->fault_raw = f->raw != NULL ? sb_strdup(f->raw) : NULL;
	p->fault_location = f->location != NULL ? sb_strdup(f->location) :
	    NULL;
	if (--f->count == 0) {
		TAILQ_REMOVE(&sb_faults, f, entry);
		sb_fault_free(f);
	}
	if (p->fault_after)
		sb_handle(p);		/* sb_send applies the fault */
	else if (p->fault_never)
		sb_hold(p);
	else
		sb_fault_arm(p);
}

static void
sb_control_reply(struct evhttp_request *req, int status, cJSON *body)
{
	struct evbuffer	*buf;
	char		*text;

	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL)
		sb_fatal("cJSON_PrintUnformatted failed");
	if ((buf = evbuffer_new()) == NULL)
		sb_fatal("evbuffer_new failed");
	evbuffer_add(buf, text, strlen(text));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, status, sb_reason(status), buf);
	evbuffer_free(buf);
	cJSON_free(text);
}

static cJSON *
sb_control_error(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;
	cJSON	*o;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		sb_fatal("out of memory");
	va_end(ap);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", msg);
	free(msg);
	return (o);
}

static const struct sb_service *
sb_service_find(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < SB_NSERVICES; i++) {
		if (strlen(sb_services[i]->name) == len &&
		    strncmp(sb_services[i]->name, name, len) == 0)
			return (sb_services[i]);
	}
	return (NULL);
}

/* POST /control/fault */
static int
sb_control_fault(cJSON *body, cJSON **out)
{
	struct sb_fault	*f;
	const char	*service, *match;
	long long	 status, retry_after, count, delay_ms, pad, cut;
	const cJSON	*b;
	int		 after, never;

	service = sb_json_str(body, "service");
	if (service == NULL || sb_service_find(service, strlen(service)) ==
	    NULL) {
		*out = sb_control_error("fault: unknown or missing service");
		return (400);
	}
	match = sb_json_str(body, "match");
	status = sb_json_int(body, "status", 0);
	retry_after = sb_json_int(body, "retry_after", -1);
	count = sb_json_int(body, "count", 1);
	delay_ms = sb_json_int(body, "delay_ms", 0);
	after = sb_json_bool(body, "after");
	never = sb_json_bool(body, "never");
	pad = sb_json_int(body, "pad_bytes", 0);
	cut = sb_json_int(body, "cut_bytes", -1);
	if (cut < -1 || cut > SB_MAX_BODY || (cut >= 0 && sb_opts.tls)) {
		*out = sb_control_error("fault: cut_bytes 0..%d, plain http "
		    "only", SB_MAX_BODY);
		return (400);
	}
	if (pad < 0 || pad > 64LL * 1024 * 1024) {
		*out = sb_control_error("fault: pad_bytes 0..64 MiB");
		return (400);
	}
	if (status != -1 && status != 0 && (status < 100 || status > 599)) {
		*out = sb_control_error("fault: status must be -1, 0 or an "
		    "HTTP status");
		return (400);
	}
	if (never && (status != 0 || delay_ms != 0)) {
		*out = sb_control_error("fault: never takes no status or "
		    "delay_ms");
		return (400);
	}
	if (status == 0 && delay_ms == 0 && !never && pad == 0 && cut < 0) {
		*out = sb_control_error("fault: status 0 needs delay_ms or "
		    "never (or pad_bytes, cut_bytes)");
		return (400);
	}
	if (retry_after < -1 || retry_after > 86400 || count < 1 ||
	    count > 1000000 || delay_ms < 0 || delay_ms > 600000) {
		*out = sb_control_error("fault: retry_after, count or "
		    "delay_ms out of range");
		return (400);
	}
	f = sb_calloc(1, sizeof(*f));
	f->id = ++sb_fault_id;
	f->service = sb_strdup(service);
	f->match = sb_strdup(match != NULL ? match : "");
	if (sb_json_str(body, "method") != NULL)
		f->method = sb_strdup(sb_json_str(body, "method"));
	if (sb_json_str(body, "contains") != NULL)
		f->contains = sb_strdup(sb_json_str(body, "contains"));
	f->status = (int)status;
	f->retry_after = (int)retry_after;
	f->count = (int)count;
	f->delay_ms = (int)delay_ms;
	f->after = after;
	f->never = never;
	f->pad_bytes = pad;
	f->cut_bytes = cut;
	b = cJSON_GetObjectItemCaseSensitive(body, "body");
	if (b != NULL && !cJSON_IsNull(b))
		f->body = cJSON_Duplicate(b, 1);
	if (sb_json_str(body, "raw") != NULL)
		f->raw = sb_strdup(sb_json_str(body, "raw"));
	if (sb_json_str(body, "location") != NULL)
		f->location = sb_strdup(sb_json_str(body, "location"));
	TAILQ_INSERT_TAIL(&sb_faults, f, entry);
	*out = cJSON_CreateObject();
	cJSON_AddTrueToObject(*out, "ok");
	cJSON_AddNumberToObject(*out, "id", f->id);
	return (200);
}

static cJSON *
sb_faults_list(void)
{
	struct sb_fault	*f;
	cJSON		*o, *arr, *e;

	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "faults");
	TAILQ_FOREACH(f, &sb_faults, entry) {
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "id", f->id);
		cJSON_AddStringToObject(e, "service", f->service);
		cJSON_AddStringToObject(e, "match", f->match);
		if (f->method != NULL)
			cJSON_AddStringToObject(e, "method", f->method);
		if (f->contains != NULL)
			cJSON_AddStringToObject(e, "contains", f->contains);
		cJSON_AddNumberToObject(e, "status", f->status);
		cJSON_AddNumberToObject(e, "retry_after", f->retry_after);
		cJSON_AddNumberToObject(e, "count", f->count);
		cJSON_AddNumberToObject(e, "delay_ms", f->delay_ms);
		cJSON_AddBoolToObject(e, "after", f->after);
		cJSON_AddBoolToObject(e, "never", f->never);
		cJSON_AddNumberToObject(e, "pad_bytes", (double)f->pad_bytes);
		cJSON_AddNumberToObject(e, "cut_bytes", (double)f->cut_bytes);
		cJSON_AddNumberToObject(e, "hits", f->hits);
		cJSON_AddItemToArray(arr, e);
	}
	return (o);
}

/* GET /control/requests, maybe waiting for a matching answer. */
static int
sb_control_requests(struct evhttp_request *req, cJSON *args, cJSON **out)
{
	struct sb_waiter	*w;
	struct sb_record	*rec;
	const char		*service, *match;
	long long		 since, wait_ms;
	struct timeval		 tv;

	service = sb_json_str(args, "service");
	match = sb_json_str(args, "match");
	since = sb_json_int(args, "since", 0);
	wait_ms = sb_json_int(args, "wait_ms", 0);
	if (since < 0 || since > INT32_MAX || wait_ms < 0 ||
	    wait_ms > SB_MAX_WAIT_MS) {
		*out = sb_control_error("requests: since or wait_ms out of "
		    "range");
		return (400);
	}
	if (wait_ms > 0) {
		TAILQ_FOREACH(rec, &sb_records, entry) {
			if (sb_record_settled(rec) && sb_record_matches(rec,
			    service, match, (int)since))
				break;
		}
		if (rec == NULL) {
			w = sb_calloc(1, sizeof(*w));
			w->req = req;
			w->service = service != NULL ? sb_strdup(service) :
			    NULL;
			w->match = match != NULL ? sb_strdup(match) : NULL;
			w->since = (int)since;
			w->timer = evtimer_new(sb_base, sb_waiter_timeout_cb,
			    w);
			if (w->timer == NULL)
				sb_fatal("evtimer_new failed");
			tv.tv_sec = wait_ms / 1000;
			tv.tv_usec = (wait_ms % 1000) * 1000;
			evtimer_add(w->timer, &tv);
			TAILQ_INSERT_TAIL(&sb_waiters, w, entry);
			*out = NULL;
			return (0);
		}
	}
	*out = sb_requests_list(service, match, (int)since);
	return (200);
}

static void
sb_reset_all(void)
{
	cJSON	*body, *res;
	size_t	 i;

	for (i = 0; i < SB_NSERVICES; i++) {
		if (sb_services[i]->control == NULL)
			continue;
		body = cJSON_CreateObject();
		res = sb_services[i]->control("reset", body);
		cJSON_Delete(body);
		cJSON_Delete(res);
	}
	res = proxy_control("reset", NULL);
	cJSON_Delete(res);
	sb_requests_clear(NULL);
	sb_faults_clear();
}

/* The query string as a JSON object of strings. */
static cJSON *
sb_query_json(const char *query)
{
	struct sb_pending	 tmp;
	cJSON			*o;
	size_t			 i;

	memset(&tmp, 0, sizeof(tmp));
	o = cJSON_CreateObject();
	if (query != NULL)
		sb_parse_form(&tmp, query);
	for (i = 0; i < tmp.nkv; i++) {
		if (cJSON_GetObjectItemCaseSensitive(o, tmp.kv[i].name) ==
		    NULL)
			cJSON_AddStringToObject(o, tmp.kv[i].name,
			    tmp.kv[i].value);
		free(tmp.kv[i].name);
		free(tmp.kv[i].value);
	}
	free(tmp.kv);
	return (o);
}

/* The control API (never recorded, never faulted). */
static void
sb_control_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri;
	const struct sb_service	*svc;
	struct evbuffer		*in;
	const char		*upath, *rest, *slash;
	char			*path = NULL, *text = NULL;
	cJSON			*args = NULL, *body, *item, *out = NULL;
	size_t			 len;
	int			 status = 200;

	uri = evhttp_request_get_evhttp_uri(req);
	upath = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (upath == NULL)
		upath = "/";
	path = sb_decode(upath, strlen(upath), 0);
	args = sb_query_json(uri != NULL ? evhttp_uri_get_query(uri) : NULL);

	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > 0) {
		text = sb_malloc(len + 1);
		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		body = cJSON_ParseWithLength(text, len);
		if (!cJSON_IsObject(body)) {
			cJSON_Delete(body);
			out = sb_control_error("body is not a JSON object");
			status = 400;
			goto out;
		}
		/* Query parameters fill in what the body leaves out. */
		while ((item = args->child) != NULL) {
			cJSON_DetachItemViaPointer(args, item);
			if (cJSON_GetObjectItemCaseSensitive(body,
			    item->string) == NULL)
				cJSON_AddItemToObject(body, item->string, item);
			else
				cJSON_Delete(item);
		}
		cJSON_Delete(args);
		args = body;
	}

	if (strncmp(path, "/control/", 9) != 0) {
		out = sb_control_error("not found: %s", path);
		status = 404;
		goto out;
	}
	rest = path + 9;
	sb_log("control %s", rest);
	if (strcmp(rest, "health") == 0) {
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "ok");
	} else if (strcmp(rest, "fault") == 0)
		status = sb_control_fault(args, &out);
	else if (strcmp(rest, "faults") == 0)
		out = sb_faults_list();
	else if (strcmp(rest, "faults/clear") == 0) {
		sb_faults_clear();
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "ok");
	} else if (strcmp(rest, "requests") == 0) {
		status = sb_control_requests(req, args, &out);
		if (status == 0)
			goto out;	/* answered later */
	} else if (strcmp(rest, "requests/clear") == 0) {
		sb_requests_clear(sb_json_str(args, "service"));
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "ok");
	} else if (strcmp(rest, "reset") == 0) {
		sb_reset_all();
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "ok");
	} else if (strncmp(rest, "proxy/", 6) == 0) {
		if ((out = proxy_control(rest + 6, args)) == NULL) {
			out = sb_control_error("unknown op %s", rest);
			status = 404;
		} else if (sb_json_str(out, "error") != NULL)
			status = 400;
	} else if ((slash = strchr(rest, '/')) != NULL &&
	    (svc = sb_service_find(rest, (size_t)(slash - rest))) != NULL) {
		if (svc->control == NULL ||
		    (out = svc->control(slash + 1, args)) == NULL) {
			out = sb_control_error("unknown op %s", rest);
			status = 404;
		} else if (sb_json_str(out, "error") != NULL)
			status = 400;
	} else {
		out = sb_control_error("not found: %s", path);
		status = 404;
	}
out:
	if (out != NULL)
		sb_control_reply(req, status, out);
	cJSON_Delete(args);
	free(text);
	free(path);
}

static struct bufferevent *
sb_tls_bev_cb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(sb_ssl_ctx)) == NULL)
		return (NULL);
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return (NULL);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

/* Bind an HTTP server on 127.0.0.1 port 0 for svc (NULL: control). */
static struct evhttp *
sb_listen(const struct sb_service *svc, int tls, int *port)
{
	struct evhttp			*http;
	struct evhttp_bound_socket	*h;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof(sin);

	if ((http = evhttp_new(sb_base)) == NULL)
		sb_fatal("evhttp_new failed");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(http, SB_MAX_BODY);
	evhttp_set_max_headers_size(http, SB_MAX_HEADERS);
	evhttp_set_timeout(http, 120);
	if (tls)
		evhttp_set_bevcb(http, sb_tls_bev_cb, NULL);
	if (svc != NULL)
		evhttp_set_gencb(http, sb_service_cb, (void *)svc);
	else
		evhttp_set_gencb(http, sb_control_cb, NULL);
	if ((h = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) ==
	    NULL)
		sb_fatal("cannot listen for %s", svc != NULL ? svc->name :
		    "control");
	if (getsockname(evhttp_bound_socket_get_fd(h),
	    (struct sockaddr *)&sin, &slen) == -1)
		sb_fatal("getsockname: %s", strerror(errno));
	*port = ntohs(sin.sin_port);
	return (http);
}

/* Publish the ports atomically: write PATH.tmp, then rename. */
static void
sb_write_ports(const char *path)
{
	FILE	*f;
	char	*tmp, *text;
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "slack", sb_opts.slack_port);
	cJSON_AddNumberToObject(o, "socket", sb_opts.socket_port);
	cJSON_AddNumberToObject(o, "jira", sb_opts.jira_port);
	cJSON_AddNumberToObject(o, "pagerduty", sb_opts.pd_port);
	cJSON_AddNumberToObject(o, "control", sb_opts.control_port);
	cJSON_AddNumberToObject(o, "proxy", sb_opts.proxy_port);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	sb_asprintf(&tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		sb_fatal("%s: %s", tmp, strerror(errno));
	fprintf(f, "%s\n", text);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0)
		sb_fatal("%s: %s", tmp, strerror(errno));
	if (rename(tmp, path) != 0)
		sb_fatal("rename %s: %s", path, strerror(errno));
	free(tmp);
	cJSON_free(text);
}

static void
sb_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	sb_log("signal %d, exiting", (int)sig);
	event_base_loopbreak(sb_base);
}

static void
sb_usage(void)
{
	fprintf(stderr, "usage: sandbox --ports-file PATH "
	    "[--tls-cert FILE --tls-key FILE] [--console]\n"
	    "\t[--slack-bot-token T] [--slack-app-token T] "
	    "[--slack-user-token T]\n"
	    "\t[--public-post] [--manifest slack-app-manifest.yaml]\n"
	    "\t[--jira-email E] [--jira-token T] "
	    "[--jira-flavor cloud|datacenter]\n"
	    "\t[--jira-context /PATH] [--jira-timezone ZONE]\n"
	    "\t[--pd-token T] [--ping-interval SECONDS] "
	    "[--ack-timeout SECONDS]\n"
	    "\t[--pd-webhook-timeout SECONDS] "
	    "[--pd-webhook-backoff SECONDS]\n");
	exit(2);
}

static double
sb_parse_seconds(const char *name, const char *s)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) ||
	    d < 0.05 || d > 86400)
		sb_fatal("%s: bad number of seconds: %s", name, s);
	return (d);
}

static void
sb_tls_init(const char *cert, const char *key)
{
	unsigned long	e;

	if ((sb_ssl_ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		sb_fatal("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(sb_ssl_ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(sb_ssl_ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sb_ssl_ctx, key, SSL_FILETYPE_PEM)
	    != 1 || SSL_CTX_check_private_key(sb_ssl_ctx) != 1) {
		e = ERR_get_error();
		sb_fatal("TLS certificate %s / key %s: %s", cert, key,
		    ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "unknown error");
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ports-file",		required_argument, NULL, 'p' },
		{ "tls-cert",		required_argument, NULL, 'c' },
		{ "tls-key",		required_argument, NULL, 'k' },
		{ "console",		no_argument,	   NULL, 'C' },
		{ "slack-bot-token",	required_argument, NULL, 'b' },
		{ "slack-app-token",	required_argument, NULL, 'a' },
		{ "slack-user-token",	required_argument, NULL, 'u' },
		{ "public-post",	no_argument,	   NULL, 'P' },
		{ "manifest",		required_argument, NULL, 'm' },
		{ "jira-email",		required_argument, NULL, 'e' },
		{ "jira-token",		required_argument, NULL, 'j' },
		{ "jira-flavor",	required_argument, NULL, 'f' },
		{ "jira-context",	required_argument, NULL, 'x' },
		{ "jira-timezone",	required_argument, NULL, 'z' },
		{ "pd-token",		required_argument, NULL, 'd' },
		{ "ping-interval",	required_argument, NULL, 'i' },
		{ "ack-timeout",	required_argument, NULL, 't' },
		{ "pd-webhook-timeout",	required_argument, NULL, 'W' },
		{ "pd-webhook-backoff",	required_argument, NULL, 'B' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sb_waiter	*w;
	struct sb_pending	*p;
	const char		*ports_file = NULL, *cert = NULL, *key = NULL;
	const char		*v;
	size_t			 i;
	int			 ch;

	sb_opts.slack_bot_token = "xoxb-sandbox-bot-token";
	sb_opts.slack_app_token = "xapp-sandbox-app-token";
	sb_opts.slack_user_token = "xoxp-sandbox-user-token";
	sb_opts.jira_email = "bot@example.com";
	sb_opts.jira_token = "jira-sandbox-token";
	sb_opts.jira_flavor = "cloud";
	sb_opts.pd_token = "pd-sandbox-token";
	sb_opts.ping_interval = 10;
	sb_opts.ack_timeout = 3;
	/* PagerDuty wants a 2xx within 5 s; tests shorten the backoff. */
	sb_opts.pd_webhook_timeout = 5;
	sb_opts.pd_webhook_backoff = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': ports_file = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'C': sb_opts.console = 1; break;
		case 'b': sb_opts.slack_bot_token = optarg; break;
		case 'a': sb_opts.slack_app_token = optarg; break;
		case 'u': sb_opts.slack_user_token = optarg; break;
		case 'P': sb_opts.public_post = 1; break;
		case 'm': sb_opts.slack_manifest = optarg; break;
		case 'e': sb_opts.jira_email = optarg; break;
		case 'j': sb_opts.jira_token = optarg; break;
		case 'f':
			if (strcmp(optarg, "cloud") != 0 &&
			    strcmp(optarg, "datacenter") != 0)
				sb_fatal("--jira-flavor: cloud or datacenter");
			sb_opts.jira_flavor = optarg;
			break;
		case 'x':
			if (optarg[0] != '/' || optarg[1] == '\0' ||
			    optarg[strlen(optarg) - 1] == '/')
				sb_fatal("--jira-context: /PATH without a "
				    "trailing slash");
			sb_opts.jira_context = optarg;
			break;
		case 'z': sb_opts.jira_timezone = optarg; break;
		case 'd': sb_opts.pd_token = optarg; break;
		case 'i':
			sb_opts.ping_interval = sb_parse_seconds(
			    "--ping-interval", optarg);
			break;
		case 't':
			sb_opts.ack_timeout = sb_parse_seconds("--ack-timeout",
			    optarg);
			break;
		case 'W':
			sb_opts.pd_webhook_timeout = sb_parse_seconds(
			    "--pd-webhook-timeout", optarg);
			break;
		case 'B':
			sb_opts.pd_webhook_backoff = sb_parse_seconds(
			    "--pd-webhook-backoff", optarg);
			break;
		default:
			sb_usage();
		}
	}
	if (optind != argc || ports_file == NULL)
		sb_usage();
	if ((cert == NULL) != (key == NULL))
		sb_fatal("--tls-cert and --tls-key go together");
	if (*sb_opts.slack_bot_token == '\0' ||
	    *sb_opts.slack_app_token == '\0' ||
	    *sb_opts.slack_user_token == '\0' || *sb_opts.pd_token == '\0' ||
	    *sb_opts.jira_token == '\0')
		sb_fatal("tokens must not be empty");
	v = getenv("SANDBOX_VERBOSE");
	sb_opts.verbose = v != NULL && strcmp(v, "1") == 0;
	signal(SIGPIPE, SIG_IGN);

	if (cert != NULL) {
		sb_tls_init(cert, key);
		sb_opts.tls = 1;
	}
	if ((sb_base = event_base_new()) == NULL)
		sb_fatal("event_base_new failed");

	sb_https[0] = sb_listen(&fake_slack, sb_opts.tls, &sb_opts.slack_port);
	sb_https[1] = sb_listen(&fake_jira, sb_opts.tls, &sb_opts.jira_port);
	sb_https[2] = sb_listen(&fake_pagerduty, sb_opts.tls,
	    &sb_opts.pd_port);
	sb_control_http = sb_listen(NULL, 0, &sb_opts.control_port);
	sb_opts.socket_port = socket_server_init();
	sb_opts.proxy_port = proxy_server_init();
	/* After binding: a fake may put its own port in URLs it hands out. */
	for (i = 0; i < SB_NSERVICES; i++) {
		if (sb_services[i]->init != NULL)
			sb_services[i]->init();
	}

	sb_sigterm = evsignal_new(sb_base, SIGTERM, sb_signal_cb, NULL);
	sb_sigint = evsignal_new(sb_base, SIGINT, sb_signal_cb, NULL);
	if (sb_sigterm == NULL || sb_sigint == NULL ||
	    evsignal_add(sb_sigterm, NULL) != 0 ||
	    evsignal_add(sb_sigint, NULL) != 0)
		sb_fatal("cannot set up signal handlers");

	sb_write_ports(ports_file);
	sb_log("listening: slack %d socket %d jira %d pagerduty %d "
	    "control %d%s", sb_opts.slack_port, sb_opts.socket_port,
	    sb_opts.jira_port, sb_opts.pd_port, sb_opts.control_port,
	    sb_opts.tls ? " (tls)" : "");
	if (sb_opts.console)
		console_init();

	event_base_dispatch(sb_base);

	/*
	 * Teardown: our wrappers first (evhttp_free frees the requests that
	 * still sit on a connection; a request whose client went away was
	 * detached from its connection and is ours to free).
	 */
	if (sb_opts.console)
		console_free();
	socket_server_free();
	proxy_server_free();
	while ((w = TAILQ_FIRST(&sb_waiters)) != NULL) {
		if (evhttp_request_get_connection(w->req) == NULL)
			evhttp_request_free(w->req);
		sb_waiter_free(w);
	}
	while ((p = TAILQ_FIRST(&sb_pendings)) != NULL) {
		if (evhttp_request_get_connection(p->r.req) == NULL)
			evhttp_request_free(p->r.req);
		sb_pending_free(p);
	}
	for (i = 0; i < SB_NSERVICES; i++)
		evhttp_free(sb_https[i]);
	evhttp_free(sb_control_http);
	for (i = 0; i < SB_NSERVICES; i++) {
		if (sb_services[i]->shutdown != NULL)
			sb_services[i]->shutdown();
	}
	sb_requests_clear(NULL);
	sb_faults_clear();
	event_free(sb_sigterm);
	event_free(sb_sigint);
	event_base_free(sb_base);
	if (sb_ssl_ctx != NULL)
		SSL_CTX_free(sb_ssl_ctx);
	return (0);
}
