/* parser.c: STUB, replaced by the netlist parser. */
#include "netlist.h"

eqs_status eqs_netlist_read(eqs_ctx *ctx, const char *path, eqs_netlist **out)
{
    *out = NULL;
    return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED, "netlist reader not implemented (%s)", path);
}
eqs_status eqs_netlist_read_string(eqs_ctx *ctx, const char *text, const char *name,
                                   eqs_netlist **out)
{
    (void)text;
    *out = NULL;
    return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED, "netlist reader not implemented (%s)", name);
}
void eqs_netlist_free(eqs_netlist **nl) { (void)nl; }
int eqs_netlist_node_find(const eqs_netlist *nl, const char *name) { (void)nl; (void)name; return -1; }
int eqs_netlist_elem_find(const eqs_netlist *nl, const char *name) { (void)nl; (void)name; return -1; }
int eqs_netlist_model_find(const eqs_netlist *nl, const char *name) { (void)nl; (void)name; return -1; }
int eqs_parse_number(const char *text, double *out) { (void)text; (void)out; return 0; }
