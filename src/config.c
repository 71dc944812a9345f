/*
 * config.c: the YAML configuration file.
 *
 * Every key is one row of conf_table[]. A generic walker over libyaml's
 * document tree fills a fresh struct config and collects every problem as
 * "FILE:LINE: message", so check-config shows them all in one run and a
 * reload either swaps in a complete configuration or nothing. There is no
 * code for individual keys beyond the validators and a few cross-key rules
 * in conf_rules(). Only this file includes <yaml.h>.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "incidentd.h"

#define CONF_MAX_FILE		(1024 * 1024)	/* YAML files */
#define CONF_MAX_SECRET_FILE	(64 * 1024)
#define CONF_MAX_VALUE		4096		/* bytes in one value */
#define CONF_MAX_KEY		256
#define CONF_MAX_LIST		1000
#define CONF_MAX_SHORTCUTS	1000
#define CONF_MAX_NAME		64		/* shortcut names */
#define CONF_MAX_MAP		10000		/* entries of a CONF_MAP */
#define CONF_MAX_JIRA_USER	128
#define CONF_MAX_LONG_TEXT	1000		/* characters */
#define CONF_MAX_ERRORS		100
#define CONF_MAX_DURATION	(3650LL * 86400)
#define CONF_SHOW		80		/* conf_show() of a key */
#define CONF_SHOW_PATH		1024		/* ... of a path */

#define CONF_LINE(n)		((size_t)(n)->start_mark.line + 1)
#define CONF_PTR(c, e)		((void *)((char *)(c) + (e)->off))
#define CONF_STR(c, e)		((char **)CONF_PTR(c, e))

enum conf_type {
	CONF_STRING,
	CONF_SECRET,		/* or k_file, or INCIDENTD_<SECTION>_<KEY> */
	CONF_PATH,		/* relative to the config file's directory */
	CONF_URL,		/* config_check_base_url, no trailing slash */
	CONF_DURATION,		/* long long seconds */
	CONF_INT,		/* long long */
	CONF_SIZE,		/* long long bytes, K/M/G/T suffixes */
	CONF_LOGLEVEL,		/* int */
	CONF_ENUM,		/* int, index into names */
	CONF_BOOL,		/* int, true/false/yes/no */
	CONF_LIST,		/* struct strlist */
	CONF_SECRET_LIST,	/* struct strlist of secrets (inline only) */
	CONF_SHORTCUTS,		/* struct shortcuts */
	CONF_SHORTCUTS_FILE,	/* PATH, loaded into off2 */
	CONF_MAP		/* struct conf_map of strings */
};

#define CONF_REQUIRED	0x1
#define CONF_READABLE	0x2	/* PATH: a readable regular file */
#define CONF_MULTILINE	0x4	/* STRING: newlines and tabs allowed */

struct conf_entry {
	const char		 *path;	/* "section.key" or "key" */
	enum conf_type		  type;
	size_t			  off;	/* into struct config */
	size_t			  off2;	/* SHORTCUTS_FILE: the list */
	const char		 *def;	/* default as text, or NULL */
	int			  flags;
	long long		  min;	/* INT, SIZE, DURATION */
	long long		  max;
	/* DURATION: below this, a warning that it is meant for tests. */
	long long		  warn_below;
	const char		 *warn_why;
	const char *const	 *names; /* ENUM, NULL-terminated */
	/* Validate (and maybe normalize in place); errstr is static. */
	int			(*check)(char *, const char **);
	int			(*check_key)(char *, const char **); /* MAP */
	const char		 *excludes; /* a key not to set as well */
};

static int	conf_check_app_token(char *, const char **);
static int	conf_check_bot_token(char *, const char **);
static int	conf_check_user_token(char *, const char **);
static int	conf_check_jira_user(char *, const char **);
static int	conf_check_long_text(char *, const char **);
static int	conf_check_user_id(char *, const char **);
static int	conf_check_emoji(char *, const char **);
static int	conf_check_channel_prefix(char *, const char **);
static int	conf_check_project(char *, const char **);
static int	conf_check_field(char *, const char **);
static int	conf_check_text_field(char *, const char **);
static int	conf_check_label(char *, const char **);
static int	conf_check_email(char *, const char **);
static int	conf_check_pd_id(char *, const char **);
static int	conf_check_short_text(char *, const char **);
static int	conf_check_timezone(char *, const char **);
static int	conf_check_access_id(char *, const char **);
static int	conf_check_listen(char *, const char **);
static int	conf_check_url_path(char *, const char **);
static int	conf_check_action(char *, const char **);
static int	conf_check_minutes(char *, const char **);
static int	conf_check_proxy_url(char *, const char **);
static int	conf_check_no_proxy(char *, const char **);

static const char *const conf_pd_modes[] = {
	"per_incident", "per_page", NULL
};
static const char *const conf_pd_resolve[] = {
	"ask", "auto", "never", NULL	/* enum conf_pd_resolve */
};
static const char *const conf_flavors[] = {
	"auto", "cloud", "datacenter", NULL	/* enum conf_jira_flavor */
};

#define O(f)	offsetof(struct config, f)
static const struct conf_entry conf_table[] = {
	{ .path = "state_dir", .type = CONF_PATH, .off = O(state_dir),
	  .def = "/var/lib/incidentd" },
	{ .path = "log_level", .type = CONF_LOGLEVEL, .off = O(log_level),
	  .def = "info" },
	{ .path = "map_size", .type = CONF_SIZE, .off = O(map_size),
	  .def = "1073741824", .min = 1LL << 20, .max = 1LL << 40 },
	{ .path = "map_size_max", .type = CONF_SIZE, .off = O(map_size_max),
	  .min = 1LL << 20, .max = 1LL << 43 },
	{ .path = "tls.ca_file", .type = CONF_PATH, .off = O(tls_ca_file),
	  .flags = CONF_READABLE },

	{ .path = "proxy.url", .type = CONF_STRING, .off = O(proxy.url),
	  .check = conf_check_proxy_url },
	{ .path = "proxy.password", .type = CONF_SECRET,
	  .off = O(proxy.password) },
	{ .path = "proxy.no_proxy", .type = CONF_STRING,
	  .off = O(proxy.no_proxy), .check = conf_check_no_proxy },

	{ .path = "slack.api_url", .type = CONF_URL, .off = O(slack.api_url),
	  .def = "https://slack.com/api" },
	{ .path = "slack.app_token", .type = CONF_SECRET,
	  .off = O(slack.app_token), .flags = CONF_REQUIRED,
	  .check = conf_check_app_token },
	{ .path = "slack.bot_token", .type = CONF_SECRET,
	  .off = O(slack.bot_token), .flags = CONF_REQUIRED,
	  .check = conf_check_bot_token },
	{ .path = "slack.user_token", .type = CONF_SECRET,
	  .off = O(slack.user_token), .check = conf_check_user_token },
	{ .path = "slack.incident_managers", .type = CONF_LIST,
	  .off = O(slack.incident_managers), .check = conf_check_user_id },
	{ .path = "slack.timeline_emoji", .type = CONF_STRING,
	  .off = O(slack.timeline_emoji), .def = "memo",
	  .check = conf_check_emoji },
	{ .path = "slack.channel_prefix", .type = CONF_STRING,
	  .off = O(slack.channel_prefix), .def = "inc-",
	  .check = conf_check_channel_prefix },
	{ .path = "slack.allow_guests", .type = CONF_BOOL,
	  .off = O(slack.allow_guests), .def = "false" },

	{ .path = "access.page", .type = CONF_LIST, .off = O(access.page),
	  .check = conf_check_access_id },
	{ .path = "access.commands", .type = CONF_LIST,
	  .off = O(access.commands), .check = conf_check_access_id },
	{ .path = "access.commands_per_minute", .type = CONF_INT,
	  .off = O(access.commands_per_minute), .def = "10", .min = 1,
	  .max = 10000 },
	{ .path = "access.max_page_targets", .type = CONF_INT,
	  .off = O(access.max_page_targets), .def = "50", .min = 1,
	  .max = 500 },

	{ .path = "jira.url", .type = CONF_URL, .off = O(jira.url),
	  .flags = CONF_REQUIRED },
	{ .path = "jira.email", .type = CONF_STRING, .off = O(jira.email),
	  .check = conf_check_email },
	{ .path = "jira.api_token", .type = CONF_SECRET,
	  .off = O(jira.api_token), .flags = CONF_REQUIRED },
	{ .path = "jira.project", .type = CONF_STRING, .off = O(jira.project),
	  .flags = CONF_REQUIRED, .check = conf_check_project },
	{ .path = "jira.projects", .type = CONF_LIST, .off = O(jira.projects),
	  .check = conf_check_project },
	{ .path = "jira.issue_type", .type = CONF_STRING,
	  .off = O(jira.issue_type), .def = "Incident",
	  .check = conf_check_short_text },
	{ .path = "jira.aar_field", .type = CONF_STRING,
	  .off = O(jira.aar_field), .check = conf_check_field },
	{ .path = "jira.postmortem_field", .type = CONF_STRING,
	  .off = O(jira.postmortem_field), .check = conf_check_text_field },
	{ .path = "jira.followup_label", .type = CONF_STRING,
	  .off = O(jira.followup_label), .def = "corrective-action",
	  .check = conf_check_label },
	{ .path = "jira.flavor", .type = CONF_ENUM, .off = O(jira.flavor),
	  .def = "auto", .names = conf_flavors },
	{ .path = "jira.users", .type = CONF_MAP, .off = O(jira.users),
	  .check_key = conf_check_jira_user, .check = conf_check_user_id },

	{ .path = "pagerduty.api_url", .type = CONF_URL,
	  .off = O(pagerduty.api_url), .def = "https://api.pagerduty.com" },
	{ .path = "pagerduty.api_token", .type = CONF_SECRET,
	  .off = O(pagerduty.api_token), .flags = CONF_REQUIRED },
	{ .path = "pagerduty.from", .type = CONF_STRING,
	  .off = O(pagerduty.from), .flags = CONF_REQUIRED,
	  .check = conf_check_email },
	{ .path = "pagerduty.incident_manager_service", .type = CONF_STRING,
	  .off = O(pagerduty.incident_manager_service),
	  .flags = CONF_REQUIRED, .check = conf_check_pd_id },
	{ .path = "pagerduty.default_service", .type = CONF_STRING,
	  .off = O(pagerduty.default_service), .check = conf_check_pd_id },
	{ .path = "pagerduty.shortcuts", .type = CONF_SHORTCUTS,
	  .off = O(pagerduty.shortcuts) },
	{ .path = "pagerduty.shortcuts_file", .type = CONF_SHORTCUTS_FILE,
	  .off = O(pagerduty.shortcuts_file),
	  .off2 = O(pagerduty.shortcuts), .excludes = "pagerduty.shortcuts" },
	{ .path = "pagerduty.incident_mode", .type = CONF_ENUM,
	  .off = O(pagerduty.incident_mode), .def = "per_incident",
	  .names = conf_pd_modes },
	{ .path = "pagerduty.max_concurrency", .type = CONF_INT,
	  .off = O(pagerduty.max_concurrency), .def = "8", .min = 1,
	  .max = 64 },
	{ .path = "pagerduty.poll_interval", .type = CONF_DURATION,
	  .off = O(pagerduty.poll_interval), .def = "30s", .min = 1,
	  .max = 86400, .warn_below = 10,
	  .warn_why = "each poll reads every open PagerDuty incident" },
	{ .path = "pagerduty.ack_timeout", .type = CONF_DURATION,
	  .off = O(pagerduty.ack_timeout), .def = "5m", .min = 1,
	  .max = CONF_MAX_DURATION },
	{ .path = "pagerduty.webhook.listen", .type = CONF_STRING,
	  .off = O(pagerduty.webhook.listen), .check = conf_check_listen },
	{ .path = "pagerduty.webhook.listen_public", .type = CONF_BOOL,
	  .off = O(pagerduty.webhook.listen_public), .def = "false" },
	{ .path = "pagerduty.webhook.path", .type = CONF_STRING,
	  .off = O(pagerduty.webhook.path), .def = "/pagerduty",
	  .check = conf_check_url_path },
	{ .path = "pagerduty.webhook.secrets", .type = CONF_SECRET_LIST,
	  .off = O(pagerduty.webhook.secrets) },
	{ .path = "pagerduty.webhook.max_age", .type = CONF_DURATION,
	  .off = O(pagerduty.webhook.max_age), .def = "5m", .min = 1,
	  .max = 86400 },
	{ .path = "pagerduty.resolve_on_close", .type = CONF_ENUM,
	  .off = O(pagerduty.resolve_on_close), .def = "ask",
	  .names = conf_pd_resolve },

	{ .path = "schedule.poll_interval", .type = CONF_DURATION,
	  .off = O(schedule.poll_interval), .def = "5m", .min = 1,
	  .max = CONF_MAX_DURATION, .warn_below = 10,
	  .warn_why = "each poll is a Jira search" },
	{ .path = "schedule.archive_after", .type = CONF_DURATION,
	  .off = O(schedule.archive_after), .def = "10d", .min = 1,
	  .max = CONF_MAX_DURATION },
	{ .path = "schedule.followup_warn_before", .type = CONF_DURATION,
	  .off = O(schedule.followup_warn_before), .def = "2d", .min = 0,
	  .max = CONF_MAX_DURATION },
	{ .path = "schedule.aar_expectations", .type = CONF_STRING,
	  .off = O(schedule.aar_expectations), .flags = CONF_MULTILINE,
	  .def = "Please have the postmortem draft ready and the timeline "
	  "attached (type `get timeline` in the incident channel).",
	  .check = conf_check_long_text },

	{ .path = "timeline.timezone", .type = CONF_STRING,
	  .off = O(timeline.timezone), .def = "UTC",
	  .check = conf_check_timezone },
	{ .path = "timeline.history_per_minute", .type = CONF_INT,
	  .off = O(timeline.history_per_minute), .def = "1", .min = 1,
	  .max = 6000 },
	{ .path = "timeline.history_page_size", .type = CONF_INT,
	  .off = O(timeline.history_page_size), .def = "15", .min = 1,
	  .max = 999 },
	{ .path = "timeline.cache_days", .type = CONF_INT,
	  .off = O(timeline.cache_days), .def = "30", .min = 1, .max = 3650 },
	{ .path = "timeline.backfill_max", .type = CONF_DURATION,
	  .off = O(timeline.backfill_max), .def = "30d", .min = 3600,
	  .max = CONF_MAX_DURATION },

	{ .path = "metrics.listen", .type = CONF_STRING,
	  .off = O(metrics.listen), .check = conf_check_listen },
	{ .path = "metrics.listen_public", .type = CONF_BOOL,
	  .off = O(metrics.listen_public), .def = "false" },
	{ .path = "metrics.manual_minutes", .type = CONF_MAP,
	  .off = O(metrics.manual_minutes), .check_key = conf_check_action,
	  .check = conf_check_minutes },
	{ .path = "metrics.aar_within", .type = CONF_DURATION,
	  .off = O(metrics.aar_within), .def = "7d", .min = 3600,
	  .max = CONF_MAX_DURATION },

	{ .path = "jobs.max_pending", .type = CONF_INT,
	  .off = O(limits.jobs_max_pending), .def = "5000", .min = 1,
	  .max = 1000000 },
	{ .path = "http.max_per_host", .type = CONF_INT,
	  .off = O(limits.http_max_per_host), .def = "8", .min = 1,
	  .max = 64 },
};
#undef O
#define CONF_NENTRIES	(sizeof(conf_table) / sizeof(conf_table[0]))

/* Problems of one load, shared with the shortcuts file it names. */
struct conf_errors {
	struct strlist	*list;
	size_t		 count;	/* also those past the cap */
};

struct conf_ctx {
	const char		*file;		/* for messages */
	char			*dir;	/* base of relative paths */
	struct conf_errors	*errs;
	struct config		*conf;
	yaml_document_t		*doc;
	/* Indexed like conf_table[]; section[] by a section's first key. */
	size_t			 line[CONF_NENTRIES];	/* key's line */
	size_t			 fline[CONF_NENTRIES];	/* k_file's line */
	int			 given[CONF_NENTRIES];	/* value set */
	int			 fgiven[CONF_NENTRIES];	/* k_file set */
	size_t			 section[CONF_NENTRIES];
	struct stat		 sb;		/* of the file itself */
	size_t			 inline_secret;	/* line of one, or 0 */
};

/* cfg itself is defined in reactor.c with the other process globals. */
static char	 conf_errbuf[128];
static time_t	 conf_shortcuts_mtime;	/* of the watched file */

static void	 conf_error(struct conf_ctx *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static const char *conf_show(const char *, char *, size_t);
static const char *conf_kind(const yaml_node_t *);
static int	 conf_is_null(const yaml_node_t *);
static int	 conf_find(const char *);
static int	 conf_section_find(const char *);
static int	 conf_subsection(const char *);
static void	 conf_walk_sub(struct conf_ctx *, const char *, yaml_node_t *);
static int	 conf_section_of(size_t);
static size_t	 conf_section_line(struct conf_ctx *, size_t);
static void	 conf_ctx_init(struct conf_ctx *, const char *,
		    struct conf_errors *);
static void	 conf_ctx_clear(struct conf_ctx *);
static char	*conf_resolve(struct conf_ctx *, const char *);
static int	 conf_open(const char *, int *, struct stat *,
		    const char **);
static int	 conf_read_file(const char *, size_t, char **, size_t *,
		    struct stat *, const char **);
static void	 conf_warn(struct conf_ctx *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 conf_check_mode(struct conf_ctx *, const char *,
		    const struct stat *, int, size_t, const char *);
static int	 conf_yaml_load(struct conf_ctx *, const char *,
		    yaml_document_t *, const char **);
static void	 conf_yaml_error(struct conf_ctx *, yaml_parser_t *,
		    const char *, size_t);
static void	 conf_yaml_free(yaml_document_t *);
static void	 conf_parser_free(yaml_parser_t *);
static unsigned	 conf_distance(const char *, const char *);
static const char *conf_suggest(const char *, const char *const *,
		    char *, size_t);
static void	 conf_unknown(struct conf_ctx *, size_t, const char *,
		    const char *, const char *const *);
static const char *conf_key(struct conf_ctx *, yaml_node_t *);
static const char *conf_scalar(struct conf_ctx *, const char *,
		    yaml_node_t *);
static int	 conf_check_text(struct conf_ctx *, const char *,
		    const char *, size_t, int);
static int	 conf_walk(struct conf_ctx *, yaml_node_t *);
static void	 conf_walk_key(struct conf_ctx *, const char *,
		    const char *, yaml_node_t *, yaml_node_t *);
static int	 conf_conflict(struct conf_ctx *, size_t, int, size_t);
static void	 conf_set(struct conf_ctx *, size_t, yaml_node_t *, int);
static void	 conf_set_list(struct conf_ctx *, size_t, yaml_node_t *);
static void	 conf_set_map(struct conf_ctx *, size_t, yaml_node_t *);
static int	 conf_map_item_cmp_cb(const void *, const void *);
static void	 conf_map_free(struct conf_map *);
static int	 conf_is_token(const char *);
static void	 conf_trim_end(char *);
static void	 conf_assign(struct conf_ctx *, size_t, const char *,
		    size_t, const char *);
static void	 conf_secret_file(struct conf_ctx *, size_t, const char *,
		    size_t);
static int	 conf_parse_size(const char *, long long *);
static void	 conf_fmt_duration(long long, char *, size_t);
static void	 conf_fmt_size(long long, char *, size_t);
static void	 conf_parse_shortcuts(struct conf_ctx *, yaml_node_t *,
		    const char *, struct shortcuts *);
static int	 conf_parse_shortcut(struct conf_ctx *, yaml_node_t *,
		    const char *, size_t, struct shortcut *);
static int	 conf_shortcuts_file(struct conf_ctx *, const char *,
		    struct shortcuts *, const char **);
static int	 conf_shortcut_cmp_cb(const void *, const void *);
static void	 conf_finish(struct conf_ctx *);
static void	 conf_rules(struct conf_ctx *);
static int	 conf_only(const char *, const char *);
static void	 conf_poll_shortcuts_cb(void *);

/*
 * Record a problem as "FILE:LINE: message". Past CONF_MAX_ERRORS only the
 * count grows: a hostile file must not produce megabytes of output.
 */
static void
conf_error(struct conf_ctx *ctx, size_t line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	ctx->errs->count++;
	if (ctx->errs->count > CONF_MAX_ERRORS + 1)
		return;
	if (ctx->errs->count == CONF_MAX_ERRORS + 1) {
		strlist_addf(ctx->errs->list, "%s:%zu: too many problems, "
		    "giving up", ctx->file, line);
		return;
	}
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	strlist_addf(ctx->errs->list, "%s:%zu: %s", ctx->file, line, msg);
	free(msg);
}

/* A warning: reported by check-config and logged, but not fatal. */
static void
conf_warn(struct conf_ctx *ctx, size_t line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (ctx->conf->warnings.n >= CONF_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	strlist_addf(&ctx->conf->warnings, "%s:%zu: warning: %s", ctx->file,
	    line, msg);
	free(msg);
}

/*
 * Who else can read a file with secrets in it. World-readable is refused:
 * every local account could take the tokens. Group-readable is what the
 * package installs (0640 root:incidentd) and passes when the group is the
 * one the daemon runs as; any other group gets a warning.
 */
static void
conf_check_mode(struct conf_ctx *ctx, const char *show, const struct stat *sb,
    int secret, size_t line, const char *label)
{
	mode_t	m = sb->st_mode & 07777;

	if ((m & S_IROTH) && secret) {
		conf_error(ctx, line, "%s: %s holds a secret and is readable "
		    "by everyone (mode %04o); chmod o-r it", label, show,
		    (unsigned)m);
		return;
	}
	if (m & S_IROTH)
		conf_warn(ctx, line, "%s is readable by everyone (mode %04o)",
		    show, (unsigned)m);
	else if ((m & S_IRGRP) && sb->st_gid != getegid())
		conf_warn(ctx, line, "%s%s is readable by its group (mode "
		    "%04o, gid %u), which incidentd does not run as",
		    secret ? "a secret: " : "", show, (unsigned)m,
		    (unsigned)sb->st_gid);
	if (m & (S_IWGRP | S_IWOTH))
		conf_warn(ctx, line, "%s is writable by others (mode %04o)",
		    show, (unsigned)m);
}

/* A printable, bounded copy of untrusted text for a message. */
static const char *
conf_show(const char *s, char *buf, size_t size)
{
	size_t		i, o = 0;
	unsigned char	c;

	for (i = 0; s[i] != '\0' && o + 4 < size; i++) {
		c = (unsigned char)s[i];
		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i] != '\0' && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return (buf);
}

/* How to name a node's kind in "expected X, got Y". */
static const char *
conf_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return ("a mapping");
	case YAML_SEQUENCE_NODE:
		return ("a list");
	default:
		return ("a single value");
	}
}

/* True for an empty value: "key:", "key: ~" or "key: null". */
static int
conf_is_null(const yaml_node_t *n)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	s = (const char *)n->data.scalar.value;
	return (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

/* Index of the entry for a full path, or -1. */
static int
conf_find(const char *path)
{
	size_t	i;

	for (i = 0; i < CONF_NENTRIES; i++) {
		if (strcmp(conf_table[i].path, path) == 0)
			return ((int)i);
	}
	return (-1);
}

/* Index of the first entry of section name, or -1 if not a section. */
static int
conf_section_find(const char *name)
{
	size_t	i, len = strlen(name);

	if (len == 0 || strchr(name, '.') != NULL)
		return (-1);
	for (i = 0; i < CONF_NENTRIES; i++) {
		if (strncmp(conf_table[i].path, name, len) == 0 &&
		    conf_table[i].path[len] == '.')
			return ((int)i);
	}
	return (-1);
}

/* The first entry of entry i's section, or -1 for a top-level key. */
static int
conf_section_of(size_t i)
{
	const char	*dot;
	size_t		 j, len;

	if ((dot = strchr(conf_table[i].path, '.')) == NULL)
		return (-1);
	len = dot - conf_table[i].path + 1;
	for (j = 0; j < i; j++) {
		if (strncmp(conf_table[j].path, conf_table[i].path, len) == 0)
			return ((int)j);
	}
	return ((int)i);
}

/* Where to report a key that is absent: its section's line, or 1. */
static size_t
conf_section_line(struct conf_ctx *ctx, size_t i)
{
	int	s;

	if ((s = conf_section_of(i)) == -1 || ctx->section[s] == 0)
		return (1);
	return (ctx->section[s]);
}

static void
conf_ctx_init(struct conf_ctx *ctx, const char *file,
    struct conf_errors *errs)
{
	const char	*slash;

	memset(ctx, 0, sizeof(*ctx));
	ctx->file = file;
	ctx->errs = errs;
	if ((slash = strrchr(file, '/')) == NULL)
		ctx->dir = NULL;
	else if (slash == file)
		ctx->dir = xstrdup("/");
	else
		ctx->dir = xstrndup(file, slash - file);
}

static void
conf_ctx_clear(struct conf_ctx *ctx)
{
	free(ctx->dir);
	ctx->dir = NULL;
}

/* Relative paths in the file are relative to the file's directory. */
static char *
conf_resolve(struct conf_ctx *ctx, const char *path)
{
	char	*r;

	if (*path == '/' || ctx->dir == NULL)
		return (xstrdup(path));
	if (strcmp(ctx->dir, "/") == 0)
		xasprintf(&r, "/%s", path);
	else
		xasprintf(&r, "%s/%s", ctx->dir, path);
	return (r);
}

/* Open a regular file for reading without blocking on a FIFO. */
static int
conf_open(const char *path, int *fdp, struct stat *sb, const char **why)
{
	int	fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		*why = strerror(errno);
		return (-1);
	}
	if (fstat(fd, sb) == -1) {
		*why = strerror(errno);
		close(fd);
		return (-1);
	}
	if (!S_ISREG(sb->st_mode)) {
		*why = "not a regular file";
		close(fd);
		return (-1);
	}
	*fdp = fd;
	return (0);
}

/* Read a whole file of at most max bytes; NUL-terminated. */
static int
conf_read_file(const char *path, size_t max, char **bufp, size_t *lenp,
    struct stat *sbp, const char **why)
{
	struct stat	 sb;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if (conf_open(path, &fd, &sb, why) == -1)
		return (-1);
	if (sb.st_size < 0 || (unsigned long long)sb.st_size > max) {
		*why = "file too large";
		close(fd);
		return (-1);
	}
	/* One byte more than allowed, to notice a file that grew. */
	buf = xmalloc(max + 2);
	for (;;) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*why = strerror(errno);
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			*why = "file too large";
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	if (sbp != NULL)
		*sbp = sb;
	return (0);
fail:
	explicit_bzero(buf, max + 2);
	free(buf);
	close(fd);
	return (-1);
}

/*
 * Parse one YAML document from path. Returns -1 with *why set if the file
 * cannot be read (nothing reported), or -1 with *why NULL after reporting
 * syntax errors.
 */
static int
conf_yaml_load(struct conf_ctx *ctx, const char *path, yaml_document_t *doc,
    const char **why)
{
	yaml_parser_t	 parser;
	yaml_document_t	 extra;
	char		*buf;
	size_t		 len;
	int		 rv = -1;

	*why = NULL;
	if (conf_read_file(path, CONF_MAX_FILE, &buf, &len, &ctx->sb,
	    why) == -1)
		return (-1);
	if (!yaml_parser_initialize(&parser))
		fatalx("%s: yaml_parser_initialize failed", __func__);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf,
	    len);
	if (!yaml_parser_load(&parser, doc)) {
		conf_yaml_error(ctx, &parser, buf, len);
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		conf_yaml_error(ctx, &parser, buf, len);
		conf_yaml_free(doc);
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		conf_error(ctx, (size_t)extra.start_mark.line + 1,
		    "only one YAML document is allowed");
		conf_yaml_free(&extra);
		conf_yaml_free(doc);
		goto out;
	}
	conf_yaml_free(&extra);
	rv = 0;
out:
	conf_parser_free(&parser);
	explicit_bzero(buf, len);
	free(buf);
	return (rv);
}

/* Report libyaml's syntax error with its line. */
static void
conf_yaml_error(struct conf_ctx *ctx, yaml_parser_t *p, const char *buf,
    size_t len)
{
	const char	*problem;
	size_t		 line, i, off;

	problem = p->problem != NULL ? p->problem : "unknown error";
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		conf_error(ctx, 0, "out of memory");
		break;
	case YAML_READER_ERROR:
		/* Reader errors carry a byte offset, not a mark. */
		off = p->problem_offset < len ? p->problem_offset : len;
		for (line = 1, i = 0; i < off; i++) {
			if (buf[i] == '\n')
				line++;
		}
		conf_error(ctx, line, "invalid input: %s", problem);
		break;
	default:
		line = (size_t)p->problem_mark.line + 1;
		if (p->context != NULL)
			conf_error(ctx, line, "syntax error: %s (%s at line "
			    "%zu)", problem, p->context,
			    (size_t)p->context_mark.line + 1);
		else
			conf_error(ctx, line, "syntax error: %s", problem);
		break;
	}
}

/* Free a document, zeroing scalars first: they may hold secrets. */
static void
conf_yaml_free(yaml_document_t *doc)
{
	yaml_node_t	*n;

	for (n = doc->nodes.start; n != NULL && n < doc->nodes.top; n++) {
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value != NULL)
			explicit_bzero(n->data.scalar.value,
			    n->data.scalar.length);
	}
	yaml_document_delete(doc);
}

/* Free a parser, zeroing its copies of the input. */
static void
conf_parser_free(yaml_parser_t *p)
{
	if (p->raw_buffer.start != NULL)
		explicit_bzero(p->raw_buffer.start,
		    p->raw_buffer.end - p->raw_buffer.start);
	if (p->buffer.start != NULL)
		explicit_bzero(p->buffer.start,
		    p->buffer.end - p->buffer.start);
	yaml_parser_delete(p);
}

/* Optimal string alignment distance (typos incl. transpositions). */
static unsigned
conf_distance(const char *a, const char *b)
{
	unsigned	d[CONF_MAX_NAME + 1][CONF_MAX_NAME + 1], c, v;
	size_t		la = strlen(a), lb = strlen(b), i, j;

	if (la > CONF_MAX_NAME || lb > CONF_MAX_NAME)
		return (UINT_MAX);
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			c = a[i - 1] != b[j - 1];
			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + c < v)
				v = d[i - 1][j - 1] + c;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return (d[la][lb]);
}

/*
 * A known name close to path: within edit distance 2, else the one key
 * anywhere with the same last component (bot_token -> slack.bot_token).
 * With names NULL, the candidates are every key of conf_table[].
 */
static const char *
conf_suggest(const char *path, const char *const *names, char *buf,
    size_t size)
{
	char		 cand[CONF_MAX_NAME + 8];
	char		 leafbuf[CONF_MAX_NAME + 8];
	const char	*leaf, *cleaf, *dot;
	unsigned	 best = 3, d;
	size_t		 i, k, nleaf = 0;

	*buf = '\0';
	leaf = (dot = strrchr(path, '.')) != NULL ? dot + 1 : path;
	for (i = 0; names != NULL ? names[i] != NULL : i < CONF_NENTRIES;
	    i++) {
		for (k = 0; k < 3; k++) {
			if (names != NULL) {
				if (k > 0)
					break;
				strlcpy(cand, names[i], sizeof(cand));
			} else if (k == 0)
				strlcpy(cand, conf_table[i].path, sizeof(cand));
			else if (k == 1 && conf_table[i].type == CONF_SECRET)
				snprintf(cand, sizeof(cand), "%s_file",
				    conf_table[i].path);
			else if (k == 2 && conf_section_of(i) == (int)i) {
				strlcpy(cand, conf_table[i].path, sizeof(cand));
				cand[strcspn(cand, ".")] = '\0';
			} else
				continue;
			/* names are the keys of one mapping: compare leaves. */
			d = conf_distance(names != NULL ? leaf : path, cand);
			/* "lb" is no typo of "tls": short words need less. */
			if (d < best && d * 3 <= strlen(leaf) + 1) {
				best = d;
				strlcpy(buf, cand, size);
			}
			cleaf = (dot = strrchr(cand, '.')) != NULL ?
			    dot + 1 : cand;
			if (names == NULL && strcmp(cleaf, leaf) == 0 &&
			    strcmp(cand, path) != 0) {
				nleaf++;
				strlcpy(leafbuf, cand, sizeof(leafbuf));
			}
		}
	}
	if (*buf != '\0' && best > 0)
		return (buf);
	if (nleaf == 1) {
		strlcpy(buf, leafbuf, size);
		return (buf);
	}
	*buf = '\0';
	return (NULL);
}

/* Report an unknown key, with a suggestion if one is close. */
static void
conf_unknown(struct conf_ctx *ctx, size_t line, const char *key,
    const char *path, const char *const *names)
{
	char	 show[CONF_SHOW], sug[CONF_MAX_NAME + 8];

	conf_show(path, show, sizeof(show));
	if (strchr(key, '.') != NULL)
		conf_error(ctx, line, "unknown key %s (dotted keys are not "
		    "supported; use nested mappings)", show);
	else if (conf_suggest(path, names, sug, sizeof(sug)) != NULL)
		conf_error(ctx, line, "unknown key %s (did you mean %s?)", show,
		    sug);
	else
		conf_error(ctx, line, "unknown key %s", show);
}

/* A mapping key's text, or NULL after reporting a non-string key. */
static const char *
conf_key(struct conf_ctx *ctx, yaml_node_t *k)
{
	if (k == NULL)
		return (NULL);
	if (k->type != YAML_SCALAR_NODE) {
		conf_error(ctx, CONF_LINE(k), "keys must be strings, got %s",
		    conf_kind(k));
		return (NULL);
	}
	if (k->data.scalar.length > CONF_MAX_KEY ||
	    strlen((char *)k->data.scalar.value) != k->data.scalar.length) {
		conf_error(ctx, CONF_LINE(k), "invalid key");
		return (NULL);
	}
	return ((const char *)k->data.scalar.value);
}

/* A scalar's text, or NULL after reporting a list or mapping. */
static const char *
conf_scalar(struct conf_ctx *ctx, const char *label, yaml_node_t *v)
{
	if (v->type != YAML_SCALAR_NODE) {
		conf_error(ctx, CONF_LINE(v), "%s: expected a single value, "
		    "got %s", label, conf_kind(v));
		return (NULL);
	}
	if (strlen((char *)v->data.scalar.value) != v->data.scalar.length) {
		conf_error(ctx, CONF_LINE(v), "%s: NUL bytes are not allowed",
		    label);
		return (NULL);
	}
	return ((const char *)v->data.scalar.value);
}

/* Checks every value gets: not empty, bounded, no control characters. */
static int
conf_check_text(struct conf_ctx *ctx, const char *label, const char *s,
    size_t line, int multiline)
{
	const unsigned char	*p;

	if (*s == '\0') {
		conf_error(ctx, line, "%s: empty value", label);
		return (-1);
	}
	if (strlen(s) > CONF_MAX_VALUE) {
		conf_error(ctx, line, "%s: value too long (limit %d bytes)",
		    label, CONF_MAX_VALUE);
		return (-1);
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (multiline && (*p == '\n' || *p == '\t'))
			continue;
		if (*p < 0x20 || *p == 0x7f) {
			conf_error(ctx, line, "%s: control characters are not "
			    "allowed", label);
			return (-1);
		}
	}
	return (0);
}

/*
 * Walk the top-level mapping and the section mappings under it; -1 if the
 * document is not a mapping at all (then missing keys are just noise).
 */
static int
conf_walk(struct conf_ctx *ctx, yaml_node_t *root)
{
	yaml_document_t		*doc = ctx->doc;
	yaml_node_pair_t	*p, *q;
	yaml_node_t		*k, *v, *k2, *v2;
	const char		*key, *key2;
	char			*path, show[CONF_SHOW];
	int			 s;

	if (root == NULL || conf_is_null(root))
		return (0);
	if (root->type != YAML_MAPPING_NODE) {
		conf_error(ctx, CONF_LINE(root), "expected a mapping of keys "
		    "at the top level, got %s", conf_kind(root));
		return (-1);
	}
	for (p = root->data.mapping.pairs.start;
	    p < root->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(doc, p->key);
		v = yaml_document_get_node(doc, p->value);
		if ((key = conf_key(ctx, k)) == NULL || v == NULL)
			continue;
		if ((s = conf_section_find(key)) == -1) {
			conf_walk_key(ctx, key, key, k, v);
			continue;
		}
		if (ctx->section[s] != 0) {
			conf_error(ctx, CONF_LINE(k), "duplicate key %s (first "
			    "at line %zu)", conf_show(key, show, sizeof(show)),
			    ctx->section[s]);
			continue;
		}
		ctx->section[s] = CONF_LINE(k);
		if (conf_is_null(v))
			continue;
		if (v->type != YAML_MAPPING_NODE) {
			conf_error(ctx, CONF_LINE(v), "%s: expected a mapping, "
			    "got %s", key, conf_kind(v));
			continue;
		}
		for (q = v->data.mapping.pairs.start;
		    q < v->data.mapping.pairs.top; q++) {
			k2 = yaml_document_get_node(doc, q->key);
			v2 = yaml_document_get_node(doc, q->value);
			if ((key2 = conf_key(ctx, k2)) == NULL || v2 == NULL)
				continue;
			xasprintf(&path, "%s.%s", key, key2);
			if (v2->type == YAML_MAPPING_NODE &&
			    conf_subsection(path))
				conf_walk_sub(ctx, path, v2);
			else
				conf_walk_key(ctx, key2, path, k2, v2);
			free(path);
		}
	}
	return (0);
}

/* 1 if path ("pagerduty.webhook") has keys of its own below it. */
static int
conf_subsection(const char *path)
{
	size_t	i, len = strlen(path);

	for (i = 0; i < CONF_NENTRIES; i++) {
		if (strncmp(conf_table[i].path, path, len) == 0 &&
		    conf_table[i].path[len] == '.')
			return (1);
	}
	return (0);
}

/* The keys of a mapping one level down ("pagerduty.webhook.listen"). */
static void
conf_walk_sub(struct conf_ctx *ctx, const char *prefix, yaml_node_t *v)
{
	yaml_node_pair_t	*q;
	yaml_node_t		*k, *v2;
	const char		*key;
	char			*path;

	for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
	    q++) {
		k = yaml_document_get_node(ctx->doc, q->key);
		v2 = yaml_document_get_node(ctx->doc, q->value);
		if ((key = conf_key(ctx, k)) == NULL || v2 == NULL)
			continue;
		xasprintf(&path, "%s.%s", prefix, key);
		conf_walk_key(ctx, key, path, k, v2);
		free(path);
	}
}

/* One key: a table entry, a secret's k_file, or unknown. */
static void
conf_walk_key(struct conf_ctx *ctx, const char *key, const char *path,
    yaml_node_t *k, yaml_node_t *v)
{
	char	*stem, show[CONF_SHOW];
	size_t	 len = strlen(path);
	int	 i, from_file = 0;

	if (strchr(key, '.') != NULL)
		i = -1;
	else if ((i = conf_find(path)) == -1 && len > 5 &&
	    strcmp(path + len - 5, "_file") == 0) {
		stem = xstrndup(path, len - 5);
		i = conf_find(stem);
		free(stem);
		if (i != -1 && conf_table[i].type != CONF_SECRET)
			i = -1;
		from_file = 1;
	}
	if (i == -1) {
		conf_unknown(ctx, CONF_LINE(k), key, path, NULL);
		return;
	}
	if (from_file ? ctx->fline[i] != 0 : ctx->line[i] != 0) {
		conf_error(ctx, CONF_LINE(k), "duplicate key %s (first at line "
		    "%zu)", conf_show(path, show, sizeof(show)),
		    from_file ? ctx->fline[i] : ctx->line[i]);
		return;
	}
	if (from_file)
		ctx->fline[i] = CONF_LINE(k);
	else
		ctx->line[i] = CONF_LINE(k);
	conf_set(ctx, i, v, from_file);
}

/* Report if entry i (or its k_file) may not be set with one already set. */
static int
conf_conflict(struct conf_ctx *ctx, size_t i, int from_file, size_t line)
{
	const struct conf_entry	*e = &conf_table[i], *o;
	size_t			 j;

	if (e->type == CONF_SECRET &&
	    (from_file ? ctx->given[i] : ctx->fgiven[i])) {
		conf_error(ctx, line, "%s and %s_file are both set; use one",
		    e->path, e->path);
		return (-1);
	}
	for (j = 0; j < CONF_NENTRIES; j++) {
		o = &conf_table[j];
		if (!ctx->given[j])
			continue;
		if ((e->excludes != NULL &&
		    strcmp(e->excludes, o->path) == 0) ||
		    (o->excludes != NULL &&
		    strcmp(o->excludes, e->path) == 0)) {
			conf_error(ctx, line, "%s and %s are both set; use one",
			    o->path, e->path);
			return (-1);
		}
	}
	return (0);
}

/* Set entry i from a YAML value (from_file: the value is k_file's). */
static void
conf_set(struct conf_ctx *ctx, size_t i, yaml_node_t *v, int from_file)
{
	const struct conf_entry	*e = &conf_table[i];
	const char		*s;
	char			*label, *trimmed;

	if (conf_is_null(v))
		return;	/* as if absent: default or environment */
	if (conf_conflict(ctx, i, from_file, CONF_LINE(v)) == -1)
		return;
	if (from_file)
		ctx->fgiven[i] = 1;
	else {
		ctx->given[i] = 1;
		if ((e->type == CONF_SECRET ||
		    e->type == CONF_SECRET_LIST) && ctx->inline_secret == 0)
			ctx->inline_secret = CONF_LINE(v);
	}
	if (e->type == CONF_LIST || e->type == CONF_SECRET_LIST) {
		conf_set_list(ctx, i, v);
		return;
	}
	if (e->type == CONF_SHORTCUTS) {
		conf_parse_shortcuts(ctx, v, e->path, CONF_PTR(ctx->conf, e));
		return;
	}
	if (e->type == CONF_MAP) {
		conf_set_map(ctx, i, v);
		return;
	}
	if (from_file)
		xasprintf(&label, "%s_file", e->path);
	else
		label = xstrdup(e->path);
	if ((s = conf_scalar(ctx, label, v)) != NULL) {
		if (from_file) {
			if (conf_check_text(ctx, label, s, CONF_LINE(v),
			    0) == 0)
				conf_secret_file(ctx, i, s, CONF_LINE(v));
		} else if (e->flags & CONF_MULTILINE) {
			trimmed = xstrdup(s);
			conf_trim_end(trimmed);
			conf_assign(ctx, i, trimmed, CONF_LINE(v), label);
			free(trimmed);
		} else
			conf_assign(ctx, i, s, CONF_LINE(v), label);
	}
	free(label);
}

/* A list of strings, each checked by the entry's validator. */
static void
conf_set_list(struct conf_ctx *ctx, size_t i, yaml_node_t *v)
{
	const struct conf_entry	*e = &conf_table[i];
	struct strlist		*sl = CONF_PTR(ctx->conf, e);
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s, *errstr;
	char			*copy;
	size_t			 count;

	if (v->type != YAML_SEQUENCE_NODE) {
		conf_error(ctx, CONF_LINE(v), "%s: expected a list, got %s",
		    e->path, conf_kind(v));
		return;
	}
	count = v->data.sequence.items.top - v->data.sequence.items.start;
	if (count > CONF_MAX_LIST) {
		conf_error(ctx, CONF_LINE(v), "%s: too many items (limit %d)",
		    e->path, CONF_MAX_LIST);
		return;
	}
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		if ((n = yaml_document_get_node(ctx->doc, *it)) == NULL)
			continue;
		if ((s = conf_scalar(ctx, e->path, n)) == NULL ||
		    conf_check_text(ctx, e->path, s, CONF_LINE(n), 0) == -1)
			continue;
		if (e->type == CONF_SECRET_LIST && !conf_is_token(s)) {
			conf_error(ctx, CONF_LINE(n), "%s: must be printable "
			    "ASCII without spaces", e->path);
			continue;
		}
		copy = xstrdup(s);
		if (e->check != NULL && e->check(copy, &errstr) == -1)
			conf_error(ctx, CONF_LINE(n), "%s: %s", e->path,
			    errstr);
		else
			strlist_add(sl, copy);
		explicit_bzero(copy, strlen(copy));
		free(copy);
	}
}

/* One pair of a CONF_MAP while it is read, before sorting. */
struct conf_map_item {
	char	*key;
	char	*value;
	size_t	 line;		/* of the key */
};

/*
 * A mapping of strings to strings: keys checked by the entry's check_key,
 * values by its check. Kept sorted by key so that config_map_get can
 * search it; a key given twice is reported at its second line (after the
 * other problems of the mapping, as duplicates show only once sorted).
 */
static void
conf_set_map(struct conf_ctx *ctx, size_t i, yaml_node_t *v)
{
	const struct conf_entry	*e = &conf_table[i];
	struct conf_map		*m = CONF_PTR(ctx->conf, e);
	struct conf_map_item	*items, *it;
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *val;
	const char		*key, *s, *errstr;
	char			*label, *kcopy, *vcopy, show[CONF_SHOW];
	size_t			 count, n = 0, j, first = 0;

	if (v->type != YAML_MAPPING_NODE) {
		conf_error(ctx, CONF_LINE(v), "%s: expected a mapping, got %s",
		    e->path, conf_kind(v));
		return;
	}
	count = v->data.mapping.pairs.top - v->data.mapping.pairs.start;
	if (count > CONF_MAX_MAP) {
		conf_error(ctx, CONF_LINE(v), "%s: too many entries (limit "
		    "%d)", e->path, CONF_MAX_MAP);
		return;
	}
	items = xcalloc(count + 1, sizeof(*items));
	for (p = v->data.mapping.pairs.start;
	    p < v->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(ctx->doc, p->key);
		val = yaml_document_get_node(ctx->doc, p->value);
		if ((key = conf_key(ctx, k)) == NULL || val == NULL)
			continue;
		xasprintf(&label, "%s: %s", e->path,
		    conf_show(key, show, sizeof(show)));
		kcopy = xstrdup(key);
		vcopy = NULL;
		if (e->check_key != NULL && e->check_key(kcopy, &errstr) == -1)
			conf_error(ctx, CONF_LINE(k), "%s: %s", label, errstr);
		else if (conf_is_null(val))
			conf_error(ctx, CONF_LINE(k), "%s: a value is required",
			    label);
		else if ((s = conf_scalar(ctx, label, val)) != NULL &&
		    conf_check_text(ctx, label, s, CONF_LINE(val), 0) == 0) {
			vcopy = xstrdup(s);
			if (e->check != NULL &&
			    e->check(vcopy, &errstr) == -1) {
				conf_error(ctx, CONF_LINE(val), "%s: %s", label,
				    errstr);
				free(vcopy);
				vcopy = NULL;
			}
		}
		if (vcopy != NULL) {
			items[n].key = kcopy;
			items[n].value = vcopy;
			items[n++].line = CONF_LINE(k);
		} else
			free(kcopy);
		free(label);
	}
	qsort(items, n, sizeof(*items), conf_map_item_cmp_cb);
	m->keys = xcalloc(n + 1, sizeof(*m->keys));
	m->values = xcalloc(n + 1, sizeof(*m->values));
	for (j = 0; j < n; j++) {
		it = &items[j];
		if (m->n > 0 && strcmp(m->keys[m->n - 1], it->key) == 0) {
			conf_error(ctx, it->line, "%s: duplicate key %s (first "
			    "at line %zu)", e->path,
			    conf_show(it->key, show, sizeof(show)), first);
			free(it->key);
			free(it->value);
			continue;
		}
		first = it->line;
		m->keys[m->n] = it->key;
		m->values[m->n++] = it->value;
	}
	free(items);
}

/* By key, then by line: the first of duplicates is the one kept. */
static int
conf_map_item_cmp_cb(const void *a, const void *b)
{
	const struct conf_map_item	*ia = a, *ib = b;
	int				 c;

	if ((c = strcmp(ia->key, ib->key)) != 0)
		return (c);
	return (ia->line < ib->line ? -1 : ia->line > ib->line);
}

static void
conf_map_free(struct conf_map *m)
{
	size_t	i;

	for (i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

/*
 * Convert and validate text for entry i and store it. label names the
 * source in messages: the key, or "key (from SOURCE)".
 */
static void
conf_assign(struct conf_ctx *ctx, size_t i, const char *s, size_t line,
    const char *label)
{
	const struct conf_entry	*e = &conf_table[i];
	struct config		*conf = ctx->conf;
	const char		*errstr, *why;
	char			*copy, buf[64], buf2[64];
	char			 show[CONF_SHOW_PATH];
	long long		 n;
	int			 level, fd;
	size_t			 k, len;
	struct stat		 sb;

	if (conf_check_text(ctx, label, s, line,
	    (e->flags & CONF_MULTILINE) != 0) == -1)
		return;
	switch (e->type) {
	case CONF_STRING:
	case CONF_SECRET:
		if (e->type == CONF_SECRET && !conf_is_token(s)) {
			conf_error(ctx, line, "%s: must be printable ASCII "
			    "without spaces", label);
			return;
		}
		copy = xstrdup(s);
		if (e->check != NULL && e->check(copy, &errstr) == -1) {
			conf_error(ctx, line, "%s: %s", label, errstr);
			explicit_bzero(copy, strlen(copy));
			free(copy);
			return;
		}
		*CONF_STR(conf, e) = copy;
		break;
	case CONF_PATH:
		copy = conf_resolve(ctx, s);
		if (e->flags & CONF_READABLE) {
			if (conf_open(copy, &fd, &sb, &why) == -1) {
				conf_error(ctx, line, "%s: cannot read %s: %s",
				    label, conf_show(copy, show, sizeof(show)),
				    why);
				free(copy);
				return;
			}
			close(fd);
		}
		*CONF_STR(conf, e) = copy;
		break;
	case CONF_URL:
		if (config_check_base_url(s, &errstr) == -1) {
			conf_error(ctx, line, "%s: %s", label, errstr);
			return;
		}
		copy = xstrdup(s);
		len = strlen(copy);
		if (len > 0 && copy[len - 1] == '/')
			copy[len - 1] = '\0';
		*CONF_STR(conf, e) = copy;
		break;
	case CONF_DURATION:
		if (config_parse_duration(s, &n, &errstr) == -1) {
			conf_error(ctx, line, "%s: %s", label, errstr);
			return;
		}
		if (n < e->min || n > e->max) {
			conf_fmt_duration(n < e->min ? e->min : e->max, buf,
			    sizeof(buf));
			conf_error(ctx, line, "%s: must be at %s %s", label,
			    n < e->min ? "least" : "most", buf);
			return;
		}
		if (n < e->warn_below) {
			conf_fmt_duration(e->warn_below, buf, sizeof(buf));
			conf_warn(ctx, ctx->line[i] != 0 ? ctx->line[i] : line,
			    "%s below %s is meant for tests: %s", e->path, buf,
			    e->warn_why);
		}
		*(long long *)CONF_PTR(conf, e) = n;
		break;
	case CONF_INT:
		n = strtonum(s, e->min, e->max, &errstr);
		if (errstr != NULL) {
			conf_error(ctx, line, "%s: must be a whole number from "
			    "%lld to %lld", label, e->min, e->max);
			return;
		}
		*(long long *)CONF_PTR(conf, e) = n;
		break;
	case CONF_SIZE:
		if (conf_parse_size(s, &n) == -1 || n < e->min || n > e->max) {
			conf_fmt_size(e->min, buf, sizeof(buf));
			conf_fmt_size(e->max, buf2, sizeof(buf2));
			conf_error(ctx, line, "%s: must be a size from %s to "
			    "%s (bytes, or a number with K, M, G or T)", label,
			    buf, buf2);
			return;
		}
		*(long long *)CONF_PTR(conf, e) = n;
		break;
	case CONF_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
		    strcmp(s, "on") == 0)
			*(int *)CONF_PTR(conf, e) = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
		    strcmp(s, "off") == 0)
			*(int *)CONF_PTR(conf, e) = 0;
		else {
			conf_error(ctx, line, "%s: must be true or false",
			    label);
			return;
		}
		break;
	case CONF_LOGLEVEL:
		if ((level = log_level_parse(s)) == -1) {
			conf_error(ctx, line, "%s: must be one of error, warn, "
			    "info or debug", label);
			return;
		}
		*(int *)CONF_PTR(conf, e) = level;
		break;
	case CONF_ENUM:
		for (k = 0; e->names[k] != NULL; k++) {
			if (strcmp(e->names[k], s) == 0)
				break;
		}
		if (e->names[k] == NULL) {
			buf[0] = '\0';
			for (k = 0; e->names[k] != NULL; k++) {
				if (k > 0)
					strlcat(buf, e->names[k + 1] != NULL ?
					    ", " : " or ", sizeof(buf));
				strlcat(buf, e->names[k], sizeof(buf));
			}
			conf_error(ctx, line, "%s: must be one of %s", label,
			    buf);
			return;
		}
		*(int *)CONF_PTR(conf, e) = (int)k;
		break;
	case CONF_SHORTCUTS_FILE:
		copy = conf_resolve(ctx, s);
		if (conf_shortcuts_file(ctx, copy,
		    (struct shortcuts *)((char *)conf + e->off2), &why) == -1 &&
		    why != NULL)
			conf_error(ctx, line, "%s: cannot read %s: %s", label,
			    conf_show(copy, show, sizeof(show)), why);
		*CONF_STR(conf, e) = copy;
		break;
	case CONF_LIST:
	case CONF_SECRET_LIST:
	case CONF_SHORTCUTS:
	case CONF_MAP:
		fatalx("%s: %s is not a scalar", __func__, e->path);
	}
}

/* A secret from k_file: the file's contents without trailing newlines. */
static void
conf_secret_file(struct conf_ctx *ctx, size_t i, const char *path,
    size_t line)
{
	const struct conf_entry	*e = &conf_table[i];
	char			*file, *buf, *label, show[CONF_SHOW_PATH];
	const char		*why;
	size_t			 len;
	struct stat		 sb;

	file = conf_resolve(ctx, path);
	conf_show(file, show, sizeof(show));
	if (conf_read_file(file, CONF_MAX_SECRET_FILE, &buf, &len, &sb,
	    &why) == -1) {
		conf_error(ctx, line, "%s_file: cannot read %s: %s", e->path,
		    show, why);
		free(file);
		return;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	xasprintf(&label, "%s (from %s)", e->path, show);
	conf_check_mode(ctx, show, &sb, 1, line, label);
	if (memchr(buf, '\0', len) != NULL)
		conf_error(ctx, line, "%s: NUL bytes are not allowed", label);
	else
		conf_assign(ctx, i, buf, line, label);
	explicit_bzero(buf, len);
	free(buf);
	free(label);
	free(file);
}

/* Bytes, or a number with K, M, G or T (KiB... also accepted). */
static int
conf_parse_size(const char *s, long long *out)
{
	static const char	*units = "KMGT";
	const char		*p, *u;
	long long		 n = 0, mult = 1;
	int			 d;

	if (*s < '0' || *s > '9')
		return (-1);
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		d = *p - '0';
		if (n > (LLONG_MAX - d) / 10)
			return (-1);
		n = n * 10 + d;
	}
	if (*p != '\0') {
		if ((u = strchr(units, *p)) == NULL)
			return (-1);
		for (d = 0; d <= u - units; d++)
			mult *= 1024;
		p++;
		if (strcmp(p, "iB") != 0 && *p != '\0')
			return (-1);
		if (n > LLONG_MAX / mult)
			return (-1);
		n *= mult;
	}
	*out = n;
	return (0);
}

/* Seconds as "1d2h3m4s" (zero parts left out), for messages. */
static void
conf_fmt_duration(long long s, char *buf, size_t size)
{
	static const struct {
		char		u;
		long long	secs;
	} parts[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
	char	part[32];
	size_t	i;

	buf[0] = '\0';
	if (s == 0) {
		strlcpy(buf, "0s", size);
		return;
	}
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (s / parts[i].secs == 0)
			continue;
		snprintf(part, sizeof(part), "%lld%c", s / parts[i].secs,
		    parts[i].u);
		strlcat(buf, part, size);
		s %= parts[i].secs;
	}
}

/* Bytes as "1 MiB" when round, for messages. */
static void
conf_fmt_size(long long n, char *buf, size_t size)
{
	static const char	*names[] = { "TiB", "GiB", "MiB", "KiB" };
	int			 i, shift;

	for (i = 0; i < 4; i++) {
		shift = 40 - 10 * i;
		if (n >= (1LL << shift) && n % (1LL << shift) == 0) {
			snprintf(buf, size, "%lld %s", n >> shift, names[i]);
			return;
		}
	}
	snprintf(buf, size, "%lld bytes", n);
}

/* Parse name: {service, description} pairs into sc, sorted by name. */
static void
conf_parse_shortcuts(struct conf_ctx *ctx, yaml_node_t *node,
    const char *label, struct shortcuts *sc)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*name, **names = NULL;
	char			*path, show[CONF_SHOW];
	size_t			*lines = NULL, count, n = 0, j;
	struct shortcut		 s;

	if (node->type != YAML_MAPPING_NODE) {
		conf_error(ctx, CONF_LINE(node), "%s: expected a mapping of "
		    "shortcut names, got %s", label != NULL ? label :
		    "top level", conf_kind(node));
		return;
	}
	count = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
	if (count > CONF_MAX_SHORTCUTS) {
		conf_error(ctx, CONF_LINE(node), "%s: too many shortcuts "
		    "(limit %d)", label != NULL ? label : "top level",
		    CONF_MAX_SHORTCUTS);
		return;
	}
	names = xcalloc(count + 1, sizeof(*names));
	lines = xcalloc(count + 1, sizeof(*lines));
	for (p = node->data.mapping.pairs.start;
	    p < node->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(ctx->doc, p->key);
		v = yaml_document_get_node(ctx->doc, p->value);
		if ((name = conf_key(ctx, k)) == NULL || v == NULL)
			continue;
		conf_show(name, show, sizeof(show));
		if (label != NULL)
			xasprintf(&path, "%s.%s", label, show);
		else
			path = xstrdup(show);
		if (strlen(name) > CONF_MAX_NAME || *name == '-' ||
		    *name == '_' || conf_only(name, "a0_-") == -1) {
			conf_error(ctx, CONF_LINE(k), "%s: invalid shortcut "
			    "name (use up to %d lowercase letters, digits, _ "
			    "and -, starting with a letter or digit)", path,
			    CONF_MAX_NAME);
			free(path);
			continue;
		}
		for (j = 0; j < n; j++) {
			if (strcmp(names[j], name) == 0)
				break;
		}
		if (j < n) {
			conf_error(ctx, CONF_LINE(k), "duplicate shortcut %s "
			    "(first at line %zu)", path, lines[j]);
			free(path);
			continue;
		}
		names[n] = name;
		lines[n++] = CONF_LINE(k);
		if (conf_parse_shortcut(ctx, v, path, CONF_LINE(k), &s) == 0) {
			s.name = xstrdup(name);
			sc->v = xreallocarray(sc->v, sc->n + 1,
			    sizeof(*sc->v));
			sc->v[sc->n++] = s;
		}
		free(path);
	}
	free(names);
	free(lines);
	if (sc->n > 1)
		qsort(sc->v, sc->n, sizeof(*sc->v), conf_shortcut_cmp_cb);
}

/* One shortcut's {service, description}; 0 if valid. */
static int
conf_parse_shortcut(struct conf_ctx *ctx, yaml_node_t *node,
    const char *path, size_t kline, struct shortcut *out)
{
	static const char *const names[] = { "service", "description",
				    NULL };
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*key, *s, *errstr;
	char			*label, *copy, **dst;
	size_t			 before = ctx->errs->count, which;
	size_t			 seen[2] = { 0, 0 };

	memset(out, 0, sizeof(*out));
	if (node->type != YAML_MAPPING_NODE) {
		conf_error(ctx, CONF_LINE(node), "%s: expected a mapping with "
		    "service and description, got %s", path, conf_kind(node));
		return (-1);
	}
	for (p = node->data.mapping.pairs.start;
	    p < node->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(ctx->doc, p->key);
		v = yaml_document_get_node(ctx->doc, p->value);
		if ((key = conf_key(ctx, k)) == NULL || v == NULL)
			continue;
		xasprintf(&label, "%s.%s", path, key);
		if (strcmp(key, "service") == 0)
			which = 0;
		else if (strcmp(key, "description") == 0)
			which = 1;
		else {
			conf_unknown(ctx, CONF_LINE(k), key, label, names);
			free(label);
			continue;
		}
		if (seen[which] != 0) {
			conf_error(ctx, CONF_LINE(k), "duplicate key %s (first "
			    "at line %zu)", label, seen[which]);
			free(label);
			continue;
		}
		seen[which] = CONF_LINE(k);
		dst = which == 0 ? &out->service : &out->description;
		if (conf_is_null(v) || (which == 1 && v->type ==
		    YAML_SCALAR_NODE && v->data.scalar.length == 0)) {
			if (which == 0)
				conf_error(ctx, CONF_LINE(v), "%s: a value is "
				    "required", label);
			free(label);
			continue;
		}
		if ((s = conf_scalar(ctx, label, v)) == NULL ||
		    conf_check_text(ctx, label, s, CONF_LINE(v),
		    which == 1) == -1) {
			free(label);
			continue;
		}
		copy = xstrdup(s);
		if (which == 1)
			conf_trim_end(copy);
		else if (conf_check_pd_id(copy, &errstr) == -1) {
			conf_error(ctx, CONF_LINE(v), "%s: %s", label, errstr);
			free(copy);
			free(label);
			continue;
		}
		*dst = copy;
		free(label);
	}
	if (seen[0] == 0)
		conf_error(ctx, kline, "%s: missing required key service",
		    path);
	if (ctx->errs->count != before) {
		free(out->service);
		free(out->description);
		memset(out, 0, sizeof(*out));
		return (-1);
	}
	if (out->description == NULL)
		out->description = xstrdup("");
	return (0);
}

/*
 * Load a shortcuts file, reporting problems under its own name. Returns -1
 * with *why set if it cannot be read (nothing reported).
 */
static int
conf_shortcuts_file(struct conf_ctx *parent, const char *path,
    struct shortcuts *sc, const char **why)
{
	struct conf_ctx	 ctx;
	yaml_document_t	 doc;
	yaml_node_t	*root;
	size_t		 before = parent->errs->count;

	conf_ctx_init(&ctx, path, parent->errs);
	ctx.conf = parent->conf;
	if (conf_yaml_load(&ctx, path, &doc, why) == -1) {
		conf_ctx_clear(&ctx);
		return (-1);
	}
	ctx.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !conf_is_null(root))
		conf_parse_shortcuts(&ctx, root, NULL, sc);
	conf_yaml_free(&doc);
	conf_ctx_clear(&ctx);
	return (parent->errs->count == before ? 0 : -1);
}

static int
conf_shortcut_cmp_cb(const void *a, const void *b)
{
	const struct shortcut	*sa = a, *sb = b;

	return (strcmp(sa->name, sb->name));
}

/* After the walk: secrets from the environment, defaults, required keys. */
static void
conf_finish(struct conf_ctx *ctx)
{
	const struct conf_entry	*e;
	char			 env[128], *label, alt[256];
	const char		*val;
	size_t			 i, k, line;

	for (i = 0; i < CONF_NENTRIES; i++) {
		e = &conf_table[i];
		if (ctx->given[i] || ctx->fgiven[i])
			continue;
		alt[0] = '\0';
		if (e->type == CONF_SECRET) {
			/* slack.bot_token -> INCIDENTD_SLACK_BOT_TOKEN */
			snprintf(env, sizeof(env), "INCIDENTD_%s", e->path);
			for (k = 0; env[k] != '\0'; k++) {
				if (env[k] == '.')
					env[k] = '_';
				else if (env[k] >= 'a' && env[k] <= 'z')
					env[k] = env[k] - 'a' + 'A';
			}
			if ((val = getenv(env)) != NULL && *val != '\0') {
				ctx->given[i] = 1;
				xasprintf(&label, "%s (from %s)", e->path, env);
				conf_assign(ctx, i, val,
				    conf_section_line(ctx, i), label);
				free(label);
				continue;
			}
			snprintf(alt, sizeof(alt), " (or %s_file, or %s)",
			    e->path, env);
		}
		if (e->flags & CONF_REQUIRED) {
			line = ctx->line[i] > ctx->fline[i] ? ctx->line[i] :
			    ctx->fline[i];
			if (line != 0)
				conf_error(ctx, line, "%s: a value is "
				    "required%s", e->path, alt);
			else
				conf_error(ctx, conf_section_line(ctx, i),
				    "missing required key %s%s", e->path, alt);
		} else if (e->def != NULL)
			conf_assign(ctx, i, e->def, 0, e->path);
	}
	conf_rules(ctx);
}

/* Rules between keys that one table row cannot express. */
static void
conf_rules(struct conf_ctx *ctx)
{
	struct config	*conf = ctx->conf;
	struct url	 u;
	const char	*errstr;
	size_t		 len;
	int		 loopback;
	int		 fi = conf_find("jira.flavor");
	int		 ui = conf_find("jira.url");

	/* Unset: eight times map_size (see config_map_size_max). */
	if (conf->map_size_max != 0 && conf->map_size_max < conf->map_size)
		conf_error(ctx, ctx->line[conf_find("map_size_max")],
		    "map_size_max (%lld) is smaller than map_size (%lld)",
		    conf->map_size_max, conf->map_size);
	/* The endpoint has no authentication: loopback unless asked. */
	if (conf->metrics.listen != NULL && !conf->metrics.listen_public &&
	    metrics_listen_check(conf->metrics.listen, &loopback,
	    &errstr) == 0 && !loopback)
		conf_error(ctx, ctx->line[conf_find("metrics.listen")],
		    "metrics.listen: %s is not a loopback address; set "
		    "metrics.listen_public: true to serve metrics beyond this "
		    "host", conf->metrics.listen);
	/* The webhook checks signatures, but is meant behind a proxy. */
	if (conf->pagerduty.webhook.listen != NULL &&
	    !conf->pagerduty.webhook.listen_public &&
	    listen_check(conf->pagerduty.webhook.listen, &loopback,
	    &errstr) == 0 && !loopback)
		conf_error(ctx, ctx->line[conf_find("pagerduty.webhook.listen")],
		    "pagerduty.webhook.listen: %s is not a loopback address; "
		    "put a TLS proxy in front, or set "
		    "pagerduty.webhook.listen_public: true",
		    conf->pagerduty.webhook.listen);
	if (conf->pagerduty.webhook.listen != NULL &&
	    conf->pagerduty.webhook.secrets.n == 0)
		conf_error(ctx, ctx->line[conf_find("pagerduty.webhook.listen")],
		    "pagerduty.webhook.listen needs pagerduty.webhook.secrets "
		    "(the subscription's signing secret)");
	if (conf->proxy.password != NULL && (conf->proxy.url == NULL ||
	    strchr(conf->proxy.url, '@') == NULL))
		conf_error(ctx, conf_section_line(ctx, conf_find("proxy.password")),
		    "proxy.password needs a user in proxy.url "
		    "(http://user@host:port)");
	if (ctx->given[conf_find("jira.email")])
		return;
	/* Cloud only takes email:token Basic auth; no email means a PAT. */
	if (conf->jira.flavor == JIRA_FLAVOR_CLOUD) {
		conf_error(ctx, ctx->line[fi], "jira.email is required when "
		    "jira.flavor is cloud");
		return;
	}
	if (conf->jira.flavor != JIRA_FLAVOR_AUTO || conf->jira.url == NULL ||
	    url_parse(conf->jira.url, &u, &errstr) == -1)
		return;
	len = strlen(u.host);
	if ((len > 14 && strcmp(u.host + len - 14, ".atlassian.net") == 0))
		conf_error(ctx, ctx->line[ui], "jira.email is required for "
		    "Jira Cloud (an atlassian.net site); for Data Center set "
		    "jira.flavor: datacenter");
	url_free(&u);
}

/* The store's growth ceiling: map_size_max, or eight times map_size. */
long long
config_map_size_max(const struct config *conf)
{
	if (conf->map_size_max != 0)
		return (conf->map_size_max);
	if (conf->map_size > LLONG_MAX / 8)
		return (LLONG_MAX);
	return (conf->map_size * 8);
}

/* Parse path into a fresh config; NULL and errors appended on problems. */
struct config *
config_load(const char *path, struct strlist *errors)
{
	struct conf_errors	 errs = { errors, 0 };
	struct conf_ctx		*ctx;
	struct config		*conf;
	yaml_document_t		 doc;
	const char		*why;
	char			 show[CONF_SHOW_PATH];
	int			 rv;

	ctx = xcalloc(1, sizeof(*ctx));
	conf_ctx_init(ctx, path, &errs);
	conf = ctx->conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(path);
	if (conf_yaml_load(ctx, path, &doc, &why) == -1) {
		if (why != NULL)
			conf_error(ctx, 0, "cannot open: %s", why);
		goto out;
	}
	ctx->doc = &doc;
	rv = conf_walk(ctx, yaml_document_get_root_node(&doc));
	ctx->doc = NULL;
	conf_yaml_free(&doc);
	if (rv == 0)
		conf_finish(ctx);
	conf_check_mode(ctx, conf_show(path, show, sizeof(show)), &ctx->sb,
	    ctx->inline_secret != 0, ctx->inline_secret != 0 ?
	    ctx->inline_secret : 1, ctx->inline_secret != 0 ?
	    "inline secret" : "configuration file");
out:
	conf_ctx_clear(ctx);
	free(ctx);
	if (errs.count != 0) {
		config_free(conf);
		return (NULL);
	}
	return (conf);
}

/* Free a config, zeroing its secrets; NULL is fine. */
void
config_free(struct config *conf)
{
	const struct conf_entry	*e;
	char			*s;
	struct strlist		*sl;
	size_t			 i, k;

	if (conf == NULL)
		return;
	for (i = 0; i < CONF_NENTRIES; i++) {
		e = &conf_table[i];
		switch (e->type) {
		case CONF_SECRET:
			if ((s = *CONF_STR(conf, e)) != NULL)
				explicit_bzero(s, strlen(s));
			/* FALLTHROUGH */
		case CONF_STRING:
		case CONF_PATH:
		case CONF_URL:
		case CONF_SHORTCUTS_FILE:
			free(*CONF_STR(conf, e));
			*CONF_STR(conf, e) = NULL;
			break;
		case CONF_SECRET_LIST:
			sl = CONF_PTR(conf, e);
			for (k = 0; k < sl->n; k++)
				explicit_bzero(sl->v[k], strlen(sl->v[k]));
			/* FALLTHROUGH */
		case CONF_LIST:
			strlist_free(CONF_PTR(conf, e));
			break;
		case CONF_SHORTCUTS:
			config_free_shortcuts(CONF_PTR(conf, e));
			break;
		case CONF_MAP:
			conf_map_free(CONF_PTR(conf, e));
			break;
		default:
			break;
		}
	}
	strlist_free(&conf->warnings);
	free(conf->path);
	free(conf);
}

/*
 * Parse a duration: whole numbers with units s, m, h or d, combined as in
 * "1h30m"; a bare number is seconds. errstr may point to a static buffer.
 */
int
config_parse_duration(const char *s, long long *secs, const char **errstr)
{
	const char	*p = s, *num, *unit;
	long long	 total = 0, n, mult;
	int		 d, seen = 0, bit;
	size_t		 ulen;

	if (*s == '\0') {
		*errstr = "empty duration";
		return (-1);
	}
	if (*s == '-') {
		*errstr = "negative durations are not allowed";
		return (-1);
	}
	while (*p != '\0') {
		if (*p < '0' || *p > '9') {
			snprintf(conf_errbuf, sizeof(conf_errbuf), "expected a "
			    "number at '%c' (use s, m, h or d after whole "
			    "numbers, like 1h30m)",
			    (*p >= 0x20 && *p < 0x7f) ? *p : '?');
			*errstr = conf_errbuf;
			return (-1);
		}
		num = p;
		for (n = 0; *p >= '0' && *p <= '9'; p++) {
			d = *p - '0';
			if (n > (LLONG_MAX - d) / 10) {
				*errstr = "duration too large";
				return (-1);
			}
			n = n * 10 + d;
		}
		if (*p == '\0' && num == s) {
			total = n;	/* bare number: seconds */
			break;
		}
		unit = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			p++;
		ulen = p - unit;
		if (ulen == 0 && *p == '\0') {
			snprintf(conf_errbuf, sizeof(conf_errbuf), "missing "
			    "unit after %.*s (use s, m, h or d)",
			    (int)(p - num > 20 ? 20 : p - num), num);
			*errstr = conf_errbuf;
			return (-1);
		}
		if (ulen == 0) {
			snprintf(conf_errbuf, sizeof(conf_errbuf), "unexpected "
			    "'%c' (use whole numbers with s, m, h or d, like "
			    "1h30m)", (*p >= 0x20 && *p < 0x7f) ? *p : '?');
			*errstr = conf_errbuf;
			return (-1);
		}
		if (ulen != 1 || strchr("smhd", *unit) == NULL) {
			snprintf(conf_errbuf, sizeof(conf_errbuf), "unknown "
			    "unit '%.*s' (use s, m, h or d)",
			    (int)(ulen > 10 ? 10 : ulen), unit);
			*errstr = conf_errbuf;
			return (-1);
		}
		switch (*unit) {
		case 'd':
			mult = 86400;
			bit = 1;
			break;
		case 'h':
			mult = 3600;
			bit = 2;
			break;
		case 'm':
			mult = 60;
			bit = 4;
			break;
		default:
			mult = 1;
			bit = 8;
			break;
		}
		if (seen & bit) {
			snprintf(conf_errbuf, sizeof(conf_errbuf), "unit '%c' "
			    "given twice", *unit);
			*errstr = conf_errbuf;
			return (-1);
		}
		seen |= bit;
		if (n > LLONG_MAX / mult || total > LLONG_MAX - n * mult) {
			*errstr = "duration too large";
			return (-1);
		}
		total += n * mult;
	}
	*secs = total;
	*errstr = NULL;
	return (0);
}

/* https to anywhere, http only to loopback (tests and local proxies). */
int
config_check_base_url(const char *s, const char **errstr)
{
	struct url		 u;
	const unsigned char	*p;
	const char		*auth;
	int			 rv = -1;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			*errstr = "must be ASCII without spaces "
			    "(percent-encode other characters)";
			return (-1);
		}
	}
	if (!str_has_prefix(s, "https://") && !str_has_prefix(s, "http://")) {
		*errstr = "must be an https:// URL";
		return (-1);
	}
	auth = strstr(s, "://") + 3;
	if (memchr(auth, '@', strcspn(auth, "/?#")) != NULL) {
		*errstr = "must not contain user information (credentials "
		    "belong in the token keys)";
		return (-1);
	}
	if (url_parse(s, &u, errstr) == -1)
		return (-1);
	if (!u.tls && !url_host_is_loopback(u.host))
		*errstr = "http:// is only allowed for loopback hosts; "
		    "use https://";
	else if (strpbrk(s, "?#") != NULL)
		*errstr = "must not contain a query or fragment";
	else {
		*errstr = NULL;
		rv = 0;
	}
	url_free(&u);
	return (rv);
}

/* Load a shortcuts file into sc (sorted by name); -1 with errors. */
int
config_load_shortcuts(const char *path, struct shortcuts *sc,
    struct strlist *errors)
{
	struct conf_errors	 errs = { errors, 0 };
	struct conf_ctx		*ctx;
	const char		*why;

	memset(sc, 0, sizeof(*sc));
	ctx = xcalloc(1, sizeof(*ctx));
	conf_ctx_init(ctx, path, &errs);
	if (conf_shortcuts_file(ctx, path, sc, &why) == -1 && why != NULL)
		conf_error(ctx, 0, "cannot open: %s", why);
	conf_ctx_clear(ctx);
	free(ctx);
	if (errs.count != 0) {
		config_free_shortcuts(sc);
		return (-1);
	}
	return (0);
}

/* Free the shortcuts and reset the list. */
void
config_free_shortcuts(struct shortcuts *sc)
{
	size_t	i;

	for (i = 0; i < sc->n; i++) {
		free(sc->v[i].name);
		free(sc->v[i].service);
		free(sc->v[i].description);
	}
	free(sc->v);
	sc->v = NULL;
	sc->n = 0;
}

/*
 * The value for key in m, or NULL: a binary search, as a map can hold
 * thousands of entries and is read on every lookup of a user.
 */
const char *
config_map_get(const struct conf_map *m, const char *key)
{
	size_t	lo = 0, hi = m->n, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(key, m->keys[mid])) == 0)
			return (m->values[mid]);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (NULL);
}

/* Register every secret of c with the log redactor. */
void
config_redact_secrets(const struct config *conf)
{
	const struct conf_entry	*e;
	const struct strlist	*sl;
	size_t			 i, k;

	for (i = 0; i < CONF_NENTRIES; i++) {
		e = &conf_table[i];
		if (e->type == CONF_SECRET)
			log_redact(*(char *const *)((const char *)conf +
			    e->off));
		if (e->type == CONF_SECRET_LIST) {
			sl = (const struct strlist *)((const char *)conf +
			    e->off);
			for (k = 0; k < sl->n; k++)
				log_redact(sl->v[k]);
		}
	}
}

/*
 * True if s holds only the classes in spec ("a" lowercase, "A"
 * uppercase, "0" digits) and the other bytes of spec literally.
 */
static int
conf_only(const char *s, const char *spec)
{
	int	lower = strchr(spec, 'a') != NULL;
	int	upper = strchr(spec, 'A') != NULL;
	int	digit = strchr(spec, '0') != NULL;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (lower && *s >= 'a' && *s <= 'z')
			continue;
		if (upper && *s >= 'A' && *s <= 'Z')
			continue;
		if (digit && *s >= '0' && *s <= '9')
			continue;
		if (*s != 'a' && *s != 'A' && *s != '0' && strchr(spec, *s))
			continue;
		return (-1);
	}
	return (0);
}

/* True if s is printable ASCII without spaces, as tokens and ids are. */
static int
conf_is_token(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f)
			return (0);
	}
	return (1);
}

/* Drop trailing blanks: folded and literal blocks end in a newline. */
static void
conf_trim_end(char *s)
{
	char	*q = s + strlen(s);

	while (q > s && (q[-1] == '\n' || q[-1] == ' ' || q[-1] == '\t'))
		*--q = '\0';
}

static int
conf_check_app_token(char *s, const char **errstr)
{
	if (!str_has_prefix(s, "xapp-")) {
		*errstr = "must start with xapp- (an app-level token with "
		    "connections:write)";
		return (-1);
	}
	return (0);
}

static int
conf_check_bot_token(char *s, const char **errstr)
{
	if (!str_has_prefix(s, "xoxb-")) {
		*errstr = "must start with xoxb- (the bot user OAuth token)";
		return (-1);
	}
	return (0);
}

static int
conf_check_user_token(char *s, const char **errstr)
{
	if (!str_has_prefix(s, "xoxp-")) {
		*errstr = "must start with xoxp- (a user OAuth token)";
		return (-1);
	}
	return (0);
}

static int
conf_check_user_id(char *s, const char **errstr)
{
	if ((*s != 'U' && *s != 'W') || strlen(s) < 3 || strlen(s) > 32 ||
	    conf_only(s + 1, "A0") == -1) {
		*errstr = "must be a Slack user id (U or W, then uppercase "
		    "letters and digits, like U012AB3CD)";
		return (-1);
	}
	return (0);
}

/*
 * Who access.* lists: a Slack user id (U..., W...), a user group id (S...)
 * or a user group handle with its @ ("@oncall-leads").
 */
static int
conf_check_access_id(char *s, const char **errstr)
{
	const char	*u;

	if (*s == '@') {
		if (strlen(s) < 2 || strlen(s) > 81 ||
		    conf_only(s + 1, "a0_.-") == -1) {
			*errstr = "must be a user id (U...), a user group id "
			    "(S...) or a user group handle like @oncall-leads";
			return (-1);
		}
		return (0);
	}
	if (*s == 'S') {
		if (strlen(s) < 3 || strlen(s) > 32 ||
		    conf_only(s + 1, "A0") == -1) {
			*errstr = "must be a Slack user group id (S, then "
			    "uppercase letters and digits)";
			return (-1);
		}
		return (0);
	}
	if (conf_check_user_id(s, &u) == -1) {
		*errstr = "must be a user id (U...), a user group id (S...) "
		    "or a user group handle like @oncall-leads";
		return (-1);
	}
	return (0);
}

/* A bare emoji name; ":memo:" becomes "memo". */
static int
conf_check_emoji(char *s, const char **errstr)
{
	size_t	len = strlen(s);

	if (len >= 3 && s[0] == ':' && s[len - 1] == ':') {
		memmove(s, s + 1, len - 2);
		s[len - 2] = '\0';
	}
	if (strlen(s) > 100 || conf_only(s, "a0_+'-") == -1) {
		*errstr = "must be an emoji name like memo (a-z, 0-9, _, +, ' "
		    "and -)";
		return (-1);
	}
	return (0);
}

static int
conf_check_channel_prefix(char *s, const char **errstr)
{
	if (strlen(s) > 20 || conf_only(s, "a0_-") == -1) {
		*errstr = "must be at most 20 characters of a-z, 0-9, _ and - "
		    "(Slack channel names are lowercase)";
		return (-1);
	}
	return (0);
}

static int
conf_check_project(char *s, const char **errstr)
{
	if (*s < 'A' || *s > 'Z' || strlen(s) < 2 || strlen(s) > 255 ||
	    conf_only(s, "A0_") == -1) {
		*errstr = "must be a Jira project key (an uppercase letter, "
		    "then uppercase letters, digits or _, like INC)";
		return (-1);
	}
	return (0);
}

static int
conf_check_field(char *s, const char **errstr)
{
	if (!str_has_prefix(s, "customfield_") || strlen(s) > 64 ||
	    conf_only(s + strlen("customfield_"), "0") == -1) {
		*errstr = "must be a custom field id like customfield_10050";
		return (-1);
	}
	return (0);
}

/* The postmortem's field: description or a custom (text) field. */
static int
conf_check_text_field(char *s, const char **errstr)
{
	if (strcmp(s, "description") == 0 || conf_check_field(s, errstr) == 0)
		return (0);
	*errstr = "must be description or a custom field id like "
	    "customfield_10050";
	return (-1);
}

static int
conf_check_label(char *s, const char **errstr)
{
	if (strlen(s) > 255 || conf_only(s, "aA0_.-") == -1) {
		*errstr = "must be a Jira label: letters, digits, _, . and - "
		    "only";
		return (-1);
	}
	return (0);
}

/* A plain address: local@domain.tld, no display name or comments. */
static int
conf_check_email(char *s, const char **errstr)
{
	const char	*at, *dom;
	size_t		 llen;

	*errstr = "must be an email address like name@example.com";
	if ((at = strchr(s, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return (-1);
	llen = at - s;
	dom = at + 1;
	if (llen == 0 || llen > 64 || strlen(dom) > 253)
		return (-1);
	for (; s < at; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') ||
		    strchr("!#$%&'*+/=?^_`{|}~.-", *s) != NULL))
			return (-1);
	}
	if (conf_only(dom, "aA0.-") == -1 || strchr(dom, '.') == NULL ||
	    *dom == '.' || *dom == '-' || dom[strlen(dom) - 1] == '.' ||
	    strstr(dom, "..") != NULL)
		return (-1);
	*errstr = NULL;
	return (0);
}

/* PagerDuty ids: uppercase letters and digits, like PABC123. */
static int
conf_check_pd_id(char *s, const char **errstr)
{
	if (*s < 'A' || *s > 'Z' || strlen(s) < 6 || strlen(s) > 32 ||
	    conf_only(s, "A0") == -1) {
		*errstr = "must be a PagerDuty id (uppercase letters and "
		    "digits, like PABC123)";
		return (-1);
	}
	return (0);
}

static int
conf_check_short_text(char *s, const char **errstr)
{
	if (strlen(s) > 255) {
		*errstr = "must be at most 255 characters";
		return (-1);
	}
	return (0);
}

/* At most CONF_MAX_LONG_TEXT characters (UTF-8 sequences, not bytes). */
static int
conf_check_long_text(char *s, const char **errstr)
{
	size_t	n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	if (n > CONF_MAX_LONG_TEXT) {
		*errstr = "must be at most 1000 characters";
		return (-1);
	}
	return (0);
}

/*
 * How Jira names a user: a Cloud accountId, a Data Center username or an
 * email address. Only the shape is checked: Jira is not asked.
 */
static int
conf_check_jira_user(char *s, const char **errstr)
{
	if (*s == '\0' || strlen(s) > CONF_MAX_JIRA_USER ||
	    !conf_is_token(s)) {
		*errstr = "must be a Jira accountId, username or email (up to "
		    "128 printable ASCII characters without spaces)";
		return (-1);
	}
	return (0);
}

/* An IANA zone name with a file under /usr/share/zoneinfo ("UTC" too). */
static int
conf_check_timezone(char *s, const char **errstr)
{
	char	 path[512];
	size_t	 i;

	if (strcmp(s, "UTC") == 0)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' &&
		    s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
		    strchr("_+-/", s[i]) == NULL)
			break;
	}
	if (*s == '\0' || s[i] != '\0' || *s == '/' || strstr(s, "..") !=
	    NULL || i > 64) {
		*errstr = "must be a time zone name such as Europe/Paris";
		return (-1);
	}
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", s);
	if (access(path, R_OK) != 0) {
		*errstr = "unknown time zone (not in /usr/share/zoneinfo)";
		return (-1);
	}
	return (0);
}

/* metrics.listen: HOST:PORT or a bare PORT (metrics.c parses it). */
/* An automated action of metrics.manual_minutes (cmd-metrics.c). */
static int
conf_check_action(char *s, const char **errstr)
{
	if (!cmd_metrics_action_valid(s)) {
		*errstr = "must be one of new_incident, new_channel, page, "
		    "timeline, reminder, archive, postmortem";
		return (-1);
	}
	return (0);
}

/* Minutes a person would spend: a whole number, 0 to 1440. */
static int
conf_check_minutes(char *s, const char **errstr)
{
	const char	*e = NULL;

	(void)strtonum(s, 0, 1440, &e);
	if (e != NULL) {
		*errstr = "must be a whole number of minutes from 0 to 1440";
		return (-1);
	}
	return (0);
}

/* http://[user@]host:port; the password goes in proxy.password_file. */
static int
conf_check_proxy_url(char *s, const char **errstr)
{
	struct proxy_url	pu;

	if (proxy_parse_url(s, 0, &pu, errstr) == -1)
		return (-1);
	proxy_url_free(&pu);
	return (0);
}

static int
conf_check_no_proxy(char *s, const char **errstr)
{
	return (proxy_check_no_proxy(s, errstr));
}

static int
conf_check_listen(char *s, const char **errstr)
{
	return (listen_check(s, NULL, errstr));
}

/* An absolute path of printable ASCII, no query: "/pagerduty". */
static int
conf_check_url_path(char *s, const char **errstr)
{
	if (*s != '/' || strcspn(s, "?# ") != strlen(s) || !conf_is_token(s)) {
		*errstr = "must be a path like /pagerduty (no query)";
		return (-1);
	}
	return (0);
}

/* Watch the shortcuts file: reload on a new mtime, keep the old if bad. */
static void
conf_poll_shortcuts_cb(void *arg)
{
	struct strlist		 errors = { NULL, 0 };
	struct shortcuts	 sc = { NULL, 0 };
	struct stat		 sb;
	size_t			 i;

	if (cfg->pagerduty.shortcuts_file == NULL ||
	    stat(cfg->pagerduty.shortcuts_file, &sb) != 0)
		return;
	if (conf_shortcuts_mtime == 0 || sb.st_mtime == conf_shortcuts_mtime) {
		conf_shortcuts_mtime = sb.st_mtime;
		return;
	}
	conf_shortcuts_mtime = sb.st_mtime;
	if (config_load_shortcuts(cfg->pagerduty.shortcuts_file, &sc,
	    &errors) != 0) {
		for (i = 0; i < errors.n; i++)
			log_error("%s", errors.v[i]);
		log_error("shortcuts reload rejected: keeping the running "
		    "shortcuts");
		strlist_free(&errors);
		config_free_shortcuts(&sc);
		return;
	}
	config_free_shortcuts(&cfg->pagerduty.shortcuts);
	cfg->pagerduty.shortcuts = sc;
	strlist_free(&errors);
	log_info("shortcuts reloaded from %s (%zu)",
	    cfg->pagerduty.shortcuts_file, sc.n);
}

/*
 * Reload pagerduty.shortcuts_file when its mtime changes (every
 * schedule.poll_interval), keeping the running shortcuts if it is bad.
 */
void
config_watch_shortcuts(void)
{
	conf_poll_shortcuts_cb(NULL);
	schedule_every("shortcuts", cfg->schedule.poll_interval,
	    conf_poll_shortcuts_cb, NULL);
}
