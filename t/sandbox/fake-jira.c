/*
 * fake-jira.c: a stateful, strict fake of the Jira REST API.
 *
 * With --jira-context /PATH (a Data Center deployment under a context
 * path) every resource lives under /PATH and nothing outside it answers.
 *
 * Cloud (sb_opts.jira_flavor "cloud", the default) serves /rest/api/2 and
 * /rest/api/3 with Basic auth (email:api_token); the old /search answers 410
 * and /search/jql is the search endpoint. Data Center ("datacenter" or
 * "server") serves only /rest/api/2 with Bearer PAT auth, the classic
 * /search (startAt/total) and 404 for /search/jql. Rich-text fields
 * (description, comment bodies, textarea custom fields) are ADF documents in
 * v3 and plain strings in v2; the wrong shape is a 400 as in Jira.
 *
 * Time: Jira reads and writes times in the API user's profile time zone.
 * Here that is Etc/UTC unless --jira-timezone names another (an IANA
 * zone; the sandbox then sets TZ for itself, nothing else in it reads
 * local time). Datetimes come out as "2026-12-10T16:00:00.000+0100"
 * with that zone's offset at the instant. JQL date literals are
 * "yyyy/MM/dd HH:mm", "yyyy-MM-dd HH:mm", "yyyy/MM/dd" or "yyyy-MM-dd"
 * in that zone, to the minute as in Jira (no seconds: "10:31:00" is an
 * invalid date), a bare day meaning its start; startOfDay() and friends
 * and the day a date field (duedate, AAR Date) is on are that zone's
 * too. So `updated >= "2026/12/05 10:31"` is 10:31 user time, and a
 * poller must format its watermark in the zone /myself reports
 * (timeZone), floored to the minute, or miss or repeat updates.
 * ORDER BY takes up to 7 keys (`ORDER BY updated ASC, key ASC` is a
 * total order, so pages neither skip nor repeat issues); /search/jql
 * pages with nextPageToken (bound to the JQL text), /search (Data
 * Center) with startAt.
 *
 * Issue links: the seeded link types are Jira's defaults (Blocks,
 * Cloners, Duplicate, Relates). POST /issueLink {"type":{"name"|"id"},
 * "inwardIssue":{"key"|"id"},"outwardIssue":{"key"|"id"},"comment"?}
 * links them so that the inward issue <outward> the outward issue
 * ("A blocks B" is inwardIssue A, outwardIssue B, as in Jira, however
 * it reads): B lists {"inwardIssue":A} under fields.issuelinks (read
 * with type.inward, "is blocked by"), A lists {"outwardIssue":B}
 * ("blocks"). A repeated link answers 201 and adds nothing; both
 * issues' "updated" move. JQL: issue in linkedIssues(KEY[, "link
 * description"...]), descriptions as seen from KEY ("blocks": issues
 * KEY blocks).
 *
 * Users: on Cloud carol hides her email (profile visibility), so no
 * user object for her has "emailAddress" (the API user sees their
 * own); Data Center shows every email. GET /user and /user/search find
 * users as the flavour does (accountId and query on Cloud, username on
 * Data Center); a query matches a hidden email only in full.
 *
 * Control ops (POST /control/jira/<op>, JSON body; answers {"ok":...}):
 *   issue       {"summary", "project":"INC", "issuetype":"Incident",
 *                "status":"To Do", "resolution", "labels":[...],
 *                "created", "updated", "resolutiondate", "duedate",
 *                "description" (text or ADF), "assignee", "reporter"
 *                (email, accountId or username), "fields":{"customfield_N":
 *                value}}; times are ISO 8601 or relative ("-3d")
 *                -> {"ok":true,"id","key"}
 *   edit        {"key", "summary", "labels", "duedate", "description",
 *                "assignee", "reporter" (null: none), "fields":{...},
 *                "updated"} -> {"ok":true,"key"}: the issue op's field
 *                checks, bypassing screens; "updated" moves to now
 *                unless given
 *   link        {"from":"KEY", "to":"KEY", "type":"Relates"} -> {"ok":true,
 *                "id"}: "from <outward> to" (the REST inwardIssue is
 *                from); type by name or id
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
#define FJ_LINKS_MAX		2000
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
	int		 hide_email;	/* Cloud profile visibility */
};
static const struct fj_user fj_users[] = {
	{ "5b10a2844c20165700ede21g", "alice", "JIRAUSER10000",
	    "Alice Example", "alice@example.com", 0 },
	{ "5b10ac8d82e05b22cc7d4ef5", "bob", "JIRAUSER10001",
	    "Bob Example", "bob@example.com", 0 },
	{ "5b109f2e9729b51b54dc274d", "carol", "JIRAUSER10002",
	    "Carol Example", "carol@example.com", 1 },
};
#define FJ_NUSERS	(sizeof fj_users / sizeof fj_users[0])
/* The API user when jira_email is not a seeded user; email set at init. */
static struct fj_user fj_bot = {
	"712020:5f0c1b2a-9d4e-4c1b-8a7e-1c2d3e4f5a6b", "incidentd",
	"JIRAUSER10003", "incidentd", FJ_DEFAULT_EMAIL, 0
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
#define FJ_NRESOLUTIONS	(sizeof fj_resolutions / \
			    sizeof fj_resolutions[0])

/* Jira's default priorities, most urgent first. */
struct fj_priority {
	const char	*id;
	const char	*name;
	const char	*color;
	const char	*icon;
};
static const struct fj_priority fj_priorities[] = {
	{ "1", "Highest", "#d04437", "highest" },
	{ "2", "High", "#f15C75", "high" },
	{ "3", "Medium", "#f79232", "medium" },
	{ "4", "Low", "#707070", "low" },
	{ "5", "Lowest", "#999999", "lowest" },
};
#define FJ_NPRIORITIES	(sizeof fj_priorities / sizeof fj_priorities[0])
#define FJ_PRIORITY_DEFAULT	2

/* Jira's default issue link types. */
struct fj_ltype {
	const char	*id;
	const char	*name;
	const char	*inward;
	const char	*outward;
};
static const struct fj_ltype fj_ltypes[] = {
	{ "10000", "Blocks", "is blocked by", "blocks" },
	{ "10001", "Cloners", "is cloned by", "clones" },
	{ "10002", "Duplicate", "is duplicated by", "duplicates" },
	{ "10003", "Relates", "relates to", "relates to" },
};
#define FJ_NLTYPES	(sizeof fj_ltypes / sizeof fj_ltypes[0])

/* Field kinds, for validation, rendering and JQL. */
enum fj_kind {
	FJ_FK_SUMMARY,
	FJ_FK_DESCRIPTION,
	FJ_FK_STATUS,
	FJ_FK_CREATED,
	FJ_FK_UPDATED,
	FJ_FK_RESOLUTIONDATE,
	FJ_FK_RESOLUTION,
	FJ_FK_DUEDATE,
	FJ_FK_LABELS,
	FJ_FK_ASSIGNEE,
	FJ_FK_REPORTER,
	FJ_FK_ISSUETYPE,
	FJ_FK_PROJECT,
	FJ_FK_PRIORITY,
	FJ_FK_COMMENT,
	FJ_FK_ISSUELINKS,
	FJ_FK_CF_DATE,
	FJ_FK_CF_DATETIME,
	FJ_FK_CF_TEXT,
	FJ_FK_CF_TEXTAREA
};
struct fj_field {
	const char	*id;
	const char	*name;
	enum fj_kind	 kind;
	int		 navigable;
	int		 orderable;	/* may appear in ORDER BY */
	int		 settable;	/* on the create and edit screen */
	const char	*schema_type;
	const char	*schema_items;
	const char	*schema_custom;	/* custom field type key */
	int		 custom_id;
};
#define FJ_CF_PREFIX	"com.atlassian.jira.plugin.system.customfieldtypes:"
static const struct fj_field fj_fields[] = {
	{ "summary", "Summary", FJ_FK_SUMMARY, 1, 1, 1, "string", NULL, NULL,
	    0 },
	{ "description", "Description", FJ_FK_DESCRIPTION, 1, 0, 1, "string",
	    NULL, NULL, 0 },
	{ "status", "Status", FJ_FK_STATUS, 1, 1, 0, "status", NULL, NULL, 0 },
	{ "created", "Created", FJ_FK_CREATED, 1, 1, 0, "datetime", NULL, NULL,
	    0 },
	{ "updated", "Updated", FJ_FK_UPDATED, 1, 1, 0, "datetime", NULL, NULL,
	    0 },
	{ "resolutiondate", "Resolved", FJ_FK_RESOLUTIONDATE, 1, 1, 0,
	    "datetime", NULL, NULL, 0 },
	{ "resolution", "Resolution", FJ_FK_RESOLUTION, 1, 1, 0, "resolution",
	    NULL, NULL, 0 },
	{ "duedate", "Due date", FJ_FK_DUEDATE, 1, 1, 1, "date", NULL, NULL,
	    0 },
	{ "labels", "Labels", FJ_FK_LABELS, 1, 0, 1, "array", "string", NULL,
	    0 },
	{ "assignee", "Assignee", FJ_FK_ASSIGNEE, 1, 1, 1, "user", NULL, NULL,
	    0 },
	{ "reporter", "Reporter", FJ_FK_REPORTER, 1, 1, 1, "user", NULL, NULL,
	    0 },
	{ "issuetype", "Issue Type", FJ_FK_ISSUETYPE, 1, 1, 1, "issuetype",
	    NULL, NULL, 0 },
	{ "project", "Project", FJ_FK_PROJECT, 1, 1, 1, "project", NULL, NULL,
	    0 },
	{ "priority", "Priority", FJ_FK_PRIORITY, 1, 1, 1, "priority", NULL,
	    NULL, 0 },
	{ "comment", "Comment", FJ_FK_COMMENT, 0, 0, 0, "comments-page", NULL,
	    NULL, 0 },
	/* Links are made with POST /issueLink here, not on the screens. */
	{ "issuelinks", "Linked Issues", FJ_FK_ISSUELINKS, 1, 0, 0, "array",
	    "issuelinks", NULL, 0 },
	{ "customfield_10050", "AAR Date", FJ_FK_CF_DATE, 1, 1, 1, "date", NULL,
	    FJ_CF_PREFIX "datepicker", 10050 },
	{ "customfield_10051", "Severity", FJ_FK_CF_TEXT, 1, 1, 1, "string",
	    NULL, FJ_CF_PREFIX "textfield", 10051 },
	{ "customfield_10052", "Impact", FJ_FK_CF_TEXTAREA, 1, 0, 1, "string",
	    NULL, FJ_CF_PREFIX "textarea", 10052 },
	{ "customfield_10053", "Incident Channel", FJ_FK_CF_TEXT, 1, 1, 1,
	    "string", NULL, FJ_CF_PREFIX "textfield", 10053 },
	{ "customfield_10054", "AAR Meeting", FJ_FK_CF_DATETIME, 1, 1, 1,
	    "datetime", NULL, FJ_CF_PREFIX "datetime", 10054 },
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
	cJSON		*data;		/* application, relationship,
					   object */
};

struct fj_issue {
	long			 id;
	char			 key[32];
	int			 project;
	int			 num;
	int			 itype;
	int			 priority;
	char			*summary;
	cJSON			*description;	/* ADF or NULL */
	cJSON			*labels;	/* sorted strings */
	char			 duedate[11];	/* "" if unset */
	const struct fj_user	*assignee;
	const struct fj_user	*reporter;
	int			 status;
	int			 resolution;	/* -1 if unresolved */
	int64_t			 created;
	int64_t			 updated;
	int64_t			 resolved;	/* 0 if unresolved */
	cJSON			*custom;	/* field id -> value (ADF
						   for textarea, epoch ms
						   for datetime) */
	struct fj_comment	**comments;
	size_t			 ncomments;
	struct fj_rlink		**rlinks;
	size_t			 nrlinks;
};

/* A link: "in <outward> out" ("in blocks out"); issues outlive links. */
struct fj_link {
	long			 id;
	int			 type;		/* index into fj_ltypes */
	struct fj_issue		*in;		/* REST inwardIssue */
	struct fj_issue		*out;		/* REST outwardIssue */
};

static struct fj_issue	**fj_issues;
static size_t		  fj_nissues;
static struct fj_link	**fj_links;
static size_t		  fj_nlinks;
static long		  fj_next_id;
static long		  fj_next_comment;
static long		  fj_next_rlink;
static long		  fj_next_link;
static int		  fj_next_num[FJ_NPROJECTS];

/* Sliding-window rate limit, off when per_minute is 0. */
static struct {
	int		 per_minute;
	int64_t		*ts;		/* monotonic ms, oldest
					   first */
	size_t		 n;
} fj_rl;

/* One request being answered. */
struct fj_ctx {
	struct sb_req		*r;
	int			 v;		/* API version, 2 or 3 */
	int			 dc;		/* Data Center flavour */
	const struct fj_user	*me;
	cJSON			*json;		/* body or NULL */
	const char		*hdrs[8];
	char			 hbuf[6][160];
	size_t			 nhdrs;
};

struct fj_jql;

/* Which fields to render. */
struct fj_fsel {
	int		 base;		/* 0 none, 1 navigable,
					   2 all */
	int		 n_id;		/* times "id" was named */
	int		 n_other;	/* other names, "*all",
					   "*navigable" */
	char		 incl[FJ_NFIELDS];
	char		 excl[FJ_NFIELDS];
};

static void	 fj_init(void);
static void	 fj_handle(struct sb_req *);
static cJSON	*fj_control(const char *, cJSON *);
static void	 fj_shutdown(void);
static void	 fj_self(struct fj_ctx *, char *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 4, 5)));
static void	 fj_hdr(struct fj_ctx *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	 fj_error(struct fj_ctx *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 fj_seterr(cJSON *, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 fj_jql_err(struct fj_jql *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static cJSON	*fj_ctl_error(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));

/* The Jira service as the sandbox routes to it. */
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

/* The API user's time zone (see the top of the file). */
static const char *
fj_tz_name(void)
{
	return (sb_opts.jira_timezone != NULL ? sb_opts.jira_timezone :
	    "Etc/UTC");
}

/* Milliseconds the user's zone is ahead of UTC at the instant ms. */
static int64_t
fj_tz_off(int64_t ms)
{
	struct tm	tm;
	time_t		t;

	if (sb_opts.jira_timezone == NULL)
		return (0);
	t = (time_t)fj_floor_div(ms, 1000);
	if (localtime_r(&t, &tm) == NULL)
		return (0);
	return ((int64_t)tm.tm_gmtoff * 1000);
}

/* The instant a wall-clock time of the user's zone (as if UTC) names. */
static int64_t
fj_local_to_utc(int64_t wall)
{
	int64_t	off = fj_tz_off(wall), t = wall - off;

	/* Near a change of offset the first guess may be off by it. */
	if (fj_tz_off(t) != off)
		t = wall - fj_tz_off(t);
	return (t);
}

/* "2023-06-24T19:24:50.000+0000", the format Jira renders, in the
 * user's zone. */
static void
fj_fmt_time(int64_t ms, char *buf, size_t len)
{
	int64_t	days, rem, off = fj_tz_off(ms);
	int	y, m, d, aoff;

	ms += off;
	days = fj_floor_div(ms, FJ_DAY_MS);
	rem = ms - days * FJ_DAY_MS;
	fj_civil_from_days(days, &y, &m, &d);
	aoff = (int)((off < 0 ? -off : off) / 60000);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d%02d", y,
	    m, d, (int)(rem / 3600000), (int)(rem / 60000 % 60),
	    (int)(rem / 1000 % 60), (int)(rem % 1000), off < 0 ? '-' : '+',
	    aoff / 60, aoff % 60);
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
 * "2024-01-02T03:04:05[.sss]" followed by "Z", "+hhmm", "+hh:mm" or
 * nothing: UTC for the control API (which also takes a space for the
 * T), the user's zone for a REST value (rest).
 */
static int
fj_parse_datetime(const char *s, int rest, int64_t *ms)
{
	int64_t	 t;
	int	 h, mi, se, frac = 0, oh, om, sign;
	char	 date[11];

	if (strlen(s) < 11)
		return (-1);
	memcpy(date, s, 10);
	date[10] = '\0';
	if (fj_parse_date(date, &t) != 0)
		return (-1);
	if (s[10] != 'T' && (rest || s[10] != ' '))
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
	if (*s == '\0') {
		*ms = rest ? fj_local_to_utc(t) : t;
		return (0);
	}
	if (strcmp(s, "Z") == 0) {
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

/*
 * ISO 8601 time for the control API: fj_parse_datetime's UTC form, a
 * bare date, or a relative period from now.
 */
static int
fj_parse_iso(const char *s, int64_t *ms)
{
	int64_t	t;

	if (fj_parse_period(s, &t) == 0) {
		*ms = fj_now() + t;
		return (0);
	}
	if (strlen(s) == 10)
		return (fj_parse_date(s, ms));
	return (fj_parse_datetime(s, 0, ms));
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

/*
 * The index of the entry of a table of n entries of size sz whose id
 * (the string at id_off), or name (at name_off, any case), is s; -1 if
 * none. FJ_TABLE_FIND(table, name member, s) fills in the rest.
 */
static int
fj_table_find(const void *t, size_t n, size_t sz, size_t id_off,
    size_t name_off, const char *s)
{
	const char	*e = t;
	size_t		 i;

	for (i = 0; i < n; i++, e += sz) {
		if (strcasecmp(*(const char *const *)(const void *)(e +
		    name_off), s) == 0 || strcmp(*(const char *const *)
		    (const void *)(e + id_off), s) == 0)
			return ((int)i);
	}
	return (-1);
}
#define FJ_TABLE_FIND(t, name, s)					\
	fj_table_find((t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0]),	\
	    (size_t)((const char *)&(t)[0].id - (const char *)(t)),	\
	    (size_t)((const char *)&(t)[0].name - (const char *)(t)), (s))

/* fn(s): the index in table t of the entry with id or name s, or -1. */
#define FJ_FINDER(fn, t, name)						\
	static int							\
	fn(const char *s)						\
	{								\
		return (FJ_TABLE_FIND(t, name, s));			\
	}
FJ_FINDER(fj_project_find, fj_projects, key)
FJ_FINDER(fj_itype_find, fj_itypes, name)
FJ_FINDER(fj_status_find, fj_statuses, name)
FJ_FINDER(fj_resolution_find, fj_resolutions, name)
FJ_FINDER(fj_priority_find, fj_priorities, name)
FJ_FINDER(fj_ltype_find, fj_ltypes, name)

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
	/* Allowed children: space-separated types, "B" for any block but
	 * table and expand, "I" for inline, NULL for none. */
	const char	*children;
	int		 nonempty;	/* content must be non-empty */
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
	/* Cloud leaves out a hidden email, except to its owner. */
	if (c->dc || !u->hide_email || u == c->me)
		cJSON_AddStringToObject(o, "emailAddress", u->email);
	av = cJSON_AddObjectToObject(o, "avatarUrls");
	snprintf(buf, sizeof buf, "%s/secure/useravatar?size=large&ownerId=%s",
	    base, u->name);
	cJSON_AddStringToObject(av, "48x48", buf);
	cJSON_AddStringToObject(o, "displayName", u->display);
	cJSON_AddBoolToObject(o, "active", 1);
	cJSON_AddStringToObject(o, "timeZone", u == fj_myself() ?
	    fj_tz_name() : "Etc/UTC");
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
fj_priority_json(struct fj_ctx *c, int i)
{
	const struct fj_priority	*p = &fj_priorities[i];
	cJSON				*o;
	char				 buf[256], base[96];

	fj_base(base, sizeof base);
	o = cJSON_CreateObject();
	fj_self(c, buf, sizeof buf, "priority/%s", p->id);
	cJSON_AddStringToObject(o, "self", buf);
	snprintf(buf, sizeof buf, "%s/images/icons/priorities/%s.svg", base,
	    p->icon);
	cJSON_AddStringToObject(o, "iconUrl", buf);
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "id", p->id);
	return (o);
}

static cJSON *
fj_ltype_json(struct fj_ctx *c, int i)
{
	cJSON	*o;
	char	 buf[256];

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", fj_ltypes[i].id);
	cJSON_AddStringToObject(o, "name", fj_ltypes[i].name);
	cJSON_AddStringToObject(o, "inward", fj_ltypes[i].inward);
	cJSON_AddStringToObject(o, "outward", fj_ltypes[i].outward);
	fj_self(c, buf, sizeof buf, "issueLinkType/%s", fj_ltypes[i].id);
	cJSON_AddStringToObject(o, "self", buf);
	return (o);
}

/* The other end of a link: a few key fields, as Jira shows it. */
static cJSON *
fj_linked_json(struct fj_ctx *c, const struct fj_issue *is)
{
	cJSON	*o, *f;
	char	 buf[256];

	o = cJSON_CreateObject();
	snprintf(buf, sizeof buf, "%ld", is->id);
	cJSON_AddStringToObject(o, "id", buf);
	cJSON_AddStringToObject(o, "key", is->key);
	fj_self(c, buf, sizeof buf, "issue/%ld", is->id);
	cJSON_AddStringToObject(o, "self", buf);
	f = cJSON_AddObjectToObject(o, "fields");
	cJSON_AddStringToObject(f, "summary", is->summary);
	cJSON_AddItemToObject(f, "status", fj_status_json(c, is->status));
	cJSON_AddItemToObject(f, "priority", fj_priority_json(c,
	    is->priority));
	cJSON_AddItemToObject(f, "issuetype", fj_itype_json(c, is->itype));
	return (o);
}

/*
 * A link as GET /issueLink/{id} shows it (is NULL: both ends), or as
 * the issue is's fields.issuelinks lists it (the other end only).
 */
static cJSON *
fj_link_json(struct fj_ctx *c, const struct fj_link *l,
    const struct fj_issue *is)
{
	cJSON	*o;
	char	 buf[256];

	o = cJSON_CreateObject();
	snprintf(buf, sizeof buf, "%ld", l->id);
	cJSON_AddStringToObject(o, "id", buf);
	fj_self(c, buf, sizeof buf, "issueLink/%ld", l->id);
	cJSON_AddStringToObject(o, "self", buf);
	cJSON_AddItemToObject(o, "type", fj_ltype_json(c, l->type));
	if (is == NULL || is == l->out)
		cJSON_AddItemToObject(o, "inwardIssue", fj_linked_json(c,
		    l->in));
	if (is == NULL || is == l->in)
		cJSON_AddItemToObject(o, "outwardIssue", fj_linked_json(c,
		    l->out));
	return (o);
}

static cJSON *
fj_issuelinks_json(struct fj_ctx *c, const struct fj_issue *is)
{
	cJSON	*a;
	size_t	 i;

	a = cJSON_CreateArray();
	for (i = 0; i < fj_nlinks; i++) {
		if (fj_links[i]->in == is || fj_links[i]->out == is)
			cJSON_AddItemToArray(a, fj_link_json(c, fj_links[i],
			    is));
	}
	return (a);
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
		i = strlen(tok);
		while (i > 0 && isspace((unsigned char)tok[i - 1]))
			tok[--i] = '\0';
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
	if (fs->n_id == 0 && fs->n_other == 0) {
		fs->base = any_excl ? 1 : def_base;
		/* No fields and no default set: ids only (/search/jql). */
		if (fs->base == 0)
			fs->n_id = 1;
	}
}

static cJSON *
fj_field_value(struct fj_ctx *c, const struct fj_issue *is,
    const struct fj_field *f)
{
	const cJSON	*cv;

	switch (f->kind) {
	case FJ_FK_SUMMARY:
		return (cJSON_CreateString(is->summary));
	case FJ_FK_DESCRIPTION:
		return (fj_rich_json(c, is->description));
	case FJ_FK_STATUS:
		return (fj_status_json(c, is->status));
	case FJ_FK_CREATED:
		return (fj_time_json(is->created));
	case FJ_FK_UPDATED:
		return (fj_time_json(is->updated));
	case FJ_FK_RESOLUTIONDATE:
		return (fj_time_json(is->resolved));
	case FJ_FK_RESOLUTION:
		return (fj_resolution_json(c, is->resolution));
	case FJ_FK_DUEDATE:
		if (*is->duedate == '\0')
			return (cJSON_CreateNull());
		return (cJSON_CreateString(is->duedate));
	case FJ_FK_LABELS:
		return (cJSON_Duplicate(is->labels, 1));
	case FJ_FK_ASSIGNEE:
		return (fj_user_json(c, is->assignee));
	case FJ_FK_REPORTER:
		return (fj_user_json(c, is->reporter));
	case FJ_FK_ISSUETYPE:
		return (fj_itype_json(c, is->itype));
	case FJ_FK_PROJECT:
		return (fj_project_json(c, is->project));
	case FJ_FK_PRIORITY:
		return (fj_priority_json(c, is->priority));
	case FJ_FK_COMMENT:
		return (fj_comments_page(c, is, 0, is->ncomments));
	case FJ_FK_ISSUELINKS:
		return (fj_issuelinks_json(c, is));
	case FJ_FK_CF_DATETIME:
		cv = fj_get(is->custom, f->id);
		return (cJSON_IsNumber(cv) ? fj_time_json((int64_t)
		    cv->valuedouble) : cJSON_CreateNull());
	case FJ_FK_CF_DATE:
	case FJ_FK_CF_TEXT:
		cv = fj_get(is->custom, f->id);
		if (cv == NULL)
			return (cJSON_CreateNull());
		return (cJSON_Duplicate(cv, 1));
	case FJ_FK_CF_TEXTAREA:
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
	FJ_TK_END,
	FJ_TK_WORD,
	FJ_TK_STR,
	FJ_TK_LP,
	FJ_TK_RP,
	FJ_TK_COMMA,
	FJ_TK_OP
};
enum fj_op {
	FJ_OP_EQ,
	FJ_OP_NE,
	FJ_OP_LT,
	FJ_OP_LE,
	FJ_OP_GT,
	FJ_OP_GE,
	FJ_OP_LIKE,
	FJ_OP_NLIKE,
	FJ_OP_IN,
	FJ_OP_NIN,
	FJ_OP_IS,
	FJ_OP_ISNOT
};
static const char *fj_op_names[] = { "=", "!=", "<", "<=", ">", ">=", "~",
    "!~", "in", "not in", "is", "is not" };
#define FJ_OPB(o)		(1U << (o))
#define FJ_OPS_LIKE	(FJ_OPB(FJ_OP_LIKE) | FJ_OPB(FJ_OP_NLIKE))
#define FJ_OPS_ENUM	(FJ_OPB(FJ_OP_EQ) | FJ_OPB(FJ_OP_NE) | \
			    FJ_OPB(FJ_OP_IN) | FJ_OPB(FJ_OP_NIN) | \
			    FJ_OPB(FJ_OP_IS) | FJ_OPB(FJ_OP_ISNOT))
#define FJ_OPS_ORDERED	(FJ_OPS_ENUM | FJ_OPB(FJ_OP_LT) | \
			    FJ_OPB(FJ_OP_LE) | FJ_OPB(FJ_OP_GT) | \
			    FJ_OPB(FJ_OP_GE))
#define FJ_OPS_TEXT	(FJ_OPS_LIKE | FJ_OPB(FJ_OP_IS) | \
			    FJ_OPB(FJ_OP_ISNOT))

enum fj_qf {
	FJ_QF_PROJECT,
	FJ_QF_KEY,
	FJ_QF_ITYPE,
	FJ_QF_STATUS,
	FJ_QF_CATEGORY,
	FJ_QF_LABELS,
	FJ_QF_CREATED,
	FJ_QF_UPDATED,
	FJ_QF_RESOLVED,
	FJ_QF_DUE,
	FJ_QF_RESOLUTION,
	FJ_QF_ASSIGNEE,
	FJ_QF_REPORTER,
	FJ_QF_SUMMARY,
	FJ_QF_DESCRIPTION,
	FJ_QF_COMMENT,
	FJ_QF_TEXT,
	FJ_QF_PRIORITY,
	FJ_QF_CF_DATE,
	FJ_QF_CF_DATETIME,
	FJ_QF_CF_TEXT
};
struct fj_qfield {
	const char	*name;
	enum fj_qf	 qf;
	unsigned	 ops;
	int		 sortable;
};
static const struct fj_qfield fj_qfields[] = {
	{ "project", FJ_QF_PROJECT, FJ_OPS_ENUM, 1 },
	{ "key", FJ_QF_KEY, FJ_OPS_ORDERED, 1 },
	{ "issuekey", FJ_QF_KEY, FJ_OPS_ORDERED, 1 },
	{ "issue", FJ_QF_KEY, FJ_OPS_ORDERED, 1 },
	{ "id", FJ_QF_KEY, FJ_OPS_ORDERED, 1 },
	{ "issuetype", FJ_QF_ITYPE, FJ_OPS_ENUM, 1 },
	{ "type", FJ_QF_ITYPE, FJ_OPS_ENUM, 1 },
	{ "status", FJ_QF_STATUS, FJ_OPS_ENUM, 1 },
	{ "statuscategory", FJ_QF_CATEGORY, FJ_OPS_ENUM, 0 },
	{ "category", FJ_QF_CATEGORY, FJ_OPS_ENUM, 0 },
	{ "labels", FJ_QF_LABELS, FJ_OPS_ENUM, 0 },
	{ "created", FJ_QF_CREATED, FJ_OPS_ORDERED, 1 },
	{ "createddate", FJ_QF_CREATED, FJ_OPS_ORDERED, 1 },
	{ "updated", FJ_QF_UPDATED, FJ_OPS_ORDERED, 1 },
	{ "updateddate", FJ_QF_UPDATED, FJ_OPS_ORDERED, 1 },
	{ "resolved", FJ_QF_RESOLVED, FJ_OPS_ORDERED, 1 },
	{ "resolutiondate", FJ_QF_RESOLVED, FJ_OPS_ORDERED, 1 },
	{ "duedate", FJ_QF_DUE, FJ_OPS_ORDERED, 1 },
	{ "due", FJ_QF_DUE, FJ_OPS_ORDERED, 1 },
	{ "resolution", FJ_QF_RESOLUTION, FJ_OPS_ENUM, 1 },
	{ "assignee", FJ_QF_ASSIGNEE, FJ_OPS_ENUM, 1 },
	{ "reporter", FJ_QF_REPORTER, FJ_OPS_ENUM, 1 },
	{ "summary", FJ_QF_SUMMARY, FJ_OPS_LIKE, 1 },
	{ "description", FJ_QF_DESCRIPTION, FJ_OPS_TEXT, 0 },
	{ "comment", FJ_QF_COMMENT, FJ_OPS_LIKE, 0 },
	{ "text", FJ_QF_TEXT, FJ_OPS_LIKE, 0 },
	{ "priority", FJ_QF_PRIORITY, FJ_OPS_ENUM, 1 },
};
#define FJ_NQFIELDS	(sizeof fj_qfields / sizeof fj_qfields[0])

struct fj_tok {
	enum fj_tk	 type;
	enum fj_op	 op;
	char		*text;
	size_t		 pos;		/* 1-based character */
};

#define FJ_FUNC_ARGS	16
struct fj_qval {
	int			 empty;		/* EMPTY/Unresolved */
	char			*s;		/* literal or function */
	int			 func;
	char			*args[FJ_FUNC_ARGS];	/* function's */
	size_t			 nargs;
	size_t			 pos;
	/* Resolved. */
	int			 idx;
	int64_t			 t;
	const struct fj_user	*user;
	int			 proj;
	long			 num;		/* key number, or id if
						   proj < 0 */
	/* linkedIssues(): the issue, and the link types whose outward
	 * (from it) or inward (to it) description was asked for. */
	const struct fj_issue	*linked;
	unsigned		 out_types;
	unsigned		 in_types;
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
	FJ_N_AND,
	FJ_N_OR,
	FJ_N_NOT,
	FJ_N_CLAUSE
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

/* A quoted string at *pp (its quote included); 0 or -1 with q->err. */
static int
fj_jql_string(struct fj_jql *q, const char *s, const char **pp, size_t pos)
{
	const char	*p = *pp, *start;
	struct fj_buf	 b = { NULL, 0, 0 };
	unsigned long	 cp;
	char		 quote = *p++, hex[5], *end;

	start = p;
	while (*p != quote) {
		if (*p == '\0') {
			fj_jql_err(q, "Error in the JQL Query: The quoted "
			    "string '%.*s' has not been completed. (line 1, "
			    "character %zu)", (int)(p - start), start, pos);
			goto fail;
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
			    !isxdigit((unsigned char)hex[0]) || cp == 0) {
				fj_jql_err(q, "Error in the JQL Query: The "
				    "escape sequence '\\u%s' in the string "
				    "is illegal. (line 1, character %zu)",
				    hex, (size_t)(p - s));
				goto fail;
			}
			fj_utf8_put(&b, cp);
			p += 4;
			break;
		default:
			fj_jql_err(q, "Error in the JQL Query: The escape "
			    "sequence '\\%c' in the string is illegal. "
			    "(line 1, character %zu)", *p != '\0' ? *p : ' ',
			    (size_t)(p - s));
			goto fail;
		}
		p++;
	}
	*pp = p + 1;
	fj_jql_push(q, FJ_TK_STR, 0, fj_buf_take(&b), pos);
	return (0);
fail:
	free(b.s);
	return (-1);
}

static int
fj_jql_lex(struct fj_jql *q, const char *s)
{
	const char	*p = s, *start;
	size_t		 pos;

	while (*p != '\0') {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		pos = p - s + 1;
		switch (*p) {
		case '(':
			fj_jql_push(q, FJ_TK_LP, 0, sb_strdup("("), pos);
			p++;
			continue;
		case ')':
			fj_jql_push(q, FJ_TK_RP, 0, sb_strdup(")"), pos);
			p++;
			continue;
		case ',':
			fj_jql_push(q, FJ_TK_COMMA, 0, sb_strdup(","), pos);
			p++;
			continue;
		case '=':
			fj_jql_push(q, FJ_TK_OP, FJ_OP_EQ, sb_strdup("="), pos);
			p++;
			continue;
		case '~':
			fj_jql_push(q, FJ_TK_OP, FJ_OP_LIKE, sb_strdup("~"),
			    pos);
			p++;
			continue;
		case '!':
			if (p[1] == '=' || p[1] == '~') {
				fj_jql_push(q, FJ_TK_OP, p[1] == '=' ?
				    FJ_OP_NE : FJ_OP_NLIKE, sb_strndup(p, 2),
				    pos);
				p += 2;
			} else {
				fj_jql_push(q, FJ_TK_WORD, 0, sb_strdup("NOT"),
				    pos);
				p++;
			}
			continue;
		case '<':
		case '>':
			if (p[1] == '=') {
				fj_jql_push(q, FJ_TK_OP, *p == '<' ?
				    FJ_OP_LE : FJ_OP_GE, sb_strndup(p, 2),
				    pos);
				p += 2;
			} else {
				fj_jql_push(q, FJ_TK_OP, *p == '<' ?
				    FJ_OP_LT : FJ_OP_GT, sb_strndup(p, 1),
				    pos);
				p++;
			}
			continue;
		case '&':
		case '|':
			fj_jql_push(q, FJ_TK_WORD, 0, sb_strdup(*p == '&' ?
			    "AND" : "OR"), pos);
			p += p[1] == *p ? 2 : 1;
			continue;
		case '"':
		case '\'':
			if (fj_jql_string(q, s, &p, pos) != 0)
				return (-1);
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
		fj_jql_push(q, FJ_TK_WORD, 0, sb_strndup(start, p - start),
		    pos);
	}
	fj_jql_push(q, FJ_TK_END, 0, sb_strdup(""), p - s + 1);
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

	if (t->type != FJ_TK_END)
		q->i++;
	return (t);
}

static int
fj_jql_is_kw(const struct fj_tok *t, const char *kw)
{
	return (t->type == FJ_TK_WORD && strcasecmp(t->text, kw) == 0);
}

static int
fj_jql_reserved(const struct fj_tok *t)
{
	static const char *kws[] = { "and", "or", "not", "in", "is", "empty",
	    "null", "order", "by", "asc", "desc", "was", "changed" };
	size_t	i;

	if (t->type != FJ_TK_WORD)
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
	if (t->type == FJ_TK_END) {
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
	size_t	i, k;

	for (i = 0; i < cl->nvals; i++) {
		free(cl->vals[i].s);
		for (k = 0; k < cl->vals[i].nargs; k++)
			free(cl->vals[i].args[k]);
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
	if (n->type == FJ_N_CLAUSE)
		fj_clause_free(&n->cl);
	free(n);
}

/* One value: a literal, EMPTY/NULL, or a function call. */
static int
fj_jql_value(struct fj_jql *q, struct fj_clause *cl)
{
	struct fj_tok	*t = fj_jql_peek(q), *a;
	struct fj_qval	*v;

	if ((t->type != FJ_TK_WORD && t->type != FJ_TK_STR) ||
	    (fj_jql_reserved(t) && !fj_jql_is_kw(t, "empty") &&
	    !fj_jql_is_kw(t, "null"))) {
		if (t->type == FJ_TK_END)
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
	if (t->type == FJ_TK_WORD && (fj_jql_is_kw(t, "empty") ||
	    fj_jql_is_kw(t, "null"))) {
		v->empty = 1;
		return (0);
	}
	if (t->type == FJ_TK_WORD && fj_jql_peek(q)->type == FJ_TK_LP) {
		fj_jql_next(q);
		v->func = 1;
		/* Arguments: words or strings, separated by commas. */
		for (;;) {
			a = fj_jql_peek(q);
			if (a->type != FJ_TK_WORD && a->type != FJ_TK_STR)
				break;
			if (v->nargs == FJ_FUNC_ARGS) {
				fj_jql_err(q, "Error in the JQL Query: Too "
				    "many arguments for the function '%s'. "
				    "(line 1, character %zu)", v->s, a->pos);
				return (-1);
			}
			v->args[v->nargs++] = sb_strdup(a->text);
			fj_jql_next(q);
			if (fj_jql_peek(q)->type != FJ_TK_COMMA)
				break;
			fj_jql_next(q);
			a = fj_jql_peek(q);
			if (a->type != FJ_TK_WORD && a->type != FJ_TK_STR) {
				fj_jql_got(q, "a function argument", a);
				return (-1);
			}
		}
		if (fj_jql_peek(q)->type != FJ_TK_RP) {
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

	if ((t->type != FJ_TK_WORD && t->type != FJ_TK_STR) ||
	    fj_jql_reserved(t)) {
		fj_jql_got(q, "a field name", t);
		return (NULL);
	}
	o = fj_jql_next(q);
	if (o->type == FJ_TK_OP)
		op = o->op;
	else if (fj_jql_is_kw(o, "in"))
		op = FJ_OP_IN;
	else if (fj_jql_is_kw(o, "not") && fj_jql_is_kw(fj_jql_peek(q),
	    "in")) {
		fj_jql_next(q);
		op = FJ_OP_NIN;
	} else if (fj_jql_is_kw(o, "is")) {
		op = FJ_OP_IS;
		if (fj_jql_is_kw(fj_jql_peek(q), "not")) {
			fj_jql_next(q);
			op = FJ_OP_ISNOT;
		}
	} else {
		if (o->type == FJ_TK_END) {
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
	n->type = FJ_N_CLAUSE;
	n->cl.fname = sb_strdup(t->text);
	n->cl.op = op;
	if ((op == FJ_OP_IN || op == FJ_OP_NIN) &&
	    fj_jql_peek(q)->type == FJ_TK_WORD &&
	    q->t[q->i + 1].type == FJ_TK_LP) {
		/* A function giving the list: "issue in linkedIssues(X)". */
		if (fj_jql_value(q, &n->cl) != 0)
			goto fail;
	} else if (op == FJ_OP_IN || op == FJ_OP_NIN) {
		if (fj_jql_peek(q)->type != FJ_TK_LP) {
			fj_jql_got(q, "'('", fj_jql_peek(q));
			goto fail;
		}
		fj_jql_next(q);
		for (;;) {
			if (fj_jql_value(q, &n->cl) != 0)
				goto fail;
			if (fj_jql_peek(q)->type == FJ_TK_COMMA) {
				fj_jql_next(q);
				continue;
			}
			if (fj_jql_peek(q)->type != FJ_TK_RP) {
				fj_jql_got(q, "either ',' or ')'",
				    fj_jql_peek(q));
				goto fail;
			}
			fj_jql_next(q);
			break;
		}
	} else if (op == FJ_OP_IS || op == FJ_OP_ISNOT) {
		t = fj_jql_peek(q);
		if (!fj_jql_is_kw(t, "empty") && !fj_jql_is_kw(t, "null")) {
			fj_jql_got(q, "'EMPTY' or 'NULL'", t);
			goto fail;
		}
		if (fj_jql_value(q, &n->cl) != 0)
			goto fail;
	} else {
		if (fj_jql_peek(q)->type == FJ_TK_LP) {
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
		n->type = FJ_N_NOT;
		n->a = inner;
		return (n);
	}
	if (fj_jql_peek(q)->type == FJ_TK_LP) {
		fj_jql_next(q);
		if ((inner = fj_jql_or(q)) == NULL)
			return (NULL);
		if (fj_jql_peek(q)->type != FJ_TK_RP) {
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
		n->type = is_or ? FJ_N_OR : FJ_N_AND;
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
	static const struct fj_qfield	cfdate = { "", FJ_QF_CF_DATE,
					    FJ_OPS_ORDERED, 1 };
	static const struct fj_qfield	cfdatetime = { "",
					    FJ_QF_CF_DATETIME, FJ_OPS_ORDERED,
					    1 };
	static const struct fj_qfield	cftext = { "", FJ_QF_CF_TEXT,
					    FJ_OPS_TEXT, 1 };
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
	*qfp = f->kind == FJ_FK_CF_DATE ? &cfdate :
	    f->kind == FJ_FK_CF_DATETIME ? &cfdatetime : &cftext;
	return (0);
}

/*
 * Date functions: now(), startOf/endOf Day, Week, Month, in the user's
 * zone. For a date field (date) the day found is its UTC midnight, as
 * dates are kept.
 */
static int
fj_jql_datefunc(struct fj_qval *v, int date, int64_t *out)
{
	int64_t	 now = fj_now(), t, days, inc = 0;
	int	 y, m, d, end = 0, unit;
	char	*e, *arg = v->nargs > 0 ? v->args[0] : NULL;
	long	 n = 0;

	if (v->nargs > 1)
		return (-1);
	if (strcasecmp(v->s, "now") == 0) {
		if (arg != NULL)
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
	if (arg != NULL) {
		n = strtol(arg, &e, 10);
		if (e != arg && *e == '\0' && labs(n) < 100000)
			inc = 0;
		else if (fj_parse_period(arg, &inc) == 0)
			n = 0;
		else
			return (-1);
	}
	days = fj_floor_div(now + fj_tz_off(now), FJ_DAY_MS);
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
	if (!date)
		t = fj_local_to_utc(t);
	*out = t - end + inc;
	return (0);
}

/*
 * A JQL date literal, to the minute, in the user's zone; for a date
 * field (date) the wall-clock time as if UTC, as dates are kept. 0 or
 * -1.
 */
static int
fj_jql_date(const char *s, int date, int64_t *out)
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
	if (!date)
		*out = fj_local_to_utc(*out);
	return (0);
}

/* Fields with time values; of those, the ones holding days. */
static int
fj_qf_time(enum fj_qf qf)
{
	return (qf == FJ_QF_CREATED || qf == FJ_QF_UPDATED ||
	    qf == FJ_QF_RESOLVED || qf == FJ_QF_DUE || qf == FJ_QF_CF_DATE ||
	    qf == FJ_QF_CF_DATETIME);
}

static int
fj_qf_day(enum fj_qf qf)
{
	return (qf == FJ_QF_DUE || qf == FJ_QF_CF_DATE);
}

/*
 * issue in linkedIssues(KEY|ID[, "link description"...]): the issues
 * linked to KEY, or only those KEY "blocks", "is blocked by"... (its
 * side of the link); descriptions are case-insensitive. Messages as
 * Jira's own tests have them.
 */
static int
fj_jql_linked(struct fj_jql *q, struct fj_clause *cl, struct fj_qval *v)
{
	size_t	i, k;
	int	any;

	if (cl->op != FJ_OP_IN && cl->op != FJ_OP_NIN) {
		fj_jql_err(q, "The operator '%s' is not supported by the "
		    "multi-value function 'linkedIssues'.",
		    fj_op_names[cl->op]);
		return (-1);
	}
	if (v->nargs < 1) {
		fj_jql_err(q, "Incorrect number of arguments for function "
		    "'linkedIssues'. Usage: 'linkedIssues ( issuekey [, "
		    "linkDescription ]* )'.");
		return (-1);
	}
	if ((v->linked = fj_issue_find(v->args[0])) == NULL) {
		fj_jql_err(q, "Issue '%s' could not be found in function "
		    "'linkedIssues'.", v->args[0]);
		return (-1);
	}
	if (v->nargs == 1) {
		v->out_types = v->in_types = (1U << FJ_NLTYPES) - 1;
		return (0);
	}
	for (i = 1; i < v->nargs; i++) {
		any = 0;
		for (k = 0; k < FJ_NLTYPES; k++) {
			if (strcasecmp(fj_ltypes[k].outward, v->args[i]) ==
			    0) {
				v->out_types |= 1U << k;
				any = 1;
			}
			if (strcasecmp(fj_ltypes[k].inward, v->args[i]) == 0) {
				v->in_types |= 1U << k;
				any = 1;
			}
		}
		if (!any) {
			fj_jql_err(q, "Issue link type '%s' could not be found "
			    "in function 'linkedIssues'.", v->args[i]);
			return (-1);
		}
	}
	return (0);
}

/* Is is at the other end of a link linkedIssues() asked for? */
static int
fj_jql_linked_holds(const struct fj_issue *is, const struct fj_qval *v)
{
	const struct fj_link	*l;
	size_t			 i;

	for (i = 0; i < fj_nlinks; i++) {
		l = fj_links[i];
		if ((l->in == v->linked && l->out == is &&
		    (v->out_types & (1U << l->type))) ||
		    (l->out == v->linked && l->in == is &&
		    (v->in_types & (1U << l->type))))
			return (1);
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
	if ((qf->ops & FJ_OPB(cl->op)) == 0) {
		fj_jql_err(q, "The operator '%s' is not supported by the '%s' "
		    "field.", fj_op_names[cl->op], cl->fname);
		return (-1);
	}
	for (i = 0; i < cl->nvals; i++) {
		v = &cl->vals[i];
		if (v->empty) {
			if (cl->op != FJ_OP_EQ && cl->op != FJ_OP_NE &&
			    cl->op != FJ_OP_IN && cl->op != FJ_OP_NIN &&
			    cl->op != FJ_OP_IS && cl->op != FJ_OP_ISNOT) {
				fj_jql_err(q, "The operator '%s' is not "
				    "supported by the 'EMPTY' value.",
				    fj_op_names[cl->op]);
				return (-1);
			}
			continue;
		}
		if (v->func) {
			if ((cl->qf == FJ_QF_ASSIGNEE ||
			    cl->qf == FJ_QF_REPORTER) &&
			    strcasecmp(v->s, "currentUser") == 0 &&
			    v->nargs == 0) {
				v->user = q->me;
				continue;
			}
			if (fj_qf_time(cl->qf) && fj_jql_datefunc(v,
			    fj_qf_day(cl->qf), &v->t) == 0)
				continue;
			if (cl->qf == FJ_QF_KEY &&
			    strcasecmp(v->s, "linkedIssues") == 0) {
				if (fj_jql_linked(q, cl, v) != 0)
					return (-1);
				continue;
			}
			fj_jql_err(q, "Unable to find JQL function '%s(%s)'.",
			    v->s, v->nargs > 0 ? v->args[0] : "");
			return (-1);
		}
		switch (cl->qf) {
		case FJ_QF_PROJECT:
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
		case FJ_QF_ITYPE:
			if ((v->idx = fj_itype_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case FJ_QF_PRIORITY:
			if ((v->idx = fj_priority_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case FJ_QF_STATUS:
			if ((v->idx = fj_status_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case FJ_QF_CATEGORY:
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
		case FJ_QF_RESOLUTION:
			if (strcasecmp(v->s, "Unresolved") == 0) {
				v->empty = 1;
				break;
			}
			if ((v->idx = fj_resolution_find(v->s)) < 0) {
				fj_jql_noval(q, cl, v);
				return (-1);
			}
			break;
		case FJ_QF_KEY:
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
			if ((cl->op == FJ_OP_EQ || cl->op == FJ_OP_NE ||
			    cl->op == FJ_OP_IN || cl->op == FJ_OP_NIN) &&
			    fj_issue_find(v->s) == NULL) {
				fj_jql_err(q, "An issue with key '%s' does not "
				    "exist for field '%s'.", v->s, cl->fname);
				return (-1);
			}
			break;
		case FJ_QF_CREATED:
		case FJ_QF_UPDATED:
		case FJ_QF_RESOLVED:
		case FJ_QF_DUE:
		case FJ_QF_CF_DATE:
		case FJ_QF_CF_DATETIME:
			if (fj_jql_date(v->s, fj_qf_day(cl->qf), &v->t) != 0) {
				fj_jql_err(q, "Date value '%s' for field '%s' "
				    "is invalid. Valid formats include: "
				    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
				    "'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
				    "format e.g. '-5d', '4w 2d'.", v->s,
				    cl->fname);
				return (-1);
			}
			break;
		case FJ_QF_ASSIGNEE:
		case FJ_QF_REPORTER:
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
		case FJ_QF_LABELS:
			break;
		case FJ_QF_SUMMARY:
		case FJ_QF_DESCRIPTION:
		case FJ_QF_COMMENT:
		case FJ_QF_TEXT:
		case FJ_QF_CF_TEXT:
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
	if (n->type == FJ_N_CLAUSE)
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
	if (fj_jql_peek(q)->type != FJ_TK_END &&
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
			if ((t->type != FJ_TK_WORD && t->type != FJ_TK_STR) ||
			    fj_jql_reserved(t)) {
				fj_jql_got(q, "a field name", t);
				return (-1);
			}
			if (fj_jql_field(t->text, &qf, &cf) != 0) {
				fj_jql_err(q, "Field '%s' does not exist or "
				    "you do not have permission to view it.",
				    t->text);
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
			if (fj_jql_peek(q)->type != FJ_TK_COMMA)
				break;
			fj_jql_next(q);
		}
		t = fj_jql_peek(q);
		if (t->type != FJ_TK_END) {
			fj_jql_got(q, "either ',' or the end of the query", t);
			return (-1);
		}
	} else if (t->type != FJ_TK_END) {
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
	case FJ_QF_SUMMARY:
		return (sb_strdup(is->summary));
	case FJ_QF_DESCRIPTION:
		if (is->description == NULL)
			return (NULL);
		return (fj_adf_to_text(is->description, 0));
	case FJ_QF_CF_TEXT:
		cv = fj_get(is->custom, cf->id);
		if (cv == NULL)
			return (NULL);
		if (cJSON_IsString(cv))
			return (sb_strdup(cv->valuestring));
		return (fj_adf_to_text(cv, 0));
	case FJ_QF_COMMENT:
	case FJ_QF_TEXT:
		if (qf == FJ_QF_TEXT) {
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
				    FJ_FK_CF_TEXT) {
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
	case FJ_QF_CREATED:
		return (is->created);
	case FJ_QF_UPDATED:
		return (is->updated);
	case FJ_QF_RESOLVED:
		return (is->resolved);
	case FJ_QF_DUE:
		if (*is->duedate == '\0' || fj_parse_date(is->duedate, &t) != 0)
			return (0);
		return (t);
	case FJ_QF_CF_DATE:
		cv = fj_get(is->custom, cf->id);
		if (!cJSON_IsString(cv) || fj_parse_date(cv->valuestring,
		    &t) != 0)
			return (0);
		return (t);
	case FJ_QF_CF_DATETIME:
		cv = fj_get(is->custom, cf->id);
		return (cJSON_IsNumber(cv) ? (int64_t)cv->valuedouble : 0);
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
	case FJ_QF_LABELS:
		return (cJSON_GetArraySize(is->labels) == 0);
	case FJ_QF_RESOLUTION:
		return (is->resolution < 0);
	case FJ_QF_ASSIGNEE:
		return (is->assignee == NULL);
	case FJ_QF_REPORTER:
		return (is->reporter == NULL);
	case FJ_QF_CREATED:
	case FJ_QF_UPDATED:
	case FJ_QF_RESOLVED:
	case FJ_QF_DUE:
	case FJ_QF_CF_DATE:
	case FJ_QF_CF_DATETIME:
		return (fj_issue_date(is, cl->qf, cl->cf) == 0);
	case FJ_QF_DESCRIPTION:
	case FJ_QF_CF_TEXT:
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
	case FJ_QF_PROJECT:
		return (is->project == v->idx);
	case FJ_QF_KEY:
		if (v->func)
			return (fj_jql_linked_holds(is, v));
		if (v->proj < 0)
			return (is->id == v->num);
		return (is->project == v->proj && is->num == v->num);
	case FJ_QF_ITYPE:
		return (is->itype == v->idx);
	case FJ_QF_PRIORITY:
		return (is->priority == v->idx);
	case FJ_QF_STATUS:
		return (is->status == v->idx);
	case FJ_QF_CATEGORY:
		return (fj_statuses[is->status].category == v->idx);
	case FJ_QF_LABELS:
		cJSON_ArrayForEach(l, is->labels) {
			if (strcasecmp(l->valuestring, v->s) == 0)
				return (1);
		}
		return (0);
	case FJ_QF_RESOLUTION:
		return (is->resolution == v->idx);
	case FJ_QF_ASSIGNEE:
		return (is->assignee == v->user);
	case FJ_QF_REPORTER:
		return (is->reporter == v->user);
	case FJ_QF_CREATED:
	case FJ_QF_UPDATED:
	case FJ_QF_RESOLVED:
	case FJ_QF_DUE:
	case FJ_QF_CF_DATE:
	case FJ_QF_CF_DATETIME:
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
	case FJ_OP_IS:
		return (empty);
	case FJ_OP_ISNOT:
		return (!empty);
	case FJ_OP_EQ:
	case FJ_OP_IN:
		for (i = 0; i < cl->nvals; i++) {
			if (cl->vals[i].empty ? empty :
			    (!empty && fj_jql_holds(is, cl, &cl->vals[i])))
				return (1);
		}
		return (0);
	case FJ_OP_NE:
	case FJ_OP_NIN:
		/* As in Jira, "!=" never matches an empty field. */
		if (empty)
			return (0);
		for (i = 0; i < cl->nvals; i++) {
			if (!cl->vals[i].empty &&
			    fj_jql_holds(is, cl, &cl->vals[i]))
				return (0);
		}
		return (1);
	case FJ_OP_LT:
	case FJ_OP_LE:
	case FJ_OP_GT:
	case FJ_OP_GE:
		if (empty)
			return (0);
		if (cl->qf == FJ_QF_KEY)
			cmp = fj_jql_keycmp(is, v);
		else {
			t = fj_issue_date(is, cl->qf, cl->cf);
			cmp = t < v->t ? -1 : t > v->t;
		}
		switch (cl->op) {
		case FJ_OP_LT:
			return (cmp < 0);
		case FJ_OP_LE:
			return (cmp <= 0);
		case FJ_OP_GT:
			return (cmp > 0);
		default:
			return (cmp >= 0);
		}
	case FJ_OP_LIKE:
	case FJ_OP_NLIKE:
		if ((s = fj_jql_text(is, cl->qf, cl->cf)) == NULL)
			return (0);
		any = fj_jql_text_match(s, v->s);
		free(s);
		return (cl->op == FJ_OP_LIKE ? any : !any);
	}
	return (0);
}

static int
fj_jql_match(const struct fj_issue *is, const struct fj_node *n)
{
	if (n == NULL)
		return (1);
	switch (n->type) {
	case FJ_N_AND:
		return (fj_jql_match(is, n->a) && fj_jql_match(is, n->b));
	case FJ_N_OR:
		return (fj_jql_match(is, n->a) || fj_jql_match(is, n->b));
	case FJ_N_NOT:
		return (!fj_jql_match(is, n->a));
	case FJ_N_CLAUSE:
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
		case FJ_QF_PROJECT:
			c = strcmp(fj_projects[a->project].key,
			    fj_projects[b->project].key);
			break;
		case FJ_QF_KEY:
			c = a->project != b->project ?
			    strcmp(fj_projects[a->project].key,
			    fj_projects[b->project].key) :
			    (a->num < b->num ? -1 : a->num > b->num);
			break;
		case FJ_QF_ITYPE:
			c = a->itype - b->itype;
			break;
		case FJ_QF_PRIORITY:
			/* Ascending: the least urgent first, as in Jira. */
			c = b->priority - a->priority;
			break;
		case FJ_QF_STATUS:
			c = a->status - b->status;
			break;
		case FJ_QF_RESOLUTION:
			c = a->resolution == b->resolution ? 0 :
			    a->resolution < 0 ? 1 : b->resolution < 0 ? -1 :
			    a->resolution - b->resolution;
			break;
		case FJ_QF_ASSIGNEE:
		case FJ_QF_REPORTER:
			c = fj_cmp_str(s->qf == FJ_QF_ASSIGNEE ?
			    (a->assignee ? a->assignee->display : NULL) :
			    (a->reporter ? a->reporter->display : NULL),
			    s->qf == FJ_QF_ASSIGNEE ?
			    (b->assignee ? b->assignee->display : NULL) :
			    (b->reporter ? b->reporter->display : NULL));
			break;
		case FJ_QF_SUMMARY:
		case FJ_QF_CF_TEXT:
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

/* ---------------------------------------------------------------------- */
/* The issue store. */

static int
fj_user_index(const struct fj_user *u)
{
	size_t	i;

	for (i = 0; i < FJ_NUSERS; i++) {
		if (u == &fj_users[i])
			return ((int)i);
	}
	return ((int)FJ_NUSERS);
}

static const struct fj_user *
fj_user_at(int i)
{
	if (i >= 0 && (size_t)i < FJ_NUSERS)
		return (&fj_users[i]);
	return (fj_myself());
}

static struct fj_issue *
fj_issue_new(int project, int itype, const char *summary)
{
	struct fj_issue	*is;

	is = sb_calloc(1, sizeof *is);
	is->id = fj_next_id++;
	is->project = project;
	is->num = ++fj_next_num[project];
	snprintf(is->key, sizeof is->key, "%s-%d", fj_projects[project].key,
	    is->num);
	is->itype = itype;
	is->priority = FJ_PRIORITY_DEFAULT;
	is->summary = sb_strdup(summary);
	is->labels = cJSON_CreateArray();
	is->custom = cJSON_CreateObject();
	is->reporter = fj_myself();
	is->resolution = -1;
	is->created = is->updated = fj_now();
	fj_issues = sb_realloc(fj_issues, fj_nissues + 1, sizeof *fj_issues);
	fj_issues[fj_nissues++] = is;
	return (is);
}

static void
fj_issue_free(struct fj_issue *is)
{
	size_t	i;

	for (i = 0; i < is->ncomments; i++) {
		cJSON_Delete(is->comments[i]->body);
		cJSON_Delete(is->comments[i]->visibility);
		free(is->comments[i]);
	}
	free(is->comments);
	for (i = 0; i < is->nrlinks; i++) {
		free(is->rlinks[i]->global_id);
		cJSON_Delete(is->rlinks[i]->data);
		free(is->rlinks[i]);
	}
	free(is->rlinks);
	free(is->summary);
	cJSON_Delete(is->description);
	cJSON_Delete(is->labels);
	cJSON_Delete(is->custom);
	free(is);
}

static void
fj_state_free(void)
{
	size_t	i;

	for (i = 0; i < fj_nlinks; i++)
		free(fj_links[i]);
	free(fj_links);
	fj_links = NULL;
	fj_nlinks = 0;
	for (i = 0; i < fj_nissues; i++)
		fj_issue_free(fj_issues[i]);
	free(fj_issues);
	fj_issues = NULL;
	fj_nissues = 0;
	free(fj_rl.ts);
	memset(&fj_rl, 0, sizeof fj_rl);
}

static void
fj_state_reset(void)
{
	fj_state_free();
	fj_next_id = 10001;
	fj_next_comment = 10000;
	fj_next_rlink = 10000;
	fj_next_link = 10000;
	memset(fj_next_num, 0, sizeof fj_next_num);
}

static void
fj_set_status(struct fj_issue *is, int status, int resolution)
{
	is->status = status;
	is->updated = fj_now();
	if (fj_statuses[status].category == 2) {
		is->resolution = resolution >= 0 ? resolution : 0;
		if (is->resolved == 0)
			is->resolved = is->updated;
	} else {
		is->resolution = -1;
		is->resolved = 0;
	}
}

static int
fj_label_cmp(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

/* Sort and deduplicate a label array in place. */
static void
fj_labels_normalize(cJSON *labels)
{
	char	**v;
	int	  n, i, k = 0;
	cJSON	 *l;

	n = cJSON_GetArraySize(labels);
	v = sb_calloc(n + 1, sizeof *v);
	i = 0;
	cJSON_ArrayForEach(l, labels)
		v[i++] = sb_strdup(l->valuestring);
	qsort(v, n, sizeof *v, fj_label_cmp);
	while (cJSON_GetArraySize(labels) > 0)
		cJSON_DeleteItemFromArray(labels, 0);
	for (i = 0; i < n; i++) {
		if (k == 0 || strcmp(v[i], v[k - 1]) != 0)
			v[k++] = v[i];
		else
			free(v[i]);
	}
	for (i = 0; i < k; i++) {
		cJSON_AddItemToArray(labels, cJSON_CreateString(v[i]));
		free(v[i]);
	}
	free(v);
}

/* ---------------------------------------------------------------------- */
/* Field values in requests. */

static void
fj_not_settable(cJSON *errors, const char *field)
{
	fj_seterr(errors, field, "Field '%s' cannot be set. It is not on the "
	    "appropriate screen, or unknown.", field);
}

/* A rich-text value as the version demands; ADF copy into *out. */
static int
fj_rich_in(struct fj_ctx *c, const cJSON *v, cJSON *errors,
    const char *field, cJSON **out)
{
	char	*text;

	*out = NULL;
	if (cJSON_IsNull(v))
		return (0);
	if (c->v == 3) {
		if (!fj_adf_is_doc(v)) {
			fj_seterr(errors, field, "Operation value must be an "
			    "Atlassian Document (see the Atlassian Document "
			    "Format)");
			return (-1);
		}
		if (fj_adf_valid(v) != 0) {
			fj_seterr(errors, field, "INVALID_INPUT");
			return (-1);
		}
		text = fj_adf_to_text(v, 0);
		if (sb_utf8_len(text) > FJ_TEXT_MAX) {
			fj_seterr(errors, field, "The entered text is too "
			    "long. It exceeds the allowed limit of 32,767 "
			    "characters.");
			free(text);
			return (-1);
		}
		free(text);
		if (cJSON_GetArraySize(fj_get(v, "content")) > 0)
			*out = cJSON_Duplicate(v, 1);
		return (0);
	}
	if (!cJSON_IsString(v)) {
		fj_seterr(errors, field, "Operation value must be a string");
		return (-1);
	}
	if (sb_utf8_len(v->valuestring) > FJ_TEXT_MAX) {
		fj_seterr(errors, field, "The entered text is too long. It "
		    "exceeds the allowed limit of 32,767 characters.");
		return (-1);
	}
	if (!fj_is_blank(v->valuestring))
		*out = fj_text_to_adf(v->valuestring);
	return (0);
}

/* A user reference ({"accountId"} on Cloud, {"name"} on Data Center). */
static int
fj_user_in(struct fj_ctx *c, const cJSON *v, cJSON *errors,
    const char *field, const struct fj_user **out)
{
	const char	*id = NULL;

	*out = NULL;
	if (cJSON_IsNull(v))
		return (0);
	if (cJSON_IsObject(v)) {
		if (!c->dc) {
			id = sb_json_str(v, "accountId");
			if (id == NULL)
				id = sb_json_str(v, "id");
			if (id != NULL && strcmp(id, "-1") == 0)
				return (0);	/* automatic: unassigned */
			if (id != NULL && (*out = fj_user_find(id)) != NULL &&
			    strcmp((*out)->account_id, id) == 0)
				return (0);
		} else {
			id = sb_json_str(v, "name");
			if (id == NULL)
				id = sb_json_str(v, "key");
			if (id != NULL && (*out = fj_user_find(id)) != NULL &&
			    (strcasecmp((*out)->name, id) == 0 ||
			    strcmp((*out)->key, id) == 0))
				return (0);
		}
	}
	*out = NULL;
	fj_seterr(errors, field, "Specify a valid value for %s", field);
	return (-1);
}

static int
fj_labels_in(const cJSON *v, cJSON *errors, cJSON **out)
{
	const cJSON	*l;

	*out = NULL;
	if (!cJSON_IsArray(v)) {
		fj_seterr(errors, "labels", "Operation value must be an array "
		    "of strings");
		return (-1);
	}
	cJSON_ArrayForEach(l, v) {
		if (!cJSON_IsString(l) || *l->valuestring == '\0') {
			fj_seterr(errors, "labels", "Labels can not be empty.");
			return (-1);
		}
		if (strpbrk(l->valuestring, " \t\r\n") != NULL) {
			fj_seterr(errors, "labels", "The label '%s' contains "
			    "spaces which is invalid.", l->valuestring);
			return (-1);
		}
		if (sb_utf8_len(l->valuestring) > FJ_LABEL_MAX) {
			fj_seterr(errors, "labels", "The label '%.40s...' "
			    "exceeds the 255 character limit.",
			    l->valuestring);
			return (-1);
		}
	}
	*out = cJSON_Duplicate(v, 1);
	fj_labels_normalize(*out);
	return (0);
}

static int
fj_summary_in(const cJSON *v, cJSON *errors)
{
	if (!cJSON_IsString(v) || fj_is_blank(v->valuestring)) {
		fj_seterr(errors, "summary", "You must specify a summary of "
		    "the issue.");
		return (-1);
	}
	if (strpbrk(v->valuestring, "\r\n") != NULL) {
		fj_seterr(errors, "summary", "The summary is invalid because "
		    "it contains newline characters.");
		return (-1);
	}
	if (sb_utf8_len(v->valuestring) > FJ_SUMMARY_MAX) {
		fj_seterr(errors, "summary", "Summary must be less than 255 "
		    "characters.");
		return (-1);
	}
	return (0);
}

static int
fj_date_in(const cJSON *v, cJSON *errors, const char *field)
{
	int64_t	t;

	if (cJSON_IsNull(v))
		return (0);
	if (!cJSON_IsString(v) || fj_parse_date(v->valuestring, &t) != 0) {
		fj_seterr(errors, field, "Error parsing date string: %s",
		    cJSON_IsString(v) ? v->valuestring : "(not a string)");
		return (-1);
	}
	return (0);
}

/* A reference {"first":...} (or else {"second"}) looked up with find;
 * -1 if it names nothing. */
static int
fj_ref_in(const cJSON *v, const char *first, const char *second,
    int (*find)(const char *))
{
	const char	*s;

	if (!cJSON_IsObject(v))
		return (-1);
	if ((s = sb_json_str(v, first)) == NULL)
		s = sb_json_str(v, second);
	return (s != NULL ? find(s) : -1);
}

/*
 * Check one field value and store its normalised form in changes (ADF for
 * rich text, indexes for projects, types and users, null to clear).
 */
static void
fj_field_in(struct fj_ctx *c, const char *id, const cJSON *v, int creating,
    cJSON *errors, cJSON *changes)
{
	const struct fj_field	*f = fj_field_find(id);
	const struct fj_user	*u;
	cJSON			*out = NULL;
	int64_t			 t;
	int			 i;

	if (f == NULL || !f->settable ||
	    (f->kind == FJ_FK_PROJECT && !creating)) {
		fj_not_settable(errors, id);
		return;
	}
	switch (f->kind) {
	case FJ_FK_PROJECT:
		if ((i = fj_ref_in(v, "key", "id", fj_project_find)) < 0) {
			fj_seterr(errors, "project", "Specify a valid project "
			    "ID or key");
			return;
		}
		out = cJSON_CreateNumber(i);
		break;
	case FJ_FK_ISSUETYPE:
		if ((i = fj_ref_in(v, "id", "name", fj_itype_find)) < 0) {
			fj_seterr(errors, "issuetype", "The issue type "
			    "selected is invalid.");
			return;
		}
		out = cJSON_CreateNumber(i);
		break;
	case FJ_FK_PRIORITY:
		if ((i = fj_ref_in(v, "id", "name", fj_priority_find)) < 0) {
			fj_seterr(errors, "priority", "Specify a valid 'id' or "
			    "'name' for Priority");
			return;
		}
		out = cJSON_CreateNumber(i);
		break;
	case FJ_FK_CF_DATETIME:
		if (cJSON_IsNull(v))
			break;
		if (!cJSON_IsString(v) || fj_parse_datetime(v->valuestring, 1,
		    &t) != 0) {
			fj_seterr(errors, id, "Invalid date format. Please "
			    "enter the date in the format "
			    "\"yyyy-MM-dd'T'HH:mm:ss.SSSZ\".");
			return;
		}
		out = cJSON_CreateNumber((double)t);
		break;
	case FJ_FK_SUMMARY:
		if (fj_summary_in(v, errors) != 0)
			return;
		out = cJSON_CreateString(v->valuestring);
		break;
	case FJ_FK_DESCRIPTION:
	case FJ_FK_CF_TEXTAREA:
		if (fj_rich_in(c, v, errors, id, &out) != 0)
			return;
		break;
	case FJ_FK_LABELS:
		if (fj_labels_in(v, errors, &out) != 0)
			return;
		break;
	case FJ_FK_DUEDATE:
	case FJ_FK_CF_DATE:
		if (fj_date_in(v, errors, id) != 0)
			return;
		if (cJSON_IsString(v))
			out = cJSON_CreateString(v->valuestring);
		break;
	case FJ_FK_ASSIGNEE:
	case FJ_FK_REPORTER:
		if (fj_user_in(c, v, errors, id, &u) != 0)
			return;
		if (u != NULL)
			out = cJSON_CreateNumber(fj_user_index(u));
		break;
	case FJ_FK_CF_TEXT:
		if (cJSON_IsNull(v))
			break;
		if (!cJSON_IsString(v)) {
			fj_seterr(errors, id, "Operation value must be a "
			    "string");
			return;
		}
		if (strpbrk(v->valuestring, "\r\n") != NULL ||
		    sb_utf8_len(v->valuestring) > FJ_TEXTFIELD_MAX) {
			fj_seterr(errors, id, "The entered text is too long. "
			    "It exceeds the allowed limit of 255 characters.");
			return;
		}
		if (*v->valuestring != '\0')
			out = cJSON_CreateString(v->valuestring);
		break;
	default:
		fj_not_settable(errors, id);
		return;
	}
	if (out == NULL)
		out = cJSON_CreateNull();
	cJSON_DeleteItemFromObjectCaseSensitive(changes, id);
	cJSON_AddItemToObject(changes, id, out);
}

/* A comment body and visibility; 0 and the ADF body, or -1. */
static int
fj_comment_in(struct fj_ctx *c, const cJSON *o, cJSON *errors, cJSON **body,
    cJSON **vis)
{
	const cJSON	*b, *v;
	const char	*type, *value;

	*body = *vis = NULL;
	b = fj_get(o, "body");
	if (b == NULL || cJSON_IsNull(b) ||
	    (cJSON_IsString(b) && fj_is_blank(b->valuestring))) {
		fj_seterr(errors, "comment", "Comment body can not be empty!");
		return (-1);
	}
	if (fj_rich_in(c, b, errors, "comment", body) != 0)
		return (-1);
	if (*body == NULL) {
		fj_seterr(errors, "comment", "Comment body can not be empty!");
		return (-1);
	}
	v = fj_get(o, "visibility");
	if (v != NULL && !cJSON_IsNull(v)) {
		type = sb_json_str(v, "type");
		value = sb_json_str(v, "value");
		if (value == NULL)
			value = sb_json_str(v, "identifier");
		if (type == NULL || (strcmp(type, "group") != 0 &&
		    strcmp(type, "role") != 0) || value == NULL) {
			fj_seterr(errors, "commentLevel", "Visibility must "
			    "be a role or a group.");
			cJSON_Delete(*body);
			*body = NULL;
			return (-1);
		}
		*vis = cJSON_Duplicate(v, 1);
	}
	return (0);
}

static void
fj_comment_add(struct fj_issue *is, cJSON *body, cJSON *vis,
    const struct fj_user *author)
{
	struct fj_comment	*cm;

	cm = sb_calloc(1, sizeof *cm);
	cm->id = fj_next_comment++;
	cm->author = author;
	cm->body = body;
	cm->visibility = vis;
	cm->created = cm->updated = fj_now();
	is->comments = sb_realloc(is->comments, is->ncomments + 1,
	    sizeof *is->comments);
	is->comments[is->ncomments++] = cm;
	is->updated = cm->created;
}

/* Apply label verbs (add, remove, set) to a copy of cur. */
static cJSON *
fj_labels_update(const cJSON *cur, const cJSON *ops, cJSON *errors)
{
	const cJSON	*op, *verb;
	cJSON		*labels, *one, *nl;
	int		 i, add;

	labels = cur != NULL ? cJSON_Duplicate(cur, 1) : cJSON_CreateArray();
	cJSON_ArrayForEach(op, ops) {
		if (!cJSON_IsObject(op) || cJSON_GetArraySize(op) != 1) {
			fj_seterr(errors, "labels", "Each operation takes "
			    "exactly one of 'add', 'remove' or 'set'.");
			break;
		}
		if ((verb = fj_get(op, "set")) != NULL) {
			if (fj_labels_in(verb, errors, &nl) != 0)
				break;
			cJSON_Delete(labels);
			labels = nl;
			continue;
		}
		add = (verb = fj_get(op, "add")) != NULL;
		if (!add && (verb = fj_get(op, "remove")) == NULL) {
			fj_seterr(errors, "labels", "Unsupported operation "
			    "for labels.");
			break;
		}
		/* Check the one label as a set would. */
		one = cJSON_CreateArray();
		cJSON_AddItemToArray(one, cJSON_Duplicate(verb, 1));
		i = fj_labels_in(one, errors, &nl);
		cJSON_Delete(one);
		cJSON_Delete(nl);
		if (i != 0)
			break;
		if (add) {
			cJSON_AddItemToArray(labels,
			    cJSON_CreateString(verb->valuestring));
			continue;
		}
		for (i = cJSON_GetArraySize(labels) - 1; i >= 0; i--) {
			if (strcmp(cJSON_GetArrayItem(labels, i)->valuestring,
			    verb->valuestring) == 0)
				cJSON_DeleteItemFromArray(labels, i);
		}
	}
	fj_labels_normalize(labels);
	return (labels);
}

/*
 * The "update" member: verb lists per field. Labels take add, remove and
 * set; comment takes add; other fields take set.
 */
static void
fj_update_in(struct fj_ctx *c, struct fj_issue *is, const cJSON *update,
    const cJSON *fields, cJSON *errors, cJSON *changes, cJSON *comments)
{
	const cJSON	*ops, *op, *verb;
	cJSON		*labels, *body, *vis, *pair;

	cJSON_ArrayForEach(ops, update) {
		const char *id = ops->string;

		if (fj_get(fields, id) != NULL) {
			fj_seterr(errors, id, "Field '%s' cannot be set in "
			    "both 'fields' and 'update'.", id);
			continue;
		}
		if (!cJSON_IsArray(ops)) {
			fj_seterr(errors, id, "Operations for '%s' must be an "
			    "array.", id);
			continue;
		}
		if (strcmp(id, "comment") == 0) {
			cJSON_ArrayForEach(op, ops) {
				verb = fj_get(op, "add");
				if (!cJSON_IsObject(verb) ||
				    cJSON_GetArraySize(op) != 1) {
					fj_seterr(errors, "comment", "Only "
					    "'add' is supported for comments "
					    "here.");
					break;
				}
				if (fj_comment_in(c, verb, errors, &body,
				    &vis) != 0)
					break;
				pair = cJSON_CreateObject();
				cJSON_AddItemToObject(pair, "body", body);
				if (vis != NULL)
					cJSON_AddItemToObject(pair,
					    "visibility", vis);
				cJSON_AddItemToArray(comments, pair);
			}
			continue;
		}
		if (strcmp(id, "labels") == 0) {
			labels = fj_labels_update(fj_get(changes, "labels") !=
			    NULL ? fj_get(changes, "labels") : is != NULL ?
			    is->labels : NULL, ops, errors);
			cJSON_DeleteItemFromObjectCaseSensitive(changes,
			    "labels");
			cJSON_AddItemToObject(changes, "labels", labels);
			continue;
		}
		cJSON_ArrayForEach(op, ops) {
			verb = fj_get(op, "set");
			if (verb == NULL || cJSON_GetArraySize(op) != 1) {
				if (fj_field_find(id) == NULL ||
				    !fj_field_find(id)->settable)
					fj_not_settable(errors, id);
				else
					fj_seterr(errors, id, "Only 'set' is "
					    "supported for field '%s'.", id);
				break;
			}
			fj_field_in(c, id, verb, is == NULL, errors, changes);
		}
	}
}

/* Apply checked changes to an issue. */
static void
fj_apply(struct fj_issue *is, const cJSON *changes)
{
	const cJSON	*v;
	const char	*id;

	cJSON_ArrayForEach(v, changes) {
		id = v->string;
		if (strcmp(id, "project") == 0)
			continue;
		if (strcmp(id, "issuetype") == 0)
			is->itype = v->valueint;
		else if (strcmp(id, "priority") == 0)
			is->priority = v->valueint;
		else if (strcmp(id, "summary") == 0) {
			free(is->summary);
			is->summary = sb_strdup(v->valuestring);
		} else if (strcmp(id, "description") == 0) {
			cJSON_Delete(is->description);
			is->description = cJSON_IsNull(v) ? NULL :
			    cJSON_Duplicate(v, 1);
		} else if (strcmp(id, "labels") == 0) {
			cJSON_Delete(is->labels);
			is->labels = cJSON_Duplicate(v, 1);
		} else if (strcmp(id, "duedate") == 0) {
			if (cJSON_IsString(v))
				snprintf(is->duedate, sizeof is->duedate, "%s",
				    v->valuestring);
			else
				*is->duedate = '\0';
		} else if (strcmp(id, "assignee") == 0)
			is->assignee = cJSON_IsNull(v) ? NULL :
			    fj_user_at(v->valueint);
		else if (strcmp(id, "reporter") == 0)
			is->reporter = cJSON_IsNull(v) ? NULL :
			    fj_user_at(v->valueint);
		else {
			cJSON_DeleteItemFromObjectCaseSensitive(is->custom, id);
			if (!cJSON_IsNull(v))
				cJSON_AddItemToObject(is->custom, id,
				    cJSON_Duplicate(v, 1));
		}
	}
	is->updated = fj_now();
}

/* ---------------------------------------------------------------------- */
/* Endpoints. */

static void
fj_server_info(struct fj_ctx *c)
{
	cJSON	*o, *vn;
	char	 base[96], now[64];

	fj_base(base, sizeof base);
	fj_fmt_time(fj_now(), now, sizeof now);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "baseUrl", base);
	vn = cJSON_CreateArray();
	if (c->dc) {
		cJSON_AddStringToObject(o, "version", "9.12.2");
		cJSON_AddItemToArray(vn, cJSON_CreateNumber(9));
		cJSON_AddItemToArray(vn, cJSON_CreateNumber(12));
		cJSON_AddItemToArray(vn, cJSON_CreateNumber(2));
		cJSON_AddItemToObject(o, "versionNumbers", vn);
		cJSON_AddStringToObject(o, "deploymentType", "DataCenter");
		cJSON_AddNumberToObject(o, "buildNumber", 9120002);
	} else {
		cJSON_AddStringToObject(o, "version", "1001.0.0-SNAPSHOT");
		cJSON_AddItemToArray(vn, cJSON_CreateNumber(1001));
		cJSON_AddItemToArray(vn, cJSON_CreateNumber(0));
		cJSON_AddItemToArray(vn, cJSON_CreateNumber(0));
		cJSON_AddItemToObject(o, "versionNumbers", vn);
		cJSON_AddStringToObject(o, "deploymentType", "Cloud");
		cJSON_AddNumberToObject(o, "buildNumber", 100282);
	}
	cJSON_AddStringToObject(o, "buildDate", "2025-01-01T00:00:00.000+0000");
	cJSON_AddStringToObject(o, "serverTime", now);
	cJSON_AddStringToObject(o, "scmInfo",
	    "5a1bd8f3a3b4c7d8e9f00112233445566778899a");
	cJSON_AddStringToObject(o, "serverTitle", "Jira (sandbox)");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "defaultLocale"),
	    "locale", "en_US");
	cJSON_AddStringToObject(o, "serverTimeZone", "Etc/UTC");
	fj_reply(c, 200, o);
}

static void
fj_get_myself(struct fj_ctx *c)
{
	cJSON	*o;

	o = fj_user_json(c, c->me);
	cJSON_AddStringToObject(o, "locale", "en_US");
	cJSON_AddStringToObject(o, "expand", "groups,applicationRoles");
	fj_reply(c, 200, o);
}

static void
fj_get_fields(struct fj_ctx *c)
{
	const struct fj_field	*f;
	cJSON			*a, *o, *cl, *sc;
	size_t			 i;
	char			 buf[32];

	a = cJSON_CreateArray();
	for (i = 0; i < FJ_NFIELDS; i++) {
		f = &fj_fields[i];
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", f->id);
		cJSON_AddStringToObject(o, "key", f->id);
		cJSON_AddStringToObject(o, "name", f->name);
		cJSON_AddBoolToObject(o, "custom", f->custom_id != 0);
		cJSON_AddBoolToObject(o, "orderable", f->settable);
		cJSON_AddBoolToObject(o, "navigable", f->navigable);
		cJSON_AddBoolToObject(o, "searchable", 1);
		cl = cJSON_AddArrayToObject(o, "clauseNames");
		if (f->custom_id != 0) {
			snprintf(buf, sizeof buf, "cf[%d]", f->custom_id);
			cJSON_AddItemToArray(cl, cJSON_CreateString(buf));
			cJSON_AddItemToArray(cl, cJSON_CreateString(f->name));
			cJSON_AddStringToObject(o, "untranslatedName",
			    f->name);
		} else
			cJSON_AddItemToArray(cl, cJSON_CreateString(f->id));
		sc = cJSON_AddObjectToObject(o, "schema");
		cJSON_AddStringToObject(sc, "type", f->schema_type);
		if (f->schema_items != NULL)
			cJSON_AddStringToObject(sc, "items", f->schema_items);
		if (f->custom_id != 0) {
			cJSON_AddStringToObject(sc, "custom", f->schema_custom);
			cJSON_AddNumberToObject(sc, "customId", f->custom_id);
		} else
			cJSON_AddStringToObject(sc, "system", f->id);
		cJSON_AddItemToArray(a, o);
	}
	fj_reply(c, 200, a);
}

static cJSON *
fj_project_full(struct fj_ctx *c, int i)
{
	cJSON	*o, *types;
	size_t	 k;

	o = fj_project_json(c, i);
	cJSON_AddStringToObject(o, "description", "");
	cJSON_AddItemToObject(o, "lead", fj_user_json(c, &fj_users[0]));
	types = cJSON_AddArrayToObject(o, "issueTypes");
	for (k = 0; k < FJ_NITYPES; k++)
		cJSON_AddItemToArray(types, fj_itype_json(c, (int)k));
	return (o);
}

static void
fj_get_project(struct fj_ctx *c, const char *key)
{
	cJSON	*a;
	size_t	 i;
	int	 p;

	if (key == NULL) {
		a = cJSON_CreateArray();
		for (i = 0; i < FJ_NPROJECTS; i++)
			cJSON_AddItemToArray(a, fj_project_json(c, (int)i));
		fj_reply(c, 200, a);
		return;
	}
	if ((p = fj_project_find(key)) < 0) {
		fj_error(c, 404, "No project could be found with key '%s'.",
		    key);
		return;
	}
	fj_reply(c, 200, fj_project_full(c, p));
}

/* Add every "fields" query parameter (repeatable, comma-separated). */
static void
fj_fsel_params(struct fj_ctx *c, struct fj_fsel *fs)
{
	const char	*v;
	int		 n;

	for (n = 0; (v = sb_param_n(c->r, "fields", n)) != NULL; n++)
		fj_fsel_add(fs, v);
}

static void
fj_get_issue(struct fj_ctx *c, struct fj_issue *is)
{
	struct fj_fsel	fs;

	memset(&fs, 0, sizeof fs);
	fj_fsel_params(c, &fs);
	fj_fsel_finish(&fs, 2);
	fj_reply(c, 200, fj_issue_json(c, is, &fs));
}

static void
fj_create_issue(struct fj_ctx *c)
{
	const cJSON	*fields, *update, *v;
	cJSON		*errors, *changes, *comments, *o, *cm;
	struct fj_issue	*is;
	int		 project = -1, itype = -1;
	char		 buf[256];

	fields = fj_get(c->json, "fields");
	update = fj_get(c->json, "update");
	if (!cJSON_IsObject(c->json) || (fields != NULL &&
	    !cJSON_IsObject(fields)) || (update != NULL &&
	    !cJSON_IsObject(update))) {
		fj_error(c, 400, "Can not deserialize instance of "
		    "IssueUpdateBean out of the request body.");
		return;
	}
	errors = cJSON_CreateObject();
	changes = cJSON_CreateObject();
	comments = cJSON_CreateArray();
	cJSON_ArrayForEach(v, fields)
		fj_field_in(c, v->string, v, 1, errors, changes);
	if (update != NULL)
		fj_update_in(c, NULL, update, fields, errors, changes,
		    comments);
	if (fj_get(fields, "project") == NULL)
		fj_seterr(errors, "project", "Specify a valid project ID or "
		    "key");
	if (fj_get(fields, "issuetype") == NULL)
		fj_seterr(errors, "issuetype", "Specify an issue type");
	if (fj_get(changes, "summary") == NULL)
		fj_seterr(errors, "summary", "You must specify a summary of "
		    "the issue.");
	if (cJSON_IsNumber(fj_get(changes, "project")))
		project = fj_get(changes, "project")->valueint;
	if (cJSON_IsNumber(fj_get(changes, "issuetype")))
		itype = fj_get(changes, "issuetype")->valueint;
	if (fj_errors_reply(c, errors))
		goto out;
	is = fj_issue_new(project, itype,
	    fj_get(changes, "summary")->valuestring);
	fj_apply(is, changes);
	is->updated = is->created;
	cJSON_ArrayForEach(cm, comments) {
		fj_comment_add(is, cJSON_DetachItemFromObjectCaseSensitive(cm,
		    "body"), cJSON_DetachItemFromObjectCaseSensitive(cm,
		    "visibility"), c->me);
	}
	o = cJSON_CreateObject();
	snprintf(buf, sizeof buf, "%ld", is->id);
	cJSON_AddStringToObject(o, "id", buf);
	cJSON_AddStringToObject(o, "key", is->key);
	fj_self(c, buf, sizeof buf, "issue/%ld", is->id);
	cJSON_AddStringToObject(o, "self", buf);
	fj_reply(c, 201, o);
out:
	cJSON_Delete(changes);
	cJSON_Delete(comments);
}

static void
fj_edit_issue(struct fj_ctx *c, struct fj_issue *is)
{
	const cJSON	*fields, *update, *v;
	cJSON		*errors, *changes, *comments, *cm;
	const char	*ret;
	struct fj_fsel	 fs;

	fields = fj_get(c->json, "fields");
	update = fj_get(c->json, "update");
	if (!cJSON_IsObject(c->json) || (fields != NULL &&
	    !cJSON_IsObject(fields)) || (update != NULL &&
	    !cJSON_IsObject(update))) {
		fj_error(c, 400, "Can not deserialize instance of "
		    "IssueUpdateBean out of the request body.");
		return;
	}
	errors = cJSON_CreateObject();
	changes = cJSON_CreateObject();
	comments = cJSON_CreateArray();
	cJSON_ArrayForEach(v, fields) {
		if (strcmp(v->string, "status") == 0 ||
		    strcmp(v->string, "resolution") == 0) {
			fj_not_settable(errors, v->string);
			continue;
		}
		fj_field_in(c, v->string, v, 0, errors, changes);
	}
	if (update != NULL)
		fj_update_in(c, is, update, fields, errors, changes, comments);
	if (fj_errors_reply(c, errors))
		goto out;
	if (is->ncomments + cJSON_GetArraySize(comments) > FJ_COMMENTS_MAX) {
		fj_error(c, 413, "The number of comments on this issue has "
		    "reached the limit of %d.", FJ_COMMENTS_MAX);
		goto out;
	}
	fj_apply(is, changes);
	cJSON_ArrayForEach(cm, comments) {
		fj_comment_add(is, cJSON_DetachItemFromObjectCaseSensitive(cm,
		    "body"), cJSON_DetachItemFromObjectCaseSensitive(cm,
		    "visibility"), c->me);
	}
	ret = sb_param(c->r, "returnIssue");
	if (ret != NULL && strcmp(ret, "true") == 0) {
		memset(&fs, 0, sizeof fs);
		fj_fsel_finish(&fs, 2);
		fj_reply(c, 200, fj_issue_json(c, is, &fs));
	} else
		fj_reply(c, 204, NULL);
out:
	cJSON_Delete(changes);
	cJSON_Delete(comments);
}

/* Comment cid (its id as text) of is, or NULL. */
static struct fj_comment *
fj_comment_find(struct fj_issue *is, const char *cid)
{
	size_t	i;
	char	buf[32];

	for (i = 0; i < is->ncomments; i++) {
		snprintf(buf, sizeof buf, "%ld", is->comments[i]->id);
		if (strcmp(buf, cid) == 0)
			return (is->comments[i]);
	}
	return (NULL);
}

/*
 * PUT issue/{key}/comment/{id} (updateComment): a new body (and
 * visibility, when given) for an existing comment; 200 with the comment,
 * 400 for a bad body, 404 for a comment not on this issue.
 */
static void
fj_comment_update(struct fj_ctx *c, struct fj_issue *is, const char *cid)
{
	struct fj_comment	*cm;
	cJSON			*errors, *body, *vis;

	if ((cm = fj_comment_find(is, cid)) == NULL) {
		fj_error(c, 404, "Can not find a comment for the id: %s.", cid);
		return;
	}
	if (!cJSON_IsObject(c->json)) {
		fj_error(c, 400, "Can not deserialize instance of "
		    "Comment out of the request body.");
		return;
	}
	errors = cJSON_CreateObject();
	fj_comment_in(c, c->json, errors, &body, &vis);
	if (fj_errors_reply(c, errors))
		return;
	cJSON_Delete(cm->body);
	cm->body = body;
	if (fj_get(c->json, "visibility") != NULL) {
		cJSON_Delete(cm->visibility);
		cm->visibility = vis;
	} else
		cJSON_Delete(vis);
	cm->updated = fj_now();
	is->updated = cm->updated;
	fj_reply(c, 200, fj_comment_json(c, is, cm));
}

static void
fj_comments(struct fj_ctx *c, struct fj_issue *is, const char *cid)
{
	struct fj_comment	*cm;
	cJSON			*errors, *body, *vis;
	const char		*order;
	long long		 start = 0, max = 100;

	if (strcmp(c->r->method, "POST") == 0) {
		if (cid != NULL) {
			fj_bad_method(c);
			return;
		}
		if (!cJSON_IsObject(c->json)) {
			fj_error(c, 400, "Can not deserialize instance of "
			    "Comment out of the request body.");
			return;
		}
		errors = cJSON_CreateObject();
		fj_comment_in(c, c->json, errors, &body, &vis);
		if (fj_errors_reply(c, errors))
			return;
		if (is->ncomments >= FJ_COMMENTS_MAX) {
			cJSON_Delete(body);
			cJSON_Delete(vis);
			fj_error(c, 413, "The number of comments on this issue "
			    "has reached the limit of %d.", FJ_COMMENTS_MAX);
			return;
		}
		fj_comment_add(is, body, vis, c->me);
		fj_reply(c, 201, fj_comment_json(c, is,
		    is->comments[is->ncomments - 1]));
		return;
	}
	if (strcmp(c->r->method, "PUT") == 0 && cid != NULL) {
		fj_comment_update(c, is, cid);
		return;
	}
	if (strcmp(c->r->method, "GET") != 0) {
		fj_bad_method(c);
		return;
	}
	if (cid != NULL) {
		if ((cm = fj_comment_find(is, cid)) != NULL)
			fj_reply(c, 200, fj_comment_json(c, is, cm));
		else
			fj_error(c, 404, "Can not find a comment for the id: "
			    "%s.", cid);
		return;
	}
	order = sb_param(c->r, "orderBy");
	if (order != NULL && strcmp(order, "created") != 0 &&
	    strcmp(order, "+created") != 0 && strcmp(order, "-created") != 0) {
		fj_error(c, 400, "The orderBy parameter must be 'created', "
		    "'+created' or '-created'.");
		return;
	}
	if ((sb_param(c->r, "startAt") != NULL &&
	    fj_parse_int(sb_param(c->r, "startAt"), 0, INT_MAX, &start) != 0) ||
	    (sb_param(c->r, "maxResults") != NULL &&
	    fj_parse_int(sb_param(c->r, "maxResults"), 0, 5000, &max) != 0)) {
		fj_error(c, 400, "The startAt and maxResults parameters must "
		    "be non-negative integers.");
		return;
	}
	fj_reply(c, 200, fj_comments_page(c, is, (size_t)start, (size_t)max));
}

static cJSON *
fj_rlink_json(struct fj_ctx *c, const struct fj_issue *is,
    const struct fj_rlink *rl)
{
	cJSON		*o;
	const cJSON	*v;
	char		 buf[256];

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)rl->id);
	fj_self(c, buf, sizeof buf, "issue/%s/remotelink/%ld", is->key,
	    rl->id);
	cJSON_AddStringToObject(o, "self", buf);
	if (rl->global_id != NULL)
		cJSON_AddStringToObject(o, "globalId", rl->global_id);
	cJSON_ArrayForEach(v, rl->data)
		cJSON_AddItemToObject(o, v->string, cJSON_Duplicate(v, 1));
	return (o);
}

static int
fj_valid_url(const char *s)
{
	const char	*p = s;

	if (!isalpha((unsigned char)*p))
		return (0);
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.')
		p++;
	return (*p == ':' && p[1] != '\0' && strpbrk(s, " \t\r\n") == NULL);
}

static void
fj_remote_links(struct fj_ctx *c, struct fj_issue *is, const char *lid)
{
	const cJSON	*obj, *v;
	cJSON		*errors, *data, *o, *a;
	const char	*gid, *url, *title;
	struct fj_rlink	*rl = NULL;
	size_t		 i;
	int		 created = 0;
	char		 buf[256];

	if (strcmp(c->r->method, "GET") == 0) {
		gid = sb_param(c->r, "globalId");
		for (i = 0; i < is->nrlinks; i++) {
			snprintf(buf, sizeof buf, "%ld", is->rlinks[i]->id);
			if ((lid != NULL && strcmp(buf, lid) == 0) ||
			    (lid == NULL && gid != NULL &&
			    is->rlinks[i]->global_id != NULL &&
			    strcmp(is->rlinks[i]->global_id, gid) == 0)) {
				fj_reply(c, 200, fj_rlink_json(c, is,
				    is->rlinks[i]));
				return;
			}
		}
		if (lid != NULL || gid != NULL) {
			fj_error(c, 404, "No remote link found for %s '%s' "
			    "on issue '%s'.", lid != NULL ? "id" : "global id",
			    lid != NULL ? lid : gid, is->key);
			return;
		}
		a = cJSON_CreateArray();
		for (i = 0; i < is->nrlinks; i++)
			cJSON_AddItemToArray(a, fj_rlink_json(c, is,
			    is->rlinks[i]));
		fj_reply(c, 200, a);
		return;
	}
	if (strcmp(c->r->method, "POST") != 0 || lid != NULL) {
		fj_bad_method(c);
		return;
	}
	if (!cJSON_IsObject(c->json)) {
		fj_error(c, 400, "Can not deserialize instance of "
		    "RemoteIssueLinkRequest out of the request body.");
		return;
	}
	errors = cJSON_CreateObject();
	obj = fj_get(c->json, "object");
	v = fj_get(c->json, "globalId");
	gid = NULL;
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			fj_seterr(errors, "globalId", "'globalId' must be a "
			    "string.");
		else if (sb_utf8_len(v->valuestring) > FJ_GLOBALID_MAX)
			fj_seterr(errors, "globalId", "'globalId' must be "
			    "less than 255 characters.");
		else if (*v->valuestring != '\0')
			gid = v->valuestring;
	}
	if (!cJSON_IsObject(obj))
		fj_seterr(errors, "object", "'object' is required.");
	else {
		url = sb_json_str(obj, "url");
		title = sb_json_str(obj, "title");
		if (url == NULL || *url == '\0')
			fj_seterr(errors, "url", "'url' is required.");
		else if (!fj_valid_url(url))
			fj_seterr(errors, "url", "'url' is not a valid URL.");
		if (title == NULL || *title == '\0')
			fj_seterr(errors, "title", "'title' is required.");
	}
	v = fj_get(c->json, "relationship");
	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
		fj_seterr(errors, "relationship", "'relationship' must be a "
		    "string.");
	v = fj_get(c->json, "application");
	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsObject(v))
		fj_seterr(errors, "application", "'application' must be an "
		    "object.");
	if (fj_errors_reply(c, errors))
		return;
	for (i = 0; gid != NULL && i < is->nrlinks; i++) {
		if (is->rlinks[i]->global_id != NULL &&
		    strcmp(is->rlinks[i]->global_id, gid) == 0)
			rl = is->rlinks[i];
	}
	if (rl == NULL && is->nrlinks >= FJ_RLINKS_MAX) {
		fj_error(c, 413, "The number of remote links on this issue "
		    "has reached the limit of %d.", FJ_RLINKS_MAX);
		return;
	}
	data = cJSON_CreateObject();
	v = fj_get(c->json, "application");
	if (cJSON_IsObject(v))
		cJSON_AddItemToObject(data, "application",
		    cJSON_Duplicate(v, 1));
	v = fj_get(c->json, "relationship");
	if (cJSON_IsString(v))
		cJSON_AddStringToObject(data, "relationship", v->valuestring);
	cJSON_AddItemToObject(data, "object", cJSON_Duplicate(obj, 1));
	if (rl != NULL) {
		/* An update: fields not given become null. */
		cJSON_Delete(rl->data);
		rl->data = data;
	} else {
		rl = sb_calloc(1, sizeof *rl);
		rl->id = fj_next_rlink++;
		rl->global_id = gid != NULL ? sb_strdup(gid) : NULL;
		rl->data = data;
		is->rlinks = sb_realloc(is->rlinks, is->nrlinks + 1,
		    sizeof *is->rlinks);
		is->rlinks[is->nrlinks++] = rl;
		created = 1;
	}
	is->updated = fj_now();
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)rl->id);
	fj_self(c, buf, sizeof buf, "issue/%s/remotelink/%ld", is->key,
	    rl->id);
	cJSON_AddStringToObject(o, "self", buf);
	fj_reply(c, created ? 201 : 200, o);
}

static void
fj_transitions(struct fj_ctx *c, struct fj_issue *is)
{
	const cJSON	*tr, *idv, *fields, *update, *v;
	cJSON		*o, *a, *t, *errors, *changes, *comments, *cm;
	const char	*id;
	char		 buf[32];
	size_t		 i;
	int		 to = -1, res = -1;

	if (strcmp(c->r->method, "GET") == 0) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "expand", "transitions");
		a = cJSON_AddArrayToObject(o, "transitions");
		for (i = 0; i < FJ_NSTATUSES; i++) {
			if ((int)i == is->status)
				continue;
			id = sb_param(c->r, "transitionId");
			if (id != NULL && strcmp(id,
			    fj_statuses[i].transition) != 0)
				continue;
			t = cJSON_CreateObject();
			cJSON_AddStringToObject(t, "id",
			    fj_statuses[i].transition);
			cJSON_AddStringToObject(t, "name", fj_statuses[i].name);
			cJSON_AddItemToObject(t, "to",
			    fj_status_json(c, (int)i));
			cJSON_AddBoolToObject(t, "hasScreen",
			    i == FJ_STATUS_DONE);
			cJSON_AddBoolToObject(t, "isGlobal", 1);
			cJSON_AddBoolToObject(t, "isInitial", 0);
			cJSON_AddBoolToObject(t, "isAvailable", 1);
			cJSON_AddBoolToObject(t, "isConditional", 0);
			cJSON_AddBoolToObject(t, "isLooped", 0);
			cJSON_AddItemToArray(a, t);
		}
		fj_reply(c, 200, o);
		return;
	}
	if (strcmp(c->r->method, "POST") != 0) {
		fj_bad_method(c);
		return;
	}
	if (!cJSON_IsObject(c->json)) {
		fj_error(c, 400, "Can not deserialize instance of "
		    "IssueUpdateBean out of the request body.");
		return;
	}
	tr = fj_get(c->json, "transition");
	idv = fj_get(tr, "id");
	if (!cJSON_IsObject(tr) || (!cJSON_IsString(idv) &&
	    !cJSON_IsNumber(idv))) {
		fj_error(c, 400, "Missing 'transition' identifier");
		return;
	}
	if (cJSON_IsNumber(idv))
		snprintf(buf, sizeof buf, "%d", idv->valueint);
	else
		snprintf(buf, sizeof buf, "%s", idv->valuestring);
	for (i = 0; i < FJ_NSTATUSES; i++) {
		if ((int)i != is->status &&
		    strcmp(fj_statuses[i].transition, buf) == 0)
			to = (int)i;
	}
	if (to < 0) {
		fj_error(c, 400, "Transition id '%s' is not valid for this "
		    "issue.", buf);
		return;
	}
	/* Only the Done transition has a screen, with the resolution. */
	errors = cJSON_CreateObject();
	changes = cJSON_CreateObject();
	comments = cJSON_CreateArray();
	fields = fj_get(c->json, "fields");
	update = fj_get(c->json, "update");
	cJSON_ArrayForEach(v, fields) {
		if (strcmp(v->string, "resolution") == 0 &&
		    to == FJ_STATUS_DONE) {
			id = sb_json_str(v, "name");
			if (id == NULL)
				id = sb_json_str(v, "id");
			if (id == NULL || (res = fj_resolution_find(id)) < 0)
				fj_seterr(errors, "resolution", "Resolution "
				    "'%s' is not valid.", id != NULL ? id : "");
			continue;
		}
		fj_not_settable(errors, v->string);
	}
	cJSON_ArrayForEach(v, update) {
		if (strcmp(v->string, "comment") != 0)
			fj_not_settable(errors, v->string);
	}
	if (cJSON_IsObject(update) && fj_get(update, "comment") != NULL) {
		cJSON *only = cJSON_CreateObject();

		cJSON_AddItemToObject(only, "comment",
		    cJSON_Duplicate(fj_get(update, "comment"), 1));
		fj_update_in(c, is, only, NULL, errors, changes, comments);
		cJSON_Delete(only);
	}
	if (!fj_errors_reply(c, errors)) {
		fj_set_status(is, to, res);
		cJSON_ArrayForEach(cm, comments) {
			fj_comment_add(is,
			    cJSON_DetachItemFromObjectCaseSensitive(cm, "body"),
			    cJSON_DetachItemFromObjectCaseSensitive(cm,
			    "visibility"), c->me);
		}
		fj_reply(c, 204, NULL);
	}
	cJSON_Delete(changes);
	cJSON_Delete(comments);
}

/* An issue named by {"key"} or {"id"} in a request, or NULL. */
static struct fj_issue *
fj_issue_ref(const cJSON *o)
{
	const cJSON	*v;
	char		 buf[32];

	if ((v = fj_get(o, "key")) == NULL)
		v = fj_get(o, "id");
	if (cJSON_IsString(v))
		return (fj_issue_find(v->valuestring));
	if (cJSON_IsNumber(v)) {
		snprintf(buf, sizeof buf, "%.0f", v->valuedouble);
		return (fj_issue_find(buf));
	}
	return (NULL);
}

/*
 * Link in <type outward> out; both issues are updated. 0 if made (*lp
 * set), 1 if that link was there already, -1 if an issue has too many.
 */
static int
fj_link_add(int type, struct fj_issue *in, struct fj_issue *out,
    struct fj_link **lp)
{
	struct fj_link	*l;
	size_t		 i, nin = 0, nout = 0;

	for (i = 0; i < fj_nlinks; i++) {
		l = fj_links[i];
		if (l->type == type && l->in == in && l->out == out) {
			*lp = l;
			return (1);
		}
		nin += l->in == in || l->out == in;
		nout += l->in == out || l->out == out;
	}
	if (nin >= FJ_LINKS_MAX || nout >= FJ_LINKS_MAX)
		return (-1);
	l = sb_calloc(1, sizeof *l);
	l->id = fj_next_link++;
	l->type = type;
	l->in = in;
	l->out = out;
	fj_links = sb_realloc(fj_links, fj_nlinks + 1, sizeof *fj_links);
	fj_links[fj_nlinks++] = l;
	in->updated = out->updated = fj_now();
	*lp = l;
	return (0);
}

/* POST /issueLink: 201 and no body, even for a link already there. */
static void
fj_issue_link_post(struct fj_ctx *c)
{
	const cJSON	*tv, *cm;
	struct fj_issue	*in, *out;
	struct fj_link	*l;
	const char	*ts;
	cJSON		*errors, *body = NULL, *vis = NULL;
	int		 type, rc;

	if (!cJSON_IsObject(c->json)) {
		fj_error(c, 400, "Can not deserialize instance of "
		    "LinkIssueRequestJsonBean out of the request body.");
		return;
	}
	tv = fj_get(c->json, "type");
	if ((ts = sb_json_str(tv, "name")) == NULL)
		ts = sb_json_str(tv, "id");
	if (ts == NULL || !cJSON_IsObject(fj_get(c->json, "inwardIssue")) ||
	    !cJSON_IsObject(fj_get(c->json, "outwardIssue"))) {
		fj_error(c, 400, "An issue link needs a type (name or id), an "
		    "inwardIssue and an outwardIssue (key or id).");
		return;
	}
	if ((type = fj_ltype_find(ts)) < 0) {
		fj_error(c, 404, "No issue link type with %s '%s' found.",
		    sb_json_str(tv, "name") != NULL ? "name" : "id", ts);
		return;
	}
	in = fj_issue_ref(fj_get(c->json, "inwardIssue"));
	out = fj_issue_ref(fj_get(c->json, "outwardIssue"));
	if (in == NULL || out == NULL) {
		fj_not_found(c);
		return;
	}
	if (in == out) {
		fj_error(c, 400, "You cannot link an issue to itself.");
		return;
	}
	cm = fj_get(c->json, "comment");
	if (cm != NULL && !cJSON_IsNull(cm)) {
		errors = cJSON_CreateObject();
		fj_comment_in(c, cm, errors, &body, &vis);
		if (fj_errors_reply(c, errors))
			return;
	}
	if ((rc = fj_link_add(type, in, out, &l)) < 0) {
		cJSON_Delete(body);
		cJSON_Delete(vis);
		fj_error(c, 413, "The number of issue links on this issue has "
		    "reached the limit of %d.", FJ_LINKS_MAX);
		return;
	}
	/* The comment goes on the "from (outward)" issue, as documented. */
	if (body != NULL)
		fj_comment_add(out, body, vis, c->me);
	fj_reply(c, 201, NULL);
}

/* GET and DELETE /issueLink/{id}. */
static void
fj_issue_link(struct fj_ctx *c, const char *lid)
{
	struct fj_link	*l = NULL;
	long long	 n;
	size_t		 i;

	if (fj_parse_int(lid, 1, LLONG_MAX, &n) != 0) {
		fj_error(c, 400, "The issue link id '%s' is invalid.", lid);
		return;
	}
	for (i = 0; i < fj_nlinks && l == NULL; i++) {
		if (fj_links[i]->id == n)
			l = fj_links[i];
	}
	if (l == NULL) {
		fj_error(c, 404, "No issue link with id '%s' exists.", lid);
		return;
	}
	if (strcmp(c->r->method, "GET") == 0) {
		fj_reply(c, 200, fj_link_json(c, l, NULL));
		return;
	}
	if (strcmp(c->r->method, "DELETE") != 0) {
		fj_bad_method(c);
		return;
	}
	l->in->updated = l->out->updated = fj_now();
	memmove(&fj_links[i - 1], &fj_links[i], (fj_nlinks - i) *
	    sizeof *fj_links);
	fj_nlinks--;
	free(l);
	fj_reply(c, 204, NULL);
}

/* GET /issueLinkType[/{id}]. */
static void
fj_issue_link_types(struct fj_ctx *c, const char *tid)
{
	cJSON	*o, *a;
	size_t	 i;

	if (strcmp(c->r->method, "GET") != 0) {
		fj_bad_method(c);
		return;
	}
	if (tid == NULL) {
		o = cJSON_CreateObject();
		a = cJSON_AddArrayToObject(o, "issueLinkTypes");
		for (i = 0; i < FJ_NLTYPES; i++)
			cJSON_AddItemToArray(a, fj_ltype_json(c, (int)i));
		fj_reply(c, 200, o);
		return;
	}
	for (i = 0; i < FJ_NLTYPES; i++) {
		if (strcmp(fj_ltypes[i].id, tid) == 0) {
			fj_reply(c, 200, fj_ltype_json(c, (int)i));
			return;
		}
	}
	fj_error(c, 404, "No issue link type with id '%s' found.", tid);
}

/* GET /user: by accountId on Cloud, by username or key on Data Center. */
static void
fj_get_user(struct fj_ctx *c)
{
	const struct fj_user	*u;
	const char		*id;

	if (!c->dc) {
		if ((id = sb_param(c->r, "accountId")) == NULL) {
			fj_error(c, 400, "The 'accountId' query parameter "
			    "needs to be provided.");
			return;
		}
		u = fj_user_find(id);
		if (u == NULL || strcmp(u->account_id, id) != 0) {
			fj_error(c, 404, "Specified user does not exist or "
			    "you do not have required permissions");
			return;
		}
	} else {
		if ((id = sb_param(c->r, "username")) == NULL &&
		    (id = sb_param(c->r, "key")) == NULL) {
			fj_error(c, 400, "Either the 'username' or the 'key' "
			    "query parameters need to be provided");
			return;
		}
		u = fj_user_find(id);
		if (u == NULL || (strcasecmp(u->name, id) != 0 &&
		    strcmp(u->key, id) != 0)) {
			fj_error(c, 404, "The user named '%s' does not exist",
			    id);
			return;
		}
	}
	fj_reply(c, 200, fj_user_json(c, u));
}

/* s, or one of its words, starts with prefix (case-insensitive). */
static int
fj_word_prefix(const char *s, const char *prefix)
{
	size_t	n = strlen(prefix);
	int	start = 1;

	for (; *s != '\0'; s++) {
		if (start && strncasecmp(s, prefix, n) == 0)
			return (1);
		start = isspace((unsigned char)*s);
	}
	return (0);
}

/*
 * GET /user/search: Cloud matches query against display names and
 * emails by prefix (a hidden email only whole), or accountId exactly;
 * Data Center matches username against usernames, names and emails.
 */
static void
fj_user_search(struct fj_ctx *c)
{
	const struct fj_user	*me = fj_myself(), *u;
	const char		*q, *acct = NULL, *p;
	long long		 start = 0, max = 50;
	cJSON			*a;
	size_t			 i;
	int			 hit, n = 0;

	if (!c->dc) {
		q = sb_param(c->r, "query");
		acct = sb_param(c->r, "accountId");
		if ((q == NULL) == (acct == NULL)) {
			fj_error(c, 400, "Provide one of the 'query' and "
			    "'accountId' query parameters.");
			return;
		}
	} else if ((q = sb_param(c->r, "username")) == NULL) {
		fj_error(c, 400, "The username query parameter was not "
		    "provided");
		return;
	}
	if (((p = sb_param(c->r, "startAt")) != NULL &&
	    fj_parse_int(p, 0, INT_MAX, &start) != 0) ||
	    ((p = sb_param(c->r, "maxResults")) != NULL &&
	    fj_parse_int(p, 0, 1000, &max) != 0)) {
		fj_error(c, 400, "The startAt and maxResults parameters must "
		    "be non-negative integers.");
		return;
	}
	a = cJSON_CreateArray();
	for (i = 0; i <= FJ_NUSERS; i++) {
		u = i < FJ_NUSERS ? &fj_users[i] : me;
		if (i == FJ_NUSERS && fj_user_index(me) < (int)FJ_NUSERS)
			break;
		if (acct != NULL)
			hit = strcmp(u->account_id, acct) == 0;
		else if (c->dc)
			hit = fj_word_prefix(u->name, q) ||
			    fj_word_prefix(u->display, q) ||
			    strncasecmp(u->email, q, strlen(q)) == 0;
		else if (u->hide_email && u != me)
			hit = fj_word_prefix(u->display, q) ||
			    strcasecmp(u->email, q) == 0;
		else
			hit = fj_word_prefix(u->display, q) ||
			    strncasecmp(u->email, q, strlen(q)) == 0;
		if (hit && n++ >= start && cJSON_GetArraySize(a) < max)
			cJSON_AddItemToArray(a, fj_user_json(c, u));
	}
	fj_reply(c, 200, a);
}

/* Opaque page token binding the next offset to the query text. */
static uint32_t
fj_hash(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return (h);
}

static void
fj_token_make(char *buf, size_t len, size_t offset, const char *jql)
{
	unsigned char	raw[64];
	int		n;

	n = snprintf((char *)raw, sizeof raw, "o=%zu&h=%08x", offset,
	    fj_hash(jql));
	if (n < 0 || (size_t)n >= sizeof raw ||
	    (size_t)(n + 2) / 3 * 4 >= len) {
		*buf = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)buf, raw, n);
}

static int
fj_token_parse(const char *tok, const char *jql, size_t *offset)
{
	unsigned char	raw[96];
	unsigned int	h;
	size_t		o;
	int		n;
	char		tail;

	if (strlen(tok) == 0 || strlen(tok) > 64 || strlen(tok) % 4 != 0)
		return (-1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)tok,
	    (int)strlen(tok));
	if (n <= 0)
		return (-1);
	raw[n] = '\0';
	if (sscanf((char *)raw, "o=%zu&h=%8x%c", &o, &h, &tail) != 2 ||
	    h != fj_hash(jql))
		return (-1);
	*offset = o;
	return (0);
}

/* Body members a search request may carry. */
static int
fj_search_body_check(struct fj_ctx *c, const char *const *allowed)
{
	const cJSON	*v;
	size_t		 i;

	if (!cJSON_IsObject(c->json)) {
		fj_error(c, 400, "Can not deserialize the search request "
		    "out of the request body.");
		return (-1);
	}
	cJSON_ArrayForEach(v, c->json) {
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(allowed[i], v->string) == 0)
				break;
		}
		if (allowed[i] == NULL) {
			fj_error(c, 400, "Unrecognized field \"%s\", not "
			    "marked as ignorable.", v->string);
			return (-1);
		}
	}
	return (0);
}

/* Common search parameters from the query string or the POST body. */
struct fj_search {
	const char	*jql;
	long long	 max;
	long long	 start;
	const char	*token;
	struct fj_fsel	 fs;
};

static int
fj_search_args(struct fj_ctx *c, struct fj_search *s, int enhanced)
{
	static const char *const jql_keys[] = { "jql", "nextPageToken",
	    "maxResults", "fields", "expand", "properties", "fieldsByKeys",
	    "failFast", "reconcileIssues", NULL };
	static const char *const old_keys[] = { "jql", "startAt",
	    "maxResults", "fields", "expand", "validateQuery", "properties",
	    "fieldsByKeys", NULL };
	const cJSON	*v, *f;
	const char	*p;

	memset(s, 0, sizeof *s);
	s->max = 50;
	if (strcmp(c->r->method, "POST") == 0) {
		if (fj_search_body_check(c, enhanced ? jql_keys :
		    old_keys) != 0)
			return (-1);
		v = fj_get(c->json, "jql");
		if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
			goto bad;
		s->jql = cJSON_IsString(v) ? v->valuestring : NULL;
		v = fj_get(c->json, "maxResults");
		if (v != NULL && (!cJSON_IsNumber(v) ||
		    v->valuedouble != (int)v->valuedouble ||
		    v->valuedouble < 0))
			goto bad;
		if (v != NULL)
			s->max = v->valueint;
		v = fj_get(c->json, "startAt");
		if (v != NULL && (!cJSON_IsNumber(v) ||
		    v->valuedouble != (int)v->valuedouble ||
		    v->valuedouble < 0))
			goto bad;
		if (v != NULL)
			s->start = v->valueint;
		v = fj_get(c->json, "nextPageToken");
		if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
			goto bad;
		s->token = cJSON_IsString(v) ? v->valuestring : NULL;
		v = fj_get(c->json, "reconcileIssues");
		if (v != NULL && (!cJSON_IsArray(v) ||
		    cJSON_GetArraySize(v) > 50))
			goto bad;
		v = fj_get(c->json, "fields");
		if (v != NULL && !cJSON_IsArray(v))
			goto bad;
		cJSON_ArrayForEach(f, v) {
			if (!cJSON_IsString(f))
				goto bad;
			fj_fsel_add(&s->fs, f->valuestring);
		}
	} else {
		s->jql = sb_param(c->r, "jql");
		s->token = sb_param(c->r, "nextPageToken");
		if ((p = sb_param(c->r, "maxResults")) != NULL &&
		    fj_parse_int(p, 0, INT_MAX, &s->max) != 0)
			goto bad;
		if ((p = sb_param(c->r, "startAt")) != NULL &&
		    fj_parse_int(p, 0, INT_MAX, &s->start) != 0)
			goto bad;
		fj_fsel_params(c, &s->fs);
	}
	return (0);
bad:
	fj_error(c, 400, "The search request is invalid: check the types of "
	    "jql, fields, maxResults, startAt and nextPageToken.");
	return (-1);
}

/* GET|POST /rest/api/{2,3}/search/jql (Cloud). */
static void
fj_search_jql(struct fj_ctx *c)
{
	struct fj_search	  s;
	struct fj_jql		  q;
	struct fj_issue		**hits;
	cJSON			 *o, *a;
	size_t			  n, i, offset = 0, max;
	char			  tok[128];
	const char		 *jql;

	if (fj_search_args(c, &s, 1) != 0)
		return;
	jql = s.jql != NULL ? s.jql : "";
	if (fj_jql_parse(&q, jql, 0) != 0) {
		fj_error(c, 400, "%s", q.err);
		fj_jql_free(&q);
		return;
	}
	if (q.where == NULL) {
		fj_jql_free(&q);
		fj_error(c, 400, "Unbounded JQL queries are not allowed here. "
		    "Please add a search restriction to your query.");
		return;
	}
	if (s.token != NULL && fj_token_parse(s.token, jql, &offset) != 0) {
		fj_jql_free(&q);
		fj_error(c, 400, "The provided next page token is invalid or "
		    "expired.");
		return;
	}
	if (s.max < 1) {
		/* Nothing would ever page forward. */
		fj_jql_free(&q);
		fj_error(c, 400, "The maxResults parameter must be between 1 "
		    "and %d.", FJ_SEARCH_MAX);
		return;
	}
	fj_fsel_finish(&s.fs, 0);
	max = (size_t)s.max;
	if (max > FJ_SEARCH_MAX)
		max = FJ_SEARCH_MAX;
	if (!fj_fsel_id_only(&s.fs) && max > FJ_SEARCH_FIELDS_MAX)
		max = FJ_SEARCH_FIELDS_MAX;
	hits = fj_jql_run(&q, &n);
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "issues");
	for (i = offset; i < n && i - offset < max; i++)
		cJSON_AddItemToArray(a, fj_issue_json(c, hits[i], &s.fs));
	if (i < n) {
		fj_token_make(tok, sizeof tok, i, jql);
		cJSON_AddStringToObject(o, "nextPageToken", tok);
	}
	cJSON_AddBoolToObject(o, "isLast", i >= n);
	free(hits);
	fj_jql_free(&q);
	fj_reply(c, 200, o);
}

/* GET|POST /rest/api/2/search (Data Center; removed on Cloud). */
static void
fj_search_old(struct fj_ctx *c)
{
	struct fj_search	  s;
	struct fj_jql		  q;
	struct fj_issue		**hits;
	cJSON			 *o, *a;
	size_t			  n, i, max;

	if (!c->dc) {
		fj_error(c, 410, "The requested API has been removed. Please "
		    "migrate to the /rest/api/3/search/jql API. A full "
		    "migration guideline is available at "
		    "https://developer.atlassian.com/changelog/#CHANGE-2046");
		return;
	}
	if (fj_search_args(c, &s, 0) != 0)
		return;
	if (fj_jql_parse(&q, s.jql != NULL ? s.jql : "", 1) != 0) {
		fj_error(c, 400, "%s", q.err);
		fj_jql_free(&q);
		return;
	}
	fj_fsel_finish(&s.fs, 1);
	max = (size_t)s.max;
	if (max > FJ_DC_SEARCH_MAX)
		max = FJ_DC_SEARCH_MAX;
	hits = fj_jql_run(&q, &n);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "expand", "schema,names");
	cJSON_AddNumberToObject(o, "startAt", (double)s.start);
	cJSON_AddNumberToObject(o, "maxResults", (double)max);
	cJSON_AddNumberToObject(o, "total", (double)n);
	a = cJSON_AddArrayToObject(o, "issues");
	for (i = (size_t)s.start; i < n && i - (size_t)s.start < max; i++)
		cJSON_AddItemToArray(a, fj_issue_json(c, hits[i], &s.fs));
	free(hits);
	fj_jql_free(&q);
	fj_reply(c, 200, o);
}

/* ---------------------------------------------------------------------- */
/* Request plumbing. */

/* Sliding-window limit; 1 if answered with 429. */
static int
fj_ratelimit(struct fj_ctx *c)
{
	uint64_t	now = sb_mono_ms();
	size_t		drop = 0;
	int64_t		wait;
	char		reset[64];

	if (fj_rl.per_minute <= 0)
		return (0);
	while (drop < fj_rl.n && (uint64_t)fj_rl.ts[drop] + 60000 <= now)
		drop++;
	if (drop > 0) {
		memmove(fj_rl.ts, fj_rl.ts + drop, (fj_rl.n - drop) *
		    sizeof *fj_rl.ts);
		fj_rl.n -= drop;
	}
	fj_hdr(c, "X-RateLimit-Limit: %d", fj_rl.per_minute);
	if (fj_rl.n >= (size_t)fj_rl.per_minute) {
		wait = ((int64_t)fj_rl.ts[0] + 60000 - (int64_t)now + 999) /
		    1000;
		if (wait < 1)
			wait = 1;
		fj_fmt_time(fj_now() + wait * 1000, reset, sizeof reset);
		fj_hdr(c, "X-RateLimit-Remaining: 0");
		fj_hdr(c, "X-RateLimit-Reset: %s", reset);
		fj_hdr(c, "Retry-After: %lld", (long long)wait);
		fj_hdr(c, "RateLimit-Reason: jira-quota-based");
		fj_error(c, 429, "Rate limit exceeded.");
		return (1);
	}
	fj_rl.ts = sb_realloc(fj_rl.ts, fj_rl.n + 1, sizeof *fj_rl.ts);
	fj_rl.ts[fj_rl.n++] = (int64_t)now;
	fj_hdr(c, "X-RateLimit-Remaining: %zu",
	    (size_t)fj_rl.per_minute - fj_rl.n);
	if ((fj_rl.per_minute - (int)fj_rl.n) * 5 < fj_rl.per_minute)
		fj_hdr(c, "X-RateLimit-NearLimit: true");
	return (0);
}

/* Check the credentials: 0 good, 1 none given, -1 wrong. */
static int
fj_auth(struct fj_ctx *c)
{
	const char	*h = sb_header(c->r, "Authorization"), *p;
	unsigned char	 dec[768];
	size_t		 len, pad = 0;
	int		 n;
	char		*want;

	if (h == NULL)
		return (1);
	if (c->dc) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return (-1);
		for (p = h + 7; *p == ' '; p++)
			;
		return (strcmp(p, fj_token()) == 0 ? 0 : -1);
	}
	if (strncasecmp(h, "Basic ", 6) != 0)
		return (-1);
	for (p = h + 6; *p == ' '; p++)
		;
	len = strlen(p);
	if (len == 0 || len % 4 != 0 || len / 4 * 3 >= sizeof dec)
		return (-1);
	if ((n = EVP_DecodeBlock(dec, (const unsigned char *)p,
	    (int)len)) < 0)
		return (-1);
	while (pad < 2 && len > pad && p[len - 1 - pad] == '=')
		pad++;
	n -= (int)pad;
	sb_asprintf(&want, "%s:%s", fj_email(), fj_token());
	if ((size_t)n != strlen(want) || memcmp(dec, want, n) != 0) {
		free(want);
		return (-1);
	}
	free(want);
	return (0);
}

static int
fj_ctype_json(struct fj_ctx *c)
{
	const char	*ct = sb_header(c->r, "Content-Type");
	size_t		 n = strlen("application/json");

	return (ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '));
}

static int
fj_accept_ok(struct fj_ctx *c)
{
	const char	*a = sb_header(c->r, "Accept");

	return (a == NULL || *a == '\0' || strcasestr(a,
	    "application/json") != NULL || strstr(a, "*/*") != NULL ||
	    strcasestr(a, "application/*") != NULL);
}

static void
fj_handle(struct sb_req *r)
{
	struct fj_ctx	 c;
	struct fj_issue	*is = NULL;
	char		*path, *seg[8], *save = NULL, *tok;
	const char	*m = r->method, *rp = r->path;
	size_t		 nseg = 0, n;
	int		 auth, get, post, put;

	memset(&c, 0, sizeof c);
	c.r = r;
	c.dc = fj_is_dc();
	c.me = fj_myself();
	c.v = 2;
	if (fj_ratelimit(&c))
		return;
	/* Behind a context path, Jira serves nothing outside it. */
	if (sb_opts.jira_context != NULL) {
		n = strlen(sb_opts.jira_context);
		if (strncmp(rp, sb_opts.jira_context, n) != 0 ||
		    rp[n] != '/') {
			fj_no_resource(&c);
			return;
		}
		rp += n;
	}
	if (strncmp(rp, "/rest/api/", 10) != 0 ||
	    (rp[10] != '2' && rp[10] != '3') ||
	    (rp[11] != '/' && rp[11] != '\0') ||
	    (rp[10] == '3' && c.dc)) {
		fj_no_resource(&c);
		return;
	}
	c.v = rp[10] - '0';
	path = sb_strdup(rp + 11);
	for (tok = strtok_r(path, "/", &save); tok != NULL && nseg < 8;
	    tok = strtok_r(NULL, "/", &save))
		seg[nseg++] = tok;
	get = strcmp(m, "GET") == 0;
	post = strcmp(m, "POST") == 0;
	put = strcmp(m, "PUT") == 0;

	auth = fj_auth(&c);
	if (auth < 0 || (auth > 0 && !(nseg == 1 &&
	    strcmp(seg[0], "serverInfo") == 0))) {
		fj_error(&c, 401, "You are not authenticated. Authentication "
		    "required to perform this operation.");
		goto out;
	}
	if (!fj_accept_ok(&c)) {
		fj_reply(&c, 406, NULL);
		goto out;
	}
	if (post || put) {
		if (!fj_ctype_json(&c)) {
			fj_error(&c, 415, "Unsupported Media Type: the request "
			    "body must be application/json.");
			goto out;
		}
		if (r->json == NULL) {
			if (r->body_len == 0 || fj_is_blank(r->body))
				fj_error(&c, 400, "No content to map due to "
				    "end-of-input");
			else
				fj_error(&c, 400, "Unexpected character in the "
				    "request body: it is not valid JSON.");
			goto out;
		}
		c.json = r->json;
	}

	if (nseg == 0) {
		fj_no_resource(&c);
		goto out;
	}
	if (nseg == 1 && strcmp(seg[0], "serverInfo") == 0) {
		if (get)
			fj_server_info(&c);
		else
			fj_bad_method(&c);
	} else if (nseg == 1 && strcmp(seg[0], "myself") == 0) {
		if (get)
			fj_get_myself(&c);
		else
			fj_bad_method(&c);
	} else if (nseg == 1 && strcmp(seg[0], "field") == 0) {
		if (get)
			fj_get_fields(&c);
		else
			fj_bad_method(&c);
	} else if (nseg <= 2 && strcmp(seg[0], "project") == 0) {
		if (get)
			fj_get_project(&c, nseg == 2 ? seg[1] : NULL);
		else
			fj_bad_method(&c);
	} else if (nseg == 1 && strcmp(seg[0], "issue") == 0) {
		if (post)
			fj_create_issue(&c);
		else
			fj_bad_method(&c);
	} else if (nseg >= 2 && nseg <= 4 && strcmp(seg[0], "issue") == 0) {
		if ((is = fj_issue_find(seg[1])) == NULL) {
			fj_not_found(&c);
			goto out;
		}
		if (nseg == 2) {
			if (get)
				fj_get_issue(&c, is);
			else if (put)
				fj_edit_issue(&c, is);
			else
				fj_bad_method(&c);
		} else if (strcmp(seg[2], "comment") == 0)
			fj_comments(&c, is, nseg == 4 ? seg[3] : NULL);
		else if (strcmp(seg[2], "remotelink") == 0)
			fj_remote_links(&c, is, nseg == 4 ? seg[3] : NULL);
		else if (strcmp(seg[2], "transitions") == 0 && nseg == 3)
			fj_transitions(&c, is);
		else
			fj_no_resource(&c);
	} else if (nseg <= 2 && strcmp(seg[0], "issueLinkType") == 0) {
		fj_issue_link_types(&c, nseg == 2 ? seg[1] : NULL);
	} else if (nseg == 1 && strcmp(seg[0], "issueLink") == 0) {
		if (post)
			fj_issue_link_post(&c);
		else
			fj_bad_method(&c);
	} else if (nseg == 2 && strcmp(seg[0], "issueLink") == 0) {
		fj_issue_link(&c, seg[1]);
	} else if (nseg == 1 && strcmp(seg[0], "user") == 0) {
		if (get)
			fj_get_user(&c);
		else
			fj_bad_method(&c);
	} else if (nseg == 2 && strcmp(seg[0], "user") == 0 &&
	    strcmp(seg[1], "search") == 0) {
		if (get)
			fj_user_search(&c);
		else
			fj_bad_method(&c);
	} else if (nseg == 1 && strcmp(seg[0], "search") == 0) {
		if (get || post)
			fj_search_old(&c);
		else
			fj_bad_method(&c);
	} else if (nseg == 2 && strcmp(seg[0], "search") == 0 &&
	    strcmp(seg[1], "jql") == 0 && !c.dc) {
		if (get || post)
			fj_search_jql(&c);
		else
			fj_bad_method(&c);
	} else
		fj_no_resource(&c);
out:
	free(path);
}

/* ---------------------------------------------------------------------- */
/* Control API. */

static cJSON *
fj_ctl_error(const char *fmt, ...)
{
	cJSON	*o;
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	o = cJSON_CreateObject();
	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", msg != NULL ? msg : "error");
	free(msg);
	return (o);
}

static cJSON *
fj_ctl_time(const cJSON *body, const char *name, int64_t *out)
{
	const char	*s = sb_json_str(body, name);

	if (s == NULL)
		return (NULL);
	if (fj_parse_iso(s, out) != 0)
		return (fj_ctl_error("%s: bad time '%s'", name, s));
	return (NULL);
}

/*
 * The fields of a control op body ("summary" when editing, "labels",
 * "duedate", "description" and "fields"; rich text as text or ADF)
 * through the REST field checks. NULL and the changes in *changes, or
 * the error answer.
 */
static cJSON *
fj_ctl_fields(const cJSON *body, int creating, cJSON **changes)
{
	static const char *const plain[] = { "summary", "labels", "duedate" };
	struct fj_ctx	 c;
	const cJSON	*v;
	cJSON		*errors, *o;
	size_t		 i;

	memset(&c, 0, sizeof c);
	c.dc = fj_is_dc();
	errors = cJSON_CreateObject();
	*changes = cJSON_CreateObject();
	/* The issue op takes its summary apart, before the issue exists. */
	for (i = creating ? 1 : 0; i < sizeof plain / sizeof plain[0]; i++) {
		c.v = 3;
		if ((v = fj_get(body, plain[i])) != NULL)
			fj_field_in(&c, plain[i], v, creating, errors,
			    *changes);
	}
	if ((v = fj_get(body, "description")) != NULL) {
		c.v = cJSON_IsString(v) ? 2 : 3;
		fj_field_in(&c, "description", v, creating, errors, *changes);
	}
	cJSON_ArrayForEach(v, fj_get(body, "fields")) {
		c.v = cJSON_IsString(v) && fj_field_find(v->string) != NULL &&
		    fj_field_find(v->string)->kind == FJ_FK_CF_TEXTAREA ? 2 : 3;
		fj_field_in(&c, v->string, v, creating, errors, *changes);
	}
	if (cJSON_GetArraySize(errors) == 0) {
		cJSON_Delete(errors);
		return (NULL);
	}
	o = fj_ctl_error("invalid fields");
	cJSON_AddItemToObject(o, "errors", errors);
	cJSON_Delete(*changes);
	*changes = NULL;
	return (o);
}

/* What the issue and edit ops change: fields, and the people. */
struct fj_ctl_change {
	cJSON			*changes;
	const struct fj_user	*people[2];	/* assignee, reporter */
	int			 given[2];
};
static const char *const fj_ctl_people[2] = { "assignee", "reporter" };

/*
 * Check a control op body: the fields (fj_ctl_fields) and the people
 * (email, accountId or username; null for nobody). NULL, or the error
 * answer.
 */
static cJSON *
fj_ctl_change_in(const cJSON *body, int creating, struct fj_ctl_change *ch)
{
	const cJSON	*v;
	size_t		 i;

	memset(ch, 0, sizeof *ch);
	for (i = 0; i < 2; i++) {
		if ((v = fj_get(body, fj_ctl_people[i])) == NULL)
			continue;
		ch->given[i] = 1;
		if (cJSON_IsNull(v))
			continue;
		if (!cJSON_IsString(v) || (ch->people[i] =
		    fj_user_find(v->valuestring)) == NULL)
			return (fj_ctl_error("%s: no user '%s'",
			    fj_ctl_people[i], cJSON_IsString(v) ?
			    v->valuestring : ""));
	}
	return (fj_ctl_fields(body, creating, &ch->changes));
}

/* Apply a checked change (and free it). */
static void
fj_ctl_change_apply(struct fj_issue *is, struct fj_ctl_change *ch)
{
	fj_apply(is, ch->changes);
	cJSON_Delete(ch->changes);
	if (ch->given[0])
		is->assignee = ch->people[0];
	if (ch->given[1])
		is->reporter = ch->people[1];
}

/* Create an issue directly, bypassing screens and validation of times. */
static cJSON *
fj_ctl_issue(const cJSON *body)
{
	struct fj_issue		*is;
	struct fj_ctl_change	 ch;
	const char		*s, *summary;
	cJSON			*o, *err;
	int			 project, itype, status = 0, res = -1;
	int64_t			 created = 0, updated = 0, resolved = 0;
	char			 buf[32];

	summary = sb_json_str(body, "summary");
	if (summary == NULL || fj_is_blank(summary))
		return (fj_ctl_error("summary is required"));
	s = sb_json_str(body, "project");
	if ((project = fj_project_find(s != NULL ? s : "INC")) < 0)
		return (fj_ctl_error("unknown project '%s'", s));
	s = sb_json_str(body, "issuetype");
	if ((itype = fj_itype_find(s != NULL ? s : "Incident")) < 0)
		return (fj_ctl_error("unknown issuetype '%s'", s));
	if ((s = sb_json_str(body, "status")) != NULL &&
	    (status = fj_status_find(s)) < 0)
		return (fj_ctl_error("unknown status '%s'", s));
	if ((s = sb_json_str(body, "resolution")) != NULL &&
	    (res = fj_resolution_find(s)) < 0)
		return (fj_ctl_error("unknown resolution '%s'", s));
	if ((err = fj_ctl_time(body, "created", &created)) != NULL ||
	    (err = fj_ctl_time(body, "updated", &updated)) != NULL ||
	    (err = fj_ctl_time(body, "resolutiondate", &resolved)) != NULL)
		return (err);
	if ((err = fj_ctl_change_in(body, 1, &ch)) != NULL)
		return (err);
	is = fj_issue_new(project, itype, summary);
	fj_ctl_change_apply(is, &ch);
	if (status != 0 || res >= 0)
		fj_set_status(is, status, res);
	if (created != 0)
		is->created = created;
	is->updated = updated != 0 ? updated : is->created;
	if (is->resolution >= 0)
		is->resolved = resolved != 0 ? resolved : is->updated;
	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	snprintf(buf, sizeof buf, "%ld", is->id);
	cJSON_AddStringToObject(o, "id", buf);
	cJSON_AddStringToObject(o, "key", is->key);
	return (o);
}

/* Change an issue's fields directly, as someone editing it would. */
static cJSON *
fj_ctl_edit(const cJSON *body)
{
	struct fj_issue		*is;
	struct fj_ctl_change	 ch;
	const char		*key = sb_json_str(body, "key");
	cJSON			*o, *err;
	int64_t			 updated = 0;

	if (key == NULL || (is = fj_issue_find(key)) == NULL)
		return (fj_ctl_error("no issue '%s'", key != NULL ? key : ""));
	if ((err = fj_ctl_time(body, "updated", &updated)) != NULL)
		return (err);
	if ((err = fj_ctl_change_in(body, 0, &ch)) != NULL)
		return (err);
	fj_ctl_change_apply(is, &ch);
	if (updated != 0)
		is->updated = updated;
	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	cJSON_AddStringToObject(o, "key", is->key);
	return (o);
}

/* Link two issues: "from <outward> to". */
static cJSON *
fj_ctl_link(const cJSON *body)
{
	struct fj_issue	*from, *to;
	struct fj_link	*l;
	const char	*f = sb_json_str(body, "from"), *t;
	const char	*ty = sb_json_str(body, "type");
	cJSON		*o;
	char		 buf[32];
	int		 type;

	t = sb_json_str(body, "to");
	if (f == NULL || (from = fj_issue_find(f)) == NULL)
		return (fj_ctl_error("from: no issue '%s'", f != NULL ? f :
		    ""));
	if (t == NULL || (to = fj_issue_find(t)) == NULL)
		return (fj_ctl_error("to: no issue '%s'", t != NULL ? t : ""));
	if (ty == NULL || (type = fj_ltype_find(ty)) < 0)
		return (fj_ctl_error("type: no link type '%s'", ty != NULL ?
		    ty : ""));
	if (from == to)
		return (fj_ctl_error("an issue cannot be linked to itself"));
	if (fj_link_add(type, from, to, &l) < 0)
		return (fj_ctl_error("too many links"));
	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	snprintf(buf, sizeof buf, "%ld", l->id);
	cJSON_AddStringToObject(o, "id", buf);
	return (o);
}

static cJSON *
fj_ctl_get(const cJSON *body)
{
	struct fj_ctx		 c;
	struct fj_issue		*is;
	struct fj_fsel		 fs;
	cJSON			*o, *a, *cm;
	const char		*key = sb_json_str(body, "key");
	char			*text, buf[64];
	size_t			 i;

	if (key == NULL || (is = fj_issue_find(key)) == NULL)
		return (fj_ctl_error("no issue '%s'", key != NULL ? key : ""));
	memset(&c, 0, sizeof c);
	c.v = 3;
	c.dc = fj_is_dc();
	memset(&fs, 0, sizeof fs);
	fj_fsel_finish(&fs, 2);
	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	cJSON_AddItemToObject(o, "issue", fj_issue_json(&c, is, &fs));
	text = is->description != NULL ?
	    fj_adf_to_text(is->description, 0) : NULL;
	if (text != NULL)
		cJSON_AddStringToObject(o, "description_text", text);
	else
		cJSON_AddNullToObject(o, "description_text");
	free(text);
	a = cJSON_AddArrayToObject(o, "comments");
	for (i = 0; i < is->ncomments; i++) {
		cm = cJSON_CreateObject();
		snprintf(buf, sizeof buf, "%ld", is->comments[i]->id);
		cJSON_AddStringToObject(cm, "id", buf);
		cJSON_AddStringToObject(cm, "author",
		    is->comments[i]->author->email);
		text = fj_adf_to_text(is->comments[i]->body, 0);
		cJSON_AddStringToObject(cm, "body_text", text);
		free(text);
		cJSON_AddItemToObject(cm, "body",
		    cJSON_Duplicate(is->comments[i]->body, 1));
		fj_fmt_time(is->comments[i]->created, buf, sizeof buf);
		cJSON_AddStringToObject(cm, "created", buf);
		cJSON_AddItemToArray(a, cm);
	}
	a = cJSON_AddArrayToObject(o, "remotelinks");
	for (i = 0; i < is->nrlinks; i++)
		cJSON_AddItemToArray(a, fj_rlink_json(&c, is, is->rlinks[i]));
	return (o);
}

static cJSON *
fj_control(const char *op, cJSON *body)
{
	struct fj_issue	*is;
	cJSON		*o, *a, *e;
	const char	*s;
	long long	 n;
	size_t		 i;
	int		 st;
	char		 buf[32];

	if (strcmp(op, "issue") == 0)
		return (fj_ctl_issue(body));
	if (strcmp(op, "get") == 0)
		return (fj_ctl_get(body));
	if (strcmp(op, "edit") == 0)
		return (fj_ctl_edit(body));
	if (strcmp(op, "link") == 0)
		return (fj_ctl_link(body));
	if (strcmp(op, "transition") == 0) {
		s = sb_json_str(body, "key");
		if (s == NULL || (is = fj_issue_find(s)) == NULL)
			return (fj_ctl_error("no issue '%s'", s != NULL ? s :
			    ""));
		s = sb_json_str(body, "status");
		if (s == NULL || (st = fj_status_find(s)) < 0)
			return (fj_ctl_error("unknown status '%s'", s != NULL ?
			    s : ""));
		fj_set_status(is, st, -1);
		o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddStringToObject(o, "key", is->key);
		cJSON_AddStringToObject(o, "status", fj_statuses[st].name);
		return (o);
	}
	if (strcmp(op, "issues") == 0) {
		o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		a = cJSON_AddArrayToObject(o, "issues");
		for (i = 0; i < fj_nissues; i++) {
			is = fj_issues[i];
			e = cJSON_CreateObject();
			snprintf(buf, sizeof buf, "%ld", is->id);
			cJSON_AddStringToObject(e, "id", buf);
			cJSON_AddStringToObject(e, "key", is->key);
			cJSON_AddStringToObject(e, "summary", is->summary);
			cJSON_AddStringToObject(e, "status",
			    fj_statuses[is->status].name);
			cJSON_AddItemToObject(e, "labels",
			    cJSON_Duplicate(is->labels, 1));
			cJSON_AddItemToArray(a, e);
		}
		return (o);
	}
	if (strcmp(op, "ratelimit") == 0) {
		n = sb_json_int(body, "per_minute", -1);
		if (n < 0 || n > 1000000)
			return (fj_ctl_error("per_minute: a number from 0"));
		free(fj_rl.ts);
		memset(&fj_rl, 0, sizeof fj_rl);
		fj_rl.per_minute = (int)n;
		o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddNumberToObject(o, "per_minute", (double)n);
		return (o);
	}
	if (strcmp(op, "reset") == 0) {
		fj_state_reset();
		o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		return (o);
	}
	return (NULL);
}

/*
 * --jira-timezone: an IANA zone from the system's database, made the
 * sandbox's local time (TZ) so localtime_r gives its offsets.
 */
static void
fj_tz_init(void)
{
	const char	*z = sb_opts.jira_timezone, *dir;
	char		*path;
	FILE		*f;

	if (z == NULL)
		return;
	if (*z == '\0' || *z == '/' || strstr(z, "..") != NULL)
		sb_fatal("--jira-timezone %s: not a zone name", z);
	if ((dir = getenv("TZDIR")) == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	sb_asprintf(&path, "%s/%s", dir, z);
	if ((f = fopen(path, "r")) == NULL)
		sb_fatal("--jira-timezone %s: %s: %s", z, path,
		    strerror(errno));
	fclose(f);
	free(path);
	if (setenv("TZ", z, 1) != 0)
		sb_fatal("setenv TZ: %s", strerror(errno));
	tzset();
}

static void
fj_init(void)
{
	fj_tz_init();
	fj_state_reset();
}

static void
fj_shutdown(void)
{
	fj_state_free();
}
