/* unit-util.c: URLs, encoding and backoff. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "tap.h"

static void
test_url(void)
{
	struct url	 u;
	const char	*err;

	ok(url_parse("https://example.atlassian.net", &u, &err) == 0,
	    "https URL");
	is_str(u.host, "example.atlassian.net", "host");
	is_int(u.port, 443, "default https port");
	is_str(u.path, "/", "default path");
	ok(u.tls, "https is TLS");
	url_free(&u);

	ok(url_parse("ws://127.0.0.1:8080/link/?ticket=a&b=c#frag", &u,
	    &err) == 0, "ws URL with port and query");
	is_int(u.port, 8080, "explicit port");
	is_str(u.path, "/link/?ticket=a&b=c", "path keeps query, drops fragment");
	ok(!u.tls, "ws is not TLS");
	url_free(&u);

	ok(url_parse("http://[::1]:9/x", &u, &err) == 0, "IPv6 literal");
	is_str(u.host, "::1", "brackets removed");
	url_free(&u);

	ok(url_parse("http://h?q=1", &u, &err) == 0, "query without path");
	is_str(u.path, "/?q=1", "query gets a slash");
	url_free(&u);

	ok(url_parse("ftp://x", &u, &err) == -1, "ftp refused");
	ok(url_parse("https://", &u, &err) == -1, "missing host");
	ok(url_parse("https://x:0/", &u, &err) == -1, "port 0");
	ok(url_parse("https://x:99999/", &u, &err) == -1, "port too big");
	ok(url_parse("https://ev il/", &u, &err) == -1, "space in host");
	ok(url_parse("https://x/a b", &u, &err) == -1, "space in path");
	ok(url_parse("example.com", &u, &err) == -1, "relative");

	ok(url_host_is_loopback("localhost"), "localhost is loopback");
	ok(url_host_is_loopback("127.0.0.1"), "127.0.0.1");
	ok(url_host_is_loopback("127.8.9.10"), "127/8");
	ok(url_host_is_loopback("::1"), "::1");
	ok(!url_host_is_loopback("10.0.0.1"), "private is not loopback");
	ok(!url_host_is_loopback("localhost.evil.com"), "lookalike name");
}

static void
test_encode(void)
{
	char			*s;
	static const unsigned char	bin[] = { 0, 0xff, 0x10 };

	s = url_encode("a b&c=d/é~");
	is_str(s, "a%20b%26c%3Dd%2F%C3%A9~", "url_encode");
	free(s);
	s = base64_encode((const unsigned char *)"foobar", 6);
	is_str(s, "Zm9vYmFy", "base64 no padding");
	free(s);
	s = base64_encode((const unsigned char *)"fooba", 5);
	is_str(s, "Zm9vYmE=", "base64 one pad");
	free(s);
	s = base64_encode((const unsigned char *)"f", 1);
	is_str(s, "Zg==", "base64 two pads");
	free(s);
	s = base64_encode(bin, sizeof(bin));
	is_str(s, "AP8Q", "base64 binary");
	free(s);
}

static void
test_backoff(void)
{
	uint64_t	ms;
	int		i, inrange = 1;

	for (i = 0; i < 200; i++) {
		ms = backoff_ms(3, 1000, 60000);
		if (ms < 4000 || ms > 8000)
			inrange = 0;
	}
	ok(inrange, "attempt 3 waits between half and all of 8 s");
	for (i = 0; i < 200; i++) {
		if (backoff_ms(40, 1000, 60000) > 60000)
			inrange = 0;
	}
	ok(inrange, "backoff is capped");
	ok(rand_uniform(1) == 0, "rand_uniform(1) is 0");
}

int
main(void)
{
	log_init(LOG_LEVEL_ERROR, "unit-util");
	test_url();
	test_encode();
	test_backoff();
	return (done_testing());
}
