/*
 * run.h: private header of the run module: the run directory (run.c) and
 * the run driver (driver.c, eqs_job_*: experiment -> data -> network ->
 * epochs -> run directory, docs/training.md "Run driver").
 *
 * The run is the top library layer: it uses the experiment reader, the
 * datasets, the trainer and the exporters through the public header and
 * the export module's atomic writes (export/export.h); nothing below
 * includes this header.
 */
#ifndef EQS_RUN_H
#define EQS_RUN_H

#include "../export/export.h"

#endif /* EQS_RUN_H */
