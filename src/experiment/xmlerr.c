/* xmlerr.c: libxml2's errors as the context's errors (xmlerr.h). */
#include "xmlerr.h"

#include <stdio.h>
#include <string.h>

void eqs_xml_on_error(void *user, xmlErrorPtr e)
{
    eqs_xml_errors *st = user;
    if (!e || e->level < XML_ERR_ERROR || st->got) return;
    st->got = 1;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "XML error");
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
    int col = (e->domain == XML_FROM_PARSER && e->int2 > 0) ? e->int2 : 1;
    eqs_loc loc = {st->path, e->line > 0 ? e->line : 1, col};
    EQS_ERROR_AT(st->ctx, st->code, loc, "%s", msg);
}

void eqs_xml_on_generic(void *user, const char *fmt, ...)
{
    (void)user;
    (void)fmt;
}
