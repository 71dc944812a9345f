/* unit-jira.c: ticket keys, links, JQL quoting and Slack plain text. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "tap.h"

static void
check_key(const char *in, const char *want, const char *name)
{
	char	*k = jira_parse_key(in);

	is_str(k, want, name);
	free(k);
}

static void
check_plain(const char *in, const char *want, const char *name)
{
	char	*s = slack_plain_text(in);

	is_str(s, want, name);
	free(s);
}

int
main(void)
{
	static struct config	c;
	char			*s;

	log_init(LOG_LEVEL_ERROR, "unit-jira");
	c.jira.url = xstrdup("https://example.atlassian.net");
	cfg = &c;

	ok(jira_valid_key("INC-1"), "INC-1 valid");
	ok(jira_valid_key("A2_B-99"), "digits and underscore in project");
	ok(!jira_valid_key("inc-1"), "lower case is not a key");
	ok(!jira_valid_key("I-1"), "one-letter project");
	ok(!jira_valid_key("INC-"), "no number");
	ok(!jira_valid_key("INC-1 OR 1=1"), "trailing garbage");
	ok(!jira_valid_key("2INC-1"), "starts with a digit");
	check_key("INC-42", "INC-42", "plain key");
	check_key("inc-42", "INC-42", "lower case upper-cased");
	check_key("https://example.atlassian.net/browse/INC-7", "INC-7",
	    "browse URL");
	check_key("<https://example.atlassian.net/browse/INC-7?focusedId=1|INC-7>",
	    "INC-7", "Slack-wrapped link with label and query");
	check_key("https://evil.example/browse/INC-7", NULL, "foreign host");
	check_key("https://example.atlassian.net.evil/browse/INC-7", NULL,
	    "lookalike host");
	check_key("https://example.atlassian.net/browse/INC-7/x", NULL,
	    "extra path");
	check_key("INC-7\"", NULL, "quote refused");
	check_key("", NULL, "empty");

	/* Only our projects' keys are ever used. */
	c.jira.project = xstrdup("INC");
	ok(jira_key_allowed("INC-5"), "jira.project allowed");
	ok(!jira_key_allowed("OPS-5"), "other project refused");
	ok(!jira_key_allowed("INCX-5"), "project prefix is not enough");
	ok(!jira_key_allowed("IN-5"), "shorter project refused");
	ok(!jira_key_allowed(NULL), "NULL refused");
	s = jira_projects_text();
	is_str(s, "INC", "one project named");
	free(s);
	strlist_add(&c.jira.projects, "SEC");
	strlist_add(&c.jira.projects, "INC");
	strlist_add(&c.jira.projects, "OPS");
	ok(jira_key_allowed("SEC-1") && jira_key_allowed("OPS-12"),
	    "jira.projects allowed");
	ok(!jira_key_allowed("HR-1"), "unlisted still refused");
	s = jira_projects_text();
	is_str(s, "INC, SEC or OPS", "projects named once each");
	free(s);
	strlist_free(&c.jira.projects);
	free(c.jira.project);

	s = jira_jql_quote("a \"b\" \\c\nd");
	is_str(s, "\"a \\\"b\\\" \\\\c d\"", "JQL quoting");
	free(s);
	s = jira_browse_url("INC-1");
	is_str(s, "https://example.atlassian.net/browse/INC-1", "browse URL");
	free(s);

	check_plain("<!channel> DB &amp; &lt;x&gt;", "@channel DB & <x>",
	    "broadcast and entities");
	check_plain("ask <@U123|alice> in <#C9|ops>", "ask @alice in #ops",
	    "labelled mentions");
	check_plain("<@U123> <#C9>", "@U123 #C9", "bare mentions");
	check_plain("see <https://x.example/a|the doc> and <https://y.example>",
	    "see the doc (https://x.example/a) and https://y.example", "links");
	check_plain("<!subteam^S1|@oncall> <!date^1|Jan 1>", "@oncall Jan 1",
	    "subteam and date fallbacks");
	check_plain("a < b", "a < b", "unterminated markup kept");

	/* Which failures may have taken effect, and which are transient. */
	{
		struct jira_result	jr = { 0 };
		struct pd_result	pr = { 0 };
		struct slack_result	sr = { 0 };
		cJSON			*refusal = cJSON_Parse("{\"ok\":false,"
					    "\"error\":\"channel_not_found\"}");

		jr.status = 201;
		ok(jira_maybe_done(&jr), "Jira: an unreadable 201 may be done");
		jr.status = 302;
		ok(jira_maybe_done(&jr), "Jira: a redirect may be done");
		jr.status = 0;
		ok(jira_maybe_done(&jr), "Jira: no answer may be done");
		jr.status = 400;
		ok(!jira_maybe_done(&jr), "Jira: a 400 is not done");
		pr.status = 201;
		ok(pd_maybe_done(&pr), "PagerDuty: an unreadable 201 may be "
		    "done");
		pr.status = 503;
		ok(pd_maybe_done(&pr), "PagerDuty: a 503 may be done");
		pr.status = 404;
		ok(!pd_maybe_done(&pr), "PagerDuty: a 404 is not done");
		sr.http_status = 200;
		sr.error = "invalid JSON in response";
		ok(slack_transient(&sr), "Slack: a 200 that is not JSON is "
		    "transient");
		sr.http_status = 302;
		ok(slack_transient(&sr), "Slack: a redirect is transient");
		sr.http_status = 200;
		sr.json = refusal;
		sr.error = "channel_not_found";
		ok(!slack_transient(&sr), "Slack: ok:false is a refusal");
		cJSON_Delete(refusal);
	}
	free(c.jira.url);
	return (done_testing());
}
