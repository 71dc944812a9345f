/* unit-store.c: LMDB store round trips, group commit, schema, dump. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "tap.h"

/* LMDB's codes, without including lmdb.h here. */
#define T_MDB_MAP_FULL	(-30792)

/* The migration test hook in store.c. */
extern int	(*store_test_migration)(struct store *, int);

static char	 t_root[256];
static int	 t_ndirs;
static const char *t_argv0;

struct t_visit {
	char	 keys[4096];
	int	 n;
	int	 stop_after;
	int	 bad_nul;
	struct store *s;
	int	 action;
	int	 rv;
};

static char	*t_dir(void);
static struct store *t_open(const char *, long long);
static int	 t_rm_cb(const char *, const struct stat *, int, struct FTW *);
static int	 t_visit_cb(const char *, const char *, size_t, void *);
static char	*t_get(struct store *, enum store_db, const char *);
static char	*t_slurp(int);
static void	 t_rx_write1(void *);
static void	 t_rx_write2(void *);
static void	 t_rx_committed(void *);
static int	 t_rdonly_child(const char *);
static int	 t_resize_child(const char *, int, int);
static void	 t_exec_child(const char *, const char *, int, int);
static int	 t_child_main(char **);
static int	 t_migration(struct store *, int);
static int	 t_fill(struct store *, const char *, int, int);
static void	 t_ra_write(void *);
static void	 t_ra_committed(void *);
static void	 t_ra_aborted(void *);
static void	 t_ra_plain(void *);

/* A fresh, empty directory name under the test root (not created). */
static char *
t_dir(void)
{
	char	*d;

	xasprintf(&d, "%s/s%d", t_root, ++t_ndirs);
	return (d);
}

static struct store *
t_open(const char *dir, long long map_size)
{
	struct store	*s;
	char		*cause;
	int		 rv;

	rv = store_open(dir, map_size, 0, &s, &cause);
	if (rv != 0) {
		printf("# store_open %s: %s\n", dir, cause);
		free(cause);
		return (NULL);
	}
	return (s);
}

/* The value of key as a string (caller frees), or NULL. */
static char *
t_get(struct store *s, enum store_db db, const char *key)
{
	char	*v;

	if (store_get(s, db, key, &v, NULL) != 0)
		return (NULL);
	return (v);
}

static int
t_rm_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return (remove(path));
}

static char *
t_slurp(int fd)
{
	char	*buf = NULL;
	size_t	 len = 0, size = 0;
	ssize_t	 n;

	if (lseek(fd, 0, SEEK_SET) == -1)
		return (NULL);
	for (;;) {
		if (size - len < 4096) {
			size += 65536;
			buf = xrealloc(buf, size);
		}
		n = read(fd, buf + len, size - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	return (buf);
}

/*
 * Walk callback: records "key=val;" and may act on the store as it goes
 * (action 1: delete the key; 2: store_commit; 3: store_abort; 4: read
 * another key; 5: put a key).
 */
static int
t_visit_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct t_visit	*v = arg;
	char		*other;

	if (val[len] != '\0' || strlen(key) == 0)
		v->bad_nul = 1;
	strlcat(v->keys, key, sizeof(v->keys));
	strlcat(v->keys, "=", sizeof(v->keys));
	strlcat(v->keys, val, sizeof(v->keys));
	strlcat(v->keys, ";", sizeof(v->keys));
	v->n++;
	switch (v->action) {
	case 1:
		v->rv = store_del(v->s, STORE_JOBS, key);
		break;
	case 2:
		v->rv = store_commit(v->s);
		break;
	case 3:
		store_abort(v->s);
		v->rv = store_put(v->s, STORE_JOBS, "after-abort", "x", 1);
		break;
	case 4:
		if (store_get(v->s, STORE_JOBS, "a", &other, NULL) == 0) {
			if (strcmp(other, "1") != 0)
				v->rv = -1;
			free(other);
		} else
			v->rv = -1;
		break;
	case 5:
		v->rv = store_put(v->s, STORE_PAGES, key, val, len);
		break;
	}
	return (v->stop_after != 0 && v->n >= v->stop_after);
}

static void
test_roundtrip(void)
{
	struct store	*s;
	char		*dir = t_dir(), *v;
	size_t		 len;

	ok((s = t_open(dir, 1 << 20)) != NULL, "open a fresh store");
	if (s == NULL)
		goto out;
	ok(!store_pending(s), "nothing pending after open");
	is_int(store_commits(s), 0, "no commits yet");

	is_int(store_put(s, STORE_INCIDENTS, "INC-1", "{\"a\":1}", 7), 0,
	    "put");
	is_int(store_get(s, STORE_INCIDENTS, "INC-1", &v, &len), 0, "get");
	is_str(v, "{\"a\":1}", "value round trips");
	is_int(len, 7, "length");
	free(v);
	is_int(store_get(s, STORE_INCIDENTS, "INC-1", NULL, NULL), 0,
	    "presence test without copying");

	is_int(store_get(s, STORE_INCIDENTS, "INC-2", &v, &len),
	    STORE_NOTFOUND, "missing key");
	ok(v == NULL && len == 0, "missing key clears outputs");
	is_int(store_get(s, STORE_CHANNELS, "INC-1", &v, NULL),
	    STORE_NOTFOUND, "databases are separate");

	is_int(store_put(s, STORE_INCIDENTS, "INC-1", "{\"a\":2}", 7), 0,
	    "overwrite");
	v = t_get(s, STORE_INCIDENTS, "INC-1");
	is_str(v, "{\"a\":2}", "overwritten value");
	free(v);

	is_int(store_put(s, STORE_PAGES, "empty", NULL, 0), 0,
	    "empty value");
	is_int(store_get(s, STORE_PAGES, "empty", &v, &len), 0, "get empty");
	ok(v != NULL && *v == '\0' && len == 0, "empty value is \"\"");
	free(v);

	is_int(store_put(s, STORE_PAGES, "bin", "a\0b", 3), 0,
	    "value with a NUL byte");
	is_int(store_get(s, STORE_PAGES, "bin", &v, &len), 0, "get it");
	ok(len == 3 && memcmp(v, "a\0b", 4) == 0, "all bytes kept");
	free(v);

	is_int(store_del(s, STORE_INCIDENTS, "INC-1"), 0, "del");
	is_int(store_get(s, STORE_INCIDENTS, "INC-1", NULL, NULL),
	    STORE_NOTFOUND, "gone after del");
	is_int(store_del(s, STORE_INCIDENTS, "INC-1"), STORE_NOTFOUND,
	    "del of a missing key");
	ok(store_pending(s), "NOTFOUND from del keeps the turn");
	is_int(store_commit(s), 0, "commit");
	is_int(store_commits(s), 1, "one commit");
	is_int(store_commit(s), 0, "commit with nothing pending");
	is_int(store_commits(s), 1, "an empty commit is not counted");
	store_close(s);
out:
	free(dir);
}

static void
test_group_commit(void)
{
	struct store	*s;
	struct t_visit	 vis;
	char		*dir = t_dir(), *v, *cause;
	int		 rv;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	store_put(s, STORE_CHANNELS, "C1", "INC-1", 5);
	store_put(s, STORE_CHANNELS, "C2", "INC-2", 5);
	ok(store_pending(s), "writes are pending");
	v = t_get(s, STORE_CHANNELS, "C1");
	is_str(v, "INC-1", "reads see pending writes");
	free(v);
	is_int(store_count(s, STORE_CHANNELS), 2, "count sees them");
	memset(&vis, 0, sizeof(vis));
	store_foreach(s, STORE_CHANNELS, "", t_visit_cb, &vis);
	is_str(vis.keys, "C1=INC-1;C2=INC-2;", "foreach sees them");
	is_int(store_commit(s), 0, "one commit for the turn");
	ok(!store_pending(s), "nothing pending after commit");
	is_int(store_commits(s), 1, "counted once");

	/* abort discards the turn's writes, and only those */
	store_put(s, STORE_CHANNELS, "C3", "INC-3", 5);
	store_del(s, STORE_CHANNELS, "C1");
	store_abort(s);
	ok(!store_pending(s), "nothing pending after abort");
	is_int(store_get(s, STORE_CHANNELS, "C3", NULL, NULL),
	    STORE_NOTFOUND, "aborted put is gone");
	v = t_get(s, STORE_CHANNELS, "C1");
	is_str(v, "INC-1", "aborted del is undone");
	free(v);
	store_abort(s);
	ok(1, "abort with nothing pending is harmless");

	/* durable across close and reopen, and close commits the rest */
	store_put(s, STORE_CHANNELS, "C4", "INC-4", 5);
	store_close(s);
	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "reopen");
		goto out;
	}
	v = t_get(s, STORE_CHANNELS, "C2");
	is_str(v, "INC-2", "committed write survives reopen");
	free(v);
	v = t_get(s, STORE_CHANNELS, "C4");
	is_str(v, "INC-4", "close committed the pending write");
	free(v);
	is_int(store_count(s, STORE_CHANNELS), 3, "count after reopen");
	store_close(s);
	store_close(NULL);
	ok(1, "store_close(NULL)");

	/* a smaller map than the data is grown to fit by LMDB */
	rv = store_open(dir, 4096, 0, &s, &cause);
	is_int(rv, 0, "reopen with a tiny map size");
	if (rv == 0)
		store_close(s);
	else
		free(cause);
out:
	free(dir);
}

static void
test_foreach(void)
{
	static const char	*keys[] = {
		"b/2", "a", "b/1", "c", "b/10", "ba", "b"
	};
	struct store		*s;
	struct t_visit		 vis;
	char			*dir = t_dir(), big[600];
	size_t			 i;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		store_put(s, STORE_JOBS, keys[i], "1", 1);
	store_commit(s);

	memset(&vis, 0, sizeof(vis));
	is_int(store_foreach(s, STORE_JOBS, "b/", t_visit_cb, &vis), 0,
	    "prefix walk");
	is_str(vis.keys, "b/1=1;b/10=1;b/2=1;", "prefix keys in order");
	memset(&vis, 0, sizeof(vis));
	store_foreach(s, STORE_JOBS, "", t_visit_cb, &vis);
	is_str(vis.keys, "a=1;b=1;b/1=1;b/10=1;b/2=1;ba=1;c=1;",
	    "all keys in order");
	ok(!vis.bad_nul, "keys and values NUL-terminated");
	memset(&vis, 0, sizeof(vis));
	store_foreach(s, STORE_JOBS, NULL, t_visit_cb, &vis);
	is_int(vis.n, 7, "NULL prefix is all");

	/* Resuming after a key, present or not, inside the prefix or not. */
	memset(&vis, 0, sizeof(vis));
	store_foreach_after(s, STORE_JOBS, "b/", "b/10", t_visit_cb, &vis);
	is_str(vis.keys, "b/2=1;", "after a key: the keys past it");
	memset(&vis, 0, sizeof(vis));
	store_foreach_after(s, STORE_JOBS, "b/", "b/0", t_visit_cb, &vis);
	is_str(vis.keys, "b/1=1;b/10=1;b/2=1;", "after a missing key");
	memset(&vis, 0, sizeof(vis));
	store_foreach_after(s, STORE_JOBS, "b/", "a", t_visit_cb, &vis);
	is_str(vis.keys, "b/1=1;b/10=1;b/2=1;", "after a key before prefix");
	memset(&vis, 0, sizeof(vis));
	store_foreach_after(s, STORE_JOBS, "b/", "b/2", t_visit_cb, &vis);
	store_foreach_after(s, STORE_JOBS, "b/", "ba", t_visit_cb, &vis);
	is_int(vis.n, 0, "after the last key, after the prefix: nothing");
	memset(&vis, 0, sizeof(vis));
	store_foreach_after(s, STORE_JOBS, "", "b/2", t_visit_cb, &vis);
	is_str(vis.keys, "ba=1;c=1;", "after a key, no prefix");
	memset(&vis, 0, sizeof(vis));
	store_foreach_after(s, STORE_JOBS, NULL, NULL, t_visit_cb, &vis);
	is_int(vis.n, 7, "after NULL: all");
	/* In slices: every key once, in order, the cursor the caller's. */
	{
		char	*cur = NULL;
		int	 slices = 0;

		memset(&vis, 0, sizeof(vis));
		do {
			is_int(store_foreach_slice(s, STORE_JOBS, "", &cur, 3,
			    t_visit_cb, &vis), 0, "a slice");
			slices++;
			if (slices == 1)
				is_str(cur, "b/1", "the cursor: the last key");
			if (slices == 2)	/* a key behind the walk goes */
				store_del(s, STORE_JOBS, "a");
		} while (cur != NULL && slices < 10);
		is_str(vis.keys, "a=1;b=1;b/1=1;b/10=1;b/2=1;ba=1;c=1;",
		    "slices of 3: every key once, in order");
		is_int(slices, 3, "in 3 slices, the last one short");
		store_abort(s);
		memset(&vis, 0, sizeof(vis));
		slices = 0;
		do {
			store_foreach_slice(s, STORE_JOBS, "b/", &cur, 1,
			    t_visit_cb, &vis);
			slices++;
		} while (cur != NULL && slices < 10);
		is_str(vis.keys, "b/1=1;b/10=1;b/2=1;", "slices of a prefix");
		is_int(slices, 3, "one key a slice; the last knows it is");
		memset(&vis, 0, sizeof(vis));
		vis.stop_after = 2;
		store_foreach_slice(s, STORE_JOBS, "", &cur, 5, t_visit_cb,
		    &vis);
		ok(vis.n == 2 && cur == NULL,
		    "a callback that stops ends the walk");
		cur = xstrdup("b/2");
		memset(&vis, 0, sizeof(vis));
		store_foreach_slice(s, STORE_JOBS, "", &cur, 0, t_visit_cb,
		    &vis);
		ok(vis.n == 1 && strcmp(vis.keys, "ba=1;") == 0 &&
		    cur != NULL && strcmp(cur, "ba") == 0,
		    "resumes after its cursor; max 0 is 1");
		free(cur);
	}

	memset(&vis, 0, sizeof(vis));
	store_foreach(s, STORE_JOBS, "bz", t_visit_cb, &vis);
	store_foreach(s, STORE_JOBS, "zz", t_visit_cb, &vis);
	store_foreach(s, STORE_EVENTS, "", t_visit_cb, &vis);
	is_int(vis.n, 0, "no match, past the end, empty database");
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(store_foreach(s, STORE_JOBS, big, t_visit_cb, &vis), 0,
	    "prefix longer than any key");
	is_int(vis.n, 0, "matches nothing");

	memset(&vis, 0, sizeof(vis));
	vis.stop_after = 2;
	is_int(store_foreach(s, STORE_JOBS, "", t_visit_cb, &vis), 0,
	    "callback stops the walk");
	is_int(vis.n, 2, "after two keys");

	/* nested read inside a walk of the cached read transaction */
	memset(&vis, 0, sizeof(vis));
	vis.s = s;
	vis.action = 4;
	store_foreach(s, STORE_JOBS, "b", t_visit_cb, &vis);
	ok(vis.n == 5 && vis.rv == 0, "store_get inside a read walk");
	ok(!store_pending(s), "no transaction left open");

	/* writing from a read walk opens the turn's transaction */
	memset(&vis, 0, sizeof(vis));
	vis.s = s;
	vis.action = 5;
	store_foreach(s, STORE_JOBS, "b/", t_visit_cb, &vis);
	ok(vis.n == 3 && vis.rv == 0 && store_pending(s),
	    "store_put inside a read walk");
	is_int(store_count(s, STORE_PAGES), 3, "those writes are visible");
	store_commit(s);

	/* deleting every key while walking the write transaction */
	store_put(s, STORE_JOBS, "zz", "2", 1);
	memset(&vis, 0, sizeof(vis));
	vis.s = s;
	vis.action = 1;
	is_int(store_foreach(s, STORE_JOBS, "", t_visit_cb, &vis), 0,
	    "walk that deletes as it goes");
	is_int(vis.n, 8, "every key visited once");
	is_int(store_count(s, STORE_JOBS), 0, "all deleted");
	store_abort(s);
	is_int(store_count(s, STORE_JOBS), 7, "abort brings them back");

	/* commit is refused inside a walk of the write transaction */
	store_put(s, STORE_JOBS, "zz", "2", 1);
	memset(&vis, 0, sizeof(vis));
	vis.s = s;
	vis.action = 2;
	vis.stop_after = 1;
	store_foreach(s, STORE_JOBS, "", t_visit_cb, &vis);
	is_int(vis.rv, EBUSY, "store_commit in a walk is EBUSY");
	ok(store_pending(s), "the transaction is intact");
	is_int(store_commit(s), 0, "commit after the walk");

	/* abort inside a walk stops it and discards the turn */
	store_put(s, STORE_JOBS, "new", "3", 1);
	memset(&vis, 0, sizeof(vis));
	vis.s = s;
	vis.action = 3;
	store_foreach(s, STORE_JOBS, "", t_visit_cb, &vis);
	is_int(vis.n, 1, "walk stopped after the abort");
	is_int(vis.rv, ECANCELED, "writes after the abort fail");
	ok(!store_pending(s), "turn discarded when the walk ended");
	is_int(store_get(s, STORE_JOBS, "new", NULL, NULL), STORE_NOTFOUND,
	    "aborted write gone");
	is_int(store_get(s, STORE_JOBS, "zz", NULL, NULL), 0,
	    "committed write kept");

	is_int(store_foreach(s, STORE_NDB, "", t_visit_cb, &vis), EINVAL,
	    "bad database");
	is_int(store_foreach(s, STORE_JOBS, "", NULL, NULL), EINVAL,
	    "no callback");
	store_close(s);
out:
	free(dir);
}

static void
test_keys(void)
{
	struct store	*s;
	char		*dir = t_dir(), key[513], *v;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	memset(key, 'k', sizeof(key) - 1);
	key[512] = '\0';
	is_int(store_put(s, STORE_JOBS, key, "x", 1), EINVAL,
	    "512-byte key refused");
	is_int(store_get(s, STORE_JOBS, key, &v, NULL), EINVAL,
	    "512-byte key refused by get");
	is_int(store_del(s, STORE_JOBS, key), EINVAL, "and by del");
	ok(store_event_seen(s, key, 1) < 0, "and by event_seen");
	ok(!store_pending(s), "refused keys open no transaction");
	key[511] = '\0';
	is_int(store_put(s, STORE_JOBS, key, "x", 1), 0,
	    "511-byte key accepted");
	v = t_get(s, STORE_JOBS, key);
	is_str(v, "x", "and read back");
	free(v);
	is_int(store_put(s, STORE_JOBS, "", "x", 1), EINVAL, "empty key");
	is_int(store_put(s, STORE_JOBS, NULL, "x", 1), EINVAL, "NULL key");
	is_int(store_put(s, STORE_NDB, "k", "x", 1), EINVAL, "bad database");
	is_int(store_put(s, (enum store_db)-1, "k", "x", 1), EINVAL,
	    "negative database");
	is_int(store_put(s, STORE_JOBS, "k", NULL, 3), EINVAL,
	    "NULL value with a length");
	is_int(store_count(s, STORE_NDB), 0, "count of a bad database");
	is_str(store_db_name(STORE_JOBS), "jobs", "database name");
	is_str(store_db_name(STORE_META), "meta", "meta name");
	is_str(store_db_name(STORE_NDB), "unknown", "bad database name");
	store_close(s);
out:
	free(dir);
}

static void
test_events(void)
{
	struct store	*s;
	char		*dir = t_dir(), id[32];
	int		 i, n, bad;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	is_int(store_event_seen(s, "Ev1", 100), 0, "first delivery");
	is_int(store_event_seen(s, "Ev1", 101), 1, "redelivery, same turn");
	store_commit(s);
	is_int(store_event_seen(s, "Ev1", 102), 1, "redelivery, later turn");
	is_int(store_event_seen(s, "", 1), -EINVAL, "empty event id");
	is_int(store_event_seen(s, NULL, 1), -EINVAL, "NULL event id");
	is_str(store_strerror(-EINVAL), strerror(EINVAL),
	    "negative errors have a message");
	store_event_seen(s, "Ev2", 200);
	store_event_seen(s, "Ev3", 300);
	store_event_seen(s, "Ev4", 50);
	store_put(s, STORE_EVENTS, "EvJunk", "soon", 4);
	store_put(s, STORE_EVENTS, "EvEmpty", "", 0);
	store_commit(s);
	is_int(store_expire_events(s, 150), 4,
	    "expired the old and the unreadable");
	ok(store_pending(s), "expiry joins the turn");
	store_commit(s);
	is_int(store_count(s, STORE_EVENTS), 2, "two left");
	is_int(store_event_seen(s, "Ev2", 400), 1, "Ev2 kept (time = cutoff+)");
	is_int(store_event_seen(s, "Ev1", 400), 0, "Ev1 forgotten");
	is_int(store_expire_events(s, 0), 0, "nothing before 0");
	store_commit(s);

	/* enough to span many pages, every other one expiring */
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "Ev%05d", i);
		store_event_seen(s, id, i % 2 ? 1000 : 10);
	}
	store_commit(s);
	n = store_expire_events(s, 500);
	is_int(n, 1503, "expired half of 3000 and the three before");
	store_commit(s);
	bad = 0;
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "Ev%05d", i);
		if (store_get(s, STORE_EVENTS, id, NULL, NULL) ==
		    (i % 2 ? 0 : STORE_NOTFOUND))
			continue;
		bad++;
	}
	is_int(bad, 0, "exactly the old ones gone");
	store_abort(s);
	n = store_expire_events(s, 2000);
	ok(n >= 1500, "expire everything");
	store_commit(s);
	is_int(store_count(s, STORE_EVENTS), 0, "empty");
	store_close(s);
out:
	free(dir);
}

static void
test_schema(void)
{
	struct store	*s;
	char		*dir = t_dir(), *v, *cause, *want;
	int		 rv;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	v = t_get(s, STORE_META, "schema_version");
	is_str(v, "1", "schema version written");
	free(v);
	ok(store_get(s, STORE_META, "created_at", NULL, NULL) == 0,
	    "created_at written");
	store_put(s, STORE_META, "created_at", "12345", 5);
	store_close(s);
	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "reopen");
		goto out;
	}
	v = t_get(s, STORE_META, "created_at");
	is_str(v, "12345", "created_at is written only once");
	free(v);

	store_put(s, STORE_META, "schema_version", "2", 1);
	store_close(s);
	rv = store_open(dir, 1 << 20, 0, &s, &cause);
	ok(rv != 0 && s == NULL, "newer schema refused");
	xasprintf(&want, "state in %s was written by a newer incidentd "
	    "(schema 2, this build knows %d)", dir, STORE_SCHEMA_VERSION);
	is_str(rv != 0 ? cause : NULL, want, "with a clear cause");
	free(want);
	if (rv != 0)
		free(cause);
	else
		store_close(s);
	rv = store_open(dir, 1 << 20, STORE_RDONLY, &s, &cause);
	ok(rv != 0, "refused read-only too");
	if (rv != 0)
		free(cause);
	else
		store_close(s);
out:
	free(dir);
}

static int	t_migrations;
static int	t_migration_fail;
static int	t_migration_from;

static int
t_migration(struct store *s, int from)
{
	t_migrations++;
	t_migration_from = from;
	if (t_migration_fail) {
		store_put(s, STORE_META, "half", "done", 4);
		return (EIO);
	}
	return (store_put(s, STORE_META, "migrated", "yes", 3));
}

static void
test_migration(void)
{
	struct store	*s;
	char		*dir = t_dir(), *v, *cause;
	int		 rv;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	store_put(s, STORE_META, "schema_version", "0", 1);
	store_close(s);

	rv = store_open(dir, 1 << 20, 0, &s, &cause);
	ok(rv != 0 && strstr(cause, "cannot migrate") != NULL,
	    "no migration from 0: refused");
	if (rv == 0)
		store_close(s);
	else {
		diag(cause);
		free(cause);
	}

	store_test_migration = t_migration;
	t_migration_fail = 1;
	rv = store_open(dir, 1 << 20, 0, &s, &cause);
	ok(rv == EIO && strstr(cause, "migrating schema 0 to 1 failed") !=
	    NULL, "failed migration refused");
	if (rv == 0)
		store_close(s);
	else
		free(cause);

	t_migration_fail = 0;
	t_migrations = 0;
	rv = store_open(dir, 1 << 20, 0, &s, &cause);
	is_int(rv, 0, "migration from 0 to 1");
	if (rv != 0) {
		diag(cause);
		free(cause);
		goto out;
	}
	is_int(t_migrations, 1, "ran once");
	is_int(t_migration_from, 0, "from schema 0");
	v = t_get(s, STORE_META, "schema_version");
	is_str(v, "1", "schema now current");
	free(v);
	v = t_get(s, STORE_META, "migrated");
	is_str(v, "yes", "migration's write committed");
	free(v);
	is_int(store_get(s, STORE_META, "half", NULL, NULL), STORE_NOTFOUND,
	    "the failed attempt left nothing");
	ok(!store_pending(s), "open leaves nothing pending");
	store_close(s);

	t_migrations = 0;
	if ((s = t_open(dir, 1 << 20)) != NULL)
		store_close(s);
	is_int(t_migrations, 0, "current schema: no migration");
	store_test_migration = NULL;
out:
	free(dir);
}

static void
test_map_full(void)
{
	struct store	*s;
	char		*dir = t_dir(), key[32], val[2000], *v;
	int		 i, rv = 0;

	if ((s = t_open(dir, 128 * 1024)) == NULL) {
		ok(0, "open with a 128 KiB map");
		goto out;
	}
	store_put(s, STORE_JOBS, "keep", "1", 1);
	is_int(store_commit(s), 0, "a small commit fits");
	memset(val, 'v', sizeof(val));
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "job%05d", i);
		if ((rv = store_put(s, STORE_JOBS, key, val,
		    sizeof(val))) != 0)
			break;
	}
	is_int(rv, T_MDB_MAP_FULL, "filling the map gives MDB_MAP_FULL");
	ok(i > 10 && i < 1000, "after some writes");
	ok(!store_pending(s), "the turn was aborted");
	is_int(store_get(s, STORE_JOBS, "job00000", NULL, NULL),
	    STORE_NOTFOUND, "its writes are lost");
	v = t_get(s, STORE_JOBS, "keep");
	is_str(v, "1", "committed state intact");
	free(v);
	is_int(store_failed(s), T_MDB_MAP_FULL, "the turn has failed");
	is_int(store_put(s, STORE_JOBS, "after", "2", 1), T_MDB_MAP_FULL,
	    "a later small write in the failed turn fails too");
	is_int(store_commit(s), T_MDB_MAP_FULL, "so does its commit");
	store_abort(s);
	is_int(store_failed(s), 0, "store_abort ends the failed turn");
	is_int(store_put(s, STORE_JOBS, "after", "2", 1), 0,
	    "store usable after");
	is_int(store_commit(s), 0, "and commits");

	/* fill it one commit at a time, then free space and go on */
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "job%05d", i);
		if ((rv = store_put(s, STORE_JOBS, key, val,
		    sizeof(val))) != 0 || (rv = store_commit(s)) != 0)
			break;
	}
	is_int(rv, T_MDB_MAP_FULL, "full again, turn by turn");
	ok(i > 10, "kept the earlier turns");
	store_abort(s);
	is_int(store_del(s, STORE_JOBS, "job00000"), 0, "delete to make room");
	is_int(store_commit(s), 0, "commit the delete");
	is_int(store_put(s, STORE_JOBS, "small", "3", 1), 0, "put again");
	is_int(store_commit(s), 0, "commit again");
	store_close(s);
out:
	free(dir);
}

/*
 * Put n values of 2000 bytes under prefix%05d starting at from; 0 or the
 * first error.
 */
static int
t_fill(struct store *s, const char *prefix, int from, int n)
{
	char	key[64], val[2000];
	int	i, rv;

	memset(val, 'v', sizeof(val));
	for (i = from; i < from + n; i++) {
		snprintf(key, sizeof(key), "%s%05d", prefix, i);
		if ((rv = store_put(s, STORE_JOBS, key, val, sizeof(val))) != 0)
			return (rv);
	}
	return (0);
}

/* Once a write failed, nothing else of the turn may land. */
static void
test_turn_failed(void)
{
	struct store	*s;
	char		*dir = t_dir(), *v;
	int		 rv;

	if ((s = t_open(dir, 128 * 1024)) == NULL) {
		ok(0, "open with a 128 KiB map");
		goto out;
	}
	store_put(s, STORE_JOBS, "keep", "1", 1);
	is_int(store_commit(s), 0, "committed a small record");
	is_int(store_failed(s), 0, "a fresh turn has not failed");
	rv = t_fill(s, "big", 0, 1000);
	is_int(rv, T_MDB_MAP_FULL, "a turn too big for the map fails");
	is_int(store_failed(s), T_MDB_MAP_FULL, "store_failed says why");
	is_int(store_put(s, STORE_JOBS, "late", "1", 1), T_MDB_MAP_FULL,
	    "a small write after the failure fails fast");
	is_int(store_del(s, STORE_JOBS, "keep"), T_MDB_MAP_FULL,
	    "so does a delete");
	ok(store_event_seen(s, "EvLate", 1) < 0, "and an event mark");
	is_int(store_expire_events(s, 10), T_MDB_MAP_FULL,
	    "and an expiry");
	ok(!store_pending(s), "nothing is pending");
	is_int(store_commit(s), T_MDB_MAP_FULL, "commit reports the failure");
	is_int(store_failed(s), T_MDB_MAP_FULL, "and does not end the turn");
	store_abort(s);
	is_int(store_failed(s), 0, "store_abort ends it");
	is_int(store_get(s, STORE_JOBS, "late", NULL, NULL), STORE_NOTFOUND,
	    "the late write never landed");
	v = t_get(s, STORE_JOBS, "keep");
	is_str(v, "1", "the late delete never landed");
	free(v);
	is_int(store_event_seen(s, "EvLate", 2), 0,
	    "the event is new again: its redelivery is handled, once");
	is_int(store_event_seen(s, "EvLate", 3), 1, "and only once");
	is_int(store_commit(s), 0, "the next turn commits");
	store_close(s);
out:
	free(dir);
}

/* A full map grows, by doubling, up to the ceiling, and stays grown. */
static void
test_grow(void)
{
	struct store		*s;
	struct store_size	 sz;
	char			*dir = t_dir(), key[64];
	int			 rv, turn, done = 0, grew = 0, lost = 0, i;

	if ((s = t_open(dir, 128 * 1024)) == NULL) {
		ok(0, "open with a 128 KiB map");
		goto out;
	}
	is_int(store_grow(s), STORE_MAP_FULL, "no ceiling: no growth");
	is_int(store_set_map_max(s, 512 * 1024), 0, "ceiling 512 KiB");
	is_int(store_size(s, &sz), 0, "size");
	ok(sz.map == 128 * 1024 && sz.max == 512 * 1024 && sz.used > 0 &&
	    sz.used <= sz.map, "map, ceiling and use");

	/* Turns of 8 x 2000 bytes; a failed one is redone after growing. */
	for (turn = 0; turn < 200; turn++) {
		if ((rv = t_fill(s, "t", turn * 8, 8)) == 0)
			rv = store_commit(s);
		if (rv == 0) {
			done = turn + 1;
			continue;
		}
		store_abort(s);
		if (rv != T_MDB_MAP_FULL || store_grow(s) != 0)
			break;
		grew++;
		turn--;		/* redo it */
	}
	is_int(rv, T_MDB_MAP_FULL, "filled up to the ceiling");
	is_int(grew, 2, "grew twice: 256 KiB, then 512 KiB");
	(void)store_size(s, &sz);
	is_int(sz.map, 512 * 1024, "the map is at the ceiling");
	ok(done > 10, "turns committed along the way");
	printf("# %d turns committed\n", done);
	is_int(store_grow(s), STORE_MAP_FULL, "at the ceiling it stays");
	for (i = 0; i < done * 8; i++) {
		snprintf(key, sizeof(key), "t%05d", i);
		if (store_get(s, STORE_JOBS, key, NULL, NULL) != 0)
			lost++;
	}
	is_int(lost, 0, "every committed write is there");
	is_int(store_put(s, STORE_JOBS, "small", "1", 1), 0,
	    "a small write may still fit");
	store_abort(s);
	store_close(s);

	/* A restart with the small map_size adopts the grown map. */
	if ((s = t_open(dir, 128 * 1024)) == NULL) {
		ok(0, "reopen");
		goto out;
	}
	is_int(store_set_map_max(s, 512 * 1024), 0, "same ceiling");
	(void)store_size(s, &sz);
	is_int(sz.map, 512 * 1024, "restart keeps the grown map");
	ok(store_get(s, STORE_JOBS, "t00000", NULL, NULL) == 0,
	    "and the data");
	store_close(s);
out:
	free(dir);
}

/* Reactor turns whose writes fail: abort hooks, no commit hooks, redo. */
static struct {
	int	 attempts;
	int	 committed;
	int	 aborted;
	int	 abort_error;
	int	 abort_room;
	int	 plain_ran;
	int	 first_commit_ran;
	int	 pending_in_abort;
} t_ra;

static void
t_ra_write(void *arg)
{
	t_ra.attempts++;
	/* About 60 pages: more than 128 KiB, less than 512. */
	(void)t_fill(store, "ra", 0, 120);
	reactor_after_commit_or_abort(t_ra_committed, t_ra_aborted, NULL);
	if (t_ra.attempts == 1)
		reactor_after_commit(t_ra_plain, NULL);
}

static void
t_ra_committed(void *arg)
{
	t_ra.committed++;
	if (t_ra.attempts == 1)
		t_ra.first_commit_ran = 1;
	reactor_stop();
}

static void
t_ra_aborted(void *arg)
{
	int	room;

	t_ra.aborted++;
	t_ra.abort_error = reactor_turn_error(&room);
	t_ra.abort_room = room;
	t_ra.pending_in_abort = store_pending(store) || store_failed(store);
	if (room && t_ra.attempts < 10)
		reactor_defer(t_ra_write, NULL);	/* redelivery */
	else
		reactor_stop();
}

static void
t_ra_plain(void *arg)
{
	t_ra.plain_ran = 1;
}

static void
test_reactor_abort(void)
{
	struct store_size	 sz;
	char			*dir = t_dir();

	if ((store = t_open(dir, 128 * 1024)) == NULL) {
		ok(0, "open");
		goto out;
	}
	store_set_map_max(store, 1024 * 1024);
	reactor_init();
	reactor_defer(t_ra_write, NULL);
	is_int(reactor_run(), 0, "reactor ran");
	ok(t_ra.aborted >= 1, "the failed turn ran its abort hook");
	is_int(t_ra.abort_error, T_MDB_MAP_FULL, "it heard why: map full");
	ok(t_ra.abort_room, "and that the map grew");
	is_int(reactor_turn_error(NULL), 0, "no turn error outside them");
	ok(!t_ra.first_commit_ran, "its after-commit hook did not run");
	ok(!t_ra.plain_ran, "nor did a plain after-commit hook");
	ok(!t_ra.pending_in_abort, "the turn was discarded before the hooks");
	is_int(t_ra.committed, 1, "the redo committed");
	is_int(t_ra.attempts, t_ra.aborted + 1, "redone once per failure");
	is_int(store_count(store, STORE_JOBS), 120, "all of it, once");
	(void)store_size(store, &sz);
	ok(sz.map > 128 * 1024, "the map grew");
	reactor_free();
	store_close(store);
	store = NULL;

	/* At the ceiling: the abort hook hears why, and that no room came. */
	memset(&t_ra, 0, sizeof(t_ra));
	if ((store = t_open(dir, 128 * 1024)) == NULL) {
		ok(0, "reopen");
		goto out;
	}
	store_set_map_max(store, 128 * 1024);
	(void)store_size(store, &sz);
	reactor_init();
	reactor_defer(t_ra_write, NULL);
	is_int(reactor_run(), 0, "reactor ran at the ceiling");
	is_int(t_ra.aborted, 1, "the turn failed");
	is_int(t_ra.committed, 0, "nothing committed");
	ok(t_ra.abort_room == 0, "no room was made");
	reactor_free();
	store_close(store);
	store = NULL;
out:
	free(dir);
}

/* Housekeeping: finished jobs after a week, pages after 90 days. */
static void
test_expire_records(void)
{
	char		*dir = t_dir();
	time_t		 now = 1800000000;
	const time_t	 day = 24 * 60 * 60;
	char		 buf[256], key[64];

	if ((store = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
#define T_JOB(k, st, ended) do {					\
	snprintf(buf, sizeof(buf), "{\"state\":\"%s\",\"ended\":%lld}",	\
	    st, (long long)(ended));					\
	store_put(store, STORE_JOBS, k, buf, strlen(buf));		\
} while (0)
	T_JOB("done-old", "done", now - 8 * day);
	T_JOB("failed-old", "failed", now - 30 * day);
	T_JOB("done-new", "done", now - 6 * day);
	T_JOB("pending-old", "pending", now - 30 * day);
	T_JOB("running-old", "running", now - 30 * day);
#undef T_JOB
	store_put(store, STORE_JOBS, "no-ended", "{\"state\":\"done\"}", 16);
	store_put(store, STORE_JOBS, "junk", "{not json", 9);
	store_put(store, STORE_JOBS, "str-ended",
	    "{\"state\":\"done\",\"ended\":\"1\"}", 28);
	snprintf(key, sizeof(key), "%lld-00010001",
	    (long long)(now - 91 * day));
	store_put(store, STORE_PAGES, key, "{}", 2);
	snprintf(key, sizeof(key), "%lld-00010002",
	    (long long)(now - 89 * day));
	store_put(store, STORE_PAGES, key, "{}", 2);
	store_put(store, STORE_PAGES, "x-1", "{}", 2);
	store_put(store, STORE_PAGES, "99999999999999999999999-1", "{}", 2);
	store_commit(store);

	is_int(schedule_expire_jobs(now), 2, "two finished old jobs expired");
	is_int(store_get(store, STORE_JOBS, "done-old", NULL, NULL),
	    STORE_NOTFOUND, "done, 8 days ago: gone");
	is_int(store_get(store, STORE_JOBS, "failed-old", NULL, NULL),
	    STORE_NOTFOUND, "failed, 30 days ago: gone");
	is_int(store_count(store, STORE_JOBS), 6,
	    "recent, unfinished, undated and unreadable jobs kept");
	is_int(schedule_expire_pages(now), 1, "one old page expired");
	is_int(store_count(store, STORE_PAGES), 3,
	    "recent and oddly named pages kept");
	is_int(store_commit(store), 0, "the expiry commits");
	is_int(schedule_expire_jobs(now), 0, "nothing more to expire");
	is_int(schedule_expire_events(now), 0, "no event ids to expire");
	store_close(store);
	store = NULL;
out:
	free(dir);
}

/* Exit status bits of the read-only child. */
#define T_RO_OPEN	0x01
#define T_RO_GET	0x02
#define T_RO_PENDING	0x04
#define T_RO_PUT	0x08
#define T_RO_EVENT	0x10
#define T_RO_DUMP	0x20
#define T_RO_COUNT	0x40

static int
t_rdonly_child(const char *dir)
{
	struct store	*s;
	char		*cause, *v;
	int		 fails = 0, fd;

	/*
	 * A second environment on the same files must not live in the
	 * writer's process (POSIX locks are per process), hence the fork.
	 */
	if (store_open(dir, 0, STORE_RDONLY, &s, &cause) != 0) {
		free(cause);
		return (T_RO_OPEN);
	}
	if (store_get(s, STORE_INCIDENTS, "INC-1", &v, NULL) != 0 ||
	    strcmp(v, "{}") != 0)
		fails |= T_RO_GET;
	free(v);
	if (store_get(s, STORE_INCIDENTS, "INC-2", NULL, NULL) !=
	    STORE_NOTFOUND)
		fails |= T_RO_PENDING;
	if (store_put(s, STORE_INCIDENTS, "INC-3", "{}", 2) != EACCES ||
	    store_del(s, STORE_INCIDENTS, "INC-1") != EACCES ||
	    store_commit(s) != 0 || store_pending(s))
		fails |= T_RO_PUT;
	if (store_event_seen(s, "Ev1", 1) != -EACCES ||
	    store_expire_events(s, 1) != -EACCES)
		fails |= T_RO_EVENT;
	if ((fd = open("/dev/null", O_WRONLY)) == -1 ||
	    store_dump(s, fd, STORE_DUMP_MESSAGES) != 0)
		fails |= T_RO_DUMP;
	if (fd != -1)
		close(fd);
	if (store_count(s, STORE_INCIDENTS) != 1)
		fails |= T_RO_COUNT;
	store_close(s);
	return (fails);
}

static void
test_rdonly(void)
{
	struct store	*s, *ro;
	char		*dir = t_dir(), *cause, *empty;
	pid_t		 pid;
	int		 status, rv, bits;

	empty = t_dir();
	rv = store_open(empty, 0, STORE_RDONLY, &ro, &cause);
	ok(rv == ENOENT && strstr(cause, "no state in") != NULL,
	    "read-only open of a missing directory");
	if (rv == 0)
		store_close(ro);
	else
		free(cause);
	ok(access(empty, F_OK) == -1, "read-only open creates nothing");
	mkdir(empty, 0700);
	rv = store_open(empty, 0, STORE_RDONLY, &ro, &cause);
	ok(rv != 0, "read-only open of an empty directory");
	if (rv == 0)
		store_close(ro);
	else
		free(cause);
	free(empty);

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	store_put(s, STORE_INCIDENTS, "INC-1", "{}", 2);
	store_commit(s);
	/* pending in the writer: a reader must not see it */
	store_put(s, STORE_INCIDENTS, "INC-2", "{}", 2);
	fflush(stdout);
	if ((pid = fork()) == -1) {
		ok(0, "fork");
		store_close(s);
		goto out;
	}
	if (pid == 0)
		t_exec_child("rdonly", dir, -1, -1);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status)) {
		ok(0, "read-only child exited");
		bits = 0xff;
	} else
		bits = WEXITSTATUS(status);
	ok(!(bits & T_RO_OPEN), "read-only open beside the writer");
	ok(!(bits & T_RO_GET), "reader sees committed state");
	ok(!(bits & T_RO_PENDING), "reader does not see pending writes");
	ok(!(bits & T_RO_PUT), "writes fail with EACCES");
	ok(!(bits & T_RO_EVENT), "event dedupe fails with -EACCES");
	ok(!(bits & T_RO_DUMP), "reader dumps");
	ok(!(bits & T_RO_COUNT), "reader counts");
	ok(store_pending(s), "writer's turn untouched");
	is_int(store_commit(s), 0, "writer commits after the reader");
	store_close(s);
out:
	free(dir);
}

/*
 * A reader that outlives the writer's map growth (the daemon restarted
 * with a larger map_size while a dump ran) adopts the new size.
 */
static int
t_resize_child(const char *dir, int ready, int go)
{
	struct store	*s;
	char		*cause, c = 0;
	int		 fails = 0;

	if (store_open(dir, 0, STORE_RDONLY, &s, &cause) != 0) {
		free(cause);
		(void)write(ready, &c, 1);
		return (1);
	}
	if (store_count(s, STORE_JOBS) != 1)
		fails |= 2;
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		fails |= 4;
	if (store_count(s, STORE_JOBS) != 201)
		fails |= 8;
	if (store_get(s, STORE_JOBS, "big00199", NULL, NULL) != 0)
		fails |= 16;
	store_close(s);
	return (fails);
}

static void
test_resized(void)
{
	struct store	*s;
	char		*dir = t_dir(), key[32], *val, c = 0;
	int		 ready[2], go[2], status, i, rv = 0;
	pid_t		 pid;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	store_put(s, STORE_JOBS, "small", "1", 1);
	store_close(s);
	if (pipe(ready) == -1 || pipe(go) == -1) {
		ok(0, "pipe");
		goto out;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		ok(0, "fork");
		goto out;
	}
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		t_exec_child("resize", dir, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	ok(read(ready[0], &c, 1) == 1, "reader is open");

	/* 200 x 16 KiB: far past the reader's 1 MiB map */
	val = xcalloc(1, 16384);
	if ((s = t_open(dir, 8 << 20)) != NULL) {
		for (i = 0; i < 200 && rv == 0; i++) {
			snprintf(key, sizeof(key), "big%05d", i);
			rv = store_put(s, STORE_JOBS, key, val, 16384);
		}
		if (rv == 0)
			rv = store_commit(s);
		store_close(s);
	} else
		rv = -1;
	free(val);
	is_int(rv, 0, "writer grew the map and filled it");
	ok(write(go[1], &c, 1) == 1, "reader told to go on");
	close(go[1]);
	close(ready[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		status = 0xff;
	else
		status = WEXITSTATUS(status);
	is_int(status, 0, "reader adopted the larger map");
out:
	free(dir);
}

static void
test_dump(void)
{
	struct store	*s;
	char		*dir = t_dir(), *path, *text = NULL;
	cJSON		*j = NULL, *dbs, *x;
	int		 fd = -1, i, nulfd;

	if ((s = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	store_put(s, STORE_INCIDENTS, "INC-1",
	    "{\"key\":\"INC-1\",\"n\":[1,2]}", 25);
	store_put(s, STORE_CHANNELS, "C1", "INC-1", 5);
	store_put(s, STORE_TIMELINE, "C1/1.2", "said \"hi\"\n\\ok\t", 14);
	store_put(s, STORE_PAGES, "P\"1", "a\0b", 3);
	store_put(s, STORE_JOBS, "J1", "[broken", 7);
	store_put(s, STORE_JOBS, "J2", " [1, {\"a\": null}] ", 18);
	store_put(s, STORE_JOBS, "J3", "{} junk", 7);
	store_put(s, STORE_TIMELINE, "~m/C1/1.3",
	    "{\"ts\":\"1.3\",\"text\":\"secret words\"}", 34);
	store_event_seen(s, "Ev1", 1700000000);
	store_commit(s);
	store_put(s, STORE_INCIDENTS, "INC-2", "{}", 2);

	xasprintf(&path, "%s/dump.json", t_root);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	free(path);
	is_int(store_dump(s, fd, STORE_DUMP_MESSAGES), 0, "dump");
	text = t_slurp(fd);
	ok((j = cJSON_Parse(text)) != NULL, "dump is valid JSON");
	if (j == NULL) {
		diag(text);
		store_close(s);
		goto out;
	}
	x = cJSON_GetObjectItemCaseSensitive(j, "schema_version");
	ok(cJSON_IsNumber(x) && x->valueint == STORE_SCHEMA_VERSION,
	    "schema_version at the top");
	dbs = cJSON_GetObjectItemCaseSensitive(j, "databases");
	for (i = 0; i < STORE_NDB; i++) {
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(dbs,
		    store_db_name(i))))
			break;
	}
	is_int(i, STORE_NDB, "every database present");
	is_int(cJSON_GetArraySize(dbs), STORE_NDB, "and no others");

	x = json_path(dbs, "incidents.INC-1");
	ok(cJSON_IsObject(x), "JSON record embedded as an object");
	is_str(json_str(x, "key"), "INC-1", "with its fields");
	ok(json_path(dbs, "incidents.INC-2") == NULL,
	    "pending write not in the dump");
	is_str(json_str(dbs, "channels.C1"), "INC-1", "plain text quoted");
	x = cJSON_GetObjectItemCaseSensitive(json_path(dbs, "timeline"),
	    "C1/1.2");
	is_str(cJSON_IsString(x) ? x->valuestring : NULL,
	    "said \"hi\"\n\\ok\t", "escapes round trip");
	ok(strstr(text, "\"P\\\"1\": \"a\\u0000b\"") != NULL,
	    "key escaped, NUL byte kept");
	is_str(json_str(dbs, "jobs.J1"), "[broken", "broken JSON quoted");
	ok(cJSON_IsArray(json_path(dbs, "jobs.J2")), "array embedded");
	is_str(json_str(dbs, "jobs.J3"), "{} junk", "trailing junk quoted");
	is_str(json_str(dbs, "events.Ev1"), "1700000000", "event time");
	is_str(json_str(dbs, "meta.schema_version"), "1", "meta");
	ok(strstr(text, "\n      \"C1\": \"INC-1\"") != NULL,
	    "one key per line");

	x = cJSON_GetObjectItemCaseSensitive(json_path(dbs, "timeline"),
	    "~m/C1/1.3");
	is_str(json_str(x, "text"), "secret words",
	    "message text with STORE_DUMP_MESSAGES");
	free(text);
	text = NULL;
	cJSON_Delete(j);
	j = NULL;

	/* Without the flag: the length, never the words. */
	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		fatal("truncate");
	is_int(store_dump(s, fd, 0), 0, "dump without messages");
	text = t_slurp(fd);
	ok(text != NULL && strstr(text, "secret") == NULL,
	    "no message text in the dump");
	dbs = json_path(j = cJSON_Parse(text), "databases");
	x = cJSON_GetObjectItemCaseSensitive(json_path(dbs, "timeline"),
	    "~m/C1/1.3");
	ok(x != NULL && json_str(x, "text") == NULL &&
	    json_num(x, "text_bytes", -1) == 12, "text replaced by its length");
	is_str(json_str(x, "ts"), "1.3", "other fields kept");
	is_str(json_str(dbs, "incidents.INC-1.key"), "INC-1",
	    "other databases unchanged");

	is_int(store_dump(s, -1, 0), EINVAL, "bad fd");
	nulfd = open("/dev/null", O_RDONLY);
	is_int(store_dump(s, nulfd, 0), EBADF, "unwritable fd");
	close(nulfd);
	ok(store_pending(s), "dump leaves the turn alone");
	store_close(s);
out:
	if (fd != -1)
		close(fd);
	cJSON_Delete(j);
	free(text);
	free(dir);
}

static void
test_open_errors(void)
{
	struct store	*s;
	char		*dir = t_dir(), *file, *cause;
	int		 rv, fd;

	rv = store_open("", 1 << 20, 0, &s, &cause);
	ok(rv == EINVAL && s == NULL, "empty state_dir");
	if (rv != 0)
		free(cause);
	rv = store_open(dir, 0, 0, &s, &cause);
	ok(rv == EINVAL && strstr(cause, "map size") != NULL, "map size 0");
	if (rv != 0)
		free(cause);
	rv = store_open(dir, -5, 0, &s, &cause);
	ok(rv == EINVAL, "negative map size");
	if (rv != 0)
		free(cause);

	xasprintf(&file, "%s/missing/leaf", t_root);
	rv = store_open(file, 1 << 20, 0, &s, &cause);
	ok(rv == ENOENT && strstr(cause, "cannot create") != NULL,
	    "parents are not created");
	if (rv != 0)
		free(cause);
	free(file);

	xasprintf(&file, "%s/plainfile", t_root);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	close(fd);
	rv = store_open(file, 1 << 20, 0, &s, &cause);
	ok(rv == ENOTDIR && strstr(cause, "not a directory") != NULL,
	    "state_dir is a file");
	if (rv != 0)
		free(cause);
	free(file);

	mkdir(dir, 0700);
	chmod(dir, 0777);
	rv = store_open(dir, 1 << 20, 0, &s, &cause);
	ok(rv != 0 && strstr(cause, "world-writable") != NULL,
	    "world-writable state_dir refused");
	if (rv != 0)
		free(cause);
	else
		store_close(s);
	chmod(dir, 0750);
	rv = store_open(dir, 1 << 20, 0, &s, &cause);
	is_int(rv, 0, "group-readable state_dir is fine");
	if (rv == 0)
		store_close(s);
	else
		free(cause);

	is_str(store_strerror(0), "success", "strerror 0");
	ok(strstr(store_strerror(STORE_NOTFOUND), "MDB_NOTFOUND") != NULL,
	    "strerror of an LMDB code");
	is_str(store_strerror(EACCES), strerror(EACCES), "strerror errno");
	free(dir);
}

/* One writer per state directory; readers and backups beside it. */
static void
test_lock_and_backup(void)
{
	struct store	*w, *w2, *r, *b;
	char		*dir = t_dir(), *bdir, *file, *cause, *want, *val;
	int		 rv;

	if (store_open(dir, 1 << 20, 0, &w, &cause) != 0) {
		ok(0, "store_open");
		diag(cause);
		free(cause);
		free(dir);
		return;
	}
	rv = store_open(dir, 1 << 20, 0, &w2, &cause);
	xasprintf(&want, "state in %s is in use by another incidentd "
	    "(pid %ld); one daemon per state directory", dir,
	    (long)getpid());
	ok(rv == EBUSY && w2 == NULL, "a second writer is refused");
	is_str(rv != 0 ? cause : "", want, "naming the holder's pid");
	if (rv != 0)
		free(cause);
	else
		store_close(w2);
	free(want);

	ok(store_put(w, STORE_INCIDENTS, "INC-1", "{}", 2) == 0 &&
	    store_commit(w) == 0, "a record written");
	rv = store_open(dir, 0, STORE_RDONLY, &r, &cause);
	is_int(rv, 0, "a reader opens beside the writer");
	if (rv != 0)
		free(cause);
	else {
		xasprintf(&file, "%s/backup.mdb", t_root);
		rv = store_backup(r, file, &cause);
		is_int(rv, 0, "backup beside the writer");
		if (rv != 0)
			free(cause);
		bdir = t_dir();
		mkdir(bdir, 0700);
		xasprintf(&want, "%s/data.mdb", bdir);
		ok(rename(file, want) == 0, "backup restored as data.mdb");
		val = NULL;
		rv = store_open(bdir, 1 << 20, 0, &b, &cause);
		is_int(rv, 0, "the backup opens");
		if (rv == 0) {
			ok(store_get(b, STORE_INCIDENTS, "INC-1", &val,
			    NULL) == 0, "with the record");
			if (val != NULL)
				free(val);
			store_close(b);
		} else
			free(cause);
		free(want);
		free(bdir);
		free(file);
		store_close(r);
	}
	store_close(w);
	rv = store_open(dir, 1 << 20, 0, &w, &cause);
	is_int(rv, 0, "the lock goes with store_close");
	if (rv == 0)
		store_close(w);
	else
		free(cause);
	free(dir);
}

/* Reactor turns: two callbacks' writes in one turn, one commit. */
static struct {
	int		 turn_done;
	uint64_t	 commits;
	int		 pending_after;
	int		 durable;
} t_rx;

static void
t_rx_write1(void *arg)
{
	store_put(store, STORE_JOBS, "rx1", "1", 1);
}

static void
t_rx_write2(void *arg)
{
	store_put(store, STORE_JOBS, "rx2", "2", 1);
	reactor_after_commit(t_rx_committed, NULL);
}

static void
t_rx_committed(void *arg)
{
	t_rx.turn_done = 1;
	t_rx.commits = store_commits(store);
	t_rx.pending_after = store_pending(store);
	t_rx.durable = store_count(store, STORE_JOBS) == 2;
	reactor_stop();
}

static void
test_reactor(void)
{
	char		*dir = t_dir();
	uint64_t	 before;

	if ((store = t_open(dir, 1 << 20)) == NULL) {
		ok(0, "open");
		goto out;
	}
	reactor_init();
	before = store_commits(store);
	reactor_defer(t_rx_write1, NULL);
	reactor_defer(t_rx_write2, NULL);
	is_int(reactor_run(), 0, "reactor ran");
	ok(t_rx.turn_done, "after-commit hook ran");
	is_int(t_rx.commits - before, 1, "one commit for the turn");
	ok(!t_rx.pending_after, "committed before the hook");
	ok(t_rx.durable, "both writes in it");
	reactor_free();
	store_close(store);
	store = NULL;
out:
	free(dir);
}

/*
 * The children run as a fresh exec of this program: an LMDB environment
 * must not be used after fork, and a forked copy of the writer's heap
 * would count as leaked under valgrind (whose exit status then overrides
 * the child's answer).
 */
static void
t_exec_child(const char *what, const char *dir, int a, int b)
{
	char	 fa[16], fb[16];

	snprintf(fa, sizeof(fa), "%d", a);
	snprintf(fb, sizeof(fb), "%d", b);
	execl(t_argv0, t_argv0, "--child", what, dir, fa, fb, (char *)NULL);
	_exit(127);
}

static int
t_child_main(char **argv)
{
	int	a, b;

	a = atoi(argv[4]);
	b = atoi(argv[5]);
	if (strcmp(argv[2], "rdonly") == 0)
		return (t_rdonly_child(argv[3]));
	if (strcmp(argv[2], "resize") == 0)
		return (t_resize_child(argv[3], a, b));
	return (127);
}

int
main(int argc, char **argv)
{
	const char	*tmp;

	t_argv0 = argv[0];
	if (argc == 6 && strcmp(argv[1], "--child") == 0) {
		log_init(LOG_LEVEL_WARN, "unit-store");
		return (t_child_main(argv));
	}

	log_init(LOG_LEVEL_WARN, "unit-store");
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(t_root, sizeof(t_root), "%s/unit-store.XXXXXX", tmp);
	if (mkdtemp(t_root) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", t_root, strerror(errno));
		return (1);
	}

	test_roundtrip();
	test_group_commit();
	test_foreach();
	test_keys();
	test_events();
	test_schema();
	test_migration();
	test_map_full();
	test_turn_failed();
	test_grow();
	test_expire_records();
	test_rdonly();
	test_resized();
	test_dump();
	test_open_errors();
	test_lock_and_backup();
	test_reactor();
	test_reactor_abort();

	nftw(t_root, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return (done_testing());
}
