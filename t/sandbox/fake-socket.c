/* fake-socket.c: to be written. */
