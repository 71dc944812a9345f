/*
 * tls.c: the process-wide TLS client context.
 *
 * One SSL_CTX serves every connection; verification is always on (the
 * system trust store, or only tls.ca_file when one is configured). Each
 * connection gets a fresh SSL from tls_new_ssl: reusing an SSL after a
 * disconnect breaks the next handshake (libevent #975, #491). A reload
 * builds a new context and swaps it in only if that worked; connections
 * that are open keep the old one through their SSL's reference.
 *
 * A peer that closes without close_notify is not an error for us
 * (libevent #1212: allow_dirty_shutdown fails with OpenSSL 3 on 2.1.12).
 * SSL_OP_IGNORE_UNEXPECTED_EOF makes OpenSSL report such a close as a
 * plain EOF, and libevent passes it on as BEV_EVENT_EOF when the
 * bufferevent allows dirty shutdowns (http_dial sets that). Whether a
 * message was truncated is decided by its framing (Content-Length,
 * chunked encoding, the WebSocket close frame); an HTTP body framed by
 * the close itself needs close_notify (http.c undoes both settings).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "incidentd.h"

#define TLS_ERROR_MAX	256

static SSL_CTX	*tls_ctx;

static SSL_CTX	*tls_ctx_new(const char *, char **);
static void	 tls_set_cause(char **, const char *, const char *);
static int	 tls_is_ip(const char *);

/* Set *cause to "what: <first OpenSSL error>" and clear the queue. */
static void
tls_set_cause(char **cause, const char *what, const char *path)
{
	unsigned long	 e;
	char		 buf[TLS_ERROR_MAX];
	const char	*reason;

	e = ERR_peek_error();
	reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	if (reason == NULL && e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		reason = buf;
	}
	if (reason == NULL)
		reason = "unknown error";
	if (path != NULL)
		xasprintf(cause, "%s %s: %s", what, path, reason);
	else
		xasprintf(cause, "%s: %s", what, reason);
	ERR_clear_error();
}

static SSL_CTX *
tls_ctx_new(const char *ca_file, char **cause)
{
	SSL_CTX	*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_set_cause(cause, "SSL_CTX_new", NULL);
		return (NULL);
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		tls_set_cause(cause, "minimum TLS version", NULL);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* libevent may retry a write from a different buffer address. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL && *ca_file != '\0') {
		/* A configured CA file replaces the system store. */
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			tls_set_cause(cause, "tls.ca_file", ca_file);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_set_cause(cause, "system trust store", NULL);
		goto fail;
	}
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* Create the client context; 0 or -1 with *cause set. */
int
tls_init(const char *ca_file, char **cause)
{
	return (tls_reload(ca_file, cause));
}

/* Build a new context and swap it in only on success. */
int
tls_reload(const char *ca_file, char **cause)
{
	SSL_CTX	*ctx;

	if ((ctx = tls_prepare(ca_file, cause)) == NULL)
		return (-1);
	tls_apply(ctx);
	return (0);
}

/*
 * Build a context for ca_file without making it active (a reload checks
 * everything before it swaps anything); NULL with *cause set.
 */
SSL_CTX *
tls_prepare(const char *ca_file, char **cause)
{
	*cause = NULL;
	return (tls_ctx_new(ca_file, cause));
}

/* Make ctx (from tls_prepare; consumed) the context of new connections. */
void
tls_apply(SSL_CTX *ctx)
{
	/* Open connections hold their own reference through their SSL. */
	SSL_CTX_free(tls_ctx);
	tls_ctx = ctx;
}

/* Free a context tls_prepare built and nobody applied. */
void
tls_discard(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* Drop the context (connections still open keep theirs). */
void
tls_free(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
}

static int
tls_is_ip(const char *host)
{
	struct in_addr	a4;
	struct in6_addr	a6;

	return (inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1);
}

/* A new SSL for one connection to host: SNI and name checks set. */
struct ssl_st *
tls_new_ssl(const char *host)
{
	SSL	*ssl;

	if (tls_ctx == NULL || host == NULL || *host == '\0')
		return (NULL);
	ERR_clear_error();
	if ((ssl = SSL_new(tls_ctx)) == NULL)
		goto fail;
	if (tls_is_ip(host)) {
		/* No SNI for addresses (RFC 6066 3); check the IP SAN. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) != 1)
			goto fail;
	} else {
		if (SSL_set_tlsext_host_name(ssl, host) != 1)
			goto fail;
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, host) != 1)
			goto fail;
	}
	return (ssl);
fail:
	log_debug("tls: cannot set up a connection to %s", host);
	SSL_free(ssl);
	ERR_clear_error();
	return (NULL);
}

/* Why a TLS bufferevent failed, as a human-readable string. */
const char *
tls_error(struct bufferevent *bev)
{
	static char	 buf[TLS_ERROR_MAX];
	SSL		*ssl;
	unsigned long	 e, oldest = 0;
	long		 vr;
	const char	*reason;
	int		 saved = errno;

	ssl = bufferevent_openssl_get_ssl(bev);
	/*
	 * Drain the bufferevent's copy of the queue. It pops the newest
	 * first; the oldest error is the cause, so keep the last one.
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		/* libevent also queues SSL_get_error()'s code (no library). */
		if (ERR_GET_LIB(e) != 0)
			oldest = e;
	}
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, sizeof(buf), "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		return (buf);
	}
	if (oldest != 0) {
		/* Only without SSL_OP_IGNORE_UNEXPECTED_EOF; kept honest. */
		if (ERR_GET_LIB(oldest) == ERR_LIB_SSL && ERR_GET_REASON(
		    oldest) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return ("connection closed without close_notify");
		if ((reason = ERR_reason_error_string(oldest)) != NULL)
			snprintf(buf, sizeof(buf), "%s", reason);
		else
			ERR_error_string_n(oldest, buf, sizeof(buf));
		return (buf);
	}
	/* A socket error leaves nothing in the queue, only errno. */
	switch (saved) {
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
		snprintf(buf, sizeof(buf), "%s", strerror(saved));
		return (buf);
	}
	if (ssl != NULL && SSL_is_init_finished(ssl))
		return ("connection closed");
	return ("connection closed during TLS handshake");
}

/*
 * Send close_notify, best effort. Call it once the output buffer has
 * drained: SSL_shutdown writes straight to the socket, past anything
 * still queued in the bufferevent. Not waiting for the peer's reply is
 * fine (RFC 8446 6.1), and WANT_READ or WANT_WRITE count as done: the
 * caller frees the bufferevent next.
 */
void
tls_shutdown(struct bufferevent *bev)
{
	SSL	*ssl;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return;
	if (!SSL_is_init_finished(ssl))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(ssl);
	/* Whatever went wrong must not show up as the next error. */
	ERR_clear_error();
}
