/* fake-slack.c: to be written. */
