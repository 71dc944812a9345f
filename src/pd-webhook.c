/*
 * pd-webhook.c: PagerDuty v3 webhooks, so that a change shows up in the
 * incident channel at once instead of at the next poll.
 *
 * Why webhooks only hurry the poller: pd-watch.c already reads each
 * PagerDuty incident and its log entries, stores every event keyed by its
 * log entry id and posts it through a keyed job. A webhook carries less
 * (no log entry id, a different shape per event type) and may come twice,
 * late or never. So a good webhook does no side effect of its own: it
 * names the PagerDuty incident (event.data.id), pd_watch_poke makes that
 * incident's poll due now in this turn, and the answer (202) goes out once
 * the turn is committed. The poll remains the one path that stores and
 * posts, and an event seen by a webhook and by a poll is posted once by
 * construction. Webhooks lost or refused cost nothing but the delay of
 * the poll (pagerduty.poll_interval), which still runs.
 *
 * Why the checks, in this order (PagerDuty's developer docs, "Webhooks"
 * overview, behavior and signatures): the listener (listen.c) takes POST
 * on one path (pagerduty.webhook.path) and bodies up to PDWH_MAX_BODY
 * (evhttp answers 413 beyond); it is meant for loopback behind a reverse
 * proxy that terminates TLS. X-PagerDuty-Signature holds one or more
 * comma-separated "v1=<hex HMAC-SHA256 of the raw body>", one per secret
 * while the subscription's secret rotates; each is tried against every
 * secret of pagerduty.webhook.secrets, in constant time (CRYPTO_memcmp).
 * None matching: 401, and a warning that names the peer, never a secret.
 * Then the body must be JSON with an event; an event.occurred_at older
 * than pagerduty.webhook.max_age, or more than PDWH_FUTURE_S ahead, is
 * refused as stale (400): a replayed old delivery cannot make us poll.
 * PagerDuty delivers at least once: the ids of events acted on are kept
 * (the last PDWH_SEEN) and a repeat is answered 200 without a poke.
 *
 * An event for a PagerDuty incident nobody watches (or no longer) is
 * answered 202 and ignored, as is any event that is not about an
 * incident (PagerDuty's test "pagey.ping" among them). If the turn's
 * writes fail, the answer is 503 and PagerDuty tries again.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "incidentd.h"

#define PDWH_MAX_HEADERS	8192
#define PDWH_MAX_BODY		(64 * 1024)
#define PDWH_TIMEOUT_S		10
#define PDWH_FUTURE_S		60	/* clock skew tolerated */
#define PDWH_SEEN		256	/* event ids remembered */
#define PDWH_ID_MAX		64
#define PDWH_MAC_LEN		32	/* SHA-256 */
#define PDWH_TEXT		"text/plain; charset=utf-8"

/* A poked incident's answer, sent once the turn is committed. */
struct pdwh_reply {
	struct evhttp_request	*req;
	char			 id[PDWH_ID_MAX];
};

const char *const pd_webhook_outcomes[] = {
	"accepted",	/* a poll is due now */
	"ignored",	/* not about a watched incident */
	"duplicate",	/* an event id acted on before */
	"unauthorized",	/* no signature, or none verifies */
	"stale",	/* occurred_at out of pagerduty.webhook.max_age */
	"bad_request",	/* not JSON, or no event */
	"method",	/* not POST */
	"not_found",	/* another path */
	"error",	/* the store refused: PagerDuty retries */
	NULL
};

static struct listen_srv	*pdwh_listen;
static char			 pdwh_seen[PDWH_SEEN][PDWH_ID_MAX];
static size_t			 pdwh_seen_next;

static void	 pdwh_http_cb(struct evhttp_request *, void *);
static void	 pdwh_reply(struct evhttp_request *, int, const char *,
		    const char *);
static int	 pdwh_seen_has(const char *);
static void	 pdwh_seen_add(const char *);
static int	 pdwh_hex(const char *, size_t, unsigned char *, size_t);
static void	 pdwh_event(struct evhttp_request *, const char *, size_t);
static void	 pdwh_committed_cb(void *);
static void	 pdwh_aborted_cb(void *);

/* At start: listen if pagerduty.webhook.listen is set. */
int
pd_webhook_init(char **cause)
{
	static const struct listen_limits lim = { PDWH_MAX_HEADERS,
	    PDWH_MAX_BODY, PDWH_TIMEOUT_S };

	pdwh_listen = listen_new("pd webhook", "pagerduty.webhook.listen",
	    "PagerDuty webhooks", &lim, pdwh_http_cb, NULL);
	if (cfg->pagerduty.webhook.listen == NULL)
		return (0);
	return (listen_bind(pdwh_listen, cfg->pagerduty.webhook.listen,
	    cause));
}

/* After a reload: rebind if pagerduty.webhook.listen changed. */
void
pd_webhook_reload(void)
{
	listen_reload(pdwh_listen, cfg->pagerduty.webhook.listen);
}

void
pd_webhook_shutdown(void)
{
	listen_free(pdwh_listen);
	pdwh_listen = NULL;
}

/* 1 if event id was acted on lately. */
static int
pdwh_seen_has(const char *id)
{
	size_t	i;

	for (i = 0; i < PDWH_SEEN; i++) {
		if (strcmp(pdwh_seen[i], id) == 0)
			return (1);
	}
	return (0);
}

/* Remember id, forgetting the oldest (ids longer than the slot are not). */
static void
pdwh_seen_add(const char *id)
{
	if (*id == '\0' || strlen(id) >= PDWH_ID_MAX || pdwh_seen_has(id))
		return;
	strlcpy(pdwh_seen[pdwh_seen_next], id, PDWH_ID_MAX);
	pdwh_seen_next = (pdwh_seen_next + 1) % PDWH_SEEN;
}

/* Decode exactly 2 * outlen hex digits; 0 or -1. */
static int
pdwh_hex(const char *s, size_t len, unsigned char *out, size_t outlen)
{
	size_t	i;
	int	hi, lo;

	if (len != 2 * outlen)
		return (-1);
	for (i = 0; i < outlen; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		if (!isxdigit(hi) || !isxdigit(lo))
			return (-1);
		hi = isdigit(hi) ? hi - '0' : tolower(hi) - 'a' + 10;
		lo = isdigit(lo) ? lo - '0' : tolower(lo) - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (0);
}

/*
 * Verify an X-PagerDuty-Signature value: any "v1=<hex>" of its
 * comma-separated list against the HMAC of body with any secret.
 */
int
pd_webhook_verify(const char *sig, const char *body, size_t len,
    const struct strlist *secrets)
{
	unsigned char	*macs, want[PDWH_MAC_LEN];
	unsigned int	 mlen;
	const char	*p, *end;
	size_t		 i, n;
	int		 ok = 0;

	if (sig == NULL || secrets->n == 0)
		return (-1);
	macs = xcalloc(secrets->n, PDWH_MAC_LEN);
	for (i = 0; i < secrets->n; i++) {
		mlen = PDWH_MAC_LEN;
		if (HMAC(EVP_sha256(), secrets->v[i],
		    (int)strlen(secrets->v[i]), (const unsigned char *)body,
		    len, macs + i * PDWH_MAC_LEN, &mlen) == NULL ||
		    mlen != PDWH_MAC_LEN)
			fatalx("%s: HMAC failed", __func__);
	}
	for (p = sig; *p != '\0' && !ok; p = *end == ',' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		while (p < end && *p == ' ')
			p++;
		n = end - p;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n < 3 || strncmp(p, "v1=", 3) != 0 ||
		    pdwh_hex(p + 3, n - 3, want, sizeof(want)) != 0)
			continue;
		for (i = 0; i < secrets->n; i++) {
			if (CRYPTO_memcmp(want, macs + i * PDWH_MAC_LEN,
			    PDWH_MAC_LEN) == 0)
				ok = 1;
		}
	}
	OPENSSL_cleanse(macs, secrets->n * PDWH_MAC_LEN);
	free(macs);
	return (ok ? 0 : -1);
}

/* One request: the checks at the top, then pdwh_event. */
static void
pdwh_http_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evhttp_connection *evcon;
	const char		*path = NULL, *sig, *why;
	char			*body, *peer = NULL;
	size_t			 len;
	ev_uint16_t		 port = 0;

	if (uri != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL || strcmp(path, cfg->pagerduty.webhook.path) != 0) {
		metrics_pd_webhook("not_found");
		pdwh_reply(req, HTTP_NOTFOUND, "not found", NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		metrics_pd_webhook("method");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		pdwh_reply(req, 405, "method not allowed", NULL);
		return;
	}
	len = evbuffer_get_length(in);
	body = xmalloc(len + 1);
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	sig = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-PagerDuty-Signature");
	if (pd_webhook_verify(sig, body, len,
	    &cfg->pagerduty.webhook.secrets) != 0) {
		why = sig == NULL ? "no X-PagerDuty-Signature" :
		    "no signature verifies with pagerduty.webhook.secrets";
		if ((evcon = evhttp_request_get_connection(req)) != NULL)
			evhttp_connection_get_peer(evcon, &peer, &port);
		log_warnx("pd webhook: refused a request from %s: %s",
		    peer != NULL ? peer : "?", why);
		metrics_pd_webhook("unauthorized");
		pdwh_reply(req, 401, "unauthorized", NULL);
		free(body);
		return;
	}
	pdwh_event(req, body, len);
	free(body);
}

/* A signed body: its event, checked, and the poke. */
static void
pdwh_event(struct evhttp_request *req, const char *body, size_t len)
{
	struct pdwh_reply	*r;
	cJSON			*j;
	const cJSON		*ev;
	const char		*id, *type, *at, *pd;
	time_t			 t, now = now_wall();
	int			 rv;

	if ((j = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(ev = json_path(j, "event")) ||
	    (id = json_str(ev, "id")) == NULL ||
	    (type = json_str(ev, "event_type")) == NULL) {
		metrics_pd_webhook("bad_request");
		pdwh_reply(req, HTTP_BADREQUEST, "bad request: expected "
		    "{\"event\": {\"id\", \"event_type\", ...}}", NULL);
		cJSON_Delete(j);
		return;
	}
	if ((at = json_str(ev, "occurred_at")) == NULL ||
	    time_parse_iso(at, &t) != 0 ||
	    t < now - (time_t)cfg->pagerduty.webhook.max_age ||
	    t > now + PDWH_FUTURE_S) {
		log_info("pd webhook: event %.64s refused: stale "
		    "(occurred_at %.40s)", id, at != NULL ? at : "missing");
		metrics_pd_webhook("stale");
		pdwh_reply(req, HTTP_BADREQUEST, "stale", NULL);
		cJSON_Delete(j);
		return;
	}
	if (pdwh_seen_has(id)) {
		metrics_pd_webhook("duplicate");
		pdwh_reply(req, HTTP_OK, "duplicate", NULL);
		cJSON_Delete(j);
		return;
	}
	pd = json_str(ev, "data.id");
	if (!str_has_prefix(type, "incident.") || pd == NULL ||
	    (rv = pd_watch_poke(pd)) == 0) {
		log_debug("pd webhook: %.64s %.64s for %.64s: not watched",
		    id, type, pd != NULL ? pd : "-");
		metrics_pd_webhook("ignored");
		pdwh_reply(req, 202, "ignored", NULL);
		cJSON_Delete(j);
		return;
	}
	log_info("pd webhook: %.64s %.64s: polling %.64s", id, type, pd);
	r = xcalloc(1, sizeof(*r));
	r->req = req;
	strlcpy(r->id, strlen(id) < sizeof(r->id) ? id : "", sizeof(r->id));
	cJSON_Delete(j);
	/* rv -1: the write failed, and the turn will abort (503). */
	(void)rv;
	reactor_after_commit_or_abort(pdwh_committed_cb, pdwh_aborted_cb, r);
}

/* The poll is due now, durably: the event is ours. */
static void
pdwh_committed_cb(void *arg)
{
	struct pdwh_reply	*r = arg;

	pdwh_seen_add(r->id);
	metrics_pd_webhook("accepted");
	pdwh_reply(r->req, 202, "accepted", NULL);
	free(r);
}

/* Nothing was recorded: PagerDuty retries a 5xx. */
static void
pdwh_aborted_cb(void *arg)
{
	struct pdwh_reply	*r = arg;

	metrics_pd_webhook("error");
	pdwh_reply(r->req, HTTP_SERVUNAVAIL, "try again later", NULL);
	free(r);
}

/* A short text answer. */
static void
pdwh_reply(struct evhttp_request *req, int code, const char *text,
    const char *reason)
{
	struct evbuffer	*b;

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", PDWH_TEXT);
	if ((b = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	evbuffer_add_printf(b, "%s\n", text);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}
