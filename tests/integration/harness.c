/* harness.c — placeholder */
