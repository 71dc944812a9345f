/*
 * jira.c: Jira REST client (Cloud and Data Center).
 *
 * Everything goes through API v2, which both flavours serve and which
 * takes plain-text descriptions and comments (v3 wants ADF documents).
 * Cloud authenticates with email + API token (basic), Data Center with a
 * personal access token (bearer). Search is the one place the flavours
 * differ: Cloud removed /search in favour of /search/jql, Data Center never
 * had /search/jql. With flavor "auto" the client starts with Cloud's
 * endpoint and switches for good on a 404 (or back on a 410).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define JIRA_ERROR_MAX	500
#define JIRA_POLL_PAGE	100

struct jira_call {
	char		*method;
	char		*path;
	char		*body;
	int		 flags;
	jira_cb		 cb;
	void		*arg;
	int		 search;	/* a search: may switch flavour */
	cJSON		*search_req;
	char		*cursor;	/* next page: token or startAt */
};

static int	jira_flavor_seen = JIRA_FLAVOR_AUTO;

static void	jira_send(struct jira_call *);
static void	jira_call_cb(const struct http_response *, void *);
static void	jira_call_free(struct jira_call *);
static void	jira_call_abandon(void *);
static char	*jira_error_text(const cJSON *, int);
static int	jira_flavor(void);
static void	jira_search_send(struct jira_call *);
static int	jira_bad_key(const char *, jira_cb, void *);

static int
jira_flavor(void)
{
	if (cfg->jira.flavor != JIRA_FLAVOR_AUTO)
		return (cfg->jira.flavor);
	return (jira_flavor_seen);
}

/* Validate an issue key like INC-123. */
int
jira_valid_key(const char *key)
{
	const char	*p = key;

	if (!isupper((unsigned char)*p))
		return (0);
	for (p++; isupper((unsigned char)*p) || isdigit((unsigned char)*p) ||
	    *p == '_'; p++)
		;
	if (p - key < 2 || *p != '-' || !isdigit((unsigned char)p[1]))
		return (0);
	for (p++; isdigit((unsigned char)*p); p++)
		;
	return (*p == '\0' && strlen(key) < 64);
}

/*
 * 1 if key belongs to jira.project or one of jira.projects. The bot's
 * credentials can read more of Jira than its users may: a key of another
 * project must never be read, linked or posted anywhere.
 */
int
jira_key_allowed(const char *key)
{
	size_t	n, i;

	if (key == NULL || !jira_valid_key(key))
		return (0);
	n = strcspn(key, "-");
	if (strlen(cfg->jira.project) == n &&
	    strncmp(key, cfg->jira.project, n) == 0)
		return (1);
	for (i = 0; i < cfg->jira.projects.n; i++) {
		if (strlen(cfg->jira.projects.v[i]) == n &&
		    strncmp(key, cfg->jira.projects.v[i], n) == 0)
			return (1);
	}
	return (0);
}

/* "INC" or "INC, SEC or OPS": the projects incidentd works with. */
char *
jira_projects_text(void)
{
	struct strlist	 l = { NULL, 0 };
	char		*s;
	size_t		 i;

	strlist_add(&l, cfg->jira.project);
	for (i = 0; i < cfg->jira.projects.n; i++) {
		if (strcmp(cfg->jira.projects.v[i], cfg->jira.project) != 0)
			strlist_add(&l, cfg->jira.projects.v[i]);
	}
	s = strlist_join_words(&l, "or");
	strlist_free(&l);
	return (s);
}

/*
 * Pull an issue key out of "INC-12", "inc-12" or a browse URL on our Jira
 * ("https://x.atlassian.net/browse/INC-12?focused..."). Returns a new
 * upper-cased key or NULL (also for NULL: a click without a value).
 */
char *
jira_parse_key(const char *s)
{
	const char	*p;
	char		*key, *k;
	size_t		 n, blen;

	if (s == NULL)
		return (NULL);
	blen = strlen(cfg->jira.url);
	if (*s == '<' && s[strlen(s) - 1] == '>') {
		/* Slack wraps links: <https://...> or <https://...|label>. */
		n = strcspn(s + 1, "|>");
		k = xstrndup(s + 1, n);
		key = jira_parse_key(k);
		free(k);
		return (key);
	}
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) {
		if (strncmp(s, cfg->jira.url, blen) != 0 ||
		    strncmp(s + blen, "/browse/", 8) != 0)
			return (NULL);
		p = s + blen + 8;
		n = strcspn(p, "?#/");
		if (p[n] == '/' && p[n + 1] != '\0')
			return (NULL);
	} else {
		p = s;
		n = strlen(p);
	}
	key = xstrndup(p, n);
	for (k = key; *k != '\0'; k++)
		*k = toupper((unsigned char)*k);
	if (!jira_valid_key(key)) {
		free(key);
		return (NULL);
	}
	return (key);
}

/* The issue's browse link. */
char *
jira_browse_url(const char *key)
{
	char	*url;

	xasprintf(&url, "%s/browse/%s", cfg->jira.url, key);
	return (url);
}

/* Quote a JQL string literal: backslash-escape quotes and backslashes. */
char *
jira_jql_quote(const char *s)
{
	char	*out, *o;

	out = o = xmalloc(strlen(s) * 2 + 3);
	*o++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		if (*s == '\n' || *s == '\r') {
			*o++ = ' ';
			continue;
		}
		*o++ = *s;
	}
	*o++ = '"';
	*o = '\0';
	return (out);
}

/* "errorMessages" and "errors" joined into one readable line. */
static char *
jira_error_text(const cJSON *j, int status)
{
	const cJSON	*item, *msgs, *errs;
	char		*out = xstrdup(""), *tmp;

	msgs = json_path(j, "errorMessages");
	errs = json_path(j, "errors");
	cJSON_ArrayForEach(item, msgs) {
		if (!cJSON_IsString(item))
			continue;
		xasprintf(&tmp, "%s%s%s", out, *out ? "; " : "",
		    item->valuestring);
		free(out);
		out = tmp;
	}
	cJSON_ArrayForEach(item, errs) {
		if (!cJSON_IsString(item))
			continue;
		xasprintf(&tmp, "%s%s%s: %s", out, *out ? "; " : "",
		    item->string, item->valuestring);
		free(out);
		out = tmp;
	}
	if (*out == '\0') {
		free(out);
		switch (status) {
		case 401:
			out = xstrdup("authentication failed (check "
			    "jira.email and jira.api_token)");
			break;
		case 403:
			out = xstrdup("permission denied");
			break;
		case 404:
			out = xstrdup("not found");
			break;
		default:
			xasprintf(&out, "HTTP %d", status);
		}
	}
	/* Cut on a character boundary: the text goes into JSON. */
	tmp = utf8_truncate(out, JIRA_ERROR_MAX, 1);
	free(out);
	return (tmp);
}

static void
jira_call_free(struct jira_call *c)
{
	free(c->method);
	free(c->path);
	free(c->body);
	cJSON_Delete(c->search_req);
	free(c->cursor);
	free(c);
}

/* Shutdown cancelled the request: its callback will not run. */
static void
jira_call_abandon(void *arg)
{
	jira_call_free(arg);
}

static void
jira_send(struct jira_call *c)
{
	struct http_request_args	 ha;
	const char			*headers[3];
	char				*url, *auth, *cred, *b64, *name;

	xasprintf(&url, "%s%s", cfg->jira.url, c->path);
	if (cfg->jira.email != NULL) {
		xasprintf(&cred, "%s:%s", cfg->jira.email, cfg->jira.api_token);
		b64 = base64_encode((unsigned char *)cred, strlen(cred));
		xasprintf(&auth, "Authorization: Basic %s", b64);
		explicit_bzero(cred, strlen(cred));
		explicit_bzero(b64, strlen(b64));
		free(cred);
		free(b64);
	} else
		xasprintf(&auth, "Authorization: Bearer %s",
		    cfg->jira.api_token);
	xasprintf(&name, "jira %s %s", c->method, c->path);
	headers[0] = auth;
	headers[1] = "Accept: application/json";
	headers[2] = NULL;

	memset(&ha, 0, sizeof(ha));
	ha.method = c->method;
	ha.url = url;
	ha.headers = headers;
	ha.flags = c->flags;
	ha.log_name = name;
	if (c->body != NULL) {
		ha.content_type = "application/json";
		ha.body = c->body;
		ha.body_len = strlen(c->body);
	}
	ha.freecb = jira_call_abandon;
	http_request(&ha, jira_call_cb, c);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	free(url);
	free(name);
}

static void
jira_call_cb(const struct http_response *res, void *arg)
{
	struct jira_call	*c = arg;
	struct jira_result	 jr;
	cJSON			*json = NULL;
	char			*err = NULL;

	metrics_api_call("jira", res);
	/* A search on the wrong flavour's endpoint: switch and resend. */
	if (c->search && cfg->jira.flavor == JIRA_FLAVOR_AUTO &&
	    (res->status == 404 || res->status == 410)) {
		int	want = res->status == 404 ? JIRA_FLAVOR_DATACENTER :
			    JIRA_FLAVOR_CLOUD;

		if (jira_flavor_seen != want) {
			log_info("jira: %s answered %d; using the %s search "
			    "API", c->path, res->status,
			    want == JIRA_FLAVOR_CLOUD ? "Cloud" : "Data Center");
			jira_flavor_seen = want;
			c->search = 0;	/* switch at most once per call */
			jira_search_send(c);
			return;
		}
	}
	jira_response(res, c->method, c->path, &jr, &json, &err);
	if (jr.error == NULL && c->search_req != NULL &&
	    !cJSON_IsArray(json_path(json, "issues"))) {
		/* Not "nothing found": a search that did not answer. */
		jr.error = "Jira's search answer has no issue list";
		log_warnx("jira %s %s: HTTP %d without an issue list",
		    c->method, c->path, res->status);
	}
	c->cb(&jr, c->arg);
	cJSON_Delete(json);
	free(err);
	jira_call_free(c);
}

/*
 * What Jira answered to method path, as a result for the callbacks: its
 * JSON (*json) and error text (*err) are the caller's to free after.
 */
void
jira_response(const struct http_response *res, const char *method,
    const char *path, struct jira_result *jr, cJSON **json, char **err)
{
	memset(jr, 0, sizeof(*jr));
	*json = NULL;
	*err = NULL;
	jr->status = res->status;
	if (res->status == 0) {
		xasprintf(err, "Jira is unreachable (%s)", res->error != NULL ?
		    res->error : "failed");
		jr->error = *err;
		return;
	}
	if (res->body_len > 0)
		*json = cJSON_ParseWithLength(res->body, res->body_len);
	jr->json = *json;
	if (res->status < 200 || res->status > 299) {
		*err = jira_error_text(*json, res->status);
		jr->error = *err;
		log_warnx("jira %s %s: HTTP %d: %s", method, path,
		    res->status, *err);
	} else if (res->body_len > 0 && *json == NULL) {
		/*
		 * A success whose answer cannot be read: the work may be
		 * done, but what Jira said is lost. An error (with the 2xx
		 * status kept), so a write is unsure and a read failed.
		 */
		jr->error = "Jira's answer could not be read";
		log_warnx("jira %s %s: HTTP %d with an unreadable body",
		    method, path, res->status);
	}
}

/* Call the Jira REST API; body (may be NULL) is consumed. */
void
jira_request(const char *method, const char *path, cJSON *body, int flags,
    jira_cb cb, void *arg)
{
	struct jira_call	*c;

	c = xcalloc(1, sizeof(*c));
	c->method = xstrdup(method);
	c->path = xstrdup(path);
	c->flags = flags;
	c->cb = cb;
	c->arg = arg;
	if (body != NULL) {
		c->body = json_print(body);
		cJSON_Delete(body);
	}
	jira_send(c);
}

static void
jira_search_send(struct jira_call *c)
{
	cJSON	*req;

	req = cJSON_Duplicate(c->search_req, 1);
	free(c->path);
	free(c->body);
	if (jira_flavor() == JIRA_FLAVOR_DATACENTER) {
		c->path = xstrdup("/rest/api/2/search");
		cJSON_AddNumberToObject(req, "startAt", c->cursor != NULL ?
		    strtol(c->cursor, NULL, 10) : 0);
	} else {
		c->path = xstrdup("/rest/api/2/search/jql");
		if (c->cursor != NULL)
			cJSON_AddStringToObject(req, "nextPageToken",
			    c->cursor);
	}
	c->body = json_print(req);
	cJSON_Delete(req);
	jira_send(c);
}

/* Search with JQL (built by the caller from validated or quoted values). */
void
jira_search(const char *jql, const char *fields, int max, jira_cb cb,
    void *arg)
{
	jira_search_at(jql, fields, max, NULL, cb, arg);
}

/*
 * One page of a search: cursor is NULL for the first, then what
 * jira_search_next said (Cloud's nextPageToken, or Data Center's startAt
 * as a number). A cursor from one flavour means nothing to the other, so
 * the flavour can only switch on a first page.
 */
void
jira_search_at(const char *jql, const char *fields, int max,
    const char *cursor, jira_cb cb, void *arg)
{
	struct jira_call	*c;
	cJSON			*req, *f;
	char			*copy, *tok, *save;

	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "jql", jql);
	cJSON_AddNumberToObject(req, "maxResults", max);
	f = cJSON_AddArrayToObject(req, "fields");
	copy = xstrdup(fields);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(f, cJSON_CreateString(tok));
	free(copy);

	c = xcalloc(1, sizeof(*c));
	c->method = xstrdup("POST");
	/* A search changes nothing: safe to retry. */
	c->flags = HTTP_IDEMPOTENT;
	c->cb = cb;
	c->arg = arg;
	c->search = 1;
	c->search_req = req;
	if (cursor != NULL && *cursor != '\0' && strlen(cursor) < 4096)
		c->cursor = xstrdup(cursor);
	jira_search_send(c);
}

/*
 * The cursor for the page after this answer, or NULL on the last page;
 * caller frees. Cloud: nextPageToken (absent or isLast on the last);
 * Data Center: startAt + the issues returned, while below total.
 */
char *
jira_search_next(const struct jira_result *jr)
{
	const cJSON	*issues = json_path(jr->json, "issues");
	const char	*tok;
	double		 start, total;
	int		 n = cJSON_GetArraySize(issues);
	char		*out;

	if (jr->error != NULL || !cJSON_IsArray(issues) || n == 0)
		return (NULL);
	if ((tok = json_str(jr->json, "nextPageToken")) != NULL) {
		if (json_bool(jr->json, "isLast") || *tok == '\0' ||
		    strlen(tok) >= 4096)
			return (NULL);
		return (xstrdup(tok));
	}
	start = json_num(jr->json, "startAt", -1);
	total = json_num(jr->json, "total", -1);
	if (start < 0 || total < 0 || start + n >= total || start + n > 1e9)
		return (NULL);
	xasprintf(&out, "%d", (int)start + n);
	return (out);
}

/*
 * Incident tickets (jira.project, jira.issue_type) and corrective-action
 * tickets (jira.followup_label, any project) updated in the last minutes
 * minutes, oldest change first: one page of what the poller follows. The
 * period is relative ("-15m"), so Jira's idea of now and of the API
 * user's time zone decides, not ours.
 */
void
jira_issues_updated(long long minutes, const char *fields,
    const char *cursor, jira_cb cb, void *arg)
{
	char	*p, *t, *l, *jql;

	p = jira_jql_quote(cfg->jira.project);
	t = jira_jql_quote(cfg->jira.issue_type);
	l = jira_jql_quote(cfg->jira.followup_label);
	xasprintf(&jql, "((project = %s AND issuetype = %s) OR labels = %s) "
	    "AND updated >= \"-%lldm\" ORDER BY updated ASC, key ASC", p, t,
	    l, minutes < 1 ? 1 : minutes);
	jira_search_at(jql, fields, JIRA_POLL_PAGE, cursor, cb, arg);
	free(jql);
	free(p);
	free(t);
	free(l);
}

/*
 * Create an incident ticket in jira.project: summary and description are
 * plain text; label (may be NULL) is the creating job's token, the only
 * thing a probe can find the ticket by if the answer is lost. Never
 * retried by the HTTP layer: only the job engine resends, after its probe.
 */
void
jira_issue_create(const char *summary, const char *description,
    const char *label, jira_cb cb, void *arg)
{
	cJSON	*body, *fields, *o, *l;

	body = cJSON_CreateObject();
	fields = cJSON_AddObjectToObject(body, "fields");
	o = cJSON_AddObjectToObject(fields, "project");
	cJSON_AddStringToObject(o, "key", cfg->jira.project);
	o = cJSON_AddObjectToObject(fields, "issuetype");
	cJSON_AddStringToObject(o, "name", cfg->jira.issue_type);
	cJSON_AddStringToObject(fields, "summary", summary);
	cJSON_AddStringToObject(fields, "description", description);
	if (label != NULL) {
		l = cJSON_AddArrayToObject(fields, "labels");
		cJSON_AddItemToArray(l, cJSON_CreateString(label));
	}
	jira_request("POST", "/rest/api/2/issue", body, 0, cb, arg);
}

/* Tickets of our projects carrying label (a job's token), key only. */
void
jira_issue_find_label(const char *label, jira_cb cb, void *arg)
{
	char	*q, *jql;

	q = jira_jql_quote(label);
	xasprintf(&jql, "labels = %s ORDER BY created ASC", q);
	jira_search(jql, "summary", 5, cb, arg);
	free(jql);
	free(q);
}

/* A key that cannot go into a path: answer cb with a 400, return 1. */
static int
jira_bad_key(const char *key, jira_cb cb, void *arg)
{
	struct jira_result	jr;

	if (key != NULL && jira_valid_key(key))
		return (0);
	memset(&jr, 0, sizeof(jr));
	jr.status = 400;
	jr.error = "not a ticket key";
	cb(&jr, arg);
	return (1);
}

/*
 * Read one ticket of our projects: key (validated here too: it goes into
 * the path) and fields, a comma-separated list. A read: safe to retry.
 */
void
jira_issue_get(const char *key, const char *fields, jira_cb cb, void *arg)
{
	char	*path, *f;

	if (jira_bad_key(key, cb, arg))
		return;
	f = url_encode(fields);
	xasprintf(&path, "/rest/api/2/issue/%s?fields=%s", key, f);
	jira_request("GET", path, NULL, HTTP_IDEMPOTENT, cb, arg);
	free(path);
	free(f);
}

/*
 * Add a plain-text comment to key. Jira has no idempotency key for
 * comments: never retried by the HTTP layer; a caller that must not
 * comment twice looks first with jira_issue_comments.
 */
void
jira_issue_comment(const char *key, const char *text, jira_cb cb, void *arg)
{
	cJSON	*body;
	char	*path;

	if (jira_bad_key(key, cb, arg))
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "body", text);
	xasprintf(&path, "/rest/api/2/issue/%s/comment", key);
	jira_request("POST", path, body, 0, cb, arg);
	free(path);
}

/*
 * Replace the body of comment id on key (plain text, wiki markup). The
 * same body sent twice leaves the same comment: safe for a job to resend,
 * but not retried by the HTTP layer (a caller decides).
 */
void
jira_issue_comment_update(const char *key, const char *id, const char *text,
    jira_cb cb, void *arg)
{
	cJSON	*body;
	char	*path, *eid;

	if (jira_bad_key(key, cb, arg))
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "body", text);
	eid = url_encode(id);
	xasprintf(&path, "/rest/api/2/issue/%s/comment/%s", key, eid);
	jira_request("PUT", path, body, 0, cb, arg);
	free(path);
	free(eid);
}

/* Set one text field of key (a field id: "description", "customfield_1"). */
void
jira_issue_set_field(const char *key, const char *field, const char *text,
    jira_cb cb, void *arg)
{
	cJSON	*body, *fields;
	char	*path;

	if (jira_bad_key(key, cb, arg))
		return;
	body = cJSON_CreateObject();
	fields = cJSON_AddObjectToObject(body, "fields");
	cJSON_AddStringToObject(fields, field, text);
	xasprintf(&path, "/rest/api/2/issue/%s", key);
	jira_request("PUT", path, body, 0, cb, arg);
	free(path);
}

/* A link to comment id of key, for people. */
char *
jira_comment_url(const char *key, const char *id)
{
	char	*url, *out;

	url = jira_browse_url(key);
	xasprintf(&out, "%s?focusedCommentId=%s#comment-%s", url, id, id);
	free(url);
	return (out);
}

/* The newest max comments of key ("comments" in the answer). */
void
jira_issue_comments(const char *key, int max, jira_cb cb, void *arg)
{
	char	*path;

	if (jira_bad_key(key, cb, arg))
		return;
	xasprintf(&path, "/rest/api/2/issue/%s/comment?orderBy=-created&"
	    "maxResults=%d", key, max);
	jira_request("GET", path, NULL, HTTP_IDEMPOTENT, cb, arg);
	free(path);
}

/*
 * Link key to a page (a remote link). Jira upserts by globalId: sending
 * the same link again updates it instead of adding a second, so this is
 * safe to retry and to repeat after a crash.
 */
void
jira_issue_link(const char *key, const struct jira_link *l, jira_cb cb,
    void *arg)
{
	cJSON	*body, *obj;
	char	*path;

	if (jira_bad_key(key, cb, arg))
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "globalId", l->global_id);
	if (l->relationship != NULL)
		cJSON_AddStringToObject(body, "relationship", l->relationship);
	obj = cJSON_AddObjectToObject(body, "object");
	cJSON_AddStringToObject(obj, "url", l->url);
	cJSON_AddStringToObject(obj, "title", l->title);
	if (l->summary != NULL)
		cJSON_AddStringToObject(obj, "summary", l->summary);
	xasprintf(&path, "/rest/api/2/issue/%s/remotelink", key);
	jira_request("POST", path, body, HTTP_IDEMPOTENT, cb, arg);
	free(path);
}

/*
 * The outcome of a Jira write that failed (jr->error set), for a job:
 * 429 is certainly not done, another 4xx will not be, and a 5xx, a
 * redirect, an unreadable 2xx or no answer may have been done, so the
 * next attempt probes.
 */
void
jira_job_failed(struct job *j, const struct jira_result *jr)
{
	if (jr->status == 429)
		job_retry(j, 0, jr->error);
	else if (jira_maybe_done(jr))
		job_unsure(j, jr->error);
	else
		job_fail(j, jr->error);
}

/* 1 if a failed call may have taken effect (no answer, 5xx, 2xx, 3xx). */
int
jira_maybe_done(const struct jira_result *jr)
{
	return (jr->status == 0 || (jr->status >= 200 && jr->status < 400) ||
	    jr->status >= 500);
}

/* For a job whose step is one Jira write: done when it is, else as above. */
void
jira_job_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;

	if (jr->error == NULL)
		job_done(j, NULL);
	else
		jira_job_failed(j, jr);
}
