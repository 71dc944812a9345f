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

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 path[64];
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	FILE		*f;
	int		 fd;

	if (*path == '\0') {
		log_init(LOG_LEVEL_ERROR, "fuzz-config");
		strlcpy(path, "/tmp/fuzz-config-XXXXXX", sizeof(path));
		if ((fd = mkstemp(path)) == -1)
			abort();
		close(fd);
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
