/*
 * pagerduty.c: PagerDuty REST API v2 client.
 *
 * Authorization must be exactly "Token token=KEY" and the versioned
 * Accept header is required. Creating and updating incidents also needs
 * From: the email of a PagerDuty user. Errors come back as
 * {"error":{"message","code","errors":[...]}}.
 *
 * Reads (GET) are retried by http.c. The domain functions that change
 * PagerDuty (an incident, a responder request) are sent once: their
 * callers are job kinds (page.c), and the job engine decides what a 429,
 * a 5xx or a lost answer means, probing before anything is sent again.
 * Nothing outside this file knows a REST path.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define PD_ERROR_MAX	500
#define PD_LIST_MAX_S	"100"	/* PagerDuty's largest page */

struct pd_find {
	char		*email;
	pd_cb		 cb;
	void		*arg;
};

struct pd_call {
	char		*method;
	char		*path;
	pd_cb		 cb;
	void		*arg;
};

static void	pd_call_cb(const struct http_response *, void *);
static void	pd_call_free(void *);
static char	*pd_error_text(const cJSON *, int);
static void	pd_get(const char *, const char *, const char *, pd_cb,
		    void *);
static void	pd_user_by_email_cb(const struct pd_result *, void *);
static void	pd_change(const char *, const char *, const char *, cJSON *,
		    pd_cb, void *);

static char *
pd_error_text(const cJSON *j, int status)
{
	const cJSON	*item;
	const char	*msg;
	char		*out, *tmp;

	msg = json_str(j, "error.message");
	if (msg == NULL) {
		switch (status) {
		case 401:
			return (xstrdup("authentication failed (check "
			    "pagerduty.api_token)"));
		case 402:
			return (xstrdup("the PagerDuty account lacks the "
			    "ability this needs"));
		case 403:
			return (xstrdup("permission denied"));
		case 404:
			return (xstrdup("not found"));
		}
		xasprintf(&out, "HTTP %d", status);
		return (out);
	}
	out = xstrdup(msg);
	cJSON_ArrayForEach(item, json_path(j, "error.errors")) {
		if (!cJSON_IsString(item))
			continue;
		xasprintf(&tmp, "%s: %s", out, item->valuestring);
		free(out);
		out = tmp;
	}
	/* Cut on a character boundary: the text goes into JSON. */
	tmp = utf8_truncate(out, PD_ERROR_MAX, 1);
	free(out);
	return (tmp);
}

static void
pd_call_cb(const struct http_response *res, void *arg)
{
	struct pd_call		*c = arg;
	struct pd_result	 pr;
	cJSON			*json = NULL;
	char			*err = NULL;

	metrics_api_call("pagerduty", res);
	pd_response(res, c->method, c->path, &pr, &json, &err);
	c->cb(&pr, c->arg);
	cJSON_Delete(json);
	free(err);
	pd_call_free(c);
}

/* After the callback, or instead of it when shutdown cancels the call. */
static void
pd_call_free(void *arg)
{
	struct pd_call	*c = arg;

	free(c->method);
	free(c->path);
	free(c);
}

/*
 * 1 if a failed call may have taken effect: no answer, a 5xx, or an
 * answer that is not an error but could not be used (an unreadable
 * 2xx, a redirect). A change is then unsure; a read is tried again.
 */
int
pd_maybe_done(const struct pd_result *pr)
{
	return (pr->status == 0 || (pr->status >= 200 && pr->status < 400) ||
	    pr->status >= 500);
}

/*
 * What PagerDuty answered to method path, as a result for the callbacks:
 * its JSON (*json) and error text (*err) are the caller's to free after.
 */
void
pd_response(const struct http_response *res, const char *method,
    const char *path, struct pd_result *pr, cJSON **json, char **err)
{
	const char	*h;

	memset(pr, 0, sizeof(*pr));
	*json = NULL;
	*err = NULL;
	pr->status = res->status;
	pr->rl_remaining = pr->rl_reset = -1;
	pr->retry_after_ms = -1;
	if ((h = http_response_header(res, "ratelimit-remaining")) != NULL)
		pr->rl_remaining = atoi(h);
	if ((h = http_response_header(res, "ratelimit-reset")) != NULL)
		pr->rl_reset = atoi(h);
	if ((h = http_response_header(res, "retry-after")) != NULL)
		pr->retry_after_ms = http_parse_retry_after(h, now_wall());
	if (res->status == 0) {
		xasprintf(err, "PagerDuty is unreachable (%s)",
		    res->error != NULL ? res->error : "failed");
		pr->error = *err;
		return;
	}
	if (res->body_len > 0)
		*json = cJSON_ParseWithLength(res->body, res->body_len);
	pr->json = *json;
	if (res->status < 200 || res->status > 299) {
		*err = pd_error_text(*json, res->status);
		pr->error = *err;
		pr->code = json_int(*json, "error.code", 0, INT_MIN, INT_MAX);
		log_warnx("pagerduty %s %s: HTTP %d: %s", method, path,
		    res->status, *err);
	} else if (res->body_len > 0 && *json == NULL) {
		/* A success we cannot read: a change may be done. */
		pr->error = "PagerDuty's answer could not be read";
		log_warnx("pagerduty %s %s: HTTP %d with an unreadable body",
		    method, path, res->status);
	}
}

/* Call the PagerDuty REST API; body (may be NULL) is consumed. */
void
pd_request(const char *method, const char *path, cJSON *body, int flags,
    pd_cb cb, void *arg)
{
	struct http_request_args	 ha;
	struct pd_call			*c;
	const char			*headers[4];
	char				*url, *auth, *from, *payload = NULL, *name;

	c = xcalloc(1, sizeof(*c));
	c->method = xstrdup(method);
	c->path = xstrdup(path);
	c->cb = cb;
	c->arg = arg;

	xasprintf(&url, "%s%s", cfg->pagerduty.api_url, path);
	xasprintf(&auth, "Authorization: Token token=%s",
	    cfg->pagerduty.api_token);
	xasprintf(&from, "From: %s", cfg->pagerduty.from);
	xasprintf(&name, "pagerduty %s %s", method, path);
	headers[0] = auth;
	headers[1] = "Accept: application/vnd.pagerduty+json;version=2";
	headers[2] = from;
	headers[3] = NULL;

	memset(&ha, 0, sizeof(ha));
	ha.method = method;
	ha.url = url;
	ha.headers = headers;
	ha.flags = flags;
	ha.log_name = name;
	if (strcmp(method, "GET") == 0)
		ha.flags |= HTTP_IDEMPOTENT;
	if (body != NULL) {
		payload = json_print(body);
		cJSON_Delete(body);
		ha.content_type = "application/json";
		ha.body = payload;
		ha.body_len = strlen(payload);
	}
	ha.freecb = pd_call_free;
	http_request(&ha, pd_call_cb, c);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	free(from);
	free(url);
	free(payload);
	free(name);
}

/* GET <prefix><value percent-encoded><suffix>. */
static void
pd_get(const char *prefix, const char *value, const char *suffix, pd_cb cb,
    void *arg)
{
	char	*q, *path;

	q = url_encode(value != NULL ? value : "");
	xasprintf(&path, "%s%s%s", prefix, q, suffix);
	pd_request("GET", path, NULL, 0, cb, arg);
	free(q);
	free(path);
}

/*
 * Create an incident; sent once (the caller's job probes before any
 * resend). json: {"incident": {...}}.
 */
void
pd_incident_create(const struct pd_incident_args *a, pd_cb cb, void *arg)
{
	cJSON	*body, *i, *o, *as, *x;

	body = cJSON_CreateObject();
	i = cJSON_AddObjectToObject(body, "incident");
	cJSON_AddStringToObject(i, "type", "incident");
	cJSON_AddStringToObject(i, "title", a->title);
	o = cJSON_AddObjectToObject(i, "service");
	cJSON_AddStringToObject(o, "id", a->service);
	cJSON_AddStringToObject(o, "type", "service_reference");
	cJSON_AddStringToObject(i, "urgency", "high");
	cJSON_AddStringToObject(i, "incident_key", a->incident_key);
	o = cJSON_AddObjectToObject(i, "body");
	cJSON_AddStringToObject(o, "type", "incident_body");
	cJSON_AddStringToObject(o, "details", a->details);
	if (a->assignee != NULL) {
		as = cJSON_AddArrayToObject(i, "assignments");
		x = cJSON_CreateObject();
		o = cJSON_AddObjectToObject(x, "assignee");
		cJSON_AddStringToObject(o, "id", a->assignee);
		cJSON_AddStringToObject(o, "type", "user_reference");
		cJSON_AddItemToArray(as, x);
	}
	pd_request("POST", "/incidents", body, HTTP_NO_RETRY, cb, arg);
}

/*
 * Every incident ever opened with incident_key, whatever its status
 * (triggered, acknowledged and resolved; no date window), oldest first.
 * json: {"incidents": [...]}.
 */
void
pd_incident_find_by_key(const char *incident_key, pd_cb cb, void *arg)
{
	pd_get("/incidents?incident_key=", incident_key, "&statuses[]="
	    "triggered&statuses[]=acknowledged&statuses[]=resolved"
	    "&date_range=all&limit=" PD_LIST_MAX_S, cb, arg);
}

/* One incident, with its responder requests. json: {"incident": {...}}. */
void
pd_incident_get(const char *id, pd_cb cb, void *arg)
{
	pd_get("/incidents/", id, "", cb, arg);
}

/* An incident's log entries, newest first. json: {"log_entries": [...]}. */
void
pd_incident_log_entries(const char *id, pd_cb cb, void *arg)
{
	pd_get("/incidents/", id, "/log_entries?limit=" PD_LIST_MAX_S, cb,
	    arg);
}

/*
 * One page (limit 100, from offset) of an incident's log entries created
 * at or after since (ISO 8601; NULL: all), newest first, the agents and
 * assignees as references. json: {"log_entries": [...], "more"}.
 */
void
pd_incident_log_page(const char *id, const char *since, int offset,
    pd_cb cb, void *arg)
{
	char	*s, *suffix;

	s = url_encode(since != NULL ? since : "");
	xasprintf(&suffix, "/log_entries?limit=" PD_LIST_MAX_S "&offset=%d"
	    "&time_zone=UTC%s%s", offset, since != NULL ? "&since=" : "",
	    since != NULL ? s : "");
	pd_get("/incidents/", id, suffix, cb, arg);
	free(s);
	free(suffix);
}

/* PUT /incidents/{id} with the fields of upd (consumed); sent once. */
static void
pd_incident_update(const char *id, cJSON *upd, pd_cb cb, void *arg)
{
	cJSON	*body;

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(upd, "type", "incident_reference");
	cJSON_AddItemToObject(body, "incident", upd);
	pd_change("PUT", id, "", body, cb, arg);
}

/* A change to /incidents/{id}<suffix>, sent once; body is consumed. */
static void
pd_change(const char *method, const char *id, const char *suffix,
    cJSON *body, pd_cb cb, void *arg)
{
	char	*q, *path;

	q = url_encode(id);
	xasprintf(&path, "/incidents/%s%s", q, suffix);
	pd_request(method, path, body, HTTP_NO_RETRY, cb, arg);
	free(q);
	free(path);
}

/*
 * Escalate an incident to level (1-based) of its escalation policy: the
 * people of that level are notified. Sent once. json: {"incident"}.
 */
void
pd_incident_escalate(const char *id, int level, pd_cb cb, void *arg)
{
	cJSON	*upd = cJSON_CreateObject();

	cJSON_AddNumberToObject(upd, "escalation_level", level);
	pd_incident_update(id, upd, cb, arg);
}

/* Resolve an incident (resolving twice is harmless). json: {"incident"}. */
void
pd_incident_resolve(const char *id, pd_cb cb, void *arg)
{
	cJSON	*upd = cJSON_CreateObject();

	cJSON_AddStringToObject(upd, "status", "resolved");
	pd_incident_update(id, upd, cb, arg);
}

/*
 * Ask target (a user, or an escalation policy when is_ep) to join the
 * incident; sent once. json: {"responder_request": {...}}.
 */
void
pd_responder_request(const char *incident, const char *requester,
    const char *message, int is_ep, const char *target, pd_cb cb, void *arg)
{
	cJSON	*body, *ts, *w, *t;

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "requester_id", requester);
	cJSON_AddStringToObject(body, "message", message);
	ts = cJSON_AddArrayToObject(body, "responder_request_targets");
	w = cJSON_CreateObject();
	t = cJSON_AddObjectToObject(w, "responder_request_target");
	cJSON_AddStringToObject(t, "id", target != NULL ? target : "");
	cJSON_AddStringToObject(t, "type", is_ep ?
	    "escalation_policy_reference" : "user_reference");
	cJSON_AddItemToArray(ts, w);
	pd_change("POST", incident, "/responder_requests", body, cb, arg);
}

/* One service (and its escalation policy). json: {"service": {...}}. */
void
pd_service_get(const char *id, pd_cb cb, void *arg)
{
	pd_get("/services/", id, "", cb, arg);
}

/* Services whose name matches query. json: {"services": [...], "more"}. */
void
pd_service_search(const char *query, int limit, pd_cb cb, void *arg)
{
	char	*suffix;

	xasprintf(&suffix, "&limit=%d", limit);
	pd_get("/services?query=", query, suffix, cb, arg);
	free(suffix);
}

/* One user. json: {"user": {...}}. */
void
pd_user_get(const char *id, pd_cb cb, void *arg)
{
	pd_get("/users/", id, "", cb, arg);
}

/*
 * The PagerDuty user whose email is email (case-insensitive): cb gets
 * json = that user object, or json = NULL and error = NULL if nobody
 * has it.
 */
void
pd_user_by_email(const char *email, pd_cb cb, void *arg)
{
	struct pd_find	*f;

	f = xcalloc(1, sizeof(*f));
	f->email = xstrdup(email);
	f->cb = cb;
	f->arg = arg;
	pd_get("/users?query=", email, "&limit=" PD_LIST_MAX_S,
	    pd_user_by_email_cb, f);
}

static void
pd_user_by_email_cb(const struct pd_result *pr, void *arg)
{
	struct pd_find		*f = arg;
	struct pd_result	 r = *pr;
	const cJSON		*u;
	const char		*e;

	r.json = NULL;
	cJSON_ArrayForEach(u, json_path(pr->json, "users")) {
		e = json_str(u, "email");
		if (pr->error == NULL && e != NULL && json_str(u, "id") !=
		    NULL && strcasecmp(e, f->email) == 0) {
			r.json = u;
			break;
		}
	}
	f->cb(&r, f->arg);
	free(f->email);
	free(f);
}
