/* status.c: names and texts of the status codes (one X-macro list). */
#include "../eqspice.h"

const char *eqs_status_name(eqs_status s)
{
    switch (s) {
#define EQS_X_NAME(name, code, text) \
    case name:                       \
        return #name;
        EQS_STATUS_LIST(EQS_X_NAME)
#undef EQS_X_NAME
    }
    return "EQS_UNKNOWN_STATUS";
}

const char *eqs_strerror(eqs_status s)
{
    switch (s) {
#define EQS_X_TEXT(name, code, text) \
    case name:                       \
        return text;
        EQS_STATUS_LIST(EQS_X_TEXT)
#undef EQS_X_TEXT
    }
    return "unknown status";
}

int eqs_status_is_user_error(eqs_status s)
{
    switch (s) {
    case EQS_ERR_IO:
    case EQS_ERR_PARSE:
    case EQS_ERR_INPUT:
    case EQS_ERR_TOPOLOGY:
    case EQS_ERR_NOCONV:
    case EQS_ERR_SINGULAR:
    case EQS_ERR_UNSUPPORTED:
    case EQS_ERR_NGSPICE: /* mostly: ngspice cannot solve the user's circuit */
        return 1;
    default:
        return 0;
    }
}
