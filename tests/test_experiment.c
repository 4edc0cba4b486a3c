/* test_experiment.c: experiment files: valid files to struct fields and
 * defaults, each kind of schema violation with its line, malformed XML,
 * semantic errors, XXE / DOCTYPE, the compiled-in schema equal to
 * models/experiment.xsd, and write -> read round trips. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "core/core.h" /* allocation counters */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

/* The base document, one line per entry (line numbers are index + 1).
 * NETLIST, IMAGES, LABELS are replaced by absolute paths. */
static const char *const base[] = {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",                /* 1 */
    "<experiment>",                                              /* 2 */
    "  <network>",                                               /* 3 */
    "    <netlist path=\"NETLIST\"/>",                           /* 4 */
    "  </network>",                                              /* 5 */
    "  <dataset classes=\"3\">",                                 /* 6 */
    "    <idx>",                                                 /* 7 */
    "      <train images=\"IMAGES\" labels=\"LABELS\" limit=\"4\"/>", /* 8 */
    "    </idx>",                                                /* 9 */
    "  </dataset>",                                              /* 10 */
    "  <algorithm method=\"positive\" beta=\"0.5\"/>",           /* 11 */
    "  <learning>",                                              /* 12 */
    "    <rate elements=\"r*\" value=\"0.01\"/>",                /* 13 */
    "  </learning>",                                             /* 14 */
    "  <training epochs=\"3\"/>",                                /* 15 */
    "  <output dir=\"out\"/>",                                   /* 16 */
    "</experiment>",                                             /* 17 */
};
#define NBASE (int)(sizeof base / sizeof base[0])

/* Replace every `key` in s (malloc'd) by `val`; returns a new string. */
static char *subst(char *s, const char *key, const char *val)
{
    for (char *p; (p = strstr(s, key));) {
        size_t n = strlen(s) - strlen(key) + strlen(val) + 1;
        char *t = malloc(n);
        snprintf(t, n, "%.*s%s%s", (int)(p - s), s, val, p + strlen(key));
        free(s);
        s = t;
    }
    return s;
}

/* The base document with line `line` replaced by `text` (line 0: none),
 * written to a fresh temporary directory as exp.xml. */
static const char *doc_with3(int line, const char *text, int line2, const char *text2,
                             int line3, const char *text3)
{
    size_t cap = 16384;
    char *s = malloc(cap);
    s[0] = '\0';
    for (int i = 0; i < NBASE; ++i) {
        strcat(s, i + 1 == line    ? text
                  : i + 1 == line2 ? text2
                  : i + 1 == line3 ? text3
                                   : base[i]);
        strcat(s, "\n");
    }
    s = subst(s, "NETLIST", tu_path("netlists/divider.cir"));
    s = subst(s, "IMAGES", tu_path("tests/data/tiny-images-idx3-ubyte"));
    s = subst(s, "LABELS", tu_path("tests/data/tiny-labels-idx1-ubyte.gz"));
    const char *p = tu_write_temp(s, ".xml");
    free(s);
    return p;
}

static const char *doc_with2(int line, const char *text, int line2, const char *text2)
{
    return doc_with3(line, text, line2, text2, 0, NULL);
}

static const char *doc_with(int line, const char *text) { return doc_with2(line, text, 0, NULL); }

/* Read `path`, expect `code` and a message starting "path:line:" and
 * containing `needle`. */
static void expect_error(const char *path, eqs_status code, int line, const char *needle)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = (eqs_experiment *)1;
    eqs_status st = eqs_experiment_read(ctx, path, &e);
    const char *msg = eqs_ctx_error(ctx);
    ck_assert_msg(st == code, "status %s, message '%s'", eqs_status_name(st), msg);
    ck_assert_ptr_null(e);
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s:%d:", path, line);
    ck_assert_msg(!strncmp(msg, prefix, strlen(prefix)), "'%s' does not start with '%s'", msg,
                  prefix);
    ck_assert_msg(strstr(msg, ": error: "), "%s", msg);
    ck_assert_msg(strstr(msg, needle), "'%s' not in '%s'", needle, msg);
    ck_assert(eqs_status_is_user_error(code));
    eqs_ctx_free(&ctx);
}

START_TEST(test_read_base_and_defaults)
{
    eqs_ctx *ctx = tu_ctx();
    const char *path = doc_with(0, NULL);
    eqs_experiment *e = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, path, &e) == EQS_OK, "%s", eqs_ctx_error(ctx));
    /* given values */
    ck_assert_int_eq(e->network, EQS_NETWORK_NETLIST);
    ck_assert_str_eq(e->netlist, tu_path("netlists/divider.cir"));
    ck_assert_int_eq(e->data, EQS_DATA_IDX);
    ck_assert_int_eq(e->n_classes, 3);
    ck_assert(e->train.present);
    ck_assert(!e->test.present);
    ck_assert_str_eq(e->train.images, tu_path("tests/data/tiny-images-idx3-ubyte"));
    ck_assert_str_eq(e->train.labels, tu_path("tests/data/tiny-labels-idx1-ubyte.gz"));
    ck_assert_uint_eq(e->train.limit, 4);
    ck_assert_int_eq(e->algorithm, EQS_GRAD_EQPROP);
    ck_assert_double_eq(e->beta, 0.5);
    ck_assert_int_eq(e->n_lr, 1);
    ck_assert_str_eq(e->lr[0].pattern, "r*");
    ck_assert_double_eq(e->lr[0].rate, 0.01);
    ck_assert_int_eq(e->lr[0].line, 13);
    ck_assert_int_eq(e->epochs, 3);
    /* output dir relative to the file's directory, made absolute */
    char want[4200];
    snprintf(want, sizeof want, "%s", path);
    strcpy(strrchr(want, '/'), "/out");
    ck_assert_str_eq(e->output_dir, want);
    ck_assert_str_eq(e->source, path);
    /* defaults (eqspice.h, docs/experiment.md) */
    ck_assert_double_eq(e->input_gain_V, 1.0);
    ck_assert_int_eq(e->encoding, EQS_ENCODE_AUTO);
    ck_assert_double_eq(e->target_on_V, 1.0);
    ck_assert_double_eq(e->target_off_V, 0.0);
    ck_assert_int_eq(e->nudge, EQS_NUDGE_CONDUCTANCE);
    ck_assert_double_eq(e->momentum, 0.0);
    ck_assert_double_eq(e->lr_decay, 1.0);
    ck_assert_int_eq(e->batch, 1);
    ck_assert_uint_eq(e->seed, 1);
    ck_assert_double_eq(e->g_min_S, 0.0);
    ck_assert(isinf(e->g_max_S));
    ck_assert_int_eq(e->backend, EQS_BACKEND_AUTO);
    ck_assert_int_eq(e->diodes, EQS_DIODES_SHOCKLEY);
    ck_assert_int_eq(e->checkpoint_every, 0);
    ck_assert_ptr_null(e->eqspice_version);
    ck_assert_int_eq(e->line.network, 3);
    ck_assert_int_eq(e->line.dataset, 6);
    ck_assert_int_eq(e->line.output, 16);
    ck_assert_int_eq(e->line.input, 0);
    ck_assert_double_eq(eqs_experiment_rate(e, "R12"), 0.01);
    ck_assert_double_eq(eqs_experiment_rate(e, "d1"), -1.0);
    ck_assert_str_eq(eqs_grad_method_name(e->algorithm), "positive");
    ck_assert_str_eq(eqs_grad_method_name(EQS_GRAD_ADJOINT), "adjoint");
    /* one set of names: every method's name reads back as that method */
    for (int m = 0; m < 6; ++m)
        ck_assert_int_eq(eqs_grad_method_from_name(eqs_grad_method_name((eqs_grad_method)m)), m);
    eqs_experiment_free(&e);
    ck_assert_ptr_null(e);
    eqs_experiment_free(&e);
    /* a schema-location hint for editors is allowed (and not followed) */
    path = doc_with(2, "<experiment version=\"1\" "
                       "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                       "xsi:noNamespaceSchemaLocation=\"http://127.0.0.1:9/x.xsd\">");
    ck_assert_msg(eqs_experiment_read(ctx, path, &e) == EQS_OK, "%s", eqs_ctx_error(ctx));
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_read_example_file)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, "netlists/xor-experiment.xml", &e) == EQS_OK, "%s",
                  eqs_ctx_error(ctx));
    ck_assert_int_eq(e->network, EQS_NETWORK_DRN);
    ck_assert_int_eq(e->drn.n_layers, 3);
    ck_assert_int_eq(e->drn.layers[0], 2);
    ck_assert_int_eq(e->drn.layers[1], 8);
    ck_assert_int_eq(e->drn.layers[2], 2);
    ck_assert_uint_eq(e->drn.seed, 7); /* the training seed */
    ck_assert_double_eq(e->drn.g_min_S, 1e-6);
    ck_assert_double_eq(e->drn.g_max_S, 1e-4);
    ck_assert_double_eq(e->drn.gain, 1.0);
    ck_assert_int_eq(e->data, EQS_DATA_SYNTHETIC);
    ck_assert_str_eq(e->synthetic.name, "xor");
    ck_assert_uint_eq(e->synthetic_train, 512);
    ck_assert_uint_eq(e->synthetic_test, 256);
    ck_assert_uint_eq(e->synthetic.n, 768);
    ck_assert_uint_eq(e->synthetic.seed, 7);
    ck_assert_int_eq(e->synthetic.n_features, 2);
    ck_assert_int_eq(e->n_classes, 2);
    ck_assert_double_eq(e->synthetic.noise, 0.15);
    ck_assert_int_eq(e->encoding, EQS_ENCODE_PAIR);
    ck_assert_double_eq(e->target_on_V, 0.5);
    ck_assert_int_eq(e->algorithm, EQS_GRAD_CENTERED);
    ck_assert_double_eq(e->beta, 1e-5);
    ck_assert_int_eq(e->n_lr, 2);
    ck_assert_double_eq(eqs_experiment_rate(e, "r1_0_3"), 1e-9);
    ck_assert_double_eq(eqs_experiment_rate(e, "r2_1_1"), 5e-10);
    ck_assert_double_eq(e->momentum, 0.9);
    ck_assert_double_eq(e->lr_decay, 0.99);
    ck_assert_int_eq(e->epochs, 20);
    ck_assert_int_eq(e->batch, 4);
    ck_assert_double_eq(e->g_min_S, 1e-7);
    ck_assert_double_eq(e->g_max_S, 1e-3);
    ck_assert_str_eq(e->output_dir + strlen(e->output_dir) - strlen("/netlists/../build/runs/xor"),
                     "/netlists/../build/runs/xor");
    /* the synthetic spec goes straight to the generator */
    eqs_dataset *ds = NULL;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &e->synthetic, &ds), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 768);
    eqs_dataset_free(&ds);
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_schema_violations)
{
    /* missing required element: the error is at the parent */
    expect_error(doc_with(15, ""), EQS_ERR_INPUT, 2, "Missing child element(s)");
    /* bad enumeration value */
    expect_error(doc_with(11, "  <algorithm method=\"sgd\" beta=\"0.5\"/>"), EQS_ERR_INPUT, 11,
                 "'sgd'");
    /* negative learning rate */
    expect_error(doc_with(13, "    <rate elements=\"r*\" value=\"-0.01\"/>"), EQS_ERR_INPUT, 13,
                 "value");
    /* beta zero */
    expect_error(doc_with(11, "  <algorithm beta=\"0\"/>"), EQS_ERR_INPUT, 11, "beta");
    /* non-numeric */
    expect_error(doc_with(15, "  <training epochs=\"ten\"/>"), EQS_ERR_INPUT, 15, "'ten'");
    expect_error(doc_with(11, "  <algorithm beta=\"INF\"/>"), EQS_ERR_INPUT, 11, "beta");
    expect_error(doc_with(11, "  <algorithm beta=\"NaN\"/>"), EQS_ERR_INPUT, 11, "beta");
    /* missing required attribute */
    expect_error(doc_with(11, "  <algorithm method=\"centered\"/>"), EQS_ERR_INPUT, 11,
                 "beta");
    /* unknown element and attribute */
    expect_error(doc_with(16, "  <outptu dir=\"out\"/>"), EQS_ERR_INPUT, 16, "outptu");
    expect_error(doc_with(15, "  <training epochs=\"3\" lr=\"1\"/>"), EQS_ERR_INPUT, 15, "lr");
    /* momentum 1 and decay 0 are outside [0,1) and (0,1] */
    expect_error(doc_with(12, "  <learning momentum=\"1\">"), EQS_ERR_INPUT, 12, "momentum");
    expect_error(doc_with(12, "  <learning decay=\"0\">"), EQS_ERR_INPUT, 12, "decay");
    expect_error(doc_with(12, "  <learning schedule=\"linear\">"), EQS_ERR_INPUT, 12,
                 "schedule");
    /* threads only 1 or 2, split_min >= 1 */
    expect_error(doc_with(16, "  <solver threads=\"3\"/><output dir=\"out\"/>"), EQS_ERR_INPUT,
                 16, "threads");
    expect_error(doc_with(16, "  <solver split_min=\"0\"/><output dir=\"out\"/>"),
                 EQS_ERR_INPUT, 16, "split_min");
    /* batch 0, no rate at all */
    expect_error(doc_with(15, "  <training epochs=\"3\" batch=\"0\"/>"), EQS_ERR_INPUT, 15,
                 "batch");
    expect_error(doc_with(13, ""), EQS_ERR_INPUT, 12, "learning");
    /* both a netlist and a generated network */
    expect_error(doc_with(4, "    <netlist path=\"x.cir\"/>\n    <drn layers=\"2 2\"/>"),
                 EQS_ERR_INPUT, 5, "drn");
    /* a DRN needs two layers */
    expect_error(doc_with(4, "    <drn layers=\"784\"/>"), EQS_ERR_INPUT, 4, "layers");
}
END_TEST

START_TEST(test_malformed_xml)
{
    /* unclosed tag: libxml2 notices at the parent's end tag */
    expect_error(doc_with(13, "    <rate elements=\"r*\" value=\"0.01\">"), EQS_ERR_PARSE, 14,
                 "mismatch");
    /* unterminated attribute value */
    expect_error(doc_with(15, "  <training epochs=\"3/>"), EQS_ERR_PARSE, 16,
                 "Unescaped '<' not allowed in attributes values");
    /* empty and missing files */
    expect_error(tu_write_temp("", ".xml"), EQS_ERR_PARSE, 1, "empty");
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, "/nonexistent/exp.xml", &e), EQS_ERR_IO);
    ck_assert_ptr_null(strstr(eqs_ctx_error(ctx), "exp.xml:"));
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "cannot open experiment file '/nonexistent/exp.xml'"),
                  "%s", eqs_ctx_error(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

/* libxml2 prints nothing: every message goes to the context. */
START_TEST(test_nothing_on_stderr)
{
    /* copied: the helpers return paths in a ring of 8 buffers that the
     * next calls overwrite */
    char *bad[] = {strdup(doc_with(13, "    <rate elements=\"r*\" value=\"0.01\">")),
                   strdup(doc_with(11, "  <algorithm beta=\"0\"/>")),
                   strdup(doc_with(2, "<experiment xmlns=\"urn:other\">")),
                   strdup(tu_write_temp("<?xml version=\"1.0\"?>\n<!DOCTYPE e SYSTEM "
                                        "\"http://127.0.0.1:9/e.dtd\">\n<e>&undefined;</e>\n",
                                        ".xml")),
                   strdup(tu_write_temp("\xff\xfe<garbage", ".xml"))};
    const char *errpath = tu_write_temp("", ".err");
    fflush(stderr);
    int saved = dup(2);
    FILE *ef = fopen(errpath, "w");
    dup2(fileno(ef), 2);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
        eqs_ctx *ctx = tu_ctx();
        eqs_experiment *e = NULL;
        ck_assert_int_ne(eqs_experiment_read(ctx, bad[k], &e), EQS_OK);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), ": error: "), "%s", eqs_ctx_error(ctx));
        eqs_ctx_free(&ctx);
        free(bad[k]);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(ef);
    char *text = tu_read_file(errpath);
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(test_semantic_errors)
{
    expect_error(doc_with(4, "    <netlist path=\"missing.cir\"/>"), EQS_ERR_IO, 4,
                 "netlist");
    expect_error(doc_with(8, "      <train images=\"IMAGES\" labels=\"nolabels.gz\"/>"),
                 EQS_ERR_IO, 8, "cannot open dataset file");
    expect_error(doc_with(16, "  <output dir=\"out\"/><conductance g_min_S=\"1e-3\" "
                              "g_max_S=\"1e-4\"/>"),
                 EQS_ERR_INPUT, 16, "g_max_S");
    expect_error(doc_with(16, "  <output dir=\"out\"/><targets on_V=\"1\" off_V=\"1\"/>"),
                 EQS_ERR_INPUT, 16, "on_V and off_V are equal");
    expect_error(doc_with(4, "    <drn layers=\"6 4 2\"/>"), EQS_ERR_INPUT, 6,
                 "3 classes but the DRN has 2 outputs");
}
END_TEST

START_TEST(test_semantic_errors_drn)
{
    /* a generated DRN takes a pair of sources per feature */
    expect_error(doc_with2(4, "    <drn layers=\"6 4 3\"/>", 16,
                           "  <output dir=\"out\"/><input encoding=\"single\"/>"),
                 EQS_ERR_INPUT, 16, "encoding must be");
    /* the xor task has 2 features: a DRN with 6 inputs does not fit */
    expect_error(doc_with3(4, "    <drn layers=\"6 4 2\"/>", 6,
                           "  <dataset><synthetic task=\"xor\" train_size=\"10\"/><!--", 9,
                           "-->"),
                 EQS_ERR_INPUT, 6, "2 features but the DRN has 6 inputs");
    /* a second <network>: a schema error */
    expect_error(doc_with(5, "  </network><network><netlist path=\"x\"/></network>"),
                 EQS_ERR_INPUT, 5, "network");
}
END_TEST

START_TEST(test_doctype_and_xxe_rejected)
{
    /* a secret file that an expanded external entity would reveal */
    const char *secret = tu_write_temp("TOPSECRET-1234\n", ".txt");
    char doc[8192];
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?>\n"
             "<!DOCTYPE experiment [\n"
             "  <!ENTITY xxe SYSTEM \"file://%s\">\n"
             "  <!ENTITY remote SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n"
             "]>\n"
             "<experiment>&xxe;&remote;\n"
             "  <network><netlist path=\"&xxe;\"/></network>\n"
             "</experiment>\n",
             secret);
    const char *path = tu_write_temp(doc, ".xml");
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    eqs_status st = eqs_experiment_read(ctx, path, &e);
    ck_assert_int_ne(st, EQS_OK);
    ck_assert_ptr_null(e);
    ck_assert_msg(!strstr(eqs_ctx_error(ctx), "TOPSECRET"), "%s", eqs_ctx_error(ctx));
    ck_assert(eqs_status_is_user_error(st));
    eqs_ctx_free(&ctx);

    /* an external DTD (not loaded: no network, no file access) */
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?>\n"
             "<!DOCTYPE experiment SYSTEM \"http://127.0.0.1:9/experiment.dtd\">\n"
             "<experiment/>\n");
    expect_error(tu_write_temp(doc, ".xml"), EQS_ERR_INPUT, 2,
                 "DOCTYPE declarations are not allowed");
    /* an internal subset with an internal entity in an attribute */
    snprintf(doc, sizeof doc,
             "<?xml version=\"1.0\"?>\n"
             "<!DOCTYPE experiment [ <!ENTITY a \"aaaaaaaaaa\"> ]>\n"
             "<experiment version=\"&a;\"/>\n");
    expect_error(tu_write_temp(doc, ".xml"), EQS_ERR_INPUT, 2, "DOCTYPE");
}
END_TEST

START_TEST(test_schema_compiled_in_matches_file)
{
    char *file = tu_read_file("models/experiment.xsd");
    ck_assert_ptr_nonnull(file);
    ck_assert_msg(!strcmp(file, eqs_experiment_schema()),
                  "src/experiment/experiment_xsd.inc is stale: run sh scripts/embed-xsd.sh");
    free(file);
}
END_TEST

/* Compare every field of two experiments (paths as resolved). */
static void assert_same(const eqs_experiment *a, const eqs_experiment *b)
{
#define SAME_STR(x)                                              \
    do {                                                         \
        if (!a->x || !b->x) ck_assert_ptr_eq(a->x, b->x);       \
        else ck_assert_str_eq(a->x, b->x);                       \
    } while (0)
    ck_assert_int_eq(a->network, b->network);
    SAME_STR(netlist);
    ck_assert_int_eq(a->drn.n_layers, b->drn.n_layers);
    for (int k = 0; k < a->drn.n_layers; ++k) ck_assert_int_eq(a->drn.layers[k], b->drn.layers[k]);
    ck_assert_uint_eq(a->drn.seed, b->drn.seed);
    ck_assert(a->drn.g_min_S == b->drn.g_min_S && a->drn.g_max_S == b->drn.g_max_S);
    ck_assert(a->drn.bias == b->drn.bias && a->drn.bias_V == b->drn.bias_V);
    ck_assert(a->drn.diode_is_A == b->drn.diode_is_A && a->drn.diode_n == b->drn.diode_n);
    ck_assert(a->drn.gain == b->drn.gain);
    ck_assert_int_eq(a->data, b->data);
    ck_assert_int_eq(a->n_classes, b->n_classes);
    const eqs_data_part *pa[2] = {&a->train, &a->test}, *pb[2] = {&b->train, &b->test};
    for (int k = 0; k < 2; ++k) {
        ck_assert_int_eq(pa[k]->present, pb[k]->present);
        ck_assert_uint_eq(pa[k]->limit, pb[k]->limit);
        SAME_STR(train.images);
        SAME_STR(train.labels);
        SAME_STR(train.path);
        SAME_STR(test.images);
        SAME_STR(test.labels);
        SAME_STR(test.path);
    }
    SAME_STR(label_column);
    ck_assert_int_eq(a->csv_header, b->csv_header);
    SAME_STR(synthetic.name);
    ck_assert_uint_eq(a->synthetic.n, b->synthetic.n);
    ck_assert_uint_eq(a->synthetic.seed, b->synthetic.seed);
    ck_assert_int_eq(a->synthetic.n_features, b->synthetic.n_features);
    ck_assert_int_eq(a->synthetic.n_classes, b->synthetic.n_classes);
    ck_assert(a->synthetic.noise == b->synthetic.noise);
    ck_assert_uint_eq(a->synthetic_train, b->synthetic_train);
    ck_assert_uint_eq(a->synthetic_test, b->synthetic_test);
    ck_assert(a->input_gain_V == b->input_gain_V);
    ck_assert_int_eq(a->encoding, b->encoding);
    ck_assert(a->target_on_V == b->target_on_V && a->target_off_V == b->target_off_V);
    ck_assert_int_eq(a->algorithm, b->algorithm);
    ck_assert(a->beta == b->beta);
    ck_assert_int_eq(a->nudge, b->nudge);
    ck_assert_int_eq(a->n_lr, b->n_lr);
    for (int k = 0; k < a->n_lr; ++k) {
        ck_assert_str_eq(a->lr[k].pattern, b->lr[k].pattern);
        ck_assert(a->lr[k].rate == b->lr[k].rate);
    }
    ck_assert(a->momentum == b->momentum && a->lr_decay == b->lr_decay);
    ck_assert_int_eq(a->lr_cosine, b->lr_cosine);
    ck_assert_int_eq(a->threads, b->threads);
    ck_assert_int_eq(a->split_min, b->split_min);
    ck_assert_int_eq(a->epochs, b->epochs);
    ck_assert_int_eq(a->batch, b->batch);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert(a->g_min_S == b->g_min_S);
    ck_assert(a->g_max_S == b->g_max_S || (isinf(a->g_max_S) && isinf(b->g_max_S)));
    ck_assert_int_eq(a->backend, b->backend);
    SAME_STR(output_dir);
    ck_assert_int_eq(a->checkpoint_every, b->checkpoint_every);
#undef SAME_STR
}

static void round_trip(const char *path)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *a = NULL, *b = NULL, *c = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, path, &a) == EQS_OK, "%s", eqs_ctx_error(ctx));
    const char *dir = tu_temp_dir();
    char out[4200], out2[4200];
    snprintf(out, sizeof out, "%s/copy.xml", dir);
    snprintf(out2, sizeof out2, "%s/copy2.xml", dir);
    ck_assert_msg(eqs_experiment_write(ctx, a, out) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_msg(eqs_experiment_read(ctx, out, &b) == EQS_OK, "%s", eqs_ctx_error(ctx));
    assert_same(a, b);
    ck_assert_str_eq(b->eqspice_version, EQS_VERSION);
    /* writing the copy again gives the same bytes */
    ck_assert_int_eq(eqs_experiment_write(ctx, b, out2), EQS_OK);
    char *t1 = tu_read_file(out), *t2 = tu_read_file(out2);
    ck_assert_str_eq(t1, t2);
    ck_assert_msg(strstr(t1, "seed=\""), "%s", t1);
    free(t1);
    free(t2);
    ck_assert_int_eq(eqs_experiment_read(ctx, out2, &c), EQS_OK);
    assert_same(a, c);
    /* no temporary file left behind */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dir);
    ck_assert_int_ne(system(cmd), 0);
    unlink(out);
    unlink(out2);
    rmdir(dir);
    eqs_experiment_free(&a);
    eqs_experiment_free(&b);
    eqs_experiment_free(&c);
    eqs_ctx_free(&ctx);
}

START_TEST(test_round_trip)
{
    round_trip("netlists/xor-experiment.xml");
    round_trip(doc_with(0, NULL));
    /* CSV with every optional element and awkward characters in a path */
    char csvdir[4200], csv[4300], xml[8192];
    snprintf(csvdir, sizeof csvdir, "%s/a&b \"c\" <d>", tu_temp_dir());
    ck_assert_int_eq(mkdir(csvdir, 0755), 0);
    snprintf(csv, sizeof csv, "%s/train.csv", csvdir);
    FILE *f = fopen(csv, "w");
    fputs("x,y,label\n0.1,0.2,1\n", f);
    fclose(f);
    snprintf(xml, sizeof xml,
             "<experiment version=\"1\">\n"
             " <network><drn layers=\"2 3 3\" seed=\"18446744073709551615\" bias=\"1\" "
             "bias_V=\"-0.25\" diode_is_A=\"2.5e-15\" diode_n=\"1.7\" g_init_min_S=\"1e-7\" "
             "g_init_max_S=\"0.1\"/></network>\n"
             " <dataset classes=\"3\"><csv label_column=\"label\" header=\"yes\">"
             "<train path=\"train.csv\" limit=\"7\"/><test path=\"train.csv\"/></csv>"
             "</dataset>\n"
             " <input gain_V=\"0.3\"/><targets on_V=\"-0.1\" off_V=\"0.1\"/>\n"
             " <algorithm method=\"adjoint\" beta=\"0.1\" nudge=\"current\"/>\n"
             " <learning momentum=\"0.5\" decay=\"0.999\"><rate elements=\"r1_*\" "
             "value=\"0.30000000000000004\"/><rate elements=\"*\" value=\"0\"/></learning>\n"
             " <training epochs=\"2\" batch=\"32\" seed=\"99\"/>\n"
             " <conductance g_min_S=\"1e-9\" g_max_S=\"2e-3\"/><solver backend=\"ngspice\"/>\n"
             " <output dir=\"/tmp/run\" checkpoint_every=\"10\"/>\n"
             "</experiment>\n");
    char xpath[4400];
    snprintf(xpath, sizeof xpath, "%s/exp.xml", csvdir);
    f = fopen(xpath, "w");
    fputs(xml, f);
    fclose(f);
    round_trip(xpath);
}
END_TEST

START_TEST(test_load_data)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    eqs_dataset *tr = NULL, *te = NULL, *all = NULL;
    /* synthetic: one stream, training samples first */
    ck_assert_int_eq(eqs_experiment_read(ctx, "netlists/xor-experiment.xml", &e), EQS_OK);
    ck_assert_int_eq(eqs_experiment_load_data(ctx, e, &tr, &te), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(tr), 512);
    ck_assert_uint_eq(eqs_dataset_size(te), 256);
    ck_assert_int_eq(eqs_dataset_n_features(te), 2);
    eqs_synthetic_spec sp = e->synthetic;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &all), EQS_OK);
    ck_assert(!memcmp(eqs_dataset_features(te, 0), eqs_dataset_features(all, 512),
                      2 * sizeof(double)));
    ck_assert(!memcmp(eqs_dataset_features(tr, 511), eqs_dataset_features(all, 511),
                      2 * sizeof(double)));
    eqs_dataset_free(&all);
    eqs_dataset_free(&tr);
    eqs_dataset_free(&te);
    eqs_experiment_free(&e);
    /* IDX: limit and classes from the file; no test set */
    ck_assert_int_eq(eqs_experiment_read(ctx, doc_with(0, NULL), &e), EQS_OK);
    ck_assert_int_eq(eqs_experiment_load_data(ctx, e, &tr, &te), EQS_OK);
    ck_assert_ptr_null(te);
    ck_assert_uint_eq(eqs_dataset_size(tr), 4);
    ck_assert_int_eq(eqs_dataset_n_classes(tr), 3);
    eqs_dataset_free(&tr);
    eqs_experiment_free(&e);
    /* a label out of range for the experiment's classes names the record */
    ck_assert_int_eq(eqs_experiment_read(ctx, doc_with(6, "  <dataset classes=\"2\">"), &e),
                     EQS_OK);
    ck_assert_int_eq(eqs_experiment_load_data(ctx, e, &tr, &te), EQS_ERR_INPUT);
    ck_assert_ptr_null(tr);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "record 2 (byte 10): label 2 is out of range"),
                  "%s", eqs_ctx_error(ctx));
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Every allocation made through the context is released, on success and
 * on every error path (ASan checks libxml2's side in make check-asan). */
START_TEST(test_allocations_balance)
{
    eqs_ctx *ctx = tu_ctx();
    const char *files[] = {"netlists/xor-experiment.xml", doc_with(0, NULL),
                           doc_with(11, "  <algorithm beta=\"0\"/>"),
                           doc_with(4, "    <netlist path=\"missing.cir\"/>"),
                           doc_with(6, "  <dataset classes=\"2\">"),
                           doc_with(16, "  <output dir=\"out\"/><conductance g_min_S=\"1\" "
                                        "g_max_S=\"0.5\"/>")};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; ++k) {
        eqs_experiment *e = NULL;
        eqs_dataset *tr = NULL, *te = NULL;
        if (eqs_experiment_read(ctx, files[k], &e) == EQS_OK) {
            if (eqs_experiment_load_data(ctx, e, &tr, &te) == EQS_OK) {
                const char *dir = tu_temp_dir();
                char out[4200];
                snprintf(out, sizeof out, "%s/w.xml", dir);
                ck_assert_int_eq(eqs_experiment_write(ctx, e, out), EQS_OK);
                unlink(out);
                rmdir(dir);
            }
        }
        eqs_dataset_free(&tr);
        eqs_dataset_free(&te);
        eqs_experiment_free(&e);
        eqs_ctx_clear_error(ctx);
        ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    }
    ck_assert_uint_gt(ctx->n_alloc, 10);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_write_errors)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, "netlists/xor-experiment.xml", &e), EQS_OK);
    ck_assert_int_eq(eqs_experiment_write(ctx, e, "/nonexistent-dir/copy.xml"), EQS_ERR_IO);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "/nonexistent-dir/copy.xml"), "%s",
                  eqs_ctx_error(ctx));
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
}
END_TEST


/* Every experiment shipped in netlists/ reads and validates (the files
 * documented in docs/results.md must stay runnable as written). */
START_TEST(test_shipped_experiments_validate)
{
    DIR *d = opendir(tu_path("netlists"));
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".xml")) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "netlists/%s", de->d_name);
        eqs_ctx *ctx = tu_ctx();
        eqs_experiment *e = NULL;
        eqs_status st = eqs_experiment_read(ctx, tu_experiment_path(rel), &e);
        ck_assert_msg(st == EQS_OK, "%s: %s", rel, eqs_ctx_error(ctx));
        eqs_experiment_free(&e);
        eqs_ctx_free(&ctx);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 10);
}
END_TEST


/* ------------------------------------------------------------------ */
/* Set by path                                                         */
/* ------------------------------------------------------------------ */
/* The bytes eqs_experiment_write gives for e (malloc'd). */
static char *written(eqs_ctx *ctx, const eqs_experiment *e)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/w.xml", tu_temp_dir());
    ck_assert_int_eq(eqs_experiment_write(ctx, e, out), EQS_OK);
    char *text = tu_read_file(out);
    unlink(out);
    return text;
}

/* The written copy of the file at `path`. */
static char *written_file(const char *path)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, path, &e) == EQS_OK, "%s", eqs_ctx_error(ctx));
    char *text = written(ctx, e);
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
    return text;
}

#define OUT_ABS "  <output dir=\"/nonexistent/out\"/>" /* line 16, the same in every copy */

/* Setting `path` to `value` on the base document writes the same bytes
 * as the base document edited at `line` (and line2) by hand. */
static void expect_set_equals_edit(const char *path, const char *value, int line,
                                   const char *text, int line2, const char *text2)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, doc_with(16, OUT_ABS), &e), EQS_OK);
    eqs_status st = eqs_experiment_set(e, path, value);
    ck_assert_msg(st == EQS_OK, "%s=%s: %s", path, value, eqs_ctx_error(ctx));
    char *a = written(ctx, e);
    char *b = written_file(doc_with3(16, OUT_ABS, line, text, line2, text2));
    ck_assert_msg(!strcmp(a, b), "%s=%s:\n--- set ---\n%s\n--- edited ---\n%s", path, value, a,
                  b);
    free(a);
    free(b);
    eqs_experiment_free(&e);
    ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    eqs_ctx_free(&ctx);
}

START_TEST(test_set_equals_edit)
{
    expect_set_equals_edit("training.epochs", "7", 15, "  <training epochs=\"7\"/>", 0, NULL);
    expect_set_equals_edit("training.batch", "16", 15, "  <training epochs=\"3\" batch=\"16\"/>",
                           0, NULL);
    expect_set_equals_edit("training.seed", "42", 15, "  <training epochs=\"3\" seed=\"42\"/>", 0,
                           NULL);
    expect_set_equals_edit("algorithm.beta", "0.25", 11,
                           "  <algorithm method=\"positive\" beta=\"0.25\"/>", 0, NULL);
    expect_set_equals_edit("algorithm.method", "adjoint", 11,
                           "  <algorithm method=\"adjoint\" beta=\"0.5\"/>", 0, NULL);
    /* an element the file leaves out is added in schema order */
    expect_set_equals_edit("input.gain_V", "8", 10, "  </dataset><input gain_V=\"8\"/>", 0,
                           NULL);
    expect_set_equals_edit("solver.backend", "ngspice", 15,
                           "  <training epochs=\"3\"/><solver backend=\"ngspice\"/>", 0, NULL);
    expect_set_equals_edit("dataset.idx.train.limit", "2", 8,
                           "      <train images=\"IMAGES\" labels=\"LABELS\" limit=\"2\"/>", 0,
                           NULL);
    expect_set_equals_edit("dataset.classes", "4", 6, "  <dataset classes=\"4\">", 0, NULL);
    /* learning-rate groups: an existing pattern changes its value ... */
    expect_set_equals_edit("learning.rate[r*]", "0.002", 13,
                           "    <rate elements=\"r*\" value=\"0.002\"/>", 0, NULL);
    expect_set_equals_edit("learning.rate[r*].value", "0.003", 13,
                           "    <rate elements=\"r*\" value=\"0.003\"/>", 0, NULL);
    /* ... a new one becomes the first group */
    expect_set_equals_edit("learning.rate[r1_*]", "0.002", 13,
                           "    <rate elements=\"r1_*\" value=\"0.002\"/>"
                           "<rate elements=\"r*\" value=\"0.01\"/>",
                           0, NULL);
    expect_set_equals_edit("learning.momentum", "0.5", 12, "  <learning momentum=\"0.5\">", 0,
                           NULL);
}
END_TEST

/* A DRN experiment: network.drn.layers and its checks. */
START_TEST(test_set_drn_layers)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, "netlists/xor-experiment.xml", &e), EQS_OK);
    ck_assert_int_eq(eqs_experiment_set(e, "network.drn.layers", "2 5 3 2"), EQS_OK);
    ck_assert_int_eq(e->drn.n_layers, 4);
    ck_assert_int_eq(e->drn.layers[1], 5);
    ck_assert_int_eq(e->drn.layers[2], 3);
    /* the file, the directory and the lines stay those of the file */
    ck_assert_str_eq(e->source, "netlists/xor-experiment.xml");
    ck_assert_int_eq(e->line.training, 31);
    /* the DRN's outputs must match the classes: the reader's check */
    ck_assert_int_eq(eqs_experiment_set(e, "network.drn.layers", "2 5 3"), EQS_ERR_INPUT);
    const char *msg = eqs_ctx_error(ctx);
    ck_assert_msg(strstr(msg, "--set network.drn.layers=2 5 3") &&
                      strstr(msg, "the dataset has 2 classes but the DRN has 3 outputs"),
                  "%s", msg);
    ck_assert_int_eq(e->drn.n_layers, 4); /* unchanged */
    eqs_experiment_free(&e);
    ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    eqs_ctx_free(&ctx);
}
END_TEST


/* An empty value removes the attribute: the default again (no device
 * model, the default momentum), or the schema's error when it is required;
 * a refused removal leaves the experiment as it was. */
START_TEST(test_set_empty_removes)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL, *d = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, "netlists/xor-experiment.xml", &e), EQS_OK);
    ck_assert_int_eq(eqs_experiment_defaults(ctx, &d), EQS_OK);
    ck_assert_int_eq(eqs_experiment_set(e, "conductance.device_model", "../models/ideal.xml"),
                     EQS_OK);
    ck_assert_ptr_nonnull(e->device_model);
    ck_assert_int_eq(eqs_experiment_set(e, "conductance.device_model", ""), EQS_OK);
    ck_assert_ptr_null(e->device_model);
    ck_assert_int_eq(eqs_experiment_set(e, "learning.momentum", "0.5"), EQS_OK);
    ck_assert(e->momentum == 0.5);
    ck_assert_int_eq(eqs_experiment_set(e, "learning.momentum", ""), EQS_OK);
    ck_assert(e->momentum == d->momentum);
    ck_assert_int_eq(eqs_experiment_set(e, "network.drn.layers", ""), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "'layers' is required") != NULL, "%s",
                  eqs_ctx_error(ctx));
    ck_assert_int_eq(e->drn.n_layers, 3); /* unchanged */
    eqs_experiment_free(&d);
    eqs_experiment_free(&e);
    ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Bad paths and values are refused with a message naming the assignment,
 * and leave the experiment as it was. */
START_TEST(test_set_refused)
{
    static const struct {
        const char *path, *value, *needle;
    } bad[] = {
        {"trainig.epochs", "3", "<experiment> has no element <trainig>"},
        {"training.epoch", "3", "attribute 'epoch' is not allowed"},
        {"training.epochs", "abc", "'abc' is not a valid value"},
        {"training.epochs", "0", "training.epochs=0"},
        {"algorithm.beta", "-1", "algorithm.beta=-1"},
        {"algorithm.method", "sgd", "algorithm.method=sgd"},
        {"conductance.g_max_S", "0", "conductance.g_max_S=0"},
        {"targets.on_V", "0", "on_V and off_V are equal"},
        {"network.drn.layers", "2 4 2", "holds a <netlist>, not a <drn>"},
        {"network.netlist.path", "missing.cir", "missing.cir"},
        {"learning[r*]", "1", "learning.rate[PATTERN]"},
        {"learning.rate[]", "1", "learning.rate[PATTERN]"},
        {"learning.rate.value", "1", "learning.rate[PATTERN]"},
        {"learning.rate[r*]", "-1", "learning.rate[r*]=-1"},
        {"training", "3", "no element named"},
        {"training.", "3", "no attribute after the element"},
        {"", "3", "empty path"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
        eqs_ctx *ctx = tu_ctx();
        eqs_experiment *e = NULL;
        const char *xml = doc_with(16, OUT_ABS);
        ck_assert_int_eq(eqs_experiment_read(ctx, xml, &e), EQS_OK);
        char *before = written(ctx, e);
        eqs_status st = eqs_experiment_set(e, bad[k].path, bad[k].value);
        const char *msg = eqs_ctx_error(ctx);
        /* as the reader: EQS_ERR_INPUT, EQS_ERR_IO for a file it cannot open */
        ck_assert_msg(st == EQS_ERR_INPUT || st == EQS_ERR_IO, "%s=%s: %s (%s)", bad[k].path, bad[k].value,
                      eqs_status_name(st), msg);
        ck_assert_msg(strstr(msg, bad[k].needle), "%s=%s: '%s' not in '%s'", bad[k].path,
                      bad[k].value, bad[k].needle, msg);
        char prefix[4300];
        snprintf(prefix, sizeof prefix, "error: %s: --set ", xml);
        ck_assert_msg(!strncmp(msg, prefix, strlen(prefix)), "'%s' does not start with '%s'",
                      msg, prefix);
        eqs_ctx_clear_error(ctx);
        char *after = written(ctx, e);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
        eqs_experiment_free(&e);
        ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
        eqs_ctx_free(&ctx);
    }
}
END_TEST

/* eqs_experiment_defaults completed by set_many equals the file that
 * gives the same values (and needs them all: alone it is refused). */
START_TEST(test_defaults_set_many)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_int_eq(eqs_experiment_defaults(ctx, &e), EQS_OK);
    ck_assert_int_eq(e->epochs, 1);
    ck_assert_int_eq(e->threads, 2);
    ck_assert(e->beta == 1.0 && e->input_gain_V == 1.0 && e->target_on_V == 1.0);
    ck_assert(isinf(e->g_max_S));
    ck_assert_int_eq(eqs_experiment_set(e, "training.epochs", "2"), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "Missing child element"), "%s",
                  eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    /* an error no single assignment causes names them all */
    const char *p2[] = {"training.epochs", "training.batch"}, *v2[] = {"2", "8"};
    ck_assert_int_eq(eqs_experiment_set_many(e, 2, p2, v2), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx),
                         "error: experiment: --set training.epochs=2, training.batch=8: "),
                  "%s", eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    const char *paths[] = {"learning.rate[*]",  "network.drn.layers", "dataset.synthetic.task",
                           "dataset.synthetic.train_size", "training.epochs", "algorithm.beta",
                           "output.dir"};
    const char *values[] = {"1e-9", "2 3 2", "xor", "16", "2", "1e-5", "/nonexistent/out"};
    eqs_status st = eqs_experiment_set_many(e, 7, paths, values);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    char *a = written(ctx, e);
    char *b = written_file(tu_write_temp(
        "<experiment><network><drn layers=\"2 3 2\"/></network>"
        "<dataset><synthetic task=\"xor\" train_size=\"16\"/></dataset>"
        "<algorithm beta=\"1e-5\"/><learning><rate elements=\"*\" value=\"1e-9\"/></learning>"
        "<training epochs=\"2\"/><output dir=\"/nonexistent/out\"/></experiment>\n",
        ".xml"));
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    eqs_experiment_free(&e);
    ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    eqs_ctx_free(&ctx);
}
END_TEST


/* Values the file leaves to their rule follow a value set by path as they
 * follow an edit: the DRN and the synthetic task take the new training
 * seed, a new task its own features, classes and noise. */
START_TEST(test_set_rederives)
{
    static const char *const fmt =
        "<experiment>\n<network><drn layers=\"%s\"/></network>\n"
        "<dataset><synthetic task=\"%s\" train_size=\"8\"/></dataset>\n"
        "<algorithm beta=\"1\"/><learning><rate elements=\"*\" value=\"1\"/></learning>\n"
        "<training epochs=\"1\"%s/>\n<output dir=\"/nonexistent/out\"/>\n</experiment>\n";
    char base_xml[1024], edited[1024];
    snprintf(base_xml, sizeof base_xml, fmt, "2 3 2", "xor", "");
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, tu_write_temp(base_xml, ".xml"), &e), EQS_OK);
    ck_assert_uint_eq(e->drn.seed, 1);
    ck_assert_int_eq(eqs_experiment_set(e, "training.seed", "5"), EQS_OK);
    ck_assert_uint_eq(e->seed, 5);
    ck_assert_uint_eq(e->drn.seed, 5);
    ck_assert_uint_eq(e->synthetic.seed, 5);
    snprintf(edited, sizeof edited, fmt, "2 3 2", "xor", " seed=\"5\"");
    char *a = written(ctx, e), *b = written_file(tu_write_temp(edited, ".xml"));
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* xor (2 features, 2 classes, noise 0.15) to blobs (4, 3, 0.1) */
    const char *p[] = {"dataset.synthetic.task", "network.drn.layers"};
    const char *v[] = {"blobs", "4 3 3"};
    ck_assert_msg(eqs_experiment_set_many(e, 2, p, v) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(e->synthetic.n_features, 4);
    ck_assert_int_eq(e->n_classes, 3);
    ck_assert(e->synthetic.noise == 0.1);
    snprintf(edited, sizeof edited, fmt, "4 3 3", "blobs", " seed=\"5\"");
    a = written(ctx, e);
    b = written_file(tu_write_temp(edited, ".xml"));
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* a value given explicitly stays */
    ck_assert_int_eq(eqs_experiment_set(e, "network.drn.seed", "9"), EQS_OK);
    ck_assert_int_eq(eqs_experiment_set(e, "training.seed", "6"), EQS_OK);
    ck_assert_uint_eq(e->drn.seed, 9);
    ck_assert_uint_eq(e->synthetic.seed, 6);
    eqs_experiment_free(&e);
    ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_experiment(void)
{
    Suite *s = suite_create("experiment");
    TCase *tc = tcase_create("experiment");
    tcase_add_test(tc, test_read_base_and_defaults);
    tcase_add_test(tc, test_read_example_file);
    tcase_add_test(tc, test_schema_violations);
    tcase_add_test(tc, test_malformed_xml);
    tcase_add_test(tc, test_nothing_on_stderr);
    tcase_add_test(tc, test_semantic_errors);
    tcase_add_test(tc, test_semantic_errors_drn);
    tcase_add_test(tc, test_doctype_and_xxe_rejected);
    tcase_add_test(tc, test_schema_compiled_in_matches_file);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_load_data);
    tcase_add_test(tc, test_allocations_balance);
    tcase_add_test(tc, test_write_errors);
    tcase_add_test(tc, test_shipped_experiments_validate);
    tcase_add_test(tc, test_set_equals_edit);
    tcase_add_test(tc, test_set_drn_layers);
    tcase_add_test(tc, test_set_empty_removes);
    tcase_add_test(tc, test_set_refused);
    tcase_add_test(tc, test_defaults_set_many);
    tcase_add_test(tc, test_set_rederives);
    suite_add_tcase(s, tc);
    return s;
}
