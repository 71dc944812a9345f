/* fake-pagerduty.c: to be written. */
