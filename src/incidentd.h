/*
 * incidentd.h: the one header. Each source file has its section below.
 *
 * Data flows one way: Socket Mode envelope (slack-socket.c) -> events.c ->
 * command (cmd-*.c) -> store (intent recorded) -> service client
 * (slack.c, jira.c, pagerduty.c over http.c) -> reply.
 */
#ifndef INCIDENTD_H
#define INCIDENTD_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "compat.h"
#include "queue.h"
#include "log.h"
#include "xmalloc.h"

struct event_base;
struct evdns_base;
struct bufferevent;
struct cJSON;
struct job;
struct ssl_st;

#define INCIDENTD_NAME		"incidentd"

/* util.c */
struct strlist {
	char	**v;
	size_t	  n;
};
void	 strlist_add(struct strlist *, const char *);
void	 strlist_addf(struct strlist *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	 strlist_free(struct strlist *);
/* "a", "a or b", "a, b or c" (word is "or", "and"); caller frees. */
char	*strlist_join_words(const struct strlist *, const char *word);
char	*strlist_join(const struct strlist *, const char *sep);

struct url {
	char	*scheme;	/* "http", "https", "ws" or "wss" */
	char	*host;		/* without brackets for IPv6 */
	int	 port;		/* explicit or the scheme's default */
	char	*path;		/* path and query, at least "/" */
	int	 tls;		/* https or wss */
};
/* Parse an absolute URL; 0 or -1 with *errstr set. */
int	 url_parse(const char *, struct url *, const char **errstr);
void	 url_free(struct url *);
int	 url_host_is_loopback(const char *host);
/* Percent-encode for a query component (RFC 3986 unreserved kept). */
char	*url_encode(const char *);
char	*base64_encode(const unsigned char *, size_t);
/* Monotonic milliseconds, and wall-clock seconds. */
uint64_t now_ms(void);
time_t	 now_wall(void);
/* Uniform random in [0, n). */
uint32_t rand_uniform(uint32_t n);
/* Exponential backoff with full jitter: base * 2^attempt, capped. */
uint64_t backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms);
int	 str_has_prefix(const char *, const char *);
/* Bytes of s (at most max) that end on a UTF-8 character boundary. */
size_t	 utf8_cut(const char *s, size_t max);
/* A copy cut to max bytes on a character boundary; "…" marks a cut. */
char	*utf8_truncate(const char *s, size_t max, int ellipsis);
/* Time zones (IANA names, checked) and Jira's date and time formats. */
int	 tz_valid(const char *);
char	*time_format_zone(time_t, const char *tz, const char *fmt)
	    __attribute__((__format__(strftime, 3, 0)));
int	 time_day_end(const char *day, const char *tz, time_t *);
int	 time_parse_iso(const char *, time_t *);
/* A span in at most two units: "45s", "4m 10s", "2h", "1h 05m", "2d 3h". */
char	*duration_short(long long secs);
/* "10 days", "1 hour", "90 seconds": the largest whole unit; caller frees. */
char	*duration_text(long long secs);

/* json.c: helpers over cJSON; only this file walks raw trees. */
/* Look up a dotted path ("event.item.ts"); NULL if absent. */
struct cJSON *json_path(const struct cJSON *, const char *path);
/* String at path or NULL if absent or not a string. */
const char *json_str(const struct cJSON *, const char *path);
/* Number at path, or def. */
double	 json_num(const struct cJSON *, const char *path, double def);
/* A remote number at path as an integer within [min, max], else def. */
long long json_int(const struct cJSON *, const char *path, long long def,
	    long long min, long long max);
/* 1 if true, 0 if false or absent. */
int	 json_bool(const struct cJSON *, const char *path);
/* Append s as a JSON string literal (with quotes) to a malloc'd buffer. */
char	*json_quote(const char *s);
/* Serialize compactly; caller frees. */
char	*json_print(const struct cJSON *);
void	 json_set(struct cJSON *, const char *, struct cJSON *);

/* reactor.c: the one event_base, evdns, deferred and end-of-turn work. */
extern struct event_base	*reactor_base;
extern struct evdns_base	*reactor_dns;
void	 reactor_init(void);
void	 reactor_free(void);
/* Run until reactor_stop; commits the store at the end of every turn. */
int	 reactor_run(void);
void	 reactor_stop(void);
int	 reactor_stopping(void);
/* Fuzzers: one turn without waiting, then its commit. */
void	 reactor_turn(void);
/* Run fn(arg) on the next loop turn (teardown outside callbacks). */
void	 reactor_defer(void (*fn)(void *), void *arg);
/* Run fn(arg) once the current turn's store transaction is committed;
 * dropped if the turn's writes fail. */
void	 reactor_after_commit(void (*fn)(void *), void *arg);
/* The same, but abort_fn(arg) runs instead if the turn fails (after its
 * writes were discarded, outside the failed turn): free arg there. */
void	 reactor_after_commit_or_abort(void (*fn)(void *),
	    void (*abort_fn)(void *), void *arg);
/* In an abort_fn: the store error, and whether a redo can now fit. */
int	 reactor_turn_error(int *room);
/* Commit the turn's writes now and run its after-commit hooks. */
int	 reactor_commit(void);

/* notify.c: the sd_notify protocol to $NOTIFY_SOCKET, without libsystemd. */
/* READY=1 at the latest this long after notify_wait_ready. */
#define INCIDENTD_READY_WAIT_MS	45000
void	 notify_init(void);
void	 notify_send(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	 notify_status(const char *);
void	 notify_wait_ready(const char *why);
void	 notify_ready(const char *status);
void	 notify_reloading(void);
void	 notify_reloaded(void);
void	 notify_stopping(void);
void	 notify_watchdog_start(void);
void	 notify_shutdown(void);

/* config.c */
enum conf_jira_flavor {
	JIRA_FLAVOR_AUTO = 0,
	JIRA_FLAVOR_CLOUD,
	JIRA_FLAVOR_DATACENTER
};
enum conf_pd_mode {
	PD_MODE_PER_INCIDENT = 0,	/* one PD incident, responders added */
	PD_MODE_PER_PAGE		/* one PD incident per paged target */
};
enum conf_pd_resolve {
	PD_RESOLVE_ASK = 0,		/* a prompt with a Resolve button */
	PD_RESOLVE_AUTO,		/* resolve it */
	PD_RESOLVE_NEVER
};
struct shortcut {
	char	*name;
	char	*service;	/* PagerDuty service id */
	char	*description;
};
struct shortcuts {
	struct shortcut	*v;	/* sorted by name */
	size_t		 n;
};
/* A string-to-string mapping of the file; look keys up with config_map_get. */
struct conf_map {
	char		**keys;		/* sorted (strcmp), unique */
	char		**values;	/* values[i] goes with keys[i] */
	size_t		  n;
};
struct config {
	char		*path;
	char		*state_dir;
	int		 log_level;
	long long	 map_size;		/* LMDB map size, bytes */
	long long	 map_size_max;		/* growth ceiling, 0: 8x */
	char		*tls_ca_file;
	struct {
		char		*url;		/* http://[user@]host:port */
		char		*password;	/* proxy.password(_file) */
		char		*no_proxy;	/* comma-separated */
	} proxy;
	struct {
		char		*api_url;
		char		*app_token;
		char		*bot_token;
		char		*user_token;	/* xoxp-, or NULL */
		struct strlist	 incident_managers;	/* Slack user ids */
		char		*timeline_emoji;
		char		*channel_prefix;
		int		 allow_guests;
	} slack;
	struct {
		struct strlist	 page;		/* ids, S... or @handles */
		struct strlist	 commands;
		long long	 commands_per_minute;	/* per user */
		long long	 max_page_targets;	/* non-managers */
	} access;
	struct {
		char		*url;
		char		*email;
		char		*api_token;
		char		*project;
		struct strlist	 projects;	/* also accepted */
		char		*issue_type;
		char		*aar_field;
		char		*postmortem_field;	/* NULL: a comment */
		char		*followup_label;
		int		 flavor;	/* enum conf_jira_flavor */
		struct conf_map	 users;		/* Jira user -> Slack id */
	} jira;
	struct {
		char		*api_url;
		char		*api_token;
		char		*from;
		char		*incident_manager_service;
		char		*default_service;
		char		*shortcuts_file;
		struct shortcuts shortcuts;
		long long	 max_concurrency;
		int		 incident_mode;	/* enum conf_pd_mode */
		long long	 poll_interval;	/* seconds, pd-watch.c */
		long long	 ack_timeout;	/* seconds before a nudge */
		int		 resolve_on_close; /* enum conf_pd_resolve */
		struct {
			char		*listen;	/* or NULL */
			int		 listen_public;
			char		*path;		/* "/pagerduty" */
			struct strlist	 secrets;	/* any one signs */
			long long	 max_age;	/* seconds */
		} webhook;		/* pd-webhook.c */
	} pagerduty;
	struct {
		long long	 poll_interval;		/* seconds */
		long long	 archive_after;
		long long	 followup_warn_before;
		char		*aar_expectations;	/* mrkdwn */
	} schedule;
	struct {
		char		*listen;	/* "127.0.0.1:9464", or NULL */
		int		 listen_public;	/* not only loopback */
		struct conf_map	 manual_minutes; /* action -> minutes */
		long long	 aar_within;	/* seconds after the close */
	} metrics;
	struct {
		char		*timezone;		/* "Europe/Paris" */
		long long	 history_per_minute;	/* history-tier pace */
		long long	 history_page_size;
		long long	 cache_days;		/* message text kept */
		long long	 backfill_max;		/* seconds of history */
	} timeline;
	struct strlist	 warnings;	/* "FILE:LINE: warning: ..." */
	struct {
		long long	 jobs_max_pending;	/* jobs.max_pending */
		long long	 http_max_per_host;	/* http.max_per_host */
	} limits;
};
extern struct config	*cfg;
/*
 * Parse path into a fresh config. On any problem, returns NULL and appends
 * one "FILE:LINE: message" per problem to errors.
 */
struct config *config_load(const char *path, struct strlist *errors);
void	 config_free(struct config *);
/* "90s", "5m", "2h", "10d", "1h30m"; bare numbers are seconds. */
int	 config_parse_duration(const char *, long long *secs,
	    const char **errstr);
/* https anywhere, http only to loopback hosts. */
int	 config_check_base_url(const char *, const char **errstr);
/* Load a shortcuts YAML file (name: {service, description}). */
int	 config_load_shortcuts(const char *path, struct shortcuts *,
	    struct strlist *errors);
void	 config_free_shortcuts(struct shortcuts *);
/* The value for key in a conf_map (binary search), or NULL. */
const char *config_map_get(const struct conf_map *, const char *key);
/* The store's growth ceiling in bytes (map_size_max or 8 x map_size). */
long long config_map_size_max(const struct config *);
/* Reload the shortcuts file when it changes (a schedule timer). */
void	 config_watch_shortcuts(void);
/* Register every secret of c with the log redactor. */
void	 config_redact_secrets(const struct config *);

/* store.c: LMDB, group commit at the end of each loop turn. */
enum store_db {
	STORE_META = 0,		/* schema version and daemon bookkeeping */
	STORE_EVENTS,		/* Slack event_id -> first-seen time */
	STORE_INCIDENTS,	/* Jira key -> incident record */
	STORE_CHANNELS,		/* Slack channel id -> Jira key */
	STORE_PAGES,		/* page id -> page record */
	STORE_TIMELINE,		/* channel/ts -> tagged message */
	STORE_JOBS,		/* job id -> pending outbound work */
	STORE_FOLLOW,		/* Jira key -> what the poller knows */
	STORE_EVLOG,		/* key/type[/id] -> incident event */
	STORE_PDWATCH,		/* Jira key[/ev/...] -> PagerDuty status */
	STORE_NDB
};
#define STORE_OK		0
#define STORE_NOTFOUND		(-30798)	/* MDB_NOTFOUND */
#define STORE_MAP_FULL		(-30792)	/* MDB_MAP_FULL */
#define STORE_SCHEMA_VERSION	1
#define STORE_RDONLY		0x1
/* Writer without the state directory's lock: only for t/store-edit,
 * which edits behind a running daemon's back on purpose. */
#define STORE_NOLOCK		0x2
#define STORE_LOCK_FILE		"incidentd.pid"
struct store;
extern struct store	*store;
/* Open (creating state_dir 0700) and migrate; errors via *cause. */
int	 store_open(const char *dir, long long map_size, int flags,
	    struct store **, char **cause);
void	 store_close(struct store *);
/* A compacted copy of the store (a data.mdb) written to path through a
 * temporary name and a rename; safe beside the running writer. */
int	 store_backup(struct store *, const char *path, char **cause);
const char *store_strerror(int);
const char *store_db_name(enum store_db);
/*
 * Writes join the current turn's transaction, opened on first use and
 * committed by store_commit (the reactor calls it at the end of each
 * turn). Reads see the pending writes.
 */
int	 store_put(struct store *, enum store_db, const char *key,
	    const char *val, size_t len);
/* Copies the value into *val (NUL-terminated, caller frees). */
int	 store_get(struct store *, enum store_db, const char *key,
	    char **val, size_t *len);
int	 store_del(struct store *, enum store_db, const char *key);
/* Records as JSON: the one way owners read and write them. */
int	 store_get_json(struct store *, enum store_db, const char *key,
	    struct cJSON **);
int	 store_put_json(struct store *, enum store_db, const char *key,
	    const struct cJSON *);
/* A JSON object in STORE_META under "<prefix>.<key>", or NULL. */
struct cJSON *store_meta_get(const char *prefix, const char *key);
int	 store_meta_put(const char *prefix, const char *key,
	    const struct cJSON *);
/* Visit keys starting with prefix ("" for all) in order; cb returns
 * nonzero to stop. Key and value are only valid during the callback. */
int	 store_foreach(struct store *, enum store_db, const char *prefix,
	    int (*cb)(const char *key, const char *val, size_t len, void *),
	    void *arg);
/* The same over the keys after the key after (NULL: all): for walks in
 * slices that resume where the last one stopped. */
int	 store_foreach_after(struct store *, enum store_db,
	    const char *prefix, const char *after,
	    int (*cb)(const char *key, const char *val, size_t len, void *),
	    void *arg);
/* One slice of a walk spread over loop turns: at most max keys after
 * *cursor (NULL: from the first); *cursor is left at the last key visited
 * while keys remain, NULL once the walk is over. The caller owns it. */
int	 store_foreach_slice(struct store *, enum store_db,
	    const char *prefix, char **cursor, size_t max,
	    int (*cb)(const char *key, const char *val, size_t len, void *),
	    void *arg);
/* Once a write failed, every write and commit of the turn fails with the
 * same error (store_failed) until store_abort ends the turn. */
int	 store_commit(struct store *);
void	 store_abort(struct store *);
int	 store_pending(struct store *);
int	 store_failed(struct store *);
/* Ceiling for store_grow (bytes); adopts a map an earlier run grew. */
int	 store_set_map_max(struct store *, long long max);
/* Between turns: double the map up to the ceiling; STORE_MAP_FULL at it. */
int	 store_grow(struct store *);
struct store_size {
	uint64_t	 used;		/* pages in use x page size */
	uint64_t	 map;		/* current map size */
	uint64_t	 max;		/* ceiling for store_grow */
};
int	 store_size(struct store *, struct store_size *);
/* 1 if event_id was seen (a redelivery), else record it and return 0;
 * < 0 on error (an LMDB code or negated errno, for store_strerror). */
int	 store_event_seen(struct store *, const char *event_id, time_t now);
/* Forget event ids first seen before cutoff; how many, or < 0 on error. */
int	 store_expire_events(struct store *, time_t cutoff);
/* Write every database as one JSON object to fd; message text only with
 * STORE_DUMP_MESSAGES (otherwise its length, as "text_bytes"). */
#define STORE_DUMP_MESSAGES	0x1
int	 store_dump(struct store *, int fd, int flags);
/* Number of entries and commits, for metrics. */
size_t	 store_count(struct store *, enum store_db);
uint64_t store_commits(struct store *);

/* tls.c: one SSL_CTX for the process, verification always on. */
int	 tls_init(const char *ca_file, char **cause);
int	 tls_reload(const char *ca_file, char **cause);
struct ssl_ctx_st;
struct ssl_ctx_st *tls_prepare(const char *ca_file, char **cause);
void	 tls_apply(struct ssl_ctx_st *);
void	 tls_discard(struct ssl_ctx_st *);
void	 tls_free(void);
/* A fresh SSL for one connection, with SNI and host name checking. */
struct ssl_st *tls_new_ssl(const char *host);
/* Describe why a TLS bufferevent failed ("certificate verify failed:
 * hostname mismatch"); the string is static or thread-local. */
const char *tls_error(struct bufferevent *);
/* Send close_notify (best effort); the caller frees the bufferevent. */
void	 tls_shutdown(struct bufferevent *);

/* proxy.c: egress through an HTTP proxy (CONNECT tunnels). */
struct proxy_url {
	char	*host;
	int	 port;
	char	*user;		/* decoded, or NULL */
	char	*password;	/* decoded, or NULL */
};
int	 proxy_parse_url(const char *, int allow_password, struct proxy_url *,
	    const char **errstr);
void	 proxy_url_free(struct proxy_url *);
int	 proxy_check_no_proxy(const char *, const char **errstr);
int	 proxy_configure(const struct config *, char **cause);
struct proxy_setting;
struct proxy_setting *proxy_prepare(const struct config *, char **cause);
void	 proxy_apply(struct proxy_setting *);
void	 proxy_discard(struct proxy_setting *);
uint64_t proxy_generation(void);
void	 proxy_free(void);
int	 proxy_bypass(const char *list, const char *host, int port);
int	 proxy_route(const char *host, int port, const char **phost,
	    int *pport);
#define PROXY_OK	0
#define PROXY_EFAIL	1	/* refused, dropped, malformed: transient */
#define PROXY_EAUTH	2	/* 407: would repeat */
typedef void (*proxy_tunnel_cb)(int fd, int result,
	    const char *error, void *);
struct proxy_tunnel;
struct proxy_tunnel *proxy_tunnel(int fd, const char *host, int port,
	    proxy_tunnel_cb, void *);
void	 proxy_tunnel_free(struct proxy_tunnel *);

/* http.c: HTTP/1.1 client over plain TCP or TLS with keep-alive pools. */
#define HTTP_IDEMPOTENT		0x1	/* retry 5xx and transport errors */
#define HTTP_NO_RETRY		0x2	/* not even 429 */
struct http_request_args {
	const char	 *method;	/* "GET", "POST", ... */
	const char	 *url;
	const char	**headers;	/* "Name: value", NULL-terminated */
	const char	 *content_type;	/* NULL if no body */
	const char	 *body;
	size_t		  body_len;
	int		  flags;
	int		  timeout_ms;	/* per attempt, 0 = 15000 */
	int		  max_attempts;	/* 0 = 5 */
	const char	 *log_name;	/* for log lines, e.g. "slack chat.postMessage" */
	void		(*freecb)(void *); /* frees arg when cb will never run */
};
struct http_response {
	int		 status;	/* 0: transport failure, see error */
	const char	*error;
	const char	*body;		/* NUL-terminated */
	size_t		 body_len;
	int		 attempts;
	uint64_t	 elapsed_ms;	/* since http_request, with retries */
	const void	*priv;
};
typedef void (*http_cb)(const struct http_response *, void *);
struct http_req;
void	 http_init(void);
void	 http_shutdown(void);
/*
 * Start a request; cb runs exactly once unless http_cancel is called (at
 * shutdown), which runs args->freecb instead, if set.
 */
struct http_req *http_request(const struct http_request_args *, http_cb,
	    void *);
void	 http_cancel(struct http_req *);
/* Case-insensitive response header lookup; NULL if absent. */
const char *http_response_header(const struct http_response *,
	    const char *name);
int	 http_inflight(void);
void	 http_reroute(void);
void	 http_set_max_per_host(int);
/* Connect TCP (+TLS) with evdns and a deadline; used by ws.c. */
typedef void (*http_dial_cb)(struct bufferevent *, const char *error,
	    void *);
struct http_dial;
struct http_dial *http_dial(const char *host, int port, int tls,
	    int timeout_ms, http_dial_cb, void *);
void	 http_dial_cancel(struct http_dial *);
/* Parse "Retry-After" (seconds or HTTP date) to milliseconds, -1 if bad. */
long long http_parse_retry_after(const char *, time_t now);
/* Fuzzers and tests: a response parsed from pieces; see http.c. */
struct http_req *http_parse_pieces(const char *, size_t, const size_t *cuts,
	    size_t ncuts, int is_head, int eof, struct http_response *,
	    const char **errstr);
void	 http_parse_free(struct http_req *);
/*
 * The one response-head parser (the client's and ws.c's handshake):
 * strict RFC 9112, no folding, bounded.
 */
#define HTTP_MAX_HEADERS	100
#define HTTP_MAX_HEADER_BYTES	(64 * 1024)
struct http_header {
	char	*name;
	char	*value;
};
struct http_head {
	int			 minor;		/* HTTP/1.x */
	int			 status;
	struct http_header	*hdrs;
	size_t			 nhdrs;
};
/* The status line (no end of line) into h; 0 or -1 with *errstr. */
int	 http_head_status(struct http_head *, const char *line,
	    const char **errstr);
/* One header line (no end of line) into h, or only checked if h is
 * NULL; 0 or -1 with *errstr ("bad response: ..."). */
int	 http_head_header(struct http_head *, const char *line,
	    const char **errstr);
/* A whole head, status line to the empty line; 0 or -1 with *errstr. */
int	 http_head_parse(struct http_head *, const char *head, size_t len,
	    const char **errstr);
const char *http_head_get(const struct http_head *, const char *name);
void	 http_head_clear(struct http_head *);

/* ws.c: WebSocket client, handshake by hand, framing by wslay. */
struct ws;
struct ws_cbs {
	void	(*open)(struct ws *, void *);
	void	(*message)(struct ws *, const char *, size_t, void *);
	/* Connection is gone (failed, closed by peer, or timed out). */
	void	(*closed)(struct ws *, const char *reason, void *);
	/* Every message of a read was delivered; sends here go out as one
	 * write. Optional. */
	void	(*received)(struct ws *, void *);
};
#define WS_MAX_MESSAGE		(4 * 1024 * 1024)
struct ws *ws_open(const char *url, const struct ws_cbs *, void *arg,
	    int ping_interval_ms, int pong_timeout_ms);
int	 ws_send_text(struct ws *, const char *, size_t);
/* Fuzzers and tests: over a connected bev, with a known key; see ws.c. */
struct ws *ws_attach(struct bufferevent *, const char *key,
	    const struct ws_cbs *, void *arg);
/* Close (close frame, close_notify) and free later; no closed cb. */
void	 ws_close(struct ws *, const char *reason);
/* Sec-WebSocket-Accept for key: base64(SHA1(key + GUID)), 28 chars. */
void	 ws_accept_key(const char *key, char out[29]);
void	 ws_new_key(char out[25]);

/* slack.c: Web API calls and mrkdwn. */
struct slack_result {
	int			 ok;
	const char		*error;		/* Slack error code or transport */
	const struct cJSON	*json;		/* whole response, may be NULL */
	int			 http_status;
};
typedef void (*slack_cb)(const struct slack_result *, void *);
struct slack_self {
	char	*user_id;
	char	*bot_id;
	char	*team_id;
	char	*url;
};
extern struct slack_self slack_self;
/* Call a method with the bot token; args is consumed. cb may be NULL. */
void	 slack_call(const char *method, struct cJSON *args, slack_cb, void *);
/* Same with the app-level token (apps.connections.open). */
void	 slack_call_app(const char *method, struct cJSON *args, slack_cb,
	    void *);
/* Same with slack.user_token (conversations.unarchive only). */
void	 slack_call_user(const char *method, struct cJSON *args, slack_cb,
	    void *);
/* Blocks for lines of mrkdwn, split into messages within Slack's limits;
 * returns how many messages were posted. */
int	 slack_post_lines(const char *channel, const char *thread_ts,
	    const char *title, const struct strlist *lines);
/* slack_call, answer ignored, once this turn is committed. */
void	 slack_call_after_commit(const char *method, struct cJSON *args);
/* A Slack permalink to a message. */
char	*slack_permalink(const char *channel, const char *ts);
/* Escape &, < and > so remote text cannot form mentions or links; NULL: "". */
char	*slack_escape(const char *);
char	*slack_date(time_t, const char *);
/* Undo slack_escape on text Slack sent us. */
char	*slack_unescape(const char *);
/* Slack markup to readable plain text: <@U1> -> @U1, <url|l> -> l (url). */
char	*slack_plain_text(const char *);
/* 1 if a failed call may work later (no answer, 408, 429, 5xx, 3xx,
 * an unreadable 200, ratelimited). */
int	 slack_transient(const struct slack_result *);
/* A failed call's job outcome: retry if transient, else fail. */
void	 slack_job_failed(struct job *, const struct slack_result *);
/* https://team.slack.com/archives/C123; caller frees. */
char	*slack_channel_url(const char *channel);
/* Post text (mrkdwn) and optional blocks (consumed) to a channel. */
void	 slack_post(const char *channel, const char *thread_ts,
	    const char *text, struct cJSON *blocks, slack_cb, void *);
/* The same, with token in its metadata for slack_post_find. */
void	 slack_post_keyed(const char *channel, const char *thread_ts,
	    const char *text, struct cJSON *blocks, const char *token,
	    slack_cb, void *);
/* found: 1 (with its ts), 0 not there, -1 cannot tell. */
typedef void (*slack_find_cb)(int found, const char *ts, void *);
/* Look up a keyed post in channel (or a user's DM, or thread_ts's
 * thread) among messages since a wall time. */
void	 slack_post_find(const char *channel, const char *thread_ts,
	    const char *token, time_t since, slack_find_cb, void *);
/* A Slack id we may put in <#...> or a URL: letters and digits only. */
int	 slack_valid_id(const char *);
/* 1 if a transient failure may have come after Slack did the work. */
int	 slack_maybe_done(const struct slack_result *);
/* A failed keyed post's job outcome: unsure, retry or fail. */
void	 slack_job_post_failed(struct job *, const struct slack_result *);
/* A keyed post's probe answer: done(j), resend or stay unsure. */
void	 slack_job_found(struct job *, int found,
	    void (*done)(struct job *));
void	 slack_post_ephemeral(const char *channel, const char *user,
	    const char *text, slack_cb, void *);
/* Call auth.test until it answers; then cb. */
void	 slack_identify(void (*cb)(void *), void *);
void	 slack_shutdown(void);

/* blocks.c: Block Kit builders (mrkdwn text must be escaped already). */
struct cJSON *blocks_plain(const char *);
struct cJSON *blocks_section(const char *mrkdwn);
struct cJSON *blocks_context(const char *mrkdwn);
struct cJSON *blocks_header(const char *);
struct cJSON *blocks_button(const char *text, const char *action_id,
	    const char *value, const char *style);
struct cJSON *blocks_actions(const char *block_id, struct cJSON *elements);
struct cJSON *blocks_input_text(const char *block_id, const char *label,
	    int multiline, int max_length, const char *placeholder);
struct cJSON *blocks_input_select(const char *block_id, const char *label,
	    const char **options);

/* jira.c: Jira REST (v2 on Cloud and Data Center). */
struct jira_result {
	int			 status;	/* HTTP status, 0 if unreachable */
	const char		*error;		/* readable, NULL on 2xx */
	const struct cJSON	*json;
};
typedef void (*jira_cb)(const struct jira_result *, void *);
int	 jira_valid_key(const char *);
/* A key from "INC-1", "inc-1" or a browse URL on our Jira; NULL if not. */
char	*jira_parse_key(const char *);
/* 1 if key is in jira.project or jira.projects: the only keys we touch. */
int	 jira_key_allowed(const char *);
/* The allowed projects for a message: "INC" or "INC, SEC or OPS". */
char	*jira_projects_text(void);
char	*jira_browse_url(const char *key);
/* A JQL double-quoted string literal. */
char	*jira_jql_quote(const char *);
/* path is below jira.url ("/rest/api/2/issue"); body is consumed. */
/* Jira's answer as a result; the caller frees *json and *err after. */
void	 jira_response(const struct http_response *, const char *method,
	    const char *path, struct jira_result *, struct cJSON **json,
	    char **err);
void	 jira_request(const char *method, const char *path,
	    struct cJSON *body, int flags, jira_cb, void *);
void	 jira_issue_create(const char *summary, const char *description,
	    const char *label, jira_cb, void *);
void	 jira_issue_find_label(const char *label, jira_cb, void *);
/* A failed Jira write's job outcome: retry, fail or unsure. */
void	 jira_job_failed(struct job *, const struct jira_result *);
/* 1 if a failed call may have taken effect (no answer, 5xx, 2xx, 3xx). */
int	 jira_maybe_done(const struct jira_result *);
void	 jira_job_cb(const struct jira_result *, void *);
/* Read a ticket; fields is a comma-separated list. */
void	 jira_issue_get(const char *key, const char *fields, jira_cb, void *);
/* Add a plain-text comment (never resent by the HTTP layer). */
void	 jira_issue_comment(const char *key, const char *text, jira_cb,
	    void *);
/* The newest max comments, for a probe before commenting again. */
void	 jira_issue_comments(const char *key, int max, jira_cb, void *);
/* Replace comment id's body; set a text field (both once, no retry). */
void	 jira_issue_comment_update(const char *key, const char *id,
	    const char *text, jira_cb, void *);
void	 jira_issue_set_field(const char *key, const char *field,
	    const char *text, jira_cb, void *);
/* A browse link that opens comment id of key; caller frees. */
char	*jira_comment_url(const char *key, const char *id);
/* A remote link, upserted by global_id: safe to send again. */
struct jira_link {
	const char	*global_id;
	const char	*url;
	const char	*title;
	const char	*summary;	/* may be NULL */
	const char	*relationship;	/* may be NULL */
};
void	 jira_issue_link(const char *key, const struct jira_link *, jira_cb,
	    void *);
/* fields: comma-separated list. */
void	 jira_search(const char *jql, const char *fields, int max, jira_cb,
	    void *);
/* One page of a search (cursor NULL first, then jira_search_next's). */
void	 jira_search_at(const char *jql, const char *fields, int max,
	    const char *cursor, jira_cb, void *);
char	*jira_search_next(const struct jira_result *);
/* A page of incident and corrective-action tickets updated lately. */
void	 jira_issues_updated(long long minutes, const char *fields,
	    const char *cursor, jira_cb, void *);

/* pagerduty.c: PagerDuty REST API v2. */
struct pd_result {
	int			 status;
	const char		*error;		/* readable, NULL on 2xx */
	int			 code;		/* PagerDuty error code */
	const struct cJSON	*json;
	int			 rl_remaining;	/* ratelimit-remaining, or -1 */
	int			 rl_reset;	/* ratelimit-reset seconds, or -1 */
	long long		 retry_after_ms; /* Retry-After, or -1 */
};
typedef void (*pd_cb)(const struct pd_result *, void *);
/* 1 if a failed call may have taken effect (no answer, 5xx, 2xx, 3xx). */
int	 pd_maybe_done(const struct pd_result *);
/* path is below pagerduty.api_url; body is consumed. */
/* PagerDuty's answer as a result; the caller frees *json and *err after. */
void	 pd_response(const struct http_response *, const char *method,
	    const char *path, struct pd_result *, struct cJSON **json,
	    char **err);
void	 pd_request(const char *method, const char *path, struct cJSON *body,
	    int flags, pd_cb, void *);
struct pd_incident_args {
	const char	*title;
	const char	*details;
	const char	*service;	/* service id */
	const char	*incident_key;
	const char	*assignee;	/* user id, or NULL */
};
/* Changes: sent once, no retry (their jobs probe before a resend). */
void	 pd_incident_create(const struct pd_incident_args *, pd_cb, void *);
void	 pd_responder_request(const char *incident, const char *requester,
	    const char *message, int is_ep, const char *target, pd_cb, void *);
/* Reads. */
void	 pd_incident_find_by_key(const char *incident_key, pd_cb, void *);
void	 pd_incident_get(const char *id, pd_cb, void *);
void	 pd_incident_log_entries(const char *id, pd_cb, void *);
/* One page of log entries created at or after since (NULL: all). */
void	 pd_incident_log_page(const char *id, const char *since, int offset,
	    pd_cb, void *);
/* Changes to an incident, sent once (jobs probe before a resend). */
void	 pd_incident_escalate(const char *id, int level, pd_cb, void *);
void	 pd_incident_resolve(const char *id, pd_cb, void *);
void	 pd_service_get(const char *id, pd_cb, void *);
void	 pd_service_search(const char *query, int limit, pd_cb, void *);
void	 pd_user_get(const char *id, pd_cb, void *);
/* json is the user with that email, or NULL (and no error) if none. */
void	 pd_user_by_email(const char *email, pd_cb, void *);

/* incident.c: incident records in the store (JSON, keyed by Jira key). */
struct cJSON *incident_load(const char *key);
int	 incident_save(const struct cJSON *);
/* Record the incident's channel (creating the record if needed). */
int	 incident_set_channel(const char *key, const char *summary,
	    const char *user, const char *channel, const char *name);
/* The Jira key of the incident whose channel this is, or NULL. */
char	*incident_key_for_channel(const char *channel);
/* Something about incident key changed (a PagerDuty event was stored). */
void	 incident_changed(const char *key);

/* evlog.c: the incident event log (STORE_EVLOG; types at its top). */
#define EVLOG_DECLARED		"declared"
#define EVLOG_IM_PAGED		"im_paged"
#define EVLOG_PAGE		"page"
#define EVLOG_CHANNEL_OPENED	"channel_opened"
#define EVLOG_FIRST_ACK		"first_ack"
#define EVLOG_TICKET_CLOSED	"ticket_closed"
#define EVLOG_TICKET_REOPENED	"ticket_reopened"
#define EVLOG_AAR_HELD		"aar_held"
#define EVLOG_ACTION_CLOSED	"action_closed"
#define EVLOG_REMINDER_SENT	"reminder_sent"
#define EVLOG_CHANNEL_ARCHIVED	"channel_archived"
#define EVLOG_TIMELINE_SENT	"timeline_sent"
#define EVLOG_POSTMORTEM	"postmortem_drafted"
int	 evlog_type_valid(const char *);
/* In this turn; detail consumed; 1 added, 0 already there, -1 error. */
int	 evlog_add(const char *key, const char *type, time_t,
	    struct cJSON *detail);
int	 evlog_add_id(const char *key, const char *type, time_t,
	    const char *id);
int	 evlog_foreach(const char *key, const char *type,
	    int (*)(const struct cJSON *, void *), void *);
size_t	 evlog_count(const char *type);

/* cmd-status.c: the status answer and the pinned status message. */
/* The incident changed: refresh its pinned status (a coalescing job). */
void	 incident_changed(const char *key);
extern const struct job_kind status_update_job;

/* slack-socket.c: Socket Mode connection manager. */
struct envelope {
	const char		*type;		/* events_api, interactive, ... */
	const char		*envelope_id;
	const struct cJSON	*payload;
	int			 retry_attempt;
	char			*ack_payload;	/* JSON set by a handler */
};
void	 socket_start(void);
void	 socket_stop(void);
int	 socket_connected(void);
const char *socket_app_id(void);
void	 socket_observe(void (*)(int up));
uint64_t socket_envelopes(void);
/* Fuzzers and tests: a text frame as if from Slack; see slack-socket.c. */
void	 socket_inject(const char *, size_t);

/* events.c: envelope dispatch. */
void	 events_handle(struct envelope *);
void	 events_shutdown(void);
/* 1 if text addresses the bot ("<@BOT> ..."); *rest points after it. */
int	 events_mentions_bot(const char *text, const char *bot_id,
	    const char **rest);

/* jobs.c: the durable engine for every outbound side effect. */
struct job_kind {
	const char	*name;
	/* Do the work; end with exactly one job_* outcome, now or later. */
	void		(*run)(struct job *);
	/*
	 * After a crash or job_unsure: was the work done? End with job_done
	 * (it was), job_resend (it was not) or another outcome. NULL: run
	 * is safe to repeat as it is.
	 */
	void		(*probe)(struct job *);
	/* The job ended (done or failed), in the turn that records it. */
	void		(*ended)(struct job *);
	int		 max_attempts;		/* 0: 8 */
	int		 concurrency;		/* 0: 8 at once */
	/* If set, the bound read at each dispatch (a config key). */
	int		(*concurrency_fn)(void);
	uint64_t	 backoff_base_ms;	/* 0: 500 */
	uint64_t	 backoff_cap_ms;	/* 0: 60000 */
};
extern const struct job_kind *jobs_kinds[];
void	 jobs_init(void);
void	 jobs_drain(void);
int	 jobs_running(void);
int	 jobs_queued(void);
/* 1 if the engine holds jobs.max_pending jobs or more: new commands wait. */
int	 jobs_full(void);
void	 jobs_shutdown(void);
int	 jobs_reconcile(char **, size_t);
char	*job_create(const char *kind, const char *key, struct cJSON *args,
	    time_t due);
struct cJSON *job_load(const char *id);
void	 job_done(struct job *, struct cJSON *result);
void	 job_fail(struct job *, const char *why);
void	 job_retry(struct job *, long long delay_ms, const char *why);
void	 job_unsure(struct job *, const char *why);
void	 job_resend(struct job *);
void	 job_wait(struct job *, long long ms);
void	 job_probe_later(struct job *, long long ms, const char *why);
void	 job_checkpoint(struct job *, void (*)(struct job *));
void	 job_pause(const char *kind, long long ms);
const char *job_id(const struct job *);
const char *job_key(const struct job *);
const char *job_token(const struct job *);
struct cJSON *job_args(struct job *);
const struct cJSON *job_result(const struct job *);
const char *job_error(const struct job *);
int	 job_attempt(const struct job *);
time_t	 job_created(const struct job *);
int	 job_succeeded(const struct job *);
int	 job_unknown(const struct job *);

/* follow.c: after the incident (Jira poller, AAR notices, corrective-
 * action reminders, archiving). */
extern const struct job_kind follow_poll_job, follow_aar_job,
	    follow_warn_job, follow_overdue_job, follow_reopened_job,
	    follow_archive_notice_job, follow_archive_job,
	    follow_unarchive_job, follow_aar_held_job;
void	 follow_init(void);
void	 follow_shutdown(void);
int	 follow_channel_archived(const char *key, const char *channel);
/* Postpone archiving key's channel (gen: the notice's, or 0); the reply. */
char	*follow_keep_open(const char *key, const char *user, int gen);
/* What the poller knows of incident key and its open actions. */
struct cJSON *follow_status(const char *key);
/* All its corrective actions, done ones too, with their status. */
struct cJSON *follow_actions(const char *key);
/* Unarchive key's channel with slack.user_token; NULL or why not. */
char	*follow_unarchive(const char *key, const char *user);

/* access.c: who may do what (see the comment at its top). */
#define ACCESS_MEMBER		0x1	/* no guests, no other workspaces */
#define ACCESS_PAGE		0x2	/* on access.page, if set */
#define ACCESS_COMMANDS		0x4	/* on access.commands, if set */
typedef void (*access_cb)(const char *refusal, void *);
int	 access_envelope_ours(const char *type, const struct cJSON *);
int	 access_is_manager(const char *user);
/* "<@U1> or <@U2>", or NULL without incident managers; caller frees. */
char	*access_managers_text(void);
int	 access_rate_take(const char *user, int *retry, int *tell);
void	 access_check(const char *user, int what, access_cb, void *);
size_t	 access_cache_size(void);
void	 access_flush(void);

/* schedule.c: timers for housekeeping, reminders and archiving. */
void	 schedule_init(void);
void	 schedule_free(void);
/* Run fn every interval seconds (with jitter), first after one interval. */
void	 schedule_every(const char *name, long long interval,
	    void (*fn)(void *), void *);
/* Expire old event ids, finished jobs and pages, hourly and at start. */
void	 schedule_housekeeping(void);
/* One pass each, as of now; how many went, or a negative store error. */
int	 schedule_expire_events(time_t now);
int	 schedule_expire_jobs(time_t now);
int	 schedule_expire_pages(time_t now);

/* cmd.c */
enum cmd_retval {
	CMD_DONE = 0,
	CMD_ERROR,
	CMD_WAIT
};
struct cmd_item {
	char		*channel;
	char		*user;
	char		*ts;
	char		*thread_ts;	/* reply here if set */
	char		*text;		/* after the mention, as Slack sent it */
	int		 is_dm;
	int		 argc;
	char		**argv;		/* words after the command name */
	const char	*args;		/* raw text after the name, in text */
	const struct cmd_entry *entry;
};
#define CMD_PAGES		0x1	/* paging rules apply (access.c) */
#define CMD_ANYONE		0x2	/* not subject to access.commands */
/* A button a command posted, by action_id. */
struct cmd_action {
	const char	*action_id;
	void		(*fn)(const struct cJSON *payload,
			    const struct cJSON *action, struct envelope *);
};
/* A modal a command opened, by callback_id. */
struct cmd_view {
	const char	*callback_id;
	void		(*fn)(const struct cJSON *payload, struct envelope *);
};
struct cmd_entry {
	const char	*name;		/* one or two words: "page list" */
	const char	*usage;
	const char	*help;
	int		 flags;
	enum cmd_retval	(*exec)(struct cmd_item *);
	/* Its clicks and modals ({ NULL } ends each); they are its own. */
	const struct cmd_action	*actions;
	const struct cmd_view	*views;
};
extern const struct cmd_entry *cmd_table[];
/* Split text into words (quotes group words); caller frees with
 * cmd_free_argv. */
int	 cmd_split(const char *text, int *argc, char ***argv);
void	 cmd_free_argv(int, char **);
/* Find the entry for argv (exact multiword name, then unique prefix);
 * *used says how many words the name took. NULL with *cause set. */
const struct cmd_entry *cmd_find(int argc, char **argv, int *used,
	    char **cause);
/* Hand a click or a modal to the command that owns it; 0 if none. */
int	 cmd_click(const struct cJSON *payload, const struct cJSON *action,
	    struct envelope *);
int	 cmd_submit(const struct cJSON *payload, struct envelope *);
/* Run a command from a chat message. */
void	 cmd_run(const char *channel, const char *user, const char *ts,
	    const char *thread_ts, const char *text, int is_dm);
void	 cmd_reply(struct cmd_item *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	 cmd_reply_blocks(struct cmd_item *, const char *text,
	    struct cJSON *blocks);
void	 cmd_error(struct cmd_item *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
/* A reply posted through the job engine (survives a stop). */
void	 cmd_reply_job(const char *channel, const char *thread_ts,
	    const char *text, const char *for_id);
extern const struct job_kind cmd_reply_job_kind;
/* Lines as replies within Slack's size, each a reply job. */
void	 cmd_reply_lines_job(const char *channel, const char *thread_ts,
	    const struct strlist *, const char *for_id);
/* conversations.invite as a job (idempotent). */
void	 cmd_invite_job(const char *channel, const char *users,
	    const char *for_id);
extern const struct job_kind cmd_invite_job_kind;
/* An async command is done: free the item. */
void	 cmd_finish(struct cmd_item *);
void	 cmd_shutdown(void);
/* An item for replies outside a typed command (a button click). */
struct cmd_item *cmd_item_new(const char *channel, const char *user,
	    const char *thread_ts);

/* timeline.c: the live index of emoji-tagged messages. */
struct timeline_entry {
	char	*channel;
	char	*ts;
	char	*thread_ts;	/* parent, if a thread reply */
	char	*user;		/* author id (or bot id) */
	char	*username;	/* bot name when no user */
	char	*text;		/* as Slack sent it (mrkdwn) */
	int	 ntaggers;
	int	 pending;	/* tagged, text not known yet */
};
struct timeline_list {
	struct timeline_entry	*v;
	size_t			 n;
};
void	 timeline_init(void);
void	 timeline_shutdown(void);
/* A message event in a channel (plain, changed or deleted). */
void	 timeline_message(const struct cJSON *ev);
/* reaction_added (added = 1) or reaction_removed. */
void	 timeline_reaction(const struct cJSON *ev, int added);
/* Whether events flow (slack-socket.c tells, see socket_observe). */
void	 timeline_connected(int up);
/* An envelope arrived: the daemon is connected and processing. */
void	 timeline_alive(void);
/* Forget cached message text past timeline.cache_days or outside incident
 * channels, in slices of keys, one a loop turn; hourly, at startup and on
 * reload. timeline_expire_step runs one slice (1 while keys remain) and
 * timeline_expired says how many the last complete walk forgot. */
void	 timeline_expire(void);
int	 timeline_expire_step(size_t max);
size_t	 timeline_expired(void);
/* Tagged messages of channel in time order; free with timeline_list_free. */
int	 timeline_load(const char *channel, struct timeline_list *);
void	 timeline_list_free(struct timeline_list *);
/* Why channel (created at created, 0 if unknown) needs a backfill, or
 * NULL; *from and *to bound the history to read (0 = unbounded), never
 * older than timeline.backfill_max (the reason then says so). */
char	*timeline_backfill_needed(const char *channel, time_t created,
	    time_t *from, time_t *to);
/* Read channel history in [from, to] and reconcile the index; cb gets
 * NULL or an error, and a summary ("512 messages in 35 requests"). */
typedef void (*timeline_backfill_cb)(const char *error, const char *summary,
	    void *);
void	 timeline_backfill(const char *channel, time_t from, time_t to,
	    timeline_backfill_cb, void *);
/* UTC and the configured zone: "2026-11-24 01:04:05 UTC (02:04 CET)". */
char	*timeline_format_time(const char *ts);
/* Around many timeline_format_time calls: switch TZ once (it is global). */
void	 timeline_tz_begin(void);
void	 timeline_tz_end(void);
/* Queue a history-tier call (conversations.history/replies), paced. */
void	 timeline_history_call(const char *method, struct cJSON *args,
	    slack_cb, void *);

/* cmd-*.c */
extern const struct cmd_entry cmd_help_entry;
extern const struct cmd_entry cmd_new_incident_entry;
extern const struct cmd_entry cmd_new_channel_entry;
extern const struct cmd_entry cmd_keep_open_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_metrics_entry;
/* cmd-postmortem.c: the postmortem draft and its Jira write. */
extern const struct cmd_entry cmd_postmortem_entry;
extern const struct job_kind postmortem_job;
/* A link to the draft once it is in Jira, or NULL; caller frees. */
char	*postmortem_url(const char *key);
/* cmd-metrics.c: a metrics.manual_minutes action name; its minutes. */
int	 cmd_metrics_action_valid(const char *);
long long cmd_metrics_minutes(const char *action);
/* The metrics answer for the window (seconds) ending at now. */
char	*cmd_metrics_report(long long window, time_t now);
extern const struct cmd_entry cmd_get_timeline_entry;
void	 cmd_get_timeline_shutdown(void);
/* The timeline's lines in Jira markup, handed back (see its comment). */
typedef void (*cmd_get_timeline_cb)(struct cmd_item *,
	    const struct strlist *lines, void *);
void	 cmd_get_timeline_jira(struct cmd_item *, const char *key,
	    const char *channel, const struct strlist *names,
	    cmd_get_timeline_cb, void *);
/* Escape Jira wiki markup so text stays text; caller frees. */
char	*cmd_get_timeline_jira_escape(const char *);
/* The renderer, for the fuzzers: mode 0 DM, 1 markdown, 2 Jira. */
void	 cmd_get_timeline_lines(int mode, const struct timeline_list *,
	    const struct cJSON *pd, struct strlist *lines);
void	 cmd_get_timeline_chunks(int mode, const struct strlist *lines,
	    struct strlist *chunks);
size_t	 cmd_get_timeline_chunk_max(int mode);
/* timeline_send: a timeline's pieces, in order, then the reply. */
extern const struct job_kind gt_send_job;
/* The display-name cache: bounded, entries expire (tests pass now). */
const char *cmd_get_timeline_name(const char *id, time_t now);
void	 cmd_get_timeline_name_set(const char *id, const char *name,
	    time_t now);
size_t	 cmd_get_timeline_names(void);
extern const struct job_kind ni_create_job;
extern const struct job_kind ni_prompt_job;
/* Reports the incident manager's page (a page's "announce" kind). */
extern const struct job_kind ni_announce_job;
/* The incident-manager page's details, as a Jira comment, once. */
extern const struct job_kind ni_comment_job;
/* Shows the record's status on a copy of the prompt (chat.update). */
extern const struct job_kind ni_update_job;
/* channel_setup: the channel's steps, one job per ticket. */
extern const struct job_kind nc_setup_job;
extern const struct job_kind nc_link_job;
/* Repair: link channels the ticket does not point to; how many. */
int	 nc_reconcile(char **, size_t);

/* cmd-page.c, cmd-page-list.c */
extern const struct cmd_entry cmd_page_entry;
extern const struct cmd_entry cmd_page_list_entry;

/* page.c: pages (STORE_PAGES) and the PagerDuty job kinds. */
/* After jobs_init: announce pages that ended while down; shortcuts. */
void	 page_init(void);
void	 page_shutdown(void);
struct cJSON *page_load(const char *id);
int	 page_save(const struct cJSON *);
/* A fresh page id. */
char	*page_new_id(void);
/*
 * A confirmed page: in this turn, one job per target (listed in the page,
 * which is saved "paging"); sent after the commit. A page may carry
 * "title" and "details" (the PagerDuty incident's texts), "incident_key"
 * (if it creates the incident's PD incident) and "announce" (the job kind
 * that reports it; "page_announce" by default). 0 or -1.
 */
int	 page_start(struct cJSON *page);
/* What became of each target of page id (see page.c); caller frees. */
struct cJSON *page_outcome(const char *id);
/* The pages of incident key with their targets' states (see page.c). */
struct cJSON *page_summary(const char *key);
/* Name PagerDuty users ([{id, name}], consumed, handed to the callback):
 * "name" and "email" from PagerDuty, "slack" if that email is in Slack. */
typedef void (*page_people_cb)(struct cJSON *users, void *);
void	 page_people(struct cJSON *users, page_people_cb, void *);
extern const struct job_kind page_pd_incident_job;
extern const struct job_kind page_pd_responder_job;
extern const struct job_kind page_announce_job;

/*
 * pd-watch.c: live PagerDuty status in the incident channel (STORE_PDWATCH).
 */
extern const struct job_kind pd_watch_job, pd_post_job, pd_nudge_job,
	    pd_escalate_job, pd_resolve_job;
extern const struct cmd_entry cmd_pagerduty_entry;
void	 pd_watch_init(void);
void	 pd_watch_shutdown(void);
/* Follow PagerDuty incident pd of incident key (page.c, in its turn). */
void	 pd_watch_start(const char *key, const char *pd);
/*
 * Poll PagerDuty incident pd now (pd-webhook.c, in its turn): the watch
 * that follows it gets a poll due now. 1 if one is, 0 if nobody watches
 * it (or no longer), -1 if the store refused.
 */
int	 pd_watch_poke(const char *pd);
/* key's ticket closed (follow.c, in its turn): pagerduty.resolve_on_close. */
void	 pd_watch_ticket_closed(const char *key);
/*
 * The PagerDuty incidents of incident key as last polled (caller frees),
 * an array, empty if none, of
 *	{ "id", "html_url" (or null), "service" (name, or null),
 *	  "status" ("triggered", "acknowledged" or "resolved"),
 *	  "assignees": [{"id", "name", "email" (or null)}],
 *	  "escalation_level" (1-based), "acknowledged_at" (the first
 *	  acknowledgement, ISO 8601, or null), "resolved_at" (or null) }
 */
struct cJSON *pd_watch_summary(const char *key);
/* Its stored PagerDuty events in time order (caller frees):
 * [{"at" (seconds), "pd", "type", "text" (plain, with names)}]. */
struct cJSON *pd_watch_events(const char *key);

/* pd-webhook.c: PagerDuty v3 webhooks make pd-watch.c poll at once. */
extern const char *const pd_webhook_outcomes[];	/* NULL-terminated */
int	 pd_webhook_init(char **cause);
void	 pd_webhook_reload(void);
void	 pd_webhook_shutdown(void);
/* 0 if sig (an X-PagerDuty-Signature value) holds a v1= HMAC-SHA256 of
 * body with one of secrets; else -1. Constant time per comparison. */
int	 pd_webhook_verify(const char *sig, const char *body, size_t len,
	    const struct strlist *secrets);

/* listen.c: small inbound HTTP servers on configured addresses. */
struct evhttp_request;
struct listen_srv;
struct listen_limits {
	size_t	 max_headers;	/* bytes of a request's head */
	size_t	 max_body;	/* bytes; more: 413 */
	int	 timeout_s;	/* per connection, read and write */
};
/* A listen value: HOST:PORT (an IP address), or a bare PORT for
 * 127.0.0.1; 0 or -1 with *errstr. loopback may be NULL. */
int	 listen_check(const char *, int *loopback, const char **errstr);
/* name for logs ("metrics"), key for errors ("metrics.listen"), what it
 * serves for the log line; every request (any method) goes to cb. */
struct listen_srv *listen_new(const char *name, const char *key,
	    const char *what, const struct listen_limits *,
	    void (*cb)(struct evhttp_request *, void *), void *arg);
/* Listen on addr; 0, or -1 with *cause (caller frees). */
int	 listen_bind(struct listen_srv *, const char *addr, char **cause);
/* Rebind if want (NULL: not listening) differs; the old one if it fails. */
void	 listen_reload(struct listen_srv *, const char *want);
void	 listen_free(struct listen_srv *);

/* metrics.c: Prometheus metrics, GET /metrics and /healthz (see its top). */
struct metrics;
struct metric;
enum metrics_type {
	METRICS_COUNTER = 0,
	METRICS_GAUGE,
	METRICS_HISTOGRAM
};
#define METRICS_MAX_LABELS	2
#define METRICS_MAX_SERIES	64	/* per metric; more count as "other" */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
struct metrics *metrics_new(void);
void	 metrics_free(struct metrics *);
/*
 * Register a metric. labels: NULL or comma-separated names ("service,
 * status"); bounds: a histogram's upper bounds, ascending (+Inf is
 * implied). Bad names or bounds are fatal (a programming error).
 */
struct metric *metrics_add(struct metrics *, enum metrics_type,
	    const char *name, const char *help, const char *labels,
	    const double *bounds, size_t nbounds);
/* values: one per label, in order; NULL for a metric without labels. */
void	 metrics_inc(struct metric *, const char *const *values, double);
void	 metrics_set(struct metric *, const char *const *values, double);
void	 metrics_observe(struct metric *, const char *const *values, double);
/* The text exposition format 0.0.4; caller frees. */
char	*metrics_render(struct metrics *, size_t *len);
/* The daemon's metrics: at start (listens on metrics.listen), after a
 * reload (rebinds if it changed), at the end. */
int	 metrics_init(char **cause);
void	 metrics_reload(void);
void	 metrics_shutdown(void);
/* A metrics.listen value: HOST:PORT (an IP address), or a bare PORT for
 * 127.0.0.1; 0 or -1 with *errstr. loopback may be NULL. */
int	 metrics_listen_check(const char *, int *loopback,
	    const char **errstr);
/* Hooks: one call where each thing happens. */
void	 metrics_envelope(const char *type);
void	 metrics_ack(uint64_t received_ms);
void	 metrics_ack_batch(void);
void	 metrics_api_call(const char *service, const struct http_response *);
void	 metrics_command(const char *name);
/* A command refused before it ran: "rate", "backlog" or "access". */
void	 metrics_command_refused(const char *reason);
void	 metrics_job_ended(const char *kind, const char *outcome);
/* A PagerDuty webhook request answered (pd_webhook_outcomes). */
void	 metrics_pd_webhook(const char *outcome);
/* The Jira poller (follow.c) succeeded at this time; /healthz reads it. */
void	 metrics_poll_ok(time_t);
/* What GET /metrics answers, gauges read now; caller frees. */
char	*metrics_text(size_t *len);
/* What GET /healthz says: NULL if healthy, else why (caller frees). */
char	*metrics_health(void);
/* The same from its inputs (last_poll 0: no good poll yet, not judged). */
char	*metrics_health_why(int connected, time_t last_poll,
	    long long poll_interval, time_t now);

#endif
