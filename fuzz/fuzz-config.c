/*
 * fuzz-config.c: libFuzzer target for the YAML configuration parser. The
 * input is written to a temporary file and loaded like incidentd.yaml;
 * every outcome is fine except a crash, a leak or undefined behaviour.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incidentd.h"
#include "harness.h"

static char	fuzz_config_path[64];

static void
fuzz_config_cleanup(void)
{
	unlink(fuzz_config_path);
}

FUZZ_TARGET(config)
{
	char		*path = fuzz_config_path;
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	FILE		*f;
	int		 fd;

	if (*path == '\0') {
		harness_init();
		snprintf(path, sizeof(fuzz_config_path), "%s/fuzz-config-XXXXXX",
		    P_tmpdir);
		if ((fd = mkstemp(path)) == -1)
			abort();
		close(fd);
		atexit(fuzz_config_cleanup);
	}
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	c = config_load(path, &errors);
	config_free(c);
	strlist_free(&errors);
	return (0);
}
