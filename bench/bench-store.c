/*
 * bench-store.c: the cost of recording processed Socket Mode events.
 *
 * Each envelope costs one store_event_seen (a put in the turn's write
 * transaction); the reactor commits once per loop turn. This measures
 * envelopes per second for several turn sizes, from one envelope per
 * turn (one fsync each) to a flood (one fsync per 1000), with real fsyncs
 * on the state directory's file system. For one envelope a turn it also
 * prints the commit's latency percentiles: the floor under any reply
 * that must wait for its state to be durable (bench/RESULTS.md).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static double
bench_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e6 + ts.tv_nsec / 1e3);
}

static int
bench_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
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
	double			*lat, c0;

	log_init(LOG_LEVEL_ERROR, "bench-store");
	if (n < 1)
		fatalx("usage: bench-store [ENVELOPES]");
	lat = xcalloc(n, sizeof(*lat));
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
			if ((i + 1) % batches[b] != 0)
				continue;
			c0 = bench_us();
			if (store_commit(st) != 0)
				fatalx("commit failed");
			if (batches[b] == 1)
				lat[i] = bench_us() - c0;
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
	qsort(lat, n, sizeof(*lat), bench_cmp);
	printf("commit (one envelope, one fdatasync): p50 %.0f us, p99 %.0f us, "
	    "max %.0f us\n", lat[n / 2], lat[n * 99 / 100], lat[n - 1]);
	free(lat);
	return (0);
}
