/*
 * fake-socket.c: the Slack Socket Mode WebSocket server.
 *
 * apps.connections.open (fake-slack.c) issues a single-use ticket valid
 * for 30 s; the client upgrades GET /link/?ticket=...&app_id=... here.
 * The RFC 6455 handshake is done by hand over a bufferevent (TLS with
 * --tls-cert), framing by wslay's server context (client frames must be
 * masked). After the upgrade the server sends "hello"; it pings every
 * --ping-interval and closes a connection that has not ponged for two
 * intervals. At most 10 connections are open at once; the 11th is told
 * "too_many_websockets" and closed.
 *
 * Payloads go round-robin to one connection that has had its hello.
 * Every envelope must be acked with {"envelope_id":...}; acks are
 * recorded with whether they were late (after --ack-timeout). An unacked
 * events_api envelope is redelivered after --ack-timeout with a new
 * envelope_id, retry_attempt + 1 and retry_reason "timeout", at most 3
 * times (as the Events API does; the exact Socket Mode schedule is not
 * documented). Interactive envelopes are not redelivered.
 *
 * link_disabled: after {"reason":"link_disabled"}, apps.connections.open
 * keeps answering ok:true (its documented errors have nothing for it),
 * but every new socket gets {"type":"disconnect","reason":
 * "link_disabled"} at once and is closed, until POST
 * /control/slack/enable.
 *
 * Faults for t/socket-faults.t (POST /control/slack/<op>):
 *   silence {"on":true,"current":true}  only the connections open now
 *          go quiet (without "current", every connection, new ones too)
 *   refuse {"count":N,"status":S}  the next N upgrades (ticket and all
 *          valid) are answered S (200-599, default 503) and closed
 *   nohello {"count":N}  the next N connections are upgraded and then
 *          hear nothing: no hello, no pings, no envelopes
 *   storm {"count":N,"mode":"disconnect"|"drop","reason":R,
 *          "close_after_ms":MS}  the next N connections are either
 *          told {"type":"disconnect"} right after their hello (reason
 *          R, default refresh_requested; closed after MS, default
 *          10000) or dropped with their upgrade request unanswered
 *   frame {"opcode":0-15,"payload":"...","pad_bytes":N,"fin":true,
 *          "rsv":0-7,"mask":false,"all":false}  one frame built by
 *          hand, bypassing wslay, to one connection that had its hello
 *          (or all): garbage opcodes, RSV bits, a masked server frame,
 *          a fragment, a binary frame, or with pad_bytes spaces after
 *          the payload (up to 64 MiB) a message over the client's cap
 * "connections" counts them: refused, hello_withheld, stormed.
 *
 * GET /control/slack/envelopes lists the kept envelopes (the last
 * 10000), oldest first: {"envelopes":[{envelope_id,type,retry_attempt,
 * sent_at,acked,frame}]}, "frame" being the text frame exactly as sent
 * (fuzz/seed.pl makes the socket fuzz target's seeds of them).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
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
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "queue.h"
#include "sandbox.h"

#define FS_MAX_CONNECTIONS	10
#define FS_MAX_HEADER		16384
#define FS_MAX_MESSAGE		(1024 * 1024)
#define FS_TICKET_TTL_MS	30000
#define FS_MAX_RETRIES		3
#define FS_MAX_ENVELOPES	10000
#define FS_HANDSHAKE_TIMEOUT	10
#define FS_MAX_PAD		(64 * 1024 * 1024)
#define FS_MAX_ARMED		1000
#define FS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum fs_state {
	FS_HANDSHAKE = 0,
	FS_OPEN,
	FS_CLOSING,		/* close frame queued, waiting for flush */
	FS_DEAD			/* unlinked, freed on the next turn */
};

struct fs_conn {
	int			 id;
	enum fs_state		 state;
	struct bufferevent	*bev;
	wslay_event_context_ptr	 ctx;
	int			 hello_sent;
	int			 silent;	/* this one only: half-open */
	uint64_t		 last_pong_ms;
	uint64_t		 unanswered_ms;	/* first ping since last pong */
	struct event		*ping_ev;	/* persistent, ping interval */
	struct event		*close_ev;	/* close after disconnect */
	struct event		*free_ev;	/* deferred free */
	TAILQ_ENTRY(fs_conn)	 entry;
};
TAILQ_HEAD(fs_conns, fs_conn);

struct fs_env {
	char			 id[40];
	char			*type;
	cJSON			*payload;
	char			*frame;		/* the text sent */
	char			*event_id;	/* events_api only */
	int			 retry_attempt;
	int			 conn_id;
	uint64_t		 sent_ms;
	double			 sent_at;
	int			 acked;		/* this envelope was acked */
	int			 settled;	/* its event was acked */
	int			 done;		/* no more retries */
	struct event		*retry_ev;
	TAILQ_ENTRY(fs_env)	 entry;
	LIST_ENTRY(fs_env)	 hentry;	/* fs_by_id */
	int			 on_event;	/* in fs_by_event */
	LIST_ENTRY(fs_env)	 eentry;
};
LIST_HEAD(fs_bucket, fs_env);
TAILQ_HEAD(fs_envs, fs_env);

struct fs_ticket {
	char			 ticket[40];
	uint64_t		 expires_ms;
	TAILQ_ENTRY(fs_ticket)	 entry;
};
TAILQ_HEAD(fs_tickets, fs_ticket);

static struct evconnlistener	*fs_listener;
static struct fs_conns		 fs_conns = TAILQ_HEAD_INITIALIZER(fs_conns);
static struct fs_conns		 fs_dead = TAILQ_HEAD_INITIALIZER(fs_dead);
static struct fs_envs		 fs_envs = TAILQ_HEAD_INITIALIZER(fs_envs);
/*
 * Kept envelopes by envelope_id, and unsettled ones by event_id: with
 * thousands in flight (a bulk), an ack must not walk them all.
 */
#define FS_BUCKETS	16384
static struct fs_bucket		 fs_by_id[FS_BUCKETS];
static struct fs_bucket		 fs_by_event[FS_BUCKETS];
static int			 fs_nenvs;
static struct fs_tickets	 fs_tickets =
				    TAILQ_HEAD_INITIALIZER(fs_tickets);
static int			 fs_next_id;
static int			 fs_rr;		/* last connection used */
static int			 fs_silent;
static int			 fs_link_disabled;
static cJSON			*fs_acks;	/* array */
static cJSON			*fs_errors;	/* array */
static int			 fs_unknown, fs_invalid;
/* Armed faults: how many connections each still applies to. */
static int			 fs_refuse, fs_refuse_status;
static int			 fs_nohello;
static int			 fs_storm, fs_storm_drop;
static long long		 fs_storm_close_ms;
static char			 fs_storm_reason[32];
static struct {
	int	opened_total;
	int	hello_sent;
	int	rejected;
	int	handshake_failed;
	int	pings_sent;
	int	pongs;
	int	ping_timeouts;
	int	delivered;
	int	redelivered;
	int	gave_up;
	int	refused;
	int	hello_withheld;
	int	stormed;
} fs_stats;

static void	 fs_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 fs_read_cb(struct bufferevent *, void *);
static void	 fs_write_cb(struct bufferevent *, void *);
static void	 fs_event_cb(struct bufferevent *, short, void *);
static void	 fs_handshake(struct fs_conn *);
static void	 fs_http_error(struct fs_conn *, int, const char *,
		    const char *);
static void	 fs_upgraded(struct fs_conn *);
static void	 fs_pump(struct fs_conn *);
static int	 fs_send_text(struct fs_conn *, const char *);
static void	 fs_send_json(struct fs_conn *, cJSON *);
static int	 fs_send_disconnect(struct fs_conn *, const char *);
static void	 fs_close_after(struct fs_conn *, long long);
static int	 fs_disconnect_reason_ok(const char *);
static void	 fs_close(struct fs_conn *, uint16_t, const char *);
static void	 fs_kill(struct fs_conn *, const char *);
static void	 fs_free(struct fs_conn *);
static void	 fs_free_cb(evutil_socket_t, short, void *);
static void	 fs_ping_cb(evutil_socket_t, short, void *);
static void	 fs_close_timer_cb(evutil_socket_t, short, void *);
static ssize_t	 fs_recv_cb(wslay_event_context_ptr, uint8_t *, size_t, int,
		    void *);
static ssize_t	 fs_wslay_send_cb(wslay_event_context_ptr, const uint8_t *,
		    size_t, int, void *);
static void	 fs_msg_cb(wslay_event_context_ptr,
		    const struct wslay_event_on_msg_recv_arg *, void *);
static void	 fs_ack(struct fs_conn *, const char *, size_t);
static struct fs_conn *fs_pick(void);
static struct fs_env *fs_send_envelope(struct fs_conn *, const char *,
		    const cJSON *, const char *, int, const char *);
static void	 fs_retry_cb(evutil_socket_t, short, void *);
static void	 fs_env_free(struct fs_env *);
static void	 fs_env_settle(struct fs_env *);
static void	 fs_error(const char *, const char *, const char *);
static int	 fs_open_count(void);
static void	 fs_uuid(char [40]);
static int	 fs_ticket_use(const char *);
static int	 fs_find_header(const char *, const char *, char *, size_t);
static int	 fs_has_token(const char *, const char *);
static int	 fs_key_valid(const char *);
static void	 fs_accept_key(const char *, char [29]);
static void	 fs_retry_arm(struct fs_env *);
static struct fs_env *fs_latest_for_event(const char *);
static cJSON	*fs_result_error(const char *);
static cJSON	*fs_control_disconnect(cJSON *);
static cJSON	*fs_control_raw(cJSON *);
static cJSON	*fs_control_frame(cJSON *);
static cJSON	*fs_control_fault(const char *, cJSON *);
static cJSON	*fs_control_acks(void);
static cJSON	*fs_control_envelopes(void);
static cJSON	*fs_control_connections(void);

static const struct wslay_event_callbacks fs_callbacks = {
	fs_recv_cb, fs_wslay_send_cb, NULL, NULL, NULL, NULL, fs_msg_cb
};

/* Listen on 127.0.0.1 port 0; returns the port. */
int
socket_server_init(void)
{
	int	port;

	fs_listener = sb_listen_loopback(fs_accept_cb, NULL, "socket mode",
	    &port);
	fs_acks = cJSON_CreateArray();
	fs_errors = cJSON_CreateArray();
	return (port);
}

/* Close everything (at exit, outside callbacks). */
void
socket_server_free(void)
{
	struct fs_conn		*c;
	struct fs_ticket	*t;

	while ((c = TAILQ_FIRST(&fs_conns)) != NULL) {
		TAILQ_REMOVE(&fs_conns, c, entry);
		fs_free(c);
	}
	while ((c = TAILQ_FIRST(&fs_dead)) != NULL) {
		TAILQ_REMOVE(&fs_dead, c, entry);
		fs_free(c);
	}
	while (!TAILQ_EMPTY(&fs_envs))
		fs_env_free(TAILQ_FIRST(&fs_envs));
	while ((t = TAILQ_FIRST(&fs_tickets)) != NULL) {
		TAILQ_REMOVE(&fs_tickets, t, entry);
		free(t);
	}
	if (fs_listener != NULL)
		evconnlistener_free(fs_listener);
	fs_listener = NULL;
	cJSON_Delete(fs_acks);
	cJSON_Delete(fs_errors);
	fs_acks = fs_errors = NULL;
}

/* Forget envelopes, acks and tickets; re-enable the link. */
void
socket_reset(void)
{
	struct fs_ticket	*t;

	while (!TAILQ_EMPTY(&fs_envs))
		fs_env_free(TAILQ_FIRST(&fs_envs));
	while ((t = TAILQ_FIRST(&fs_tickets)) != NULL) {
		TAILQ_REMOVE(&fs_tickets, t, entry);
		free(t);
	}
	cJSON_Delete(fs_acks);
	cJSON_Delete(fs_errors);
	fs_acks = cJSON_CreateArray();
	fs_errors = cJSON_CreateArray();
	fs_unknown = fs_invalid = 0;
	fs_silent = 0;
	fs_link_disabled = 0;
	fs_refuse = fs_nohello = fs_storm = 0;
}

static void
fs_uuid(char out[40])
{
	char	h[33];

	sb_random_hex(h, 16);
	h[12] = '4';
	snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
	    h + 16, h + 20);
}

/* Issue a single-use connection URL (apps.connections.open). */
char *
socket_new_url(void)
{
	struct fs_ticket	*t, *next;
	char			*url;
	uint64_t		 now = sb_mono_ms();

	TAILQ_FOREACH_SAFE(t, &fs_tickets, entry, next) {
		if (t->expires_ms <= now) {
			TAILQ_REMOVE(&fs_tickets, t, entry);
			free(t);
		}
	}
	t = sb_calloc(1, sizeof(*t));
	fs_uuid(t->ticket);
	t->expires_ms = now + FS_TICKET_TTL_MS;
	TAILQ_INSERT_TAIL(&fs_tickets, t, entry);
	sb_asprintf(&url, "%s://127.0.0.1:%d/link/?ticket=%s&app_id=%s",
	    sb_opts.tls ? "wss" : "ws", sb_opts.socket_port, t->ticket,
	    SLACK_APP_ID);
	return (url);
}

/* Consume a ticket: 0 if it was valid. */
static int
fs_ticket_use(const char *ticket)
{
	struct fs_ticket	*t;

	TAILQ_FOREACH(t, &fs_tickets, entry) {
		if (strcmp(t->ticket, ticket) == 0)
			break;
	}
	if (t == NULL)
		return (-1);
	TAILQ_REMOVE(&fs_tickets, t, entry);
	if (t->expires_ms <= sb_mono_ms()) {
		free(t);
		return (-1);
	}
	free(t);
	return (0);
}

static void
fs_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fs_conn	*c;
	struct timeval	 tv = { FS_HANDSHAKE_TIMEOUT, 0 };
	SSL		*ssl;

	c = sb_calloc(1, sizeof(*c));
	c->id = ++fs_next_id;
	if (sb_ssl_ctx != NULL) {
		if ((ssl = SSL_new(sb_ssl_ctx)) == NULL) {
			close(fd);
			free(c);
			return;
		}
		c->bev = bufferevent_openssl_socket_new(sb_base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev,
			    1);
	} else
		c->bev = bufferevent_socket_new(sb_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->free_ev = evtimer_new(sb_base, fs_free_cb, c);
	c->ping_ev = event_new(sb_base, -1, EV_PERSIST, fs_ping_cb, c);
	c->close_ev = evtimer_new(sb_base, fs_close_timer_cb, c);
	if (c->free_ev == NULL || c->ping_ev == NULL || c->close_ev == NULL)
		sb_fatal("event_new failed");
	TAILQ_INSERT_TAIL(&fs_conns, c, entry);
	bufferevent_setcb(c->bev, fs_read_cb, fs_write_cb, fs_event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	sb_log("socket #%d: accepted", c->id);
}

static void
fs_read_cb(struct bufferevent *bev, void *arg)
{
	struct fs_conn	*c = arg;

	if (c->state == FS_HANDSHAKE)
		fs_handshake(c);
	else if (c->state == FS_OPEN || c->state == FS_CLOSING)
		fs_pump(c);
}

/* Output drained: a closing connection can go now. */
static void
fs_write_cb(struct bufferevent *bev, void *arg)
{
	struct fs_conn	*c = arg;

	if (c->state == FS_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    (c->ctx == NULL || !wslay_event_want_write(c->ctx)))
		fs_kill(c, "closed");
}

static void
fs_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fs_conn	*c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		fs_kill(c, "handshake timeout");
	else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fs_kill(c, (what & BEV_EVENT_EOF) ? "client closed" :
		    "connection error");
}

/* Find a header value in a CRLF header block; copies into out. */
static int
fs_find_header(const char *block, const char *name, char *out,
    size_t outlen)
{
	const char	*line, *eol, *colon, *v;
	size_t		 nlen = strlen(name), vlen;

	for (line = block; *line != '\0'; line = eol + 2) {
		if ((eol = strstr(line, "\r\n")) == NULL)
			break;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon != NULL && (size_t)(colon - line) == nlen &&
		    strncasecmp(line, name, nlen) == 0) {
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			vlen = (size_t)(eol - v);
			while (vlen > 0 && (v[vlen - 1] == ' ' ||
			    v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= outlen)
				return (-1);
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return (0);
		}
	}
	return (-1);
}

/* 1 if the comma-separated list contains token (case-insensitive). */
static int
fs_has_token(const char *list, const char *token)
{
	const char	*p = list, *end;
	size_t		 tlen = strlen(token), n;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tlen && strncasecmp(p, token, n) == 0)
			return (1);
		p = end;
	}
	return (0);
}

/* A Sec-WebSocket-Key must be base64 of exactly 16 bytes. */
static int
fs_key_valid(const char *key)
{
	unsigned char	out[32];
	size_t		i;

	if (strlen(key) != 24 || strcmp(key + 22, "==") != 0)
		return (0);
	for (i = 0; i < 22; i++) {
		if (!isalnum((unsigned char)key[i]) && key[i] != '+' &&
		    key[i] != '/')
			return (0);
	}
	return (EVP_DecodeBlock(out, (const unsigned char *)key, 24) == 18);
}

static void
fs_accept_key(const char *key, char out[29])
{
	unsigned char	 md[SHA_DIGEST_LENGTH];
	char		*s;

	sb_asprintf(&s, "%s%s", key, FS_GUID);
	SHA1((const unsigned char *)s, strlen(s), md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
	free(s);
}

/* Parse the upgrade request once the whole header block is in. */
static void
fs_handshake(struct fs_conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr	 end;
	char			*block, *line_end, *sp1, *sp2, *target, *q;
	char			 upgrade[128], connection[256], version[16];
	char			 key[64], host[256], accept[29], ticket[64];
	const char		*t;
	size_t			 hlen, n;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > FS_MAX_HEADER)
			fs_http_error(c, 431, "Request Header Fields Too "
			    "Large", "request headers too large");
		return;
	}
	hlen = (size_t)end.pos + 4;
	if (hlen > FS_MAX_HEADER) {
		fs_http_error(c, 431, "Request Header Fields Too Large",
		    "request headers too large");
		return;
	}
	block = sb_malloc(hlen + 1);
	evbuffer_remove(in, block, hlen);
	block[hlen] = '\0';
	if (memchr(block, '\0', hlen) != NULL) {
		fs_http_error(c, 400, "Bad Request", "NUL in request");
		goto out;
	}

	/* Request line: GET /link/?ticket=... HTTP/1.1 */
	line_end = strstr(block, "\r\n");
	*line_end = '\0';
	sp1 = strchr(block, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL) {
		fs_http_error(c, 400, "Bad Request", "bad request line");
		goto out;
	}
	*sp1 = *sp2 = '\0';
	target = sp1 + 1;
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0) {
		fs_http_error(c, 505, "HTTP Version Not Supported",
		    "HTTP/1.1 required for a WebSocket upgrade");
		goto out;
	}
	if (strcmp(block, "GET") != 0) {
		fs_http_error(c, 405, "Method Not Allowed", "GET required");
		goto out;
	}
	q = strchr(target, '?');
	if (q != NULL)
		*q++ = '\0';
	if (strcmp(target, "/link/") != 0 && strcmp(target, "/link") != 0) {
		fs_http_error(c, 404, "Not Found", "no such path");
		goto out;
	}
	line_end += 2;
	if (fs_find_header(line_end, "Host", host, sizeof(host)) != 0) {
		fs_http_error(c, 400, "Bad Request", "missing Host");
		goto out;
	}
	if (fs_find_header(line_end, "Upgrade", upgrade, sizeof(upgrade))
	    != 0 || !fs_has_token(upgrade, "websocket") ||
	    fs_find_header(line_end, "Connection", connection,
	    sizeof(connection)) != 0 || !fs_has_token(connection, "upgrade")) {
		fs_http_error(c, 400, "Bad Request",
		    "not a WebSocket upgrade (Upgrade/Connection)");
		goto out;
	}
	if (fs_find_header(line_end, "Sec-WebSocket-Version", version,
	    sizeof(version)) != 0 || strcmp(version, "13") != 0) {
		fs_http_error(c, 426, "Upgrade Required",
		    "Sec-WebSocket-Version must be 13");
		goto out;
	}
	if (fs_find_header(line_end, "Sec-WebSocket-Key", key, sizeof(key))
	    != 0 || !fs_key_valid(key)) {
		fs_http_error(c, 400, "Bad Request", "bad Sec-WebSocket-Key");
		goto out;
	}

	/* The ticket: ticket=<id> in the query, single use. */
	ticket[0] = '\0';
	for (t = q; t != NULL && *t != '\0'; t = strchr(t, '&') ?
	    strchr(t, '&') + 1 : NULL) {
		if (strncmp(t, "ticket=", 7) == 0) {
			n = strcspn(t + 7, "&");
			if (n < sizeof(ticket)) {
				memcpy(ticket, t + 7, n);
				ticket[n] = '\0';
			}
			break;
		}
	}
	if (ticket[0] == '\0' || fs_ticket_use(ticket) != 0) {
		fs_http_error(c, 401, "Unauthorized",
		    "invalid, used or expired ticket");
		goto out;
	}

	if (fs_refuse > 0) {
		fs_refuse--;
		fs_stats.refused++;
		fs_http_error(c, fs_refuse_status, sb_reason(fs_refuse_status),
		    "upgrade refused by control");
		goto out;
	}
	if (fs_storm > 0 && fs_storm_drop) {
		fs_storm--;
		fs_stats.stormed++;
		fs_kill(c, "storm: dropped unanswered");
		goto out;
	}

	fs_accept_key(key, accept);
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	fs_upgraded(c);
out:
	free(block);
}

/* Answer a failed upgrade and close once written. */
static void
fs_http_error(struct fs_conn *c, int status, const char *reason,
    const char *msg)
{
	char	*body;

	fs_stats.handshake_failed++;
	sb_log("socket #%d: upgrade refused: %d %s", c->id, status, msg);
	sb_asprintf(&body, "{\"ok\":false,\"error\":\"%s\"}", msg);
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "Connection: close\r\n\r\n%s", status, reason, strlen(body),
	    status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", body);
	free(body);
	c->state = FS_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
}

static void
fs_upgraded(struct fs_conn *c)
{
	struct timeval	 tv;
	cJSON		*o, *d;
	double		 iv = sb_opts.ping_interval;

	if (wslay_event_context_server_init(&c->ctx, &fs_callbacks, c) != 0)
		sb_fatal("wslay init failed");
	wslay_event_config_set_max_recv_msg_length(c->ctx, FS_MAX_MESSAGE);
	c->state = FS_OPEN;
	c->last_pong_ms = sb_mono_ms();
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	fs_stats.opened_total++;

	if (fs_link_disabled || fs_open_count() > FS_MAX_CONNECTIONS) {
		fs_stats.rejected++;
		fs_send_disconnect(c, fs_link_disabled ? "link_disabled" :
		    "too_many_websockets");
		fs_close(c, 1008, fs_link_disabled ? "link disabled" :
		    "too many websockets");
		return;
	}
	if (fs_nohello > 0) {
		/* Upgraded, then silence: the client must give up on it. */
		fs_nohello--;
		fs_stats.hello_withheld++;
		sb_log("socket #%d: open, hello withheld", c->id);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			fs_pump(c);
		return;
	}

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "hello");
	cJSON_AddNumberToObject(o, "num_connections", fs_open_count());
	d = cJSON_AddObjectToObject(o, "debug_info");
	cJSON_AddStringToObject(d, "host", "applink-sandbox");
	cJSON_AddNumberToObject(d, "build_number", 1);
	cJSON_AddNumberToObject(d, "approximate_connection_time", 18060);
	d = cJSON_AddObjectToObject(o, "connection_info");
	cJSON_AddStringToObject(d, "app_id", SLACK_APP_ID);
	fs_send_json(c, o);
	if (c->state != FS_OPEN)
		return;
	c->hello_sent = 1;
	fs_stats.hello_sent++;
	tv.tv_sec = (time_t)iv;
	tv.tv_usec = (suseconds_t)((iv - (double)tv.tv_sec) * 1e6);
	event_add(c->ping_ev, &tv);
	sb_log("socket #%d: open (%d connections)", c->id, fs_open_count());
	if (fs_storm > 0) {
		fs_storm--;
		fs_stats.stormed++;
		if (fs_send_disconnect(c, fs_storm_reason) != 0)
			return;
		fs_close_after(c, fs_storm_close_ms);
	}

	/* Frames that came with the upgrade request. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		fs_pump(c);
}

static int
fs_open_count(void)
{
	struct fs_conn	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &fs_conns, entry) {
		if (c->state == FS_OPEN)
			n++;
	}
	return (n);
}

/* Run wslay over what arrived, then flush what it queued. */
static void
fs_pump(struct fs_conn *c)
{
	if (c->ctx == NULL)
		return;
	if (wslay_event_recv(c->ctx) != 0) {
		fs_kill(c, "receive error");
		return;
	}
	if (c->state == FS_DEAD)
		return;
	if (wslay_event_send(c->ctx) != 0) {
		fs_kill(c, "send error");
		return;
	}
	/* Both close frames exchanged (or a protocol error queued one). */
	if (wslay_event_get_close_sent(c->ctx) ||
	    (!wslay_event_want_read(c->ctx) &&
	    !wslay_event_want_write(c->ctx))) {
		if (c->state == FS_OPEN)
			sb_log("socket #%d: closing (status %u)", c->id,
			    wslay_event_get_status_code_received(c->ctx));
		c->state = FS_CLOSING;
		fs_write_cb(c->bev, c);
	}
}

static ssize_t
fs_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *arg)
{
	struct fs_conn	*c = arg;
	int		 n;

	n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	return (n);
}

/* While silenced, frames vanish: the link looks dead to the client. */
static ssize_t
fs_wslay_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
    size_t len, int flags, void *arg)
{
	struct fs_conn	*c = arg;

	if (fs_silent || c->silent)
		return ((ssize_t)len);
	if (bufferevent_write(c->bev, data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return (-1);
	}
	return ((ssize_t)len);
}

static void
fs_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct fs_conn	*c = user;

	switch (arg->opcode) {
	case WSLAY_PONG:
		c->last_pong_ms = sb_mono_ms();
		c->unanswered_ms = 0;
		fs_stats.pongs++;
		break;
	case WSLAY_TEXT_FRAME:
		fs_ack(c, (const char *)arg->msg, arg->msg_length);
		break;
	case WSLAY_BINARY_FRAME:
		fs_invalid++;
		fs_error("binary frame", NULL, NULL);
		break;
	default:
		break;
	}
}

static void
fs_error(const char *what, const char *envelope_id, const char *text)
{
	cJSON	*e;

	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "error", what);
	if (envelope_id != NULL)
		cJSON_AddStringToObject(e, "envelope_id", envelope_id);
	if (text != NULL)
		cJSON_AddStringToObject(e, "frame", text);
	cJSON_AddNumberToObject(e, "time", sb_now());
	cJSON_AddItemToArray(fs_errors, e);
	sb_log("socket: %s%s%s", what, envelope_id != NULL ? " " : "",
	    envelope_id != NULL ? envelope_id : "");
}

static struct fs_bucket *
fs_bucket(struct fs_bucket *table, const char *key)
{
	uint32_t	h = 2166136261u;

	while (*key != '\0')
		h = (h ^ (unsigned char)*key++) * 16777619u;
	return (&table[h % FS_BUCKETS]);
}

/* A new kept envelope: indexed, and unsettled until its event is acked. */
static void
fs_env_track(struct fs_env *e)
{
	TAILQ_INSERT_TAIL(&fs_envs, e, entry);
	LIST_INSERT_HEAD(fs_bucket(fs_by_id, e->id), e, hentry);
	if (e->event_id != NULL) {
		LIST_INSERT_HEAD(fs_bucket(fs_by_event, e->event_id), e,
		    eentry);
		e->on_event = 1;
	}
}

/* A text frame from the app: an ack {"envelope_id":..[,"payload":..]}. */
static void
fs_ack(struct fs_conn *c, const char *msg, size_t len)
{
	struct fs_env	*env, *e, *e2;
	cJSON		*o, *ack;
	const cJSON	*payload;
	const char	*id;
	char		*text;
	uint64_t	 now = sb_mono_ms();
	int		 late, dup;

	text = sb_strndup(msg, len);
	o = cJSON_ParseWithLength(msg, len);
	if (!cJSON_IsObject(o)) {
		fs_invalid++;
		fs_error("frame is not a JSON object", NULL, text);
		goto out;
	}
	if ((id = sb_json_str(o, "envelope_id")) == NULL) {
		fs_invalid++;
		fs_error("frame without envelope_id", NULL, text);
		goto out;
	}
	LIST_FOREACH(env, fs_bucket(fs_by_id, id), hentry) {
		if (strcmp(env->id, id) == 0)
			break;
	}
	if (env == NULL) {
		fs_unknown++;
		fs_error("ack for unknown envelope_id", id, text);
		goto out;
	}
	late = (double)(now - env->sent_ms) > sb_opts.ack_timeout * 1000;
	dup = env->acked;
	env->acked = 1;
	payload = cJSON_GetObjectItemCaseSensitive(o, "payload");

	ack = cJSON_CreateObject();
	cJSON_AddStringToObject(ack, "envelope_id", id);
	cJSON_AddStringToObject(ack, "type", env->type);
	if (env->event_id != NULL)
		cJSON_AddStringToObject(ack, "event_id", env->event_id);
	cJSON_AddNumberToObject(ack, "retry_attempt", env->retry_attempt);
	if (payload != NULL)
		cJSON_AddItemToObject(ack, "payload",
		    cJSON_Duplicate(payload, 1));
	else
		cJSON_AddNullToObject(ack, "payload");
	cJSON_AddBoolToObject(ack, "late", late);
	cJSON_AddBoolToObject(ack, "duplicate", dup);
	cJSON_AddNumberToObject(ack, "time", sb_now());
	cJSON_AddNumberToObject(ack, "latency_ms", (double)(now -
	    env->sent_ms));
	cJSON_AddNumberToObject(ack, "connection", c->id);
	cJSON_AddItemToArray(fs_acks, ack);
	sb_log("socket #%d: ack %s%s%s", c->id, id, late ? " (late)" : "",
	    dup ? " (duplicate)" : "");

	/* An ack of any delivery ends the event's retries. */
	env->done = 1;
	if (env->event_id != NULL) {
		LIST_FOREACH_SAFE(e, fs_bucket(fs_by_event, env->event_id),
		    eentry, e2) {
			if (e != env && strcmp(e->event_id, env->event_id) ==
			    0) {
				e->done = 1;
				fs_env_settle(e);
			}
		}
	}
	fs_env_settle(env);
	if (!dup && strcmp(env->type, "interactive") == 0)
		slack_interactive_acked(env->payload, payload);
out:
	cJSON_Delete(o);
	free(text);
}

static int
fs_send_text(struct fs_conn *c, const char *text)
{
	struct wslay_event_msg	msg;

	if (c->state != FS_OPEN || c->ctx == NULL)
		return (-1);
	msg.opcode = WSLAY_TEXT_FRAME;
	msg.msg = (const uint8_t *)text;
	msg.msg_length = strlen(text);
	if (wslay_event_queue_msg(c->ctx, &msg) != 0 ||
	    wslay_event_send(c->ctx) != 0) {
		fs_kill(c, "send failed");
		return (-1);
	}
	return (0);
}

static void
fs_send_json(struct fs_conn *c, cJSON *o)
{
	char	*text;

	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	fs_send_text(c, text);
	cJSON_free(text);
}

/* Send {"type":"disconnect","reason":...}; 0 if c is still open. */
static int
fs_send_disconnect(struct fs_conn *c, const char *reason)
{
	cJSON	*o, *d;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "disconnect");
	cJSON_AddStringToObject(o, "reason", reason);
	d = cJSON_AddObjectToObject(o, "debug_info");
	cJSON_AddStringToObject(d, "host", "applink-sandbox");
	fs_send_json(c, o);
	return (c->state == FS_OPEN ? 0 : -1);
}

/* Close c (as Slack does after a disconnect) ms from now. */
static void
fs_close_after(struct fs_conn *c, long long ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_del(c->close_ev);
	evtimer_add(c->close_ev, &tv);
}

static int
fs_disconnect_reason_ok(const char *reason)
{
	return (strcmp(reason, "refresh_requested") == 0 ||
	    strcmp(reason, "warning") == 0 ||
	    strcmp(reason, "link_disabled") == 0 ||
	    strcmp(reason, "too_many_websockets") == 0);
}

/* Start the close handshake; the connection goes once output drains. */
static void
fs_close(struct fs_conn *c, uint16_t code, const char *reason)
{
	struct timeval	tv = { 2, 0 };

	if (c->state != FS_OPEN)
		return;
	sb_log("socket #%d: closing: %s", c->id, reason);
	wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason,
	    strlen(reason));
	wslay_event_send(c->ctx);
	c->state = FS_CLOSING;
	event_del(c->ping_ev);
	/* Do not wait for ever for the client's close frame. */
	event_del(c->close_ev);
	evtimer_add(c->close_ev, &tv);
	fs_write_cb(c->bev, c);
}

/* Unlink now, free on the next loop turn (we may be inside wslay). */
static void
fs_kill(struct fs_conn *c, const char *why)
{
	struct timeval	tv = { 0, 0 };

	if (c->state == FS_DEAD)
		return;
	sb_log("socket #%d: gone: %s", c->id, why);
	c->state = FS_DEAD;
	TAILQ_REMOVE(&fs_conns, c, entry);
	TAILQ_INSERT_TAIL(&fs_dead, c, entry);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->ping_ev);
	event_del(c->close_ev);
	evtimer_add(c->free_ev, &tv);
}

static void
fs_free(struct fs_conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ctx != NULL)
		wslay_event_context_free(c->ctx);
	event_free(c->ping_ev);
	event_free(c->close_ev);
	event_free(c->free_ev);
	free(c);
}

static void
fs_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fs_conn	*c = arg;

	TAILQ_REMOVE(&fs_dead, c, entry);
	fs_free(c);
}

static void
fs_close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fs_conn	*c = arg;

	if (c->state == FS_OPEN)
		fs_close(c, 1001, "going away");
	else
		fs_kill(c, "close timeout");
}

static void
fs_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fs_conn		*c = arg;
	struct wslay_event_msg	 msg;
	char			 payload[32];
	uint64_t		 now = sb_mono_ms();

	if (c->state != FS_OPEN || fs_silent || c->silent)
		return;
	/* Ticks come every interval: "more than 1.5" means "2 ticks ago". */
	if (c->unanswered_ms != 0 && (double)(now - c->unanswered_ms) >
	    1.5 * sb_opts.ping_interval * 1000) {
		fs_stats.ping_timeouts++;
		fs_close(c, 1011, "no pong");
		/* A dead peer never answers the close: do not wait. */
		if (c->state == FS_CLOSING)
			fs_kill(c, "ping timeout");
		return;
	}
	if (c->unanswered_ms == 0)
		c->unanswered_ms = now;
	snprintf(payload, sizeof(payload), "ping-%d", ++fs_stats.pings_sent);
	msg.opcode = WSLAY_PING;
	msg.msg = (const uint8_t *)payload;
	msg.msg_length = strlen(payload);
	if (wslay_event_queue_msg(c->ctx, &msg) != 0 ||
	    wslay_event_send(c->ctx) != 0)
		fs_kill(c, "ping failed");
}

/* Round-robin over the connections that have had their hello. */
static struct fs_conn *
fs_pick(void)
{
	struct fs_conn	*c, *first = NULL;

	TAILQ_FOREACH(c, &fs_conns, entry) {
		if (c->state != FS_OPEN || !c->hello_sent)
			continue;
		if (first == NULL)
			first = c;
		if (c->id > fs_rr) {
			fs_rr = c->id;
			return (c);
		}
	}
	if (first != NULL)
		fs_rr = first->id;
	return (first);
}

/* Its event was acked: no more retries, out of the event index. */
static void
fs_env_settle(struct fs_env *e)
{
	e->settled = 1;
	if (e->retry_ev != NULL) {
		event_free(e->retry_ev);
		e->retry_ev = NULL;
	}
	if (e->on_event) {
		LIST_REMOVE(e, eentry);
		e->on_event = 0;
	}
}

static void
fs_env_free(struct fs_env *e)
{
	if (e->on_event)
		LIST_REMOVE(e, eentry);
	LIST_REMOVE(e, hentry);
	TAILQ_REMOVE(&fs_envs, e, entry);
	fs_nenvs--;
	if (e->retry_ev != NULL)
		event_free(e->retry_ev);
	free(e->type);
	free(e->event_id);
	cJSON_Delete(e->payload);
	free(e->frame);
	free(e);
}

static void
fs_retry_arm(struct fs_env *e)
{
	struct timeval	tv;
	double		t = sb_opts.ack_timeout;

	if (e->retry_ev == NULL &&
	    (e->retry_ev = evtimer_new(sb_base, fs_retry_cb, e)) == NULL)
		sb_fatal("evtimer_new failed");
	tv.tv_sec = (time_t)t;
	tv.tv_usec = (suseconds_t)((t - (double)tv.tv_sec) * 1e6);
	evtimer_add(e->retry_ev, &tv);
}

/*
 * Send one envelope on c and track it. envelope_id NULL makes a new one;
 * retry_reason NULL means not an events_api envelope.
 */
static struct fs_env *
fs_send_envelope(struct fs_conn *c, const char *type, const cJSON *payload,
    const char *envelope_id, int retry_attempt, const char *retry_reason)
{
	struct fs_env	*e;
	cJSON		*o;
	const char	*ptype, *event_id;
	char		*text;
	int		 accepts;

	e = sb_calloc(1, sizeof(*e));
	if (envelope_id != NULL)
		snprintf(e->id, sizeof(e->id), "%s", envelope_id);
	else
		fs_uuid(e->id);
	e->type = sb_strdup(type);
	e->payload = cJSON_Duplicate(payload, 1);
	event_id = sb_json_str(payload, "event_id");
	if (event_id != NULL && strcmp(type, "events_api") == 0)
		e->event_id = sb_strdup(event_id);
	e->retry_attempt = retry_attempt;
	e->conn_id = c->id;
	e->sent_ms = sb_mono_ms();
	e->sent_at = sb_now();

	ptype = sb_json_str(payload, "type");
	accepts = strcmp(type, "slash_commands") == 0 || (ptype != NULL &&
	    (strcmp(ptype, "view_submission") == 0 ||
	    strcmp(ptype, "block_suggestion") == 0));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "envelope_id", e->id);
	cJSON_AddItemToObject(o, "payload", cJSON_Duplicate(payload, 1));
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddBoolToObject(o, "accepts_response_payload", accepts);
	if (strcmp(type, "events_api") == 0) {
		cJSON_AddNumberToObject(o, "retry_attempt", retry_attempt);
		cJSON_AddStringToObject(o, "retry_reason",
		    retry_reason != NULL ? retry_reason : "");
	}
	fs_env_track(e);
	sb_log("socket #%d: envelope %s %s%s%s (attempt %d)", c->id, e->id,
	    type, e->event_id != NULL ? " " : "",
	    e->event_id != NULL ? e->event_id : "", retry_attempt);
	if ((text = cJSON_PrintUnformatted(o)) == NULL)
		sb_fatal("cJSON_PrintUnformatted failed");
	cJSON_Delete(o);
	e->frame = sb_strdup(text);
	fs_send_text(c, text);
	cJSON_free(text);
	/* Last: the oldest may be the one the arguments came from. */
	if (++fs_nenvs > FS_MAX_ENVELOPES)
		fs_env_free(TAILQ_FIRST(&fs_envs));
	return (e);
}

/* Deliver a payload (consumed) to one open connection. */
const char *
socket_deliver(const char *type, cJSON *payload)
{
	static char	 id[40];
	struct fs_conn	*c;
	struct fs_env	*e;

	if ((c = fs_pick()) == NULL) {
		cJSON_Delete(payload);
		return (NULL);
	}
	e = fs_send_envelope(c, type, payload, NULL, 0, "");
	cJSON_Delete(payload);
	fs_stats.delivered++;
	if (strcmp(type, "events_api") == 0)
		fs_retry_arm(e);
	snprintf(id, sizeof(id), "%s", e->id);
	return (id);
}

/*
 * The ack deadline passed: redeliver with a new envelope_id. With no
 * connection open, wait another period without counting an attempt.
 */
static void
fs_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fs_env	*e = arg, *ne;
	struct fs_conn	*c;

	if (e->done)
		return;
	if (e->retry_attempt >= FS_MAX_RETRIES) {
		fs_stats.gave_up++;
		e->done = 1;
		sb_log("socket: giving up on %s", e->event_id != NULL ?
		    e->event_id : e->id);
		return;
	}
	if ((c = fs_pick()) == NULL) {
		fs_retry_arm(e);
		return;
	}
	e->done = 1;
	fs_stats.redelivered++;
	ne = fs_send_envelope(c, e->type, e->payload, NULL,
	    e->retry_attempt + 1, "timeout");
	fs_retry_arm(ne);
}

static struct fs_env *
fs_latest_for_event(const char *event_id)
{
	struct fs_env	*e, *found = NULL;

	TAILQ_FOREACH(e, &fs_envs, entry) {
		if (e->event_id != NULL && strcmp(e->event_id, event_id) == 0)
			found = e;
	}
	return (found);
}

static cJSON *
fs_result_error(const char *msg)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "error", msg);
	return (o);
}

static cJSON *
fs_control_disconnect(cJSON *body)
{
	struct fs_conn	*c;
	const char	*reason;
	cJSON		*res;
	long long	 ms;
	int		 n = 0;

	reason = sb_json_str(body, "reason");
	if (reason == NULL)
		reason = "refresh_requested";
	if (!fs_disconnect_reason_ok(reason))
		return (fs_result_error("reason: refresh_requested, warning, "
		    "link_disabled or too_many_websockets"));
	ms = sb_json_int(body, "close_after_ms",
	    strcmp(reason, "link_disabled") == 0 ? 0 : 10000);
	if (ms < 0 || ms > 3600000)
		return (fs_result_error("close_after_ms out of range"));
	if (strcmp(reason, "link_disabled") == 0)
		fs_link_disabled = 1;
	TAILQ_FOREACH(c, &fs_conns, entry) {
		if (c->state != FS_OPEN || fs_send_disconnect(c, reason) != 0)
			continue;
		n++;
		fs_close_after(c, ms);
	}
	res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "sent", n);
	return (res);
}

static cJSON *
fs_control_raw(cJSON *body)
{
	struct fs_conn	*c, *one;
	struct fs_env	*e;
	const cJSON	*env, *payload;
	const char	*id, *type;
	char		*text;
	cJSON		*res;
	int		 n = 0, all;

	env = cJSON_GetObjectItemCaseSensitive(body, "envelope");
	if (env == NULL)
		return (fs_result_error("raw: envelope required"));
	all = sb_json_bool(body, "all");
	one = all ? NULL : fs_pick();
	if (!all && one == NULL)
		return (fs_result_error("raw: no open connection"));
	text = cJSON_PrintUnformatted(env);
	TAILQ_FOREACH(c, &fs_conns, entry) {
		if (c->state != FS_OPEN || (one != NULL && c != one))
			continue;
		if (fs_send_text(c, text) == 0)
			n++;
	}
	cJSON_free(text);
	/* Track it so the app's ack is not "unknown". */
	if ((id = sb_json_str(env, "envelope_id")) != NULL) {
		e = sb_calloc(1, sizeof(*e));
		snprintf(e->id, sizeof(e->id), "%s", id);
		type = sb_json_str(env, "type");
		e->type = sb_strdup(type != NULL ? type : "raw");
		payload = cJSON_GetObjectItemCaseSensitive(env, "payload");
		e->payload = payload != NULL ? cJSON_Duplicate(payload, 1) :
		    cJSON_CreateObject();
		e->retry_attempt = (int)sb_json_int(env, "retry_attempt", 0);
		e->sent_ms = sb_mono_ms();
		e->sent_at = sb_now();
		e->done = 1;
		fs_env_track(e);
		if (++fs_nenvs > FS_MAX_ENVELOPES)
			fs_env_free(TAILQ_FIRST(&fs_envs));
	}
	res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "sent", n);
	return (res);
}

/* Arm refuse, nohello or storm for the next count connections. */
static cJSON *
fs_control_fault(const char *op, cJSON *body)
{
	const char	*mode, *reason;
	cJSON		*res;
	long long	 count, status, ms;

	count = sb_json_int(body, "count", 1);
	if (count < 0 || count > FS_MAX_ARMED)
		return (fs_result_error("count: 0 to 1000"));
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "armed", op);
	cJSON_AddNumberToObject(res, "count", (double)count);
	if (strcmp(op, "refuse") == 0) {
		status = sb_json_int(body, "status", 503);
		if (status < 200 || status > 599) {
			cJSON_Delete(res);
			return (fs_result_error("status: 200 to 599"));
		}
		fs_refuse = (int)count;
		fs_refuse_status = (int)status;
	} else if (strcmp(op, "nohello") == 0)
		fs_nohello = (int)count;
	else {
		mode = sb_json_str(body, "mode");
		reason = sb_json_str(body, "reason");
		if (reason == NULL)
			reason = "refresh_requested";
		ms = sb_json_int(body, "close_after_ms", 10000);
		if (mode == NULL || (strcmp(mode, "disconnect") != 0 &&
		    strcmp(mode, "drop") != 0) ||
		    !fs_disconnect_reason_ok(reason) || ms < 0 ||
		    ms > 3600000) {
			cJSON_Delete(res);
			return (fs_result_error("storm: mode disconnect or "
			    "drop; a disconnect reason; close_after_ms 0 to "
			    "3600000"));
		}
		fs_storm = (int)count;
		fs_storm_drop = strcmp(mode, "drop") == 0;
		fs_storm_close_ms = ms;
		snprintf(fs_storm_reason, sizeof(fs_storm_reason), "%s",
		    reason);
	}
	return (res);
}

/*
 * One frame built by hand and written under wslay (whose send callback
 * never blocks, so the output holds only whole frames): what no correct
 * server sends, for the client's framing checks.
 */
static cJSON *
fs_control_frame(cJSON *body)
{
	static const uint8_t	 mask[4] = { 0x5a, 0x17, 0xc3, 0x81 };
	struct fs_conn		*c;
	const char		*payload;
	uint8_t			*buf;
	cJSON			*res;
	long long		 opcode, rsv, pad;
	size_t			 plen, len, hlen, i;
	int			 fin, masked, all, n = 0;

	opcode = sb_json_int(body, "opcode", -1);
	rsv = sb_json_int(body, "rsv", 0);
	pad = sb_json_int(body, "pad_bytes", 0);
	if (opcode < 0 || opcode > 15 || rsv < 0 || rsv > 7 || pad < 0 ||
	    pad > FS_MAX_PAD)
		return (fs_result_error("frame: opcode 0-15, rsv 0-7, "
		    "pad_bytes up to 64 MiB"));
	if ((payload = sb_json_str(body, "payload")) == NULL)
		payload = "";
	fin = cJSON_GetObjectItemCaseSensitive(body, "fin") == NULL ? 1 :
	    sb_json_bool(body, "fin");
	masked = sb_json_bool(body, "mask");
	all = sb_json_bool(body, "all");
	/* fs_pick leaves its choice in fs_rr. */
	if (!all && fs_pick() == NULL)
		return (fs_result_error("frame: no open connection"));

	plen = strlen(payload);
	len = plen + (size_t)pad;
	buf = sb_malloc(14 + len);
	buf[0] = (uint8_t)((fin ? 0x80 : 0) | rsv << 4 | opcode);
	if (len < 126) {
		buf[1] = (uint8_t)len;
		hlen = 2;
	} else if (len <= 0xffff) {
		buf[1] = 126;
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		hlen = 4;
	} else {
		buf[1] = 127;
		for (i = 0; i < 8; i++)
			buf[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hlen = 10;
	}
	if (masked) {
		buf[1] |= 0x80;
		memcpy(buf + hlen, mask, sizeof(mask));
		hlen += sizeof(mask);
	}
	memcpy(buf + hlen, payload, plen);
	memset(buf + hlen + plen, ' ', (size_t)pad);
	for (i = 0; masked && i < len; i++)
		buf[hlen + i] ^= mask[i % sizeof(mask)];

	TAILQ_FOREACH(c, &fs_conns, entry) {
		if (c->state != FS_OPEN || !c->hello_sent ||
		    (!all && c->id != fs_rr))
			continue;
		if (wslay_event_send(c->ctx) != 0 ||
		    wslay_event_get_queued_msg_count(c->ctx) != 0 ||
		    bufferevent_write(c->bev, buf, hlen + len) != 0)
			continue;
		sb_log("socket #%d: hand-made frame, opcode %lld, %zu bytes",
		    c->id, opcode, hlen + len);
		n++;
	}
	free(buf);
	res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "sent", n);
	cJSON_AddNumberToObject(res, "bytes", (double)(hlen + len));
	return (res);
}

static cJSON *
fs_control_acks(void)
{
	struct fs_env	*e;
	cJSON		*o, *un;

	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "acks", cJSON_Duplicate(fs_acks, 1));
	cJSON_AddNumberToObject(o, "unknown", fs_unknown);
	cJSON_AddNumberToObject(o, "invalid", fs_invalid);
	cJSON_AddItemToObject(o, "errors", cJSON_Duplicate(fs_errors, 1));
	un = cJSON_AddArrayToObject(o, "unacked");
	TAILQ_FOREACH(e, &fs_envs, entry) {
		if (!e->settled)
			cJSON_AddItemToArray(un, cJSON_CreateString(e->id));
	}
	return (o);
}

static cJSON *
fs_control_envelopes(void)
{
	struct fs_env	*e;
	cJSON		*o, *arr, *x;

	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "envelopes");
	TAILQ_FOREACH(e, &fs_envs, entry) {
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "envelope_id", e->id);
		cJSON_AddStringToObject(x, "type", e->type);
		cJSON_AddNumberToObject(x, "retry_attempt", e->retry_attempt);
		cJSON_AddNumberToObject(x, "sent_at", e->sent_at);
		cJSON_AddBoolToObject(x, "acked", e->acked);
		cJSON_AddStringToObject(x, "frame", e->frame);
		cJSON_AddItemToArray(arr, x);
	}
	return (o);
}

static cJSON *
fs_control_connections(void)
{
	struct fs_conn	*c;
	cJSON		*o, *arr, *e;

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "open", fs_open_count());
	cJSON_AddNumberToObject(o, "opened_total", fs_stats.opened_total);
	cJSON_AddNumberToObject(o, "hello_sent", fs_stats.hello_sent);
	cJSON_AddNumberToObject(o, "rejected", fs_stats.rejected);
	cJSON_AddNumberToObject(o, "handshake_failed",
	    fs_stats.handshake_failed);
	cJSON_AddNumberToObject(o, "pings_sent", fs_stats.pings_sent);
	cJSON_AddNumberToObject(o, "pongs", fs_stats.pongs);
	cJSON_AddNumberToObject(o, "ping_timeouts", fs_stats.ping_timeouts);
	cJSON_AddNumberToObject(o, "delivered", fs_stats.delivered);
	cJSON_AddNumberToObject(o, "redelivered", fs_stats.redelivered);
	cJSON_AddNumberToObject(o, "gave_up", fs_stats.gave_up);
	cJSON_AddNumberToObject(o, "refused", fs_stats.refused);
	cJSON_AddNumberToObject(o, "hello_withheld", fs_stats.hello_withheld);
	cJSON_AddNumberToObject(o, "stormed", fs_stats.stormed);
	cJSON_AddBoolToObject(o, "silenced", fs_silent);
	cJSON_AddBoolToObject(o, "link_disabled", fs_link_disabled);
	arr = cJSON_AddArrayToObject(o, "connections");
	TAILQ_FOREACH(c, &fs_conns, entry) {
		if (c->state != FS_OPEN)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "id", c->id);
		cJSON_AddBoolToObject(e, "hello_sent", c->hello_sent);
		cJSON_AddNumberToObject(e, "ms_since_pong",
		    (double)(sb_mono_ms() - c->last_pong_ms));
		/* Not yet handed to the kernel (tests wait for 0). */
		cJSON_AddNumberToObject(e, "unsent",
		    (double)(evbuffer_get_length(bufferevent_get_output(
		    c->bev)) + wslay_event_get_queued_msg_length(c->ctx)));
		cJSON_AddItemToArray(arr, e);
	}
	return (o);
}

/* Socket Mode control ops; NULL if op is not one of ours. */
cJSON *
socket_control(const char *op, cJSON *body)
{
	struct fs_conn	*c, *next;
	struct fs_env	*e, *ne;
	const char	*event_id, *reason;
	cJSON		*res;
	int		 n = 0, on;

	if (strcmp(op, "disconnect") == 0)
		return (fs_control_disconnect(body));
	if (strcmp(op, "enable") == 0) {
		fs_link_disabled = 0;
		res = cJSON_CreateObject();
		cJSON_AddTrueToObject(res, "ok");
		return (res);
	}
	if (strcmp(op, "drop") == 0) {
		TAILQ_FOREACH_SAFE(c, &fs_conns, entry, next) {
			if (sb_json_bool(body, "rst")) {
				struct linger	l = { 1, 0 };

				setsockopt(bufferevent_getfd(c->bev),
				    SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			}
			if (c->state == FS_OPEN)
				n++;
			fs_kill(c, "dropped by control");
		}
		res = cJSON_CreateObject();
		cJSON_AddNumberToObject(res, "dropped", n);
		return (res);
	}
	if (strcmp(op, "silence") == 0) {
		on = cJSON_GetObjectItemCaseSensitive(body, "on") == NULL ?
		    1 : sb_json_bool(body, "on");
		/* "current": only the connections open now go quiet (a
		 * half-open link); new ones work. */
		if (!sb_json_bool(body, "current"))
			fs_silent = on;
		TAILQ_FOREACH(c, &fs_conns, entry) {
			if (sb_json_bool(body, "current"))
				c->silent = on;
			/* Coming back: pings sent into the silence do not
			 * count. */
			c->unanswered_ms = 0;
		}
		res = cJSON_CreateObject();
		cJSON_AddBoolToObject(res, "silenced", fs_silent);
		return (res);
	}
	if (strcmp(op, "raw") == 0)
		return (fs_control_raw(body));
	if (strcmp(op, "frame") == 0)
		return (fs_control_frame(body));
	if (strcmp(op, "refuse") == 0 || strcmp(op, "nohello") == 0 ||
	    strcmp(op, "storm") == 0)
		return (fs_control_fault(op, body));
	if (strcmp(op, "redeliver") == 0) {
		if ((event_id = sb_json_str(body, "event_id")) == NULL)
			return (fs_result_error("redeliver: event_id "
			    "required"));
		if ((e = fs_latest_for_event(event_id)) == NULL)
			return (fs_result_error("redeliver: unknown event_id"));
		if ((c = fs_pick()) == NULL)
			return (fs_result_error("redeliver: no open "
			    "connection"));
		reason = sb_json_str(body, "reason");
		ne = fs_send_envelope(c, e->type, e->payload, NULL,
		    e->retry_attempt + 1, reason != NULL ? reason :
		    "timeout");
		ne->done = 1;
		res = cJSON_CreateObject();
		cJSON_AddStringToObject(res, "envelope_id", ne->id);
		cJSON_AddNumberToObject(res, "retry_attempt",
		    ne->retry_attempt);
		return (res);
	}
	if (strcmp(op, "envelope") == 0) {
		/* What was sent with envelope_id "id", for tests to read. */
		TAILQ_FOREACH(e, &fs_envs, entry) {
			if (strcmp(e->id, sb_json_str(body, "id") != NULL ?
			    sb_json_str(body, "id") : "") != 0)
				continue;
			res = cJSON_CreateObject();
			cJSON_AddStringToObject(res, "envelope_id", e->id);
			cJSON_AddStringToObject(res, "type", e->type);
			cJSON_AddNumberToObject(res, "retry_attempt",
			    e->retry_attempt);
			cJSON_AddItemToObject(res, "payload",
			    cJSON_Duplicate(e->payload, 1));
			return (res);
		}
		return (fs_result_error("envelope: unknown id"));
	}
	if (strcmp(op, "acks") == 0)
		return (fs_control_acks());
	if (strcmp(op, "envelopes") == 0)
		return (fs_control_envelopes());
	if (strcmp(op, "connections") == 0)
		return (fs_control_connections());
	return (NULL);
}

/* True once some connection has received hello (the app is listening). */
int
socket_ready(void)
{
	return (fs_stats.hello_sent > 0);
}
