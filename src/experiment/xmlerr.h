/*
 * xmlerr.h: private header of the experiment folder: libxml2's errors as
 * the context's `file:line:col: error:` (device_xml.c, manifest.c).
 */
#ifndef EQS_XMLERR_H
#define EQS_XMLERR_H

#include "../core/core.h"

#include <libxml/xmlerror.h>

typedef struct {
    eqs_ctx *ctx;
    const char *path;
    eqs_status code; /* status given to the next libxml2 error */
    int got;         /* 1 once an error was recorded (the first one wins) */
} eqs_xml_errors;

/* libxml2 structured-error handler (user: an eqs_xml_errors): records the
 * first error at its line (and column, for parser errors) of `path`. */
void eqs_xml_on_error(void *user, xmlErrorPtr e);
/* Generic-error handler that drops libxml2's unstructured messages. */
void eqs_xml_on_generic(void *user, const char *fmt, ...);

#endif /* EQS_XMLERR_H */
