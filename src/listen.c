/*
 * listen.c: the small inbound HTTP servers (metrics.c's /metrics and
 * /healthz, pd-webhook.c's PagerDuty webhooks) on configured addresses.
 *
 * Why one helper: both take an address from the configuration (HOST:PORT
 * with an IP address, or a bare PORT on 127.0.0.1; never a name, so a bind
 * never waits on DNS), bound their requests the same way (head and body
 * size, one timeout per connection), send every method to their callback
 * (for a 405 of their own; evhttp would say 501) and rebind on SIGHUP when
 * the address changed. If a new address cannot be bound, the old one is
 * bound again and the error logged; the rest of the configuration still
 * applies, and the next reload tries again.
 *
 * Why evhttp here, when http.c avoids it (STYLE.md 4.4): that is about
 * evhttp's client. These servers answer from memory (or once the turn is
 * committed, pd-webhook.c), so none of the client's lifetime traps apply.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "incidentd.h"

#define LISTEN_BACKLOG	16

struct listen_srv {
	char				*name;	/* "metrics", for logs */
	char				*key;	/* "metrics.listen" */
	char				*what;	/* "/metrics and /healthz" */
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	char				*addr;	/* what bound serves */
};

static int	listen_parse(const char *, struct sockaddr_storage *,
		    socklen_t *, int *, const char **);
static void	listen_unbind(struct listen_srv *);

/*
 * HOST:PORT with HOST an IPv4 address, a bracketed IPv6 address or
 * localhost; a bare PORT is 127.0.0.1. ss and len may be NULL (checking).
 */
static int
listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
    int *loopback, const char **errstr)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	char			 host[INET6_ADDRSTRLEN + 1];
	const char		*port, *end;
	size_t			 hlen;
	long			 n;
	int			 v6 = 0, loop;

	*errstr = "must be HOST:PORT with an IP address, like 127.0.0.1:9464 "
	    "or [::1]:9464";
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return (-1);
		hlen = end - s - 1;
		memcpy(host, s + 1, hlen < sizeof(host) ? hlen : 0);
		port = end + 2;
		v6 = 1;
	} else if ((end = strrchr(s, ':')) != NULL) {
		if (end == s) {
			*errstr = "give the address too: 127.0.0.1:PORT, or "
			    "0.0.0.0:PORT for every interface";
			return (-1);
		}
		hlen = end - s;
		memcpy(host, s, hlen < sizeof(host) ? hlen : 0);
		port = end + 1;
	} else {
		if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
			return (-1);
		hlen = strlen("127.0.0.1");
		memcpy(host, "127.0.0.1", hlen);
		port = s;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return (-1);
	host[hlen] = '\0';
	if (!v6 && strcmp(host, "localhost") == 0)
		strlcpy(host, "127.0.0.1", sizeof(host));
	if (strspn(port, "0123456789") != strlen(port) || *port == '\0' ||
	    strlen(port) > 5 || (n = strtol(port, NULL, 10)) < 1 ||
	    n > 65535) {
		*errstr = "the port must be a number from 1 to 65535";
		return (-1);
	}
	if (v6 ? inet_pton(AF_INET6, host, &a6) != 1 :
	    inet_pton(AF_INET, host, &a4) != 1)
		return (-1);
	if (v6)
		loop = IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	else
		loop = (ntohl(a4.s_addr) >> 24) == 127;
	if (loopback != NULL)
		*loopback = loop;
	if (ss != NULL) {
		memset(ss, 0, sizeof(*ss));
		if (v6) {
			sin6 = (struct sockaddr_in6 *)ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)n);
			sin6->sin6_addr = a6;
			*len = sizeof(*sin6);
		} else {
			sin = (struct sockaddr_in *)ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)n);
			sin->sin_addr = a4;
			*len = sizeof(*sin);
		}
	}
	*errstr = NULL;
	return (0);
}

/* Check a listen address (config.c); 0 or -1 with *errstr. */
int
listen_check(const char *s, int *loopback, const char **errstr)
{
	return (listen_parse(s, NULL, NULL, loopback, errstr));
}

/* A server, not yet listening: every request goes to cb(req, arg). */
struct listen_srv *
listen_new(const char *name, const char *key, const char *what,
    const struct listen_limits *lim, void (*cb)(struct evhttp_request *,
    void *), void *arg)
{
	struct listen_srv	*ls;

	ls = xcalloc(1, sizeof(*ls));
	ls->name = xstrdup(name);
	ls->key = xstrdup(key);
	ls->what = xstrdup(what);
	if ((ls->http = evhttp_new(reactor_base)) == NULL)
		fatalx("%s: evhttp_new failed", __func__);
	evhttp_set_max_headers_size(ls->http, lim->max_headers);
	evhttp_set_max_body_size(ls->http, lim->max_body);
	evhttp_set_timeout(ls->http, lim->timeout_s);
	/* All reach cb, for a 405 (evhttp says 501). */
	evhttp_set_allowed_methods(ls->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(ls->http, cb, arg);
	return (ls);
}

/* Listen on addr; 0, or -1 with *cause (caller frees). */
int
listen_bind(struct listen_srv *ls, const char *addr, char **cause)
{
	struct sockaddr_storage	 ss;
	struct evconnlistener	*lev;
	socklen_t		 len;
	const char		*errstr;

	if (listen_parse(addr, &ss, &len, NULL, &errstr) != 0) {
		xasprintf(cause, "%s: %s", ls->key, errstr);
		return (-1);
	}
	lev = evconnlistener_new_bind(reactor_base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
	    LISTEN_BACKLOG, (struct sockaddr *)&ss, (int)len);
	if (lev == NULL) {
		xasprintf(cause, "%s: cannot listen on %s: %s", ls->key,
		    addr, strerror(errno));
		return (-1);
	}
	if ((ls->bound = evhttp_bind_listener(ls->http, lev)) == NULL)
		fatalx("%s: evhttp_bind_listener failed", __func__);
	ls->addr = xstrdup(addr);
	log_info("%s: serving %s on %s", ls->name, ls->what, addr);
	return (0);
}

/* Stop listening; connections already open finish on their own. */
static void
listen_unbind(struct listen_srv *ls)
{
	if (ls->bound != NULL)
		evhttp_del_accept_socket(ls->http, ls->bound);
	ls->bound = NULL;
	free(ls->addr);
	ls->addr = NULL;
}

/* After a reload: rebind if want (NULL: none) changed (see the top). */
void
listen_reload(struct listen_srv *ls, const char *want)
{
	char	*old, *cause;

	if (want == NULL ? ls->addr == NULL : ls->addr != NULL &&
	    strcmp(want, ls->addr) == 0)
		return;
	old = ls->addr != NULL ? xstrdup(ls->addr) : NULL;
	listen_unbind(ls);
	if (want == NULL)
		log_info("%s: no longer listening on %s", ls->name, old);
	else if (listen_bind(ls, want, &cause) != 0) {
		log_error("%s", cause);
		free(cause);
		if (old != NULL && listen_bind(ls, old, &cause) != 0) {
			log_error("%s", cause);
			free(cause);
		}
	}
	free(old);
}

/* Close the listener and its connections; NULL is fine. */
void
listen_free(struct listen_srv *ls)
{
	if (ls == NULL)
		return;
	listen_unbind(ls);
	evhttp_free(ls->http);
	free(ls->name);
	free(ls->key);
	free(ls->what);
	free(ls);
}
