/*
 * fuzz-ws.c: the WebSocket client as the server's bytes reach it: the
 * 101 handshake response (read by http.c's head parser) then frames,
 * through wslay, over a bufferevent pair. The Upgrade uses the RFC 6455
 * sample key, so an input can carry the right Sec-WebSocket-Accept
 * ("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") and get past the handshake.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "incidentd.h"
#include "harness.h"

#define FUZZ_WS_KEY	"dGhlIHNhbXBsZSBub25jZQ=="
#define FUZZ_WS_TURNS	8

static int	fuzz_ws_closed;

static void
fuzz_ws_message_cb(struct ws *ws, const char *msg, size_t len, void *arg)
{
	if (len > WS_MAX_MESSAGE)
		harness_fail("ws: a %zu-byte message delivered", len);
	/* Answer as Socket Mode does (an ack per envelope). */
	(void)ws_send_text(ws, msg, len > 64 ? 64 : len);
}

static void
fuzz_ws_closed_cb(struct ws *ws, const char *reason, void *arg)
{
	if (fuzz_ws_closed++)
		harness_fail("ws: closed reported twice");
}

/* The end of a read: the daemon commits and sends its acks here. */
static void
fuzz_ws_received_cb(struct ws *ws, void *arg)
{
	if (fuzz_ws_closed)
		harness_fail("ws: a read ended after the close");
}

static const struct ws_cbs fuzz_ws_cbs = {
	.message = fuzz_ws_message_cb,
	.closed = fuzz_ws_closed_cb,
	.received = fuzz_ws_received_cb
};

FUZZ_TARGET(ws)
{
	struct bufferevent	*pair[2];
	int			 i;

	harness_init();
	if (bufferevent_pair_new(reactor_base, 0, pair) != 0)
		harness_fail("ws: bufferevent_pair_new");
	fuzz_ws_closed = 0;
	if (ws_attach(pair[0], FUZZ_WS_KEY, &fuzz_ws_cbs, NULL) == NULL)
		harness_fail("ws: ws_attach");
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	bufferevent_write(pair[1], data, size);
	for (i = 0; i < FUZZ_WS_TURNS; i++)
		harness_turn();
	/* The server hangs up: whatever state it is in, the ws ends. */
	bufferevent_flush(pair[1], EV_WRITE, BEV_FINISHED);
	for (i = 0; i < FUZZ_WS_TURNS; i++)
		harness_turn();
	bufferevent_free(pair[1]);
	harness_turn();
	return (0);
}
