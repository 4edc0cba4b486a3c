/*
 * eqspice.h: the one public header of eqspice.
 *
 * Data flows one way: netlist -> circuit -> solver (-> eqprop -> export).
 * Every object is an opaque handle created with *_create / *_read and
 * released with *_free(T **), which accepts NULL and sets the pointer to
 * NULL.  Every function that can fail returns an eqs_status and records a
 * message in the context (eqs_ctx_error).  Units are SI throughout:
 * volts (V), amperes (A), siemens (S), ohms (Ohm), seconds (s).
 *
 * This header exposes no third-party type.  It is split by layer:
 *   eqspice_sim.h    simulation: status, context, netlist, circuit, solver,
 *                    generators;
 *   eqspice_train.h  training: datasets, experiments, gradients, trainers,
 *                    checkpoints, exports, runs, the run driver;
 *   eqspice_hooks.h  test and benchmark hooks (solver internals).
 */
#ifndef EQSPICE_H
#define EQSPICE_H

#include "eqspice_sim.h"
#include "eqspice_train.h"
#include "eqspice_hooks.h"

#endif /* EQSPICE_H */
