/* unit-mrkdwn.c: escaping user text for Slack markup. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "tap.h"

static void
check_escape(const char *in, const char *want, const char *name)
{
	char	*out = slack_escape(in);

	is_str(out, want, name);
	free(out);
}

static void
check_roundtrip(const char *in, const char *name)
{
	char	*e = slack_escape(in), *u = slack_unescape(e);

	is_str(u, in, name);
	free(e);
	free(u);
}

int
main(void)
{
	check_escape("plain text", "plain text", "plain text untouched");
	check_escape("<!channel> DB down", "&lt;!channel&gt; DB down",
	    "channel broadcast cannot form");
	check_escape("<!here|here>", "&lt;!here|here&gt;", "here cannot form");
	check_escape("ping <@U0ALICE>", "ping &lt;@U0ALICE&gt;",
	    "user mention cannot form");
	check_escape("<https://evil.example|click>",
	    "&lt;https://evil.example|click&gt;", "link cannot form");
	check_escape("a & b", "a &amp; b", "ampersand escaped");
	check_escape("&amp;", "&amp;amp;", "existing entity escaped again");
	check_escape("*bold* _it_ `code` \"q\" 'a'", "*bold* _it_ `code` \"q\" 'a'",
	    "only & < > are escaped");
	check_escape("", "", "empty string");
	check_escape("caf\xc3\xa9 \xf0\x9f\x94\xa5", "caf\xc3\xa9 \xf0\x9f\x94\xa5",
	    "UTF-8 untouched");
	check_roundtrip("<!channel> & <@U1> &amp; <x|y>", "unescape inverts escape");
	{
		char	*u = slack_unescape("&lt;b&gt; &amp;lt; &unknown;");

		is_str(u, "<b> &lt; &unknown;", "unescape decodes once");
		free(u);
	}
	return (done_testing());
}
