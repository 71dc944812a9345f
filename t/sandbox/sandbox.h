/*
 * sandbox.h: the sandbox workspace shared by its fakes.
 *
 * sandbox.c owns the event loop, the listeners, request recording, fault
 * injection and the control API. Each fake (fake-slack.c, fake-socket.c,
 * fake-jira.c, fake-pagerduty.c) models one service's state and answers
 * requests routed to it; the Slack fake is split over slack-*.c with its
 * own private header, slack.h, and the PagerDuty fake over
 * pagerduty-*.c with pagerduty.h. console.c is the demo console.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
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
/* The reason phrase for an HTTP status ("Unknown" if we have none). */
const char *sb_reason(int status);

/* Each fake registers a handler and a control hook. */
struct sb_service {
	const char	*name;
	void		(*init)(void);
	/* Answer (now or later) every request routed to the service. */
	void		(*handle)(struct sb_req *);
	/* POST /control/<name>/<op> with a JSON body: return a JSON result
	 * (consumed by the caller) or NULL for "unknown op" (404). */
	cJSON		*(*control)(const char *op, cJSON *body);
	/* Optional: free all state at exit (may be NULL). */
	void		(*shutdown)(void);
};
extern const struct sb_service fake_slack;
extern const struct sb_service fake_jira;
extern const struct sb_service fake_pagerduty;

/* Options the fakes can read. */
struct sb_options {
	const char	*slack_bot_token;
	const char	*slack_app_token;
	const char	*slack_user_token;	/* xoxp-, the admin's */
	const char	*jira_email;
	const char	*jira_token;
	const char	*jira_flavor;		/* "cloud" or "datacenter" */
	const char	*jira_context;		/* context path ("/jira") */
	const char	*jira_timezone;		/* API user's zone, NULL: UTC */
	const char	*pd_token;
	int		 tls;			/* listeners speak TLS */
	int		 socket_port;		/* Socket Mode listener port */
	int		 jira_port;
	int		 pd_port;
	/* Added by sandbox.c; the fakes above need not use them. */
	int		 slack_port;
	int		 control_port;
	int		 proxy_port;		/* fake-proxy.c */
	int		 public_post;		/* chat:write.public granted */
	const char	*slack_manifest;	/* --manifest FILE or NULL */
	int		 console;		/* --console */
	int		 verbose;		/* SANDBOX_VERBOSE=1 */
	double		 ping_interval;		/* seconds */
	double		 ack_timeout;		/* seconds */
	/* PagerDuty webhooks: answer timeout, first retry backoff. */
	double		 pd_webhook_timeout;	/* seconds */
	double		 pd_webhook_backoff;	/* seconds */
};
extern struct sb_options sb_opts;

/* sandbox-util.c: helpers (the sandbox does not link libincidentd). */
/* Print "sandbox: message" and exit 1. */
void	 sb_fatal(const char *, ...)
	    __attribute__((__format__(printf, 1, 2), __noreturn__));
/* Allocators that abort instead of returning NULL. */
void	*sb_malloc(size_t);
void	*sb_calloc(size_t, size_t);
void	*sb_realloc(void *, size_t, size_t);
char	*sb_strdup(const char *);
char	*sb_strndup(const char *, size_t);
int	 sb_asprintf(char **, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
/* Wall-clock seconds with microseconds, and monotonic milliseconds. */
double	 sb_now(void);
uint64_t sb_mono_ms(void);
/* Fill out with 2*n lowercase hex digits from n random bytes, NUL-ended. */
void	 sb_random_hex(char *out, size_t n);
/* One line to stderr, only with SANDBOX_VERBOSE=1. */
void	 sb_log(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* Read a JSON member as a string, NULL if absent or not a string. */
const char *sb_json_str(const cJSON *, const char *name);
/* Integer member (number or numeric string), def if absent or bad. */
long long sb_json_int(const cJSON *, const char *name, long long def);
/* Boolean member (true, 1, "true", "1"). */
int	 sb_json_bool(const cJSON *, const char *name);
/* Listen on 127.0.0.1 port 0 for what (exits on failure); *port set. */
struct evconnlistener *sb_listen_loopback(evconnlistener_cb, void *,
	    const char *what, int *port);
/* Count UTF-8 code points. */
size_t	 sb_utf8_len(const char *);

/* sandbox.c: requests, replies, recording. */
/* The n-th (0-based) value of a repeated parameter ("include[]"). */
const char *sb_param_n(struct sb_req *, const char *name, int n);
/* All query and form parameters as a JSON object (first value of each). */
cJSON	*sb_params_json(struct sb_req *);
/* 1 if the request carried a form (x-www-form-urlencoded) body. */
int	 sb_is_form(struct sb_req *);
/* Answer with a non-JSON body of the given content type. */
void	 sb_reply_text(struct sb_req *, int status, const char *ctype,
	    const char *text, const char **headers);
/* Forget recorded requests of one service (NULL: all). */
void	 sb_requests_clear(const char *service);

/* fake-socket.c: the Socket Mode WebSocket server. */
/* Listen on 127.0.0.1 port 0; returns the port. */
int	 socket_server_init(void);
/* True once some connection has received hello (the app is listening). */
int	 socket_ready(void);
void	 socket_server_free(void);
/* Issue a single-use connection URL (apps.connections.open). */
char	*socket_new_url(void);
/* Deliver an envelope of type ("events_api", "interactive", ...) with
 * payload (consumed) to one open connection; returns envelope_id (static
 * buffer) or NULL if no connection is open. */
const char *socket_deliver(const char *type, cJSON *payload);
cJSON	*socket_control(const char *op, cJSON *body);
/* Forget envelopes, acks and tickets; re-enable the link. */
void	 socket_reset(void);

/* fake-proxy.c: the CONNECT proxy for egress tests. */
/* Listen on 127.0.0.1 port 0; returns the port. */
int	 proxy_server_init(void);
void	 proxy_server_free(void);
cJSON	*proxy_control(const char *op, cJSON *body);

/* fake-slack.c: the workspace model, shared with the socket and console. */
#define SLACK_TEAM_ID		"T0SANDBOX"
#define SLACK_APP_ID		"A0SANDBOX"
#define SLACK_BOT_USER		"U0BOT"
#define SLACK_BOT_ID		"B0BOT"
/* The app acked an interactive envelope (payload, ack payload or NULL). */
void	 slack_interactive_acked(const cJSON *payload, const cJSON *ack);
/* Run a control op (as POST /control/slack/<op>); result is the caller's. */
cJSON	*slack_control(const char *op, cJSON *body);
/* Display name for a user or channel id ("alice", "general"); NULL if
 * unknown. */
const char *slack_user_name(const char *id);
const char *slack_channel_name(const char *id);
/* Id of the user named or with that id, NULL if none. */
const char *slack_user_lookup(const char *name_or_id);
/* Id of the channel named ("general", "#general") or with that id. */
const char *slack_channel_lookup(const char *name_or_id);
/* The DM channel between user and the bot, created if needed. */
const char *slack_dm_channel(const char *user);

/* console.c: the demo console (--console). */
void	 console_init(void);
void	 console_free(void);
/* The bot posted or updated a message (msg is the stored message). */
void	 console_message(const char *channel, const cJSON *msg, int updated);
void	 console_deleted(const char *channel, const char *ts);
void	 console_ephemeral(const char *channel, const char *user,
	    const cJSON *msg);
/* A modal was opened, updated, or closed (view NULL), or got errors. */
void	 console_view(const char *user, const cJSON *view, const char *how);
void	 console_view_errors(const char *view_id, const cJSON *errors);
/* Anything else worth telling the console user. */
void	 console_note(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));

#endif
