/*
 * unit-config.c: config.c's durations, URLs, defaults, secrets, shortcuts
 * and the exact "FILE:LINE: message" of every kind of problem, against the
 * fixtures in t/conf/ (found through $top_srcdir).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incidentd.h"
#include "tap.h"

static const char	*top;		/* $top_srcdir */
static char		 tmpdir[] = "/tmp/unit-config.XXXXXX";

static const char	*secret_envs[] = {
	"INCIDENTD_SLACK_APP_TOKEN", "INCIDENTD_SLACK_BOT_TOKEN",
	"INCIDENTD_SLACK_USER_TOKEN", "INCIDENTD_JIRA_API_TOKEN",
	"INCIDENTD_PAGERDUTY_API_TOKEN"
};

/* The required keys but secrets, for configurations written by a test. */
#define REQUIRED_JIRA	"jira:\n  url: https://jira.example.com\n" \
			"  project: INC\n"
#define REQUIRED_PD	"pagerduty:\n  from: incident-bot@example.com\n" \
			"  incident_manager_service: PIMGR01\n"

/*
 * "@/" in a string stands for the fixtures, "%/" for tmpdir. The fixtures
 * are a copy of $top_srcdir/t/conf made private (go-rwx): a checkout makes
 * them world-readable, and config.c refuses secrets anyone can read.
 */
static char *
expand(const char *s)
{
	char	*out, *o;
	size_t	 size;

	size = strlen(s) * (strlen(top) + strlen(tmpdir) + 16) + 1;
	out = o = xmalloc(size);
	while (*s != '\0') {
		if (s[0] == '@' && s[1] == '/') {
			o += sprintf(o, "%s/conf/", tmpdir);
			s += 2;
		} else if (s[0] == '%' && s[1] == '/') {
			o += sprintf(o, "%s/", tmpdir);
			s += 2;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return (out);
}

static void
clear_env(void)
{
	size_t	i;

	for (i = 0; i < sizeof(secret_envs) / sizeof(secret_envs[0]); i++)
		unsetenv(secret_envs[i]);
}

static void
set_env(void)
{
	setenv("INCIDENTD_SLACK_APP_TOKEN", "xapp-env-app-token", 1);
	setenv("INCIDENTD_SLACK_BOT_TOKEN", "xoxb-env-bot-token", 1);
	setenv("INCIDENTD_JIRA_API_TOKEN", "env-jira-token", 1);
	setenv("INCIDENTD_PAGERDUTY_API_TOKEN", "env-pd-token", 1);
}

/* Load a fixture ("@/x.yaml"); NULL on problems (errors in *errors). */
static struct config *
load(const char *name, struct strlist *errors)
{
	struct config	*c;
	char		*path;

	path = expand(name);
	c = config_load(path, errors);
	free(path);
	return (c);
}

/* Compare the error list with want (NULL-terminated, "@/" expanded). */
static void
is_errors(const struct strlist *got, const char *const *want,
    const char *name)
{
	char	 label[256], *w;
	size_t	 i, n;

	for (n = 0; want[n] != NULL; n++)
		;
	snprintf(label, sizeof(label), "%s: %zu problems", name, n);
	if (!is_int(got->n, n, label)) {
		for (i = 0; i < got->n; i++)
			printf("#   got: %s\n", got->v[i]);
	}
	for (i = 0; i < n && i < got->n; i++) {
		w = expand(want[i]);
		snprintf(label, sizeof(label), "%s: problem %zu", name, i + 1);
		is_str(got->v[i], w, label);
		free(w);
	}
}

/* Write s to tmpdir/name; returns the path (caller frees). */
static char *
write_tmp(const char *name, const char *s, size_t len)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(s, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	return (path);
}

/*
 * Write text to tmpdir/name, private (it may hold an inline secret), and
 * load it with the other secrets from the environment.
 */
static struct config *
load_text(const char *name, const char *text, struct strlist *errors)
{
	struct config	*c;
	char		*path;

	path = write_tmp(name, text, strlen(text));
	if (chmod(path, 0600) == -1) {
		perror(path);
		exit(1);
	}
	set_env();
	c = config_load(path, errors);
	clear_env();
	free(path);
	return (c);
}

/* A load that must have failed with exactly these problems; frees both. */
static void
is_rejected(struct config *c, struct strlist *errors, const char *name,
    const char *const *want)
{
	char	 label[256];

	snprintf(label, sizeof(label), "%s is rejected", name);
	ok(c == NULL, label);
	config_free(c);
	is_errors(errors, want, name);
	strlist_free(errors);
}

/* Load a fixture that must fail with exactly these problems. */
static void
expect_errors(const char *name, const char *const *want)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;

	c = load(name, &errors);
	is_rejected(c, &errors, name + 2, want);
}

/* The same for text written by the test ("%/" expanded in want). */
static void
expect_text_errors(const char *name, const char *text,
    const char *const *want)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;

	c = load_text(name, text, &errors);
	is_rejected(c, &errors, name, want);
}

static void
test_duration(void)
{
	static const struct {
		const char	*in;
		long long	 secs;		/* -1: must fail */
		const char	*err;
	} t[] = {
		{ "0", 0, NULL },
		{ "90", 90, NULL },
		{ "90s", 90, NULL },
		{ "5m", 300, NULL },
		{ "2h", 7200, NULL },
		{ "10d", 864000, NULL },
		{ "1h30m", 5400, NULL },
		{ "1d2h3m4s", 93784, NULL },
		{ "30m1h", 5400, NULL },
		{ "007m", 420, NULL },
		{ "", -1, "empty duration" },
		{ "-5m", -1, "negative durations are not allowed" },
		{ "5x", -1, "unknown unit 'x' (use s, m, h or d)" },
		{ "5ms", -1, "unknown unit 'ms' (use s, m, h or d)" },
		{ "5M", -1, "unknown unit 'M' (use s, m, h or d)" },
		{ "1h30", -1, "missing unit after 30 (use s, m, h or d)" },
		{ "1h1h", -1, "unit 'h' given twice" },
		{ "1.5h", -1, "unexpected '.' (use whole numbers with s, m, "
		    "h or d, like 1h30m)" },
		{ "5 m", -1, "unexpected ' ' (use whole numbers with s, m, "
		    "h or d, like 1h30m)" },
		{ "m", -1, "expected a number at 'm' (use s, m, h or d after "
		    "whole numbers, like 1h30m)" },
		{ "+5", -1, "expected a number at '+' (use s, m, h or d after "
		    "whole numbers, like 1h30m)" },
		{ "99999999999999999999", -1, "duration too large" },
		{ "106751991167301d", -1, "duration too large" },
		{ "9223372036854775807s1m", -1, "duration too large" },
	};
	const char	*errstr;
	long long	 secs;
	char		 label[128];
	size_t		 i;
	int		 rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		secs = -42;
		errstr = NULL;
		rv = config_parse_duration(t[i].in, &secs, &errstr);
		snprintf(label, sizeof(label), "duration '%s'", t[i].in);
		if (t[i].secs >= 0) {
			is_int(rv, 0, label);
			is_int(secs, t[i].secs, label);
		} else {
			is_int(rv, -1, label);
			is_str(errstr, t[i].err, label);
		}
	}
}

static void
test_base_url(void)
{
	static const struct {
		const char	*in;
		const char	*err;		/* NULL: accepted */
	} t[] = {
		{ "https://slack.com/api", NULL },
		{ "https://slack.com/api/", NULL },
		{ "https://example.atlassian.net", NULL },
		{ "https://jira.example.com:8443/jira", NULL },
		{ "http://127.0.0.1:8080", NULL },
		{ "http://127.1.2.3/api", NULL },
		{ "http://localhost:1234/", NULL },
		{ "http://[::1]:8082", NULL },
		{ "http://slack.com/api", "http:// is only allowed for "
		    "loopback hosts; use https://" },
		{ "http://10.0.0.1", "http:// is only allowed for loopback "
		    "hosts; use https://" },
		{ "http://localhost.example.com", "http:// is only allowed "
		    "for loopback hosts; use https://" },
		{ "ftp://example.com", "must be an https:// URL" },
		{ "wss://example.com", "must be an https:// URL" },
		{ "slack.com/api", "must be an https:// URL" },
		{ "", "must be an https:// URL" },
		{ "https://", "missing host" },
		{ "https://x.com:0", "invalid port" },
		{ "https://x.com:99999", "invalid port" },
		{ "https://user:pw@x.com", "must not contain user information "
		    "(credentials belong in the token keys)" },
		{ "https://x.com/a@b", NULL },
		{ "https://x.com/a?b=c", "must not contain a query or "
		    "fragment" },
		{ "https://x.com/#top", "must not contain a query or "
		    "fragment" },
		{ "https://exa mple.com", "must be ASCII without spaces "
		    "(percent-encode other characters)" },
		{ "https://example.com/\xc3\xa9", "must be ASCII without "
		    "spaces (percent-encode other characters)" },
	};
	const char	*errstr;
	char		 label[128];
	size_t		 i;
	int		 rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		errstr = "unset";
		rv = config_check_base_url(t[i].in, &errstr);
		snprintf(label, sizeof(label), "base URL '%s'", t[i].in);
		if (t[i].err == NULL)
			is_int(rv, 0, label);
		else {
			is_int(rv, -1, label);
			is_str(errstr, t[i].err, label);
		}
	}
}

/* minimal.yaml: every default, secrets from the environment. */
static void
test_defaults(void)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;

	set_env();
	c = load("@/minimal.yaml", &errors);
	clear_env();
	ok(c != NULL, "minimal config with secrets in the environment");
	is_int(errors.n, 0, "no problems");
	if (c == NULL)
		return;
	is_str(c->state_dir, "/var/lib/incidentd", "default state_dir");
	is_int(c->log_level, LOG_LEVEL_INFO, "default log_level");
	is_int(c->map_size, 1073741824, "default map_size");
	is_int(config_map_size_max(c), 8LL << 30, "default ceiling 8x");
	ok(c->tls_ca_file == NULL, "no tls.ca_file");
	is_str(c->slack.api_url, "https://slack.com/api", "default slack url");
	is_str(c->slack.app_token, "xapp-env-app-token", "app token from env");
	is_str(c->slack.bot_token, "xoxb-env-bot-token", "bot token from env");
	ok(c->slack.user_token == NULL, "no user token");
	is_int(c->slack.incident_managers.n, 0, "no incident managers");
	is_str(c->slack.timeline_emoji, "memo", "default emoji");
	is_str(c->slack.channel_prefix, "inc-", "default channel prefix");
	is_str(c->jira.url, "https://example.atlassian.net", "jira url");
	is_str(c->jira.email, "incident-bot@example.com", "jira email");
	is_str(c->jira.api_token, "env-jira-token", "jira token from env");
	is_str(c->jira.project, "INC", "jira project");
	is_str(c->jira.issue_type, "Incident", "default issue type");
	ok(c->jira.aar_field == NULL, "no aar field");
	is_str(c->jira.followup_label, "corrective-action", "default label");
	is_int(c->jira.flavor, JIRA_FLAVOR_AUTO, "default flavor");
	is_int(c->jira.users.n, 0, "no jira users");
	ok(config_map_get(&c->jira.users, "anyone") == NULL,
	    "config_map_get on an empty map");
	is_str(c->pagerduty.api_url, "https://api.pagerduty.com",
	    "default pagerduty url");
	is_str(c->pagerduty.api_token, "env-pd-token", "pd token from env");
	is_str(c->pagerduty.from, "incident-bot@example.com", "pd from");
	is_str(c->pagerduty.incident_manager_service, "PIMGR01",
	    "incident manager service");
	ok(c->pagerduty.default_service == NULL, "no default service");
	ok(c->pagerduty.shortcuts_file == NULL, "no shortcuts file");
	is_int(c->pagerduty.shortcuts.n, 0, "no shortcuts");
	is_int(c->pagerduty.max_concurrency, 8, "default concurrency");
	is_int(c->schedule.poll_interval, 300, "default poll interval");
	is_int(c->schedule.archive_after, 864000, "default archive_after");
	is_int(c->schedule.followup_warn_before, 172800,
	    "default followup_warn_before");
	is_str(c->schedule.aar_expectations, "Please have the postmortem "
	    "draft ready and the timeline attached (type `get timeline` in "
	    "the incident channel).", "default aar_expectations");
	ok(c->metrics.listen == NULL, "no metrics listener");
	is_int(c->metrics.listen_public, 0, "metrics on loopback only");
	is_int(c->warnings.n, 0, "no warnings");
	config_free(c);
	strlist_free(&errors);
}

/* full.yaml: every key, secrets from files, relative paths resolved. */
static void
test_full(void)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		*want;

	set_env();	/* the files win over the environment */
	c = load("@/full.yaml", &errors);
	clear_env();
	ok(c != NULL, "full config");
	is_int(errors.n, 0, "no problems");
	if (c == NULL)
		return;
	want = expand("@/full.yaml");
	is_str(c->path, want, "path kept");
	free(want);
	want = expand("@/state");
	is_str(c->state_dir, want, "relative state_dir resolved");
	free(want);
	is_int(c->log_level, LOG_LEVEL_DEBUG, "log_level");
	is_int(c->map_size, 64 * 1024 * 1024, "map_size 64M");
	want = expand("@/ca.pem");
	is_str(c->tls_ca_file, want, "ca_file resolved");
	free(want);
	is_str(c->slack.api_url, "http://127.0.0.1:8080/api",
	    "trailing slash stripped");
	is_str(c->slack.app_token, "xapp-1-A000TEST-0000-not-a-real-app-token",
	    "app token from file, newline stripped");
	is_str(c->slack.bot_token, "xoxb-0000-not-a-real-bot-token",
	    "bot token from file, CRLF stripped");
	is_str(c->slack.user_token, "xoxp-0000-not-a-real-user-token",
	    "user token from file");
	is_int(c->slack.incident_managers.n, 2, "two incident managers");
	if (c->slack.incident_managers.n == 2) {
		is_str(c->slack.incident_managers.v[0], "U012AB3CD", "im 1");
		is_str(c->slack.incident_managers.v[1], "W0ABCDEF", "im 2");
	}
	is_str(c->slack.timeline_emoji, "spiral_note_pad", "colons stripped");
	is_str(c->slack.channel_prefix, "incident-", "channel prefix");
	is_str(c->jira.url, "https://jira.example.com", "jira url");
	is_str(c->jira.email, "incident-bot@example.com", "jira email");
	is_str(c->jira.api_token, "jira-test-api-token-0000",
	    "jira token from file, blank lines stripped");
	is_str(c->jira.project, "OPS", "project");
	is_str(c->jira.issue_type, "Major Incident", "issue type");
	is_str(c->jira.aar_field, "customfield_10050", "aar field");
	is_str(c->jira.followup_label, "follow-up", "followup label");
	is_int(c->jira.flavor, JIRA_FLAVOR_DATACENTER, "flavor datacenter");
	is_int(c->jira.users.n, 3, "three jira users");
	if (c->jira.users.n == 3) {
		is_str(c->jira.users.keys[0], "5b10ac8d82e05b22cc7d4ef5",
		    "users sorted 1");
		is_str(c->jira.users.keys[1], "jane.doe@example.com",
		    "users sorted 2");
		is_str(c->jira.users.keys[2], "zoe", "users sorted 3");
		is_str(c->jira.users.values[2], "W0ZOE0001",
		    "value follows its key");
	}
	is_str(c->pagerduty.api_url, "https://api.eu.pagerduty.com", "pd url");
	is_str(c->pagerduty.api_token, "pd-test-api-token-0000",
	    "pd token from file without newline");
	is_str(c->pagerduty.from, "oncall@example.com", "pd from");
	is_str(c->pagerduty.default_service, "PDEF001", "default service");
	want = expand("@/shortcuts-unsorted.yaml");
	is_str(c->pagerduty.shortcuts_file, want, "shortcuts file resolved");
	free(want);
	is_int(c->pagerduty.shortcuts.n, 3, "three shortcuts from the file");
	if (c->pagerduty.shortcuts.n == 3) {
		is_str(c->pagerduty.shortcuts.v[0].name, "api-gw", "sorted 1");
		is_str(c->pagerduty.shortcuts.v[1].name, "db", "sorted 2");
		is_str(c->pagerduty.shortcuts.v[2].name, "web", "sorted 3");
		is_str(c->pagerduty.shortcuts.v[0].description, "",
		    "missing description is empty");
		is_str(c->pagerduty.shortcuts.v[1].service, "PDB0001",
		    "db service");
		is_str(c->pagerduty.shortcuts.v[1].description,
		    "Primary database cluster", "folded description");
	}
	is_int(c->pagerduty.max_concurrency, 16, "max_concurrency");
	is_int(c->schedule.poll_interval, 90, "poll 1m30s");
	is_int(c->schedule.archive_after, 7 * 86400, "archive 7d");
	is_int(c->schedule.followup_warn_before, 36 * 3600, "warn 36h");
	is_str(c->schedule.aar_expectations, "Bring *the draft*.\nAnd the "
	    "timeline.", "literal block, trailing newlines dropped");
	is_str(c->metrics.listen, "0.0.0.0:9464", "metrics.listen");
	is_int(c->metrics.listen_public, 1, "metrics.listen_public");
	config_free(c);
	strlist_free(&errors);
}

/* inline.yaml: inline secrets beat the environment; inline shortcuts. */
static void
test_inline(void)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;

	set_env();
	c = load("@/inline.yaml", &errors);
	clear_env();
	ok(c != NULL, "inline config");
	is_int(errors.n, 0, "no problems");
	if (c == NULL)
		return;
	is_str(c->slack.app_token, "xapp-inline-app-token", "inline app token");
	is_str(c->slack.bot_token, "xoxb-inline-bot-token", "inline bot token");
	is_str(c->slack.user_token, "xoxp-inline-user-token",
	    "inline user token");
	is_str(c->jira.api_token, "inline-jira-token", "inline jira token");
	is_str(c->pagerduty.api_token, "inline-pd-token", "inline pd token");
	is_str(c->jira.url, "http://localhost:8081", "http to localhost");
	is_str(c->jira.project, "INC_2", "project with _ and digit");
	is_int(c->jira.flavor, JIRA_FLAVOR_CLOUD, "flavor cloud");
	is_str(c->jira.email, "a.b+c@example.co.uk", "email with + and .");
	is_str(c->pagerduty.api_url, "http://[::1]:8082", "IPv6 loopback");
	is_str(c->pagerduty.incident_manager_service, "Q1AB2CD3EF4GH5",
	    "newer long PagerDuty id");
	is_int(c->log_level, LOG_LEVEL_WARN, "log_level warning");
	is_int(c->map_size, 2LL << 30, "map_size 2GiB");
	is_int(c->schedule.poll_interval, 600, "bare seconds");
	is_int(c->schedule.archive_after, 36 * 3600, "1d12h");
	is_int(c->schedule.followup_warn_before, 0, "zero duration");
	is_int(c->pagerduty.shortcuts.n, 3, "three inline shortcuts");
	if (c->pagerduty.shortcuts.n == 3) {
		is_str(c->pagerduty.shortcuts.v[0].name, "alpha", "sorted 1");
		is_str(c->pagerduty.shortcuts.v[0].description, "Two\nlines",
		    "literal block description");
		is_str(c->pagerduty.shortcuts.v[1].name, "mid_dle", "sorted 2");
		is_str(c->pagerduty.shortcuts.v[2].name, "zeta", "sorted 3");
		is_str(c->pagerduty.shortcuts.v[2].service, "PZETA01",
		    "flow mapping service");
	}
	config_free(c);
	strlist_free(&errors);
}

static void
test_fixture_errors(void)
{
	static const char *const bad_keys[] = {
		"@/bad-keys.yaml:3: duplicate key state_dir (first at line 2)",
		"@/bad-keys.yaml:4: unknown key log_levl (did you mean "
		    "log_level?)",
		"@/bad-keys.yaml:5: unknown key slak (did you mean slack?)",
		"@/bad-keys.yaml:8: unknown key slack.bot_tokn (did you mean "
		    "slack.bot_token?)",
		"@/bad-keys.yaml:10: slack.app_token and slack.app_token_file "
		    "are both set; use one",
		"@/bad-keys.yaml:11: slack.incident_managers: expected a list, "
		    "got a single value",
		"@/bad-keys.yaml:12: slack.timeline_emoji: expected a single "
		    "value, got a list",
		"@/bad-keys.yaml:13: unknown key bot_token (did you mean "
		    "slack.bot_token?)",
		"@/bad-keys.yaml:14: unknown key jira.url (dotted keys are not "
		    "supported; use nested mappings)",
		"@/bad-keys.yaml:15: jira: expected a mapping, got a list",
		"@/bad-keys.yaml:19: pagerduty.shortcuts and "
		    "pagerduty.shortcuts_file are both set; use one",
		"@/bad-keys.yaml:23: unknown key pagerduty.Default_Service "
		    "(did you mean pagerduty.default_service?)",
		"@/bad-keys.yaml:24: schedule: expected a mapping, got a "
		    "single value",
		"@/bad-keys.yaml:25: duplicate key slack (first at line 7)",
		"@/bad-keys.yaml:27: keys must be strings, got a list",
		"@/bad-keys.yaml:7: missing required key slack.bot_token (or "
		    "slack.bot_token_file, or INCIDENTD_SLACK_BOT_TOKEN)",
		"@/bad-keys.yaml:15: missing required key jira.url",
		"@/bad-keys.yaml:15: missing required key jira.api_token (or "
		    "jira.api_token_file, or INCIDENTD_JIRA_API_TOKEN)",
		"@/bad-keys.yaml:15: missing required key jira.project",
		NULL
	};
	static const char *const bad_values[] = {
		"@/bad-values.yaml:1: state_dir: empty value",
		"@/bad-values.yaml:2: log_level: must be one of error, warn, "
		    "info or debug",
		"@/bad-values.yaml:3: map_size: must be a size from 1 MiB to "
		    "1 TiB (bytes, or a number with K, M, G or T)",
		"@/bad-values.yaml:5: tls.ca_file: cannot read "
		    "@/does-not-exist.pem: No such file or directory",
		"@/bad-values.yaml:7: slack.api_url: http:// is only allowed "
		    "for loopback hosts; use https://",
		"@/bad-values.yaml:8: slack.app_token: must start with xapp- "
		    "(an app-level token with connections:write)",
		"@/bad-values.yaml:9: slack.bot_token: must be printable ASCII "
		    "without spaces",
		"@/bad-values.yaml:12: slack.incident_managers: must be a "
		    "Slack user id (U or W, then uppercase letters and digits, "
		    "like U012AB3CD)",
		"@/bad-values.yaml:13: slack.incident_managers: expected a "
		    "single value, got a mapping",
		"@/bad-values.yaml:14: slack.timeline_emoji: must be an emoji "
		    "name like memo (a-z, 0-9, _, +, ' and -)",
		"@/bad-values.yaml:15: slack.channel_prefix: must be at most "
		    "20 characters of a-z, 0-9, _ and - (Slack channel names "
		    "are lowercase)",
		"@/bad-values.yaml:17: jira.url: must be an https:// URL",
		"@/bad-values.yaml:18: jira.email: must be an email address "
		    "like name@example.com",
		"@/bad-values.yaml:19: jira.api_token: control characters are "
		    "not allowed",
		"@/bad-values.yaml:20: jira.project: must be a Jira project "
		    "key (an uppercase letter, then uppercase letters, digits "
		    "or _, like INC)",
		"@/bad-values.yaml:22: jira.aar_field: must be a custom field "
		    "id like customfield_10050",
		"@/bad-values.yaml:23: jira.followup_label: must be a Jira "
		    "label: letters, digits, _, . and - only",
		"@/bad-values.yaml:24: jira.flavor: must be one of auto, cloud "
		    "or datacenter",
		"@/bad-values.yaml:26: pagerduty.api_url: must not contain a "
		    "query or fragment",
		"@/bad-values.yaml:27: pagerduty.api_token: NUL bytes are not "
		    "allowed",
		"@/bad-values.yaml:28: pagerduty.from: must be an email "
		    "address like name@example.com",
		"@/bad-values.yaml:29: pagerduty.incident_manager_service: "
		    "must be a PagerDuty id (uppercase letters and digits, "
		    "like PABC123)",
		"@/bad-values.yaml:30: pagerduty.default_service: must be a "
		    "PagerDuty id (uppercase letters and digits, like PABC123)",
		"@/bad-values.yaml:31: pagerduty.max_concurrency: must be a "
		    "whole number from 1 to 64",
		"@/bad-values.yaml:34: pagerduty.shortcuts.Bad: invalid "
		    "shortcut name (use up to 64 lowercase letters, digits, _ "
		    "and -, starting with a letter or digit)",
		"@/bad-values.yaml:36: schedule.poll_interval: must be at "
		    "least 1s",
		"@/bad-values.yaml:37: schedule.archive_after: unknown unit "
		    "'x' (use s, m, h or d)",
		"@/bad-values.yaml:38: schedule.followup_warn_before: negative "
		    "durations are not allowed",
		NULL
	};
	static const char *const bad_missing[] = {
		"@/bad-missing.yaml:2: missing required key slack.app_token "
		    "(or slack.app_token_file, or INCIDENTD_SLACK_APP_TOKEN)",
		"@/bad-missing.yaml:3: slack.bot_token: a value is required "
		    "(or slack.bot_token_file, or INCIDENTD_SLACK_BOT_TOKEN)",
		"@/bad-missing.yaml:7: jira.api_token: a value is required "
		    "(or jira.api_token_file, or INCIDENTD_JIRA_API_TOKEN)",
		"@/bad-missing.yaml:6: jira.project: a value is required",
		"@/bad-missing.yaml:1: missing required key "
		    "pagerduty.api_token (or pagerduty.api_token_file, or "
		    "INCIDENTD_PAGERDUTY_API_TOKEN)",
		"@/bad-missing.yaml:1: missing required key pagerduty.from",
		"@/bad-missing.yaml:1: missing required key "
		    "pagerduty.incident_manager_service",
		"@/bad-missing.yaml:5: jira.email is required for Jira Cloud "
		    "(an atlassian.net site); for Data Center set jira.flavor: "
		    "datacenter",
		NULL
	};
	static const char *const bad_secret_files[] = {
		"@/bad-secret-files.yaml:2: slack.app_token (from "
		    "@/secrets/slack-bot-token): must start with xapp- (an "
		    "app-level token with connections:write)",
		"@/bad-secret-files.yaml:3: slack.bot_token (from "
		    "@/secrets/empty-token): empty value",
		"@/bad-secret-files.yaml:6: jira.api_token_file: cannot read "
		    "@/secrets/missing-token: No such file or directory",
		"@/bad-secret-files.yaml:10: pagerduty.api_token_file: cannot "
		    "read @/secrets: not a regular file",
		"@/bad-secret-files.yaml:8: jira.email is required when "
		    "jira.flavor is cloud",
		NULL
	};
	static const char *const bad_syntax[] = {
		"@/bad-syntax.yaml:3: syntax error: mapping values are not "
		    "allowed in this context",
		NULL
	};
	static const char *const bad_syntax2[] = {
		"@/bad-syntax2.yaml:6: syntax error: found unexpected end of "
		    "stream (while scanning a quoted scalar at line 3)",
		NULL
	};
	static const char *const bad_toplevel[] = {
		"@/bad-toplevel.yaml:1: expected a mapping of keys at the top "
		    "level, got a list",
		NULL
	};
	static const char *const multi_doc[] = {
		"@/multi-doc.yaml:3: only one YAML document is allowed",
		NULL
	};
	static const char *const empty[] = {
		"@/empty.yaml:1: missing required key slack.app_token (or "
		    "slack.app_token_file, or INCIDENTD_SLACK_APP_TOKEN)",
		"@/empty.yaml:1: missing required key slack.bot_token (or "
		    "slack.bot_token_file, or INCIDENTD_SLACK_BOT_TOKEN)",
		"@/empty.yaml:1: missing required key jira.url",
		"@/empty.yaml:1: missing required key jira.api_token (or "
		    "jira.api_token_file, or INCIDENTD_JIRA_API_TOKEN)",
		"@/empty.yaml:1: missing required key jira.project",
		"@/empty.yaml:1: missing required key pagerduty.api_token (or "
		    "pagerduty.api_token_file, or "
		    "INCIDENTD_PAGERDUTY_API_TOKEN)",
		"@/empty.yaml:1: missing required key pagerduty.from",
		"@/empty.yaml:1: missing required key "
		    "pagerduty.incident_manager_service",
		NULL
	};
	static const char *const uses_bad_shortcuts[] = {
		"@/bad-shortcuts.yaml:4: Bad Name: invalid shortcut name (use "
		    "up to 64 lowercase letters, digits, _ and -, starting "
		    "with a letter or digit)",
		"@/bad-shortcuts.yaml:7: unknown key db.servce (did you mean "
		    "service?)",
		"@/bad-shortcuts.yaml:6: db: missing required key service",
		"@/bad-shortcuts.yaml:8: cache: expected a mapping with "
		    "service and description, got a single value",
		"@/bad-shortcuts.yaml:9: duplicate shortcut web (first at line "
		    "1)",
		"@/bad-shortcuts.yaml:12: queue.service: must be a PagerDuty "
		    "id (uppercase letters and digits, like PABC123)",
		"@/bad-shortcuts.yaml:13: queue.description: expected a single "
		    "value, got a list",
		"@/bad-shortcuts.yaml:15: lb.service: a value is required",
		"@/bad-shortcuts.yaml:18: duplicate key ok-one.service (first "
		    "at line 17)",
		NULL
	};
	static const char *const missing_shortcuts[] = {
		"@/missing-shortcuts.yaml:7: pagerduty.shortcuts_file: cannot "
		    "read @/no-such-shortcuts.yaml: No such file or directory",
		NULL
	};

	expect_errors("@/bad-keys.yaml", bad_keys);
	expect_errors("@/bad-values.yaml", bad_values);
	expect_errors("@/bad-missing.yaml", bad_missing);
	expect_errors("@/bad-secret-files.yaml", bad_secret_files);
	expect_errors("@/bad-syntax.yaml", bad_syntax);
	expect_errors("@/bad-syntax2.yaml", bad_syntax2);
	expect_errors("@/bad-toplevel.yaml", bad_toplevel);
	expect_errors("@/multi-doc.yaml", multi_doc);
	expect_errors("@/empty.yaml", empty);
	/* The rest have every other key right; secrets from the env. */
	set_env();
	expect_errors("@/uses-bad-shortcuts.yaml", uses_bad_shortcuts);
	expect_errors("@/missing-shortcuts.yaml", missing_shortcuts);
	clear_env();
}

/* Bad secrets from the environment are named, never shown. */
static void
test_env_errors(void)
{
	static const char *const want[] = {
		"@/minimal.yaml:1: slack.bot_token (from "
		    "INCIDENTD_SLACK_BOT_TOKEN): must start with xoxb- (the "
		    "bot user OAuth token)",
		"@/minimal.yaml:6: pagerduty.api_token (from "
		    "INCIDENTD_PAGERDUTY_API_TOKEN): must be printable ASCII "
		    "without spaces",
		NULL
	};
	static const char *const want_empty[] = {
		"@/minimal.yaml:2: missing required key jira.api_token (or "
		    "jira.api_token_file, or INCIDENTD_JIRA_API_TOKEN)",
		NULL
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	size_t		 i;
	int		 leaked = 0;

	set_env();
	setenv("INCIDENTD_SLACK_BOT_TOKEN", "xapp-secret-in-the-wrong-var", 1);
	setenv("INCIDENTD_PAGERDUTY_API_TOKEN", "secret with spaces", 1);
	c = load("@/minimal.yaml", &errors);
	ok(c == NULL, "bad secrets in the environment are rejected");
	is_errors(&errors, want, "env secrets");
	for (i = 0; i < errors.n; i++) {
		if (strstr(errors.v[i], "secret") != NULL)
			leaked = 1;
	}
	ok(!leaked, "messages do not show secret values");
	config_free(c);
	strlist_free(&errors);

	/* An empty variable counts as unset. */
	set_env();
	setenv("INCIDENTD_JIRA_API_TOKEN", "", 1);
	c = load("@/minimal.yaml", &errors);
	ok(c == NULL, "empty variable is not a secret");
	is_errors(&errors, want_empty, "empty env secret");
	config_free(c);
	strlist_free(&errors);
	clear_env();
}

/* Files that cannot be read, and hostile input. */
static void
test_hostile(void)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		*path, *big, *want;
	const char	*s;
	size_t		 i, len;
	FILE		*f;

	path = expand("@/no-such-file.yaml");
	c = config_load(path, &errors);
	ok(c == NULL && errors.n == 1, "missing file");
	xasprintf(&want, "%s:0: cannot open: No such file or directory", path);
	if (errors.n > 0)
		is_str(errors.v[0], want, "missing file message");
	free(want);
	free(path);
	strlist_free(&errors);

	path = expand("@/secrets");
	c = config_load(path, &errors);
	ok(c == NULL && errors.n == 1, "directory");
	xasprintf(&want, "%s:0: cannot open: not a regular file", path);
	if (errors.n > 0)
		is_str(errors.v[0], want, "directory message");
	free(want);
	free(path);
	strlist_free(&errors);

	xasprintf(&path, "%s/fifo.yaml", tmpdir);
	if (mkfifo(path, 0600) == 0) {
		c = config_load(path, &errors);
		ok(c == NULL && errors.n == 1, "FIFO does not block");
		xasprintf(&want, "%s:0: cannot open: not a regular file", path);
		if (errors.n > 0)
			is_str(errors.v[0], want, "FIFO message");
		free(want);
		strlist_free(&errors);
	} else
		ok(0, "mkfifo");
	free(path);

	len = 1024 * 1024 + 1;
	big = xmalloc(len);
	memset(big, '#', len);
	path = write_tmp("big.yaml", big, len);
	free(big);
	c = config_load(path, &errors);
	ok(c == NULL && errors.n == 1, "file over 1 MiB");
	xasprintf(&want, "%s:0: cannot open: file too large", path);
	if (errors.n > 0)
		is_str(errors.v[0], want, "big file message");
	free(want);
	free(path);
	strlist_free(&errors);

	path = write_tmp("utf8.yaml", "# ok\nstate_dir: /tmp/\xff\n", 22);
	c = config_load(path, &errors);
	ok(c == NULL && errors.n == 1, "invalid UTF-8");
	xasprintf(&want, "%s:2: invalid input: invalid leading UTF-8 octet",
	    path);
	if (errors.n > 0)
		is_str(errors.v[0], want, "invalid UTF-8 message");
	free(want);
	free(path);
	strlist_free(&errors);

	/* A thousand unknown keys: the list stops after 100 problems. */
	xasprintf(&path, "%s/many.yaml", tmpdir);
	if ((f = fopen(path, "w")) == NULL)
		exit(1);
	for (i = 0; i < 1000; i++)
		fprintf(f, "unknown_%zu: 1\n", i);
	fclose(f);
	c = config_load(path, &errors);
	ok(c == NULL, "many problems");
	is_int(errors.n, 101, "capped at 100 problems and a note");
	xasprintf(&want, "%s:101: too many problems, giving up", path);
	if (errors.n == 101)
		is_str(errors.v[100], want, "cap message");
	free(want);
	free(path);
	strlist_free(&errors);

	/* Aliases that point back at themselves must not loop. */
	s = "slack:\n  incident_managers: &a [U123, *a]\n"
	    "pagerduty:\n  shortcuts: &s {x: *s}\n";
	path = write_tmp("cycle.yaml", s, strlen(s));
	c = config_load(path, &errors);
	ok(c == NULL, "cyclic aliases");
	xasprintf(&want, "%s:2: slack.incident_managers: expected a single "
	    "value, got a list", path);
	ok(errors.n > 0 && strcmp(errors.v[0], want) == 0,
	    "cyclic list item reported");
	free(want);
	free(path);
	strlist_free(&errors);

	/* A control character in a key is not echoed raw. */
	s = "\"bad\\nkey\": 1\n\"\\0\": 2\n";
	path = write_tmp("ctrl.yaml", s, strlen(s));
	c = config_load(path, &errors);
	ok(c == NULL, "control characters in keys");
	xasprintf(&want, "%s:1: unknown key bad?key", path);
	ok(errors.n >= 2 && strcmp(errors.v[0], want) == 0,
	    "control character shown as ?");
	free(want);
	xasprintf(&want, "%s:2: invalid key", path);
	ok(errors.n >= 2 && strcmp(errors.v[1], want) == 0, "NUL in key");
	free(want);
	free(path);
	strlist_free(&errors);
}

static void
test_shortcuts(void)
{
	static const char *const bad[] = {
		"@/bad-shortcuts.yaml:4: Bad Name: invalid shortcut name (use "
		    "up to 64 lowercase letters, digits, _ and -, starting "
		    "with a letter or digit)",
		"@/bad-shortcuts.yaml:7: unknown key db.servce (did you mean "
		    "service?)",
		"@/bad-shortcuts.yaml:6: db: missing required key service",
		"@/bad-shortcuts.yaml:8: cache: expected a mapping with "
		    "service and description, got a single value",
		"@/bad-shortcuts.yaml:9: duplicate shortcut web (first at line "
		    "1)",
		"@/bad-shortcuts.yaml:12: queue.service: must be a PagerDuty "
		    "id (uppercase letters and digits, like PABC123)",
		"@/bad-shortcuts.yaml:13: queue.description: expected a single "
		    "value, got a list",
		"@/bad-shortcuts.yaml:15: lb.service: a value is required",
		"@/bad-shortcuts.yaml:18: duplicate key ok-one.service (first "
		    "at line 17)",
		NULL
	};
	static const char *const missing[] = {
		"@/nope.yaml:0: cannot open: No such file or directory",
		NULL
	};
	static const char *const toplevel[] = {
		"@/bad-toplevel.yaml:1: top level: expected a mapping of "
		    "shortcut names, got a list",
		NULL
	};
	struct strlist	 errors = { NULL, 0 };
	struct shortcuts sc;
	char		*path;

	path = expand("@/shortcuts-unsorted.yaml");
	is_int(config_load_shortcuts(path, &sc, &errors), 0,
	    "shortcuts file loads");
	free(path);
	is_int(errors.n, 0, "no problems");
	is_int(sc.n, 3, "three shortcuts");
	if (sc.n == 3) {
		is_str(sc.v[0].name, "api-gw", "sorted 1");
		is_str(sc.v[0].service, "PAPIGW1", "service 1");
		is_str(sc.v[1].name, "db", "sorted 2");
		is_str(sc.v[2].name, "web", "sorted 3");
		is_str(sc.v[2].description, "Web frontend", "description 3");
	}
	config_free_shortcuts(&sc);
	is_int(sc.n, 0, "freed shortcuts are empty");
	config_free_shortcuts(&sc);

	path = expand("@/bad-shortcuts.yaml");
	is_int(config_load_shortcuts(path, &sc, &errors), -1,
	    "bad shortcuts file");
	free(path);
	is_int(sc.n, 0, "nothing kept on failure");
	is_errors(&errors, bad, "bad-shortcuts.yaml");
	strlist_free(&errors);

	path = expand("@/nope.yaml");
	is_int(config_load_shortcuts(path, &sc, &errors), -1, "missing file");
	free(path);
	is_errors(&errors, missing, "missing shortcuts file");
	strlist_free(&errors);

	path = expand("@/bad-toplevel.yaml");
	is_int(config_load_shortcuts(path, &sc, &errors), -1, "a list");
	free(path);
	is_errors(&errors, toplevel, "shortcuts top level");
	strlist_free(&errors);

	path = expand("@/empty.yaml");
	is_int(config_load_shortcuts(path, &sc, &errors), 0,
	    "an empty shortcuts file is fine");
	free(path);
	is_int(sc.n, 0, "and has no shortcuts");
	strlist_free(&errors);
}

/* Secrets registered with the log redactor. */
static void
test_redact(void)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		 line[256];

	c = load("@/inline.yaml", &errors);
	ok(c != NULL, "inline config for redaction");
	if (c == NULL)
		return;
	config_redact_secrets(c);
	snprintf(line, sizeof(line), "jira said %s and pd said %s",
	    c->jira.api_token, c->pagerduty.api_token);
	log_scrub(line, sizeof(line));
	is_str(line, "jira said [redacted] and pd said [redacted]",
	    "jira and pagerduty tokens redacted");
	snprintf(line, sizeof(line), "unarchive with %s", c->slack.user_token);
	log_scrub(line, sizeof(line));
	is_str(line, "unarchive with [redacted]", "slack user token redacted");
	log_redact_clear();
	config_free(c);
	config_free(NULL);
	ok(1, "config_free(NULL)");
}

/* schedule.poll_interval: 1s is allowed, with a warning below 10s. */
static void
test_poll_interval(void)
{
	static const char *const zero[] = {
		"%/poll.yaml:2: schedule.poll_interval: must be at least 1s",
		NULL
	};
	static const struct {
		const char	*yaml;
		long long	 secs;
		const char	*warning;	/* NULL: none */
	} t[] = {
		{ "schedule:\n  poll_interval: 1s\n", 1, "%/poll.yaml:2: "
		    "warning: schedule.poll_interval below 10s is meant for "
		    "tests: each poll is a Jira search" },
		{ "schedule:\n  poll_interval:\n    9\n", 9, "%/poll.yaml:2: "
		    "warning: schedule.poll_interval below 10s is meant for "
		    "tests: each poll is a Jira search" },
		{ "schedule:\n  poll_interval: 10s\n", 10, NULL },
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		*yaml, *want, label[128];
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		xasprintf(&yaml, "%s" REQUIRED_JIRA REQUIRED_PD, t[i].yaml);
		c = load_text("poll.yaml", yaml, &errors);
		free(yaml);
		snprintf(label, sizeof(label), "poll_interval %lld", t[i].secs);
		ok(c != NULL && errors.n == 0, label);
		strlist_free(&errors);
		if (c == NULL)
			continue;
		is_int(c->schedule.poll_interval, t[i].secs, label);
		is_int(c->warnings.n, t[i].warning != NULL, label);
		if (t[i].warning != NULL && c->warnings.n == 1) {
			want = expand(t[i].warning);
			is_str(c->warnings.v[0], want, "warning at its key's "
			    "line");
			free(want);
		}
		config_free(c);
	}
	expect_text_errors("poll.yaml", "schedule:\n  poll_interval: 0s\n"
	    REQUIRED_JIRA REQUIRED_PD, zero);
}

/* slack.user_token: optional, xoxp- only, a secret like the others. */
static void
test_user_token(void)
{
	static const char *const bad_prefix[] = {
		"%/user-token.yaml:2: slack.user_token: must start with xoxp- "
		    "(a user OAuth token)",
		NULL
	};
	static const char *const bad_env[] = {
		"@/minimal.yaml:1: slack.user_token (from "
		    "INCIDENTD_SLACK_USER_TOKEN): must start with xoxp- (a "
		    "user OAuth token)",
		NULL
	};
	static const char *const open_file[] = {
		"%/user-token.yaml:2: slack.user_token (from %/open-token): "
		    "%/open-token holds a secret and is readable by everyone "
		    "(mode 0644); chmod o-r it",
		NULL
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	const char	*s;
	char		*path, *yaml;

	expect_text_errors("user-token.yaml", "slack:\n  user_token: "
	    "xoxb-not-a-user-token\n" REQUIRED_JIRA REQUIRED_PD, bad_prefix);

	set_env();
	setenv("INCIDENTD_SLACK_USER_TOKEN", "xoxp-env-user-token", 1);
	c = load("@/minimal.yaml", &errors);
	ok(c != NULL, "user token from the environment");
	if (c != NULL)
		is_str(c->slack.user_token, "xoxp-env-user-token",
		    "INCIDENTD_SLACK_USER_TOKEN");
	config_free(c);
	strlist_free(&errors);
	setenv("INCIDENTD_SLACK_USER_TOKEN", "xoxb-secret-in-the-wrong-var", 1);
	c = load("@/minimal.yaml", &errors);
	clear_env();
	is_rejected(c, &errors, "bad INCIDENTD_SLACK_USER_TOKEN", bad_env);

	s = "xoxp-0000-world-readable\n";
	path = write_tmp("open-token", s, strlen(s));
	if (chmod(path, 0644) == -1)
		exit(1);
	xasprintf(&yaml, "slack:\n  user_token_file: %s\n" REQUIRED_JIRA
	    REQUIRED_PD, path);
	free(path);
	expect_text_errors("user-token.yaml", yaml, open_file);
	free(yaml);
}

/* jira.users, a CONF_MAP: sorted, looked up, and every bad entry. */
static void
test_jira_users(void)
{
	static const char *const hits[][2] = {
		{ "5b10ac8d82e05b22cc7d4ef5", "W012AB3CD" },
		{ "alice", "U0ALICE01" },
		{ "zed@example.com", "U0ZED0001" },
		{ "~bob", "U0BOB0001" },
	};
	static const char *const misses[] = {
		"", "0", "ALICE", "alic", "alice2", "zzz", "~bob2"
	};
	static const char *const bad[] = {
		"%/users.yaml:6: jira.users: bob: must be a Slack user id (U "
		    "or W, then uppercase letters and digits, like U012AB3CD)",
		"%/users.yaml:7: jira.users: carol smith: must be a Jira "
		    "accountId, username or email (up to 128 printable ASCII "
		    "characters without spaces)",
		"%/users.yaml:8: jira.users: dave: a value is required",
		"%/users.yaml:9: jira.users: erin: expected a single value, "
		    "got a list",
		"%/users.yaml:11: jira.users: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: must be "
		    "a Jira accountId, username or email (up to 128 printable "
		    "ASCII characters without spaces)",
		"%/users.yaml:12: jira.users: frank: must be a Slack user id "
		    "(U or W, then uppercase letters and digits, like "
		    "U012AB3CD)",
		"%/users.yaml:10: jira.users: duplicate key alice (first at "
		    "line 5)",
		"%/users.yaml:13: jira.users: duplicate key alice (first at "
		    "line 5)",
		NULL
	};
	static const char *const a_list[] = {
		"%/users.yaml:4: jira.users: expected a mapping, got a list",
		NULL
	};
	static const char *const a_value[] = {
		"%/users.yaml:4: jira.users: expected a mapping, got a single "
		    "value",
		NULL
	};
	static const char *const too_many[] = {
		"%/users.yaml:8: jira.users: too many entries (limit 10000)",
		NULL
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		*yaml, *p, long_key[130], label[128];
	size_t		 i, size;

	c = load_text("users.yaml", REQUIRED_JIRA "  users:\n"
	    "    zed@example.com: U0ZED0001\n"
	    "    5b10ac8d82e05b22cc7d4ef5: W012AB3CD\n"
	    "    alice: U0ALICE01\n"
	    "    \"~bob\": U0BOB0001\n" REQUIRED_PD, &errors);
	ok(c != NULL && errors.n == 0, "jira.users");
	if (c != NULL) {
		is_int(c->jira.users.n, 4, "four users");
		for (i = 0; i < c->jira.users.n && i < 4; i++) {
			snprintf(label, sizeof(label), "key %zu sorted", i);
			is_str(c->jira.users.keys[i], hits[i][0], label);
		}
		for (i = 0; i < 4; i++) {
			snprintf(label, sizeof(label), "config_map_get %s",
			    hits[i][0]);
			is_str(config_map_get(&c->jira.users, hits[i][0]),
			    hits[i][1], label);
		}
		for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
			snprintf(label, sizeof(label), "config_map_get '%s' "
			    "misses", misses[i]);
			ok(config_map_get(&c->jira.users, misses[i]) == NULL,
			    label);
		}
	}
	config_free(c);
	strlist_free(&errors);

	memset(long_key, 'x', 129);
	long_key[129] = '\0';
	xasprintf(&yaml, REQUIRED_JIRA "  users:\n"
	    "    alice: U0ALICE01\n"
	    "    bob: u0bob\n"
	    "    carol smith: U0CAROL01\n"
	    "    dave:\n"
	    "    erin: [U0ERIN001]\n"
	    "    alice: U0ALICE02\n"
	    "    %s: U0LONG001\n"
	    "    frank: S0GROUP01\n"
	    "    alice: W0ALICE03\n" REQUIRED_PD, long_key);
	expect_text_errors("users.yaml", yaml, bad);
	free(yaml);
	expect_text_errors("users.yaml", REQUIRED_JIRA "  users: [alice, bob]\n"
	    REQUIRED_PD, a_list);
	expect_text_errors("users.yaml", REQUIRED_JIRA "  users: alice\n"
	    REQUIRED_PD, a_value);

	/* The limit: 10000 entries load, one more is refused. */
	size = 32 * 10002 + 256;
	yaml = p = xmalloc(size);
	p += sprintf(p, REQUIRED_PD REQUIRED_JIRA "  users:\n");
	for (i = 0; i < 10000; i++)
		p += sprintf(p, "    user%05zu: U0USER%03zu\n", i, i % 1000);
	c = load_text("users.yaml", yaml, &errors);
	ok(c != NULL && errors.n == 0, "10000 jira users");
	if (c != NULL) {
		is_int(c->jira.users.n, 10000, "all kept");
		is_str(config_map_get(&c->jira.users, "user09999"),
		    "U0USER999", "the last one found");
	}
	config_free(c);
	strlist_free(&errors);
	strlcat(yaml, "    user10000: U0USER000\n", size);
	expect_text_errors("users.yaml", yaml, too_many);
	free(yaml);
}

/* schedule.aar_expectations: up to 1000 characters, not bytes. */
static void
test_aar_expectations(void)
{
	static const char *const too_long[] = {
		"%/aar.yaml:2: schedule.aar_expectations: must be at most "
		    "1000 characters",
		NULL
	};
	static const char *const blank[] = {
		"%/aar.yaml:2: schedule.aar_expectations: empty value",
		NULL
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		*yaml, text[2001];
	size_t		 i;

	/* 1000 two-byte characters are fine. */
	for (i = 0; i < 1000; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[2000] = '\0';
	xasprintf(&yaml, "schedule:\n  aar_expectations: %s\n" REQUIRED_JIRA
	    REQUIRED_PD, text);
	c = load_text("aar.yaml", yaml, &errors);
	free(yaml);
	ok(c != NULL && errors.n == 0, "1000 characters in 2000 bytes");
	if (c != NULL)
		is_str(c->schedule.aar_expectations, text, "kept as written");
	config_free(c);
	strlist_free(&errors);

	memset(text, 'a', 1001);
	text[1001] = '\0';
	xasprintf(&yaml, "schedule:\n  aar_expectations: %s\n" REQUIRED_JIRA
	    REQUIRED_PD, text);
	expect_text_errors("aar.yaml", yaml, too_long);
	free(yaml);
	expect_text_errors("aar.yaml", "schedule:\n  aar_expectations: "
	    "\"\\n \\t\\n\"\n" REQUIRED_JIRA REQUIRED_PD, blank);
}

/* metrics.listen: an address, loopback unless listen_public says so. */
static void
test_metrics(void)
{
	static const char *const public[] = {
		"%/metrics.yaml:2: metrics.listen: 10.0.0.1:9464 is not a "
		    "loopback address; set metrics.listen_public: true to "
		    "serve metrics beyond this host",
		NULL
	};
	static const char *const bad[] = {
		"%/metrics.yaml:2: metrics.listen: must be HOST:PORT with an "
		    "IP address, like 127.0.0.1:9464 or [::1]:9464",
		"%/metrics.yaml:3: metrics.listen_public: must be true or "
		    "false",
		NULL
	};
	static const char *const port[] = {
		"%/metrics.yaml:3: metrics.listen: the port must be a number "
		    "from 1 to 65535",
		NULL
	};
	static const struct {
		const char	*yaml;
		const char	*listen;
		int		 public;
	} t[] = {
		{ "metrics:\n  listen: 127.0.0.1:9464\n", "127.0.0.1:9464", 0 },
		{ "metrics:\n  listen: \"[::1]:9100\"\n", "[::1]:9100", 0 },
		{ "metrics:\n  listen: 9464\n", "9464", 0 },
		{ "metrics:\n  listen: 10.0.0.1:9464\n  listen_public: true\n",
		    "10.0.0.1:9464", 1 },
		{ "metrics:\n  listen:\n", NULL, 0 },
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	char		*yaml;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		xasprintf(&yaml, "%s" REQUIRED_JIRA REQUIRED_PD, t[i].yaml);
		c = load_text("metrics.yaml", yaml, &errors);
		free(yaml);
		ok(c != NULL && errors.n == 0, t[i].yaml);
		strlist_free(&errors);
		if (c == NULL)
			continue;
		is_str(c->metrics.listen, t[i].listen, "metrics.listen");
		is_int(c->metrics.listen_public, t[i].public,
		    "metrics.listen_public");
		config_free(c);
	}
	expect_text_errors("metrics.yaml", "metrics:\n  listen: 10.0.0.1:9464\n"
	    REQUIRED_JIRA REQUIRED_PD, public);
	expect_text_errors("metrics.yaml", "metrics:\n  listen: "
	    "metrics.example.com:9464\n  listen_public: maybe\n" REQUIRED_JIRA
	    REQUIRED_PD, bad);
	expect_text_errors("metrics.yaml", "metrics:\n  listen_public: false\n"
	    "  listen: 127.0.0.1:65536\n" REQUIRED_JIRA REQUIRED_PD, port);
}

/* pagerduty.webhook: a third level of keys, a list of secrets. */
#define WEBHOOK_PD	"  from: incident-bot@example.com\n" \
			"  incident_manager_service: PIMGR01\n"
static void
test_webhook(void)
{
	static const char *const bad[] = {
		"%/webhook.yaml:4: pagerduty.webhook.path: must be a path like "
		    "/pagerduty (no query)",
		"%/webhook.yaml:6: pagerduty.webhook.secrets: must be printable "
		    "ASCII without spaces",
		"%/webhook.yaml:7: pagerduty.webhook.max_age: expected a number "
		    "at 's' (use s, m, h or d after whole numbers, like 1h30m)",
		"%/webhook.yaml:3: pagerduty.webhook.listen: 10.0.0.1:9465 is "
		    "not a loopback address; put a TLS proxy in front, or set "
		    "pagerduty.webhook.listen_public: true",
		/* The one secret was refused. */
		"%/webhook.yaml:3: pagerduty.webhook.listen needs "
		    "pagerduty.webhook.secrets (the subscription's signing "
		    "secret)",
		NULL
	};
	static const char *const nosecret[] = {
		"%/webhook.yaml:3: pagerduty.webhook.listen needs "
		    "pagerduty.webhook.secrets (the subscription's signing "
		    "secret)",
		NULL
	};
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;

	c = load_text("webhook.yaml", "pagerduty:\n  webhook:\n"
	    "    listen: 9465\n    secrets: [old-one, new-two]\n"
	    WEBHOOK_PD REQUIRED_JIRA, &errors);
	ok(c != NULL && errors.n == 0, "webhook: a good one");
	strlist_free(&errors);
	if (c != NULL) {
		is_str(c->pagerduty.webhook.listen, "9465", "webhook.listen");
		is_str(c->pagerduty.webhook.path, "/pagerduty", "path default");
		is_int(c->pagerduty.webhook.max_age, 300, "max_age default");
		is_int((int)c->pagerduty.webhook.secrets.n, 2, "two secrets");
		is_str(c->pagerduty.webhook.secrets.v[1], "new-two",
		    "in order");
		ok(pd_webhook_verify("v1=00, v1=0", "", 0,
		    &c->pagerduty.webhook.secrets) == -1, "bad signature");
		config_free(c);
	}
	expect_text_errors("webhook.yaml", "pagerduty:\n  webhook:\n"
	    "    listen: 10.0.0.1:9465\n    path: pagerduty\n"
	    "    secrets:\n      - \"two words\"\n    max_age: soon\n"
	    WEBHOOK_PD REQUIRED_JIRA, bad);
	expect_text_errors("webhook.yaml", "pagerduty:\n  webhook:\n"
	    "    listen: 127.0.0.1:9465\n" WEBHOOK_PD REQUIRED_JIRA, nosecret);
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "webhook", test_webhook },
	{ "duration", test_duration },
	{ "base_url", test_base_url },
	{ "defaults", test_defaults },
	{ "full", test_full },
	{ "inline", test_inline },
	{ "fixture_errors", test_fixture_errors },
	{ "env_errors", test_env_errors },
	{ "hostile", test_hostile },
	{ "shortcuts", test_shortcuts },
	{ "redact", test_redact },
	{ "poll_interval", test_poll_interval },
	{ "user_token", test_user_token },
	{ "jira_users", test_jira_users },
	{ "aar_expectations", test_aar_expectations },
	{ "metrics", test_metrics },
};

int
main(void)
{
	char	*cp, cmd[64 + sizeof(tmpdir)];
	size_t	 i;
	int	 rv;

	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	xasprintf(&cp, "cp -R '%s/t/conf' '%s/conf' && chmod -R go-rwx "
	    "'%s/conf'", top, tmpdir, tmpdir);
	if (system(cp) != 0) {
		fprintf(stderr, "cannot copy the fixtures\n");
		return (1);
	}
	free(cp);
	clear_env();
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		printf("# %s\n", tests[i].name);
		tests[i].fn();
	}
	rv = done_testing();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove the temporary directory");
	return (rv);
}
