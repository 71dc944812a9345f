/* sandbox.c: to be written. */
