/* tn_netlist.c: hand-built netlists for tests (see tn_netlist.h). */
#include "tn_netlist.h"

#include <stdlib.h>
#include <string.h>

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return eqs_str_lower(d);
}

static void grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    *p = realloc(*p, nc * elem);
    *cap = nc;
}

eqs_netlist *tn_new(eqs_ctx *ctx)
{
    eqs_netlist *nl = calloc(1, sizeof *nl);
    nl->ctx = ctx;
    nl->title = dup("test");
    nl->path = dup("tn.cir");
    tn_node(nl, "0");
    return nl;
}

void tn_free(eqs_netlist **nlp)
{
    eqs_netlist *nl = *nlp;
    if (!nl) return;
    for (int i = 0; i < nl->n_nodes; ++i) free(nl->node_names[i]);
    for (int i = 0; i < nl->n_elems; ++i) {
        free(nl->elems[i].name);
        free(nl->elems[i].ctrl);
    }
    for (int i = 0; i < nl->n_models; ++i) free(nl->models[i].name);
    for (int i = 0; i < nl->n_trainable; ++i) free(nl->trainable[i]);
    for (int i = 0; i < nl->n_inputs; ++i) free(nl->inputs[i]);
    free(nl->trainable);
    free(nl->trainable_loc);
    free(nl->inputs);
    free(nl->input_loc);
    free(nl->node_names);
    free(nl->elems);
    free(nl->models);
    free(nl->title);
    free(nl->path);
    free(nl);
    *nlp = NULL;
}

int tn_node(eqs_netlist *nl, const char *name)
{
    if (!strcmp(name, "gnd")) name = "0";
    for (int i = 0; i < nl->n_nodes; ++i)
        if (eqs_str_ieq(nl->node_names[i], name)) return i;
    grow((void **)&nl->node_names, &nl->node_cap, (size_t)nl->n_nodes + 1, sizeof(char *));
    nl->node_names[nl->n_nodes] = dup(name);
    return nl->n_nodes++;
}

static eqs_element *add(eqs_netlist *nl, eqs_elem_kind kind, const char *name)
{
    grow((void **)&nl->elems, &nl->elem_cap, (size_t)nl->n_elems + 1, sizeof(eqs_element));
    eqs_element *e = &nl->elems[nl->n_elems];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->name = dup(name);
    e->node[0] = e->node[1] = e->node[2] = e->node[3] = -1;
    e->model = -1;
    e->area = 1;
    e->loc = (eqs_loc){"tn.cir", nl->n_elems + 1, 1};
    nl->n_elems++;
    return e;
}

int tn_add(eqs_netlist *nl, eqs_elem_kind kind, const char *name, const char *a, const char *b,
           double value)
{
    int na = tn_node(nl, a), nb = tn_node(nl, b);
    eqs_element *e = add(nl, kind, name);
    e->node[0] = na;
    e->node[1] = nb;
    e->n_nodes = 2;
    e->value = value;
    return nl->n_elems - 1;
}

int tn_add_idx(eqs_netlist *nl, eqs_elem_kind kind, const char *name, int a, int b,
               double value)
{
    eqs_element *e = add(nl, kind, name);
    e->node[0] = a;
    e->node[1] = b;
    e->n_nodes = 2;
    e->value = value;
    return nl->n_elems - 1;
}

int tn_node_new(eqs_netlist *nl, const char *name)
{
    grow((void **)&nl->node_names, &nl->node_cap, (size_t)nl->n_nodes + 1, sizeof(char *));
    nl->node_names[nl->n_nodes] = dup(name);
    return nl->n_nodes++;
}

int tn_add4(eqs_netlist *nl, eqs_elem_kind kind, const char *name, const char *a, const char *b,
            const char *c, const char *d, double value)
{
    int na = tn_node(nl, a), nb = tn_node(nl, b), nc = tn_node(nl, c), nd = tn_node(nl, d);
    eqs_element *e = add(nl, kind, name);
    e->node[0] = na;
    e->node[1] = nb;
    e->node[2] = nc;
    e->node[3] = nd;
    e->n_nodes = 4;
    e->value = value;
    return nl->n_elems - 1;
}

int tn_addc(eqs_netlist *nl, eqs_elem_kind kind, const char *name, const char *a, const char *b,
            const char *ctrl, double value)
{
    int i = tn_add(nl, kind, name, a, b, value);
    nl->elems[i].ctrl = dup(ctrl);
    return i;
}

int tn_model(eqs_netlist *nl, const char *name, double is, double n, double rs)
{
    grow((void **)&nl->models, &nl->model_cap, (size_t)nl->n_models + 1, sizeof(eqs_diode_model));
    eqs_diode_model *m = &nl->models[nl->n_models];
    memset(m, 0, sizeof *m);
    m->name = dup(name);
    m->is_A = is;
    m->n = n;
    m->rs_Ohm = rs;
    m->ibv_A = 1e-3;
    m->tnom_C = 27;
    m->loc = (eqs_loc){"tn.cir", 100 + nl->n_models, 1};
    return nl->n_models++;
}

int tn_diode(eqs_netlist *nl, const char *name, const char *a, const char *k, int model,
             double area)
{
    int i = tn_add(nl, EQS_EL_D, name, a, k, 0);
    nl->elems[i].model = model;
    nl->elems[i].area = area;
    return i;
}

void tn_trainable(eqs_netlist *nl, const char *pattern)
{
    nl->trainable = realloc(nl->trainable, (size_t)(nl->n_trainable + 1) * sizeof(char *));
    nl->trainable_loc = realloc(nl->trainable_loc, (size_t)(nl->n_trainable + 1) * sizeof(eqs_loc));
    nl->trainable[nl->n_trainable] = dup(pattern);
    nl->trainable_loc[nl->n_trainable] = (eqs_loc){"tn.cir", 200 + nl->n_trainable, 1};
    nl->n_trainable++;
}

void tn_input(eqs_netlist *nl, const char *name)
{
    nl->inputs = realloc(nl->inputs, (size_t)(nl->n_inputs + 1) * sizeof(char *));
    nl->input_loc = realloc(nl->input_loc, (size_t)(nl->n_inputs + 1) * sizeof(eqs_loc));
    nl->inputs[nl->n_inputs] = dup(name);
    nl->input_loc[nl->n_inputs] = (eqs_loc){"tn.cir", 300 + nl->n_inputs, 1};
    nl->n_inputs++;
}
