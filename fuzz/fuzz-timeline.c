/*
 * fuzz-timeline.c: the timeline renderer (get timeline) in its three
 * modes on entries and PagerDuty events made from the input, a JSON
 * object {"entries": [{channel, ts, thread_ts, user, username, text,
 * pending}], "pd": [{at, text}]}: every piece must fit in a message.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "harness.h"

#define FUZZ_TL_MAX	256

static char *
fuzz_tl_str(const cJSON *o, const char *k, const char *def)
{
	const char	*s = json_str(o, k);

	if (s == NULL)
		return (def != NULL ? xstrdup(def) : NULL);
	return (xstrdup(s));
}

FUZZ_TARGET(timeline)
{
	struct timeline_list	 l = { NULL, 0 };
	struct strlist		 lines, chunks;
	struct timeline_entry	*e;
	const cJSON		*o, *entries;
	cJSON			*j, *pd;
	size_t			 i, max;
	int			 mode;

	harness_init();
	if ((j = cJSON_ParseWithLength((const char *)data, size)) == NULL)
		return (0);
	entries = json_path(j, "entries");
	l.v = xcalloc(FUZZ_TL_MAX, sizeof(*l.v));
	cJSON_ArrayForEach(o, entries) {
		if (l.n == FUZZ_TL_MAX)
			break;
		e = &l.v[l.n++];
		e->channel = fuzz_tl_str(o, "channel", "C0FUZZ");
		e->ts = fuzz_tl_str(o, "ts", "0");
		e->thread_ts = fuzz_tl_str(o, "thread_ts", NULL);
		e->user = fuzz_tl_str(o, "user", NULL);
		e->username = fuzz_tl_str(o, "username", NULL);
		e->text = fuzz_tl_str(o, "text", "");
		e->pending = json_bool(o, "pending");
	}
	pd = cJSON_DetachItemFromObjectCaseSensitive(j, "pd");
	for (mode = 0; mode < 3; mode++) {
		memset(&lines, 0, sizeof(lines));
		memset(&chunks, 0, sizeof(chunks));
		cmd_get_timeline_lines(mode, &l, cJSON_IsArray(pd) ? pd : NULL,
		    &lines);
		cmd_get_timeline_chunks(mode, &lines, &chunks);
		max = cmd_get_timeline_chunk_max(mode);
		for (i = 0; i < chunks.n; i++) {
			if (strlen(chunks.v[i]) > max)
				harness_fail("timeline: a %zu-byte piece in "
				    "mode %d", strlen(chunks.v[i]), mode);
		}
		strlist_free(&lines);
		strlist_free(&chunks);
	}
	cJSON_Delete(pd);
	timeline_list_free(&l);
	cJSON_Delete(j);
	return (0);
}
