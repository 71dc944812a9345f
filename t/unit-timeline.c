/*
 * unit-timeline.c: timeline times in UTC and the configured zone, and the
 * bounded display-name cache of get timeline.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "incidentd.h"
#include "tap.h"

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
	timeline_shutdown();
	test_names();
	cfg = NULL;
	return (done_testing());
}
