/*
 * store-edit.c: change one record in a running daemon's store.
 *
 * Integration tests use it to stand in for whatever else can change a
 * record under the daemon (an operator, retention, a crash between two
 * writes): LMDB lets a second process write while the daemon runs.
 *
 *   store-edit STATE_DIR put DB KEY JSON
 *   store-edit STATE_DIR del DB KEY
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incidentd.h"

#define STORE_EDIT_MAP_SIZE	(1LL << 30)	/* the daemon's default */

int
main(int argc, char **argv)
{
	struct store	*st;
	char		*cause;
	int		 db, rv;

	if (argc < 5 || (strcmp(argv[2], "put") == 0 && argc != 6) ||
	    (strcmp(argv[2], "del") == 0 && argc != 5)) {
		fprintf(stderr, "usage: store-edit DIR put DB KEY JSON | "
		    "store-edit DIR del DB KEY\n");
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
	if (store_open(argv[1], STORE_EDIT_MAP_SIZE, 0, &st, &cause) != 0) {
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
