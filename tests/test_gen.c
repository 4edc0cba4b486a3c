/* test_gen.c: the DRN generator: determinism, structure, round trip through
 * the parser and compiler, and its input checks. */
#define _POSIX_C_SOURCE 200809L
#include "netlist/netlist.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generate spec sp into a malloc'd string. */
static char *gen_spec(const eqs_drn_spec *sp, eqs_status *st)
{
    eqs_ctx *ctx = tu_ctx();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *st = eqs_gen_drn(ctx, sp, f);
    fclose(f);
    eqs_ctx_free(&ctx);
    return buf;
}

/* Generate into a malloc'd string. */
static char *gen(const int *layers, int n, uint64_t seed, int bias, eqs_status *st)
{
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = n;
    sp.seed = seed;
    sp.gain = 2.0;
    sp.bias = bias;
    sp.bias_V = 0.1;
    return gen_spec(&sp, st);
}

static int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t k = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, k)) n++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return n;
}

/* Elements of the parsed text whose name starts with prefix. */
static int count_elems(const char *text, const char *prefix)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    ck_assert_int_eq(eqs_netlist_read_string(ctx, text, "gen.cir", &nl), EQS_OK);
    int n = 0;
    for (int i = 0; i < nl->n_elems; ++i) n += !strncmp(nl->elems[i].name, prefix, strlen(prefix));
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    return n;
}

START_TEST(test_gen_deterministic)
{
    const int L[] = {5, 4, 3};
    eqs_status st;
    char *a = gen(L, 3, 7, 0, &st);
    ck_assert_int_eq(st, EQS_OK);
    char *b = gen(L, 3, 7, 0, &st);
    char *c = gen(L, 3, 8, 0, &st);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_gen_structure)
{
    const int L[] = {5, 4, 6, 3};
    eqs_status st;
    char *t = gen(L, 4, 1, 1, &st);
    ck_assert_int_eq(st, EQS_OK);
    /* crossbars: 2*5*4 + 4*6 + 6*3 resistors */
    ck_assert_int_eq(count_elems(t, "r1_"), 40);
    ck_assert_int_eq(count_elems(t, "r2_"), 24);
    ck_assert_int_eq(count_elems(t, "r3_"), 18);
    /* two sources per pixel, a bias source and a diode per hidden node */
    ck_assert_int_eq(count_prefix(t, "vxp"), 5);
    ck_assert_int_eq(count_prefix(t, "vxn"), 5);
    ck_assert_int_eq(count_prefix(t, "vb"), 10);
    ck_assert_int_eq(count_prefix(t, "dp"), 2 + 3);
    ck_assert_int_eq(count_prefix(t, "dn"), 2 + 3);
    ck_assert_int_eq(count_prefix(t, ".output"), 1);
    ck_assert_int_eq(count_prefix(t, ".trainable"), 1);
    ck_assert_ptr_nonnull(strstr(t, "\n.end\n"));
    /* the pair of input sources carries +A*x and -A*x */
    double xp, xn;
    const char *p = strstr(t, "\nvxp0 xp0 0 dc ");
    const char *n = strstr(t, "\nvxn0 xn0 0 dc ");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(n);
    xp = strtod(p + strlen("\nvxp0 xp0 0 dc "), NULL);
    xn = strtod(n + strlen("\nvxn0 xn0 0 dc "), NULL);
    ck_assert_double_eq(xp, -xn);
    ck_assert(xp >= 0 && xp < 2.0); /* gain 2, x in [0,1) */
    free(t);
}
END_TEST

START_TEST(test_gen_roundtrip)
{
    /* the generated file parses and compiles, with the expected counts */
    const int L[] = {6, 5, 2};
    eqs_status st;
    char *t = gen(L, 3, 3, 0, &st);
    ck_assert_int_eq(st, EQS_OK);
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    st = eqs_netlist_read_string(ctx, t, "gen.cir", &nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    st = eqs_circuit_create(ctx, nl, &c);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    /* nodes: ground + 12 inputs + 5 hidden + 2 outputs */
    ck_assert_int_eq(eqs_circuit_node_count(c), 1 + 12 + 5 + 2);
    /* every resistor is trainable: 12*5 + 5*2 */
    ck_assert_int_eq(eqs_circuit_param_count(c), 70);
    /* inputs are eliminated: unknowns are the 7 hidden and output nodes */
    ck_assert_int_eq(eqs_circuit_unknown_count(c), 7);
    ck_assert_int_eq(eqs_circuit_is_reciprocal(c), 1);
    ck_assert_int_ge(eqs_circuit_node_find(c, "o1"), 1);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    free(t);
}
END_TEST

/* Differential outputs: 2 nodes per output unit, .output_pair, the rest
 * of the network unchanged; `eqspice gen drn --output-pairs` too. */
START_TEST(test_gen_output_pairs)
{
    const int L[] = {6, 5, 2};
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = L;
    sp.n_layers = 3;
    sp.seed = 3;
    sp.output_pairs = 1;
    char *t = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&t, &len);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(t, "\n.output_pair o0p o0n o1p o1n\n"));
    ck_assert_ptr_null(strstr(t, "\n.output "));
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, t, "gen.cir", &nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_circuit_node_count(c), 1 + 12 + 5 + 4);
    ck_assert_int_eq(eqs_circuit_param_count(c), 12 * 5 + 5 * 4);
    ck_assert_int_eq(eqs_circuit_output_count(c), 2);
    ck_assert_str_eq(eqs_circuit_node_name(c, eqs_circuit_output_node(c, 1)), "o1p");
    ck_assert_str_eq(eqs_circuit_node_name(c, eqs_circuit_output_neg(c, 1)), "o1n");
    ck_assert_int_eq(eqs_circuit_is_reciprocal(c), 1);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    free(t);
    eqs_ctx_free(&ctx);
    char *out = NULL, *err = NULL;
    const char *const av[] = {"gen", "drn", "--layers", "3,4,3", "--output-pairs", NULL};
    ck_assert_int_eq(tu_run_cli(av, &out, &err, 20), 0);
    ck_assert_msg(strstr(out, "\n.output_pair o0p o0n o1p o1n o2p o2n\n") != NULL, "%s", out);
    free(out);
    free(err);
}
END_TEST


/* bias_mirrored: the V <= 0 diodes' (odd hidden nodes, dn) bias sources
 * at -bias_V, the others at +bias_V; without it all at +bias_V. */
START_TEST(test_gen_bias_mirrored)
{
    static const int layers[] = {3, 4, 2};
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = 3;
    sp.gain = 1.0;
    sp.bias = 1;
    sp.bias_V = 0.6;
    sp.bias_mirrored = 1;
    eqs_status st;
    char *buf = gen_spec(&sp, &st);
    ck_assert_int_eq(st, EQS_OK);
    ck_assert_ptr_nonnull(strstr(buf, "vb1_0 hb1_0 0 dc 0.59999999999999998\n"));
    ck_assert_ptr_nonnull(strstr(buf, "vb1_1 hb1_1 0 dc -0.59999999999999998\n"));
    ck_assert_ptr_nonnull(strstr(buf, "vb1_2 hb1_2 0 dc 0.59999999999999998\n"));
    ck_assert_ptr_nonnull(strstr(buf, "vb1_3 hb1_3 0 dc -0.59999999999999998\n"));
    sp.bias_mirrored = 0;
    char *buf2 = gen_spec(&sp, &st);
    ck_assert_int_eq(st, EQS_OK);
    ck_assert_ptr_nonnull(strstr(buf2, "vb1_1 hb1_1 0 dc 0.59999999999999998\n"));
    free(buf2);
    free(buf);
}
END_TEST

START_TEST(test_gen_bad_spec)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    const int one[] = {4};
    sp.layers = one;
    sp.n_layers = 1;
    FILE *f = fopen("/dev/null", "w");
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "at least 2 layers"));
    eqs_ctx_clear_error(ctx);
    const int L[] = {4, 0, 2};
    sp.layers = L;
    sp.n_layers = 3;
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    const int L2[] = {4, 2};
    sp.layers = L2;
    sp.n_layers = 2;
    sp.g_min_S = 0;
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    sp.g_min_S = 1e-6;
    sp.rails_V = -1;
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "rail voltage"));
    fclose(f);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_gen(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("drn");
    tcase_add_test(tc, test_gen_deterministic);
    tcase_add_test(tc, test_gen_structure);
    tcase_add_test(tc, test_gen_roundtrip);
    tcase_add_test(tc, test_gen_bad_spec);
    tcase_add_test(tc, test_gen_output_pairs);
    tcase_add_test(tc, test_gen_bias_mirrored);
    suite_add_tcase(s, tc);
    return s;
}
