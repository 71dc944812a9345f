/*
 * pagerduty-webhooks.c: PagerDuty's v3 webhooks, as the fake sends them.
 *
 * The webhook control op registers a delivery target as a generic
 * webhook subscription (account-wide filter) would. From then on every
 * incident change the fake makes (incident.triggered, .acknowledged,
 * .unacknowledged, .escalated, .delegated, .reassigned, .resolved,
 * .reopened, .annotated, .responder.added, .responder.replied) is POSTed
 * there, one event a request,
 * in the v3 envelope {"event":{"id","event_type","resource_type",
 * "occurred_at","agent","client","data"}}, with PagerDuty's headers:
 * Content-Type and Accept application/json, User-Agent
 * PagerDuty-Webhook/V3.0, X-Webhook-Id (one per webhook, the same on
 * every attempt), X-Webhook-Subscription, and X-PagerDuty-Signature:
 * v1=<hex HMAC-SHA256 of the raw body>, one v1= per secret while
 * secrets rotate, comma-separated. (PagerDuty/developer-docs,
 * docs/webhooks/01-Overview.md, 02-Behavior.md, 04-Signatures.md.)
 *
 * Delivery behaves as documented, scaled down for tests: a 2xx within
 * the timeout (--pd-webhook-timeout, PagerDuty's 5 s by default)
 * delivers; no answer, a 429 or a 5xx is tried again after a backoff
 * that doubles from --pd-webhook-backoff, five attempts in all
 * (PagerDuty keeps on for up to 48 h); any other answer drops it. The
 * webhooks of one subscription and incident go out in order, one at a
 * time. After three dropped in a row the subscription is disabled (for
 * 24 h at PagerDuty) with what it had queued; the webhook op enables it
 * again.
 *
 * webhook_send forges deliveries: raw or altered bodies, wrong, missing
 * or hand-made signatures, an old occurred_at, and duplicates of one
 * sent before (its X-Webhook-Id and body again, as at-least-once
 * delivery does). A forged signature is not PagerDuty's: that delivery
 * is tried once and never counts against the subscription.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sandbox.h"
#include "pagerduty.h"

#define FPD_WH_ATTEMPTS		5
#define FPD_WH_DROPS		3	/* in a row: disabled */
#define FPD_WH_SECRETS		4
#define FPD_WH_RESPONSE_MAX	1024

struct fpd_sub {
	char	 id[16];
	char	*url;
	char	*host;
	int	 port;
	char	*path;		/* and query */
	char	*secrets[FPD_WH_SECRETS];
	size_t	 nsecrets;
	cJSON	*events;	/* event types; NULL: all */
	int	 disabled;
	int	 dropped;	/* webhooks dropped in a row */
};

struct fpd_delivery {
	int				 seq;
	struct fpd_sub			*sub;
	char				 webhook_id[40];
	char				*event_id;	/* or NULL */
	char				*event_type;	/* or NULL */
	char				*resource;	/* order key: incident */
	char				*body;
	char				*signature;	/* NULL: no header */
	int				 forged;
	char				*duplicate_of;
	const char			*state;
	const char			*reason;
	int				 attempts;
	int				 status;	/* last; 0: none */
	const char			*error;		/* of the attempt */
	cJSON				*tries;
	struct evhttp_connection	*conn;
	struct event			*timer;
};

static struct fpd_sub		**fpd_subs;
static size_t			  fpd_nsubs;
static struct fpd_delivery	**fpd_dels;
static size_t			  fpd_ndels;
static int			  fpd_del_seq;
/* Runs deliveries on the next turn; frees used connections. */
static struct event		 *fpd_pump_ev;
static struct evhttp_connection	**fpd_dead;
static size_t			  fpd_ndead;

/* The outbound event types of the v3 docs. */
static const char *fpd_event_types[] = {
	"incident.acknowledged", "incident.annotated", "incident.delegated",
	"incident.escalated", "incident.priority_updated",
	"incident.reassigned", "incident.reopened", "incident.resolved",
	"incident.responder.added", "incident.responder.replied",
	"incident.status_update_published", "incident.triggered",
	"incident.unacknowledged", "service.created", "service.deleted",
	"service.updated"
};

static void	fpd_pump(void);
static void	fpd_delivery_send(struct fpd_delivery *);

/* ---------------------------------------------------------------------- */
/* Ids, signatures, envelopes. */

/* X-Webhook-Id: a UUID (version 4). */
static void
fpd_uuid(char out[40])
{
	char	h[40];

	sb_random_hex(h, 16);
	h[12] = '4';
	h[16] = "89ab"[h[16] % 4];
	snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
	    h + 16, h + 20);
}

/* Event ids look like ULIDs: time, then randomness, in Crockford base32. */
static char *
fpd_event_id(void)
{
	static const char	 b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t		 t = (uint64_t)fpd_now();
	char			 id[27], h[40];
	int			 i;

	for (i = 9; i >= 0; i--) {
		id[i] = b32[t % 32];
		t /= 32;
	}
	sb_random_hex(h, 16);
	for (i = 0; i < 16; i++)
		id[10 + i] = b32[(unsigned char)h[i] % 32];
	id[26] = '\0';
	return (sb_strdup(id));
}

/* "v1=<hex>" for one secret. */
static void
fpd_sign1(const char *secret, const char *body, char out[72])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	len = 0, i;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, strlen(body), md, &len);
	memcpy(out, "v1=", 4);
	for (i = 0; i < len && i < 32; i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", md[i]);
}

/* X-PagerDuty-Signature: one v1= per secret, comma-separated. */
static char *
fpd_signature(const struct fpd_sub *sub, const char *body)
{
	char	*out, one[72];
	size_t	 i;

	out = sb_calloc(sub->nsecrets, sizeof one + 1);
	for (i = 0; i < sub->nsecrets; i++) {
		fpd_sign1(sub->secrets[i], body, one);
		if (i > 0)
			strcat(out, ",");
		strcat(out, one);
	}
	return (out);
}

/* The incident as event data (the "incident" data type of the docs). */
static cJSON *
fpd_incident_data(const struct fpd_incident *in)
{
	cJSON	*o, *a;
	size_t	 i;

	o = fpd_incident_ref(in);
	cJSON_DeleteItemFromObjectCaseSensitive(o, "summary");
	cJSON_ReplaceItemInObjectCaseSensitive(o, "type",
	    cJSON_CreateString("incident"));
	cJSON_AddNumberToObject(o, "number", in->number);
	cJSON_AddStringToObject(o, "status", in->status);
	fpd_add_str(o, "incident_key", in->incident_key);
	cJSON_AddItemToObject(o, "created_at", fpd_time_json(in->created));
	cJSON_AddStringToObject(o, "title", in->title);
	cJSON_AddItemToObject(o, "service", fpd_service_ref(in->svc));
	a = cJSON_AddArrayToObject(o, "assignees");
	for (i = 0; i < in->nassign; i++)
		cJSON_AddItemToArray(a, fpd_user_ref(in->assign[i].user));
	cJSON_AddItemToObject(o, "escalation_policy", fpd_ep_ref(in->ep));
	cJSON_AddArrayToObject(o, "teams");
	cJSON_AddNullToObject(o, "priority");
	cJSON_AddStringToObject(o, "urgency", in->urgency);
	cJSON_AddItemToObject(o, "conference_bridge", in->bridge != NULL ?
	    cJSON_Duplicate(in->bridge, 1) : cJSON_CreateNull());
	cJSON_AddNullToObject(o, "resolve_reason");
	return (o);
}

/* {"event":{...}}; data consumed; agent NULL: PagerDuty itself. */
static cJSON *
fpd_envelope(const char *type, const struct fpd_user *agent, cJSON *data)
{
	cJSON	*o, *e;
	char	*id, at[48];

	o = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(o, "event");
	id = fpd_event_id();
	cJSON_AddStringToObject(e, "id", id);
	free(id);
	cJSON_AddStringToObject(e, "event_type", type);
	cJSON_AddStringToObject(e, "resource_type", strncmp(type,
	    "service.", 8) == 0 ? "service" : "incident");
	fpd_time_str(fpd_now(), 1, at, sizeof at);
	cJSON_AddStringToObject(e, "occurred_at", at);
	if (agent != NULL) {
		cJSON_AddItemToObject(e, "agent", fpd_user_ref(agent));
		cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "client"),
		    "name", "PagerDuty");
	} else {
		cJSON_AddNullToObject(e, "agent");
		cJSON_AddNullToObject(e, "client");
	}
	cJSON_AddItemToObject(e, "data", data);
	return (o);
}

/* The incident an event is about (its deliveries go out in order). */
static const char *
fpd_event_resource(const cJSON *payload)
{
	const cJSON	*data = fpd_get(fpd_get(payload, "event"), "data");
	const char	*s;

	if ((s = sb_json_str(fpd_get(data, "incident"), "id")) != NULL)
		return (s);
	if ((s = sb_json_str(data, "id")) != NULL)
		return (s);
	return ("");
}

/* ---------------------------------------------------------------------- */
/* Deliveries. */

static int
fpd_final(const struct fpd_delivery *d)
{
	return (strcmp(d->state, "delivered") == 0 ||
	    strcmp(d->state, "dropped") == 0 ||
	    strcmp(d->state, "not_sent") == 0);
}

static struct fpd_delivery *
fpd_delivery_new(struct fpd_sub *sub, const char *body, const cJSON *payload)
{
	struct fpd_delivery	*d;
	const cJSON		*e = fpd_get(payload, "event");

	d = sb_calloc(1, sizeof *d);
	d->seq = ++fpd_del_seq;
	d->sub = sub;
	fpd_uuid(d->webhook_id);
	if (sb_json_str(e, "id") != NULL)
		d->event_id = sb_strdup(sb_json_str(e, "id"));
	if (sb_json_str(e, "event_type") != NULL)
		d->event_type = sb_strdup(sb_json_str(e, "event_type"));
	d->resource = sb_strdup(fpd_event_resource(payload));
	d->body = sb_strdup(body);
	d->tries = cJSON_CreateArray();
	d->state = sub->disabled ? "not_sent" : "queued";
	if (sub->disabled)
		d->reason = "subscription disabled";
	fpd_dels = sb_realloc(fpd_dels, fpd_ndels + 1, sizeof *fpd_dels);
	fpd_dels[fpd_ndels++] = d;
	return (d);
}

static void
fpd_delivery_free(struct fpd_delivery *d)
{
	if (d->conn != NULL)
		evhttp_connection_free(d->conn);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d->event_id);
	free(d->event_type);
	free(d->resource);
	free(d->body);
	free(d->signature);
	free(d->duplicate_of);
	cJSON_Delete(d->tries);
	free(d);
}

static void
fpd_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fpd_delivery	*d, *e;
	size_t			 i, j;
	int			 blocked;

	(void)fd;
	(void)what;
	(void)arg;
	/* A connection is freed on the turn after its request ended. */
	for (i = 0; i < fpd_ndead; i++)
		evhttp_connection_free(fpd_dead[i]);
	free(fpd_dead);
	fpd_dead = NULL;
	fpd_ndead = 0;
	for (i = 0; i < fpd_ndels; i++) {
		d = fpd_dels[i];
		if (strcmp(d->state, "queued") != 0)
			continue;
		/* One at a time per subscription and incident, in order. */
		blocked = 0;
		for (j = 0; j < i && !blocked; j++) {
			e = fpd_dels[j];
			blocked = !fpd_final(e) && e->sub == d->sub &&
			    strcmp(e->resource, d->resource) == 0;
		}
		if (!blocked)
			fpd_delivery_send(d);
	}
}

/* Run the queue on the next turn of the loop. */
static void
fpd_pump(void)
{
	static const struct timeval	now = { 0, 0 };

	if (fpd_pump_ev == NULL)
		fpd_pump_ev = evtimer_new(sb_base, fpd_pump_cb, NULL);
	evtimer_add(fpd_pump_ev, &now);
}

static void
fpd_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fpd_delivery	*d = arg;

	(void)fd;
	(void)what;
	d->state = "queued";
	fpd_pump();
}

/* A webhook given up on: three in a row disable the subscription. */
static void
fpd_dropped(struct fpd_delivery *d, const char *reason)
{
	struct fpd_sub	*sub = d->sub;
	size_t		 i;

	d->state = "dropped";
	d->reason = reason;
	if (d->forged || ++sub->dropped < FPD_WH_DROPS)
		return;
	sub->disabled = 1;
	sb_log("pagerduty: webhook subscription %s disabled", sub->id);
	for (i = 0; i < fpd_ndels; i++) {
		d = fpd_dels[i];
		if (d->sub != sub || fpd_final(d) ||
		    strcmp(d->state, "sending") == 0)
			continue;
		if (d->timer != NULL)
			event_del(d->timer);
		d->state = "dropped";
		d->reason = "subscription disabled";
	}
}

static void
fpd_delivery_error_cb(enum evhttp_request_error error, void *arg)
{
	struct fpd_delivery	*d = arg;

	d->error = error == EVREQ_HTTP_TIMEOUT ? "timeout" :
	    error == EVREQ_HTTP_EOF ? "connection closed" :
	    error == EVREQ_HTTP_INVALID_HEADER ? "invalid answer" :
	    "connection failed";
}

/* The attempt ended: req NULL when no answer came. */
static void
fpd_delivery_cb(struct evhttp_request *req, void *arg)
{
	struct fpd_delivery	*d = arg;
	struct evbuffer		*in;
	struct timeval		 tv;
	cJSON			*t;
	char			 at[48], *text;
	double			 backoff;
	size_t			 len;
	int			 status;

	status = req != NULL ? evhttp_request_get_response_code(req) : 0;
	fpd_time_str(fpd_now(), 1, at, sizeof at);
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "at", at);
	if (status > 0)
		cJSON_AddNumberToObject(t, "status", status);
	else {
		cJSON_AddNullToObject(t, "status");
		cJSON_AddStringToObject(t, "error", d->error != NULL ?
		    d->error : "no answer");
	}
	if (req != NULL && status > 0) {
		in = evhttp_request_get_input_buffer(req);
		len = evbuffer_get_length(in);
		if (len > FPD_WH_RESPONSE_MAX)
			len = FPD_WH_RESPONSE_MAX;
		text = sb_malloc(len + 1);
		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		cJSON_AddStringToObject(t, "response", text);
		free(text);
	}
	cJSON_AddItemToArray(d->tries, t);
	d->status = status;
	if (d->conn != NULL) {
		fpd_dead = sb_realloc(fpd_dead, fpd_ndead + 1,
		    sizeof *fpd_dead);
		fpd_dead[fpd_ndead++] = d->conn;
		d->conn = NULL;
	}
	if (status >= 200 && status < 300) {
		d->state = "delivered";
		if (!d->forged)
			d->sub->dropped = 0;
	} else if (status != 0 && status != 429 && status < 500)
		fpd_dropped(d, "rejected");
	else if (d->forged || d->attempts >= FPD_WH_ATTEMPTS)
		fpd_dropped(d, d->forged ? "not retried (forged)" :
		    "retries exhausted");
	else {
		d->state = "retrying";
		backoff = sb_opts.pd_webhook_backoff * (1 << (d->attempts - 1));
		tv.tv_sec = (time_t)backoff;
		tv.tv_usec = (suseconds_t)((backoff - (double)tv.tv_sec) * 1e6);
		if (d->timer == NULL)
			d->timer = evtimer_new(sb_base, fpd_retry_cb, d);
		evtimer_add(d->timer, &tv);
	}
	fpd_pump();
}

static void
fpd_delivery_send(struct fpd_delivery *d)
{
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	struct timeval		 tv;
	char			 buf[320];

	d->state = "sending";
	d->attempts++;
	d->error = NULL;
	d->conn = evhttp_connection_base_new(sb_base, NULL, d->sub->host,
	    (unsigned short)d->sub->port);
	req = evhttp_request_new(fpd_delivery_cb, d);
	if (d->conn == NULL || req == NULL) {
		if (req != NULL)
			evhttp_request_free(req);
		d->error = "cannot connect";
		fpd_delivery_cb(NULL, d);
		return;
	}
	tv.tv_sec = (time_t)sb_opts.pd_webhook_timeout;
	tv.tv_usec = (suseconds_t)((sb_opts.pd_webhook_timeout -
	    (double)tv.tv_sec) * 1e6);
	evhttp_connection_set_timeout_tv(d->conn, &tv);
	evhttp_connection_set_retries(d->conn, 0);
	evhttp_request_set_error_cb(req, fpd_delivery_error_cb);
	h = evhttp_request_get_output_headers(req);
	snprintf(buf, sizeof buf, "%s:%d", d->sub->host, d->sub->port);
	evhttp_add_header(h, "Host", buf);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "User-Agent", "PagerDuty-Webhook/V3.0");
	evhttp_add_header(h, "X-Webhook-Id", d->webhook_id);
	evhttp_add_header(h, "X-Webhook-Subscription", d->sub->id);
	if (d->signature != NULL)
		evhttp_add_header(h, "X-PagerDuty-Signature", d->signature);
	snprintf(buf, sizeof buf, "%zu", strlen(d->body));
	evhttp_add_header(h, "Content-Length", buf);
	evbuffer_add(evhttp_request_get_output_buffer(req), d->body,
	    strlen(d->body));
	/* A failure may have been reported already (cb with NULL). */
	if (evhttp_make_request(d->conn, req, EVHTTP_REQ_POST,
	    d->sub->path) != 0 && strcmp(d->state, "sending") == 0) {
		d->error = "cannot send";
		fpd_delivery_cb(NULL, d);
	}
}

/* ---------------------------------------------------------------------- */
/* Events. */

static int
fpd_wants(const struct fpd_sub *sub, const char *type)
{
	const cJSON	*v;

	if (sub->events == NULL)
		return (1);
	cJSON_ArrayForEach(v, sub->events) {
		if (strcmp(v->valuestring, type) == 0)
			return (1);
	}
	return (0);
}

/* One event to every subscription that wants it; payload consumed. */
static void
fpd_emit(cJSON *payload)
{
	struct fpd_delivery	*d;
	const char		*type;
	char			*body;
	size_t			 i;

	type = sb_json_str(fpd_get(payload, "event"), "event_type");
	body = cJSON_PrintUnformatted(payload);
	for (i = 0; i < fpd_nsubs; i++) {
		if (!fpd_wants(fpd_subs[i], type))
			continue;
		d = fpd_delivery_new(fpd_subs[i], body, payload);
		d->signature = fpd_signature(fpd_subs[i], body);
	}
	free(body);
	cJSON_Delete(payload);
	if (fpd_nsubs > 0)
		fpd_pump();
}

void
fpd_webhook_incident(const struct fpd_incident *in, const char *type,
    const struct fpd_user *agent)
{
	if (fpd_nsubs > 0)
		fpd_emit(fpd_envelope(type, agent, fpd_incident_data(in)));
}

void
fpd_webhook_note(const struct fpd_incident *in, const cJSON *note,
    const struct fpd_user *agent)
{
	cJSON	*o;

	if (fpd_nsubs == 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "incident", fpd_incident_ref(in));
	cJSON_AddStringToObject(o, "id", sb_json_str(note, "id"));
	cJSON_AddStringToObject(o, "content", sb_json_str(note, "content"));
	cJSON_AddFalseToObject(o, "trimmed");
	cJSON_AddStringToObject(o, "type", "incident_note");
	fpd_emit(fpd_envelope("incident.annotated", agent, o));
}

void
fpd_webhook_responder(const struct fpd_incident *in, const char *type,
    const cJSON *rp, const struct fpd_user *agent)
{
	struct fpd_user	*u;
	struct fpd_ep	*ep;
	cJSON		*o;

	if (fpd_nsubs == 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "incident", fpd_incident_ref(in));
	u = fpd_user_by_id(sb_json_str(rp, "user"));
	cJSON_AddItemToObject(o, "user", u != NULL ? fpd_user_ref(u) :
	    cJSON_CreateNull());
	ep = fpd_ep_find(sb_json_str(rp, "target"));
	cJSON_AddItemToObject(o, "escalation_policy", ep != NULL ?
	    fpd_ep_ref(ep) : cJSON_CreateNull());
	cJSON_AddStringToObject(o, "message", sb_json_str(rp, "message"));
	cJSON_AddStringToObject(o, "state", sb_json_str(rp, "state"));
	cJSON_AddStringToObject(o, "type", "incident_responder");
	fpd_emit(fpd_envelope(type, agent, o));
}

/* ---------------------------------------------------------------------- */
/* Control ops. */

static struct fpd_sub *
fpd_sub_find(const char *id)
{
	size_t	i;

	for (i = 0; id != NULL && i < fpd_nsubs; i++) {
		if (strcmp(fpd_subs[i]->id, id) == 0)
			return (fpd_subs[i]);
	}
	return (NULL);
}

static void
fpd_sub_free(struct fpd_sub *sub)
{
	size_t	i;

	free(sub->url);
	free(sub->host);
	free(sub->path);
	for (i = 0; i < sub->nsecrets; i++)
		free(sub->secrets[i]);
	cJSON_Delete(sub->events);
	free(sub);
}

/* As GET /webhook_subscriptions shows one; the secret only on create. */
static cJSON *
fpd_sub_json(const struct fpd_sub *sub, int secret)
{
	cJSON	*o, *m, *f;
	size_t	 i;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", sub->id);
	cJSON_AddStringToObject(o, "type", "webhook_subscription");
	cJSON_AddBoolToObject(o, "active", 1);
	m = cJSON_AddObjectToObject(o, "delivery_method");
	cJSON_AddStringToObject(m, "type", "http_delivery_method");
	cJSON_AddStringToObject(m, "url", sub->url);
	fpd_add_str(m, "secret", secret ? sub->secrets[0] : NULL);
	cJSON_AddBoolToObject(m, "temporarily_disabled", sub->disabled);
	cJSON_AddArrayToObject(m, "custom_headers");
	if (sub->events != NULL)
		cJSON_AddItemToObject(o, "events",
		    cJSON_Duplicate(sub->events, 1));
	else {
		m = cJSON_AddArrayToObject(o, "events");
		for (i = 0; i < sizeof fpd_event_types /
		    sizeof fpd_event_types[0]; i++)
			cJSON_AddItemToArray(m,
			    cJSON_CreateString(fpd_event_types[i]));
	}
	f = cJSON_AddObjectToObject(o, "filter");
	cJSON_AddStringToObject(f, "type", "account_reference");
	if (secret) {
		m = cJSON_AddArrayToObject(o, "secrets");
		for (i = 0; i < sub->nsecrets; i++)
			cJSON_AddItemToArray(m,
			    cJSON_CreateString(sub->secrets[i]));
	}
	return (o);
}

/* The receiver: plain http on loopback (the sandbox reaches no further). */
static cJSON *
fpd_sub_url(struct fpd_sub *sub, const char *url)
{
	struct evhttp_uri	*u;
	const char		*scheme, *host, *path, *query;
	cJSON			*err = NULL;

	if ((u = evhttp_uri_parse(url)) == NULL)
		return (fpd_ctl_error("url: not a URL"));
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL ||
	    (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0))
		err = fpd_ctl_error("url: http://127.0.0.1 or localhost only");
	else {
		free(sub->url);
		free(sub->host);
		free(sub->path);
		sub->url = sb_strdup(url);
		sub->host = sb_strdup(host);
		sub->port = evhttp_uri_get_port(u) > 0 ?
		    evhttp_uri_get_port(u) : 80;
		sb_asprintf(&sub->path, "%s%s%s", path != NULL && *path !=
		    '\0' ? path : "/", query != NULL ? "?" : "",
		    query != NULL ? query : "");
	}
	evhttp_uri_free(u);
	return (err);
}

static int
fpd_known_event(const char *type)
{
	size_t	i;

	for (i = 0; i < sizeof fpd_event_types / sizeof fpd_event_types[0];
	    i++) {
		if (strcmp(type, fpd_event_types[i]) == 0)
			return (1);
	}
	return (0);
}

/*
 * webhook {"url", "secret" or "secrets":[...] (rotation: each signs),
 * "events"?, "id"?}: a new subscription, or (with "id") one changed and
 * enabled again.
 */
static cJSON *
fpd_wh_register(const cJSON *body)
{
	struct fpd_sub	*sub, *old;
	const cJSON	*v, *w;
	const char	*url = sb_json_str(body, "url");
	cJSON		*err;
	char		 hex[80];
	size_t		 i;

	old = fpd_sub_find(sb_json_str(body, "id"));
	if (sb_json_str(body, "id") != NULL && old == NULL)
		return (fpd_ctl_error("no webhook subscription '%s'",
		    sb_json_str(body, "id")));
	if (old == NULL && url == NULL)
		return (fpd_ctl_error("url is required"));
	v = fpd_get(body, "events");
	if (v != NULL) {
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
			return (fpd_ctl_error("events: a non-empty array"));
		cJSON_ArrayForEach(w, v) {
			if (!cJSON_IsString(w) || !fpd_known_event(
			    w->valuestring))
				return (fpd_ctl_error("events: unknown event "
				    "type"));
		}
	}
	w = fpd_get(body, "secrets");
	if (w != NULL && (!cJSON_IsArray(w) || cJSON_GetArraySize(w) < 1 ||
	    cJSON_GetArraySize(w) > FPD_WH_SECRETS))
		return (fpd_ctl_error("secrets: 1 to %d strings",
		    FPD_WH_SECRETS));
	cJSON_ArrayForEach(v, w) {
		if (!cJSON_IsString(v) || *v->valuestring == '\0')
			return (fpd_ctl_error("secrets: non-empty strings"));
	}
	if (w == NULL && (v = fpd_get(body, "secret")) != NULL &&
	    (!cJSON_IsString(v) || *v->valuestring == '\0'))
		return (fpd_ctl_error("secret: a non-empty string"));

	sub = old != NULL ? old : sb_calloc(1, sizeof *sub);
	if (url != NULL && (err = fpd_sub_url(sub, url)) != NULL) {
		if (old == NULL)
			fpd_sub_free(sub);
		return (err);
	}
	if (w != NULL || fpd_get(body, "secret") != NULL || old == NULL) {
		for (i = 0; i < sub->nsecrets; i++)
			free(sub->secrets[i]);
		sub->nsecrets = 0;
		if (w == NULL && fpd_get(body, "secret") != NULL)
			sub->secrets[sub->nsecrets++] = sb_strdup(
			    sb_json_str(body, "secret"));
		cJSON_ArrayForEach(v, w)
			sub->secrets[sub->nsecrets++] = sb_strdup(
			    v->valuestring);
		if (sub->nsecrets == 0) {
			/* PagerDuty makes a strong one. */
			sb_random_hex(hex, 32);
			sub->secrets[sub->nsecrets++] = sb_strdup(hex);
		}
	}
	if (fpd_get(body, "events") != NULL) {
		cJSON_Delete(sub->events);
		sub->events = cJSON_Duplicate(fpd_get(body, "events"), 1);
	}
	sub->disabled = 0;
	sub->dropped = 0;
	if (old == NULL) {
		fpd_new_id("PW", sub->id, sizeof sub->id);
		fpd_subs = sb_realloc(fpd_subs, fpd_nsubs + 1,
		    sizeof *fpd_subs);
		fpd_subs[fpd_nsubs++] = sub;
	}
	return (fpd_ctl_ok("webhook_subscription", fpd_sub_json(sub, 1)));
}

/* The newest incident, or the one named (id or number). */
static struct fpd_incident *
fpd_wh_incident(const cJSON *body)
{
	if (sb_json_str(body, "incident") != NULL)
		return (fpd_incident_find(sb_json_str(body, "incident")));
	return (fpd_nincidents > 0 ? fpd_incidents[fpd_nincidents - 1] :
	    NULL);
}

/* The body a forged delivery carries; NULL after *err. */
static char *
fpd_wh_forge_body(const cJSON *body, cJSON **payload, cJSON **err)
{
	struct fpd_incident	*in;
	const cJSON		*v = fpd_get(body, "body"), *w;
	const char		*type, *at;
	cJSON			*e;
	int64_t			 t;
	char			*text;

	*payload = NULL;
	if (cJSON_IsString(v)) {
		/* Raw bytes, sent as they are. */
		*payload = cJSON_Parse(v->valuestring);
		return (sb_strdup(v->valuestring));
	}
	if (v != NULL && !cJSON_IsObject(v)) {
		*err = fpd_ctl_error("body: a string or an object");
		return (NULL);
	}
	if (v != NULL && fpd_get(v, "event") != NULL)
		*payload = cJSON_Duplicate(v, 1);
	else {
		if ((in = fpd_wh_incident(body)) == NULL) {
			*err = fpd_ctl_error("no incident to send an event of");
			return (NULL);
		}
		type = sb_json_str(body, "event_type");
		if (type == NULL)
			type = strcmp(in->status, "acknowledged") == 0 ?
			    "incident.acknowledged" : strcmp(in->status,
			    "resolved") == 0 ? "incident.resolved" :
			    "incident.triggered";
		*payload = fpd_envelope(type, in->changed_by,
		    fpd_incident_data(in));
		/* The fields given replace the event's own. */
		e = fpd_get(*payload, "event");
		cJSON_ArrayForEach(w, v) {
			cJSON_DeleteItemFromObjectCaseSensitive(e, w->string);
			cJSON_AddItemToObject(e, w->string,
			    cJSON_Duplicate(w, 1));
		}
	}
	if ((at = sb_json_str(body, "occurred_at")) != NULL) {
		if (fpd_parse_time(at, &t) != 0) {
			cJSON_Delete(*payload);
			*payload = NULL;
			*err = fpd_ctl_error("occurred_at: an ISO 8601 time");
			return (NULL);
		}
		cJSON_ReplaceItemInObjectCaseSensitive(fpd_get(*payload,
		    "event"), "occurred_at", cJSON_CreateString(at));
	}
	text = cJSON_PrintUnformatted(*payload);
	return (text);
}

/* A delivery sent again: the same webhook, as at-least-once does. */
static struct fpd_delivery *
fpd_wh_duplicate(struct fpd_sub *sub, const char *event_id)
{
	struct fpd_delivery	*d, *o = NULL;
	size_t			 i;

	for (i = 0; i < fpd_ndels; i++) {
		if (fpd_dels[i]->sub == sub && fpd_dels[i]->event_id != NULL &&
		    strcmp(fpd_dels[i]->event_id, event_id) == 0)
			o = fpd_dels[i];
	}
	if (o == NULL)
		return (NULL);
	d = fpd_delivery_new(sub, o->body, NULL);
	memcpy(d->webhook_id, o->webhook_id, sizeof d->webhook_id);
	d->event_id = sb_strdup(o->event_id);
	d->event_type = o->event_type != NULL ? sb_strdup(o->event_type) :
	    NULL;
	free(d->resource);
	d->resource = sb_strdup(o->resource);
	d->signature = o->signature != NULL ? sb_strdup(o->signature) : NULL;
	d->forged = o->forged;
	d->duplicate_of = sb_strdup(event_id);
	return (d);
}

/*
 * webhook_send {"subscription"?, "incident"?, "event_type"?, "body"?,
 * "occurred_at"?, "signature"? ("bad", "none" or the header's value),
 * "duplicate_of"? (an event id)}: deliveries made up by the test.
 */
static cJSON *
fpd_wh_send(const cJSON *body)
{
	struct fpd_sub		*subs[64], *one;
	struct fpd_delivery	*d;
	const char		*sig = sb_json_str(body, "signature");
	const char		*dup = sb_json_str(body, "duplicate_of");
	cJSON			*payload = NULL, *err = NULL, *out, *o;
	char			*text = NULL, key[96], bad[72];
	size_t			 n = 0, i;

	if (sb_json_str(body, "subscription") != NULL) {
		if ((one = fpd_sub_find(sb_json_str(body,
		    "subscription"))) == NULL)
			return (fpd_ctl_error("no webhook subscription '%s'",
			    sb_json_str(body, "subscription")));
		subs[n++] = one;
	} else {
		for (i = 0; i < fpd_nsubs && n < 64; i++)
			subs[n++] = fpd_subs[i];
	}
	if (n == 0)
		return (fpd_ctl_error("no webhook subscription"));
	if (fpd_get(body, "signature") != NULL && sig == NULL)
		return (fpd_ctl_error("signature: a string"));
	if (dup == NULL && (text = fpd_wh_forge_body(body, &payload,
	    &err)) == NULL)
		return (err);
	out = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		if (dup != NULL) {
			if ((d = fpd_wh_duplicate(subs[i], dup)) == NULL) {
				cJSON_Delete(out);
				return (fpd_ctl_error("no delivery of event "
				    "'%s' to %s", dup, subs[i]->id));
			}
		} else {
			d = fpd_delivery_new(subs[i], text, payload);
			if (sig == NULL)
				d->signature = fpd_signature(subs[i], text);
			else if (strcmp(sig, "bad") == 0) {
				/* Signed, but with a key nobody shared. */
				snprintf(key, sizeof key, "not-%s",
				    subs[i]->secrets[0]);
				fpd_sign1(key, text, bad);
				d->signature = sb_strdup(bad);
			} else if (strcmp(sig, "none") != 0)
				d->signature = sb_strdup(sig);
			d->forged = sig != NULL;
		}
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "seq", d->seq);
		cJSON_AddStringToObject(o, "subscription", subs[i]->id);
		cJSON_AddStringToObject(o, "webhook_id", d->webhook_id);
		fpd_add_str(o, "event_id", d->event_id);
		cJSON_AddItemToArray(out, o);
	}
	free(text);
	cJSON_Delete(payload);
	fpd_pump();
	return (fpd_ctl_ok("deliveries", out));
}

static cJSON *
fpd_delivery_json(const struct fpd_delivery *d)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", d->seq);
	cJSON_AddStringToObject(o, "subscription", d->sub->id);
	cJSON_AddStringToObject(o, "url", d->sub->url);
	cJSON_AddStringToObject(o, "webhook_id", d->webhook_id);
	fpd_add_str(o, "event_id", d->event_id);
	fpd_add_str(o, "event_type", d->event_type);
	cJSON_AddStringToObject(o, "incident", d->resource);
	cJSON_AddStringToObject(o, "state", d->state);
	if (d->reason != NULL)
		cJSON_AddStringToObject(o, "reason", d->reason);
	cJSON_AddNumberToObject(o, "attempts", d->attempts);
	if (d->status > 0)
		cJSON_AddNumberToObject(o, "status", d->status);
	else
		cJSON_AddNullToObject(o, "status");
	cJSON_AddBoolToObject(o, "forged", d->forged);
	fpd_add_str(o, "signature", d->signature);
	if (d->duplicate_of != NULL)
		cJSON_AddStringToObject(o, "duplicate_of", d->duplicate_of);
	cJSON_AddStringToObject(o, "body", d->body);
	cJSON_AddItemToObject(o, "tries", cJSON_Duplicate(d->tries, 1));
	return (o);
}

/* webhooks {"since"?: seq, "subscription"?}: subscriptions, deliveries. */
static cJSON *
fpd_wh_list(const cJSON *body)
{
	const char	*sub = sb_json_str(body, "subscription");
	long long	 since = sb_json_int(body, "since", 0);
	cJSON		*o, *a;
	size_t		 i;

	o = fpd_ctl_ok(NULL, NULL);
	a = cJSON_AddArrayToObject(o, "subscriptions");
	for (i = 0; i < fpd_nsubs; i++)
		cJSON_AddItemToArray(a, fpd_sub_json(fpd_subs[i], 0));
	a = cJSON_AddArrayToObject(o, "deliveries");
	for (i = 0; i < fpd_ndels; i++) {
		if (fpd_dels[i]->seq <= since || (sub != NULL &&
		    strcmp(fpd_dels[i]->sub->id, sub) != 0))
			continue;
		cJSON_AddItemToArray(a, fpd_delivery_json(fpd_dels[i]));
	}
	cJSON_AddNumberToObject(o, "next", fpd_del_seq);
	return (o);
}

cJSON *
fpd_webhook_control(const char *op, cJSON *body)
{
	if (strcmp(op, "webhook") == 0)
		return (fpd_wh_register(body));
	if (strcmp(op, "webhook_send") == 0)
		return (fpd_wh_send(body));
	if (strcmp(op, "webhooks") == 0)
		return (fpd_wh_list(body));
	return (NULL);
}

void
fpd_webhooks_clear(void)
{
	size_t	i;

	for (i = 0; i < fpd_ndels; i++)
		fpd_delivery_free(fpd_dels[i]);
	free(fpd_dels);
	fpd_dels = NULL;
	fpd_ndels = 0;
	for (i = 0; i < fpd_nsubs; i++)
		fpd_sub_free(fpd_subs[i]);
	free(fpd_subs);
	fpd_subs = NULL;
	fpd_nsubs = 0;
	for (i = 0; i < fpd_ndead; i++)
		evhttp_connection_free(fpd_dead[i]);
	free(fpd_dead);
	fpd_dead = NULL;
	fpd_ndead = 0;
	if (fpd_pump_ev != NULL)
		event_free(fpd_pump_ev);
	fpd_pump_ev = NULL;
}
