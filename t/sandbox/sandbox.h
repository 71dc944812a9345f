/*
 * sandbox.h: the sandbox workspace shared by its fakes.
 *
 * sandbox.c owns the event loop, the listeners, request recording, fault
 * injection and the control API. Each fake (fake-slack.c, fake-socket.c,
 * fake-jira.c, fake-pagerduty.c) models one service's state and answers
 * requests routed to it.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>
#include <event2/event.h>
#include <event2/http.h>
#include <cjson/cJSON.h>
#include <openssl/ssl.h>

extern struct event_base *sb_base;
/* Server-side TLS context when --tls-cert is given, else NULL. */
extern SSL_CTX *sb_ssl_ctx;

/* One HTTP request to a fake, already recorded and past fault checks. */
struct sb_req {
	struct evhttp_request	*req;
	const char		*service;	/* "slack", "jira", "pagerduty" */
	const char		*method;	/* "GET", "POST", ... */
	char			*path;		/* decoded path, no query */
	char			*query;		/* raw query string or NULL */
	char			*body;		/* NUL-terminated */
	size_t			 body_len;
	cJSON			*json;		/* body parsed if JSON, else NULL */
	int			 seq;		/* recorded request number */
};
/* Query-string or form parameter (decoded), NULL if absent. */
const char *sb_param(struct sb_req *, const char *name);
/* Request header, NULL if absent. */
const char *sb_header(struct sb_req *, const char *name);
/* Answer with JSON (consumed) and extra headers ("Name: value", NULL-end). */
void	 sb_reply(struct sb_req *, int status, cJSON *body,
	    const char **headers);
/* Answer 204/empty. */
void	 sb_reply_empty(struct sb_req *, int status);

/* Each fake registers a handler and a control hook. */
struct sb_service {
	const char	*name;
	void		(*init)(void);
	/* Answer (now or later) every request routed to the service. */
	void		(*handle)(struct sb_req *);
	/* POST /control/<name>/<op> with a JSON body: return a JSON result
	 * (consumed by the caller) or NULL for "unknown op" (404). */
	cJSON		*(*control)(const char *op, cJSON *body);
};
extern const struct sb_service fake_slack;
extern const struct sb_service fake_jira;
extern const struct sb_service fake_pagerduty;

/* Options the fakes can read. */
struct sb_options {
	const char	*slack_bot_token;
	const char	*slack_app_token;
	const char	*jira_email;
	const char	*jira_token;
	const char	*jira_flavor;		/* "cloud" or "datacenter" */
	const char	*pd_token;
	int		 tls;			/* listeners speak TLS */
	int		 socket_port;		/* Socket Mode listener port */
	int		 jira_port;
	int		 pd_port;
};
extern struct sb_options sb_opts;

/* fake-socket.c: the Socket Mode WebSocket server. */
/* Listen on 127.0.0.1 port 0; returns the port. */
int	 socket_server_init(void);
/* Issue a single-use connection URL (apps.connections.open). */
char	*socket_new_url(void);
/* Deliver an envelope of type ("events_api", "interactive", ...) with
 * payload (consumed) to one open connection; returns envelope_id (static
 * buffer) or NULL if no connection is open. */
const char *socket_deliver(const char *type, cJSON *payload);
cJSON	*socket_control(const char *op, cJSON *body);

#endif
