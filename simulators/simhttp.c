/* simhttp.c — placeholder */
