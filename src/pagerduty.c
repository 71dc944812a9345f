/*
 * pagerduty.c: PagerDuty REST API v2 client.
 *
 * Authorization must be exactly "Token token=KEY" and the versioned
 * Accept header is required. Creating and updating incidents also needs
 * From: the email of a PagerDuty user. Errors come back as
 * {"error":{"message","code","errors":[...]}}; 429 and 5xx retries are
 * http.c's business, 400s are final.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define PD_ERROR_MAX	500

struct pd_call {
	char		*method;
	char		*path;
	pd_cb		 cb;
	void		*arg;
};

static void	pd_call_cb(const struct http_response *, void *);
static char	*pd_error_text(const cJSON *, int);

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
	const char		*h;

	memset(&pr, 0, sizeof(pr));
	pr.status = res->status;
	pr.rl_remaining = pr.rl_reset = -1;
	if ((h = http_response_header(res, "ratelimit-remaining")) != NULL)
		pr.rl_remaining = atoi(h);
	if ((h = http_response_header(res, "ratelimit-reset")) != NULL)
		pr.rl_reset = atoi(h);
	if (res->status == 0) {
		xasprintf(&err, "PagerDuty is unreachable (%s)", res->error);
		pr.error = err;
		goto done;
	}
	if (res->body_len > 0)
		json = cJSON_ParseWithLength(res->body, res->body_len);
	pr.json = json;
	if (res->status < 200 || res->status > 299) {
		err = pd_error_text(json, res->status);
		pr.error = err;
		pr.code = (int)json_num(json, "error.code", 0);
		log_warnx("pagerduty %s %s: HTTP %d: %s", c->method, c->path,
		    res->status, err);
	}
done:
	c->cb(&pr, c->arg);
	cJSON_Delete(json);
	free(err);
	free(c->method);
	free(c->path);
	free(c);
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
	http_request(&ha, pd_call_cb, c);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	free(from);
	free(url);
	free(payload);
	free(name);
}
