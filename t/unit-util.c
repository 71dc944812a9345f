/* unit-util.c: URLs, encoding, backoff and UTF-8-safe cuts. */
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

static void
check_cut(const char *in, size_t max, int ellipsis, const char *want,
    const char *name)
{
	char	*out = utf8_truncate(in, max, ellipsis);

	is_str(out, want, name);
	ok(strlen(out) <= max || strcmp(out, in) == 0, "within max");
	free(out);
}

static void
test_utf8(void)
{
	char	 buf[600], *out;
	size_t	 i;

	/* "é" is 2 bytes, "€" 3, "😀" 4. */
	check_cut("abc", 3, 1, "abc", "fits: unchanged");
	check_cut("abcd", 3, 0, "abc", "ASCII cut");
	check_cut("a\xc3\xa9", 2, 0, "a", "never half of a 2-byte char");
	check_cut("ab\xe2\x82\xac", 4, 0, "ab", "never part of a 3-byte char");
	check_cut("\xf0\x9f\x98\x80x", 3, 0, "", "never part of a 4-byte char");
	check_cut("\xf0\x9f\x98\x80x", 4, 0, "\xf0\x9f\x98\x80",
	    "a whole 4-byte char is kept");
	check_cut("abcdefgh", 6, 1, "abc\xe2\x80\xa6", "ellipsis within max");
	check_cut("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6, 1,
	    "\xc3\xa9\xe2\x80\xa6",
	    "ellipsis after whole chars");
	check_cut("abcdef", 2, 1, "ab", "no room for the ellipsis");
	/* Hostile bytes: lone continuation and a lead without its tail. */
	check_cut("\x80\x80\x80\x80", 2, 0, "\x80\x80",
	    "stray continuation bytes count one each");
	check_cut("\xe2\x82x\xe2\x82\xac", 4, 0, "\xe2\x82x",
	    "a broken sequence counts byte by byte");
	is_int(utf8_cut("\xc3\xa9", 1), 0, "cut: 1 byte of a 2-byte char");
	is_int(utf8_cut("", 10), 0, "cut: empty");

	/* The 500-byte cut of an error made of 2-byte characters. */
	for (i = 0; i + 2 < sizeof(buf); i += 2)
		memcpy(buf + i, "\xc3\xa9", 2);
	buf[i] = '\0';
	memmove(buf + 1, buf, i);	/* shift: odd offsets are leads */
	buf[0] = 'x';
	out = utf8_truncate(buf, 500, 0);
	is_int(strlen(out), 499, "500: backs off to the character start");
	ok(((unsigned char)out[strlen(out) - 1] & 0xc0) == 0x80,
	    "500: ends on a whole character");
	free(out);
}

int
main(void)
{
	log_init(LOG_LEVEL_ERROR, "unit-util");
	test_url();
	test_encode();
	test_backoff();
	test_utf8();
	return (done_testing());
}
