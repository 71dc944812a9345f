/*
 * slack.c: Slack Web API calls, the bot's identity, and mrkdwn escaping.
 *
 * Write methods take a JSON body. Read methods do not accept JSON at all
 * (Slack answers invalid_arguments), so they are sent form-encoded.
 * Slack answers HTTP 200 with {"ok":false,"error":...} for its own errors;
 * 429 (with Retry-After) and 5xx are handled by http.c's retries.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <cjson/cJSON.h>

#include "incidentd.h"

#define SLACK_SECTION_MAX	2900	/* of 3000 per section text */
#define SLACK_BLOCKS_MAX	48	/* of 50 per message */
#define SLACK_FIND_PAGES	5	/* history pages a lookup reads */
#define SLACK_FIND_LIMIT	100	/* messages a page (Slack may cap) */
#define SLACK_POST_EVENT	"incidentd_post"

struct slack_call_ctx {
	char		*method;
	slack_cb	 cb;
	void		*arg;
};

/* A lookup of a keyed post (slack_post_find). */
struct slack_find_ctx {
	char		*channel;
	char		*thread_ts;
	char		*token;
	char		*oldest;
	int		 pages;
	slack_find_cb	 cb;
	void		*arg;
};

struct slack_identify_ctx {
	void		(*cb)(void *);
	void		 *arg;
	unsigned	  attempt;
	struct event	 *retry;
};

struct slack_self	slack_self;
static struct slack_identify_ctx *slack_identifying;

/* Methods that take form-encoded arguments instead of JSON. */
static const char *slack_form_methods[] = {
	"auth.test",
	"conversations.history",
	"conversations.info",
	"conversations.members",
	"conversations.replies",
	"reactions.get",
	"usergroups.list",
	"usergroups.users.list",
	"users.conversations",
	"users.info",
	"users.lookupByEmail",
	"users.list",
	NULL
};

static void	slack_deferred_cb(void *);
static void	slack_deferred_drop_cb(void *);
static void	slack_call_token(const char *, const char *, cJSON *,
		    slack_cb, void *);
static void	slack_call_cb(const struct http_response *, void *);
static void	slack_call_free(void *);
static int	slack_is_form_method(const char *);
static char	*slack_form_encode(const cJSON *);
static cJSON	*slack_post_args(const char *, const char *, const char *,
		    cJSON *);
static int	slack_valid_ts(const char *);
static void	slack_find_opened_cb(const struct slack_result *, void *);
static void	slack_find_page(struct slack_find_ctx *, const char *);
static void	slack_find_page_cb(const struct slack_result *, void *);
static int	slack_find_match(const cJSON *, const char *);
static void	slack_find_end(struct slack_find_ctx *, int, const char *);
static void	slack_identify_try(struct slack_identify_ctx *);
static void	slack_identify_cb(const struct slack_result *, void *);
static void	slack_identify_retry_cb(evutil_socket_t, short, void *);

static int
slack_is_form_method(const char *method)
{
	size_t	i;

	for (i = 0; slack_form_methods[i] != NULL; i++) {
		if (strcmp(method, slack_form_methods[i]) == 0)
			return (1);
	}
	return (0);
}

/* Flat object to "a=1&b=x"; nested values are sent as JSON text. */
static char *
slack_form_encode(const cJSON *args)
{
	const cJSON	*item;
	char		*out = xstrdup(""), *k, *v, *val, *next;

	cJSON_ArrayForEach(item, args) {
		if (cJSON_IsString(item))
			val = xstrdup(item->valuestring);
		else if (cJSON_IsBool(item))
			val = xstrdup(cJSON_IsTrue(item) ? "true" : "false");
		else
			val = json_print(item);
		k = url_encode(item->string);
		v = url_encode(val);
		xasprintf(&next, "%s%s%s=%s", out, *out ? "&" : "", k, v);
		free(out);
		free(k);
		free(v);
		free(val);
		out = next;
	}
	return (out);
}

static void
slack_call_token(const char *token, const char *method, cJSON *args,
    slack_cb cb, void *arg)
{
	struct http_request_args	 ha;
	struct slack_call_ctx		*ctx;
	const char			*headers[3];
	char				*url, *auth, *body, *name;

	if (args == NULL)
		args = cJSON_CreateObject();
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->method = xstrdup(method);
	ctx->cb = cb;
	ctx->arg = arg;

	xasprintf(&url, "%s/%s", cfg->slack.api_url, method);
	xasprintf(&auth, "Authorization: Bearer %s", token);
	xasprintf(&name, "slack %s", method);
	headers[0] = auth;
	headers[1] = "Accept: application/json";
	headers[2] = NULL;

	memset(&ha, 0, sizeof(ha));
	ha.method = "POST";
	ha.url = url;
	ha.headers = headers;
	ha.log_name = name;
	if (slack_is_form_method(method)) {
		body = slack_form_encode(args);
		ha.content_type = "application/x-www-form-urlencoded";
		/* Reads have no side effect: safe to retry on 5xx. */
		ha.flags = HTTP_IDEMPOTENT;
	} else {
		body = json_print(args);
		ha.content_type = "application/json; charset=utf-8";
	}
	ha.body = body;
	ha.body_len = strlen(body);
	ha.freecb = slack_call_free;
	http_request(&ha, slack_call_cb, ctx);

	cJSON_Delete(args);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	free(url);
	free(body);
	free(name);
}

static void
slack_call_cb(const struct http_response *res, void *arg)
{
	struct slack_call_ctx	*ctx = arg;
	struct slack_result	 sr;
	cJSON			*json = NULL;
	char			 buf[64];

	metrics_api_call("slack", res);
	memset(&sr, 0, sizeof(sr));
	sr.http_status = res->status;
	if (res->status == 0) {
		sr.error = res->error != NULL ? res->error : "transport error";
		goto done;
	}
	json = cJSON_ParseWithLength(res->body, res->body_len);
	sr.json = json;
	if (json != NULL && json_str(json, "error") != NULL)
		sr.error = json_str(json, "error");
	if (res->status != 200) {
		if (sr.error == NULL) {
			snprintf(buf, sizeof(buf), "HTTP %d", res->status);
			sr.error = buf;
		}
		goto done;
	}
	/* Slack's answers are objects with a boolean "ok": anything else
	 * (a proxy's page, an array) is not its refusal (slack_transient). */
	if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(json, "ok"))) {
		sr.error = json == NULL ? "invalid JSON in response" :
		    "not Slack's JSON in response";
		sr.json = NULL;
		goto done;
	}
	if (json_bool(json, "ok"))
		sr.ok = 1;
	else if (sr.error == NULL)
		sr.error = "unknown_error";
done:
	if (!sr.ok)
		log_warnx("slack %s failed: %s", ctx->method, sr.error);
	else if (json_str(json, "warning") != NULL)
		log_debug("slack %s warning: %s", ctx->method,
		    json_str(json, "warning"));
	if (ctx->cb != NULL)
		ctx->cb(&sr, ctx->arg);
	cJSON_Delete(json);
	slack_call_free(ctx);
}

/* After the callback, or instead of it when shutdown cancels the call. */
static void
slack_call_free(void *arg)
{
	struct slack_call_ctx	*ctx = arg;

	free(ctx->method);
	free(ctx);
}

/*
 * 1 if a failed call is worth sending again later: no answer, 408, 429,
 * a 5xx, a redirect or an unreadable 200. Whether a write without an answer took effect is the caller's
 * question (a probe); this only says Slack did not refuse it.
 */
int
slack_transient(const struct slack_result *sr)
{
	if (sr->ok)
		return (0);
	if (sr->http_status == 0 || sr->http_status == 408 ||
	    sr->http_status == 429 || sr->http_status >= 500)
		return (1);
	/*
	 * A redirect, or a 200 that is not Slack's JSON (a proxy's page, a
	 * cut body, JSON without a boolean "ok"): not Slack's refusal, so
	 * not final.
	 */
	if ((sr->http_status >= 300 && sr->http_status < 400) ||
	    (sr->http_status == 200 && sr->json == NULL))
		return (1);
	return (sr->error != NULL && strcmp(sr->error, "ratelimited") == 0);
}

/* A channel's URL: its permalink without a message part. */
char *
slack_channel_url(const char *channel)
{
	char	*url, *p;

	url = slack_permalink(channel, "");
	if ((p = strrchr(url, '/')) != NULL && strcmp(p, "/p") == 0)
		*p = '\0';
	return (url);
}

/* Call a Web API method with the bot token; args is consumed. */
void
slack_call(const char *method, cJSON *args, slack_cb cb, void *arg)
{
	slack_call_token(cfg->slack.bot_token, method, args, cb, arg);
}

/* Call a method with the app-level token. */
void
slack_call_app(const char *method, cJSON *args, slack_cb cb, void *arg)
{
	slack_call_token(cfg->slack.app_token, method, args, cb, arg);
}

/*
 * Call a method with slack.user_token (an admin's xoxp- token): only for
 * what Slack refuses bot tokens (conversations.unarchive). The caller
 * checks the token is configured.
 */
void
slack_call_user(const char *method, cJSON *args, slack_cb cb, void *arg)
{
	slack_call_token(cfg->slack.user_token, method, args, cb, arg);
}

/*
 * A time each reader sees in their own zone: "<!date^T^tokens|fallback>"
 * (tokens such as "{date_short_pretty} {time}"), the fallback in UTC for
 * clients that cannot render it. Caller frees.
 */
char *
slack_date(time_t t, const char *tokens)
{
	char	*utc, *out;

	utc = time_format_zone(t, "UTC", "%Y-%m-%d %H:%M UTC");
	xasprintf(&out, "<!date^%lld^%s|%s>", (long long)t, tokens, utc);
	free(utc);
	return (out);
}

/* Escape the three characters Slack treats as markup; NULL gives "". */
char *
slack_escape(const char *s)
{
	char	*out, *o;

	if (s == NULL)
		return (xstrdup(""));
	out = o = xmalloc(strlen(s) * 5 + 1);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			memcpy(o, "&amp;", 5);
			o += 5;
			break;
		case '<':
			memcpy(o, "&lt;", 4);
			o += 4;
			break;
		case '>':
			memcpy(o, "&gt;", 4);
			o += 4;
			break;
		default:
			*o++ = *s;
		}
	}
	*o = '\0';
	return (out);
}

/* Decode &amp; &lt; &gt; as Slack sends them. */
char *
slack_unescape(const char *s)
{
	char	*out, *o;

	out = o = xmalloc(strlen(s) + 1);
	while (*s != '\0') {
		if (strncmp(s, "&amp;", 5) == 0) {
			*o++ = '&';
			s += 5;
		} else if (strncmp(s, "&lt;", 4) == 0) {
			*o++ = '<';
			s += 4;
		} else if (strncmp(s, "&gt;", 4) == 0) {
			*o++ = '>';
			s += 4;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return (out);
}

/* chat.postMessage's arguments; blocks (may be NULL) is consumed. */
static cJSON *
slack_post_args(const char *channel, const char *thread_ts, const char *text,
    cJSON *blocks)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	cJSON_AddStringToObject(args, "text", text);
	if (thread_ts != NULL)
		cJSON_AddStringToObject(args, "thread_ts", thread_ts);
	if (blocks != NULL)
		cJSON_AddItemToObject(args, "blocks", blocks);
	/* Bot replies must not unfurl or notify by name. */
	cJSON_AddBoolToObject(args, "unfurl_links", 0);
	cJSON_AddBoolToObject(args, "unfurl_media", 0);
	return (args);
}

/* Post a message; blocks (may be NULL) is consumed. */
void
slack_post(const char *channel, const char *thread_ts, const char *text,
    cJSON *blocks, slack_cb cb, void *arg)
{
	slack_call("chat.postMessage", slack_post_args(channel, thread_ts,
	    text, blocks), cb, arg);
}

/*
 * Post a message that slack_post_find can find again. chat.postMessage
 * has no idempotency key, so the key rides in the message's metadata
 * ({"event_type":"incidentd_post","event_payload":{"token":...}}): a
 * post whose answer was lost is looked up before it is sent again.
 */
void
slack_post_keyed(const char *channel, const char *thread_ts,
    const char *text, cJSON *blocks, const char *token, slack_cb cb,
    void *arg)
{
	cJSON	*args, *md, *payload;

	args = slack_post_args(channel, thread_ts, text, blocks);
	md = cJSON_AddObjectToObject(args, "metadata");
	cJSON_AddStringToObject(md, "event_type", SLACK_POST_EVENT);
	payload = cJSON_AddObjectToObject(md, "event_payload");
	cJSON_AddStringToObject(payload, "token", token);
	slack_call("chat.postMessage", args, cb, arg);
}

/* A Slack id we may put in <#...>: letters and digits only. */
int
slack_valid_id(const char *id)
{
	const char	*p;

	if (id == NULL || *id == '\0' || strlen(id) > 32)
		return (0);
	for (p = id; *p != '\0'; p++) {
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
			return (0);
	}
	return (1);
}

/* 1 if s looks like a message ts ("1700000000.000100"). */
static int
slack_valid_ts(const char *s)
{
	size_t	i, dots = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 32)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)s[i]))
			return (0);
	}
	return (dots == 1);
}

/*
 * Look for the post slack_post_keyed made with token in channel (a
 * thread when thread_ts is set), among messages since the wall time
 * since. cb gets 1 and its ts (found), 0 (not there) or -1 (cannot
 * tell: the read failed, or more pages than a lookup reads). A user id
 * (a DM sent to U...) is opened first to learn the D id history needs.
 * The reads go through the timeline's paced queue: Slack allows
 * non-Marketplace apps about one history call a minute.
 */
void
slack_post_find(const char *channel, const char *thread_ts,
    const char *token, time_t since, slack_find_cb cb, void *arg)
{
	struct slack_find_ctx	*ctx;
	cJSON			*args;

	ctx = xcalloc(1, sizeof(*ctx));
	ctx->channel = xstrdup(channel);
	ctx->thread_ts = thread_ts != NULL ? xstrdup(thread_ts) : NULL;
	ctx->token = xstrdup(token);
	xasprintf(&ctx->oldest, "%lld.000000",
	    (long long)(since > 0 ? since : 0));
	ctx->cb = cb;
	ctx->arg = arg;
	if (*channel == 'U' || *channel == 'W') {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "users", channel);
		slack_call("conversations.open", args, slack_find_opened_cb,
		    ctx);
		return;
	}
	slack_find_page(ctx, NULL);
}

static void
slack_find_opened_cb(const struct slack_result *sr, void *arg)
{
	struct slack_find_ctx	*ctx = arg;
	const char		*id;

	id = sr->ok ? json_str(sr->json, "channel.id") : NULL;
	if (id == NULL || !slack_valid_id(id) || *id != 'D') {
		slack_find_end(ctx, -1, NULL);
		return;
	}
	free(ctx->channel);
	ctx->channel = xstrdup(id);
	slack_find_page(ctx, NULL);
}

static void
slack_find_page(struct slack_find_ctx *ctx, const char *cursor)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", ctx->channel);
	if (ctx->thread_ts != NULL)
		cJSON_AddStringToObject(args, "ts", ctx->thread_ts);
	cJSON_AddStringToObject(args, "oldest", ctx->oldest);
	cJSON_AddBoolToObject(args, "include_all_metadata", 1);
	cJSON_AddNumberToObject(args, "limit", SLACK_FIND_LIMIT);
	if (cursor != NULL)
		cJSON_AddStringToObject(args, "cursor", cursor);
	ctx->pages++;
	timeline_history_call(ctx->thread_ts != NULL ?
	    "conversations.replies" : "conversations.history", args,
	    slack_find_page_cb, ctx);
}

static void
slack_find_page_cb(const struct slack_result *sr, void *arg)
{
	struct slack_find_ctx	*ctx = arg;
	const cJSON		*msgs, *m;
	const char		*next;

	msgs = sr->ok ? cJSON_GetObjectItemCaseSensitive(sr->json,
	    "messages") : NULL;
	if (!cJSON_IsArray(msgs)) {
		slack_find_end(ctx, -1, NULL);
		return;
	}
	cJSON_ArrayForEach(m, msgs) {
		if (slack_find_match(m, ctx->token)) {
			slack_find_end(ctx, 1, json_str(m, "ts"));
			return;
		}
	}
	next = json_str(sr->json, "response_metadata.next_cursor");
	if (next != NULL && *next == '\0')
		next = NULL;
	if (next == NULL && !json_bool(sr->json, "has_more")) {
		slack_find_end(ctx, 0, NULL);
		return;
	}
	/* More than a lookup reads, or more without a way to it. */
	if (next == NULL || strlen(next) > 1024 ||
	    ctx->pages >= SLACK_FIND_PAGES) {
		slack_find_end(ctx, -1, NULL);
		return;
	}
	slack_find_page(ctx, next);
}

/*
 * 1 if m (remote text) is our keyed post: posted by this bot, a valid
 * ts, and metadata of our event type carrying token.
 */
static int
slack_find_match(const cJSON *m, const char *token)
{
	const char	*type, *tok, *bot;

	if (!cJSON_IsObject(m) || !slack_valid_ts(json_str(m, "ts")))
		return (0);
	type = json_str(m, "metadata.event_type");
	tok = json_str(m, "metadata.event_payload.token");
	if (type == NULL || strcmp(type, SLACK_POST_EVENT) != 0 ||
	    tok == NULL || strcmp(tok, token) != 0)
		return (0);
	bot = json_str(m, "bot_id");
	if (slack_self.bot_id != NULL && *slack_self.bot_id != '\0' &&
	    (bot == NULL || strcmp(bot, slack_self.bot_id) != 0))
		return (0);
	return (1);
}

static void
slack_find_end(struct slack_find_ctx *ctx, int found, const char *ts)
{
	if (found < 0)
		log_info("slack: could not tell whether post %s is in %s",
		    ctx->token, ctx->channel);
	ctx->cb(found, ts, ctx->arg);
	free(ctx->channel);
	free(ctx->thread_ts);
	free(ctx->token);
	free(ctx->oldest);
	free(ctx);
}

/* Post a message only one user sees. */
void
slack_post_ephemeral(const char *channel, const char *user, const char *text,
    slack_cb cb, void *arg)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	cJSON_AddStringToObject(args, "user", user);
	cJSON_AddStringToObject(args, "text", text);
	slack_call("chat.postEphemeral", args, cb, arg);
}

static void
slack_identify_try(struct slack_identify_ctx *ctx)
{
	slack_call("auth.test", NULL, slack_identify_cb, ctx);
}

static void
slack_identify_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct slack_identify_ctx	*ctx = arg;

	slack_identify_try(ctx);
}

static void
slack_identify_cb(const struct slack_result *sr, void *arg)
{
	struct slack_identify_ctx	*ctx = arg;
	struct timeval			 tv;
	uint64_t			 ms;
	const char			*uid;

	uid = sr->ok ? json_str(sr->json, "user_id") : NULL;
	if (uid == NULL) {
		ms = backoff_ms(ctx->attempt++, 1000, 60000);
		log_warnx("slack auth.test failed (%s); retrying in %llu ms",
		    sr->error != NULL ? sr->error : "no user_id",
		    (unsigned long long)ms);
		if (ctx->retry == NULL)
			ctx->retry = evtimer_new(reactor_base,
			    slack_identify_retry_cb, ctx);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(ctx->retry, &tv);
		return;
	}
	free(slack_self.user_id);
	free(slack_self.bot_id);
	free(slack_self.team_id);
	free(slack_self.url);
	slack_self.user_id = xstrdup(uid);
	slack_self.bot_id = xstrdup(json_str(sr->json, "bot_id") != NULL ?
	    json_str(sr->json, "bot_id") : "");
	slack_self.team_id = xstrdup(json_str(sr->json, "team_id") != NULL ?
	    json_str(sr->json, "team_id") : "");
	slack_self.url = xstrdup(json_str(sr->json, "url") != NULL ?
	    json_str(sr->json, "url") : "");
	log_info("slack: signed in as %s (bot %s) in team %s", uid,
	    slack_self.bot_id, slack_self.team_id);
	if (ctx->retry != NULL)
		event_free(ctx->retry);
	slack_identifying = NULL;
	ctx->cb(ctx->arg);
	free(ctx);
}

/* Learn the bot's own user id (auth.test), retrying until Slack answers. */
void
slack_identify(void (*cb)(void *), void *arg)
{
	struct slack_identify_ctx	*ctx;

	ctx = xcalloc(1, sizeof(*ctx));
	ctx->cb = cb;
	ctx->arg = arg;
	slack_identifying = ctx;
	slack_identify_try(ctx);
}

/* Drop a pending identification and forget the identity. */
void
slack_shutdown(void)
{
	struct slack_identify_ctx	*ctx = slack_identifying;

	/* An auth.test in flight is cancelled by http_shutdown. */
	if (ctx != NULL) {
		if (ctx->retry != NULL)
			event_free(ctx->retry);
		free(ctx);
		slack_identifying = NULL;
	}
	free(slack_self.user_id);
	free(slack_self.bot_id);
	free(slack_self.team_id);
	free(slack_self.url);
	memset(&slack_self, 0, sizeof(slack_self));
}

/* Readable plain text from Slack markup (for Jira and timelines). */
char *
slack_plain_text(const char *s)
{
	char		*raw, *out, *o, *inner, *bar, *tmp;
	const char	*end, *label;
	size_t		 cap;

	cap = strlen(s) * 2 + 1;
	out = o = xmalloc(cap);
	while (*s != '\0') {
		if (*s != '<' || (end = strchr(s, '>')) == NULL) {
			*o++ = *s++;
			continue;
		}
		inner = xstrndup(s + 1, end - s - 1);
		bar = strchr(inner, '|');
		if (bar != NULL)
			*bar++ = '\0';
		label = bar;
		tmp = NULL;
		if (inner[0] == '@')
			xasprintf(&tmp, "@%s", label ? label : inner + 1);
		else if (inner[0] == '#')
			xasprintf(&tmp, "#%s", label ? label : inner + 1);
		else if (inner[0] == '!') {
			if (label != NULL)
				tmp = xstrdup(label);
			else
				xasprintf(&tmp, "@%s", inner + 1);
		} else if (label != NULL && strcmp(label, inner) != 0)
			xasprintf(&tmp, "%s (%s)", label, inner);
		else
			tmp = xstrdup(inner);
		/* Room for the replacement: it can be longer than the markup. */
		cap += strlen(tmp);
		raw = xrealloc(out, cap);
		o = raw + (o - out);
		out = raw;
		memcpy(o, tmp, strlen(tmp));
		o += strlen(tmp);
		free(tmp);
		free(inner);
		s = end + 1;
	}
	*o = '\0';
	raw = slack_unescape(out);
	free(out);
	return (raw);
}

/* https://team.slack.com/archives/C123/p1700000000000100 */
char *
slack_permalink(const char *channel, const char *ts)
{
	const char	*base;
	char		*url, digits[32];
	size_t		 i, n = 0;

	for (i = 0; ts[i] != '\0' && n < sizeof(digits) - 1; i++) {
		if (ts[i] != '.')
			digits[n++] = ts[i];
	}
	digits[n] = '\0';
	base = slack_self.url != NULL && *slack_self.url != '\0' ?
	    slack_self.url : "https://slack.com/";
	xasprintf(&url, "%s%sarchives/%s/p%s", base,
	    base[strlen(base) - 1] == '/' ? "" : "/", channel, digits);
	return (url);
}

/* Post lines as sections, split across messages within Slack's limits. */
int
slack_post_lines(const char *channel, const char *thread_ts,
    const char *title, const struct strlist *lines)
{
	cJSON	*blocks = NULL;
	char	*sec = NULL, *tmp;
	size_t	 i, len;
	int	 posted = 0, nblocks = 0;

	for (i = 0; i <= lines->n; i++) {
		len = i < lines->n ? strlen(lines->v[i]) : 0;
		if (sec != NULL && (i == lines->n ||
		    strlen(sec) + len + 1 > SLACK_SECTION_MAX)) {
			if (blocks == NULL)
				blocks = cJSON_CreateArray();
			cJSON_AddItemToArray(blocks, blocks_section(sec));
			free(sec);
			sec = NULL;
			if (++nblocks == SLACK_BLOCKS_MAX || i == lines->n) {
				slack_post(channel, thread_ts, title != NULL ?
				    title : "incidentd", blocks, NULL, NULL);
				blocks = NULL;
				nblocks = 0;
				posted++;
			}
		}
		if (i == lines->n)
			break;
		if (sec == NULL) {
			sec = utf8_truncate(lines->v[i], SLACK_SECTION_MAX, 1);
		} else {
			xasprintf(&tmp, "%s\n%s", sec, lines->v[i]);
			free(sec);
			sec = tmp;
		}
	}
	return (posted);
}

/* A call held until the turn's commit; dropped if the turn fails. */
struct slack_deferred {
	char	*method;
	cJSON	*args;
};

static void
slack_deferred_cb(void *arg)
{
	struct slack_deferred	*d = arg;

	slack_call(d->method, d->args, NULL, NULL);
	free(d->method);
	free(d);
}

static void
slack_deferred_drop_cb(void *arg)
{
	struct slack_deferred	*d = arg;

	cJSON_Delete(d->args);
	free(d->method);
	free(d);
}

/*
 * Call method (args consumed, answer ignored) once this turn's writes
 * are committed: for messages that say what the turn recorded, such as
 * "Confirmed: paging", which must not appear if the turn failed.
 */
void
slack_call_after_commit(const char *method, cJSON *args)
{
	struct slack_deferred	*d;

	d = xcalloc(1, sizeof(*d));
	d->method = xstrdup(method);
	d->args = args;
	reactor_after_commit_or_abort(slack_deferred_cb,
	    slack_deferred_drop_cb, d);
}

/*
 * The outcome of a failed Slack call, for a job: a transient failure
 * (no answer, 429, 5xx, ratelimited) is tried again, anything else is
 * the job's failure.
 */
void
slack_job_failed(struct job *j, const struct slack_result *sr)
{
	if (slack_transient(sr))
		job_retry(j, 0, sr->error);
	else
		job_fail(j, sr->error);
}

/*
 * 1 if a transient failure may have come after Slack did the work: no
 * answer, a 5xx, a cut or unreadable 200. A 429 (or "ratelimited"), a
 * 408 and a redirect are refusals before the work.
 */
int
slack_maybe_done(const struct slack_result *sr)
{
	if (!slack_transient(sr))
		return (0);
	if (sr->http_status == 408 || sr->http_status == 429 ||
	    (sr->http_status >= 300 && sr->http_status < 400))
		return (0);
	return (sr->json == NULL || json_str(sr->json, "error") == NULL ||
	    strcmp(json_str(sr->json, "error"), "ratelimited") != 0);
}

/*
 * The outcome of a failed keyed post (slack_post_keyed), for a job whose
 * probe uses slack_post_find: unsure where Slack may have posted, a plain
 * retry where it refused before posting, else the job's failure.
 */
void
slack_job_post_failed(struct job *j, const struct slack_result *sr)
{
	if (slack_maybe_done(sr))
		job_unsure(j, sr->error);
	else
		slack_job_failed(j, sr);
}

/*
 * A probe's answer (slack_post_find) for a job: found, done(j); not
 * there, send it again; cannot tell, still unsure (the engine bounds
 * how often it looks).
 */
void
slack_job_found(struct job *j, int found, void (*done)(struct job *))
{
	if (found > 0)
		done(j);
	else if (found == 0)
		job_resend(j);
	else
		job_unsure(j, "could not look the post up");
}
