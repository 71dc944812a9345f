/*
 * store.c: the daemon's state in one LMDB environment.
 *
 * One named database per enum store_db. Writes are grouped: the first
 * store_put/store_del/store_event_seen/store_expire_events of a loop turn
 * opens a write transaction, later ones join it, and the reactor commits it
 * at the end of the turn with store_commit (one fsync per turn, however
 * much the turn wrote). Reads use that transaction when one is open, so a
 * callback sees what earlier callbacks of the same turn wrote; otherwise
 * they use a cached read-only transaction that is reset between uses so it
 * pins no old pages.
 *
 * Any failed write (MDB_MAP_FULL, MDB_TXN_FULL, I/O errors) leaves LMDB's
 * transaction unusable, so the store aborts it at once: the whole turn's
 * writes are lost and the failing call returns the error for its caller
 * to report. The turn stays failed until store_abort: every later write
 * (and store_commit) returns the same error, so no write made after the
 * failure can be committed without the ones made before it. The reactor
 * then drops the turn's acks and after-commit work (see reactor.c).
 *
 * A full map is not the end: store_grow enlarges it (doubling) up to the
 * ceiling given to store_set_map_max, between turns, when no transaction
 * is open, as LMDB requires. LMDB records the largest map a writer used,
 * so a restart adopts the grown size instead of failing all over again.
 *
 * One writer per state directory: store_open takes an exclusive flock on
 * STORE_LOCK_FILE in it (holding the writer's pid, for the refusal's
 * message) for as long as the store is open. LMDB would let two writers
 * take turns, and two daemons would then each act on the other's jobs.
 * Readers (dump, backup) take no lock: LMDB readers never block, nor are
 * blocked by, the writer. The lock goes with the process, so a crash
 * leaves nothing to clean up.
 *
 * store_* functions never log; they return 0 or an LMDB or errno code for
 * store_strerror. Values are opaque bytes to the store (JSON text by
 * convention); only store_dump looks at them, to tell JSON records from
 * plain text.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <lmdb.h>

#include "incidentd.h"

_Static_assert(STORE_NOTFOUND == MDB_NOTFOUND, "STORE_NOTFOUND mismatch");
_Static_assert(STORE_MAP_FULL == MDB_MAP_FULL, "STORE_MAP_FULL mismatch");

/* LMDB's default maximum key size. Builds that allow longer keys are
 * capped at it too, so a state directory works with any liblmdb. */
#define STORE_KEY_MAX		511

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi[STORE_NDB];
	int		 have[STORE_NDB];	/* 0: absent (read-only open) */
	int		 flags;
	char		*dir;
	int		 lock_fd;	/* STORE_LOCK_FILE, or -1 */
	size_t		 key_max;

	MDB_txn		*wtxn;		/* this turn's writes, or NULL */
	MDB_txn		*rtxn;		/* cached read txn, reset when idle */
	int		 rdepth;	/* nested users of rtxn */
	int		 wbusy;		/* store_foreach cursors on wtxn */
	int		 wdead;		/* wtxn failed while wbusy */
	uint64_t	 wgen;		/* write transactions begun */
	int		 tfail;		/* the error that failed the turn */

	size_t		 map_min;	/* map_size asked for at open */
	size_t		 map_max;	/* ceiling for store_grow, 0: none */

	uint64_t	 commits;
};

/*
 * Schema migrations, applied in order inside the opening transaction, so
 * a failure leaves the old state untouched. Each moves the schema from
 * 'from' to from + 1 using the ordinary store_* calls, which join the
 * opening transaction (so it must not call store_commit or store_abort).
 * Empty so far: schema 1 is the first.
 */
struct store_migration {
	int	  from;
	int	(*fn)(struct store *);
};
static const struct store_migration store_migrations[] = {
	{ 0, NULL }
};

/*
 * Test hook: consulted for a step store_migrations[] does not have, so
 * t/unit-store.c can drive the migration loop. The daemon never sets it.
 */
int	(*store_test_migration)(struct store *, int);

static const char *store_db_names[STORE_NDB] = {
	"meta", "events", "incidents", "channels", "pages", "timeline", "jobs",
	"follow", "evlog", "pdwatch"
};

struct store_out {
	int	 fd;
	int	 error;
	size_t	 len;
	char	 buf[8192];
};

static int	store_check_dir(const char *, int, char **);
static int	store_lock(struct store *, char **);
static int	store_open_dbs(struct store *, char **);
static int	store_schema(struct store *, char **);
static int	store_read_version(struct store *, int *, char **);
static int	store_check_key(struct store *, const char *, MDB_val *);
static int	store_check_db(enum store_db);
static int	store_txn_begin(struct store *, unsigned int, MDB_txn **);
static int	store_wbegin(struct store *, MDB_txn **);
static void	store_wfail(struct store *, int);
static int	store_remap(struct store *, size_t);
static int	store_rbegin(struct store *, MDB_txn **);
static void	store_rend(struct store *, MDB_txn *);
static int	store_snapshot(struct store *, MDB_txn **);
static int	store_parse_time(const MDB_val *, long long *);
static void	store_out_write(struct store_out *, const void *, size_t);
static void	store_out_str(struct store_out *, const char *);
static void	store_out_flush(struct store_out *);
static void	store_out_quote(struct store_out *, const char *, size_t);
static int	store_is_record(const char *, size_t);
static void	store_dump_value(struct store_out *, enum store_db, int,
		    const char *, size_t);
static int	store_copy_kv(const MDB_val *, const MDB_val *, char *,
		    char **, size_t *);
static int	store_dump_db(struct store *, MDB_txn *, enum store_db,
		    struct store_out *, int);

/* The name of a database, as used in LMDB and in dumps. */
const char *
store_db_name(enum store_db db)
{
	if ((unsigned)db >= STORE_NDB)
		return ("unknown");
	return (store_db_names[db]);
}

/*
 * Describe an error from a store_* call: LMDB codes, errno values, and the
 * negated errno values that store_event_seen and store_expire_events use.
 */
const char *
store_strerror(int error)
{
	if (error == 0)
		return ("success");
	if (error >= MDB_KEYEXIST && error <= MDB_LAST_ERRCODE)
		return (mdb_strerror(error));
	if (error < 0 && error > INT_MIN)
		return (strerror(-error));
	return (strerror(error));
}

/*
 * The state directory: created 0700 if missing (only the leaf, never its
 * parents), and refused if anyone may write to it, because whoever can
 * replace data.mdb can forge every record the daemon acts on.
 */
static int
store_check_dir(const char *dir, int flags, char **cause)
{
	struct stat	st;
	int		error;

	if (!(flags & STORE_RDONLY) && mkdir(dir, 0700) == -1 &&
	    errno != EEXIST) {
		error = errno;
		xasprintf(cause, "cannot create state directory %s: %s", dir,
		    strerror(error));
		return (error);
	}
	if (stat(dir, &st) == -1) {
		error = errno;
		xasprintf(cause, "no state in %s: %s", dir, strerror(error));
		return (error);
	}
	if (!S_ISDIR(st.st_mode)) {
		xasprintf(cause, "state_dir %s is not a directory", dir);
		return (ENOTDIR);
	}
	/*
	 * Whoever can write here can rewrite the incidents and the pending
	 * pages; whoever owns it can. A reader (dump) may be another user.
	 */
	if (st.st_mode & (S_IWOTH | S_IWGRP)) {
		xasprintf(cause, "state_dir %s is %s-writable (mode %04o); "
		    "chmod 700 it", dir, (st.st_mode & S_IWOTH) ? "world" :
		    "group", (unsigned)(st.st_mode & 07777));
		return (EPERM);
	}
	if (!(flags & STORE_RDONLY) && st.st_uid != geteuid()) {
		xasprintf(cause, "state_dir %s is owned by uid %u, not by "
		    "the uid incidentd runs as (%u); chown it", dir,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return (EPERM);
	}
	return (0);
}

/*
 * Take the state directory's lock, or say who holds it. The pid written
 * is only for that message; the flock is the lock.
 */
static int
store_lock(struct store *s, char **cause)
{
	char	*path, buf[32];
	ssize_t	 n;
	int	 fd, error;

	xasprintf(&path, "%s/%s", s->dir, STORE_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		error = errno;
		xasprintf(cause, "%s: %s", path, strerror(error));
		free(path);
		return (error);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		error = errno;
		if (error == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			xasprintf(cause, "state in %s is in use by another "
			    "incidentd (pid %s); one daemon per state "
			    "directory", s->dir, *buf != '\0' ? buf : "unknown");
			error = EBUSY;
		} else
			xasprintf(cause, "%s: lock: %s", path,
			    strerror(error));
		close(fd);
		free(path);
		return (error);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		error = errno;
		xasprintf(cause, "%s: %s", path, strerror(error));
		close(fd);
		free(path);
		return (error);
	}
	free(path);
	s->lock_fd = fd;
	return (0);
}

/*
 * Open (read-write: create) every database. A read-only open of an older
 * store may lack some; those read as empty.
 */
static int
store_open_dbs(struct store *s, char **cause)
{
	MDB_txn		*txn;
	unsigned int	 tflags, dflags;
	int		 i, rv;

	tflags = (s->flags & STORE_RDONLY) ? MDB_RDONLY : 0;
	dflags = (s->flags & STORE_RDONLY) ? 0 : MDB_CREATE;
	if ((rv = mdb_txn_begin(s->env, NULL, tflags, &txn)) != 0) {
		xasprintf(cause, "%s: %s", s->dir, mdb_strerror(rv));
		return (rv);
	}
	for (i = 0; i < STORE_NDB; i++) {
		rv = mdb_dbi_open(txn, store_db_names[i], dflags, &s->dbi[i]);
		if (rv == MDB_NOTFOUND && (s->flags & STORE_RDONLY))
			continue;
		if (rv != 0) {
			xasprintf(cause, "%s: database %s: %s", s->dir,
			    store_db_names[i], mdb_strerror(rv));
			mdb_txn_abort(txn);
			return (rv);
		}
		s->have[i] = 1;
	}
	/* Handles opened in a transaction survive only if it commits. */
	if ((rv = mdb_txn_commit(txn)) != 0) {
		xasprintf(cause, "%s: %s", s->dir, mdb_strerror(rv));
		return (rv);
	}
	if ((s->flags & STORE_RDONLY) && !s->have[STORE_META]) {
		xasprintf(cause, "no incidentd state in %s", s->dir);
		return (MDB_NOTFOUND);
	}
	return (0);
}

/* Read "schema_version" from meta: *version is -1 if absent. */
static int
store_read_version(struct store *s, int *version, char **cause)
{
	const char	*errstr;
	char		*val;
	int		 rv;

	*version = -1;
	rv = store_get(s, STORE_META, "schema_version", &val, NULL);
	if (rv == STORE_NOTFOUND)
		return (0);
	if (rv != 0) {
		xasprintf(cause, "%s: reading schema_version: %s", s->dir,
		    store_strerror(rv));
		return (rv);
	}
	*version = strtonum(val, 0, INT_MAX, &errstr);
	if (errstr != NULL) {
		xasprintf(cause, "state in %s has a bad schema_version "
		    "\"%.32s\" (%s)", s->dir, val, errstr);
		free(val);
		return (EINVAL);
	}
	free(val);
	return (0);
}

/*
 * Check the schema version and bring the store up to ours, all in one
 * transaction committed before store_open returns: a failed migration
 * leaves the old state as it was.
 */
static int
store_schema(struct store *s, char **cause)
{
	const struct store_migration	*m;
	MDB_txn				*txn;
	char				 buf[32];
	uint64_t			 gen;
	int				 version, rv, n;

	if ((rv = store_read_version(s, &version, cause)) != 0)
		return (rv);
	if (version > STORE_SCHEMA_VERSION) {
		xasprintf(cause, "state in %s was written by a newer incidentd "
		    "(schema %d, this build knows %d)", s->dir, version,
		    STORE_SCHEMA_VERSION);
		return (EPROTO);
	}
	if (s->flags & STORE_RDONLY)
		return (0);	/* a dump shows whatever is there */

	if (version != -1) {
		while (version < STORE_SCHEMA_VERSION) {
			if ((rv = store_wbegin(s, &txn)) != 0)
				goto write_fail;
			gen = s->wgen;
			for (m = store_migrations; m->fn != NULL; m++) {
				if (m->from == version)
					break;
			}
			if (m->fn != NULL)
				rv = m->fn(s);
			else if (store_test_migration != NULL)
				rv = store_test_migration(s, version);
			else {
				xasprintf(cause, "state in %s has schema %d "
				    "and this build cannot migrate it to %d",
				    s->dir, version, STORE_SCHEMA_VERSION);
				rv = EPROTO;
				goto fail;
			}
			/* One of its writes failed and lost the txn. */
			if (rv == 0 && (s->wtxn == NULL || s->wgen != gen))
				rv = MDB_BAD_TXN;
			if (rv != 0) {
				xasprintf(cause, "state in %s: migrating "
				    "schema %d to %d failed: %s", s->dir,
				    version, version + 1, store_strerror(rv));
				goto fail;
			}
			version++;
			n = snprintf(buf, sizeof(buf), "%d", version);
			rv = store_put(s, STORE_META, "schema_version", buf, n);
			if (rv != 0)
				goto write_fail;
		}
	} else {
		/* A fresh store. */
		n = snprintf(buf, sizeof(buf), "%d", STORE_SCHEMA_VERSION);
		rv = store_put(s, STORE_META, "schema_version", buf, n);
		if (rv != 0)
			goto write_fail;
	}

	rv = store_get(s, STORE_META, "created_at", NULL, NULL);
	if (rv == STORE_NOTFOUND) {
		n = snprintf(buf, sizeof(buf), "%lld", (long long)now_wall());
		rv = store_put(s, STORE_META, "created_at", buf, n);
	}
	if (rv != 0)
		goto write_fail;
	if (s->wtxn != NULL) {
		rv = mdb_txn_commit(s->wtxn);
		s->wtxn = NULL;
		if (rv != 0)
			goto write_fail;
	}
	return (0);

write_fail:
	xasprintf(cause, "%s: writing schema version: %s", s->dir,
	    store_strerror(rv));
fail:
	/* Never let store_close commit half a migration. */
	if (s->wtxn != NULL)
		mdb_txn_abort(s->wtxn);
	s->wtxn = NULL;
	s->wdead = 0;
	s->tfail = 0;
	return (rv);
}

/*
 * Open the store in dir (created 0700 unless STORE_RDONLY) with a map of
 * map_size bytes, and migrate it. STORE_RDONLY is for reading while the
 * daemon runs (LMDB readers never block the writer): it uses the map size
 * the writer recorded and every write fails with EACCES.
 */
int
store_open(const char *dir, long long map_size, int flags,
    struct store **sp, char **cause)
{
	struct store	*s;
	unsigned int	 eflags;
	int		 rv, dead;

	*sp = NULL;
	*cause = NULL;
	if (dir == NULL || *dir == '\0') {
		*cause = xstrdup("no state_dir given");
		return (EINVAL);
	}
	if (!(flags & STORE_RDONLY) && (map_size <= 0 ||
	    (unsigned long long)map_size > SIZE_MAX)) {
		xasprintf(cause, "bad map size %lld", map_size);
		return (EINVAL);
	}
	if ((rv = store_check_dir(dir, flags, cause)) != 0)
		return (rv);

	s = xcalloc(1, sizeof(*s));
	s->flags = flags;
	s->dir = xstrdup(dir);
	s->lock_fd = -1;
	if (!(flags & (STORE_RDONLY | STORE_NOLOCK)) &&
	    (rv = store_lock(s, cause)) != 0)
		goto fail;
	if (!(flags & STORE_RDONLY))
		s->map_min = (size_t)map_size;
	if ((rv = mdb_env_create(&s->env)) != 0) {
		s->env = NULL;
		xasprintf(cause, "%s: %s", dir, mdb_strerror(rv));
		goto fail;
	}
	if ((rv = mdb_env_set_maxdbs(s->env, STORE_NDB)) != 0) {
		xasprintf(cause, "%s: %s", dir, mdb_strerror(rv));
		goto fail;
	}
	/* Zero makes a reader use the size the writer recorded. */
	rv = mdb_env_set_mapsize(s->env,
	    (flags & STORE_RDONLY) ? 0 : (size_t)map_size);
	if (rv != 0) {
		xasprintf(cause, "%s: map size %lld: %s", dir, map_size,
		    mdb_strerror(rv));
		goto fail;
	}
	/*
	 * MDB_NOTLS: read transactions are not tied to the thread, so the
	 * cached one can be reset and renewed, and can live beside the write
	 * transaction. Syncs stay on: group commit already makes them one
	 * per turn.
	 */
	eflags = MDB_NOTLS;
	if (flags & STORE_RDONLY)
		eflags |= MDB_RDONLY;
	if ((rv = mdb_env_open(s->env, dir, eflags, 0600)) != 0) {
		xasprintf(cause, "%s: %s", dir, mdb_strerror(rv));
		goto fail;
	}
	s->key_max = mdb_env_get_maxkeysize(s->env);
	if (s->key_max > STORE_KEY_MAX)
		s->key_max = STORE_KEY_MAX;

	/* Slots left by crashed processes would pin pages forever. */
	if ((rv = mdb_reader_check(s->env, &dead)) != 0) {
		xasprintf(cause, "%s: reader check: %s", dir,
		    mdb_strerror(rv));
		goto fail;
	}
	if ((rv = store_open_dbs(s, cause)) != 0)
		goto fail;
	if ((rv = store_schema(s, cause)) != 0)
		goto fail;
	s->commits = 0;
	*sp = s;
	return (0);

fail:
	store_close(s);
	return (rv);
}

/*
 * Close the store. Pending writes are committed first (the daemon has
 * normally committed its last turn already); a failure there cannot be
 * reported, so callers that care call store_commit themselves.
 */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->wtxn != NULL) {
		if (s->wdead)
			mdb_txn_abort(s->wtxn);
		else
			(void)mdb_txn_commit(s->wtxn);
		s->wtxn = NULL;
	}
	if (s->rtxn != NULL)
		mdb_txn_abort(s->rtxn);
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->lock_fd != -1)
		close(s->lock_fd);	/* the lock goes last */
	free(s->dir);
	free(s);
}

/*
 * Write a compacted copy of the environment (one data.mdb) to path. LMDB
 * copies from a read transaction, so the writer goes on meanwhile and the
 * copy is one consistent snapshot. It goes to a temporary name in path's
 * directory, is synced, then renamed over path: path is at all times the
 * old file or a complete new one.
 */
int
store_backup(struct store *s, const char *path, char **cause)
{
	char	*tmp = NULL, *dcopy = NULL;
	int	 fd = -1, dfd, rv;

	*cause = NULL;
	xasprintf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		rv = errno;
		xasprintf(cause, "%s: %s", tmp, strerror(rv));
		goto out;
	}
	if ((rv = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT)) != 0) {
		xasprintf(cause, "copying %s: %s", s->dir, mdb_strerror(rv));
		goto fail;
	}
	rv = fsync(fd) == -1 ? errno : 0;
	if (close(fd) == -1 && rv == 0)
		rv = errno;
	fd = -1;
	if (rv != 0) {
		xasprintf(cause, "%s: %s", tmp, strerror(rv));
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		rv = errno;
		xasprintf(cause, "%s: %s", path, strerror(rv));
		goto fail;
	}
	/* The rename itself, on disk. */
	dcopy = xstrdup(path);
	if ((dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	rv = 0;
	goto out;

fail:
	if (fd != -1)
		close(fd);
	fd = -1;
	(void)unlink(tmp);
out:
	free(dcopy);
	free(tmp);
	return (rv);
}

static int
store_check_db(enum store_db db)
{
	return ((unsigned)db < STORE_NDB ? 0 : EINVAL);
}

/* Keys are non-empty C strings of at most key_max bytes. */
static int
store_check_key(struct store *s, const char *key, MDB_val *k)
{
	size_t	len;

	if (key == NULL)
		return (EINVAL);
	len = strnlen(key, s->key_max + 1);
	if (len == 0 || len > s->key_max)
		return (EINVAL);
	k->mv_data = (void *)key;
	k->mv_size = len;
	return (0);
}

/*
 * Begin a transaction. If another process grew the map (a daemon restarted
 * with a larger map_size while we read), adopt its size and retry, which
 * LMDB allows only while this process has no transaction active.
 */
static int
store_txn_begin(struct store *s, unsigned int flags, MDB_txn **txn)
{
	int	rv;

	rv = mdb_txn_begin(s->env, NULL, flags, txn);
	if (rv == MDB_MAP_RESIZED && s->wtxn == NULL && s->rdepth == 0) {
		if (s->rtxn != NULL) {
			mdb_txn_abort(s->rtxn);
			s->rtxn = NULL;
		}
		if ((rv = mdb_env_set_mapsize(s->env, 0)) == 0)
			rv = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	return (rv);
}

/* The turn's write transaction, opened on first use. */
static int
store_wbegin(struct store *s, MDB_txn **txn)
{
	MDB_txn	*t;
	int	 rv;

	if (s->flags & STORE_RDONLY)
		return (EACCES);
	if (s->tfail)
		return (s->tfail);
	if (s->wdead)
		return (s->wdead);
	if (s->wtxn == NULL) {
		if ((rv = store_txn_begin(s, 0, &t)) != 0)
			return (rv);
		s->wtxn = t;
		s->wgen++;
	}
	*txn = s->wtxn;
	return (0);
}

/*
 * A write failed: LMDB will refuse the transaction from now on, so abort
 * it. Inside store_foreach over it the cursor still points into it, so the
 * abort waits until the walk unwinds and everything fails meanwhile.
 */
static void
store_wfail(struct store *s, int error)
{
	if (!s->tfail)
		s->tfail = error;
	if (s->wtxn == NULL)
		return;
	if (s->wbusy > 0) {
		if (!s->wdead)
			s->wdead = error;
		return;
	}
	mdb_txn_abort(s->wtxn);
	s->wtxn = NULL;
	s->wdead = 0;
}

/* The transaction to read in: the pending writes if any, else the
 * cached read transaction (nested users share one snapshot). */
static int
store_rbegin(struct store *s, MDB_txn **txn)
{
	if (s->wtxn != NULL) {
		if (s->wdead)
			return (s->wdead);
		*txn = s->wtxn;
		return (0);
	}
	return (store_snapshot(s, txn));
}

/* The cached read transaction, renewed unless already in use. */
static int
store_snapshot(struct store *s, MDB_txn **txn)
{
	MDB_txn	*t;
	int	 rv;

	if (s->rtxn != NULL && s->rdepth == 0 &&
	    mdb_txn_renew(s->rtxn) != 0) {
		/* Begin afresh instead (the map may have grown). */
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	if (s->rtxn == NULL) {
		if ((rv = store_txn_begin(s, MDB_RDONLY, &t)) != 0)
			return (rv);
		s->rtxn = t;
	}
	s->rdepth++;
	*txn = s->rtxn;
	return (0);
}

static void
store_rend(struct store *s, MDB_txn *txn)
{
	if (txn != s->rtxn || s->rdepth == 0)
		return;
	if (--s->rdepth == 0)
		mdb_txn_reset(s->rtxn);
}

/* Store val (len bytes) under key, in this turn's transaction. */
int
store_put(struct store *s, enum store_db db, const char *key,
    const char *val, size_t len)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	int	 rv;

	if (s == NULL || store_check_db(db) != 0 ||
	    store_check_key(s, key, &k) != 0 || (val == NULL && len != 0))
		return (EINVAL);
	if ((rv = store_wbegin(s, &txn)) != 0)
		return (rv);
	v.mv_data = (void *)(val != NULL ? val : "");
	v.mv_size = len;
	if ((rv = mdb_put(txn, s->dbi[db], &k, &v, 0)) != 0)
		store_wfail(s, rv);
	return (rv);
}

/*
 * Copy the value of key into a fresh NUL-terminated buffer (*val, caller
 * frees; val may be NULL to test for presence) and its length into *len
 * (may be NULL). STORE_NOTFOUND if absent.
 */
int
store_get(struct store *s, enum store_db db, const char *key, char **val,
    size_t *len)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	int	 rv;

	if (val != NULL)
		*val = NULL;
	if (len != NULL)
		*len = 0;
	if (s == NULL || store_check_db(db) != 0 ||
	    store_check_key(s, key, &k) != 0)
		return (EINVAL);
	if (!s->have[db])
		return (STORE_NOTFOUND);
	if ((rv = store_rbegin(s, &txn)) != 0)
		return (rv);
	rv = mdb_get(txn, s->dbi[db], &k, &v);
	if (rv == 0) {
		if (val != NULL) {
			if (v.mv_size == SIZE_MAX)
				rv = ENOMEM;
			else {
				*val = xmalloc(v.mv_size + 1);
				memcpy(*val, v.mv_data, v.mv_size);
				(*val)[v.mv_size] = '\0';
			}
		}
		if (rv == 0 && len != NULL)
			*len = v.mv_size;
	}
	store_rend(s, txn);
	return (rv);
}

/* Delete key in this turn's transaction; STORE_NOTFOUND if absent. */
int
store_del(struct store *s, enum store_db db, const char *key)
{
	MDB_txn	*txn;
	MDB_val	 k;
	int	 rv;

	if (s == NULL || store_check_db(db) != 0 ||
	    store_check_key(s, key, &k) != 0)
		return (EINVAL);
	if ((rv = store_wbegin(s, &txn)) != 0)
		return (rv);
	rv = mdb_del(txn, s->dbi[db], &k, NULL);
	if (rv != 0 && rv != MDB_NOTFOUND)
		store_wfail(s, rv);
	return (rv);
}

/*
 * Copy a cursor's key and value out of LMDB's memory into NUL-terminated
 * buffers: the key into kbuf (STORE_KEY_MAX + 1 bytes), the value into
 * *vbuf, grown as needed.
 */
static int
store_copy_kv(const MDB_val *k, const MDB_val *v, char *kbuf, char **vbuf,
    size_t *vsize)
{
	if (k->mv_size > STORE_KEY_MAX)
		return (MDB_CORRUPTED);
	memcpy(kbuf, k->mv_data, k->mv_size);
	kbuf[k->mv_size] = '\0';
	if (v->mv_size >= *vsize) {
		if (v->mv_size == SIZE_MAX)
			return (ENOMEM);
		*vsize = v->mv_size + 1;
		free(*vbuf);
		*vbuf = xmalloc(*vsize);
	}
	memcpy(*vbuf, v->mv_data, v->mv_size);
	(*vbuf)[v->mv_size] = '\0';
	return (0);
}

/*
 * Visit the keys starting with prefix in key order. The callback gets
 * NUL-terminated copies of key and value, valid until it returns; it may
 * read and write the store but must not call store_commit (EBUSY) and if
 * it calls store_abort the walk stops there. Returns 0 when the walk ends
 * or the callback stops it, else an error.
 */
int
store_foreach(struct store *s, enum store_db db, const char *prefix,
    int (*cb)(const char *, const char *, size_t, void *), void *arg)
{
	return (store_foreach_after(s, db, prefix, NULL, cb, arg));
}

/*
 * store_foreach, but only over the keys after the key after (NULL: from
 * the first): a walk in slices resumes where its last slice stopped
 * without holding a transaction or a list of keys in between.
 */
int
store_foreach_after(struct store *s, enum store_db db, const char *prefix,
    const char *after, int (*cb)(const char *, const char *, size_t, void *),
    void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	MDB_cursor_op	 op;
	char		 kbuf[STORE_KEY_MAX + 1], *vbuf = NULL;
	size_t		 plen, alen = 0, vsize = 0;
	int		 rv, onw = 0;

	if (s == NULL || store_check_db(db) != 0 || cb == NULL)
		return (EINVAL);
	if (prefix == NULL)
		prefix = "";
	plen = strlen(prefix);
	if (!s->have[db] || plen > s->key_max)
		return (0);	/* nothing can match */
	if (after != NULL && (alen = strlen(after)) > s->key_max)
		return (EINVAL);
	if ((rv = store_rbegin(s, &txn)) != 0)
		return (rv);
	if ((rv = mdb_cursor_open(txn, s->dbi[db], &cur)) != 0) {
		cur = NULL;
		goto out;
	}
	if (txn == s->wtxn) {
		onw = 1;
		s->wbusy++;
	}

	if (after != NULL && strcmp(after, prefix) > 0) {
		/*
		 * Resume at after (skipped below if it is still there). The
		 * keys with the prefix are one sorted run: if after is past
		 * the prefix without starting with it, none is left.
		 */
		k.mv_data = (void *)after;
		k.mv_size = alen;
		op = MDB_SET_RANGE;
	} else if (plen == 0) {
		after = NULL;
		op = MDB_FIRST;
	} else {
		after = NULL;
		k.mv_data = (void *)prefix;
		k.mv_size = plen;
		op = MDB_SET_RANGE;
	}
	for (;;) {
		if ((rv = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		op = MDB_NEXT;
		if (after != NULL && k.mv_size == alen &&
		    memcmp(k.mv_data, after, alen) == 0)
			continue;
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;	/* past the prefix: keys are sorted */
		if ((rv = store_copy_kv(&k, &v, kbuf, &vbuf, &vsize)) != 0)
			break;
		if (cb(kbuf, vbuf, v.mv_size, arg) != 0) {
			rv = 0;
			break;
		}
		if (onw && s->wdead)
			break;
	}
	if (rv == MDB_NOTFOUND)
		rv = 0;

out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (onw && s->wdead) {
		/* A callback's write failed (or it aborted): finish that
		 * once the outermost walk is off the transaction. */
		if (s->wdead != ECANCELED)
			rv = s->wdead;
		if (--s->wbusy == 0) {
			s->wdead = 0;
			mdb_txn_abort(s->wtxn);
			s->wtxn = NULL;
		}
	} else if (onw)
		s->wbusy--;
	store_rend(s, txn);
	free(vbuf);
	return (rv);
}

struct store_slice {
	int	(*cb)(const char *, const char *, size_t, void *);
	void	 *arg;
	size_t	  max;
	size_t	  seen;
	int	  more;		/* stopped at max with keys left */
	char	  last[STORE_KEY_MAX + 1];
};

static int
store_slice_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct store_slice	*sl = arg;

	if (sl->seen == sl->max) {
		sl->more = 1;
		return (1);
	}
	sl->seen++;
	strlcpy(sl->last, key, sizeof(sl->last));
	return (sl->cb(key, val, len, sl->arg));
}

/*
 * One slice of a walk that is spread over loop turns: cb for at most max
 * keys after *cursor (NULL: from the first). *cursor becomes the last key
 * visited while keys remain, and NULL once the walk is over (the end, or
 * cb returned nonzero); the caller owns it. Returns what store_foreach
 * returns; on an error *cursor is NULL too (the walk is abandoned).
 */
int
store_foreach_slice(struct store *s, enum store_db db, const char *prefix,
    char **cursor, size_t max,
    int (*cb)(const char *, const char *, size_t, void *), void *arg)
{
	struct store_slice	sl;
	int			rv;

	memset(&sl, 0, sizeof(sl));
	sl.cb = cb;
	sl.arg = arg;
	sl.max = max > 0 ? max : 1;
	rv = store_foreach_after(s, db, prefix, *cursor, store_slice_cb, &sl);
	free(*cursor);
	*cursor = (rv == 0 && sl.more) ? xstrdup(sl.last) : NULL;
	return (rv);
}

/*
 * Commit this turn's writes (durably: LMDB syncs on commit). Nothing to do
 * if none are pending. Callers may commit early to make state durable
 * before an external side effect.
 */
int
store_commit(struct store *s)
{
	int	rv;

	if (s == NULL)
		return (0);
	if (s->tfail)
		return (s->tfail);	/* the turn failed: store_abort it */
	if (s->wtxn == NULL)
		return (0);
	if (s->wbusy > 0)
		return (EBUSY);	/* a store_foreach walks the transaction */
	/* mdb_txn_commit frees the transaction whatever happens. */
	rv = mdb_txn_commit(s->wtxn);
	s->wtxn = NULL;
	s->wdead = 0;
	if (rv == 0)
		s->commits++;
	else
		s->tfail = rv;
	return (rv);
}

/* Discard this turn's writes and end a failed turn. */
void
store_abort(struct store *s)
{
	if (s == NULL)
		return;
	if (s->wbusy == 0)
		s->tfail = 0;
	if (s->wtxn == NULL)
		return;
	if (s->wbusy > 0) {
		/* store_foreach stops and aborts when the callback returns. */
		if (!s->wdead)
			s->wdead = ECANCELED;
		return;
	}
	mdb_txn_abort(s->wtxn);
	s->wtxn = NULL;
	s->wdead = 0;
}

/* 1 if writes are waiting for store_commit. */
int
store_pending(struct store *s)
{
	return (s != NULL && s->wtxn != NULL);
}

/* The error that failed this turn's writes (until store_abort), or 0. */
int
store_failed(struct store *s)
{
	return (s != NULL ? s->tfail : 0);
}

/*
 * Map the environment at size bytes (LMDB rounds it up to what is in use).
 * Only between transactions: the cached read transaction is dropped first
 * because it would point into the old mapping when renewed.
 */
static int
store_remap(struct store *s, size_t size)
{
	if (s->wtxn != NULL || s->rdepth > 0 || s->wbusy > 0)
		return (EBUSY);
	if (s->rtxn != NULL) {
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	return (mdb_env_set_mapsize(s->env, size));
}

/*
 * Let store_grow enlarge the map up to max bytes (rounded down to pages;
 * never below the size asked for at open). A map that an earlier run grew
 * is adopted, up to max, so a restart does not start out full again.
 */
int
store_set_map_max(struct store *s, long long max)
{
	MDB_envinfo	info;
	long		psize;
	size_t		want;
	int		rv;

	if (s == NULL || max < 0 || (unsigned long long)max > SIZE_MAX)
		return (EINVAL);
	if ((psize = sysconf(_SC_PAGESIZE)) <= 0)
		psize = 4096;
	s->map_max = (size_t)max - (size_t)max % (size_t)psize;
	if (s->map_max < s->map_min)
		s->map_max = s->map_min;
	if (s->flags & STORE_RDONLY)
		return (0);
	/* Size zero: what the file records (the largest map used). */
	if ((rv = store_remap(s, 0)) != 0)
		return (rv);
	if ((rv = mdb_env_info(s->env, &info)) != 0)
		return (rv);
	want = info.me_mapsize;
	if (want > s->map_max)
		want = s->map_max;
	if (want < s->map_min)
		want = s->map_min;
	if (want == info.me_mapsize)
		return (0);
	return (store_remap(s, want));
}

/*
 * After a turn failed with MDB_MAP_FULL (and was aborted): double the map,
 * up to the ceiling. 0 if it grew, MDB_MAP_FULL at the ceiling, EBUSY
 * while a transaction is open.
 */
int
store_grow(struct store *s)
{
	MDB_envinfo	info;
	size_t		want;
	int		rv;

	if (s == NULL || (s->flags & STORE_RDONLY))
		return (EINVAL);
	if ((rv = mdb_env_info(s->env, &info)) != 0)
		return (rv);
	if (info.me_mapsize >= s->map_max)
		return (STORE_MAP_FULL);
	if (info.me_mapsize > s->map_max / 2)
		want = s->map_max;
	else
		want = info.me_mapsize * 2;
	return (store_remap(s, want));
}

/* How big the store is: pages in use, the map and its ceiling, bytes. */
int
store_size(struct store *s, struct store_size *sz)
{
	MDB_envinfo	info;
	MDB_stat	st;
	int		rv;

	memset(sz, 0, sizeof(*sz));
	if (s == NULL)
		return (EINVAL);
	if ((rv = mdb_env_info(s->env, &info)) != 0 ||
	    (rv = mdb_env_stat(s->env, &st)) != 0)
		return (rv);
	sz->used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	sz->map = info.me_mapsize;
	sz->max = s->map_max;
	return (0);
}

/*
 * 1 if event_id was seen before (a redelivery); else record it with the
 * time now and return 0. Errors are negative (a negated errno or an LMDB
 * code), for store_strerror.
 */
int
store_event_seen(struct store *s, const char *event_id, time_t now)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	char	 buf[32];
	int	 rv, n;

	if (s == NULL || store_check_key(s, event_id, &k) != 0)
		return (-EINVAL);
	if ((rv = store_wbegin(s, &txn)) != 0)
		return (rv > 0 ? -rv : rv);
	rv = mdb_get(txn, s->dbi[STORE_EVENTS], &k, &v);
	if (rv == 0)
		return (1);
	if (rv == MDB_NOTFOUND) {
		n = snprintf(buf, sizeof(buf), "%lld", (long long)now);
		v.mv_data = buf;
		v.mv_size = n;
		if ((rv = mdb_put(txn, s->dbi[STORE_EVENTS], &k, &v, 0)) == 0)
			return (0);
	}
	store_wfail(s, rv);
	return (rv > 0 ? -rv : rv);
}

/* A first-seen time as written by store_event_seen; -1 if malformed. */
static int
store_parse_time(const MDB_val *v, long long *t)
{
	const char	*errstr;
	char		 buf[32];

	if (v->mv_size == 0 || v->mv_size >= sizeof(buf))
		return (-1);
	memcpy(buf, v->mv_data, v->mv_size);
	buf[v->mv_size] = '\0';
	*t = strtonum(buf, LLONG_MIN, LLONG_MAX, &errstr);
	return (errstr == NULL ? 0 : -1);
}

/*
 * Forget event ids first seen before cutoff (and any whose time is
 * unreadable, which would otherwise stay forever). Returns how many, or a
 * negative error as store_event_seen does.
 */
int
store_expire_events(struct store *s, time_t cutoff)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	MDB_cursor_op	 op = MDB_FIRST;
	long long	 t;
	int		 rv, n = 0;

	if (s == NULL)
		return (-EINVAL);
	if ((rv = store_wbegin(s, &txn)) != 0)
		return (rv > 0 ? -rv : rv);
	if ((rv = mdb_cursor_open(txn, s->dbi[STORE_EVENTS], &cur)) != 0)
		return (rv > 0 ? -rv : rv);
	while ((rv = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		/* After a delete the cursor already sits on the next key. */
		op = MDB_NEXT;
		if (store_parse_time(&v, &t) == 0 && t >= (long long)cutoff)
			continue;
		if ((rv = mdb_cursor_del(cur, 0)) != 0) {
			mdb_cursor_close(cur);
			store_wfail(s, rv);
			return (rv > 0 ? -rv : rv);
		}
		if (n < INT_MAX)
			n++;
	}
	mdb_cursor_close(cur);
	if (rv != MDB_NOTFOUND)
		return (rv > 0 ? -rv : rv);
	return (n);
}

/* Number of entries in db (counting pending writes); 0 on error. */
size_t
store_count(struct store *s, enum store_db db)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	size_t		 n = 0;

	if (s == NULL || store_check_db(db) != 0 || !s->have[db])
		return (0);
	if (store_rbegin(s, &txn) != 0)
		return (0);
	if (mdb_stat(txn, s->dbi[db], &st) == 0)
		n = st.ms_entries;
	store_rend(s, txn);
	return (n);
}

/* Successful store_commit calls since store_open. */
uint64_t
store_commits(struct store *s)
{
	return (s != NULL ? s->commits : 0);
}

static void
store_out_flush(struct store_out *o)
{
	size_t	off = 0;
	ssize_t	n;

	while (o->error == 0 && off < o->len) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n == -1) {
			if (errno != EINTR)
				o->error = errno;
			continue;
		}
		off += n;
	}
	o->len = 0;
}

static void
store_out_write(struct store_out *o, const void *p, size_t len)
{
	const char	*cp = p;
	size_t		 n;

	while (len > 0 && o->error == 0) {
		if (o->len == sizeof(o->buf))
			store_out_flush(o);
		n = sizeof(o->buf) - o->len;
		if (n > len)
			n = len;
		memcpy(o->buf + o->len, cp, n);
		o->len += n;
		cp += n;
		len -= n;
	}
}

static void
store_out_str(struct store_out *o, const char *s)
{
	store_out_write(o, s, strlen(s));
}

/*
 * A value as a JSON string literal. Unlike json_quote this takes a length,
 * so a value with a NUL byte in it is shown whole (as \u0000).
 */
static void
store_out_quote(struct store_out *o, const char *p, size_t len)
{
	const unsigned char	*u = (const unsigned char *)p;
	char			 esc[8];
	size_t			 i, start = 0;

	store_out_write(o, "\"", 1);
	for (i = 0; i < len; i++) {
		if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\')
			continue;
		store_out_write(o, p + start, i - start);
		start = i + 1;
		switch (u[i]) {
		case '"':
			store_out_str(o, "\\\"");
			break;
		case '\\':
			store_out_str(o, "\\\\");
			break;
		case '\n':
			store_out_str(o, "\\n");
			break;
		case '\r':
			store_out_str(o, "\\r");
			break;
		case '\t':
			store_out_str(o, "\\t");
			break;
		default:
			(void)snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
			store_out_str(o, esc);
			break;
		}
	}
	store_out_write(o, p + start, len - start);
	store_out_write(o, "\"", 1);
}

/*
 * 1 if a value (NUL-terminated copy of len bytes) is a JSON object or
 * array, which the dump embeds as is; anything else is shown as a string,
 * so scalar text (a time, a Jira key) always dumps the same way.
 */
static int
store_is_record(const char *val, size_t len)
{
	cJSON	*j;
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (val[i] != ' ' && val[i] != '\t' && val[i] != '\n' &&
		    val[i] != '\r')
			break;
	}
	if (i == len || (val[i] != '{' && val[i] != '['))
		return (0);
	if (memchr(val, '\0', len) != NULL)
		return (0);
	/* Parse only to validate; the tree is never looked at. */
	if ((j = cJSON_ParseWithOpts(val, NULL, 1)) == NULL)
		return (0);
	cJSON_Delete(j);
	return (1);
}

/*
 * Fields of records that hold what people wrote in Slack. A dump shows
 * them only with STORE_DUMP_MESSAGES; otherwise "text" becomes
 * "text_bytes" (its length), enough to debug without reading it.
 */
static const struct {
	enum store_db	 db;
	const char	*field;
} store_private_fields[] = {
	{ STORE_TIMELINE, "text" },
};

static void
store_dump_value(struct store_out *o, enum store_db db, int flags,
    const char *val, size_t len)
{
	cJSON		*j = NULL, *f;
	char		*out, name[64];
	size_t		 i, n;

	if (!store_is_record(val, len)) {
		store_out_quote(o, val, len);
		return;
	}
	for (i = 0; i < sizeof(store_private_fields) /
	    sizeof(store_private_fields[0]); i++) {
		if (store_private_fields[i].db != db ||
		    (flags & STORE_DUMP_MESSAGES))
			continue;
		if (j == NULL && (j = cJSON_ParseWithLength(val, len)) == NULL)
			break;
		if (!cJSON_IsObject(j) || (f = cJSON_GetObjectItemCaseSensitive(
		    j, store_private_fields[i].field)) == NULL)
			continue;
		n = cJSON_IsString(f) ? strlen(f->valuestring) : 0;
		(void)snprintf(name, sizeof(name), "%s_bytes",
		    store_private_fields[i].field);
		cJSON_DeleteItemFromObjectCaseSensitive(j,
		    store_private_fields[i].field);
		cJSON_DeleteItemFromObjectCaseSensitive(j, name);
		cJSON_AddNumberToObject(j, name, (double)n);
	}
	if (j == NULL) {
		store_out_write(o, val, len);
		return;
	}
	out = json_print(j);
	store_out_str(o, out);
	free(out);
	cJSON_Delete(j);
}

static int
store_dump_db(struct store *s, MDB_txn *txn, enum store_db db,
    struct store_out *o, int flags)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	MDB_cursor_op	 op = MDB_FIRST;
	char		 kbuf[STORE_KEY_MAX + 1], *vbuf = NULL, *q;
	size_t		 vsize = 0;
	int		 rv, first = 1;

	store_out_str(o, "    ");
	q = json_quote(store_db_names[db]);
	store_out_str(o, q);
	free(q);
	store_out_str(o, ": {");
	if (!s->have[db]) {
		store_out_str(o, "}");
		return (0);
	}
	if ((rv = mdb_cursor_open(txn, s->dbi[db], &cur)) != 0)
		return (rv);
	while ((rv = mdb_cursor_get(cur, &k, &v, op)) == 0 &&
	    o->error == 0) {
		op = MDB_NEXT;
		if ((rv = store_copy_kv(&k, &v, kbuf, &vbuf, &vsize)) != 0)
			break;

		store_out_str(o, first ? "\n      " : ",\n      ");
		first = 0;
		q = json_quote(kbuf);
		store_out_str(o, q);
		free(q);
		store_out_str(o, ": ");
		store_dump_value(o, db, flags, vbuf, v.mv_size);
	}
	mdb_cursor_close(cur);
	free(vbuf);
	if (rv != MDB_NOTFOUND && rv != 0)
		return (rv);
	store_out_str(o, first ? "}" : "\n    }");
	return (0);
}

/*
 * Write every database to fd as one JSON object, from one read snapshot
 * of the committed state (pending writes of this process are not in it):
 * {"schema_version":N,"size":{"used":B,"map_size":B,"map_size_max":B},
 * "databases":{"meta":{...},"events":{...},...}} (sizes in bytes).
 * Values that are JSON objects or arrays are embedded, others are strings.
 * Message text is left out unless flags has STORE_DUMP_MESSAGES.
 */
int
store_dump(struct store *s, int fd, int flags)
{
	struct store_out	*o;
	struct store_size	 sz;
	MDB_txn			*txn;
	MDB_val			 k, v;
	const char		*errstr;
	char			 buf[64];
	long long		 version = -1;
	int			 rv, i;

	if (s == NULL || fd < 0)
		return (EINVAL);
	if ((rv = store_snapshot(s, &txn)) != 0)
		return (rv);
	o = xcalloc(1, sizeof(*o));
	o->fd = fd;

	if (s->have[STORE_META]) {
		k.mv_data = (void *)"schema_version";
		k.mv_size = strlen("schema_version");
		if (mdb_get(txn, s->dbi[STORE_META], &k, &v) == 0 &&
		    v.mv_size > 0 && v.mv_size < sizeof(buf)) {
			memcpy(buf, v.mv_data, v.mv_size);
			buf[v.mv_size] = '\0';
			version = strtonum(buf, 0, INT_MAX, &errstr);
			if (errstr != NULL)
				version = -1;
		}
	}
	if (version >= 0)
		(void)snprintf(buf, sizeof(buf), "%lld", version);
	else
		(void)strlcpy(buf, "null", sizeof(buf));
	store_out_str(o, "{\n  \"schema_version\": ");
	store_out_str(o, buf);
	if (store_size(s, &sz) == 0) {
		(void)snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)sz.used);
		store_out_str(o, ",\n  \"size\": {\"used\": ");
		store_out_str(o, buf);
		(void)snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)sz.map);
		store_out_str(o, ", \"map_size\": ");
		store_out_str(o, buf);
		(void)snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)sz.max);
		store_out_str(o, ", \"map_size_max\": ");
		store_out_str(o, buf);
		store_out_str(o, "}");
	}
	store_out_str(o, ",\n  \"databases\": {\n");
	for (i = 0; i < STORE_NDB; i++) {
		if ((rv = store_dump_db(s, txn, i, o, flags)) != 0)
			goto out;
		store_out_str(o, i + 1 < STORE_NDB ? ",\n" : "\n");
	}
	store_out_str(o, "  }\n}\n");
	store_out_flush(o);
	rv = o->error;

out:
	store_rend(s, txn);
	free(o);
	return (rv);
}

/*
 * A record as JSON: *out is a new tree (caller frees), or NULL with
 * STORE_NOTFOUND, or EINVAL if what is stored is not JSON. The one way
 * records are read, so every owner parses the same way.
 */
int
store_get_json(struct store *s, enum store_db db, const char *key,
    cJSON **out)
{
	char	*val;
	size_t	 len;
	int	 rv;

	*out = NULL;
	if ((rv = store_get(s, db, key, &val, &len)) != 0)
		return (rv);
	*out = cJSON_ParseWithLength(val, len);
	free(val);
	return (*out != NULL ? 0 : EINVAL);
}

/* Write a record as compact JSON in this turn's transaction. */
int
store_put_json(struct store *s, enum store_db db, const char *key,
    const cJSON *j)
{
	char	*val;
	int	 rv;

	if ((val = cJSON_PrintUnformatted(j)) == NULL)
		return (ENOMEM);
	rv = store_put(s, db, key, val, strlen(val));
	cJSON_free(val);
	return (rv);
}

/*
 * Small per-key records of one module in STORE_META, as
 * "<prefix>.<key>" (the global store): the object, or NULL if absent or
 * not an object.
 */
cJSON *
store_meta_get(const char *prefix, const char *key)
{
	cJSON	*m;
	char	*k;

	xasprintf(&k, "%s.%s", prefix, key);
	if (store_get_json(store, STORE_META, k, &m) != 0 ||
	    !cJSON_IsObject(m)) {
		cJSON_Delete(m);
		m = NULL;
	}
	free(k);
	return (m);
}

/* Store it back, in this turn; 0 or a store error (logged). */
int
store_meta_put(const char *prefix, const char *key, const cJSON *m)
{
	char	*k;
	int	 rv;

	xasprintf(&k, "%s.%s", prefix, key);
	if ((rv = store_put_json(store, STORE_META, k, m)) != 0)
		log_warnx("%s %s: store: %s", prefix, key,
		    store_strerror(rv));
	free(k);
	return (rv);
}
