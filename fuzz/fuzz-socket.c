/*
 * fuzz-socket.c: Socket Mode frames (hello, disconnect, envelopes of any
 * type) through the real dispatch: socket_inject, events.c, the commands
 * and the job engine, against the harness's store. Every service is at
 * 127.0.0.1:1, so whatever the input makes the daemon call goes nowhere.
 */
#include "config.h"

#include "incidentd.h"
#include "harness.h"

FUZZ_TARGET(socket)
{
	harness_init();
	socket_inject((const char *)data, size);
	harness_turn();
	return (0);
}
