/*
 * store-edit.c: change one record in a running daemon's store.
 *
 * Integration tests use it to stand in for whatever else can change a
 * record under the daemon (an operator, retention, a crash between two
 * writes): LMDB lets a second process write while the daemon runs.
 *
 *   store-edit STATE_DIR put DB KEY JSON
 *   store-edit STATE_DIR del DB KEY
 *   store-edit STATE_DIR hold
 *
 * hold is a slow reader (a dump piped into a pager): it keeps one read
 * snapshot open, printing "held" once it is, until its stdin closes.
 * LMDB cannot reuse pages such a snapshot still sees, so every write the
 * daemon makes meanwhile takes fresh ones from the map.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incidentd.h"

#define STORE_EDIT_MAP_SIZE	(1LL << 30)	/* the daemon's default */

static int	store_edit_hold_cb(const char *, const char *, size_t, void *);

/* Inside a walk, so inside its read transaction: wait for stdin's EOF. */
static int
store_edit_hold_cb(const char *key, const char *val, size_t len, void *arg)
{
	int	ch;

	printf("held\n");
	fflush(stdout);
	while ((ch = getchar()) != EOF)
		;
	*(int *)arg = 1;
	return (1);
}

int
main(int argc, char **argv)
{
	struct store	*st;
	char		*cause;
	int		 db, rv, held = 0;

	if (argc == 3 && strcmp(argv[2], "hold") == 0) {
		if (store_open(argv[1], 0, STORE_RDONLY, &st, &cause) != 0) {
			fprintf(stderr, "store-edit: %s\n", cause);
			free(cause);
			return (1);
		}
		rv = store_foreach(st, STORE_META, "", store_edit_hold_cb,
		    &held);
		if (rv == 0 && !held)
			rv = STORE_NOTFOUND;	/* nothing to hold on to */
		if (rv != 0)
			fprintf(stderr, "store-edit: %s\n", store_strerror(rv));
		store_close(st);
		return (rv != 0);
	}
	if (argc < 5 || (strcmp(argv[2], "put") == 0 && argc != 6) ||
	    (strcmp(argv[2], "del") == 0 && argc != 5)) {
		fprintf(stderr, "usage: store-edit DIR put DB KEY JSON | "
		    "store-edit DIR del DB KEY | store-edit DIR hold\n");
		return (2);
	}
	for (db = 0; db < STORE_NDB; db++) {
		if (strcmp(store_db_name(db), argv[3]) == 0)
			break;
	}
	if (db == STORE_NDB) {
		fprintf(stderr, "store-edit: no database %s\n", argv[3]);
		return (2);
	}
	if (store_open(argv[1], STORE_EDIT_MAP_SIZE, STORE_NOLOCK, &st,
	    &cause) != 0) {
		fprintf(stderr, "store-edit: %s\n", cause);
		free(cause);
		return (1);
	}
	if (strcmp(argv[2], "put") == 0)
		rv = store_put(st, db, argv[4], argv[5], strlen(argv[5]));
	else
		rv = store_del(st, db, argv[4]);
	if (rv == 0)
		rv = store_commit(st);
	if (rv != 0)
		fprintf(stderr, "store-edit: %s\n", store_strerror(rv));
	store_close(st);
	return (rv != 0);
}
