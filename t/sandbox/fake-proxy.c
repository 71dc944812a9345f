/*
 * fake-proxy.c: a small HTTP CONNECT proxy for the egress tests.
 *
 * It takes "CONNECT host:port HTTP/1.1" (nothing else: incidentd never
 * sends a request in absolute form), and for a loopback target answers
 * 200 and relays bytes both ways until either side closes. It only
 * tunnels to 127.0.0.1, ::1 and localhost: the sandbox never reaches
 * beyond this machine. Its port is "proxy" in the ports file.
 *
 * Control ops (POST /control/proxy/<op>):
 *   mode {"mode":"ok"|"refuse"|"drop"}  refuse answers 403; drop reads
 *        the CONNECT and closes without an answer. Leaving ok also cuts
 *        every open tunnel, so established connections fail too.
 *   auth {"user":U,"password":P}        require Proxy-Authorization:
 *        Basic U:P (407 otherwise); {} accepts anyone again
 *   requests (GET)                      {"requests":[{target,status,
 *        auth,user}]}, oldest first: status 200, 403, 407, 400, 502 or
 *        -1 (dropped); auth says whether credentials came, user is
 *        theirs (never the password)
 *   clear                               forget the recorded CONNECTs
 *   reset                               ok, no auth, nothing recorded
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "queue.h"
#include "sandbox.h"

#define FP_MAX_HEAD	(16 * 1024)

enum fp_mode {
	FP_OK = 0,
	FP_REFUSE,
	FP_DROP
};

struct fp_conn {
	struct bufferevent	*client;
	struct bufferevent	*server;	/* NULL until tunnelled */
	int			 tunnel;
	TAILQ_ENTRY(fp_conn)	 entry;
};
TAILQ_HEAD(fp_conns, fp_conn);

static struct evconnlistener	*fp_listener;
static struct fp_conns		 fp_conns = TAILQ_HEAD_INITIALIZER(fp_conns);
static enum fp_mode		 fp_mode;
static char			*fp_auth;	/* expected "Basic ..." */
static cJSON			*fp_log;

static void	fp_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	fp_head_cb(struct bufferevent *, void *);
static void	fp_relay_cb(struct bufferevent *, void *);
static void	fp_event_cb(struct bufferevent *, short, void *);
static void	fp_drained_cb(struct bufferevent *, void *);
static void	fp_answer(struct fp_conn *, int, const char *, const char *);
static void	fp_record(const char *, int, const char *);
static void	fp_close(struct fp_conn *);
static void	fp_cut_all(void);

static void
fp_close(struct fp_conn *c)
{
	TAILQ_REMOVE(&fp_conns, c, entry);
	if (c->client != NULL)
		bufferevent_free(c->client);
	if (c->server != NULL)
		bufferevent_free(c->server);
	free(c);
}

static void
fp_cut_all(void)
{
	struct fp_conn	*c;

	while ((c = TAILQ_FIRST(&fp_conns)) != NULL)
		fp_close(c);
}

static void
fp_record(const char *target, int status, const char *user)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "target", target);
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddBoolToObject(o, "auth", user != NULL);
	if (user != NULL)
		cJSON_AddStringToObject(o, "user", user);
	cJSON_AddItemToArray(fp_log, o);
	sb_log("proxy: CONNECT %s: %d", target, status);
}

/* Answer, then close once it is written. */
static void
fp_answer(struct fp_conn *c, int status, const char *reason,
    const char *extra)
{
	evbuffer_add_printf(bufferevent_get_output(c->client),
	    "HTTP/1.1 %d %s\r\n%sContent-Length: 0\r\nConnection: close\r\n"
	    "\r\n", status, reason, extra != NULL ? extra : "");
	bufferevent_disable(c->client, EV_READ);
	bufferevent_setcb(c->client, NULL, fp_drained_cb, fp_event_cb, c);
}

static void
fp_drained_cb(struct bufferevent *bev, void *arg)
{
	fp_close(arg);
}

/* The user name of "Basic base64(user:password)", or NULL. */
static char *
fp_auth_user(const char *v)
{
	unsigned char	 out[512];
	int		 n;
	char		*colon;

	if (v == NULL || strncasecmp(v, "Basic ", 6) != 0 ||
	    strlen(v + 6) > 600)
		return (NULL);
	n = EVP_DecodeBlock(out, (const unsigned char *)v + 6,
	    (int)strlen(v + 6));
	if (n <= 0)
		return (NULL);
	out[n] = '\0';
	if ((colon = strchr((char *)out, ':')) == NULL)
		return (NULL);
	return (sb_strndup((char *)out, colon - (char *)out));
}

static void
fp_head_cb(struct bufferevent *bev, void *arg)
{
	struct fp_conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	char			*head, *line, *save, *target, *host, *port;
	const char		*auth = NULL;
	char			*user = NULL;
	long			 pn;

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1) {
		if (evbuffer_get_length(in) > FP_MAX_HEAD)
			fp_close(c);
		return;
	}
	head = sb_malloc(p.pos + 1);
	evbuffer_remove(in, head, p.pos);
	head[p.pos] = '\0';
	evbuffer_drain(in, 4);

	line = strtok_r(head, "\r\n", &save);
	if (line != NULL && strncmp(line, "CONNECT ", 8) == 0) {
		line += 8;
		line[strcspn(line, " ")] = '\0';
	}
	if (line == NULL || *line == '\0' || line != head + 8) {
		fp_record(line != NULL ? line : "", 400, NULL);
		fp_answer(c, 400, "Bad Request", NULL);
		free(head);
		return;
	}
	target = sb_strdup(line);
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		if (strncasecmp(line, "Proxy-Authorization:", 20) == 0)
			auth = line + 20 + strspn(line + 20, " ");
	}
	user = fp_auth_user(auth);
	if (fp_mode == FP_DROP) {
		fp_record(target, -1, user);
		fp_close(c);
		goto out;
	}
	if (fp_auth != NULL && (auth == NULL || strcmp(auth, fp_auth) != 0)) {
		fp_record(target, 407, user);
		fp_answer(c, 407, "Proxy Authentication Required",
		    "Proxy-Authenticate: Basic realm=\"sandbox\"\r\n");
		goto out;
	}
	if (fp_mode == FP_REFUSE) {
		fp_record(target, 403, user);
		fp_answer(c, 403, "Forbidden", NULL);
		goto out;
	}

	/* host:port or [v6]:port, loopback only. */
	host = target;
	if ((port = strrchr(target, ':')) == NULL) {
		fp_record(target, 400, user);
		fp_answer(c, 400, "Bad Request", NULL);
		goto out;
	}
	*port++ = '\0';
	pn = strtol(port, NULL, 10);
	if (*host == '[') {
		host++;
		host[strcspn(host, "]")] = '\0';
	}
	c->server = bufferevent_socket_new(sb_base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (strcmp(host, "::1") == 0) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = in6addr_loopback;
		sin6.sin6_port = htons((unsigned short)pn);
	} else if (strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "localhost") == 0) {
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((unsigned short)pn);
	}
	port[-1] = ':';
	if (pn < 1 || pn > 65535 || c->server == NULL ||
	    (sin.sin_family == 0 && sin6.sin6_family == 0) ||
	    bufferevent_socket_connect(c->server, sin.sin_family != 0 ?
	    (struct sockaddr *)&sin : (struct sockaddr *)&sin6,
	    sin.sin_family != 0 ? (int)sizeof(sin) : (int)sizeof(sin6)) != 0) {
		fp_record(target, 502, user);
		fp_answer(c, 502, "Bad Gateway", NULL);
		goto out;
	}
	fp_record(target, 200, user);
	c->tunnel = 1;
	evbuffer_add_printf(bufferevent_get_output(c->client),
	    "HTTP/1.1 200 Connection established\r\n\r\n");
	bufferevent_setcb(c->client, fp_relay_cb, NULL, fp_event_cb, c);
	bufferevent_setcb(c->server, fp_relay_cb, NULL, fp_event_cb, c);
	bufferevent_enable(c->server, EV_READ | EV_WRITE);
	/* Anything the client sent early goes on. */
	if (evbuffer_get_length(in) > 0)
		evbuffer_add_buffer(bufferevent_get_output(c->server), in);
out:
	free(user);
	free(target);
	free(head);
}

static void
fp_relay_cb(struct bufferevent *bev, void *arg)
{
	struct fp_conn		*c = arg;
	struct bufferevent	*other;

	other = bev == c->client ? c->server : c->client;
	evbuffer_add_buffer(bufferevent_get_output(other),
	    bufferevent_get_input(bev));
}

/* One side closed: flush what is owed to the other side, then close. */
static void
fp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fp_conn		*c = arg;
	struct bufferevent	*other;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (!c->tunnel) {
		fp_close(c);
		return;
	}
	other = bev == c->client ? c->server : c->client;
	if (bev == c->client)
		c->client = NULL;
	else
		c->server = NULL;
	bufferevent_free(bev);
	c->tunnel = 0;
	if (evbuffer_get_length(bufferevent_get_output(other)) == 0) {
		fp_close(c);
		return;
	}
	bufferevent_disable(other, EV_READ);
	bufferevent_setcb(other, NULL, fp_drained_cb, fp_event_cb, c);
}

static void
fp_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fp_conn	*c;

	c = sb_calloc(1, sizeof(*c));
	c->client = bufferevent_socket_new(sb_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->client == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&fp_conns, c, entry);
	bufferevent_setcb(c->client, fp_head_cb, NULL, fp_event_cb, c);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
}

/* Listen on 127.0.0.1 port 0; returns the port. */
int
proxy_server_init(void)
{
	int	port;

	fp_listener = sb_listen_loopback(fp_accept_cb, NULL, "the proxy",
	    &port);
	fp_log = cJSON_CreateArray();
	return (port);
}

/* Close everything (at exit, outside callbacks). */
void
proxy_server_free(void)
{
	fp_cut_all();
	if (fp_listener != NULL)
		evconnlistener_free(fp_listener);
	fp_listener = NULL;
	free(fp_auth);
	fp_auth = NULL;
	cJSON_Delete(fp_log);
	fp_log = NULL;
}

/* POST /control/proxy/<op>; NULL for an unknown op. */
cJSON *
proxy_control(const char *op, cJSON *body)
{
	cJSON		*out;
	const char	*m, *u, *pw;
	char		*cred;
	unsigned char	 enc[1024];

	out = cJSON_CreateObject();
	if (strcmp(op, "mode") == 0) {
		m = sb_json_str(body, "mode");
		if (m != NULL && strcmp(m, "ok") == 0)
			fp_mode = FP_OK;
		else if (m != NULL && strcmp(m, "refuse") == 0)
			fp_mode = FP_REFUSE;
		else if (m != NULL && strcmp(m, "drop") == 0)
			fp_mode = FP_DROP;
		else {
			cJSON_AddStringToObject(out, "error",
			    "mode: ok, refuse or drop");
			return (out);
		}
		if (fp_mode != FP_OK)
			fp_cut_all();
	} else if (strcmp(op, "auth") == 0) {
		free(fp_auth);
		fp_auth = NULL;
		u = sb_json_str(body, "user");
		pw = sb_json_str(body, "password");
		if (u != NULL) {
			sb_asprintf(&cred, "%s:%s", u, pw != NULL ? pw : "");
			if (strlen(cred) > 700)
				sb_fatal("proxy auth: too long");
			EVP_EncodeBlock(enc, (unsigned char *)cred,
			    (int)strlen(cred));
			sb_asprintf(&fp_auth, "Basic %s", (char *)enc);
			free(cred);
		}
	} else if (strcmp(op, "requests") == 0) {
		cJSON_AddItemToObject(out, "requests",
		    cJSON_Duplicate(fp_log, 1));
		return (out);
	} else if (strcmp(op, "clear") == 0) {
		cJSON_Delete(fp_log);
		fp_log = cJSON_CreateArray();
	} else if (strcmp(op, "reset") == 0) {
		fp_mode = FP_OK;
		free(fp_auth);
		fp_auth = NULL;
		cJSON_Delete(fp_log);
		fp_log = cJSON_CreateArray();
	} else {
		cJSON_Delete(out);
		return (NULL);
	}
	cJSON_AddTrueToObject(out, "ok");
	return (out);
}
