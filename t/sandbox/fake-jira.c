/*
 * fake-jira.c: a stateful, strict fake of the Jira REST API.
 *
 * Cloud (sb_opts.jira_flavor "cloud", the default) serves /rest/api/2 and
 * /rest/api/3 with Basic auth (email:api_token); the old /search answers 410
 * and /search/jql is the search endpoint. Data Center ("datacenter" or
 * "server") serves only /rest/api/2 with Bearer PAT auth, the classic
 * /search (startAt/total) and 404 for /search/jql. Rich-text fields
 * (description, comment bodies, textarea custom fields) are ADF documents in
 * v3 and plain strings in v2; the wrong shape is a 400 as in Jira.
 *
 * Control ops (POST /control/jira/<op>, JSON body; answers {"ok":...}):
 *   issue       {"summary", "project":"INC", "issuetype":"Incident",
 *                "status":"To Do", "resolution", "labels":[...],
 *                "created", "updated", "resolutiondate", "duedate",
 *                "description" (text or ADF), "assignee", "reporter"
 *                (email, accountId or username), "fields":{"customfield_N":
 *                value}}; times are ISO 8601 or relative ("-3d")
 *                -> {"ok":true,"id","key"}
 *   transition  {"key", "status":"Done"} -> {"ok":true,"key","status"}
 *   get         {"key"} -> {"ok":true,"issue":{v3 issue, all fields},
 *                "description_text", "comments":[{"id","author","body_text",
 *                "created"}], "remotelinks":[...]}
 *   issues      {} -> {"ok":true,"issues":[{"id","key","summary","status",
 *                "labels"}]}
 *   ratelimit   {"per_minute":N} -> requests over N in any 60 s window get
 *                429 with Retry-After and X-RateLimit-*; 0 (the default)
 *                turns limiting off
 *   reset       {} -> back to the seed state
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "sandbox.h"

#define FJ_DEFAULT_EMAIL	"incidentd@example.com"
#define FJ_DEFAULT_TOKEN	"jira-token"
#define FJ_SUMMARY_MAX		255
#define FJ_TEXTFIELD_MAX	255
#define FJ_TEXT_MAX		32767
#define FJ_LABEL_MAX		255
#define FJ_GLOBALID_MAX		255
#define FJ_COMMENTS_MAX		5000
#define FJ_RLINKS_MAX		2000
#define FJ_ADF_DEPTH		64
#define FJ_JQL_MAX		10000
#define FJ_ORDER_MAX		7
#define FJ_SEARCH_MAX		5000
#define FJ_SEARCH_FIELDS_MAX	100
#define FJ_DC_SEARCH_MAX	1000
#define FJ_DAY_MS		(86400LL * 1000)

#define fj_get(o, k)	cJSON_GetObjectItemCaseSensitive((o), (k))

/* Seeded users. The last one is the API user unless jira_email names one. */
struct fj_user {
	const char	*account_id;	/* Cloud */
	const char	*name;		/* Data Center username */
	const char	*key;		/* Data Center user key */
	const char	*display;
	const char	*email;
};
static const struct fj_user fj_users[] = {
	{ "5b10a2844c20165700ede21g", "alice", "JIRAUSER10000",
	    "Alice Example", "alice@example.com" },
	{ "5b10ac8d82e05b22cc7d4ef5", "bob", "JIRAUSER10001",
	    "Bob Example", "bob@example.com" },
	{ "5b109f2e9729b51b54dc274d", "carol", "JIRAUSER10002",
	    "Carol Example", "carol@example.com" },
};
#define FJ_NUSERS	(sizeof fj_users / sizeof fj_users[0])
/* The API user when jira_email is not a seeded user; email set at init. */
static struct fj_user fj_bot = {
	"712020:5f0c1b2a-9d4e-4c1b-8a7e-1c2d3e4f5a6b", "incidentd",
	"JIRAUSER10003", "incidentd", FJ_DEFAULT_EMAIL
};

struct fj_itype {
	const char	*id;
	const char	*name;
	const char	*description;
};
static const struct fj_itype fj_itypes[] = {
	{ "10001", "Incident", "A problem which impairs or stops service." },
	{ "10002", "Task", "A small, distinct piece of work." },
};
#define FJ_NITYPES	(sizeof fj_itypes / sizeof fj_itypes[0])

struct fj_project {
	const char	*id;
	const char	*key;
	const char	*name;
};
static const struct fj_project fj_projects[] = {
	{ "10000", "INC", "Incidents" },
	{ "10001", "OPS", "Operations" },
};
#define FJ_NPROJECTS	(sizeof fj_projects / sizeof fj_projects[0])

struct fj_category {
	int		 id;
	const char	*key;
	const char	*name;
	const char	*color;
};
static const struct fj_category fj_categories[] = {
	{ 2, "new", "To Do", "blue-gray" },
	{ 4, "indeterminate", "In Progress", "yellow" },
	{ 3, "done", "Done", "green" },
};
#define FJ_NCATEGORIES	(sizeof fj_categories / sizeof fj_categories[0])

struct fj_status {
	const char	*id;
	const char	*name;
	const char	*description;
	int		 category;	/* index into fj_categories */
	const char	*transition;	/* id of the transition into it */
};
static const struct fj_status fj_statuses[] = {
	{ "10000", "To Do", "", 0, "11" },
	{ "3", "In Progress",
	    "This issue is being actively worked on at the moment by the "
	    "assignee.", 1, "21" },
	{ "10001", "Done", "", 2, "31" },
};
#define FJ_NSTATUSES	(sizeof fj_statuses / sizeof fj_statuses[0])
#define FJ_STATUS_DONE	2

struct fj_resolution {
	const char	*id;
	const char	*name;
	const char	*description;
};
static const struct fj_resolution fj_resolutions[] = {
	{ "10000", "Done", "Work has been completed on this issue." },
	{ "10001", "Won't Do", "This issue won't be actioned." },
	{ "10002", "Duplicate", "The problem is a duplicate of an existing "
	    "issue." },
	{ "10003", "Cannot Reproduce", "This issue couldn't be reproduced." },
};
#define FJ_NRESOLUTIONS	(sizeof fj_resolutions / sizeof fj_resolutions[0])

/* Field kinds, for validation, rendering and JQL. */
enum fj_kind {
	FK_SUMMARY,
	FK_DESCRIPTION,
	FK_STATUS,
	FK_CREATED,
	FK_UPDATED,
	FK_RESOLUTIONDATE,
	FK_RESOLUTION,
	FK_DUEDATE,
	FK_LABELS,
	FK_ASSIGNEE,
	FK_REPORTER,
	FK_ISSUETYPE,
	FK_PROJECT,
	FK_COMMENT,
	FK_CF_DATE,
	FK_CF_TEXT,
	FK_CF_TEXTAREA
};
struct fj_field {
	const char	*id;
	const char	*name;
	enum fj_kind	 kind;
	int		 navigable;
	int		 orderable;	/* may appear in ORDER BY */
	int		 settable;	/* on the create and edit screens */
	const char	*schema_type;
	const char	*schema_items;
	const char	*schema_custom;	/* custom field type key */
	int		 custom_id;
};
#define FJ_CF_PREFIX	"com.atlassian.jira.plugin.system.customfieldtypes:"
static const struct fj_field fj_fields[] = {
	{ "summary", "Summary", FK_SUMMARY, 1, 1, 1, "string", NULL, NULL,
	    0 },
	{ "description", "Description", FK_DESCRIPTION, 1, 0, 1, "string",
	    NULL, NULL, 0 },
	{ "status", "Status", FK_STATUS, 1, 1, 0, "status", NULL, NULL, 0 },
	{ "created", "Created", FK_CREATED, 1, 1, 0, "datetime", NULL, NULL,
	    0 },
	{ "updated", "Updated", FK_UPDATED, 1, 1, 0, "datetime", NULL, NULL,
	    0 },
	{ "resolutiondate", "Resolved", FK_RESOLUTIONDATE, 1, 1, 0,
	    "datetime", NULL, NULL, 0 },
	{ "resolution", "Resolution", FK_RESOLUTION, 1, 1, 0, "resolution",
	    NULL, NULL, 0 },
	{ "duedate", "Due date", FK_DUEDATE, 1, 1, 1, "date", NULL, NULL, 0 },
	{ "labels", "Labels", FK_LABELS, 1, 0, 1, "array", "string", NULL,
	    0 },
	{ "assignee", "Assignee", FK_ASSIGNEE, 1, 1, 1, "user", NULL, NULL,
	    0 },
	{ "reporter", "Reporter", FK_REPORTER, 1, 1, 1, "user", NULL, NULL,
	    0 },
	{ "issuetype", "Issue Type", FK_ISSUETYPE, 1, 1, 1, "issuetype",
	    NULL, NULL, 0 },
	{ "project", "Project", FK_PROJECT, 1, 1, 1, "project", NULL, NULL,
	    0 },
	{ "comment", "Comment", FK_COMMENT, 0, 0, 0, "comments-page", NULL,
	    NULL, 0 },
	{ "customfield_10050", "AAR Date", FK_CF_DATE, 1, 1, 1, "date", NULL,
	    FJ_CF_PREFIX "datepicker", 10050 },
	{ "customfield_10051", "Severity", FK_CF_TEXT, 1, 1, 1, "string",
	    NULL, FJ_CF_PREFIX "textfield", 10051 },
	{ "customfield_10052", "Impact", FK_CF_TEXTAREA, 1, 0, 1, "string",
	    NULL, FJ_CF_PREFIX "textarea", 10052 },
	{ "customfield_10053", "Incident Channel", FK_CF_TEXT, 1, 1, 1,
	    "string", NULL, FJ_CF_PREFIX "textfield", 10053 },
};
#define FJ_NFIELDS	(sizeof fj_fields / sizeof fj_fields[0])

struct fj_comment {
	long			 id;
	const struct fj_user	*author;
	cJSON			*body;		/* ADF */
	cJSON			*visibility;	/* or NULL */
	int64_t			 created;
	int64_t			 updated;
};

struct fj_rlink {
	long		 id;
	char		*global_id;	/* or NULL */
	cJSON		*data;		/* application, relationship, object */
};

struct fj_issue {
	long			 id;
	char			 key[32];
	int			 project;
	int			 num;
	int			 itype;
	char			*summary;
	cJSON			*description;	/* ADF or NULL */
	cJSON			*labels;	/* sorted array of strings */
	char			 duedate[11];	/* "" if unset */
	const struct fj_user	*assignee;
	const struct fj_user	*reporter;
	int			 status;
	int			 resolution;	/* -1 if unresolved */
	int64_t			 created;
	int64_t			 updated;
	int64_t			 resolved;	/* 0 if unresolved */
	cJSON			*custom;	/* field id -> value (ADF for
						   textarea) */
	struct fj_comment	**comments;
	size_t			 ncomments;
	struct fj_rlink		**rlinks;
	size_t			 nrlinks;
};

static struct fj_issue	**fj_issues;
static size_t		  fj_nissues;
static long		  fj_next_id;
static long		  fj_next_comment;
static long		  fj_next_rlink;
static int		  fj_next_num[FJ_NPROJECTS];

/* Sliding-window rate limit, off when per_minute is 0. */
static struct {
	int		 per_minute;
	int64_t		*ts;		/* monotonic ms, oldest first */
	size_t		 n;
} fj_rl;

/* One request being answered. */
struct fj_ctx {
	struct sb_req		*r;
	int			 v;		/* API version, 2 or 3 */
	int			 dc;		/* Data Center flavour */
	const struct fj_user	*me;
	cJSON			*json;		/* parsed body or NULL */
	const char		*hdrs[8];
	char			 hbuf[6][160];
	size_t			 nhdrs;
};

/* Which fields to render. */
struct fj_fsel {
	int		 base;		/* 0 none, 1 navigable, 2 all */
	int		 n_id;		/* times "id" was named */
	int		 n_other;	/* other names, "*all", "*navigable" */
	char		 incl[FJ_NFIELDS];
	char		 excl[FJ_NFIELDS];
};

static void	 fj_init(void);
static void	 fj_handle(struct sb_req *);
static cJSON	*fj_control(const char *, cJSON *);
static void	 fj_shutdown(void);

const struct sb_service fake_jira = { "jira", fj_init, fj_handle,
    fj_control, fj_shutdown };

/* ---------------------------------------------------------------------- */
/* Small helpers. */

/* Growable string buffer. */
struct fj_buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static void
fj_buf_add(struct fj_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap == 0 ? 64 : b->cap * 2;
		b->s = sb_realloc(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
fj_buf_str(struct fj_buf *b, const char *s)
{
	fj_buf_add(b, s, strlen(s));
}

static char *
fj_buf_take(struct fj_buf *b)
{
	char	*s;

	if (b->s == NULL)
		return (sb_strdup(""));
	s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return (s);
}

static int
fj_is_blank(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!isspace((unsigned char)*s))
			return (0);
	}
	return (1);
}

/* Case-insensitive substring test (ASCII folding). */
static int
fj_contains_ci(const char *hay, const char *needle)
{
	return (strcasestr(hay, needle) != NULL);
}

static int64_t
fj_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
fj_days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static void
fj_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
fj_valid_ymd(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	leap;

	if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1)
		return (0);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return (d <= mdays[m - 1] + (m == 2 && leap));
}

static int64_t
fj_floor_div(int64_t a, int64_t b)
{
	return (a / b - (a % b != 0 && (a < 0) != (b < 0)));
}

/* "2023-06-24T19:24:50.000+0000", the format Jira renders. */
static void
fj_fmt_time(int64_t ms, char *buf, size_t len)
{
	int64_t	days, rem;
	int	y, m, d;

	days = fj_floor_div(ms, FJ_DAY_MS);
	rem = ms - days * FJ_DAY_MS;
	fj_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", y, m, d,
	    (int)(rem / 3600000), (int)(rem / 60000 % 60),
	    (int)(rem / 1000 % 60), (int)(rem % 1000));
}

static void
fj_fmt_date(int64_t ms, char *buf, size_t len)
{
	int	y, m, d;

	fj_civil_from_days(fj_floor_div(ms, FJ_DAY_MS), &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

/* Parse exactly n digits; -1 on failure. */
static int
fj_digits(const char *s, int n)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v);
}

/* "YYYY-MM-DD" exactly; 0 and *ms at UTC midnight, or -1. */
static int
fj_parse_date(const char *s, int64_t *ms)
{
	int	y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return (-1);
	y = fj_digits(s, 4);
	m = fj_digits(s + 5, 2);
	d = fj_digits(s + 8, 2);
	if (y < 0 || m < 0 || d < 0 || !fj_valid_ymd(y, m, d))
		return (-1);
	*ms = fj_days_from_civil(y, m, d) * FJ_DAY_MS;
	return (0);
}

/*
 * A relative period as JQL and the control API take it: "-5d", "4w 2d",
 * "+1h", "30m". Units w, d, h, m. 0 on success.
 */
static int
fj_parse_period(const char *s, int64_t *ms)
{
	int64_t	 total = 0, n;
	int	 sign = 1, any = 0;

	while (*s == ' ')
		s++;
	if (*s == '-' || *s == '+') {
		sign = *s == '-' ? -1 : 1;
		s++;
	}
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return (-1);
		n = 0;
		while (isdigit((unsigned char)*s)) {
			n = n * 10 + (*s - '0');
			if (n > 1000000)
				return (-1);
			s++;
		}
		switch (*s) {
		case 'w':
			total += n * 7 * FJ_DAY_MS;
			break;
		case 'd':
			total += n * FJ_DAY_MS;
			break;
		case 'h':
			total += n * 3600000;
			break;
		case 'm':
			total += n * 60000;
			break;
		default:
			return (-1);
		}
		s++;
		any = 1;
		while (*s == ' ')
			s++;
	}
	if (!any)
		return (-1);
	*ms = sign * total;
	return (0);
}

/*
 * ISO 8601 time for the control API: "2024-01-02T03:04:05[.sss]"
 * followed by "Z", "+hhmm", "+hh:mm" or nothing (UTC), or a bare date, or a
 * relative period from now.
 */
static int
fj_parse_iso(const char *s, int64_t *ms)
{
	int64_t	 t;
	int	 h, mi, se, frac = 0, oh, om, sign;
	char	 date[11];

	if (fj_parse_period(s, &t) == 0) {
		*ms = fj_now() + t;
		return (0);
	}
	if (strlen(s) < 10)
		return (-1);
	memcpy(date, s, 10);
	date[10] = '\0';
	if (fj_parse_date(date, &t) != 0)
		return (-1);
	if (s[10] == '\0') {
		*ms = t;
		return (0);
	}
	if (s[10] != 'T' && s[10] != ' ')
		return (-1);
	s += 11;
	if (strlen(s) < 8 || s[2] != ':' || s[5] != ':')
		return (-1);
	h = fj_digits(s, 2);
	mi = fj_digits(s + 3, 2);
	se = fj_digits(s + 6, 2);
	if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
		return (-1);
	s += 8;
	if (*s == '.') {
		if ((frac = fj_digits(s + 1, 3)) < 0)
			return (-1);
		s += 4;
	}
	t += ((int64_t)h * 3600 + mi * 60 + se) * 1000 + frac;
	if (*s == '\0' || strcmp(s, "Z") == 0) {
		*ms = t;
		return (0);
	}
	if (*s != '+' && *s != '-')
		return (-1);
	sign = *s == '-' ? -1 : 1;
	s++;
	oh = fj_digits(s, 2);
	if (oh >= 0 && s[2] == ':') {
		om = fj_digits(s + 3, 2);
		s += 5;
	} else if (oh >= 0) {
		om = fj_digits(s + 2, 2);
		s += 4;
	} else
		return (-1);
	if (oh < 0 || om < 0 || oh > 23 || om > 59 || *s != '\0')
		return (-1);
	*ms = t - sign * ((int64_t)oh * 3600 + om * 60) * 1000;
	return (0);
}

/* Strict integer parse for query parameters; 0 or -1. */
static int
fj_parse_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

static const char *
fj_email(void)
{
	return (sb_opts.jira_email != NULL ? sb_opts.jira_email :
	    FJ_DEFAULT_EMAIL);
}

static const char *
fj_token(void)
{
	return (sb_opts.jira_token != NULL ? sb_opts.jira_token :
	    FJ_DEFAULT_TOKEN);
}

static int
fj_is_dc(void)
{
	const char	*f = sb_opts.jira_flavor;

	return (f != NULL && (strcasecmp(f, "datacenter") == 0 ||
	    strcasecmp(f, "server") == 0 || strcasecmp(f, "dc") == 0));
}

static void
fj_base(char *buf, size_t len)
{
	snprintf(buf, len, "%s://127.0.0.1:%d", sb_opts.tls ? "https" : "http",
	    sb_opts.jira_port);
}

/* The user the credentials belong to. */
static const struct fj_user *
fj_myself(void)
{
	size_t	i;

	for (i = 0; i < FJ_NUSERS; i++) {
		if (strcasecmp(fj_users[i].email, fj_email()) == 0)
			return (&fj_users[i]);
	}
	fj_bot.email = fj_email();
	return (&fj_bot);
}

/* Look a user up by accountId, username, key or email. */
static const struct fj_user *
fj_user_find(const char *s)
{
	const struct fj_user	*me = fj_myself();
	size_t			 i;

	for (i = 0; i <= FJ_NUSERS; i++) {
		const struct fj_user *u = i < FJ_NUSERS ? &fj_users[i] : me;

		if (strcmp(u->account_id, s) == 0 ||
		    strcasecmp(u->name, s) == 0 || strcmp(u->key, s) == 0 ||
		    strcasecmp(u->email, s) == 0)
			return (u);
	}
	return (NULL);
}

static int
fj_project_find(const char *s)
{
	size_t	i;

	for (i = 0; i < FJ_NPROJECTS; i++) {
		if (strcasecmp(fj_projects[i].key, s) == 0 ||
		    strcmp(fj_projects[i].id, s) == 0)
			return ((int)i);
	}
	return (-1);
}

static int
fj_itype_find(const char *s)
{
	size_t	i;

	for (i = 0; i < FJ_NITYPES; i++) {
		if (strcasecmp(fj_itypes[i].name, s) == 0 ||
		    strcmp(fj_itypes[i].id, s) == 0)
			return ((int)i);
	}
	return (-1);
}

static int
fj_status_find(const char *s)
{
	size_t	i;

	for (i = 0; i < FJ_NSTATUSES; i++) {
		if (strcasecmp(fj_statuses[i].name, s) == 0 ||
		    strcmp(fj_statuses[i].id, s) == 0)
			return ((int)i);
	}
	return (-1);
}

static int
fj_resolution_find(const char *s)
{
	size_t	i;

	for (i = 0; i < FJ_NRESOLUTIONS; i++) {
		if (strcasecmp(fj_resolutions[i].name, s) == 0 ||
		    strcmp(fj_resolutions[i].id, s) == 0)
			return ((int)i);
	}
	return (-1);
}

static const struct fj_field *
fj_field_find(const char *id)
{
	size_t	i;

	for (i = 0; i < FJ_NFIELDS; i++) {
		if (strcmp(fj_fields[i].id, id) == 0)
			return (&fj_fields[i]);
	}
	return (NULL);
}

/* Issue by key (case-insensitive) or numeric id. */
static struct fj_issue *
fj_issue_find(const char *s)
{
	size_t	i;

	for (i = 0; i < fj_nissues; i++) {
		struct fj_issue *is = fj_issues[i];
		char		 id[32];

		snprintf(id, sizeof id, "%ld", is->id);
		if (strcasecmp(is->key, s) == 0 || strcmp(id, s) == 0)
			return (is);
	}
	return (NULL);
}

/* ---------------------------------------------------------------------- */
/* Atlassian Document Format. */

enum {
	FJ_ADF_BLOCK = 1,	/* may appear in doc, cells, expand */
	FJ_ADF_INLINE = 2	/* may appear in paragraph, heading */
};
struct fj_adf_node {
	const char	*type;
	int		 class;
	const char	*children;	/* space-separated allowed types, "B"
					   for any block but table/expand, "I"
					   for inline, NULL for none */
	int		 nonempty;	/* content required and non-empty */
	const char	*attr;		/* required string attribute */
};
static const struct fj_adf_node fj_adf_nodes[] = {
	{ "paragraph", FJ_ADF_BLOCK, "I", 0, NULL },
	{ "heading", FJ_ADF_BLOCK, "I", 0, NULL },
	{ "bulletList", FJ_ADF_BLOCK, "listItem", 1, NULL },
	{ "orderedList", FJ_ADF_BLOCK, "listItem", 1, NULL },
	{ "listItem", 0, "paragraph bulletList orderedList codeBlock "
	    "mediaSingle", 1, NULL },
	{ "codeBlock", FJ_ADF_BLOCK, "text", 0, NULL },
	{ "blockquote", FJ_ADF_BLOCK, "paragraph bulletList orderedList "
	    "codeBlock mediaGroup mediaSingle", 1, NULL },
	{ "rule", FJ_ADF_BLOCK, NULL, 0, NULL },
	{ "panel", FJ_ADF_BLOCK, "paragraph heading bulletList orderedList "
	    "codeBlock rule mediaGroup mediaSingle", 1, "panelType" },
	{ "table", FJ_ADF_BLOCK, "tableRow", 1, NULL },
	{ "tableRow", 0, "tableHeader tableCell", 1, NULL },
	{ "tableHeader", 0, "B", 1, NULL },
	{ "tableCell", 0, "B", 1, NULL },
	{ "expand", FJ_ADF_BLOCK, "B", 1, NULL },
	{ "mediaSingle", FJ_ADF_BLOCK, "media", 1, NULL },
	{ "mediaGroup", FJ_ADF_BLOCK, "media", 1, NULL },
	{ "media", 0, NULL, 0, "type" },
	{ "text", FJ_ADF_INLINE, NULL, 0, NULL },
	{ "hardBreak", FJ_ADF_INLINE, NULL, 0, NULL },
	{ "mention", FJ_ADF_INLINE, NULL, 0, "id" },
	{ "emoji", FJ_ADF_INLINE, NULL, 0, "shortName" },
	{ "inlineCard", FJ_ADF_INLINE, NULL, 0, "url" },
	{ "date", FJ_ADF_INLINE, NULL, 0, "timestamp" },
	{ "status", FJ_ADF_INLINE, NULL, 0, "text" },
	{ "mediaInline", FJ_ADF_INLINE, NULL, 0, "id" },
};
#define FJ_NADF_NODES	(sizeof fj_adf_nodes / sizeof fj_adf_nodes[0])

static const struct fj_adf_node *
fj_adf_node(const char *type)
{
	size_t	i;

	for (i = 0; i < FJ_NADF_NODES; i++) {
		if (strcmp(fj_adf_nodes[i].type, type) == 0)
			return (&fj_adf_nodes[i]);
	}
	return (NULL);
}

static int
fj_adf_allowed(const char *children, const struct fj_adf_node *child)
{
	const char	*p;
	size_t		 n = strlen(child->type);

	if (strcmp(children, "I") == 0)
		return ((child->class & FJ_ADF_INLINE) != 0);
	if (strcmp(children, "B") == 0) {
		return ((child->class & FJ_ADF_BLOCK) != 0 &&
		    strcmp(child->type, "table") != 0 &&
		    strcmp(child->type, "expand") != 0);
	}
	for (p = children; (p = strstr(p, child->type)) != NULL; p += n) {
		if ((p == children || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return (1);
	}
	return (0);
}

static int
fj_adf_marks_valid(const cJSON *marks, int in_code)
{
	static const char *known[] = { "strong", "em", "code", "strike",
	    "underline", "link", "textColor", "subsup" };
	const cJSON	*m, *type, *attrs;
	size_t		 i;

	if (marks == NULL)
		return (0);
	if (!cJSON_IsArray(marks) || in_code)
		return (-1);
	cJSON_ArrayForEach(m, marks) {
		if (!cJSON_IsObject(m))
			return (-1);
		type = fj_get(m, "type");
		if (!cJSON_IsString(type))
			return (-1);
		for (i = 0; i < sizeof known / sizeof known[0]; i++) {
			if (strcmp(known[i], type->valuestring) == 0)
				break;
		}
		if (i == sizeof known / sizeof known[0])
			return (-1);
		attrs = fj_get(m, "attrs");
		if (strcmp(type->valuestring, "link") == 0 &&
		    !cJSON_IsString(fj_get(attrs, "href")))
			return (-1);
		if (strcmp(type->valuestring, "textColor") == 0 &&
		    !cJSON_IsString(fj_get(attrs, "color")))
			return (-1);
	}
	return (0);
}

static int
fj_adf_valid_node(const cJSON *node, const char *allowed, int depth)
{
	const struct fj_adf_node	*def;
	const cJSON			*type, *content, *child, *attrs, *lv;

	if (depth > FJ_ADF_DEPTH || !cJSON_IsObject(node))
		return (-1);
	type = fj_get(node, "type");
	if (!cJSON_IsString(type) ||
	    (def = fj_adf_node(type->valuestring)) == NULL)
		return (-1);
	if (allowed != NULL && !fj_adf_allowed(allowed, def))
		return (-1);
	attrs = fj_get(node, "attrs");
	if (attrs != NULL && !cJSON_IsObject(attrs))
		return (-1);
	if (def->attr != NULL && !cJSON_IsString(fj_get(attrs, def->attr)))
		return (-1);
	if (strcmp(def->type, "heading") == 0) {
		lv = fj_get(attrs, "level");
		if (!cJSON_IsNumber(lv) || lv->valuedouble < 1 ||
		    lv->valuedouble > 6 ||
		    lv->valuedouble != (int)lv->valuedouble)
			return (-1);
	}
	if (strcmp(def->type, "text") == 0) {
		if (!cJSON_IsString(fj_get(node, "text")) ||
		    *fj_get(node, "text")->valuestring == '\0')
			return (-1);
		if (fj_adf_marks_valid(fj_get(node, "marks"),
		    strcmp(allowed != NULL ? allowed : "", "text") == 0) != 0)
			return (-1);
	} else if (fj_get(node, "marks") != NULL &&
	    fj_adf_marks_valid(fj_get(node, "marks"), 0) != 0)
		return (-1);
	content = fj_get(node, "content");
	if (def->children == NULL) {
		if (content != NULL)
			return (-1);
		return (0);
	}
	if (content == NULL) {
		if (def->nonempty)
			return (-1);
		return (0);
	}
	if (!cJSON_IsArray(content) ||
	    (def->nonempty && cJSON_GetArraySize(content) == 0))
		return (-1);
	cJSON_ArrayForEach(child, content) {
		if (fj_adf_valid_node(child, def->children, depth + 1) != 0)
			return (-1);
	}
	return (0);
}

/* Is v a well-formed ADF document (the v3 rich-text shape)? */
static int
fj_adf_valid(const cJSON *v)
{
	const cJSON	*version, *content, *child;

	if (!cJSON_IsObject(v) || !cJSON_IsString(fj_get(v, "type")) ||
	    strcmp(fj_get(v, "type")->valuestring, "doc") != 0)
		return (-1);
	version = fj_get(v, "version");
	if (!cJSON_IsNumber(version) || version->valuedouble != 1)
		return (-1);
	content = fj_get(v, "content");
	if (!cJSON_IsArray(content))
		return (-1);
	cJSON_ArrayForEach(child, content) {
		if (fj_adf_valid_node(child, "B", 1) != 0) {
			/* Top level also takes tables and expands. */
			if (!cJSON_IsObject(child) ||
			    !cJSON_IsString(fj_get(child, "type")) ||
			    (strcmp(fj_get(child, "type")->valuestring,
			    "table") != 0 &&
			    strcmp(fj_get(child, "type")->valuestring,
			    "expand") != 0) ||
			    fj_adf_valid_node(child, NULL, 1) != 0)
				return (-1);
		}
	}
	return (0);
}

static int
fj_adf_is_doc(const cJSON *v)
{
	return (cJSON_IsObject(v) && cJSON_IsString(fj_get(v, "type")) &&
	    strcmp(fj_get(v, "type")->valuestring, "doc") == 0);
}

static cJSON *
fj_adf_text_node(const char *s, size_t n)
{
	cJSON	*t;
	char	*tmp;

	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "text");
	tmp = sb_strndup(s, n);
	cJSON_AddStringToObject(t, "text", tmp);
	free(tmp);
	return (t);
}

/* Plain text (v2) to ADF: blank lines split paragraphs, newlines break. */
static cJSON *
fj_text_to_adf(const char *s)
{
	cJSON		*doc, *content, *para = NULL, *pc = NULL;
	const char	*p, *nl;
	size_t		 n;

	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "type", "doc");
	cJSON_AddNumberToObject(doc, "version", 1);
	content = cJSON_AddArrayToObject(doc, "content");
	for (p = s; *p != '\0'; p = nl + (*nl != '\0')) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		n = nl - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			para = NULL;	/* blank line ends the paragraph */
			continue;
		}
		if (para == NULL) {
			para = cJSON_CreateObject();
			cJSON_AddStringToObject(para, "type", "paragraph");
			pc = cJSON_AddArrayToObject(para, "content");
			cJSON_AddItemToArray(content, para);
		} else {
			cJSON *br = cJSON_CreateObject();

			cJSON_AddStringToObject(br, "type", "hardBreak");
			cJSON_AddItemToArray(pc, br);
		}
		cJSON_AddItemToArray(pc, fj_adf_text_node(p, n));
	}
	return (doc);
}

static void
fj_adf_render(const cJSON *node, int wiki, struct fj_buf *b, int depth,
    const char *list)
{
	const cJSON	*type, *content, *child, *attrs, *m, *href;
	const char	*t, *s;
	int		 first = 1, is_block;
	char		 tmp[32];

	if (depth > FJ_ADF_DEPTH || !cJSON_IsObject(node))
		return;
	type = fj_get(node, "type");
	if (!cJSON_IsString(type))
		return;
	t = type->valuestring;
	attrs = fj_get(node, "attrs");
	if (strcmp(t, "text") == 0) {
		s = cJSON_IsString(fj_get(node, "text")) ?
		    fj_get(node, "text")->valuestring : "";
		href = NULL;
		cJSON_ArrayForEach(m, fj_get(node, "marks")) {
			if (cJSON_IsString(fj_get(m, "type")) &&
			    strcmp(fj_get(m, "type")->valuestring, "link") == 0)
				href = fj_get(fj_get(m, "attrs"), "href");
		}
		if (wiki && cJSON_IsString(href)) {
			fj_buf_str(b, "[");
			fj_buf_str(b, s);
			fj_buf_str(b, "|");
			fj_buf_str(b, href->valuestring);
			fj_buf_str(b, "]");
		} else
			fj_buf_str(b, s);
		return;
	}
	if (strcmp(t, "hardBreak") == 0) {
		fj_buf_str(b, "\n");
		return;
	}
	if (strcmp(t, "mention") == 0) {
		if (wiki && cJSON_IsString(fj_get(attrs, "id"))) {
			fj_buf_str(b, "[~accountid:");
			fj_buf_str(b, fj_get(attrs, "id")->valuestring);
			fj_buf_str(b, "]");
		} else if (cJSON_IsString(fj_get(attrs, "text")))
			fj_buf_str(b, fj_get(attrs, "text")->valuestring);
		return;
	}
	if (strcmp(t, "emoji") == 0 || strcmp(t, "status") == 0 ||
	    strcmp(t, "inlineCard") == 0 || strcmp(t, "date") == 0) {
		s = strcmp(t, "emoji") == 0 ? "shortName" :
		    strcmp(t, "status") == 0 ? "text" :
		    strcmp(t, "inlineCard") == 0 ? "url" : "timestamp";
		if (cJSON_IsString(fj_get(attrs, "text")) &&
		    strcmp(t, "emoji") == 0)
			s = "text";
		if (cJSON_IsString(fj_get(attrs, s)))
			fj_buf_str(b, fj_get(attrs, s)->valuestring);
		return;
	}
	is_block = strcmp(t, "doc") != 0;
	if (is_block && wiki) {
		if (strcmp(t, "heading") == 0 &&
		    cJSON_IsNumber(fj_get(attrs, "level"))) {
			snprintf(tmp, sizeof tmp, "h%d. ",
			    fj_get(attrs, "level")->valueint);
			fj_buf_str(b, tmp);
		} else if (strcmp(t, "listItem") == 0 && list != NULL) {
			fj_buf_str(b, list);
			fj_buf_str(b, " ");
		} else if (strcmp(t, "blockquote") == 0)
			fj_buf_str(b, "bq. ");
		else if (strcmp(t, "codeBlock") == 0)
			fj_buf_str(b, "{code}\n");
		else if (strcmp(t, "rule") == 0)
			fj_buf_str(b, "----");
	}
	content = fj_get(node, "content");
	cJSON_ArrayForEach(child, content) {
		const cJSON *ct = fj_get(child, "type");
		int child_block = cJSON_IsString(ct) &&
		    fj_adf_node(ct->valuestring) != NULL &&
		    (fj_adf_node(ct->valuestring)->class & FJ_ADF_INLINE) == 0;

		if (!first && child_block) {
			if (strcmp(t, "doc") == 0 ||
			    strcmp(t, "tableCell") == 0 ||
			    strcmp(t, "tableHeader") == 0)
				fj_buf_str(b, "\n\n");
			else
				fj_buf_str(b, "\n");
		}
		if (strcmp(t, "bulletList") == 0)
			fj_adf_render(child, wiki, b, depth + 1, "*");
		else if (strcmp(t, "orderedList") == 0)
			fj_adf_render(child, wiki, b, depth + 1, "#");
		else
			fj_adf_render(child, wiki, b, depth + 1, NULL);
		first = 0;
	}
	if (is_block && wiki && strcmp(t, "codeBlock") == 0)
		fj_buf_str(b, "\n{code}");
}

/* ADF to text: wiki markup for v2 output, or plain text for searching. */
static char *
fj_adf_to_text(const cJSON *doc, int wiki)
{
	struct fj_buf	b = { NULL, 0, 0 };

	fj_adf_render(doc, wiki, &b, 0, NULL);
	return (fj_buf_take(&b));
}

/* ---------------------------------------------------------------------- */
/* Rendering. */

static void
fj_self(struct fj_ctx *c, char *buf, size_t len, const char *fmt, ...)
    __attribute__((__format__(printf, 4, 5)));

static void
fj_self(struct fj_ctx *c, char *buf, size_t len, const char *fmt, ...)
{
	char	base[96], rest[256];
	va_list	ap;

	fj_base(base, sizeof base);
	va_start(ap, fmt);
	vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	snprintf(buf, len, "%s/rest/api/%d/%s", base, c->v, rest);
}

static cJSON *
fj_user_json(struct fj_ctx *c, const struct fj_user *u)
{
	cJSON	*o, *av;
	char	 buf[512], base[96];

	if (u == NULL)
		return (cJSON_CreateNull());
	fj_base(base, sizeof base);
	o = cJSON_CreateObject();
	if (c->dc) {
		fj_self(c, buf, sizeof buf, "user?username=%s", u->name);
		cJSON_AddStringToObject(o, "self", buf);
		cJSON_AddStringToObject(o, "name", u->name);
		cJSON_AddStringToObject(o, "key", u->key);
	} else {
		fj_self(c, buf, sizeof buf, "user?accountId=%s",
		    u->account_id);
		cJSON_AddStringToObject(o, "self", buf);
		cJSON_AddStringToObject(o, "accountId", u->account_id);
	}
	cJSON_AddStringToObject(o, "emailAddress", u->email);
	av = cJSON_AddObjectToObject(o, "avatarUrls");
	snprintf(buf, sizeof buf, "%s/secure/useravatar?size=large&ownerId=%s",
	    base, u->name);
	cJSON_AddStringToObject(av, "48x48", buf);
	cJSON_AddStringToObject(o, "displayName", u->display);
	cJSON_AddBoolToObject(o, "active", 1);
	cJSON_AddStringToObject(o, "timeZone", "Etc/UTC");
	if (!c->dc)
		cJSON_AddStringToObject(o, "accountType", "atlassian");
	return (o);
}

static cJSON *
fj_status_json(struct fj_ctx *c, int i)
{
	const struct fj_status		*st = &fj_statuses[i];
	const struct fj_category	*cat = &fj_categories[st->category];
	cJSON				*o, *sc;
	char				 buf[256], base[96];

	fj_base(base, sizeof base);
	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "status/%s", st->id);
	cJSON_AddStringToObject(o, "self", buf);
	cJSON_AddStringToObject(o, "description", st->description);
	snprintf(buf, sizeof buf, "%s/images/icons/statuses/generic.png",
	    base);
	cJSON_AddStringToObject(o, "iconUrl", buf);
	cJSON_AddStringToObject(o, "name", st->name);
	cJSON_AddStringToObject(o, "id", st->id);
	sc = cJSON_AddObjectToObject(o, "statusCategory");
	fj_self(c, buf, sizeof buf, "statuscategory/%d", cat->id);
	cJSON_AddStringToObject(sc, "self", buf);
	cJSON_AddNumberToObject(sc, "id", cat->id);
	cJSON_AddStringToObject(sc, "key", cat->key);
	cJSON_AddStringToObject(sc, "colorName", cat->color);
	cJSON_AddStringToObject(sc, "name", cat->name);
	return (o);
}

static cJSON *
fj_project_json(struct fj_ctx *c, int i)
{
	cJSON	*o;
	char	 buf[256];

	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "project/%s", fj_projects[i].id);
	cJSON_AddStringToObject(o, "self", buf);
	cJSON_AddStringToObject(o, "id", fj_projects[i].id);
	cJSON_AddStringToObject(o, "key", fj_projects[i].key);
	cJSON_AddStringToObject(o, "name", fj_projects[i].name);
	cJSON_AddStringToObject(o, "projectTypeKey", "software");
	if (!c->dc)
		cJSON_AddBoolToObject(o, "simplified", 0);
	return (o);
}

static cJSON *
fj_itype_json(struct fj_ctx *c, int i)
{
	cJSON	*o;
	char	 buf[256], base[96];

	fj_base(base, sizeof base);
	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "issuetype/%s", fj_itypes[i].id);
	cJSON_AddStringToObject(o, "self", buf);
	cJSON_AddStringToObject(o, "id", fj_itypes[i].id);
	cJSON_AddStringToObject(o, "description", fj_itypes[i].description);
	snprintf(buf, sizeof buf, "%s/images/icons/issuetypes/task.png", base);
	cJSON_AddStringToObject(o, "iconUrl", buf);
	cJSON_AddStringToObject(o, "name", fj_itypes[i].name);
	cJSON_AddBoolToObject(o, "subtask", 0);
	if (!c->dc)
		cJSON_AddNumberToObject(o, "hierarchyLevel", 0);
	return (o);
}

static cJSON *
fj_resolution_json(struct fj_ctx *c, int i)
{
	cJSON	*o;
	char	 buf[256];

	if (i < 0)
		return (cJSON_CreateNull());
	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "resolution/%s", fj_resolutions[i].id);
	cJSON_AddStringToObject(o, "self", buf);
	cJSON_AddStringToObject(o, "id", fj_resolutions[i].id);
	cJSON_AddStringToObject(o, "description",
	    fj_resolutions[i].description);
	cJSON_AddStringToObject(o, "name", fj_resolutions[i].name);
	return (o);
}

/* A rich-text value in the shape of the API version. */
static cJSON *
fj_rich_json(struct fj_ctx *c, const cJSON *adf)
{
	cJSON	*o;
	char	*s;

	if (adf == NULL)
		return (cJSON_CreateNull());
	if (c->v == 3)
		return (cJSON_Duplicate(adf, 1));
	s = fj_adf_to_text(adf, 1);
	o = cJSON_CreateString(s);
	free(s);
	return (o);
}

static cJSON *
fj_time_json(int64_t ms)
{
	char	buf[64];

	if (ms == 0)
		return (cJSON_CreateNull());
	fj_fmt_time(ms, buf, sizeof buf);
	return (cJSON_CreateString(buf));
}

static cJSON *
fj_comment_json(struct fj_ctx *c, const struct fj_issue *is,
    const struct fj_comment *cm)
{
	cJSON	*o;
	char	 buf[256];

	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "issue/%ld/comment/%ld", is->id, cm->id);
	cJSON_AddStringToObject(o, "self", buf);
	snprintf(buf, sizeof buf, "%ld", cm->id);
	cJSON_AddStringToObject(o, "id", buf);
	cJSON_AddItemToObject(o, "author", fj_user_json(c, cm->author));
	cJSON_AddItemToObject(o, "body", fj_rich_json(c, cm->body));
	cJSON_AddItemToObject(o, "updateAuthor", fj_user_json(c, cm->author));
	cJSON_AddItemToObject(o, "created", fj_time_json(cm->created));
	cJSON_AddItemToObject(o, "updated", fj_time_json(cm->updated));
	if (cm->visibility != NULL) {
		cJSON_AddItemToObject(o, "visibility",
		    cJSON_Duplicate(cm->visibility, 1));
	}
	if (!c->dc)
		cJSON_AddBoolToObject(o, "jsdPublic", 1);
	return (o);
}

static cJSON *
fj_comments_page(struct fj_ctx *c, const struct fj_issue *is, size_t start,
    size_t max)
{
	cJSON	*o, *a;
	size_t	 i;
	char	 buf[256];

	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "issue/%ld/comment", is->id);
	cJSON_AddStringToObject(o, "self", buf);
	a = cJSON_AddArrayToObject(o, "comments");
	for (i = start; i < is->ncomments && i - start < max; i++)
		cJSON_AddItemToArray(a, fj_comment_json(c, is,
		    is->comments[i]));
	cJSON_AddNumberToObject(o, "maxResults", (double)max);
	cJSON_AddNumberToObject(o, "total", (double)is->ncomments);
	cJSON_AddNumberToObject(o, "startAt", (double)start);
	return (o);
}

static void
fj_fsel_add(struct fj_fsel *fs, const char *list)
{
	char		*copy, *tok, *save = NULL;
	const char	*name;
	size_t		 i;

	copy = sb_strdup(list);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (i = strlen(tok); i > 0 && isspace((unsigned char)tok[i - 1]);
		    i--)
			tok[i - 1] = '\0';
		if (*tok == '\0')
			continue;
		if (*tok == '-') {
			name = tok + 1;
			for (i = 0; i < FJ_NFIELDS; i++) {
				if (strcmp(fj_fields[i].id, name) == 0)
					fs->excl[i] = 1;
			}
			continue;
		}
		if (strcmp(tok, "id") == 0) {
			fs->n_id++;
			continue;
		}
		fs->n_other++;
		if (strcmp(tok, "*all") == 0)
			fs->base = 2;
		else if (strcmp(tok, "*navigable") == 0) {
			if (fs->base < 1)
				fs->base = 1;
		} else {
			for (i = 0; i < FJ_NFIELDS; i++) {
				if (strcmp(fj_fields[i].id, tok) == 0)
					fs->incl[i] = 1;
			}
		}
	}
	free(copy);
}

/* Only "id" asked for: render {"id"} alone. */
static int
fj_fsel_id_only(const struct fj_fsel *fs)
{
	return (fs->n_id > 0 && fs->n_other == 0);
}

static int
fj_fsel_has(const struct fj_fsel *fs, size_t i)
{
	if (fs->excl[i])
		return (0);
	if (fs->incl[i])
		return (1);
	if (fs->base == 2)
		return (1);
	if (fs->base == 1)
		return (fj_fields[i].navigable);
	return (0);
}

/* Settle defaults once all fields parameters were added. */
static void
fj_fsel_finish(struct fj_fsel *fs, int def_base)
{
	size_t	i;
	int	any_excl = 0;

	for (i = 0; i < FJ_NFIELDS; i++)
		any_excl |= fs->excl[i];
	if (fs->n_id == 0 && fs->n_other == 0)
		fs->base = any_excl ? 1 : def_base;
}

static cJSON *
fj_field_value(struct fj_ctx *c, const struct fj_issue *is,
    const struct fj_field *f)
{
	const cJSON	*cv;

	switch (f->kind) {
	case FK_SUMMARY:
		return (cJSON_CreateString(is->summary));
	case FK_DESCRIPTION:
		return (fj_rich_json(c, is->description));
	case FK_STATUS:
		return (fj_status_json(c, is->status));
	case FK_CREATED:
		return (fj_time_json(is->created));
	case FK_UPDATED:
		return (fj_time_json(is->updated));
	case FK_RESOLUTIONDATE:
		return (fj_time_json(is->resolved));
	case FK_RESOLUTION:
		return (fj_resolution_json(c, is->resolution));
	case FK_DUEDATE:
		if (*is->duedate == '\0')
			return (cJSON_CreateNull());
		return (cJSON_CreateString(is->duedate));
	case FK_LABELS:
		return (cJSON_Duplicate(is->labels, 1));
	case FK_ASSIGNEE:
		return (fj_user_json(c, is->assignee));
	case FK_REPORTER:
		return (fj_user_json(c, is->reporter));
	case FK_ISSUETYPE:
		return (fj_itype_json(c, is->itype));
	case FK_PROJECT:
		return (fj_project_json(c, is->project));
	case FK_COMMENT:
		return (fj_comments_page(c, is, 0, is->ncomments));
	case FK_CF_DATE:
	case FK_CF_TEXT:
		cv = fj_get(is->custom, f->id);
		if (cv == NULL)
			return (cJSON_CreateNull());
		return (cJSON_Duplicate(cv, 1));
	case FK_CF_TEXTAREA:
		return (fj_rich_json(c, fj_get(is->custom, f->id)));
	}
	return (cJSON_CreateNull());
}

static cJSON *
fj_issue_json(struct fj_ctx *c, const struct fj_issue *is,
    const struct fj_fsel *fs)
{
	cJSON	*o, *fields;
	size_t	 i;
	char	 buf[256];

	o = cJSON_CreateObject();
	snprintf(buf, sizeof buf, "%ld", is->id);
	if (fj_fsel_id_only(fs)) {
		cJSON_AddStringToObject(o, "id", buf);
		return (o);
	}
	cJSON_AddStringToObject(o, "expand", "renderedFields,names,schema,"
	    "operations,editmeta,changelog,versionedRepresentations");
	cJSON_AddStringToObject(o, "id", buf);
	fj_self(c, buf, sizeof buf, "issue/%ld", is->id);
	cJSON_AddStringToObject(o, "self", buf);
	cJSON_AddStringToObject(o, "key", is->key);
	fields = cJSON_AddObjectToObject(o, "fields");
	for (i = 0; i < FJ_NFIELDS; i++) {
		if (fj_fsel_has(fs, i)) {
			cJSON_AddItemToObject(fields, fj_fields[i].id,
			    fj_field_value(c, is, &fj_fields[i]));
		}
	}
	return (o);
}

/* ---------------------------------------------------------------------- */
/* Replies. */

static void
fj_hdr(struct fj_ctx *c, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
fj_hdr(struct fj_ctx *c, const char *fmt, ...)
{
	va_list	ap;
	size_t	i = c->nhdrs;

	if (i >= sizeof c->hbuf / sizeof c->hbuf[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->hbuf[i], sizeof c->hbuf[i], fmt, ap);
	va_end(ap);
	c->hdrs[i] = c->hbuf[i];
	c->hdrs[++c->nhdrs] = NULL;
}

/* Answer with body (consumed) or, when NULL, an empty body. */
static void
fj_reply(struct fj_ctx *c, int status, cJSON *body)
{
	c->hdrs[c->nhdrs] = NULL;
	sb_reply(c->r, status, body, c->hdrs);
}

static cJSON *
fj_errcoll(const char *msg, cJSON *errors)
{
	cJSON	*o, *a;

	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "errorMessages");
	if (msg != NULL)
		cJSON_AddItemToArray(a, cJSON_CreateString(msg));
	if (errors == NULL)
		errors = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "errors", errors);
	return (o);
}

static void
fj_error(struct fj_ctx *c, int status, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

static void
fj_error(struct fj_ctx *c, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	fj_reply(c, status, fj_errcoll(msg != NULL ? msg : "error", NULL));
	free(msg);
}

/* Record a field error; the first one for a field wins. */
static void
fj_seterr(cJSON *errors, const char *field, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

static void
fj_seterr(cJSON *errors, const char *field, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (fj_get(errors, field) != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	cJSON_AddStringToObject(errors, field, msg != NULL ? msg : "error");
	free(msg);
}

/* Answer 400 with errors (consumed) if it holds any; 1 if answered. */
static int
fj_errors_reply(struct fj_ctx *c, cJSON *errors)
{
	if (cJSON_GetArraySize(errors) == 0) {
		cJSON_Delete(errors);
		return (0);
	}
	fj_reply(c, 400, fj_errcoll(NULL, errors));
	return (1);
}

static void
fj_not_found(struct fj_ctx *c)
{
	fj_error(c, 404, "Issue does not exist or you do not have permission "
	    "to see it.");
}

/* Jira's answer for a resource path it has no handler for. */
static void
fj_no_resource(struct fj_ctx *c)
{
	cJSON	*o;
	char	*msg, base[96];

	fj_base(base, sizeof base);
	o = cJSON_CreateObject();
	sb_asprintf(&msg, "null for uri: %s%s", base, c->r->path);
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddNumberToObject(o, "status-code", 404);
	free(msg);
	fj_reply(c, 404, o);
}

static void
fj_bad_method(struct fj_ctx *c)
{
	fj_reply(c, 405, NULL);
}

/* ---------------------------------------------------------------------- */
/*
 * JQL: the subset the daemon uses, parsed for real so malformed or
 * unsupported queries fail as Jira fails them (400 with errorMessages).
 *
 *   query   := [or] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
 *   or      := and {OR and}          (also "||", "|")
 *   and     := not {AND not}         (also "&&", "&")
 *   not     := NOT not | "!" not | "(" or ")" | clause
 *   clause  := field op operand
 */

enum fj_tk {
	TK_END,
	TK_WORD,
	TK_STR,
	TK_LP,
	TK_RP,
	TK_COMMA,
	TK_OP
};
enum fj_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_LIKE,
	OP_NLIKE,
	OP_IN,
	OP_NIN,
	OP_IS,
	OP_ISNOT
};
static const char *fj_op_names[] = { "=", "!=", "<", "<=", ">", ">=", "~",
    "!~", "in", "not in", "is", "is not" };
#define OPB(o)		(1U << (o))
#define OPS_ENUM	(OPB(OP_EQ) | OPB(OP_NE) | OPB(OP_IN) | OPB(OP_NIN) | \
			    OPB(OP_IS) | OPB(OP_ISNOT))
#define OPS_ORDERED	(OPS_ENUM | OPB(OP_LT) | OPB(OP_LE) | OPB(OP_GT) | \
			    OPB(OP_GE))
#define OPS_TEXT	(OPB(OP_LIKE) | OPB(OP_NLIKE) | OPB(OP_IS) | \
			    OPB(OP_ISNOT))

enum fj_qf {
	QF_PROJECT,
	QF_KEY,
	QF_ITYPE,
	QF_STATUS,
	QF_CATEGORY,
	QF_LABELS,
	QF_CREATED,
	QF_UPDATED,
	QF_RESOLVED,
	QF_DUE,
	QF_RESOLUTION,
	QF_ASSIGNEE,
	QF_REPORTER,
	QF_SUMMARY,
	QF_DESCRIPTION,
	QF_COMMENT,
	QF_TEXT,
	QF_CF_DATE,
	QF_CF_TEXT
};
struct fj_qfield {
	const char	*name;
	enum fj_qf	 qf;
	unsigned	 ops;
	int		 sortable;
};
static const struct fj_qfield fj_qfields[] = {
	{ "project", QF_PROJECT, OPS_ENUM, 1 },
	{ "key", QF_KEY, OPS_ORDERED, 1 },
	{ "issuekey", QF_KEY, OPS_ORDERED, 1 },
	{ "issue", QF_KEY, OPS_ORDERED, 1 },
	{ "id", QF_KEY, OPS_ORDERED, 1 },
	{ "issuetype", QF_ITYPE, OPS_ENUM, 1 },
	{ "type", QF_ITYPE, OPS_ENUM, 1 },
	{ "status", QF_STATUS, OPS_ENUM, 1 },
	{ "statuscategory", QF_CATEGORY, OPS_ENUM, 0 },
	{ "category", QF_CATEGORY, OPS_ENUM, 0 },
	{ "labels", QF_LABELS, OPS_ENUM, 0 },
	{ "created", QF_CREATED, OPS_ORDERED, 1 },
	{ "createddate", QF_CREATED, OPS_ORDERED, 1 },
	{ "updated", QF_UPDATED, OPS_ORDERED, 1 },
	{ "updateddate", QF_UPDATED, OPS_ORDERED, 1 },
	{ "resolved", QF_RESOLVED, OPS_ORDERED, 1 },
	{ "resolutiondate", QF_RESOLVED, OPS_ORDERED, 1 },
	{ "duedate", QF_DUE, OPS_ORDERED, 1 },
	{ "due", QF_DUE, OPS_ORDERED, 1 },
	{ "resolution", QF_RESOLUTION, OPS_ENUM, 1 },
	{ "assignee", QF_ASSIGNEE, OPS_ENUM, 1 },
	{ "reporter", QF_REPORTER, OPS_ENUM, 1 },
	{ "summary", QF_SUMMARY, OPB(OP_LIKE) | OPB(OP_NLIKE), 1 },
	{ "description", QF_DESCRIPTION, OPS_TEXT, 0 },
	{ "comment", QF_COMMENT, OPB(OP_LIKE) | OPB(OP_NLIKE), 0 },
	{ "text", QF_TEXT, OPB(OP_LIKE) | OPB(OP_NLIKE), 0 },
};
#define FJ_NQFIELDS	(sizeof fj_qfields / sizeof fj_qfields[0])

struct fj_tok {
	enum fj_tk	 type;
	enum fj_op	 op;
	char		*text;
	size_t		 pos;		/* 1-based character */
};

struct fj_qval {
	int			 empty;		/* EMPTY, NULL, Unresolved */
	char			*s;		/* literal or function name */
	int			 func;
	char			*arg;		/* function argument or NULL */
	size_t			 pos;
	/* Resolved. */
	int			 idx;
	int64_t			 t;
	const struct fj_user	*user;
	int			 proj;
	long			 num;		/* key number, or id if proj<0 */
};

struct fj_clause {
	char			*fname;		/* as written */
	enum fj_qf		 qf;
	const struct fj_field	*cf;
	enum fj_op		 op;
	struct fj_qval		*vals;
	size_t			 nvals;
};

enum fj_ntype {
	N_AND,
	N_OR,
	N_NOT,
	N_CLAUSE
};
struct fj_node {
	enum fj_ntype		 type;
	struct fj_node		*a;
	struct fj_node		*b;
	struct fj_clause	 cl;
};

struct fj_sort {
	enum fj_qf		 qf;
	const struct fj_field	*cf;
	int			 desc;
};

struct fj_jql {
	struct fj_tok		*t;
	size_t			 nt;
	size_t			 i;
	char			*err;
	struct fj_node		*where;
	struct fj_sort		 sort[FJ_ORDER_MAX];
	size_t			 nsort;
	const struct fj_user	*me;
	int			 dc;
};

static void
fj_jql_err(struct fj_jql *q, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
fj_jql_err(struct fj_jql *q, const char *fmt, ...)
{
	va_list	ap;

	if (q->err != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&q->err, fmt, ap) < 0)
		q->err = NULL;
	va_end(ap);
	if (q->err == NULL)
		q->err = sb_strdup("Error in the JQL Query");
}

static void
fj_jql_push(struct fj_jql *q, enum fj_tk type, enum fj_op op, char *text,
    size_t pos)
{
	q->t = sb_realloc(q->t, q->nt + 1, sizeof *q->t);
	q->t[q->nt].type = type;
	q->t[q->nt].op = op;
	q->t[q->nt].text = text;
	q->t[q->nt].pos = pos;
	q->nt++;
}

static int
fj_jql_wordch(unsigned char ch)
{
	return (isalnum(ch) || ch == '_' || ch == '-' || ch == '.' ||
	    ch == ':' || ch == '/' || ch == '@' || ch >= 0x80);
}

static void
fj_utf8_put(struct fj_buf *b, unsigned long cp)
{
	char	u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		fj_buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		fj_buf_add(b, u, 2);
	} else {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		fj_buf_add(b, u, 3);
	}
}

static int
fj_jql_lex(struct fj_jql *q, const char *s)
{
	const char	*p = s, *start;
	struct fj_buf	 b;
	size_t		 pos;
	char		 quote, hex[5], *end;
	unsigned long	 cp;

	while (*p != '\0') {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		pos = p - s + 1;
		switch (*p) {
		case '(':
			fj_jql_push(q, TK_LP, 0, sb_strdup("("), pos);
			p++;
			continue;
		case ')':
			fj_jql_push(q, TK_RP, 0, sb_strdup(")"), pos);
			p++;
			continue;
		case ',':
			fj_jql_push(q, TK_COMMA, 0, sb_strdup(","), pos);
			p++;
			continue;
		case '=':
			fj_jql_push(q, TK_OP, OP_EQ, sb_strdup("="), pos);
			p++;
			continue;
		case '~':
			fj_jql_push(q, TK_OP, OP_LIKE, sb_strdup("~"), pos);
			p++;
			continue;
		case '!':
			if (p[1] == '=' || p[1] == '~') {
				fj_jql_push(q, TK_OP, p[1] == '=' ? OP_NE :
				    OP_NLIKE, sb_strndup(p, 2), pos);
				p += 2;
			} else {
				fj_jql_push(q, TK_WORD, 0, sb_strdup("NOT"),
				    pos);
				p++;
			}
			continue;
		case '<':
		case '>':
			if (p[1] == '=') {
				fj_jql_push(q, TK_OP, *p == '<' ? OP_LE : OP_GE,
				    sb_strndup(p, 2), pos);
				p += 2;
			} else {
				fj_jql_push(q, TK_OP, *p == '<' ? OP_LT : OP_GT,
				    sb_strndup(p, 1), pos);
				p++;
			}
			continue;
		case '&':
		case '|':
			fj_jql_push(q, TK_WORD, 0, sb_strdup(*p == '&' ?
			    "AND" : "OR"), pos);
			p += p[1] == *p ? 2 : 1;
			continue;
		case '"':
		case '\'':
			quote = *p++;
			memset(&b, 0, sizeof b);
			start = p;
			while (*p != quote) {
				if (*p == '\0') {
					fj_jql_err(q, "Error in the JQL Query: "
					    "The quoted string '%.*s' has not "
					    "been completed. (line 1, "
					    "character %zu)", (int)(p - start),
					    start, pos);
					free(b.s);
					return (-1);
				}
				if (*p != '\\') {
					fj_buf_add(&b, p++, 1);
					continue;
				}
				p++;
				switch (*p) {
				case '"':
				case '\'':
				case '\\':
				case ' ':
					fj_buf_add(&b, p, 1);
					break;
				case 'n':
					fj_buf_str(&b, "\n");
					break;
				case 'r':
					fj_buf_str(&b, "\r");
					break;
				case 't':
					fj_buf_str(&b, "\t");
					break;
				case 'u':
					memcpy(hex, p + 1, 4);
					hex[4] = '\0';
					cp = strtoul(hex, &end, 16);
					if (strlen(hex) != 4 || *end != '\0' ||
					    !isxdigit((unsigned char)hex[0]) ||
					    cp == 0) {
						fj_jql_err(q, "Error in the JQL "
						    "Query: The escape sequence "
						    "'\\u%s' in the string is "
						    "illegal. (line 1, "
						    "character %zu)", hex,
						    (size_t)(p - s));
						free(b.s);
						return (-1);
					}
					fj_utf8_put(&b, cp);
					p += 4;
					break;
				default:
					fj_jql_err(q, "Error in the JQL Query: "
					    "The escape sequence '\\%c' in the "
					    "string is illegal. (line 1, "
					    "character %zu)", *p != '\0' ? *p :
					    ' ', (size_t)(p - s));
					free(b.s);
					return (-1);
				}
				p++;
			}
			p++;
			fj_jql_push(q, TK_STR, 0, fj_buf_take(&b), pos);
			continue;
		}
		if (!fj_jql_wordch((unsigned char)*p)) {
			fj_jql_err(q, "Error in the JQL Query: The character "
			    "'%c' is a reserved JQL character. You must "
			    "enclose it in a string or use the escape "
			    "'\\u%04X' instead. (line 1, character %zu)", *p,
			    (unsigned)(unsigned char)*p, pos);
			return (-1);
		}
		start = p;
		while (fj_jql_wordch((unsigned char)*p))
			p++;
		if (p - start == 2 && strncasecmp(start, "cf", 2) == 0 &&
		    *p == '[') {
			p++;
			while (isdigit((unsigned char)*p))
				p++;
			if (*p != ']' || p[-1] == '[') {
				fj_jql_err(q, "Error in the JQL Query: "
				    "Expecting a custom field id in the form "
				    "'cf[number]'. (line 1, character %zu)",
				    pos);
				return (-1);
			}
			p++;
		}
		fj_jql_push(q, TK_WORD, 0, sb_strndup(start, p - start), pos);
	}
	fj_jql_push(q, TK_END, 0, sb_strdup(""), p - s + 1);
	return (0);
}

static struct fj_tok *
fj_jql_peek(struct fj_jql *q)
{
	return (&q->t[q->i]);
}

static struct fj_tok *
fj_jql_next(struct fj_jql *q)
{
	struct fj_tok	*t = &q->t[q->i];

	if (t->type != TK_END)
		q->i++;
	return (t);
}

static int
fj_jql_is_kw(const struct fj_tok *t, const char *kw)
{
	return (t->type == TK_WORD && strcasecmp(t->text, kw) == 0);
}

static int
fj_jql_reserved(const struct fj_tok *t)
{
	static const char *kws[] = { "and", "or", "not", "in", "is", "empty",
	    "null", "order", "by", "asc", "desc", "was", "changed" };
	size_t	i;

	if (t->type != TK_WORD)
		return (0);
	for (i = 0; i < sizeof kws / sizeof kws[0]; i++) {
		if (strcasecmp(t->text, kws[i]) == 0)
			return (1);
	}
	return (0);
}

static void
fj_jql_got(struct fj_jql *q, const char *expecting, const struct fj_tok *t)
{
	if (t->type == TK_END) {
		fj_jql_err(q, "Error in the JQL Query: Expecting %s but "
		    "reached the end of the query. (line 1, character %zu)",
		    expecting, t->pos);
	} else {
		fj_jql_err(q, "Error in the JQL Query: Expecting %s but got "
		    "'%s'. (line 1, character %zu)", expecting, t->text,
		    t->pos);
	}
}

static void
fj_clause_free(struct fj_clause *cl)
{
	size_t	i;

	for (i = 0; i < cl->nvals; i++) {
		free(cl->vals[i].s);
		free(cl->vals[i].arg);
	}
	free(cl->vals);
	free(cl->fname);
}

static void
fj_node_free(struct fj_node *n)
{
	if (n == NULL)
		return;
	fj_node_free(n->a);
	fj_node_free(n->b);
	if (n->type == N_CLAUSE)
		fj_clause_free(&n->cl);
	free(n);
}

/* One value: a literal, EMPTY/NULL, or a function call. */
static int
fj_jql_value(struct fj_jql *q, struct fj_clause *cl)
{
	struct fj_tok	*t = fj_jql_peek(q), *a;
	struct fj_qval	*v;

	if ((t->type != TK_WORD && t->type != TK_STR) ||
	    (fj_jql_reserved(t) && !fj_jql_is_kw(t, "empty") &&
	    !fj_jql_is_kw(t, "null"))) {
		if (t->type == TK_END)
			fj_jql_got(q, "either a value, list or function", t);
		else {
			fj_jql_err(q, "Error in the JQL Query: Expecting "
			    "either a value, list or function but got '%s'. "
			    "You must surround '%s' in quotation marks to use "
			    "it as a value. (line 1, character %zu)", t->text,
			    t->text, t->pos);
		}
		return (-1);
	}
	fj_jql_next(q);
	cl->vals = sb_realloc(cl->vals, cl->nvals + 1,
	    sizeof *cl->vals);
	v = &cl->vals[cl->nvals++];
	memset(v, 0, sizeof *v);
	v->pos = t->pos;
	v->s = sb_strdup(t->text);
	if (t->type == TK_WORD && (fj_jql_is_kw(t, "empty") ||
	    fj_jql_is_kw(t, "null"))) {
		v->empty = 1;
		return (0);
	}
	if (t->type == TK_WORD && fj_jql_peek(q)->type == TK_LP) {
		fj_jql_next(q);
		v->func = 1;
		a = fj_jql_peek(q);
		if (a->type == TK_WORD || a->type == TK_STR) {
			v->arg = sb_strdup(a->text);
			fj_jql_next(q);
		}
		if (fj_jql_peek(q)->type != TK_RP) {
			fj_jql_got(q, "')'", fj_jql_peek(q));
			return (-1);
		}
		fj_jql_next(q);
	}
	return (0);
}

static struct fj_node *fj_jql_or(struct fj_jql *);

static struct fj_node *
fj_jql_clause(struct fj_jql *q)
{
	struct fj_tok	*t = fj_jql_next(q), *o;
	struct fj_node	*n;
	enum fj_op	 op;

	if ((t->type != TK_WORD && t->type != TK_STR) || fj_jql_reserved(t)) {
		fj_jql_got(q, "a field name", t);
		return (NULL);
	}
	o = fj_jql_next(q);
	if (o->type == TK_OP)
		op = o->op;
	else if (fj_jql_is_kw(o, "in"))
		op = OP_IN;
	else if (fj_jql_is_kw(o, "not") && fj_jql_is_kw(fj_jql_peek(q),
	    "in")) {
		fj_jql_next(q);
		op = OP_NIN;
	} else if (fj_jql_is_kw(o, "is")) {
		op = OP_IS;
		if (fj_jql_is_kw(fj_jql_peek(q), "not")) {
			fj_jql_next(q);
			op = OP_ISNOT;
		}
	} else {
		if (o->type == TK_END) {
			fj_jql_err(q, "Error in the JQL Query: Expecting "
			    "operator but reached the end of the query. "
			    "(line 1, character %zu)", o->pos);
		} else {
			fj_jql_err(q, "Error in the JQL Query: Expecting "
			    "operator but got '%s'. The valid operators are "
			    "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', "
			    "'NOT IN', 'IS' and 'IS NOT'. (line 1, character "
			    "%zu)", o->text, o->pos);
		}
		return (NULL);
	}
	n = sb_calloc(1, sizeof *n);
	n->type = N_CLAUSE;
	n->cl.fname = sb_strdup(t->text);
	n->cl.op = op;
	if (op == OP_IN || op == OP_NIN) {
		if (fj_jql_peek(q)->type != TK_LP) {
			fj_jql_got(q, "'('", fj_jql_peek(q));
			goto fail;
		}
		fj_jql_next(q);
		for (;;) {
			if (fj_jql_value(q, &n->cl) != 0)
				goto fail;
			if (fj_jql_peek(q)->type == TK_COMMA) {
				fj_jql_next(q);
				continue;
			}
			if (fj_jql_peek(q)->type != TK_RP) {
				fj_jql_got(q, "either ',' or ')'",
				    fj_jql_peek(q));
				goto fail;
			}
			fj_jql_next(q);
			break;
		}
	} else if (op == OP_IS || op == OP_ISNOT) {
		t = fj_jql_peek(q);
		if (!fj_jql_is_kw(t, "empty") && !fj_jql_is_kw(t, "null")) {
			fj_jql_got(q, "'EMPTY' or 'NULL'", t);
			goto fail;
		}
		if (fj_jql_value(q, &n->cl) != 0)
			goto fail;
	} else {
		if (fj_jql_peek(q)->type == TK_LP) {
			fj_jql_err(q, "Error in the JQL Query: The operator "
			    "'%s' does not support the list value. (line 1, "
			    "character %zu)", fj_op_names[op],
			    fj_jql_peek(q)->pos);
			goto fail;
		}
		if (fj_jql_value(q, &n->cl) != 0)
			goto fail;
	}
	return (n);
fail:
	fj_node_free(n);
	return (NULL);
}

static struct fj_node *
fj_jql_not(struct fj_jql *q)
{
	struct fj_node	*n, *inner;

	if (fj_jql_is_kw(fj_jql_peek(q), "not")) {
		fj_jql_next(q);
		if ((inner = fj_jql_not(q)) == NULL)
			return (NULL);
		n = sb_calloc(1, sizeof *n);
		n->type = N_NOT;
		n->a = inner;
		return (n);
	}
	if (fj_jql_peek(q)->type == TK_LP) {
		fj_jql_next(q);
		if ((inner = fj_jql_or(q)) == NULL)
			return (NULL);
		if (fj_jql_peek(q)->type != TK_RP) {
			fj_jql_got(q, "')'", fj_jql_peek(q));
			fj_node_free(inner);
			return (NULL);
		}
		fj_jql_next(q);
		return (inner);
	}
	return (fj_jql_clause(q));
}

static struct fj_node *
fj_jql_binary(struct fj_jql *q, int is_or)
{
	struct fj_node	*l, *r, *n;

	l = is_or ? fj_jql_binary(q, 0) : fj_jql_not(q);
	if (l == NULL)
		return (NULL);
	while (fj_jql_is_kw(fj_jql_peek(q), is_or ? "or" : "and")) {
		fj_jql_next(q);
		r = is_or ? fj_jql_binary(q, 0) : fj_jql_not(q);
		if (r == NULL) {
			fj_node_free(l);
			return (NULL);
		}
		n = sb_calloc(1, sizeof *n);
		n->type = is_or ? N_OR : N_AND;
		n->a = l;
		n->b = r;
		l = n;
	}
	return (l);
}

static struct fj_node *
fj_jql_or(struct fj_jql *q)
{
	return (fj_jql_binary(q, 1));
}

/* Resolve a field name as written to its kind; 0 or -1. */
static int
fj_jql_field(const char *name, const struct fj_qfield **qfp,
    const struct fj_field **cfp)
{
	static struct fj_qfield	 cfdate = { "", QF_CF_DATE, OPS_ORDERED, 1 };
	static struct fj_qfield	 cftext = { "", QF_CF_TEXT, OPS_TEXT, 1 };
	const struct fj_field	*f = NULL;
	size_t			 i;
	long			 id;
	char			*end;

	*cfp = NULL;
	for (i = 0; i < FJ_NQFIELDS; i++) {
		if (strcasecmp(fj_qfields[i].name, name) == 0) {
			*qfp = &fj_qfields[i];
			return (0);
		}
	}
	if (strncasecmp(name, "cf[", 3) == 0) {
		id = strtol(name + 3, &end, 10);
		for (i = 0; i < FJ_NFIELDS; i++) {
			if (fj_fields[i].custom_id == id && id != 0 &&
			    strcmp(end, "]") == 0)
				f = &fj_fields[i];
		}
	} else if (strncmp(name, "customfield_", 12) == 0)
		f = fj_field_find(name);
	else {
		for (i = 0; i < FJ_NFIELDS; i++) {
			if (fj_fields[i].custom_id != 0 &&
			    strcasecmp(fj_fields[i].name, name) == 0)
				f = &fj_fields[i];
		}
	}
	if (f == NULL || f->custom_id == 0)
		return (-1);
	*cfp = f;
	*qfp = f->kind == FK_CF_DATE ? &cfdate : &cftext;
	return (0);
}

static int64_t
fj_start_of_day(int64_t t)
{
	return (fj_floor_div(t, FJ_DAY_MS) * FJ_DAY_MS);
}

/* Date functions: now(), startOf/endOf Day, Week, Month. */
static int
fj_jql_datefunc(struct fj_qval *v, int64_t *out)
{
	int64_t	 now = fj_now(), t, days, inc = 0;
	int	 y, m, d, end = 0, unit;
	char	*e;
	long	 n = 0;

	if (strcasecmp(v->s, "now") == 0) {
		if (v->arg != NULL)
			return (-1);
		*out = now;
		return (0);
	}
	if (strncasecmp(v->s, "startOf", 7) == 0)
		e = v->s + 7;
	else if (strncasecmp(v->s, "endOf", 5) == 0) {
		e = v->s + 5;
		end = 1;
	} else
		return (-1);
	if (strcasecmp(e, "Day") == 0)
		unit = 'd';
	else if (strcasecmp(e, "Week") == 0)
		unit = 'w';
	else if (strcasecmp(e, "Month") == 0)
		unit = 'M';
	else
		return (-1);
	if (v->arg != NULL) {
		n = strtol(v->arg, &e, 10);
		if (e != v->arg && *e == '\0' && labs(n) < 100000)
			inc = 0;
		else if (fj_parse_period(v->arg, &inc) == 0)
			n = 0;
		else
			return (-1);
	}
	days = fj_floor_div(now, FJ_DAY_MS);
	fj_civil_from_days(days, &y, &m, &d);
	switch (unit) {
	case 'd':
		days += n;
		t = (days + end) * FJ_DAY_MS;
		break;
	case 'w':
		/* Weeks start on Sunday; 1970-01-01 was a Thursday. */
		days -= ((days % 7) + 11) % 7;
		days += n * 7;
		t = (days + 7 * end) * FJ_DAY_MS;
		break;
	default:
		m += (int)n + end;
		while (m > 12) {
			m -= 12;
			y++;
		}
		while (m < 1) {
			m += 12;
			y--;
		}
		t = fj_days_from_civil(y, m, 1) * FJ_DAY_MS;
		break;
	}
	*out = t - end + inc;
	return (0);
}

/* A JQL date literal; 0 or -1. */
static int
fj_jql_date(const char *s, int64_t *out)
{
	char	buf[11];
	int	h, mi;
	size_t	n = strlen(s);

	if (fj_parse_period(s, out) == 0) {
		*out += fj_now();
		return (0);
	}
	if (n != 10 && n != 16)
		return (-1);
	memcpy(buf, s, 10);
	buf[10] = '\0';
	if (buf[4] == '/' && buf[7] == '/')
		buf[4] = buf[7] = '-';
	if (fj_parse_date(buf, out) != 0)
		return (-1);
	if (n == 16) {
		if (s[10] != ' ' || s[13] != ':')
			return (-1);
		h = fj_digits(s + 11, 2);
		mi = fj_digits(s + 14, 2);
		if (h < 0 || h > 23 || mi < 0 || mi > 59)
			return (-1);
		*out += ((int64_t)h * 60 + mi) * 60000;
	}
	return (0);
}

static void
fj_jql_noval(struct fj_jql *q, struct fj_clause *cl, struct fj_qval *v)
{
	fj_jql_err(q, "The value '%s' does not exist for the field '%s'.",
	    v->s, cl->fname);
}

/* Check one clause against the schema and resolve its values. */
static int
fj_jql_resolve(struct fj_jql *q, struct fj_clause *cl)
{
	const struct fj_qfield	*qf;
	struct fj_qval		*v;
	size_t			 i;
	size_t			 k;
	char			*dash, *end;

	if (fj_jql_field(cl->fname, &qf, &cl->cf) != 0) {
		fj_jql_err(q, "Field '%s' does not exist or you do not have "
		    "permission to view it.", cl->fname);
		return (-1);
	}
	cl->qf = qf->qf;
	if ((qf->ops & OPB(cl->op)) == 0) {
		fj_jql_err(q, "The operator '%s' is not supported by the '%s' "
		    "field.", fj_op_names[cl->op], cl->fname);
		return (-1);
	}
	for (i = 0; i < cl->nvals; i++) {
		v = &cl->vals[i];
		if (v->empty) {
			if (cl->op != OP_EQ && cl->op != OP_NE &&
			    cl->op != OP_IN && cl->op != OP_NIN &&
			    cl->op != OP_IS && cl->op != OP_ISNOT) {
				fj_jql_err(q, "The operator '%s' is not "
				    "supported by the 'EMPTY' value.",
				    fj_op_names[cl->op]);
				return (-1);
			}
			continue;
		}
		if (v->func) {
			if ((cl->qf == QF_ASSIGNEE || cl->qf == QF_REPORTER) &&
			    strcasecmp(v->s, "currentUser") == 0 &&
			    v->arg == NULL) {
				v->user = q->me;
				continue;
			}
			if ((cl->qf == QF_CREATED || cl->qf == QF_UPDATED ||
			    cl->qf == QF_RESOLVED || cl->qf == QF_DUE ||
			    cl->qf == QF_CF_DATE) &&
			    fj_jql_datefunc(v, &v->t) == 0)
				continue;
			fj_jql_err(q, "Unable to find JQL function '%s(%s)'.",
			    v->s, v->arg != NULL ? v->arg : "");
			return (-1);
		}
		switch (cl->qf) {
		case QF_PROJECT:
			v->idx = fj_project_find(v->s);
			for (k = 0; v->idx < 0 && k < FJ_NPROJECTS; k++) {
				if (strcasecmp(fj_projects[k].name, v->s) == 0)
					v->idx = (int)k;
			}
			if (v->idx < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case QF_ITYPE:
			if ((v->idx = fj_itype_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case QF_STATUS:
			if ((v->idx = fj_status_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case QF_CATEGORY:
			v->idx = -1;
			for (k = 0; k < FJ_NCATEGORIES; k++) {
				char id[16];

				snprintf(id, sizeof id, "%d",
				    fj_categories[k].id);
				if (strcasecmp(fj_categories[k].key, v->s) ==
				    0 || strcasecmp(fj_categories[k].name,
				    v->s) == 0 || strcmp(id, v->s) == 0)
					v->idx = (int)k;
			}
			if (v->idx < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case QF_RESOLUTION:
			if (strcasecmp(v->s, "Unresolved") == 0) {
				v->empty = 1;
				break;
			}
			if ((v->idx = fj_resolution_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case QF_KEY:
			v->proj = -1;
			v->num = strtol(v->s, &end, 10);
			if (end != v->s && *end == '\0' && v->num > 0) {
				/* A numeric issue id. */
			} else if ((dash = strrchr(v->s, '-')) != NULL &&
			    dash != v->s) {
				*dash = '\0';
				v->proj = fj_project_find(v->s);
				v->num = strtol(dash + 1, &end, 10);
				*dash = '-';
				if (v->proj < 0 || end == dash + 1 ||
				    *end != '\0' || v->num <= 0) {
					fj_jql_err(q, "The issue key '%s' for "
					    "field '%s' is invalid.", v->s,
					    cl->fname);
					return (-1);
				}
			} else {
				fj_jql_err(q, "The issue key '%s' for field "
				    "'%s' is invalid.", v->s, cl->fname);
				return (-1);
			}
			if ((cl->op == OP_EQ || cl->op == OP_NE ||
			    cl->op == OP_IN || cl->op == OP_NIN) &&
			    fj_issue_find(v->s) == NULL) {
				fj_jql_err(q, "An issue with key '%s' does not "
				    "exist for field '%s'.", v->s, cl->fname);
				return (-1);
			}
			break;
		case QF_CREATED:
		case QF_UPDATED:
		case QF_RESOLVED:
		case QF_DUE:
		case QF_CF_DATE:
			if (fj_jql_date(v->s, &v->t) != 0) {
				fj_jql_err(q, "Date value '%s' for field '%s' "
				    "is invalid. Valid formats include: "
				    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
				    "'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
				    "format e.g. '-5d', '4w 2d'.", v->s,
				    cl->fname);
				return (-1);
			}
			break;
		case QF_ASSIGNEE:
		case QF_REPORTER:
			v->user = fj_user_find(v->s);
			/* Cloud is GDPR strict: no usernames or keys. */
			if (v->user != NULL && !q->dc &&
			    strcmp(v->user->account_id, v->s) != 0 &&
			    strcasecmp(v->user->email, v->s) != 0)
				v->user = NULL;
			if (v->user == NULL) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case QF_LABELS:
			break;
		case QF_SUMMARY:
		case QF_DESCRIPTION:
		case QF_COMMENT:
		case QF_TEXT:
		case QF_CF_TEXT:
			if (fj_is_blank(v->s)) {
				fj_jql_err(q, "The field '%s' does not support "
				    "searching for an empty string.",
				    cl->fname);
				return (-1);
			}
			if (v->s[0] == '*' || v->s[0] == '?') {
				fj_jql_err(q, "The text query '%s' for field "
				    "'%s' is not allowed to start with a "
				    "wildcard.", v->s, cl->fname);
				return (-1);
			}
			break;
		}
	}
	return (0);
}

static int
fj_jql_resolve_tree(struct fj_jql *q, struct fj_node *n)
{
	if (n == NULL)
		return (0);
	if (n->type == N_CLAUSE)
		return (fj_jql_resolve(q, &n->cl));
	if (fj_jql_resolve_tree(q, n->a) != 0)
		return (-1);
	return (fj_jql_resolve_tree(q, n->b));
}

static void
fj_jql_free(struct fj_jql *q)
{
	size_t	i;

	for (i = 0; i < q->nt; i++)
		free(q->t[i].text);
	free(q->t);
	free(q->err);
	fj_node_free(q->where);
	memset(q, 0, sizeof *q);
}

/* Parse and check a query; on failure q->err holds Jira's message. */
static int
fj_jql_parse(struct fj_jql *q, const char *s, int dc)
{
	const struct fj_qfield	*qf;
	const struct fj_field	*cf;
	struct fj_tok		*t;

	memset(q, 0, sizeof *q);
	q->me = fj_myself();
	q->dc = dc;
	if (strlen(s) > FJ_JQL_MAX) {
		fj_jql_err(q, "The JQL query is too long.");
		return (-1);
	}
	if (fj_jql_lex(q, s) != 0)
		return (-1);
	if (fj_jql_peek(q)->type != TK_END &&
	    !fj_jql_is_kw(fj_jql_peek(q), "order")) {
		if ((q->where = fj_jql_or(q)) == NULL)
			return (-1);
	}
	t = fj_jql_peek(q);
	if (fj_jql_is_kw(t, "order")) {
		fj_jql_next(q);
		if (!fj_jql_is_kw(fj_jql_peek(q), "by")) {
			fj_jql_got(q, "'by'", fj_jql_peek(q));
			return (-1);
		}
		fj_jql_next(q);
		for (;;) {
			t = fj_jql_next(q);
			if ((t->type != TK_WORD && t->type != TK_STR) ||
			    fj_jql_reserved(t)) {
				fj_jql_got(q, "a field name", t);
				return (-1);
			}
			if (fj_jql_field(t->text, &qf, &cf) != 0) {
				fj_jql_err(q, "Not able to sort using field "
				    "'%s'.", t->text);
				return (-1);
			}
			if (!qf->sortable) {
				fj_jql_err(q, "Field '%s' does not support "
				    "sorting.", t->text);
				return (-1);
			}
			if (q->nsort == FJ_ORDER_MAX) {
				fj_jql_err(q, "The ORDER BY clause can contain "
				    "at most %d fields.", FJ_ORDER_MAX);
				return (-1);
			}
			q->sort[q->nsort].qf = qf->qf;
			q->sort[q->nsort].cf = cf;
			q->sort[q->nsort].desc = 0;
			if (fj_jql_is_kw(fj_jql_peek(q), "asc"))
				fj_jql_next(q);
			else if (fj_jql_is_kw(fj_jql_peek(q), "desc")) {
				fj_jql_next(q);
				q->sort[q->nsort].desc = 1;
			}
			q->nsort++;
			if (fj_jql_peek(q)->type != TK_COMMA)
				break;
			fj_jql_next(q);
		}
		t = fj_jql_peek(q);
		if (t->type != TK_END) {
			fj_jql_got(q, "either ',' or the end of the query", t);
			return (-1);
		}
	} else if (t->type != TK_END) {
		fj_jql_got(q, "either 'OR' or 'AND'", t);
		return (-1);
	}
	return (fj_jql_resolve_tree(q, q->where));
}

/* Text of a text-searchable field, or NULL if empty; caller frees. */
static char *
fj_jql_text(const struct fj_issue *is, enum fj_qf qf,
    const struct fj_field *cf)
{
	struct fj_buf	 b = { NULL, 0, 0 };
	const cJSON	*cv;
	char		*s;
	size_t		 i;

	switch (qf) {
	case QF_SUMMARY:
		return (sb_strdup(is->summary));
	case QF_DESCRIPTION:
		if (is->description == NULL)
			return (NULL);
		return (fj_adf_to_text(is->description, 0));
	case QF_CF_TEXT:
		cv = fj_get(is->custom, cf->id);
		if (cv == NULL)
			return (NULL);
		if (cJSON_IsString(cv))
			return (sb_strdup(cv->valuestring));
		return (fj_adf_to_text(cv, 0));
	case QF_COMMENT:
	case QF_TEXT:
		if (qf == QF_TEXT) {
			fj_buf_str(&b, is->summary);
			fj_buf_str(&b, "\n");
			if (is->description != NULL) {
				s = fj_adf_to_text(is->description, 0);
				fj_buf_str(&b, s);
				fj_buf_str(&b, "\n");
				free(s);
			}
			cJSON_ArrayForEach(cv, is->custom) {
				if (cJSON_IsString(cv) &&
				    fj_field_find(cv->string) != NULL &&
				    fj_field_find(cv->string)->kind ==
				    FK_CF_TEXT) {
					fj_buf_str(&b, cv->valuestring);
					fj_buf_str(&b, "\n");
				} else if (cJSON_IsObject(cv)) {
					s = fj_adf_to_text(cv, 0);
					fj_buf_str(&b, s);
					fj_buf_str(&b, "\n");
					free(s);
				}
			}
		}
		for (i = 0; i < is->ncomments; i++) {
			s = fj_adf_to_text(is->comments[i]->body, 0);
			fj_buf_str(&b, s);
			fj_buf_str(&b, "\n");
			free(s);
		}
		if (b.s == NULL)
			return (NULL);
		return (fj_buf_take(&b));
	default:
		return (NULL);
	}
}

/*
 * Text search: a quoted phrase inside the value matches as a phrase,
 * otherwise every word must occur (case-insensitive, prefix wildcards
 * allowed as in "data*").
 */
static int
fj_jql_text_match(const char *hay, const char *query)
{
	char	*copy, *w, *save = NULL, *star;
	size_t	 n = strlen(query);
	int	 ok = 1;

	if (n >= 2 && query[0] == '"' && query[n - 1] == '"') {
		copy = sb_strndup(query + 1, n - 2);
		ok = *copy == '\0' || fj_contains_ci(hay, copy);
		free(copy);
		return (ok);
	}
	copy = sb_strdup(query);
	for (w = strtok_r(copy, " \t\r\n,;:!?()[]{}\"'", &save); w != NULL;
	    w = strtok_r(NULL, " \t\r\n,;:!?()[]{}\"'", &save)) {
		if ((star = strchr(w, '*')) != NULL)
			*star = '\0';
		if (*w != '\0' && !fj_contains_ci(hay, w)) {
			ok = 0;
			break;
		}
	}
	free(copy);
	return (ok);
}

static int64_t
fj_issue_date(const struct fj_issue *is, enum fj_qf qf,
    const struct fj_field *cf)
{
	const cJSON	*cv;
	int64_t		 t;

	switch (qf) {
	case QF_CREATED:
		return (is->created);
	case QF_UPDATED:
		return (is->updated);
	case QF_RESOLVED:
		return (is->resolved);
	case QF_DUE:
		if (*is->duedate == '\0' || fj_parse_date(is->duedate, &t) != 0)
			return (0);
		return (t);
	case QF_CF_DATE:
		cv = fj_get(is->custom, cf->id);
		if (!cJSON_IsString(cv) || fj_parse_date(cv->valuestring,
		    &t) != 0)
			return (0);
		return (t);
	default:
		return (0);
	}
}

/* Is the field empty on this issue? */
static int
fj_jql_isempty(const struct fj_issue *is, const struct fj_clause *cl)
{
	char	*s;
	int	 empty;

	switch (cl->qf) {
	case QF_LABELS:
		return (cJSON_GetArraySize(is->labels) == 0);
	case QF_RESOLUTION:
		return (is->resolution < 0);
	case QF_ASSIGNEE:
		return (is->assignee == NULL);
	case QF_REPORTER:
		return (is->reporter == NULL);
	case QF_CREATED:
	case QF_UPDATED:
	case QF_RESOLVED:
	case QF_DUE:
	case QF_CF_DATE:
		return (fj_issue_date(is, cl->qf, cl->cf) == 0);
	case QF_DESCRIPTION:
	case QF_CF_TEXT:
		s = fj_jql_text(is, cl->qf, cl->cf);
		empty = s == NULL || fj_is_blank(s);
		free(s);
		return (empty);
	default:
		return (0);
	}
}

/* Does the field hold this (non-empty) value? */
static int
fj_jql_holds(const struct fj_issue *is, const struct fj_clause *cl,
    const struct fj_qval *v)
{
	const cJSON	*l;

	switch (cl->qf) {
	case QF_PROJECT:
		return (is->project == v->idx);
	case QF_KEY:
		if (v->proj < 0)
			return (is->id == v->num);
		return (is->project == v->proj && is->num == v->num);
	case QF_ITYPE:
		return (is->itype == v->idx);
	case QF_STATUS:
		return (is->status == v->idx);
	case QF_CATEGORY:
		return (fj_statuses[is->status].category == v->idx);
	case QF_LABELS:
		cJSON_ArrayForEach(l, is->labels) {
			if (strcasecmp(l->valuestring, v->s) == 0)
				return (1);
		}
		return (0);
	case QF_RESOLUTION:
		return (is->resolution == v->idx);
	case QF_ASSIGNEE:
		return (is->assignee == v->user);
	case QF_REPORTER:
		return (is->reporter == v->user);
	case QF_CREATED:
	case QF_UPDATED:
	case QF_RESOLVED:
	case QF_DUE:
	case QF_CF_DATE:
		return (fj_issue_date(is, cl->qf, cl->cf) == v->t);
	default:
		return (0);
	}
}

/* Order on key/id: project then number for keys, id for ids. */
static int
fj_jql_keycmp(const struct fj_issue *is, const struct fj_qval *v)
{
	if (v->proj < 0)
		return (is->id < v->num ? -1 : is->id > v->num);
	if (is->project != v->proj)
		return (is->project < v->proj ? -1 : 1);
	return (is->num < v->num ? -1 : is->num > v->num);
}

static int
fj_jql_clause_match(const struct fj_issue *is, const struct fj_clause *cl)
{
	const struct fj_qval	*v = &cl->vals[0];
	char			*s;
	int			 empty, any, cmp;
	size_t			 i;
	int64_t			 t;

	empty = fj_jql_isempty(is, cl);
	switch (cl->op) {
	case OP_IS:
		return (empty);
	case OP_ISNOT:
		return (!empty);
	case OP_EQ:
	case OP_IN:
		for (i = 0; i < cl->nvals; i++) {
			if (cl->vals[i].empty ? empty :
			    (!empty && fj_jql_holds(is, cl, &cl->vals[i])))
				return (1);
		}
		return (0);
	case OP_NE:
	case OP_NIN:
		/* As in Jira, "!=" never matches an empty field. */
		if (empty)
			return (0);
		for (i = 0; i < cl->nvals; i++) {
			if (!cl->vals[i].empty &&
			    fj_jql_holds(is, cl, &cl->vals[i]))
				return (0);
		}
		return (1);
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		if (empty)
			return (0);
		if (cl->qf == QF_KEY)
			cmp = fj_jql_keycmp(is, v);
		else {
			t = fj_issue_date(is, cl->qf, cl->cf);
			cmp = t < v->t ? -1 : t > v->t;
		}
		switch (cl->op) {
		case OP_LT:
			return (cmp < 0);
		case OP_LE:
			return (cmp <= 0);
		case OP_GT:
			return (cmp > 0);
		default:
			return (cmp >= 0);
		}
	case OP_LIKE:
	case OP_NLIKE:
		if ((s = fj_jql_text(is, cl->qf, cl->cf)) == NULL)
			return (0);
		any = fj_jql_text_match(s, v->s);
		free(s);
		return (cl->op == OP_LIKE ? any : !any);
	}
	return (0);
}

static int
fj_jql_match(const struct fj_issue *is, const struct fj_node *n)
{
	if (n == NULL)
		return (1);
	switch (n->type) {
	case N_AND:
		return (fj_jql_match(is, n->a) && fj_jql_match(is, n->b));
	case N_OR:
		return (fj_jql_match(is, n->a) || fj_jql_match(is, n->b));
	case N_NOT:
		return (!fj_jql_match(is, n->a));
	case N_CLAUSE:
		return (fj_jql_clause_match(is, &n->cl));
	}
	return (0);
}

static const struct fj_jql	*fj_sort_q;

static int
fj_cmp_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == NULL ? (b == NULL ? 0 : 1) : -1);
	return (strcasecmp(a, b));
}

static int
fj_sort_cb(const void *ap, const void *bp)
{
	const struct fj_issue	*a = *(struct fj_issue * const *)ap;
	const struct fj_issue	*b = *(struct fj_issue * const *)bp;
	const struct fj_sort	*s;
	size_t			 i;
	int64_t			 ta, tb;
	int			 c;
	char			*sa, *sb;

	for (i = 0; i < fj_sort_q->nsort; i++) {
		s = &fj_sort_q->sort[i];
		c = 0;
		switch (s->qf) {
		case QF_PROJECT:
			c = strcmp(fj_projects[a->project].key,
			    fj_projects[b->project].key);
			break;
		case QF_KEY:
			c = a->project != b->project ?
			    strcmp(fj_projects[a->project].key,
			    fj_projects[b->project].key) :
			    (a->num < b->num ? -1 : a->num > b->num);
			break;
		case QF_ITYPE:
			c = a->itype - b->itype;
			break;
		case QF_STATUS:
			c = a->status - b->status;
			break;
		case QF_RESOLUTION:
			c = a->resolution == b->resolution ? 0 :
			    a->resolution < 0 ? 1 : b->resolution < 0 ? -1 :
			    a->resolution - b->resolution;
			break;
		case QF_ASSIGNEE:
		case QF_REPORTER:
			c = fj_cmp_str(s->qf == QF_ASSIGNEE ?
			    (a->assignee ? a->assignee->display : NULL) :
			    (a->reporter ? a->reporter->display : NULL),
			    s->qf == QF_ASSIGNEE ?
			    (b->assignee ? b->assignee->display : NULL) :
			    (b->reporter ? b->reporter->display : NULL));
			break;
		case QF_SUMMARY:
		case QF_CF_TEXT:
			sa = fj_jql_text(a, s->qf, s->cf);
			sb = fj_jql_text(b, s->qf, s->cf);
			c = fj_cmp_str(sa, sb);
			free(sa);
			free(sb);
			break;
		default:
			/* Dates; empty values sort last ascending. */
			ta = fj_issue_date(a, s->qf, s->cf);
			tb = fj_issue_date(b, s->qf, s->cf);
			if (ta == 0 || tb == 0)
				c = ta == tb ? 0 : ta == 0 ? 1 : -1;
			else
				c = ta < tb ? -1 : ta > tb;
			break;
		}
		if (c != 0)
			return (s->desc ? -c : c);
	}
	/* No ORDER BY (or a tie): newest issue first, as Jira does. */
	return (a->id < b->id ? 1 : a->id > b->id ? -1 : 0);
}

/* Matching issues in order; caller frees the array (not the issues). */
static struct fj_issue **
fj_jql_run(const struct fj_jql *q, size_t *np)
{
	struct fj_issue	**v;
	size_t		  i, n = 0;

	v = sb_calloc(fj_nissues + 1, sizeof *v);
	for (i = 0; i < fj_nissues; i++) {
		if (fj_jql_match(fj_issues[i], q->where))
			v[n++] = fj_issues[i];
	}
	fj_sort_q = q;
	qsort(v, n, sizeof *v, fj_sort_cb);
	fj_sort_q = NULL;
	*np = n;
	return (v);
}
