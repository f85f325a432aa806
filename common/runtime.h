/*
 * runtime.h — what every Ember binary's main does the same way: load its
 * settings (printing --help, --version or the error with the program's
 * name), apply the "log.level" setting, and stop cleanly on SIGTERM/SIGINT.
 */
#ifndef EMBER_COMMON_RUNTIME_H
#define EMBER_COMMON_RUNTIME_H

#include "common/options.h"

#include <stddef.h>

#define RUNTIME_CONTINUE (-1)

/*
 * opts_load, then the log level from the spec named "log.level" if the
 * table has one.  Returns RUNTIME_CONTINUE, or the exit code main should
 * return: 0 after --help/--version, 2 after printing "NAME: reason" for a
 * bad setting (settings are freed in both cases).
 */
int runtime_start(const opt_program *prog, const opt_spec *specs, size_t nspecs, int argc,
                  char **argv);

/*
 * Block SIGTERM and SIGINT in this thread and every thread started after
 * (call it before starting any), and ignore SIGPIPE; then
 * runtime_wait_stop() takes the signal synchronously, logs it and returns it.
 */
void runtime_block_stop_signals(void);
int runtime_wait_stop(void);

#endif
