/*
 * unit-timeline.c: timeline times in UTC and the configured zone; what
 * the message cache keeps (incident channels only, never DMs, for
 * cache_days), how far back a backfill may read (backfill_max), and the
 * bounded display-name cache of get timeline.
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "tap.h"

#define DAY	(24 * 60 * 60)

static char *
t_ts(time_t t)
{
	char	*ts;

	xasprintf(&ts, "%lld.000100", (long long)t);
	return (ts);
}

/* A message event as Socket Mode delivers it. */
static void
t_message(const char *channel, const char *ts, const char *text)
{
	cJSON	*ev = cJSON_CreateObject();

	cJSON_AddStringToObject(ev, "type", "message");
	cJSON_AddStringToObject(ev, "channel", channel);
	cJSON_AddStringToObject(ev, "user", "U0BOB");
	cJSON_AddStringToObject(ev, "ts", ts);
	cJSON_AddStringToObject(ev, "text", text);
	timeline_message(ev);
	cJSON_Delete(ev);
}

static void
t_tag(const char *channel, const char *ts)
{
	cJSON	*ev = cJSON_CreateObject(), *item;

	cJSON_AddStringToObject(ev, "type", "reaction_added");
	cJSON_AddStringToObject(ev, "user", "U0ALICE");
	cJSON_AddStringToObject(ev, "reaction", "memo");
	cJSON_AddStringToObject(ev, "item_user", "U0BOB");
	item = cJSON_AddObjectToObject(ev, "item");
	cJSON_AddStringToObject(item, "type", "message");
	cJSON_AddStringToObject(item, "channel", channel);
	cJSON_AddStringToObject(item, "ts", ts);
	timeline_reaction(ev, 1);
	cJSON_Delete(ev);
}

/* The stored JSON under key in the timeline database, or NULL. */
static cJSON *
t_get(const char *prefix, const char *channel, const char *ts)
{
	cJSON	*j;
	char	*key, *val;
	size_t	 len;

	xasprintf(&key, "%s%s/%s", prefix, channel, ts);
	if (store_get(store, STORE_TIMELINE, key, &val, &len) != 0) {
		free(key);
		return (NULL);
	}
	free(key);
	j = cJSON_ParseWithLength(val, len);
	free(val);
	return (j);
}

static int
t_has(const char *prefix, const char *channel, const char *ts)
{
	cJSON	*j = t_get(prefix, channel, ts);

	cJSON_Delete(j);
	return (j != NULL);
}

static void
t_put_cache(const char *channel, time_t t)
{
	char	*key, *ts = t_ts(t);
	char	 val[128];

	xasprintf(&key, "~m/%s/%s", channel, ts);
	snprintf(val, sizeof(val), "{\"ts\":\"%s\",\"text\":\"old\"}", ts);
	(void)store_put(store, STORE_TIMELINE, key, val, strlen(val));
	free(key);
	free(ts);
}

/* A whole expiry walk in slices of slice keys; how many it forgot. */
static size_t
t_expire(size_t slice, size_t *slices)
{
	size_t	n = 1;

	while (timeline_expire_step(slice))
		n++;
	if (slices != NULL)
		*slices = n;
	return (timeline_expired());
}

struct t_count {
	const char	*channel;	/* count only its keys, if set */
	time_t		 before;	/* and only those older */
	size_t		 n;
};

static int
t_count_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct t_count	*c = arg;
	const char	*ts = strrchr(key, '/');

	if (c->channel != NULL && (strncmp(key + 3, c->channel,
	    strlen(c->channel)) != 0 || ts == NULL ||
	    strtoll(ts + 1, NULL, 10) >= (long long)c->before))
		return (0);
	c->n++;
	return (0);
}

/* Cached messages (of channel, older than before, if channel is set). */
static size_t
t_cached(const char *channel, time_t before)
{
	struct t_count	c = { channel, before, 0 };

	(void)store_foreach(store, STORE_TIMELINE, "~m/", t_count_cb, &c);
	return (c.n);
}

static int
t_rm_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return (remove(path));
}

static void
test_cache(struct config *c)
{
	char	 dir[] = "/tmp/unit-timeline.XXXXXX", *cause = NULL;
	char	*ts1, *ts2, *ts3, *ts4, *old, *why;
	size_t	 i, n, slices;
	cJSON	*j;
	time_t	 now = now_wall(), from, to;

	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	if (store_open(dir, 1 << 20, 0, &store, &cause) != 0)
		fatalx("store_open: %s", cause);
	c->slack.timeline_emoji = (char *)"memo";
	c->timeline.cache_days = 30;
	c->timeline.backfill_max = 30 * DAY;
	(void)store_put(store, STORE_CHANNELS, "C0INC", "INC-1", 5);
	ts1 = t_ts(now - 10);
	ts2 = t_ts(now - 9);
	ts3 = t_ts(now - 8);
	ts4 = t_ts(now - 7);

	/* Live messages: cached only in an incident channel. */
	t_message("C0INC", ts1, "in the incident");
	t_message("C0PLAIN", ts2, "chat elsewhere");
	t_message("D0ALICE", ts3, "a DM to the bot");
	j = t_get("~m/", "C0INC", ts1);
	is_str(json_str(j, "text"), "in the incident",
	    "cache: incident channel kept");
	cJSON_Delete(j);
	ok(!t_has("~m/", "C0PLAIN", ts2),
	    "cache: other channel not kept");
	ok(!t_has("~m/", "D0ALICE", ts3), "cache: DM not kept");
	old = t_ts(now - 31 * DAY);
	t_message("C0INC", old, "edited long after");
	ok(!t_has("~m/", "C0INC", old), "cache: past cache_days not kept");

	/* Tags: text from the cache, or pending (history fills it in). */
	t_tag("C0INC", ts1);
	j = t_get("", "C0INC", ts1);
	ok(j != NULL && !json_bool(j, "pending") &&
	    strcmp(json_str(j, "text"), "in the incident") == 0,
	    "tag in an incident channel resolved from the cache");
	cJSON_Delete(j);
	t_tag("C0PLAIN", ts2);
	j = t_get("", "C0PLAIN", ts2);
	ok(j != NULL && json_bool(j, "pending") &&
	    json_str(j, "text") == NULL, "tag elsewhere: pending, no text");
	cJSON_Delete(j);
	t_tag("D0ALICE", ts3);
	ok(!t_has("", "D0ALICE", ts3), "tag in a DM: nothing kept");

	/* Said before the channel became an incident's, tagged after. */
	t_message("C0LATE", ts4, "before the incident");
	(void)store_put(store, STORE_CHANNELS, "C0LATE", "INC-2", 5);
	t_tag("C0LATE", ts4);
	j = t_get("", "C0LATE", ts4);
	ok(j != NULL && json_bool(j, "pending"), "early message: tag pending");
	cJSON_Delete(j);
	why = timeline_backfill_needed("C0LATE", now - 60, &from, &to);
	ok(why != NULL && strstr(why, "1 tagged message I had not seen") !=
	    NULL, "early message: get timeline reads it back");
	free(why);

	/* Expiry: cache_days, and channels that are not incidents'. */
	t_put_cache("C0INC", now - 31 * DAY);
	t_put_cache("C0INC", now - 5 * DAY);
	t_put_cache("C0PLAIN", now - 60);	/* an older version's */
	t_put_cache("D0ALICE", now - 60);
	is_int(t_expire(1000, NULL), 3, "expire: 3 forgotten");
	free(old);
	old = t_ts(now - 5 * DAY);
	ok(t_has("~m/", "C0INC", old), "expire: 5 days kept at 30");
	ok(t_has("~m/", "C0INC", ts1), "expire: recent kept");
	c->timeline.cache_days = 3;		/* a reload shrinks it */
	is_int(t_expire(1000, NULL), 1, "expire: shrunk retention");
	ok(!t_has("~m/", "C0INC", old), "expire: 5 days gone at 3");
	ok(t_has("", "C0INC", ts1), "expire: tagged entries stay");

	/* A big cache in many small slices: everything old still goes. */
	for (i = 0; i < 200; i++) {
		t_put_cache("C0INC", now - 31 * DAY - i);
		t_put_cache("C0INC", now - 60 - i);
		t_put_cache("C0PLAIN", now - 60 - i);
	}
	n = t_cached(NULL, 0);
	is_int(t_expire(7, &slices), 400, "sliced expire: 400 forgotten");
	ok(slices >= n / 7, "sliced expire: a slice per 7 keys");
	is_int(t_cached(NULL, 0), n - 400, "sliced expire: the rest kept");
	is_int(t_cached("C0INC", now - DAY), 0,
	    "sliced expire: nothing old left in the incident channel");
	is_int(t_cached("C0PLAIN", now), 0,
	    "sliced expire: nothing left of the other channel");
	is_int(t_cached("C0INC", now), n - 400,
	    "sliced expire: the incident channel's recent messages kept");
	/* Keys added behind and ahead of a walk under way. */
	t_put_cache("C0PLAIN", now - 60);
	ok(timeline_expire_step(1), "one key, then more");
	t_put_cache("C0INC", now - 31 * DAY);	/* behind the cursor */
	t_put_cache("C0ZZZ", now - 60);		/* ahead of it */
	is_int(t_expire(1, NULL), 2, "the walk resumed after its cursor");
	is_int(t_cached("C0ZZZ", now), 0, "a key ahead of the cursor went");
	is_int(timeline_expire_step(1000), 0, "a new walk: one slice");
	is_int(timeline_expired(), 1, "it found the key left behind");

	/* backfill_max bounds an old channel's backfill. */
	free(old);
	xasprintf(&old, "%lld", (long long)(now - 3600));
	(void)store_put(store, STORE_META, "timeline.first_start", old,
	    strlen(old));
	why = timeline_backfill_needed("C0NEW", now - 10 * DAY, &from, &to);
	ok(why != NULL && strstr(why, "not read") == NULL &&
	    from == now - 10 * DAY - 60, "backfill: a young channel in full");
	free(why);
	why = timeline_backfill_needed("C0OLD", now - 400 * DAY, &from, &to);
	is_str(why, "the channel is older than my index of it; history older "
	    "than 30 days was not read", "backfill: the reply says so");
	ok(from >= now - 30 * DAY && from <= now_wall() - 30 * DAY &&
	    to == now - 3600 + 60, "backfill: from now - backfill_max");
	free(why);
	c->timeline.backfill_max = 36 * 60 * 60;
	why = timeline_backfill_needed("C0OLD", now - 400 * DAY, &from, &to);
	ok(why != NULL && strstr(why, "older than 36 hours was not read") !=
	    NULL && from >= now - 36 * 60 * 60, "backfill: 36 hours");
	free(why);
	c->timeline.backfill_max = 1800 * 60;
	free(old);
	xasprintf(&old, "%lld", (long long)(now - 2 * DAY));
	(void)store_put(store, STORE_META, "timeline.first_start", old,
	    strlen(old));
	why = timeline_backfill_needed("C0OLD", now - 400 * DAY, &from, &to);
	ok(why != NULL && strstr(why, "older than 30 hours was not read") !=
	    NULL && from == 0 && to == 0,
	    "backfill: nothing recent enough, nothing read");
	free(why);

	free(old);
	free(ts1);
	free(ts2);
	free(ts3);
	free(ts4);
	store_close(store);
	store = NULL;
	(void)nftw(dir, t_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void
check_time(const char *ts, const char *want, const char *name)
{
	char	*out = timeline_format_time(ts);

	is_str(out, want, name);
	free(out);
}

/* The cache keeps at most 4096 names, drops the least recent, expires. */
static void
test_names(void)
{
	char		 id[32], name[32];
	time_t		 now = 1700000000;
	const char	*v;
	int		 i, missing = 0;

	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "U%07d", i);
		snprintf(name, sizeof(name), "user %d", i);
		cmd_get_timeline_name_set(id, name, now);
		if (i == 2000)	/* used again: now among the most recent */
			cmd_get_timeline_name("U0000000", now);
	}
	is_int(cmd_get_timeline_names(), 4096, "cache bounded at 4096");
	v = cmd_get_timeline_name("U0000000", now);
	is_str(v != NULL ? v : "(none)", "user 0", "a recently used name kept");
	for (i = 1; i <= 904; i++) {
		snprintf(id, sizeof(id), "U%07d", i);
		if (cmd_get_timeline_name(id, now) != NULL)
			break;
	}
	is_int(i, 905, "the least recently used names dropped first");
	for (i = 905; i < 5000; i++) {
		snprintf(id, sizeof(id), "U%07d", i);
		if (cmd_get_timeline_name(id, now) == NULL)
			missing++;
	}
	is_int(missing, 0, "the newest names kept");

	cmd_get_timeline_name_set("U0000000", "renamed", now);
	is_str(cmd_get_timeline_name("U0000000", now), "renamed",
	    "a new name replaces the old");
	is_int(cmd_get_timeline_names(), 4096, "replacing does not grow it");
	ok(cmd_get_timeline_name("U0004999", now + 3599) != NULL,
	    "fresh within the hour");
	ok(cmd_get_timeline_name("U0004999", now + 3600) == NULL,
	    "expired after an hour: fetched again");
	is_int(cmd_get_timeline_names(), 4095, "an expired name is dropped");
	ok(cmd_get_timeline_name("U0004998", now - 10) == NULL,
	    "a name from the future (clock stepped back) is not trusted");
	cmd_get_timeline_shutdown();
	is_int(cmd_get_timeline_names(), 0, "shutdown empties the cache");
}

int
main(void)
{
	struct config	 c;
	struct tm	 tm;
	time_t		 t = 1700000000;
	char		*s1, *s2;

	memset(&c, 0, sizeof(c));
	cfg = &c;
	setenv("TZ", "America/New_York", 1);
	tzset();

	c.timeline.timezone = (char *)"UTC";
	check_time("1700000000.000100", "2023-11-14 22:13 UTC", "UTC only");
	c.timeline.timezone = (char *)"Europe/Paris";
	check_time("1700000000.000100",
	    "2023-11-14 22:13 UTC (2023-11-14 23:13 CET)", "winter time");
	check_time("1720000000.000000",
	    "2024-07-03 09:46 UTC (2024-07-03 11:46 CEST)", "summer time");
	check_time("1700006400.5", "2023-11-15 00:00 UTC (2023-11-15 01:00 CET)",
	    "date always shown");
	c.timeline.timezone = (char *)"Asia/Tokyo";
	check_time("1700000000.000100",
	    "2023-11-14 22:13 UTC (2023-11-15 07:13 JST)", "local date differs");

	is_str(getenv("TZ"), "America/New_York", "TZ restored");
	localtime_r(&t, &tm);
	is_int(tm.tm_hour, 17, "localtime uses the process zone again");

	/* A batch switches once and nests. */
	timeline_tz_begin();
	s1 = timeline_format_time("1700000000.000100");
	timeline_tz_begin();
	s2 = timeline_format_time("1720000000.000000");
	timeline_tz_end();
	is_str(getenv("TZ"), "Asia/Tokyo", "zone held inside a batch");
	timeline_tz_end();
	is_str(s1, "2023-11-14 22:13 UTC (2023-11-15 07:13 JST)", "batch 1");
	is_str(s2, "2024-07-03 09:46 UTC (2024-07-03 18:46 JST)", "batch 2");
	is_str(getenv("TZ"), "America/New_York", "TZ restored after batch");
	free(s1);
	free(s2);

	unsetenv("TZ");
	tzset();
	c.timeline.timezone = (char *)"Europe/Paris";
	check_time("1700000000", "2023-11-14 22:13 UTC (2023-11-14 23:13 CET)",
	    "no TZ before");
	ok(getenv("TZ") == NULL, "TZ unset again");
	c.timeline.timezone = (char *)"UTC";
	test_cache(&c);
	timeline_shutdown();
	test_names();
	cfg = NULL;
	return (done_testing());
}
