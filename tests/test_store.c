/* test_store.c: the parameter store (src/crossbar/store.c): blocks keep the
 * bits of every value and momentum when they move, precision switches round
 * once, and trainers put their crossbars into it in their layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crossbar/crossbar.h"
#include "testutil.h"

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
} snet;

static void snet_open(snet *n, const int *layers, int nl, uint64_t seed)
{
    char *text = tu_gen_drn(layers, nl, seed);
    n->ctx = tu_ctx();
    ck_assert_int_eq(eqs_netlist_read_string(n->ctx, text, "drn.cir", &n->nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(n->ctx, n->nl, &n->c), EQS_OK);
    free(text);
}

static void snet_close(snet *n)
{
    eqs_circuit_free(&n->c);
    eqs_netlist_free(&n->nl);
    eqs_ctx_free(&n->ctx);
}

/* pos and param are inverse permutations and blocks tile the entries */
static void check_layout(const eqs_store *s)
{
    for (int k = 0; k < s->n; ++k) ck_assert_int_eq(s->param[s->pos[k]], k);
    size_t at = 0;
    for (int b = 0; b < s->n_blocks; ++b) {
        ck_assert_uint_eq(s->blocks[b].off, at);
        at += (size_t)s->blocks[b].rows * (size_t)s->blocks[b].cols;
    }
    ck_assert_uint_eq(at, (size_t)s->n);
    ck_assert_int_eq(s->blocks[s->n_blocks - 1].kind, EQS_BLOCK_LOOSE);
}

/* gen drn's .crossbar cards are declared blocks after compilation; blocks
 * made in another layout (here the transpose of crossbar 2, which replaces
 * it) move values and momentum without changing a bit; the same block
 * again moves nothing; a block taking part of another dissolves it (the
 * rest becomes loose), bits kept. */
START_TEST(test_store_blocks_keep_bits)
{
    static const int layers[] = {3, 4, 2};
    snet n;
    snet_open(&n, layers, 3, 7);
    eqs_circuit *c = n.c;
    const int np = eqs_circuit_param_count(c); /* 6x4 + 4x2 = 32 */
    ck_assert_int_eq(np, 32);
    double g0[32], m0[32];
    for (int k = 0; k < np; ++k) {
        g0[k] = eqs_circuit_param_get(c, k);
        m0[k] = k == 3 ? -0.0 : 1e-3 * (k - 11.5) / 7.0;
        ck_assert_int_eq(eqs_circuit_momentum_set(c, k, m0[k]), EQS_OK);
    }
    eqs_store *s = c->store;
    ck_assert_int_eq(s->n_blocks, 3);
    ck_assert_str_eq(s->blocks[0].name, "r1");
    ck_assert_str_eq(s->blocks[1].name, "r2");
    ck_assert(s->blocks[0].declared && s->blocks[0].rows == 6 && s->blocks[0].cols == 4);
    ck_assert_int_eq(s->blocks[2].cols, 0); /* nothing loose */
    check_layout(s);
    /* crossbar 2 (params 24..31, r2_<i>_<j> = 24 + 2 i + j), transposed */
    int p2[8], rows2[2], cols2[4];
    for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 4; ++i) p2[j * 4 + i] = 24 + 2 * i + j;
    for (int j = 0; j < 2; ++j) rows2[j] = eqs_circuit_node_find(c, j ? "o1" : "o0");
    for (int i = 0; i < 4; ++i) {
        char nm[16];
        snprintf(nm, sizeof nm, "h1_%d", i);
        cols2[i] = eqs_circuit_node_find(c, nm);
    }
    int b2;
    ck_assert_int_eq(eqs_store_block_make(c, EQS_BLOCK_CROSSBAR, "t2", 2, 4, rows2, cols2, p2, 0,
                                          &b2),
                     EQS_OK);
    int p1[24], rows1[6], cols1[4];
    for (int k = 0; k < 24; ++k) p1[k] = k;
    for (int i = 0; i < 6; ++i) rows1[i] = i + 1;
    for (int j = 0; j < 4; ++j) cols1[j] = cols2[j];
    int b1;
    ck_assert_int_eq(eqs_store_block_make(c, EQS_BLOCK_CROSSBAR, "x1", 6, 4, rows1, cols1, p1, 0,
                                          &b1),
                     EQS_OK);
    check_layout(s);
    ck_assert_int_eq(s->n_blocks, 3);
    ck_assert_int_eq(b1, 0); /* the declared r1: the same parameters, nothing moved */
    ck_assert_str_eq(s->blocks[b1].name, "r1");
    ck_assert_str_eq(s->blocks[b2].name, "t2");
    ck_assert(!s->blocks[b2].declared && s->blocks[b2].rows == 2);
    /* block t2 is entry for entry the transposed crossbar */
    const double *g2 = eqs_block_g(s, b2);
    for (int e = 0; e < 8; ++e) ck_assert(g2[e] == g0[p2[e]]);
    for (int k = 0; k < np; ++k) {
        ck_assert(memcmp(&(double){eqs_circuit_param_get(c, k)}, &g0[k], sizeof(double)) == 0);
        double m = eqs_circuit_momentum_get(c, k);
        ck_assert(memcmp(&m, &m0[k], sizeof m) == 0);
    }
    /* the same block again: nothing moves, its index comes back */
    int again;
    const size_t off = s->blocks[b1].off;
    ck_assert_int_eq(eqs_store_block_make(c, EQS_BLOCK_CROSSBAR, "x1", 6, 4, rows1, cols1, p1, 0,
                                          &again),
                     EQS_OK);
    ck_assert_int_eq(again, b1);
    ck_assert_uint_eq(s->blocks[b1].off, off);
    /* half of block t2: t2 is dissolved, its other half becomes loose */
    int bh;
    ck_assert_int_eq(eqs_store_block_make(c, EQS_BLOCK_CROSSBAR, "half", 1, 4, rows2, cols2, p2,
                                          0, &bh),
                     EQS_OK);
    ck_assert_int_eq(s->n_blocks, 3);
    ck_assert_str_eq(s->blocks[0].name, "r1");
    ck_assert_str_eq(s->blocks[bh].name, "half");
    ck_assert_int_eq(s->blocks[2].kind, EQS_BLOCK_LOOSE);
    ck_assert_int_eq(s->blocks[2].cols, 4);
    /* the loose rest in parameter order: t2's second row, r2_<i>_1 = 25, 27, 29, 31 */
    for (int e = 0; e < 4; ++e) ck_assert_int_eq(s->param[s->blocks[2].off + e], p2[4 + e]);
    check_layout(s);
    for (int k = 0; k < np; ++k) {
        ck_assert(memcmp(&(double){eqs_circuit_param_get(c, k)}, &g0[k], sizeof(double)) == 0);
        double m = eqs_circuit_momentum_get(c, k);
        ck_assert(memcmp(&m, &m0[k], sizeof m) == 0);
    }
    snet_close(&n);
}
END_TEST

/* Float storage rounds each value and momentum once; back to double keeps
 * the rounded values; eqs_circuit_param_set rounds as it stores. */
START_TEST(test_store_precision)
{
    static const int layers[] = {2, 3, 2};
    snet n;
    snet_open(&n, layers, 3, 3);
    eqs_circuit *c = n.c;
    const int np = eqs_circuit_param_count(c);
    double g0[64];
    for (int k = 0; k < np; ++k) {
        g0[k] = eqs_circuit_param_get(c, k);
        eqs_circuit_momentum_set(c, k, 0.1 * k);
    }
    ck_assert_int_eq(eqs_store_set_precision(c, EQS_STORE_FLOAT), EQS_OK);
    int differ = 0;
    for (int k = 0; k < np; ++k) {
        ck_assert(eqs_circuit_param_get(c, k) == (double)(float)g0[k]);
        ck_assert(eqs_circuit_momentum_get(c, k) == (double)(float)(0.1 * k));
        differ += eqs_circuit_param_get(c, k) != g0[k];
    }
    ck_assert(differ > 0); /* the values are not all floats already */
    ck_assert_int_eq(eqs_circuit_param_set(c, 0, 1.0 / 3.0), EQS_OK);
    ck_assert(eqs_circuit_param_get(c, 0) == (double)(float)(1.0 / 3.0));
    ck_assert_int_eq(eqs_store_set_precision(c, EQS_STORE_DOUBLE), EQS_OK);
    for (int k = 1; k < np; ++k) ck_assert(eqs_circuit_param_get(c, k) == (double)(float)g0[k]);
    snet_close(&n);
}
END_TEST

/* A batched layered trainer makes each crossbar a block of the store, row
 * nodes = layer l-1, column nodes = layer l, in the precision of its run,
 * and the values it trains are the circuit's at any time (mid-epoch). */
static void trainer_blocks(int single)
{
    char xml[4096];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"4 6 3\" seed=\"2\" g_init_min_S=\"1e-6\" "
             "g_init_max_S=\"1e-3\"/></network>\n"
             "  <dataset classes=\"3\"><synthetic task=\"blobs\" features=\"4\" "
             "train_size=\"64\" test_size=\"0\" noise=\"0.1\"/></dataset>\n"
             "  <input gain_V=\"5\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-4\"/>\n"
             "  <learning momentum=\"0.5\"><rate elements=\"r*\" value=\"1e-4\"/></learning>\n"
             "  <training epochs=\"1\" batch=\"8\" seed=\"1\"/>\n"
             "  <solver backend=\"layered\" diodes=\"ideal\"%s/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             single ? " precision=\"single\"" : "");
    tu_job j;
    tu_job_open(&j, tu_write_temp(xml, ".xml"), 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    const eqs_store *s = j.c->store;
    ck_assert_int_eq(s->prec, single ? EQS_STORE_FLOAT : EQS_STORE_DOUBLE);
    int xb = 0;
    for (int b = 0; b < s->n_blocks; ++b) {
        const eqs_block *B = &s->blocks[b];
        if (B->kind != EQS_BLOCK_CROSSBAR) continue;
        xb++;
        /* entry (i, j) is the resistor between row_node[i] and col_node[j] */
        for (int i = 0; i < B->rows; ++i)
            for (int jj = 0; jj < B->cols; ++jj) {
                int k = s->param[B->off + (size_t)i * B->cols + jj];
                const eqs_celem *e = &j.c->elems[j.c->params[k]];
                ck_assert(e->n[0] == B->row_node[i] && e->n[1] == B->col_node[jj]);
            }
    }
    ck_assert_int_eq(xb, 2);
    ck_assert_int_eq(s->blocks[s->n_blocks - 1].cols, 0); /* nothing loose */
    const int np = eqs_circuit_param_count(j.c);
    double *g0 = malloc((size_t)np * sizeof *g0);
    for (int k = 0; k < np; ++k) g0[k] = eqs_circuit_param_get(j.c, k);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK); /* batch 1 of 8: mid-epoch */
    int moved = 0;
    for (int k = 0; k < np; ++k) moved += eqs_circuit_param_get(j.c, k) != g0[k];
    ck_assert_msg(moved > np / 2, "%d of %d conductances moved", moved, np);
    free(g0);
    tu_job_close(&j);
}

START_TEST(test_store_trainer_blocks_double) { trainer_blocks(0); }
END_TEST

START_TEST(test_store_trainer_blocks_float) { trainer_blocks(1); }
END_TEST

/* Layer detection orders a layer as the declared crossbar does, not as
 * the netlist first names its nodes (h2 h1 h0 here, by the diodes): the
 * batched trainer then works on the declared blocks as they are. */
START_TEST(test_store_declared_order)
{
    const char *cir = tu_write_temp(
        "declared order\n.model dd D(IS=1e-14)\n"
        "d0 0 h2 dd\nd1 h1 0 dd\nd2 0 h0 dd\n"
        "vx0 x0 0 dc 0.1\nvx1 x1 0 dc -0.1\n"
        ".crossbar w1 rows=(x0 x1) cols=(h0 h1 h2) g=(1m 2m 3m 4m 5m 6m)\n"
        ".crossbar w2 rows=(h0 h1 h2) cols=(o0 o1) g=(1m 2m 3m 4m 5m 6m)\n"
        ".input vx0 vx1\n.output o0 o1\n.trainable w*\n.end\n",
        ".cir");
    char cirpath[4096], xml[8192];
    snprintf(cirpath, sizeof cirpath, "%s", cir);
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><netlist path=\"%s\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"16\" "
             "test_size=\"0\"/></dataset>\n"
             "  <input gain_V=\"1\" encoding=\"single\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning><rate elements=\"w*\" value=\"1e-6\"/></learning>\n"
             "  <training epochs=\"1\" batch=\"4\"/>\n"
             "  <solver backend=\"layered\" diodes=\"ideal\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             cirpath);
    tu_job j;
    tu_job_open(&j, tu_write_temp(xml, ".xml"), 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    const eqs_store *s = j.c->store;
    ck_assert_int_eq(s->n_blocks, 3);
    ck_assert_str_eq(s->blocks[0].name, "w1");
    ck_assert_str_eq(s->blocks[1].name, "w2");
    ck_assert(s->blocks[0].declared && s->blocks[1].declared);
    ck_assert_int_eq(s->blocks[0].col_node[0], eqs_circuit_node_find(j.c, "h0"));
    ck_assert_int_gt(eqs_circuit_node_find(j.c, "h0"), eqs_circuit_node_find(j.c, "h2"));
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    tu_job_close(&j);
}
END_TEST

/* Declared crossbars with a bias row (the rail bp, as gen drn --rails
 * wires it: to every hidden and output node): w1's rows x0 x1 bp are
 * layer 0, so it stays as declared; w2 (rows h0 h1 h2 bp) is split by the
 * batched path into its crossbar and rails blocks (dissolved), and the
 * network trains batched. */
START_TEST(test_store_bias_row)
{
    const char *cir = tu_write_temp(
        "bias row\n.model dd D(IS=1e-14)\n"
        "vx0 x0 0 dc 0.1\nvx1 x1 0 dc -0.1\nvbp bp 0 dc 0.5\n"
        ".crossbar w1 rows=(x0 x1 bp) cols=(h0 h1 h2) g=(1m 2m 3m 4m 5m 6m 1m 1m 1m)\n"
        "d0 0 h0 dd\nd1 h1 0 dd\nd2 0 h2 dd\n"
        ".crossbar w2 rows=(h0 h1 h2 bp) cols=(o0 o1) g=(1m 2m 3m 4m 5m 6m 7m 8m)\n"
        ".input vx0 vx1\n.output o0 o1\n.trainable w*\n.end\n",
        ".cir");
    char cirpath[4096], xml[8192];
    snprintf(cirpath, sizeof cirpath, "%s", cir);
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><netlist path=\"%s\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"16\" "
             "test_size=\"0\"/></dataset>\n"
             "  <input gain_V=\"1\" encoding=\"single\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning><rate elements=\"w*\" value=\"1e-6\"/></learning>\n"
             "  <training epochs=\"1\" batch=\"4\"/>\n"
             "  <solver backend=\"layered\" diodes=\"ideal\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             cirpath);
    tu_job j;
    tu_job_open(&j, tu_write_temp(xml, ".xml"), 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    const eqs_store *s = j.c->store;
    int kinds[3] = {0, 0, 0};
    for (int b = 0; b < s->n_blocks; ++b) kinds[s->blocks[b].kind]++;
    ck_assert_int_eq(kinds[EQS_BLOCK_CROSSBAR], 2);
    ck_assert_int_eq(kinds[EQS_BLOCK_RAILS], 1);
    ck_assert_int_eq(s->blocks[s->n_blocks - 1].cols, 0); /* nothing loose */
    ck_assert_str_eq(s->blocks[0].name, "w1"); /* declared, kept */
    check_layout(s);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    tu_job_close(&j);
}
END_TEST

Suite *suite_store(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_blocks_keep_bits);
    tcase_add_test(tc, test_store_precision);
    tcase_add_test(tc, test_store_trainer_blocks_double);
    tcase_add_test(tc, test_store_trainer_blocks_float);
    tcase_add_test(tc, test_store_declared_order);
    tcase_add_test(tc, test_store_bias_row);
    suite_add_tcase(s, tc);
    return s;
}
