/* unit-timeline.c: timeline times in UTC and the configured zone. */
#include "config.h"

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
	cfg = NULL;
	return (done_testing());
}
