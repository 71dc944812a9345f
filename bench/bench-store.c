/*
 * bench-store.c: the cost of recording processed Socket Mode events.
 *
 * Each envelope costs one store_event_seen (a put in the turn's write
 * transaction); the reactor commits once per loop turn. This measures
 * envelopes per second for several turn sizes, from one envelope per
 * turn (one fsync each) to a flood (one fsync per 1000), with real fsyncs
 * on the state directory's file system.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incidentd.h"

static void
bench_rm(const char *dir)
{
	char	path[512];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	static const int	 batches[] = { 1, 10, 100, 1000 };
	struct store		*st;
	char			 dir[] = "/tmp/bench-store-XXXXXX", id[64], *cause;
	uint64_t		 t0, ms;
	size_t			 b;
	int			 n = argc > 1 ? atoi(argv[1]) : 20000, i;

	log_init(LOG_LEVEL_ERROR, "bench-store");
	printf("%-22s %10s %12s %10s\n", "envelopes per turn", "envelopes",
	    "envelopes/s", "commits");
	for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		if (mkdtemp(dir) == NULL)
			fatal("mkdtemp");
		if (store_open(dir, 256LL << 20, 0, &st, &cause) != 0)
			fatalx("%s", cause);
		t0 = now_ms();
		for (i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "Ev%08d", i);
			if (store_event_seen(st, id, now_wall()) != 0)
				fatalx("event %s seen twice", id);
			if ((i + 1) % batches[b] == 0 && store_commit(st) != 0)
				fatalx("commit failed");
		}
		store_commit(st);
		ms = now_ms() - t0;
		printf("%-22d %10d %12.0f %10llu\n", batches[b], n,
		    n * 1000.0 / (ms ? ms : 1),
		    (unsigned long long)store_commits(st));
		store_close(st);
		bench_rm(dir);
		strlcpy(dir, "/tmp/bench-store-XXXXXX", sizeof(dir));
	}
	return (0);
}
