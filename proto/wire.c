/* wire.c — placeholder */
