/* unit-cmd.c: command splitting, lookup and mention parsing. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "tap.h"

static const char *
find_name(const char *text, int *used, char **cause)
{
	const struct cmd_entry	*e;
	char			**argv;
	int			 argc;

	*cause = NULL;
	if (cmd_split(text, &argc, &argv) != 0)
		return ("(split failed)");
	e = cmd_find(argc, argv, used, cause);
	cmd_free_argv(argc, argv);
	return (e != NULL ? e->name : NULL);
}

static void
test_split(void)
{
	char	**argv;
	int	  argc;

	ok(cmd_split("  new   incident  DB is down ", &argc, &argv) == 0,
	    "split plain words");
	is_int(argc, 5, "five words");
	is_str(argv[0], "new", "first word");
	is_str(argv[4], "down", "last word");
	ok(argv[5] == NULL, "argv is NULL-terminated");
	cmd_free_argv(argc, argv);

	ok(cmd_split("page \"api gateway\" db", &argc, &argv) == 0,
	    "split with quotes");
	is_int(argc, 3, "quoted words group");
	is_str(argv[1], "api gateway", "quoted word kept whole");
	cmd_free_argv(argc, argv);

	ok(cmd_split("page \"unterminated", &argc, &argv) == -1,
	    "unterminated quote is an error");
	ok(cmd_split("   ", &argc, &argv) == 0 && argc == 0,
	    "blank text gives no words");
	cmd_free_argv(argc, argv);
}

static void
test_find(void)
{
	char	*cause;
	int	 used = -1;

	is_str(find_name("help", &used, &cause), "help", "exact name");
	is_int(used, 1, "one word used");
	is_str(find_name("HELP me", &used, &cause), "help",
	    "case-insensitive, extra words are arguments");
	is_str(find_name("hel", &used, &cause), "help", "unique prefix");
	ok(find_name("frobnicate", &used, &cause) == NULL, "unknown command");
	is_str(cause, "unknown command", "unknown command cause");
	free(cause);
	ok(find_name("", &used, &cause) == NULL, "no words");
	free(cause);
}

static void
test_mentions(void)
{
	const char	*rest = NULL;

	ok(events_mentions_bot("<@U0BOT> help", "U0BOT", &rest),
	    "leading mention");
	is_str(rest, "help", "rest after mention");
	ok(events_mentions_bot("  <@U0BOT|incidentbot>   page db", "U0BOT",
	    &rest), "mention with label");
	is_str(rest, "page db", "rest after labelled mention");
	ok(!events_mentions_bot("hey <@U0BOT> help", "U0BOT", &rest),
	    "mention not first is not a command");
	ok(!events_mentions_bot("<@U0BOTX> help", "U0BOT", &rest),
	    "another user whose id starts the same");
	ok(!events_mentions_bot("<@U0BOT", "U0BOT", &rest),
	    "unterminated mention");
	ok(!events_mentions_bot("<@U0BOT> help", NULL, &rest),
	    "unknown bot id");
	ok(events_mentions_bot("<@U0BOT>", "U0BOT", &rest) && *rest == '\0',
	    "bare mention");
}

int
main(void)
{
	log_init(LOG_LEVEL_ERROR, "unit-cmd");
	test_split();
	test_find();
	test_mentions();
	return (done_testing());
}
