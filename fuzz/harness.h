/*
 * harness.h: what the fuzz targets share: a daemon set up once (config,
 * store in a temporary directory, reactor, job engine) with every
 * service pointed at 127.0.0.1:1 so nothing leaves the machine, and the
 * glue that lets fuzz/replay.c run every target without libFuzzer.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

void	harness_init(void);
/* Let the reactor run what is ready (no waiting), then commit the turn. */
void	harness_turn(void);
/*
 * A service's answer from raw bytes: the whole response parsed (the peer
 * closes after it), or a transport failure if it does not parse. Free
 * with http_parse_free.
 */
struct http_req;
struct http_response;
struct http_req *harness_response(const uint8_t *, size_t,
	    struct http_response *);
/* Abort with a message when a checked invariant does not hold. */
void	harness_fail(const char *, ...) __attribute__((__format__(printf, 1, 2)));

/*
 * Each target defines fuzz_NAME(data, size) with FUZZ_TARGET(NAME); under
 * libFuzzer it is also LLVMFuzzerTestOneInput, in the replay it is
 * listed in fuzz/replay.c.
 */
#define FUZZ_DECLARE(name)						\
	int	fuzz_##name(const uint8_t *, size_t)
#ifdef FUZZ_REPLAY
#define FUZZ_TARGET(name)						\
	FUZZ_DECLARE(name);						\
	int								\
	fuzz_##name(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name)						\
	FUZZ_DECLARE(name);						\
	int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);	\
	int								\
	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)	\
	{								\
		return (fuzz_##name(data, size));			\
	}								\
	int								\
	fuzz_##name(const uint8_t *data, size_t size)
#endif

#endif
