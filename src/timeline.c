/*
 * timeline.c: the live index of messages tagged with the timeline emoji.
 *
 * STORE_TIMELINE holds two kinds of keys:
 *
 *   "<channel>/<ts>"     a tagged message: its text, author, thread parent
 *                        and who tagged it, kept true by reaction, edit and
 *                        delete events. Keys sort in time order.
 *   "~m/<channel>/<ts>"  a recent message seen live (message events), so
 *                        a tag resolves without any API call: since 2025
 *                        conversations.history/replies allow about one
 *                        request a minute to apps outside the Marketplace.
 *
 * The cache holds what people say, so it keeps as little as it can: only
 * messages of incident channels (never DMs with the bot, nor the other
 * channels the bot is in), for timeline.cache_days. A message posted
 * before its channel became an incident channel is not lost: a tag on it
 * is recorded as pending and its text read back when a timeline is asked
 * for. Expiry runs hourly, at startup and on reload, and also drops what
 * an older version cached outside incident channels.
 *
 * Backfills never read history older than timeline.backfill_max.
 *
 * History is the fallback, not the source. STORE_META remembers when the
 * daemon last processed events ("timeline.alive") and the gaps when it did
 * not ("timeline.gaps"); a channel whose life overlaps a gap it was not
 * backfilled for ("timeline.bf/<channel>") is read back with cursor
 * pagination, through one paced queue for the history tier (429s are
 * retried after Retry-After by http.c).
 *
 * Every store write here joins the turn of the event or reply that
 * caused it. One that fails fails the turn as a whole (reactor.c): live
 * events go unacknowledged and come back, so a failure is only logged
 * (tl_stored); a backfill gives up without its done mark, so the next
 * one reads the same window again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <cjson/cJSON.h>

#include "incidentd.h"

#define TL_HEARTBEAT_S		5
#define TL_MAX_GAPS		64
#define TL_MARGIN_S		60
#define TL_CACHE_PREFIX		"~m/"
#define TL_EXPIRE_SLICE		1000	/* keys per loop turn */

#define TL_PH_HISTORY		0
#define TL_PH_REPLIES		1
#define TL_PH_PENDING		2

struct tl_call {
	char			*method;
	cJSON			*args;
	slack_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(tl_call)	 entry;
};
TAILQ_HEAD(tl_calls, tl_call);

struct tl_backfill {
	char			*channel;
	time_t			 from, to, started;
	timeline_backfill_cb	*cbs;		/* everyone waiting on it */
	void			**args;
	size_t			 nwaiters;
	char			*cursor;
	struct strlist		 threads;
	size_t			 thread_i;
	struct strlist		 seen;
	struct strlist		 pending;
	size_t			 pending_i;
	int			 phase;		/* TL_PH_* */
	int			 nreq, nmsg;
	TAILQ_ENTRY(tl_backfill) entry;
};
TAILQ_HEAD(tl_backfills, tl_backfill);

static struct tl_calls		 tl_queue = TAILQ_HEAD_INITIALIZER(tl_queue);
static struct tl_backfills	 tl_bfs = TAILQ_HEAD_INITIALIZER(tl_bfs);
static struct event		*tl_pace_ev;
static struct event		*tl_heartbeat_ev;
static int			 tl_busy;
static uint64_t			 tl_last_call_ms;
static time_t			 tl_alive_last;
static int			 tl_connected;	/* told by slack-socket.c */
static char			*tl_saved_tz;
static int			 tl_tz_active;

static void	 tl_pace_cb(evutil_socket_t, short, void *);
static void	 tl_heartbeat_cb(evutil_socket_t, short, void *);
static void	 tl_call_cb(const struct slack_result *, void *);
static void	 tl_send_next(void);
static time_t	 tl_meta_time(const char *);
static void	 tl_meta_set_time(const char *, time_t);
static cJSON	*tl_gaps_load(void);
static void	 tl_gaps_save(cJSON *);
static void	 tl_gap_open(time_t);
static char	*tl_key(const char *, const char *, const char *);
static cJSON	*tl_get(const char *);
static void	 tl_put(const char *, const cJSON *);
static int	 tl_emoji_match(const char *);
static void	 tl_copy_message(cJSON *, const cJSON *);
static void	 tl_cache_message(const char *, const cJSON *);
static int	 tl_reconcile(const char *, const cJSON *);
static int	 tl_has_tagger(const cJSON *, const char *);
static void	 tl_bf_step(struct tl_backfill *);
static void	 tl_bf_enter_pending(struct tl_backfill *);
static void	 tl_bf_wait(struct tl_backfill *, timeline_backfill_cb,
		    void *);
static int	 tl_valid_id(const char *);
static void	 tl_bf_history_cb(const struct slack_result *, void *);
static void	 tl_bf_replies_cb(const struct slack_result *, void *);
static void	 tl_bf_pending_cb(const struct slack_result *, void *);
static void	 tl_bf_reconcile_deleted(struct tl_backfill *);
static void	 tl_bf_next_cursor(struct tl_backfill *,
		    const struct slack_result *);
static int	 tl_pending_cb(const char *, const char *, size_t, void *);
static int	 tl_in_window_cb(const char *, const char *, size_t, void *);
static void	 tl_bf_done(struct tl_backfill *, const char *);
static int	 tl_bf_failed(struct tl_backfill *);
static int	 tl_stored(int, const char *);
static void	 tl_bf_free(struct tl_backfill *);
static int	 tl_collect_cb(const char *, const char *, size_t, void *);
static int	 tl_expire_cb(const char *, const char *, size_t, void *);
static void	 tl_expire_cb_task(void *);
static int	 tl_is_dm(const char *);
static int	 tl_cache_allowed(const char *);
static time_t	 tl_cache_cutoff(void);
static char	*tl_duration(long long);
static int	 tl_strcmp_cb(const void *, const void *);
static void	 tl_entry_free(struct timeline_entry *);
static void	 tl_tz_enter(void);
static void	 tl_tz_leave(void);
static time_t	 tl_ts_seconds(const char *);

/* Channel ids and message timestamps go into store keys: check them. */
static int
tl_valid_id(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' &&
		    s[i] <= '9') && s[i] != '.')
			return (0);
	}
	return (i > 0 && i <= 32);
}

static time_t
tl_ts_seconds(const char *ts)
{
	return ((time_t)strtoll(ts, NULL, 10));
}

static char *
tl_key(const char *prefix, const char *channel, const char *ts)
{
	char	*key;

	xasprintf(&key, "%s%s/%s", prefix, channel, ts);
	return (key);
}

static cJSON *
tl_get(const char *key)
{
	cJSON	*j;
	char	*val;
	size_t	 len;

	if (store_get(store, STORE_TIMELINE, key, &val, &len) != 0)
		return (NULL);
	j = cJSON_ParseWithLength(val, len);
	free(val);
	return (j);
}

/*
 * Log a failed write (the turn fails, see the top of the file); 0 if it
 * went through or there was nothing to delete.
 */
static int
tl_stored(int rv, const char *key)
{
	if (rv == 0 || rv == STORE_NOTFOUND)
		return (0);
	log_warnx("timeline %s: store: %s", key, store_strerror(rv));
	return (rv);
}

static void
tl_put(const char *key, const cJSON *j)
{
	char	*val;

	val = json_print(j);
	(void)tl_stored(store_put(store, STORE_TIMELINE, key, val,
	    strlen(val)), key);
	free(val);
}

static time_t
tl_meta_time(const char *key)
{
	char	*val;
	size_t	 len;
	time_t	 t;

	if (store_get(store, STORE_META, key, &val, &len) != 0)
		return (0);
	t = (time_t)strtoll(val, NULL, 10);
	free(val);
	return (t);
}

static void
tl_meta_set_time(const char *key, time_t t)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)t);
	(void)tl_stored(store_put(store, STORE_META, key, buf, strlen(buf)),
	    key);
}

static cJSON *
tl_gaps_load(void)
{
	cJSON	*j;
	char	*val;
	size_t	 len;

	if (store_get(store, STORE_META, "timeline.gaps", &val, &len) != 0)
		return (cJSON_CreateArray());
	j = cJSON_ParseWithLength(val, len);
	free(val);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		j = cJSON_CreateArray();
	}
	return (j);
}

static void
tl_gaps_save(cJSON *gaps)
{
	char	*val;

	/* Old gaps are merged into the oldest kept one. */
	while (cJSON_GetArraySize(gaps) > TL_MAX_GAPS)
		cJSON_DeleteItemFromArray(gaps, 1);
	val = json_print(gaps);
	(void)tl_stored(store_put(store, STORE_META, "timeline.gaps", val,
	    strlen(val)), "timeline.gaps");
	free(val);
}

/* The daemon stopped processing events at from (open until alive). */
static void
tl_gap_open(time_t from)
{
	cJSON	*gaps, *g, *last;

	gaps = tl_gaps_load();
	last = cJSON_GetArrayItem(gaps, cJSON_GetArraySize(gaps) - 1);
	if (last != NULL && json_num(cJSON_GetArrayItem(last, 1), "", 1) == 0) {
		cJSON_Delete(gaps);
		return;		/* one is open already */
	}
	g = cJSON_CreateArray();
	cJSON_AddItemToArray(g, cJSON_CreateNumber((double)from));
	cJSON_AddItemToArray(g, cJSON_CreateNumber(0));
	cJSON_AddItemToArray(gaps, g);
	log_info("timeline: not processing events since %lld; channels "
	    "will be backfilled from history", (long long)from);
	tl_gaps_save(gaps);
	cJSON_Delete(gaps);
}

/* Events are flowing: close an open gap and remember the time. */
void
timeline_alive(void)
{
	cJSON	*gaps, *last;
	time_t	 now = now_wall();

	if (store == NULL || now == tl_alive_last)
		return;
	if (tl_alive_last == 0) {
		gaps = tl_gaps_load();
		last = cJSON_GetArrayItem(gaps, cJSON_GetArraySize(gaps) - 1);
		if (last != NULL &&
		    json_num(cJSON_GetArrayItem(last, 1), "", 1) == 0) {
			cJSON_ReplaceItemInArray(last, 1,
			    cJSON_CreateNumber((double)now));
			tl_gaps_save(gaps);
			log_info("timeline: processing events again");
		}
		cJSON_Delete(gaps);
	}
	tl_alive_last = now;
	tl_meta_set_time("timeline.alive", now);
}

/* The Socket Mode connection went up (1) or down (0). */
void
timeline_connected(int up)
{
	tl_connected = up;
	if (up)
		timeline_alive();
}

static void
tl_heartbeat_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { TL_HEARTBEAT_S, 0 };

	if (tl_connected)
		timeline_alive();
	else if (tl_alive_last != 0) {
		tl_gap_open(tl_alive_last);
		tl_alive_last = 0;
	}
	evtimer_add(tl_heartbeat_ev, &tv);
}

/* Messages older than this are not kept in the cache. */
static time_t
tl_cache_cutoff(void)
{
	return (now_wall() - (time_t)cfg->timeline.cache_days * 24 * 60 * 60);
}

/*
 * Expiry walks the cache in slices of at most TL_EXPIRE_SLICE keys, one
 * slice a loop turn, resuming after the last key it saw: a store with a
 * million cached messages neither blocks the reactor for seconds nor
 * builds a list of a million keys (at startup, hourly or on reload).
 * Keys sort by channel, so the last channel's verdict is kept across
 * slices; a channel that becomes an incident's meanwhile loses at most
 * what the walk had already judged.
 */
struct tl_expiry {
	int		 running;
	int		 failed;
	char		*cursor;	/* last key seen; NULL: start */
	time_t		 cutoff;
	char		*channel;	/* the last channel looked up */
	int		 allowed;	/* its verdict */
	size_t		 forgotten;	/* by this walk so far */
	size_t		 done;		/* by the last complete walk */
	struct strlist	 old;		/* this slice's keys to forget */
	size_t		 max, seen;
	struct event	*ev;
};
static struct tl_expiry	 tl_exp;

static int
tl_expire_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct tl_expiry	*x = arg;
	const char		*ts, *ch, *slash;

	if (x->seen++ >= x->max)
		return (1);		/* the next slice starts here */
	free(x->cursor);
	x->cursor = xstrdup(key);
	if ((ts = strrchr(key, '/')) != NULL && tl_ts_seconds(ts + 1) <
	    x->cutoff) {
		strlist_add(&x->old, key);
		return (0);
	}
	ch = key + strlen(TL_CACHE_PREFIX);
	if ((slash = strchr(ch, '/')) == NULL)
		return (0);
	if (x->channel == NULL || strlen(x->channel) !=
	    (size_t)(slash - ch) || strncmp(x->channel, ch, slash - ch) != 0) {
		free(x->channel);
		x->channel = xstrndup(ch, slash - ch);
		x->allowed = tl_cache_allowed(x->channel);
	}
	if (!x->allowed)
		strlist_add(&x->old, key);
	return (0);
}

/* Forget where the walk is; the next slice starts a new one. */
static void
tl_expire_reset(void)
{
	free(tl_exp.cursor);
	free(tl_exp.channel);
	tl_exp.cursor = tl_exp.channel = NULL;
	tl_exp.running = 0;
	tl_exp.failed = 0;
	tl_exp.forgotten = 0;
}

/*
 * One slice of the expiry walk over at most max keys, starting a walk if
 * none is under way: forget cached messages past timeline.cache_days and
 * those of channels that are not incident channels (cached by an older
 * version, or of an incident whose record is gone). Returns 1 while keys
 * remain, 0 once the walk is over (then timeline_expired says how many it
 * forgot) or has failed (the next run retries).
 */
int
timeline_expire_step(size_t max)
{
	char	*from;
	size_t	 i;
	int	 rv;

	if (store == NULL)
		return (0);
	if (!tl_exp.running) {
		tl_expire_reset();
		tl_exp.running = 1;
		tl_exp.cutoff = tl_cache_cutoff();
	}
	tl_exp.max = max > 0 ? max : 1;
	tl_exp.seen = 0;
	/* The walk's own copy: tl_expire_cb replaces tl_exp.cursor as it goes. */
	from = tl_exp.cursor != NULL ? xstrdup(tl_exp.cursor) : NULL;
	rv = store_foreach_after(store, STORE_TIMELINE, TL_CACHE_PREFIX,
	    from, tl_expire_cb, &tl_exp);
	free(from);
	for (i = 0; rv == 0 && i < tl_exp.old.n; i++)
		rv = tl_stored(store_del(store, STORE_TIMELINE,
		    tl_exp.old.v[i]), tl_exp.old.v[i]);
	if (rv == 0)
		tl_exp.forgotten += tl_exp.old.n;
	strlist_free(&tl_exp.old);
	if (rv != 0) {
		log_warnx("timeline: expiring the message cache failed: %s "
		    "(the next run retries)", store_strerror(rv));
		tl_expire_reset();
		return (0);
	}
	if (tl_exp.seen > tl_exp.max)
		return (1);
	tl_exp.done = tl_exp.forgotten;
	if (tl_exp.done > 0)
		log_info("timeline: forgot %zu cached message(s)",
		    tl_exp.done);
	tl_expire_reset();
	return (0);
}

/* How many cached messages the last complete expiry walk forgot. */
size_t
timeline_expired(void)
{
	return (tl_exp.done);
}

static void
tl_expire_slice_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { 0, 0 };

	if (timeline_expire_step(TL_EXPIRE_SLICE))
		evtimer_add(tl_exp.ev, &tv);	/* the next turn */
}

/*
 * Start expiring the message cache in slices, one a loop turn; a walk
 * under way starts again from the beginning (cache_days may have changed).
 */
void
timeline_expire(void)
{
	struct timeval	tv = { 0, 0 };

	tl_expire_reset();
	if (tl_exp.ev == NULL)
		tl_exp.ev = evtimer_new(reactor_base, tl_expire_slice_cb,
		    NULL);
	evtimer_add(tl_exp.ev, &tv);
}

static void
tl_expire_cb_task(void *arg)
{
	timeline_expire();
}

/* Detect downtime since the last run and start the heartbeat. */
void
timeline_init(void)
{
	struct timeval	tv = { TL_HEARTBEAT_S, 0 };
	time_t		alive, now = now_wall();

	if (tl_meta_time("timeline.first_start") == 0)
		tl_meta_set_time("timeline.first_start", now);
	else if ((alive = tl_meta_time("timeline.alive")) != 0)
		tl_gap_open(alive);
	tl_alive_last = 0;
	tl_busy = 0;
	tl_last_call_ms = 0;
	tl_connected = 0;
	socket_observe(timeline_connected);
	tl_pace_ev = evtimer_new(reactor_base, tl_pace_cb, NULL);
	tl_heartbeat_ev = evtimer_new(reactor_base, tl_heartbeat_cb, NULL);
	evtimer_add(tl_heartbeat_ev, &tv);
	schedule_every("timeline-expire", 3600, tl_expire_cb_task, NULL);
	/* cache_days may have shrunk while we were stopped. */
	timeline_expire();
}

/* Free queued calls and backfills (their callers are told nothing). */
void
timeline_shutdown(void)
{
	struct tl_call		*c;
	struct tl_backfill	*bf;

	while ((c = TAILQ_FIRST(&tl_queue)) != NULL) {
		TAILQ_REMOVE(&tl_queue, c, entry);
		cJSON_Delete(c->args);
		free(c->method);
		free(c);
	}
	while ((bf = TAILQ_FIRST(&tl_bfs)) != NULL)
		tl_bf_free(bf);
	if (tl_pace_ev != NULL)
		event_free(tl_pace_ev);
	if (tl_heartbeat_ev != NULL)
		event_free(tl_heartbeat_ev);
	tl_pace_ev = tl_heartbeat_ev = NULL;
	if (tl_exp.ev != NULL)
		event_free(tl_exp.ev);
	tl_exp.ev = NULL;
	tl_expire_reset();
	free(tl_saved_tz);
	tl_saved_tz = NULL;
}

/* ------------------------------------------------------------ live */

static int
tl_emoji_match(const char *name)
{
	size_t	len = strlen(cfg->slack.timeline_emoji);

	if (name == NULL || strncmp(name, cfg->slack.timeline_emoji, len) != 0)
		return (0);
	/* Skin tones: "memo::skin-tone-2". */
	return (name[len] == '\0' || strncmp(name + len, "::", 2) == 0);
}

/* Copy what a timeline line needs from a Slack message into o. */
static void
tl_copy_message(cJSON *o, const cJSON *m)
{
	static const char *const fields[] = { "ts", "thread_ts", "user",
	    "username", "bot_id", "text" };
	const char	*v;
	size_t		 i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, fields[i]);
		if ((v = json_str(m, fields[i])) != NULL)
			cJSON_AddStringToObject(o, fields[i], v);
	}
	if (json_str(m, "user") == NULL && json_str(m, "username") == NULL &&
	    (v = json_str(m, "bot_profile.name")) != NULL)
		cJSON_AddStringToObject(o, "username", v);
	cJSON_DeleteItemFromObjectCaseSensitive(o, "pending");
}

/* A DM with the bot (Slack's ids for them start with D). */
static int
tl_is_dm(const char *channel)
{
	return (channel[0] == 'D');
}

/* Only an incident channel's messages may be cached. */
static int
tl_cache_allowed(const char *channel)
{
	char	*key;

	if (tl_is_dm(channel) || (key = incident_key_for_channel(channel)) ==
	    NULL)
		return (0);
	free(key);
	return (1);
}

static void
tl_cache_message(const char *channel, const cJSON *m)
{
	cJSON	*o;
	char	*key;

	if (json_str(m, "ts") == NULL || !tl_valid_id(json_str(m, "ts")) ||
	    tl_ts_seconds(json_str(m, "ts")) < tl_cache_cutoff() ||
	    !tl_cache_allowed(channel))
		return;
	key = tl_key(TL_CACHE_PREFIX, channel, json_str(m, "ts"));
	o = cJSON_CreateObject();
	tl_copy_message(o, m);
	tl_put(key, o);
	cJSON_Delete(o);
	free(key);
}

/* Plain, changed and deleted messages in a channel the bot is in. */
void
timeline_message(const cJSON *ev)
{
	const char	*channel, *subtype, *ts;
	const cJSON	*m = ev;
	cJSON		*entry;
	char		*key;
	int		 rv;

	if (store == NULL || (channel = json_str(ev, "channel")) == NULL ||
	    !tl_valid_id(channel) || tl_is_dm(channel))
		return;
	subtype = json_str(ev, "subtype");
	if (subtype != NULL && strcmp(subtype, "message_deleted") == 0) {
		if ((ts = json_str(ev, "deleted_ts")) == NULL ||
		    !tl_valid_id(ts))
			return;
		key = tl_key(TL_CACHE_PREFIX, channel, ts);
		(void)tl_stored(store_del(store, STORE_TIMELINE, key), key);
		free(key);
		key = tl_key("", channel, ts);
		if ((rv = store_del(store, STORE_TIMELINE, key)) == 0)
			log_info("timeline: tagged message %s deleted", key);
		(void)tl_stored(rv, key);
		free(key);
		return;
	}
	if (subtype != NULL && strcmp(subtype, "message_changed") == 0)
		m = json_path(ev, "message");
	else if (subtype != NULL && strcmp(subtype, "thread_broadcast") != 0 &&
	    strcmp(subtype, "bot_message") != 0 &&
	    strcmp(subtype, "me_message") != 0 &&
	    strcmp(subtype, "file_share") != 0)
		return;		/* joins, topics and the like */
	if (m == NULL || (ts = json_str(m, "ts")) == NULL || !tl_valid_id(ts))
		return;
	tl_cache_message(channel, m);
	key = tl_key("", channel, ts);
	if ((entry = tl_get(key)) != NULL) {
		tl_copy_message(entry, m);
		tl_put(key, entry);
		cJSON_Delete(entry);
		log_debug("timeline: tagged message %s updated", key);
	}
	free(key);
}

static int
tl_has_tagger(const cJSON *entry, const char *user)
{
	const cJSON	*t;

	cJSON_ArrayForEach(t, json_path(entry, "taggers")) {
		if (cJSON_IsString(t) && strcmp(t->valuestring, user) == 0)
			return (1);
	}
	return (0);
}

/* reaction_added / reaction_removed with the timeline emoji. */
void
timeline_reaction(const cJSON *ev, int added)
{
	const char	*channel, *ts, *user, *type;
	cJSON		*entry, *cached, *taggers, *t;
	char		*key, *ckey;

	if (store == NULL || !tl_emoji_match(json_str(ev, "reaction")))
		return;
	type = json_str(ev, "item.type");
	channel = json_str(ev, "item.channel");
	ts = json_str(ev, "item.ts");
	user = json_str(ev, "user");
	if (type == NULL || strcmp(type, "message") != 0 || channel == NULL ||
	    ts == NULL || user == NULL || !tl_valid_id(channel) ||
	    !tl_valid_id(ts) || tl_is_dm(channel))
		return;
	key = tl_key("", channel, ts);
	entry = tl_get(key);
	if (!added) {
		if (entry == NULL)
			goto out;
		taggers = cJSON_GetObjectItemCaseSensitive(entry, "taggers");
		cJSON_ArrayForEach(t, taggers) {
			if (cJSON_IsString(t) &&
			    strcmp(t->valuestring, user) == 0) {
				cJSON_Delete(cJSON_DetachItemViaPointer(
				    taggers, t));
				break;
			}
		}
		if (cJSON_GetArraySize(taggers) == 0) {
			(void)tl_stored(store_del(store, STORE_TIMELINE, key),
			    key);
			log_info("timeline: %s untagged", key);
		} else
			tl_put(key, entry);
		goto out;
	}
	if (entry == NULL) {
		entry = cJSON_CreateObject();
		cJSON_AddStringToObject(entry, "channel", channel);
		cJSON_AddStringToObject(entry, "ts", ts);
		ckey = tl_key(TL_CACHE_PREFIX, channel, ts);
		/* Past retention, the cache no longer counts. */
		if (tl_ts_seconds(ts) >= tl_cache_cutoff() &&
		    (cached = tl_get(ckey)) != NULL) {
			tl_copy_message(entry, cached);
			cJSON_Delete(cached);
		} else {
			/* Not seen live: history fills it in later. */
			if (json_str(ev, "item_user") != NULL)
				cJSON_AddStringToObject(entry, "user",
				    json_str(ev, "item_user"));
			cJSON_AddTrueToObject(entry, "pending");
		}
		free(ckey);
		cJSON_AddArrayToObject(entry, "taggers");
		cJSON_AddNumberToObject(entry, "tagged_at",
		    (double)now_wall());
	}
	if (!tl_has_tagger(entry, user)) {
		taggers = cJSON_GetObjectItemCaseSensitive(entry, "taggers");
		if (taggers == NULL)
			taggers = cJSON_AddArrayToObject(entry, "taggers");
		cJSON_AddItemToArray(taggers, cJSON_CreateString(user));
	}
	tl_put(key, entry);
	log_info("timeline: %s tagged by %s%s", key, user,
	    json_bool(entry, "pending") ? " (text not seen yet)" : "");
out:
	cJSON_Delete(entry);
	free(key);
}

/* ------------------------------------------------------------ reading */

static void
tl_entry_free(struct timeline_entry *e)
{
	free(e->channel);
	free(e->ts);
	free(e->thread_ts);
	free(e->user);
	free(e->username);
	free(e->text);
}

static int
tl_collect_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct timeline_list	*l = arg;
	struct timeline_entry	*e;
	cJSON			*j;
	const char		*s;

	if ((j = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	if (json_str(j, "channel") == NULL || json_str(j, "ts") == NULL) {
		cJSON_Delete(j);
		return (0);
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->channel = xstrdup(json_str(j, "channel"));
	e->ts = xstrdup(json_str(j, "ts"));
	if ((s = json_str(j, "thread_ts")) != NULL && strcmp(s, e->ts) != 0)
		e->thread_ts = xstrdup(s);
	if ((s = json_str(j, "user")) != NULL)
		e->user = xstrdup(s);
	if ((s = json_str(j, "username")) != NULL)
		e->username = xstrdup(s);
	else if ((s = json_str(j, "bot_id")) != NULL)
		e->username = xstrdup(s);
	e->text = xstrdup(json_str(j, "text") != NULL ?
	    json_str(j, "text") : "");
	e->ntaggers = cJSON_GetArraySize(json_path(j, "taggers"));
	e->pending = json_bool(j, "pending");
	cJSON_Delete(j);
	return (0);
}

/* The tagged messages of channel, oldest first. */
int
timeline_load(const char *channel, struct timeline_list *l)
{
	char	*prefix;
	int	 rv;

	l->v = NULL;
	l->n = 0;
	xasprintf(&prefix, "%s/", channel);
	rv = store_foreach(store, STORE_TIMELINE, prefix, tl_collect_cb, l);
	free(prefix);
	return (rv);
}

/* Free what timeline_load filled in. */
void
timeline_list_free(struct timeline_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		tl_entry_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ------------------------------------------------------------ time */

static void
tl_tz_enter(void)
{
	const char	*old;

	if (tl_tz_active++ > 0 || strcmp(cfg->timeline.timezone, "UTC") == 0)
		return;
	old = getenv("TZ");
	free(tl_saved_tz);
	tl_saved_tz = old != NULL ? xstrdup(old) : NULL;
	setenv("TZ", cfg->timeline.timezone, 1);
	tzset();
}

static void
tl_tz_leave(void)
{
	if (--tl_tz_active > 0 || strcmp(cfg->timeline.timezone, "UTC") == 0)
		return;
	if (tl_saved_tz != NULL)
		setenv("TZ", tl_saved_tz, 1);
	else
		unsetenv("TZ");
	free(tl_saved_tz);
	tl_saved_tz = NULL;
	tzset();
}

/* Switch TZ for a batch of timeline_format_time calls (TZ is global). */
void
timeline_tz_begin(void)
{
	tl_tz_enter();
}

/* End the batch started by timeline_tz_begin. */
void
timeline_tz_end(void)
{
	tl_tz_leave();
}

/* "2026-11-24 01:04 UTC (2026-11-24 02:04 CET)" for a message ts. */
char *
timeline_format_time(const char *ts)
{
	struct tm	 tm;
	time_t		 t = tl_ts_seconds(ts);
	char		 utc[64], loc[64], *out;

	gmtime_r(&t, &tm);
	strftime(utc, sizeof(utc), "%Y-%m-%d %H:%M UTC", &tm);
	if (strcmp(cfg->timeline.timezone, "UTC") == 0)
		return (xstrdup(utc));
	tl_tz_enter();
	localtime_r(&t, &tm);
	strftime(loc, sizeof(loc), "%Y-%m-%d %H:%M %Z", &tm);
	tl_tz_leave();
	xasprintf(&out, "%s (%s)", utc, loc);
	return (out);
}

/* ------------------------------------------------------------ pacing */

/* Queue a conversations.history/replies call behind the others. */
void
timeline_history_call(const char *method, cJSON *args, slack_cb cb,
    void *arg)
{
	struct tl_call	*c;

	c = xcalloc(1, sizeof(*c));
	c->method = xstrdup(method);
	c->args = args;
	c->cb = cb;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&tl_queue, c, entry);
	tl_send_next();
}

static void
tl_send_next(void)
{
	struct tl_call	*c;
	struct timeval	 tv;
	uint64_t	 interval, now = now_ms(), due;

	if (tl_busy || (c = TAILQ_FIRST(&tl_queue)) == NULL)
		return;
	interval = 60000 / (uint64_t)cfg->timeline.history_per_minute;
	due = tl_last_call_ms + interval;
	if (tl_last_call_ms != 0 && due > now) {
		if (!evtimer_pending(tl_pace_ev, NULL)) {
			tv.tv_sec = (due - now) / 1000;
			tv.tv_usec = ((due - now) % 1000) * 1000;
			evtimer_add(tl_pace_ev, &tv);
		}
		return;
	}
	TAILQ_REMOVE(&tl_queue, c, entry);
	tl_busy = 1;
	tl_last_call_ms = now;
	slack_call(c->method, c->args, tl_call_cb, c);
}

static void
tl_pace_cb(evutil_socket_t fd, short events, void *arg)
{
	tl_send_next();
}

static void
tl_call_cb(const struct slack_result *sr, void *arg)
{
	struct tl_call	*c = arg;

	tl_busy = 0;
	/* Pace from the answer: a 429 retry took its own time. */
	tl_last_call_ms = now_ms();
	c->cb(sr, c->arg);
	free(c->method);
	free(c);
	tl_send_next();
}

/* ------------------------------------------------------------ backfill */

/* "30 days", "36 hours", "90 minutes" for a duration in seconds. */
static char *
tl_duration(long long secs)
{
	char		*out;
	const char	*unit = "second";
	long long	 n = secs;

	if (secs % (24 * 60 * 60) == 0) {
		n = secs / (24 * 60 * 60);
		unit = "day";
	} else if (secs % (60 * 60) == 0) {
		n = secs / (60 * 60);
		unit = "hour";
	} else if (secs % 60 == 0) {
		n = secs / 60;
		unit = "minute";
	}
	xasprintf(&out, "%lld %s%s", n, unit, n == 1 ? "" : "s");
	return (out);
}

/* Why channel needs reading back, or NULL; see incidentd.h. */
char *
timeline_backfill_needed(const char *channel, time_t created, time_t *from,
    time_t *to)
{
	struct timeline_list	 l;
	const cJSON		*g;
	cJSON			*gaps;
	char			*key, *why = NULL, *tmp, *d, a[32], b[32];
	time_t			 bf, first, gf, gt, limit, now = now_wall();
	struct tm		 tm;
	size_t			 i, npending = 0;

	*from = *to = 0;
	xasprintf(&key, "timeline.bf/%s", channel);
	bf = tl_meta_time(key);
	free(key);
	first = tl_meta_time("timeline.first_start");
	if (created != 0 && first != 0 && created < first && bf < first) {
		*from = created;
		*to = first;
		why = xstrdup("the channel is older than my index of it");
	}
	gaps = tl_gaps_load();
	cJSON_ArrayForEach(g, gaps) {
		gf = (time_t)json_num(cJSON_GetArrayItem(g, 0), "", 0);
		gt = (time_t)json_num(cJSON_GetArrayItem(g, 1), "", 0);
		if (gt == 0)
			gt = now;
		if (gt <= bf || (created != 0 && gt < created))
			continue;
		if (*from == 0 || gf < *from)
			*from = gf;
		if (gt > *to)
			*to = gt;
		gmtime_r(&gf, &tm);
		strftime(a, sizeof(a), "%Y-%m-%d %H:%M:%S", &tm);
		gmtime_r(&gt, &tm);
		strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm);
		xasprintf(&tmp, "%s%sI was not receiving events from %s to "
		    "%s UTC", why != NULL ? why : "", why != NULL ? "; " : "",
		    a, b);
		free(why);
		why = tmp;
	}
	cJSON_Delete(gaps);
	if (*from != 0) {
		*from -= TL_MARGIN_S;
		*to += TL_MARGIN_S;
	}
	/* Never further back than backfill_max: say what was left out. */
	limit = now - (time_t)cfg->timeline.backfill_max;
	if (*from != 0 && *from < limit) {
		*from = limit;
		if (*to <= limit)
			*from = *to = 0;	/* nothing recent to read */
		d = tl_duration(cfg->timeline.backfill_max);
		xasprintf(&tmp, "%s; history older than %s was not read", why,
		    d);
		free(d);
		free(why);
		why = tmp;
	}
	if (timeline_load(channel, &l) == 0) {
		for (i = 0; i < l.n; i++)
			npending += l.v[i].pending;
	}
	timeline_list_free(&l);
	if (npending > 0) {
		xasprintf(&tmp, "%s%s%zu tagged message%s I had not seen",
		    why != NULL ? why : "", why != NULL ? "; " : "", npending,
		    npending == 1 ? "" : "s");
		free(why);
		why = tmp;
	}
	return (why);
}

/*
 * Bring one history message into the index: tagged (the emoji in its
 * reactions) means an entry with those taggers; not tagged means none.
 * Returns 1 if the message has replies to read.
 */
static int
tl_reconcile(const char *channel, const cJSON *m)
{
	const cJSON	*r, *users = NULL, *u;
	const char	*ts = json_str(m, "ts");
	cJSON		*entry, *taggers;
	char		*key;

	if (ts == NULL || !tl_valid_id(ts))
		return (0);
	tl_cache_message(channel, m);
	cJSON_ArrayForEach(r, json_path(m, "reactions")) {
		if (tl_emoji_match(json_str(r, "name")))
			users = json_path(r, "users");
	}
	key = tl_key("", channel, ts);
	entry = tl_get(key);
	if (users == NULL || cJSON_GetArraySize(users) == 0) {
		if (entry != NULL) {
			(void)tl_stored(store_del(store, STORE_TIMELINE, key),
			    key);
			log_info("timeline: %s untagged (history)", key);
		}
	} else {
		if (entry == NULL) {
			entry = cJSON_CreateObject();
			cJSON_AddStringToObject(entry, "channel", channel);
			cJSON_AddNumberToObject(entry, "tagged_at",
			    (double)now_wall());
		}
		tl_copy_message(entry, m);
		cJSON_DeleteItemFromObjectCaseSensitive(entry, "taggers");
		taggers = cJSON_AddArrayToObject(entry, "taggers");
		cJSON_ArrayForEach(u, users) {
			if (cJSON_IsString(u))
				cJSON_AddItemToArray(taggers,
				    cJSON_CreateString(u->valuestring));
		}
		tl_put(key, entry);
	}
	cJSON_Delete(entry);
	free(key);
	return (json_num(m, "reply_count", 0) > 0 &&
	    json_str(m, "thread_ts") != NULL &&
	    strcmp(json_str(m, "thread_ts"), ts) == 0);
}

static void
tl_bf_free(struct tl_backfill *bf)
{
	TAILQ_REMOVE(&tl_bfs, bf, entry);
	free(bf->channel);
	free(bf->cbs);
	free(bf->args);
	free(bf->cursor);
	strlist_free(&bf->threads);
	strlist_free(&bf->seen);
	strlist_free(&bf->pending);
	free(bf);
}

static int
tl_pending_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct tl_backfill	*bf = arg;
	cJSON			*j;

	if ((j = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	if (json_bool(j, "pending") && json_str(j, "ts") != NULL)
		strlist_add(&bf->pending, json_str(j, "ts"));
	cJSON_Delete(j);
	return (0);
}

/* Read history in [from, to] (0, 0: only resolve pending tags). */
void
timeline_backfill(const char *channel, time_t from, time_t to,
    timeline_backfill_cb cb, void *arg)
{
	struct tl_backfill	*bf;

	/* One backfill per channel; later askers wait for the same one. */
	TAILQ_FOREACH(bf, &tl_bfs, entry) {
		if (strcmp(bf->channel, channel) == 0) {
			tl_bf_wait(bf, cb, arg);
			return;
		}
	}
	bf = xcalloc(1, sizeof(*bf));
	bf->channel = xstrdup(channel);
	bf->from = from;
	bf->to = to;
	bf->started = now_wall();
	tl_bf_wait(bf, cb, arg);
	bf->phase = from == 0 && to == 0 ? TL_PH_PENDING : TL_PH_HISTORY;
	TAILQ_INSERT_TAIL(&tl_bfs, bf, entry);
	log_info("timeline: backfilling %s (%lld to %lld)", channel,
	    (long long)from, (long long)to);
	if (bf->phase == TL_PH_PENDING)
		tl_bf_enter_pending(bf);
	tl_bf_step(bf);
}

static void
tl_bf_wait(struct tl_backfill *bf, timeline_backfill_cb cb, void *arg)
{
	bf->cbs = xreallocarray(bf->cbs, bf->nwaiters + 1, sizeof(*bf->cbs));
	bf->args = xreallocarray(bf->args, bf->nwaiters + 1,
	    sizeof(*bf->args));
	bf->cbs[bf->nwaiters] = cb;
	bf->args[bf->nwaiters++] = arg;
}

/* Collect the tags whose text was never seen, to fetch one by one. */
static void
tl_bf_enter_pending(struct tl_backfill *bf)
{
	char	*prefix;

	bf->phase = TL_PH_PENDING;
	bf->pending_i = 0;
	xasprintf(&prefix, "%s/", bf->channel);
	/* Reads only: a failure leaves the list short, tl_bf_failed ends it. */
	(void)tl_stored(store_foreach(store, STORE_TIMELINE, prefix,
	    tl_pending_cb, bf), prefix);
	free(prefix);
}

/* The next history-tier call of a backfill, or its end. */
static void
tl_bf_step(struct tl_backfill *bf)
{
	cJSON		*args;
	char		 buf[32];
	const char	*ts;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", bf->channel);
	snprintf(buf, sizeof(buf), "%lld", cfg->timeline.history_page_size);
	cJSON_AddStringToObject(args, "limit", buf);
	switch (bf->phase) {
	case TL_PH_HISTORY:
		cJSON_AddStringToObject(args, "inclusive", "true");
		if (bf->from > 0) {
			snprintf(buf, sizeof(buf), "%lld.000000",
			    (long long)bf->from);
			cJSON_AddStringToObject(args, "oldest", buf);
		}
		if (bf->to > 0) {
			snprintf(buf, sizeof(buf), "%lld.999999",
			    (long long)bf->to);
			cJSON_AddStringToObject(args, "latest", buf);
		}
		if (bf->cursor != NULL)
			cJSON_AddStringToObject(args, "cursor", bf->cursor);
		bf->nreq++;
		timeline_history_call("conversations.history", args,
		    tl_bf_history_cb, bf);
		return;
	case TL_PH_REPLIES:
		cJSON_AddStringToObject(args, "ts",
		    bf->threads.v[bf->thread_i]);
		if (bf->cursor != NULL)
			cJSON_AddStringToObject(args, "cursor", bf->cursor);
		bf->nreq++;
		timeline_history_call("conversations.replies", args,
		    tl_bf_replies_cb, bf);
		return;
	case TL_PH_PENDING:
		if (bf->pending_i >= bf->pending.n)
			break;
		/*
		 * One message by its ts: replies answers for a top-level
		 * message and for a reply alike (the parent may come first).
		 */
		ts = bf->pending.v[bf->pending_i];
		cJSON_DeleteItemFromObjectCaseSensitive(args, "limit");
		cJSON_AddStringToObject(args, "limit", "2");
		cJSON_AddStringToObject(args, "ts", ts);
		cJSON_AddStringToObject(args, "oldest", ts);
		cJSON_AddStringToObject(args, "latest", ts);
		cJSON_AddStringToObject(args, "inclusive", "true");
		bf->nreq++;
		timeline_history_call("conversations.replies", args,
		    tl_bf_pending_cb, bf);
		return;
	}
	cJSON_Delete(args);
	tl_bf_done(bf, NULL);
}

static void
tl_bf_next_cursor(struct tl_backfill *bf, const struct slack_result *sr)
{
	const char	*next;

	free(bf->cursor);
	bf->cursor = NULL;
	next = json_str(sr->json, "response_metadata.next_cursor");
	if (next != NULL && *next != '\0')
		bf->cursor = xstrdup(next);
}

static void
tl_bf_history_cb(const struct slack_result *sr, void *arg)
{
	struct tl_backfill	*bf = arg;
	const cJSON		*m;
	const char		*ts;

	if (!sr->ok) {
		tl_bf_done(bf, sr->error);
		return;
	}
	cJSON_ArrayForEach(m, json_path(sr->json, "messages")) {
		if ((ts = json_str(m, "ts")) == NULL)
			continue;
		bf->nmsg++;
		strlist_add(&bf->seen, ts);
		if (tl_reconcile(bf->channel, m))
			strlist_add(&bf->threads, ts);
	}
	if (tl_bf_failed(bf))
		return;
	tl_bf_next_cursor(bf, sr);
	if (bf->cursor == NULL) {
		bf->thread_i = 0;
		bf->phase = TL_PH_REPLIES;
		if (bf->threads.n == 0) {
			tl_bf_reconcile_deleted(bf);
			tl_bf_enter_pending(bf);
		}
	}
	if (tl_bf_failed(bf))
		return;
	tl_bf_step(bf);
}

static void
tl_bf_replies_cb(const struct slack_result *sr, void *arg)
{
	struct tl_backfill	*bf = arg;
	const cJSON		*m;
	const char		*ts, *parent = bf->threads.v[bf->thread_i];

	if (!sr->ok) {
		tl_bf_done(bf, sr->error);
		return;
	}
	cJSON_ArrayForEach(m, json_path(sr->json, "messages")) {
		if ((ts = json_str(m, "ts")) == NULL ||
		    strcmp(ts, parent) == 0)
			continue;
		bf->nmsg++;
		strlist_add(&bf->seen, ts);
		(void)tl_reconcile(bf->channel, m);
	}
	if (tl_bf_failed(bf))
		return;
	tl_bf_next_cursor(bf, sr);
	if (bf->cursor == NULL && ++bf->thread_i == bf->threads.n) {
		tl_bf_reconcile_deleted(bf);
		tl_bf_enter_pending(bf);
	}
	if (tl_bf_failed(bf))
		return;
	tl_bf_step(bf);
}

static void
tl_bf_pending_cb(const struct slack_result *sr, void *arg)
{
	struct tl_backfill	*bf = arg;
	const cJSON		*m;
	const char		*ts = bf->pending.v[bf->pending_i];
	char			*key;
	int			 found = 0;

	if (!sr->ok && sr->error != NULL &&
	    strcmp(sr->error, "thread_not_found") != 0 &&
	    strcmp(sr->error, "message_not_found") != 0) {
		tl_bf_done(bf, sr->error);
		return;
	}
	cJSON_ArrayForEach(m, json_path(sr->json, "messages")) {
		if (json_str(m, "ts") != NULL &&
		    strcmp(json_str(m, "ts"), ts) == 0) {
			bf->nmsg++;
			(void)tl_reconcile(bf->channel, m);
			found = 1;
		}
	}
	if (!found) {
		/* Gone from Slack: deleted while we were not looking. */
		key = tl_key("", bf->channel, ts);
		(void)tl_stored(store_del(store, STORE_TIMELINE, key), key);
		log_info("timeline: %s no longer exists", key);
		free(key);
	}
	if (tl_bf_failed(bf))
		return;
	bf->pending_i++;
	tl_bf_step(bf);
}

static int
tl_strcmp_cb(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

struct tl_window {
	struct tl_backfill	*bf;
	struct strlist		 gone;
};

static int
tl_in_window_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct tl_window	*w = arg;
	struct tl_backfill	*bf = w->bf;
	const char		*ts, *thread, *tsp;
	cJSON			*j;
	time_t			 t;

	if ((j = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	ts = json_str(j, "ts");
	thread = json_str(j, "thread_ts");
	if (ts == NULL || json_bool(j, "pending"))
		goto out;
	t = tl_ts_seconds(ts);
	if (t < bf->from || (bf->to > 0 && t > bf->to))
		goto out;
	tsp = ts;
	if (bf->seen.n > 0 && bsearch(&tsp, bf->seen.v, bf->seen.n,
	    sizeof(*bf->seen.v), tl_strcmp_cb) != NULL)
		goto out;
	/* A reply counts only if its thread was read. */
	if (thread != NULL && strcmp(thread, ts) != 0 && (bf->threads.n == 0 ||
	    bsearch(&thread, bf->threads.v, bf->threads.n,
	    sizeof(*bf->threads.v), tl_strcmp_cb) == NULL))
		goto out;
	strlist_add(&w->gone, key);
out:
	cJSON_Delete(j);
	return (0);
}

/* Tagged messages in the window that history no longer has. */
static void
tl_bf_reconcile_deleted(struct tl_backfill *bf)
{
	struct tl_window	 w;
	char			*prefix;
	size_t			 i;

	/* Both lists are sorted for bsearch (empty ones may be NULL). */
	if (bf->seen.n > 0)
		qsort(bf->seen.v, bf->seen.n, sizeof(*bf->seen.v),
		    tl_strcmp_cb);
	if (bf->threads.n > 0)
		qsort(bf->threads.v, bf->threads.n, sizeof(*bf->threads.v),
		    tl_strcmp_cb);
	w.bf = bf;
	w.gone.v = NULL;
	w.gone.n = 0;
	xasprintf(&prefix, "%s/", bf->channel);
	(void)tl_stored(store_foreach(store, STORE_TIMELINE, prefix,
	    tl_in_window_cb, &w), prefix);
	free(prefix);
	for (i = 0; i < w.gone.n; i++) {
		if (tl_stored(store_del(store, STORE_TIMELINE, w.gone.v[i]),
		    w.gone.v[i]) != 0)
			break;
		log_info("timeline: %s deleted while I was away", w.gone.v[i]);
	}
	strlist_free(&w.gone);
}

/*
 * This turn's writes failed, so what the backfill reconciled in it is
 * gone: end it with an error (no done mark), and let the next one redo
 * the window. 1 if it ended.
 */
static int
tl_bf_failed(struct tl_backfill *bf)
{
	int	rv;

	if ((rv = store_failed(store)) == 0)
		return (0);
	tl_bf_done(bf, store_strerror(rv));
	return (1);
}

static void
tl_bf_done(struct tl_backfill *bf, const char *error)
{
	char	*key, *summary;
	size_t	 i;

	if (error == NULL) {
		xasprintf(&key, "timeline.bf/%s", bf->channel);
		tl_meta_set_time(key, bf->started);
		free(key);
	}
	xasprintf(&summary, "%d message%s read in %d request%s", bf->nmsg,
	    bf->nmsg == 1 ? "" : "s", bf->nreq, bf->nreq == 1 ? "" : "s");
	log_info("timeline: backfill of %s %s: %s", bf->channel,
	    error != NULL ? "failed" : "done", summary);
	/* Off the list first: a waiter may start another backfill. */
	TAILQ_REMOVE(&tl_bfs, bf, entry);
	for (i = 0; i < bf->nwaiters; i++)
		bf->cbs[i](error, summary, bf->args[i]);
	free(summary);
	TAILQ_INSERT_HEAD(&tl_bfs, bf, entry);
	tl_bf_free(bf);
}
