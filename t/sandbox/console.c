/* console.c: to be written. */
