/*
 * proxy.c: egress through an HTTP proxy, by CONNECT tunnels.
 *
 * Many networks only let traffic out through a proxy. Every outbound
 * connection incidentd makes (the Web API, Jira, PagerDuty and the
 * Socket Mode WebSocket) is dialled by http_dial, so the tunnel lives
 * here once and http_dial uses it between TCP connect and TLS: it
 * connects to the proxy, sends "CONNECT host:port HTTP/1.1", reads the
 * proxy's answer, and on 2xx hands the socket back. TLS then runs end to
 * end with the real host, verified and with its SNI, exactly as without
 * a proxy: the proxy sees only the host and port. Plain-http URLs (the
 * sandbox, tests) go through the same CONNECT tunnel; no request is ever
 * sent to a proxy in absolute form.
 *
 * Which proxy: proxy.url (with proxy.password), else https_proxy or
 * HTTPS_PROXY, whose URL may carry user:password. Which hosts bypass it:
 * proxy.no_proxy, else no_proxy or NO_PROXY. The configuration wins key
 * by key. Only http:// proxies: TLS to the proxy itself is not done.
 *
 * The answer is parsed strictly by http.c's head parser (one parser per
 * protocol), bounded in size, and nothing may follow it: the server
 * speaks only after our TLS ClientHello or request. A 407 is reported
 * as such, naming the proxy but never the credentials, and is not
 * retried (it would repeat); any other refusal or a dropped connection
 * is a transient connect failure for the caller's retry path. The
 * credentials go to the log redactor as soon as they are known.
 *
 * A reload (SIGHUP) must not half-apply: proxy_prepare builds the new
 * setting without touching the active one, the caller checks everything
 * else it will swap (the TLS context), and only then proxy_apply swaps it
 * in, which cannot fail. A changed route bumps a generation; http.c
 * never reuses a keep-alive connection dialled under an older one. The
 * Socket Mode WebSocket keeps its tunnel until it next reconnects.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "incidentd.h"

#define PROXY_MAX_REPLY		(16 * 1024)	/* status line and headers */
#define PROXY_MAX_CRED		256
#define PROXY_MAX_ENTRY		300		/* one no_proxy entry */

/* The active setting; replaced whole by proxy_apply. */
struct proxy_setting {
	char		*host;		/* NULL: no proxy */
	int		 port;
	char		*auth;		/* "Basic ...", or NULL */
	int		 has_password;
	char		*label;		/* "host:port", for messages */
	const char	*source;	/* "proxy.url", "https_proxy", ... */
	char		*no_proxy;	/* comma-separated, or NULL */
	const char	*no_source;
};

enum proxy_tunnel_state {
	PROXY_T_READING = 0,
	PROXY_T_DONE,			/* result waits for the timer */
	PROXY_T_CALLING
};

struct proxy_tunnel {
	int			 fd;	/* ours until handed over */
	struct bufferevent	*bev;	/* does not own fd */
	struct event		*timer;	/* result delivery */
	char			*target;	/* "host:port" */
	char			*label;		/* the proxy's */
	enum proxy_tunnel_state	 state;
	int			 result;	/* PROXY_OK, ... */
	char			*error;
	proxy_tunnel_cb		 cb;
	void			*arg;
};

static struct proxy_setting	 proxy_cur;
static uint64_t			 proxy_gen;

static void	proxy_setting_clear(struct proxy_setting *);
static int	proxy_str_differ(const char *, const char *);
static const char *proxy_env(const char *, const char *, const char **);
static int	proxy_pct_decode(const char *, size_t, char **);
static int	proxy_host_match(const char *, int, const char *, size_t);
static void	proxy_tunnel_done(struct proxy_tunnel *, int, const char *,
		    ...) __attribute__((__format__(printf, 3, 4)));
static void	proxy_tunnel_read_cb(struct bufferevent *, void *);
static void	proxy_tunnel_event_cb(struct bufferevent *, short, void *);
static void	proxy_tunnel_timer_cb(evutil_socket_t, short, void *);

/* Free a parsed proxy URL, zeroing the password. */
void
proxy_url_free(struct proxy_url *pu)
{
	if (pu->password != NULL)
		explicit_bzero(pu->password, strlen(pu->password));
	free(pu->host);
	free(pu->user);
	free(pu->password);
	memset(pu, 0, sizeof(*pu));
}

/* Percent-decode n bytes of s into *out; -1 on a bad escape or NUL. */
static int
proxy_pct_decode(const char *s, size_t n, char **out)
{
	char	*o;
	size_t	 i, k = 0;
	int	 hi, lo;

	o = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			o[k++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			goto fail;
		if (!isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]))
			goto fail;
		hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0' :
		    tolower((unsigned char)s[i + 1]) - 'a' + 10;
		lo = isdigit((unsigned char)s[i + 2]) ? s[i + 2] - '0' :
		    tolower((unsigned char)s[i + 2]) - 'a' + 10;
		if (hi == 0 && lo == 0)
			goto fail;
		o[k++] = (char)(hi * 16 + lo);
		i += 2;
	}
	o[k] = '\0';
	*out = o;
	return (0);
fail:
	explicit_bzero(o, n + 1);
	free(o);
	return (-1);
}

/*
 * Parse "http://[user[:password]@]host:port[/]" (or the same without
 * "http://", as curl takes it). Credentials are percent-decoded. With
 * !allow_password a password is an error (proxy.url: it belongs in
 * proxy.password_file). 0, or -1 with *errstr; messages never quote s.
 */
int
proxy_parse_url(const char *s, int allow_password, struct proxy_url *pu,
    const char **errstr)
{
	struct url	 u;
	const char	*p, *at, *colon, *hp, *hend;
	char		*hostport = NULL;

	memset(pu, 0, sizeof(*pu));
	p = s;
	if ((hp = strstr(s, "://")) != NULL) {
		if ((size_t)(hp - s) != 4 || strncasecmp(s, "http", 4) != 0) {
			*errstr = "only http:// proxies are supported";
			return (-1);
		}
		p = hp + 3;
	}
	hend = p + strcspn(p, "/?#");
	if (*hend == '?' || *hend == '#' || (*hend == '/' && hend[1] != '\0')) {
		*errstr = "a proxy URL has no path";
		return (-1);
	}
	at = memchr(p, '@', hend - p);
	if (at != NULL) {
		/* The last '@' ends the user information. */
		while ((hp = memchr(at + 1, '@', hend - at - 1)) != NULL)
			at = hp;
		colon = memchr(p, ':', at - p);
		if (colon != NULL && !allow_password) {
			*errstr = "no password in the URL: use "
			    "proxy.password_file";
			return (-1);
		}
		if (proxy_pct_decode(p, (colon != NULL ? colon : at) - p,
		    &pu->user) == -1 || *pu->user == '\0' ||
		    strlen(pu->user) > PROXY_MAX_CRED ||
		    strchr(pu->user, ':') != NULL) {
			*errstr = "invalid user name";
			goto fail;
		}
		if (colon != NULL && (proxy_pct_decode(colon + 1,
		    at - colon - 1, &pu->password) == -1 ||
		    strlen(pu->password) > PROXY_MAX_CRED)) {
			*errstr = "invalid password encoding";
			goto fail;
		}
		p = at + 1;
	}
	/* The host and port are read as any other URL's (util.c). */
	xasprintf(&hostport, "http://%.*s", (int)(hend - p), p);
	hp = strrchr(hostport, ']');
	if (strchr(hp != NULL ? hp : hostport + 7, ':') == NULL) {
		*errstr = "a port is required (http://host:port)";
		goto fail;
	}
	if (url_parse(hostport, &u, errstr) == -1)
		goto fail;
	pu->host = u.host;
	u.host = NULL;
	pu->port = u.port;
	url_free(&u);
	free(hostport);
	*errstr = NULL;
	return (0);
fail:
	free(hostport);
	proxy_url_free(pu);
	return (-1);
}

/* Check a no_proxy list: entries "host", ".suffix", "host:port", IP
 * literals (IPv6 in brackets when with a port) or "*". */
int
proxy_check_no_proxy(const char *s, const char **errstr)
{
	const char	*p = s, *e;
	size_t		 n, i;

	while (*p != '\0') {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		e = p + n;
		for (i = 0; i < n; i++) {
			if (!isalnum((unsigned char)p[i]) &&
			    strchr(".-_:[]*", p[i]) == NULL) {
				*errstr = "invalid character in no_proxy";
				return (-1);
			}
		}
		p = e;
	}
	return (0);
}

/* lowercase first, as curl: the value and its name in *name. */
static const char *
proxy_env(const char *lower, const char *upper, const char **name)
{
	const char	*v;

	if ((v = getenv(lower)) != NULL && *v != '\0') {
		*name = lower;
		return (v);
	}
	if ((v = getenv(upper)) != NULL && *v != '\0') {
		*name = upper;
		return (v);
	}
	return (NULL);
}

static void
proxy_setting_clear(struct proxy_setting *ps)
{
	free(ps->host);
	if (ps->auth != NULL)
		explicit_bzero(ps->auth, strlen(ps->auth));
	free(ps->auth);
	free(ps->label);
	free(ps->no_proxy);
	memset(ps, 0, sizeof(*ps));
}

/*
 * Work out the proxy setting for conf (NULL: the environment only)
 * without touching the active one: a reload validates everything it will
 * swap before swapping anything. NULL with *cause (caller frees) if a
 * setting is invalid.
 */
struct proxy_setting *
proxy_prepare(const struct config *conf, char **cause)
{
	struct proxy_setting	*ps;
	struct proxy_url	 pu;
	const char		*url = NULL, *src = NULL, *errstr, *pass;
	const char		*np = NULL, *npsrc = NULL;
	char			*cred;

	memset(&pu, 0, sizeof(pu));
	if (conf != NULL && conf->proxy.url != NULL) {
		url = conf->proxy.url;
		src = "proxy.url";
	} else
		url = proxy_env("https_proxy", "HTTPS_PROXY", &src);
	if (conf != NULL && conf->proxy.no_proxy != NULL) {
		np = conf->proxy.no_proxy;
		npsrc = "proxy.no_proxy";
	} else
		np = proxy_env("no_proxy", "NO_PROXY", &npsrc);

	if (np != NULL && proxy_check_no_proxy(np, &errstr) == -1) {
		xasprintf(cause, "%s: %s", npsrc, errstr);
		return (NULL);
	}
	ps = xcalloc(1, sizeof(*ps));
	if (url != NULL) {
		if (proxy_parse_url(url, strcmp(src, "proxy.url") != 0, &pu,
		    &errstr) == -1) {
			xasprintf(cause, "%s: %s", src, errstr);
			free(ps);
			return (NULL);
		}
		ps->host = pu.host;
		pu.host = NULL;
		ps->port = pu.port;
		ps->source = src;
		xasprintf(&ps->label, strchr(ps->host, ':') != NULL ?
		    "[%s]:%d" : "%s:%d", ps->host, ps->port);
		pass = pu.password;
		if (conf != NULL && conf->proxy.url != NULL)
			pass = conf->proxy.password;
		if (pu.user != NULL) {
			xasprintf(&cred, "%s:%s", pu.user,
			    pass != NULL ? pass : "");
			ps->auth = base64_encode((unsigned char *)cred,
			    strlen(cred));
			explicit_bzero(cred, strlen(cred));
			free(cred);
			log_redact(ps->auth);
			if (pass != NULL && *pass != '\0') {
				log_redact(pass);
				ps->has_password = 1;
			}
		}
		proxy_url_free(&pu);
	}
	if (np != NULL) {
		ps->no_proxy = xstrdup(np);
		ps->no_source = npsrc;
	}
	return (ps);
}

/* Free a setting proxy_prepare made and nobody applied. */
void
proxy_discard(struct proxy_setting *ps)
{
	if (ps == NULL)
		return;
	proxy_setting_clear(ps);
	free(ps);
}

static int
proxy_str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != b);
	return (strcmp(a, b) != 0);
}

/*
 * Make ps (from proxy_prepare; consumed) the active setting. Cannot fail.
 * If any connection would now take another route, the generation moves
 * on, so that http.c retires connections dialled the old way instead of
 * reusing them.
 */
void
proxy_apply(struct proxy_setting *ps)
{
	if (ps->host == NULL && proxy_cur.host != NULL)
		log_info("proxy: none, connecting directly");
	else if (ps->host != NULL && (proxy_cur.host == NULL ||
	    strcmp(ps->label, proxy_cur.label) != 0 ||
	    (ps->auth == NULL) != (proxy_cur.auth == NULL)))
		log_info("proxy: connecting through %s (from %s)%s%s%s",
		    ps->label, ps->source, ps->auth != NULL ?
		    ", with credentials" : "", ps->no_proxy != NULL ?
		    ", except no_proxy from " : "", ps->no_proxy != NULL ?
		    ps->no_source : "");
	if (proxy_str_differ(ps->label, proxy_cur.label) ||
	    proxy_str_differ(ps->auth, proxy_cur.auth) ||
	    proxy_str_differ(ps->no_proxy, proxy_cur.no_proxy))
		proxy_gen++;
	proxy_setting_clear(&proxy_cur);
	proxy_cur = *ps;
	free(ps);
}

/*
 * Choose the proxy for conf (NULL: the environment only) and make it
 * active, at startup. -1 with *cause (caller frees) if a setting is
 * invalid; the active one is then kept.
 */
int
proxy_configure(const struct config *conf, char **cause)
{
	struct proxy_setting	*ps;

	if ((ps = proxy_prepare(conf, cause)) == NULL)
		return (-1);
	proxy_apply(ps);
	return (0);
}

/* Changes whenever proxy_apply changed a route: see http.c's pools. */
uint64_t
proxy_generation(void)
{
	return (proxy_gen);
}

/* Drop the active setting (shutdown, tests). */
void
proxy_free(void)
{
	proxy_setting_clear(&proxy_cur);
}

/* 1 if host:port matches entry (n bytes) of a no_proxy list. */
static int
proxy_host_match(const char *host, int port, const char *entry, size_t n)
{
	char		 buf[PROXY_MAX_ENTRY], *e, *colon, *b;
	const char	*errstr;
	size_t		 hlen, elen;
	long long	 eport = 0;

	if (n == 0 || n >= sizeof(buf))
		return (0);
	memcpy(buf, entry, n);
	buf[n] = '\0';
	e = buf;
	if (strcmp(e, "*") == 0)
		return (1);
	if (*e == '[') {
		/* [v6] or [v6]:port */
		if ((b = strchr(e, ']')) == NULL)
			return (0);
		*b = '\0';
		e++;
		if (b[1] == ':')
			eport = strtonum(b + 2, 1, 65535, &errstr);
		else if (b[1] != '\0')
			return (0);
	} else if ((colon = strchr(e, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		/* host:port (a bare IPv6 literal has more colons) */
		*colon = '\0';
		eport = strtonum(colon + 1, 1, 65535, &errstr);
		if (eport == 0)
			return (0);
	}
	if (eport != 0 && eport != port)
		return (0);
	if (strncmp(e, "*.", 2) == 0)
		e++;
	if (*e == '.')
		e++;
	elen = strlen(e);
	while (elen > 0 && e[elen - 1] == '.')
		e[--elen] = '\0';
	hlen = strlen(host);
	while (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (elen == 0)
		return (0);
	if (hlen == elen && strncasecmp(host, e, elen) == 0)
		return (1);
	/* A suffix at a label boundary; never for IP literals. */
	if (strchr(host, ':') != NULL || strchr(e, ':') != NULL)
		return (0);
	if (hlen > elen && host[hlen - elen - 1] == '.' &&
	    strncasecmp(host + hlen - elen, e, elen) == 0 &&
	    strspn(host, "0123456789.") != hlen)
		return (1);
	return (0);
}

/* 1 if a no_proxy list (NULL: none) matches host:port. */
int
proxy_bypass(const char *list, const char *host, int port)
{
	const char	*p = list;
	size_t		 n;

	if (list == NULL)
		return (0);
	while (*p != '\0') {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n > 0 && proxy_host_match(host, port, p, n))
			return (1);
		p += n;
	}
	return (0);
}

/*
 * The proxy for host:port: 1 with *phost (lent until the next
 * proxy_configure) and *pport, or 0 to connect directly.
 */
int
proxy_route(const char *host, int port, const char **phost, int *pport)
{
	if (proxy_cur.host == NULL ||
	    proxy_bypass(proxy_cur.no_proxy, host, port))
		return (0);
	*phost = proxy_cur.host;
	*pport = proxy_cur.port;
	return (1);
}

/* ------------------------------------------------------------------ */
/* The tunnel. */

/*
 * Send CONNECT for host:port on fd, a socket connected to the active
 * proxy, and read the answer. cb runs once, on a later turn, with fd
 * (now the caller's) on success, or with -1 and an error (fd closed).
 */
struct proxy_tunnel *
proxy_tunnel(int fd, const char *host, int port,
    proxy_tunnel_cb cb, void *arg)
{
	struct proxy_tunnel	*t;
	struct evbuffer		*out;

	t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->cb = cb;
	t->arg = arg;
	xasprintf(&t->target, strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d",
	    host, port);
	t->label = xstrdup(proxy_cur.label != NULL ? proxy_cur.label :
	    "(none)");
	if ((t->timer = evtimer_new(reactor_base, proxy_tunnel_timer_cb,
	    t)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	if ((t->bev = bufferevent_socket_new(reactor_base, fd, 0)) == NULL) {
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: cannot create "
		    "bufferevent", t->label);
		return (t);
	}
	log_debug("proxy: CONNECT %s via %s", t->target, t->label);
	bufferevent_setcb(t->bev, proxy_tunnel_read_cb, NULL,
	    proxy_tunnel_event_cb, t);
	bufferevent_setwatermark(t->bev, EV_READ, 0, PROXY_MAX_REPLY + 1);
	out = bufferevent_get_output(t->bev);
	evbuffer_add_printf(out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: %s/%s\r\n", t->target, t->target, INCIDENTD_NAME,
	    VERSION);
	if (proxy_cur.auth != NULL)
		evbuffer_add_printf(out, "Proxy-Authorization: Basic %s\r\n",
		    proxy_cur.auth);
	evbuffer_add(out, "\r\n", 2);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	return (t);
}

/* Forget a tunnel: its callback will not run; its socket is closed. */
void
proxy_tunnel_free(struct proxy_tunnel *t)
{
	struct evbuffer	*out;

	if (t == NULL)
		return;
	if (t->bev != NULL) {
		/* The request carries the credentials. */
		out = bufferevent_get_output(t->bev);
		evbuffer_drain(out, evbuffer_get_length(out));
		bufferevent_setcb(t->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(t->bev);
	}
	if (t->fd != -1)
		close(t->fd);
	event_free(t->timer);
	free(t->target);
	free(t->label);
	free(t->error);
	free(t);
}

static void
proxy_tunnel_done(struct proxy_tunnel *t, int result, const char *fmt, ...)
{
	static const struct timeval	 now = { 0, 0 };
	va_list				 ap;

	if (t->state != PROXY_T_READING)
		return;
	t->result = result;
	if (fmt != NULL) {
		va_start(ap, fmt);
		xvasprintf(&t->error, fmt, ap);
		va_end(ap);
	}
	if (t->bev != NULL) {
		bufferevent_setcb(t->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(t->bev, EV_READ | EV_WRITE);
	}
	t->state = PROXY_T_DONE;
	evtimer_add(t->timer, &now);
}

static void
proxy_tunnel_read_cb(struct bufferevent *bev, void *arg)
{
	struct proxy_tunnel	*t = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	struct http_head	 h;
	const char		*errstr, *reason;
	char			*head;
	size_t			 len, total;

	total = evbuffer_get_length(in);
	/* The end of the head: an empty line (CRLF or bare LF). */
	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	len = p.pos != -1 ? (size_t)p.pos + 4 : 0;
	p = evbuffer_search(in, "\n\n", 2, NULL);
	if (p.pos != -1 && (len == 0 || (size_t)p.pos + 2 < len))
		len = (size_t)p.pos + 2;
	if (len == 0) {
		if (total > PROXY_MAX_REPLY)
			proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: answer "
			    "to CONNECT too large", t->label);
		return;
	}
	if (len > PROXY_MAX_REPLY) {
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: answer to "
		    "CONNECT too large", t->label);
		return;
	}
	head = xmalloc(len);
	evbuffer_remove(in, head, len);
	if (http_head_parse(&h, head, len, &errstr) == -1) {
		free(head);
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: %s", t->label,
		    errstr);
		return;
	}
	free(head);
	if (h.status == 407) {
		log_warnx("proxy %s: 407 Proxy Authentication Required for "
		    "CONNECT %s (%s)", t->label, t->target,
		    proxy_cur.auth == NULL ? "no credentials configured: set "
		    "the user in proxy.url and proxy.password_file" :
		    !proxy_cur.has_password ? "no password configured: set "
		    "proxy.password_file" : "the proxy refused our credentials");
		proxy_tunnel_done(t, PROXY_EAUTH, "proxy %s: 407 Proxy "
		    "Authentication Required", t->label);
	} else if (h.status < 200 || h.status > 299) {
		/* A bounded, printable reason is safe to show. */
		reason = http_head_get(&h, "X-Squid-Error");
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: CONNECT %s: "
		    "HTTP %d%s%.64s", t->label, t->target, h.status,
		    reason != NULL ? " " : "", reason != NULL ? reason : "");
	} else if (total != len) {
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: data after the "
		    "answer to CONNECT", t->label);
	} else
		proxy_tunnel_done(t, PROXY_OK, NULL);
	http_head_clear(&h);
}

static void
proxy_tunnel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_tunnel	*t = arg;
	int			 saved = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_EOF)
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: connection "
		    "closed before the answer to CONNECT", t->label);
	else
		proxy_tunnel_done(t, PROXY_EFAIL, "proxy %s: %s", t->label,
		    saved != 0 ? strerror(saved) : "connection error");
}

static void
proxy_tunnel_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proxy_tunnel	*t = arg;
	int			 out = -1;

	if (t->state != PROXY_T_DONE)
		return;
	t->state = PROXY_T_CALLING;
	if (t->bev != NULL) {
		bufferevent_free(t->bev);
		t->bev = NULL;
	}
	if (t->result == PROXY_OK) {
		out = t->fd;
		t->fd = -1;
	} else if (t->fd != -1) {
		close(t->fd);
		t->fd = -1;
	}
	t->cb(out, t->result, t->error, t->arg);
	/* The callback has forgotten t. */
	proxy_tunnel_free(t);
}
