/* fake-jira.c: to be written. */
