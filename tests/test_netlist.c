/* test_netlist.c: the netlist reader (lexer, numbers, expressions, cards,
 * .subckt expansion, .include, extension cards, every parse error).
 * Expected values are derived by hand from the SPICE rules in
 * docs/netlist.md; error messages are compared verbatim. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlist/netlist.h"
#include "testutil.h"

/* Read `text` (file name "t.cir"); fail the test on error. */
static eqs_netlist *rd(eqs_ctx *ctx, const char *text)
{
    eqs_netlist *nl = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, text, "t.cir", &nl);
    ck_assert_msg(st == EQS_OK, "unexpected error: %s", eqs_ctx_error(ctx));
    ck_assert_ptr_nonnull(nl);
    return nl;
}

/* Reading `text` must fail with exactly `msg`. */
static void expect_err(const char *text, const char *msg)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = (eqs_netlist *)&nl; /* must be reset to NULL */
    eqs_status st = eqs_netlist_read_string(ctx, text, "t.cir", &nl);
    /* unsupported SPICE features are input errors of their own kind */
    ck_assert_msg(st == EQS_ERR_PARSE || st == EQS_ERR_UNSUPPORTED,
                  "expected a parse error for:\n%s\ngot status %d", text, (int)st);
    ck_assert_ptr_null(nl);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_free(&ctx);
}

static const eqs_element *el(const eqs_netlist *nl, const char *name)
{
    int k = eqs_netlist_elem_find(nl, name);
    ck_assert_msg(k >= 0, "element '%s' missing", name);
    return &nl->elems[k];
}

static const char *node(const eqs_netlist *nl, const eqs_element *e, int k)
{
    ck_assert_int_ge(e->node[k], 0);
    ck_assert_int_lt(e->node[k], nl->n_nodes);
    return nl->node_names[e->node[k]];
}

/* ------------------------------------------------------------------ */

START_TEST(test_numbers)
{
    static const struct {
        const char *text;
        double value;
    } ok[] = {
        {"1", 1},          {"-2.5", -2.5},    {"+3", 3},         {".5", 0.5},
        {"5.", 5},         {"1e3", 1e3},      {"1.5E-3", 1.5e-3}, {"2e+2", 200},
        {"1f", 1e-15},     {"1p", 1e-12},     {"1n", 1e-9},      {"1u", 1e-6},
        {"1m", 1e-3},      {"1k", 1e3},       {"1meg", 1e6},     {"1g", 1e9},
        {"1t", 1e12},      {"1MEG", 1e6},     {"1Meg", 1e6},     {"1M", 1e-3},
        {"1mil", 25.4e-6}, {"10kOhm", 1e4},   {"5V", 5},         {"1mA", 1e-3},
        {"3ohm", 3},       {"2.2uF", 2.2e-6}, {"1e3k", 1e6},     {"4.7K", 4.7e3},
        {"1megohm", 1e6},  {"0", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; ++i) {
        double v = -123;
        ck_assert_msg(eqs_parse_number(ok[i].text, &v), "'%s' rejected", ok[i].text);
        ck_assert_msg(fabs(v - ok[i].value) <= 1e-12 * fabs(ok[i].value),
                      "'%s' -> %.17g, expected %.17g", ok[i].text, v, ok[i].value);
    }
    static const char *bad[] = {"1..2", "1e", "1e+", "--3", "-", ".", "", "abc",
                                "k1", "1k2", "0x10", "1e999", "1.2.3", "+-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        double v = 0;
        ck_assert_msg(!eqs_parse_number(bad[i], &v), "'%s' accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_comments_continuations)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "My Title  \n"
                              "* a comment line\n"
                              "\n"
                              "R1 A B 1k ; inline comment r9 9 9 9\n"
                              "R2 b\n"
                              "* comment between continuation lines\n"
                              "+ c\n"
                              "\n"
                              "+ 2k $ ngspice comment\n"
                              "R3 c n$1 5\n"
                              "   r4 c 0 4 ; indented card\n");
    ck_assert_str_eq(nl->title, "My Title");
    ck_assert_int_eq(nl->n_elems, 4);
    ck_assert_str_eq(el(nl, "r1")->name, "r1");
    ck_assert_str_eq(node(nl, el(nl, "R1"), 0), "a");
    ck_assert_double_eq(el(nl, "r1")->value, 1e3);
    ck_assert_str_eq(node(nl, el(nl, "r2"), 1), "c");
    ck_assert_double_eq(el(nl, "r2")->value, 2e3);
    ck_assert_str_eq(node(nl, el(nl, "r3"), 1), "n$1"); /* '$' not after whitespace */
    ck_assert_int_eq(el(nl, "r2")->loc.line, 5);
    ck_assert_int_eq(el(nl, "r4")->loc.line, 11);
    ck_assert_int_eq(el(nl, "r4")->loc.col, 4);
    ck_assert_str_eq(el(nl, "r4")->loc.file, "t.cir");
    eqs_netlist_free(&nl);
    ck_assert_ptr_null(nl);
    eqs_netlist_free(&nl); /* NULL-safe */
    eqs_netlist_free(NULL);
    eqs_ctx_free(&ctx);
    /* a token on a continuation line keeps its own line and column */
    expect_err("t\nR1 a\n+ b\n+   1..2\n", "t.cir:4:5: error: malformed number '1..2'");
    expect_err("t\nR1 a b\n* c\n\t+ {x}\n", "t.cir:4:5: error: undefined parameter 'x'");
}
END_TEST

START_TEST(test_elements)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "elements\n"
                              "r1 a 0 1k\n"
                              "Vin a GND DC 5 AC 1 90\n"
                              "v2 b 0 -1.5\n"
                              "v3 c 0 ac 1\n"
                              "i1 0 b 2m\n"
                              "i2 0 c dc 3u\n"
                              "e1 d 0 a b 10\n"
                              "g1 d 0 a 0 1m\n"
                              "f1 b 0 vin 3\n"
                              "h1 c 0 v2 50\n"
                              ".model dm d\n"
                              "d1 a b dm\n"
                              "d2 b a dm 2.5\n"
                              "d3 b a dm area=4\n"
                              "r2 d 0 2k\n");
    ck_assert_int_eq(nl->n_elems, 14);
    const eqs_element *e = el(nl, "vin");
    ck_assert_int_eq(e->kind, EQS_EL_V);
    ck_assert_int_eq(e->n_nodes, 2);
    ck_assert_str_eq(node(nl, e, 0), "a");
    ck_assert_int_eq(e->node[1], 0); /* gnd is ground */
    ck_assert_int_eq(e->node[2], -1);
    ck_assert_double_eq(e->value, 5);
    ck_assert_double_eq(el(nl, "v2")->value, -1.5);
    ck_assert_double_eq(el(nl, "v3")->value, 0); /* AC only: DC value 0 */
    e = el(nl, "i1");
    ck_assert_int_eq(e->kind, EQS_EL_I);
    ck_assert_int_eq(e->node[0], 0);
    ck_assert_str_eq(node(nl, e, 1), "b");
    ck_assert_double_eq_tol(e->value, 2e-3, 1e-18);
    ck_assert_double_eq_tol(el(nl, "i2")->value, 3e-6, 1e-20);
    e = el(nl, "e1");
    ck_assert_int_eq(e->kind, EQS_EL_E);
    ck_assert_int_eq(e->n_nodes, 4);
    ck_assert_str_eq(node(nl, e, 0), "d");
    ck_assert_int_eq(e->node[1], 0);
    ck_assert_str_eq(node(nl, e, 2), "a");
    ck_assert_str_eq(node(nl, e, 3), "b");
    ck_assert_double_eq(e->value, 10);
    e = el(nl, "g1");
    ck_assert_int_eq(e->kind, EQS_EL_G);
    ck_assert_int_eq(e->node[3], 0);
    ck_assert_double_eq_tol(e->value, 1e-3, 1e-18);
    e = el(nl, "f1");
    ck_assert_int_eq(e->kind, EQS_EL_F);
    ck_assert_str_eq(e->ctrl, "vin");
    ck_assert_double_eq(e->value, 3);
    e = el(nl, "h1");
    ck_assert_int_eq(e->kind, EQS_EL_H);
    ck_assert_str_eq(e->ctrl, "v2");
    ck_assert_double_eq(e->value, 50);
    e = el(nl, "d1");
    ck_assert_int_eq(e->kind, EQS_EL_D);
    ck_assert_int_eq(e->model, eqs_netlist_model_find(nl, "DM"));
    ck_assert_double_eq(e->area, 1);
    ck_assert_double_eq(el(nl, "d2")->area, 2.5);
    ck_assert_double_eq(el(nl, "d3")->area, 4);
    ck_assert_int_eq(el(nl, "r1")->model, -1);
    /* nodes: 0 a b c d, interned once */
    ck_assert_int_eq(nl->n_nodes, 5);
    ck_assert_str_eq(nl->node_names[0], "0");
    ck_assert_int_eq(eqs_netlist_node_find(nl, "GND"), 0);
    ck_assert_int_eq(eqs_netlist_node_find(nl, "0"), 0);
    ck_assert_int_eq(eqs_netlist_node_find(nl, "D"), el(nl, "r2")->node[0]);
    ck_assert_int_eq(eqs_netlist_node_find(nl, "zz"), -1);
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "zz"), -1);
    ck_assert_int_eq(eqs_netlist_model_find(nl, "zz"), -1);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_models)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "models\n"
                              ".param isx=2f\n"
                              ".model dflt D\n"
                              ".model d1 D(IS=1e-12 N=1.5, RS=10 BV=50 IBV=1u TNOM=25)\n"
                              ".model d2 d is = {isx*3} n=2\n"
                              "+ cjo=1p vj=0.7 m=0.5 tt=1n eg=1.11 xti=3 kf=0 af=1 fc=0.5 "
                              "cj0=2p level=1\n");
    ck_assert_int_eq(nl->n_models, 3);
    const eqs_diode_model *m = &nl->models[eqs_netlist_model_find(nl, "dflt")];
    ck_assert_str_eq(m->name, "dflt");
    ck_assert_double_eq(m->is_A, 1e-14);
    ck_assert_double_eq(m->n, 1);
    ck_assert_double_eq(m->rs_Ohm, 0);
    ck_assert_int_eq(m->has_bv, 0);
    ck_assert_double_eq(m->ibv_A, 1e-3);
    ck_assert_double_eq(m->tnom_C, 27);
    ck_assert_int_eq(m->loc.line, 3);
    m = &nl->models[eqs_netlist_model_find(nl, "D1")];
    ck_assert_double_eq(m->is_A, 1e-12);
    ck_assert_double_eq(m->n, 1.5);
    ck_assert_double_eq(m->rs_Ohm, 10);
    ck_assert_int_eq(m->has_bv, 1);
    ck_assert_double_eq(m->bv_V, 50);
    ck_assert_double_eq(m->ibv_A, 1e-6);
    ck_assert_double_eq(m->tnom_C, 25);
    ck_assert_str_eq(m->card, "is=9.9999999999999998e-13 n=1.5 rs=10 bv=50 "
                              "ibv=9.9999999999999995e-07 tnom=25");
    m = &nl->models[eqs_netlist_model_find(nl, "d2")];
    ck_assert_double_eq_tol(m->is_A, 6e-15, 1e-30);
    ck_assert_double_eq(m->n, 2);
    ck_assert_double_eq(m->rs_Ohm, 0);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* value of `expr` through `.param` (with helper parameters a=2 b=3) */
static double pexpr(const char *expr)
{
    char text[512];
    snprintf(text, sizeof text, "t\n.param a=2 b=3\n.param x=%s\n r1 1 0 {x}\n", expr);
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, text);
    double v = nl->elems[0].value;
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    return v;
}

START_TEST(test_params)
{
    static const struct {
        const char *expr;
        double value;
    } cases[] = {
        {"1k", 1e3},
        {"{1+2*3}", 7},
        {"{(1+2)*3}", 9},
        {"{2^3^2}", 512}, /* right-associative */
        {"{2**3}", 8},
        {"{-2^2}", -4},   /* unary minus binds looser than ^ */
        {"{2^-1}", 0.5},
        {"{--3}", 3},
        {"{+a}", 2},
        {"{a*b-a/b}", 2 * 3 - 2.0 / 3},
        {"{10/4/5}", 0.5}, /* left-associative */
        {"{1k*2m}", 2},
        {"{2meg/1MEG}", 2},
        {"{sqrt(16)}", 4},
        {"{exp(0)+log(1)}", 1},
        {"{abs(-3)}", 3},
        {"{min(a, b)+max(a,b)}", 5},
        {"{pow(2,10)}", 1024},
        {"{ A * B }", 6},
        {"a*b+1", 7},       /* bare expression, no spaces */
        {"a * b + 1", 7},   /* bare expression with spaces */
        {"-a", -2},
        {"{sqrt(a*8)}", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        double v = pexpr(cases[i].expr);
        ck_assert_msg(fabs(v - cases[i].value) <= 1e-12 * fabs(cases[i].value) + 1e-300,
                      "'%s' = %.17g, expected %.17g", cases[i].expr, v, cases[i].value);
    }
    /* several per card, later refer to earlier, redefinition, bare names as
     * values, elements before the .param card */
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "t\n"
                              "r0 1 0 {r*2}\n"
                              ".param r=1k g={r*2} h = {g+1}\n"
                              ".PARAM R2=5 r2={r2*2}\n"
                              "r1 1 0 g\n"
                              "r2 1 0 {h}\n"
                              "r3 1 0 r2\n");
    ck_assert_double_eq(el(nl, "r0")->value, 2000);
    ck_assert_double_eq(el(nl, "r1")->value, 2000);
    ck_assert_double_eq(el(nl, "r2")->value, 2001);
    ck_assert_double_eq(el(nl, "r3")->value, 10);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_subckt)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "subcircuits\n"
                              "V1 in 0 1\n"
                              "X1 in out div rtop=3k\n"
                              "Xb in out2 DIV\n"
                              "x3 in out3 outer\n"
                              ".subckt div a b params: rtop=1k rbot={rtop*2}\n"
                              ".param rmid={rbot/2}\n"
                              "R1 a mid {rtop}\n"
                              "R2 mid b {rmid}\n"
                              "R3 b 0 {rbot}\n"
                              "Rg mid gnd 1meg\n"
                              "Fx b 0 vloc 2\n"
                              "vloc mid m2 0\n"
                              ".ends div\n"
                              ".subckt outer p q\n"
                              ".subckt inner u v k=5\n"
                              "r1 u v {k}\n"
                              ".ends\n"
                              "xi p n inner k=7\n"
                              "xj n q inner\n"
                              ".ends outer\n");
    /* x1: rtop=3k, rbot=6k, rmid=3k */
    const eqs_element *e = el(nl, "x1.r1");
    ck_assert_str_eq(node(nl, e, 0), "in");
    ck_assert_str_eq(node(nl, e, 1), "x1.mid");
    ck_assert_double_eq(e->value, 3000);
    e = el(nl, "x1.r2");
    ck_assert_str_eq(node(nl, e, 0), "x1.mid");
    ck_assert_str_eq(node(nl, e, 1), "out");
    ck_assert_double_eq(e->value, 3000);
    ck_assert_double_eq(el(nl, "x1.r3")->value, 6000);
    ck_assert_int_eq(el(nl, "x1.r3")->node[1], 0);
    ck_assert_int_eq(el(nl, "x1.rg")->node[1], 0);
    ck_assert_str_eq(el(nl, "x1.fx")->ctrl, "x1.vloc");
    ck_assert_int_eq(el(nl, "x1.r1")->loc.line, 8); /* the card inside the body */
    /* xb: defaults rtop=1k rbot=2k rmid=1k */
    ck_assert_double_eq(el(nl, "xb.r1")->value, 1000);
    ck_assert_double_eq(el(nl, "xb.r2")->value, 1000);
    ck_assert_double_eq(el(nl, "xb.r3")->value, 2000);
    ck_assert_str_eq(node(nl, el(nl, "xb.r2"), 1), "out2");
    /* nested definitions and instances */
    e = el(nl, "x3.xi.r1");
    ck_assert_str_eq(node(nl, e, 0), "in");
    ck_assert_str_eq(node(nl, e, 1), "x3.n");
    ck_assert_double_eq(e->value, 7);
    e = el(nl, "x3.xj.r1");
    ck_assert_str_eq(node(nl, e, 0), "x3.n");
    ck_assert_str_eq(node(nl, e, 1), "out3");
    ck_assert_double_eq(e->value, 5);
    ck_assert_int_eq(nl->n_elems, 1 + 2 * 6 + 2);
    eqs_netlist_free(&nl);

    /* .global nodes are not prefixed */
    nl = rd(ctx, "t\n.global vdd\n.subckt s a\nr1 a vdd 1\n.ends\nx1 n s\nv1 vdd 0 1\n");
    ck_assert_str_eq(node(nl, el(nl, "x1.r1"), 1), "vdd");
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_include)
{
    const char *d = tu_temp_dir();
    ck_assert_ptr_nonnull(d);
    char dir[4096], path[4200], msg[8400], text[4400];
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(path, sizeof path, "%s/lib", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    write_file(dir, "top.cir", "top\n.include lib/models.inc\n.INC \"lib/sub.inc\"\n"
                               "x1 a 0 amp\nd1 a 0 dm\n");
    write_file(dir, "lib/models.inc", "* models\n.model dm d(is=2e-14)\n");
    write_file(dir, "lib/sub.inc", ".include more.inc\n");
    write_file(dir, "lib/more.inc", ".subckt amp p q\nr1 p q 1k\n.ends\n.end\n%%% garbage\n");
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    snprintf(path, sizeof path, "%s/top.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_OK);
    ck_assert_str_eq(nl->title, "top");
    ck_assert_str_eq(nl->path, path);
    ck_assert_int_eq(nl->n_elems, 2);
    const eqs_element *e = el(nl, "x1.r1");
    char expect_file[4400];
    snprintf(expect_file, sizeof expect_file, "%s/lib/more.inc", dir);
    ck_assert_str_eq(e->loc.file, expect_file);
    ck_assert_int_eq(e->loc.line, 2);
    ck_assert_double_eq(nl->models[el(nl, "d1")->model].is_A, 2e-14);
    eqs_netlist_free(&nl);

    /* from a string: an absolute path works as is */
    snprintf(text, sizeof text, "t\n.include %s/lib/models.inc\nd1 a 0 dm\n", dir);
    nl = rd(ctx, text);
    ck_assert_int_eq(nl->n_models, 1);
    eqs_netlist_free(&nl);

    /* from a string, a relative path is relative to the current directory
     * (the repository root when the tests run) */
    ck_assert_int_eq(eqs_netlist_read_string(ctx, "t\n.include tests/bad/parse_model_type.cir\n",
                                             "s.cir", &nl),
                     EQS_ERR_PARSE);
    ck_assert_str_eq(eqs_ctx_error(ctx), "tests/bad/parse_model_type.cir:2:16: error: "
                                         "unsupported model type 'NPN' in model 'q2n2222' (only d and memristor)");
    eqs_ctx_clear_error(ctx);

    /* missing file: error at the path token, path as resolved */
    write_file(dir, "miss.cir", "t\n.include   nope.inc\n");
    snprintf(path, sizeof path, "%s/miss.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    ck_assert_ptr_null(nl);
    snprintf(msg, sizeof msg, "%s:2:12: error: cannot open include file '%s/nope.inc': %s", path,
             dir, strerror(ENOENT));
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);

    /* cycle a -> b -> a: error at the .include card in b */
    write_file(dir, "a.cir", "t\nr1 1 0 1\n.include b.inc\n");
    write_file(dir, "b.inc", "r2 1 0 1\n.include a.cir\n");
    snprintf(path, sizeof path, "%s/a.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg, "%s/b.inc:2:10: error: include cycle: '%s/a.cir' is already being read",
             dir, dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);

    /* self-include */
    write_file(dir, "self.inc", ".include self.inc\n");
    write_file(dir, "s.cir", "t\n.inc self.inc\n");
    snprintf(path, sizeof path, "%s/s.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg, "%s/self.inc:1:10: error: include cycle: '%s/self.inc' is already being read",
             dir, dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);

    /* unreadable top file: I/O error without a location */
    snprintf(path, sizeof path, "%s/none.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_IO);
    ck_assert_ptr_null(nl);
    snprintf(msg, sizeof msg, "error: cannot open netlist '%s': %s", path, strerror(ENOENT));
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_free(&ctx);
}
END_TEST

static char logbuf[8192];
static int n_warn;
static void capture(void *user, eqs_log_level level, const char *msg)
{
    (void)user;
    if (level != EQS_LOG_WARN) return;
    n_warn++;
    strncat(logbuf, msg, sizeof logbuf - strlen(logbuf) - 2);
    strcat(logbuf, "\n");
}

/* `.lib FILE SECTION` and `.lib NAME` ... `.endl` sections (ngspice's
 * rules, docs/netlist.md ".lib"). */
START_TEST(test_lib_sections)
{
    const char *d = tu_temp_dir();
    char dir[4096], path[4200], msg[8400];
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(path, sizeof path, "%s/pdk", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    /* corners tt/ff; ff pulls in section `common` of the same file by a
     * path relative to the library; lines outside sections are not read */
    write_file(dir, "pdk/models.lib",
               "* corners\nthis line is outside every section and is never read\n"
               ".lib tt\n.model dm d(is=1e-14)\n.param rv=2k\n.endl tt\n"
               ".LIB FF\n.model dm d(is=3e-14)\n.param rv=1k\n.lib 'models.lib' common\n.ENDL\n"
               ".lib common\n.param rc=5k\n.endl common\n");
    /* the top file also defines a section (skipped unless asked for) */
    write_file(dir, "top.cir",
               "top\n.lib pdk/models.lib Ff\nv1 a 0 dc=1\nr1 a b {rv}\nd1 b 0 dm\nr2 b 0 {rc}\n"
               ".lib local\nr9 a 0 1\n.endl local\n.end\n");
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    snprintf(path, sizeof path, "%s/top.cir", dir);
    ck_assert_msg(eqs_netlist_read(ctx, path, &nl) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(nl->n_elems, 4); /* r9 of the unused section is not read */
    ck_assert_int_lt(eqs_netlist_elem_find(nl, "r9"), 0);
    ck_assert_double_eq(el(nl, "r1")->value, 1e3);
    ck_assert_double_eq(el(nl, "r2")->value, 5e3);
    ck_assert_int_eq(nl->n_models, 1);
    ck_assert_double_eq(nl->models[0].is_A, 3e-14);
    char expect_file[4400];
    snprintf(expect_file, sizeof expect_file, "%s/pdk/models.lib", dir);
    ck_assert_str_eq(nl->models[0].loc.file, expect_file);
    ck_assert_int_eq(nl->models[0].loc.line, 8);
    eqs_netlist_free(&nl);

    /* the top file's own section, through its own name */
    write_file(dir, "self.cir", "self\n.lib self.cir local\nv1 a 0 1\n.lib local\nr9 a 0 1\n.endl\n");
    snprintf(path, sizeof path, "%s/self.cir", dir);
    ck_assert_msg(eqs_netlist_read(ctx, path, &nl) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(nl->n_elems, 2);
    ck_assert_double_eq(el(nl, "r9")->value, 1.0);
    eqs_netlist_free(&nl);

    /* corner tt has no `rc`: the error names the use */
    write_file(dir, "tt.cir", "tt\n.lib pdk/models.lib tt\nv1 a 0 1\nr2 a 0 {rc}\n");
    snprintf(path, sizeof path, "%s/tt.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg, "%s:4:9: error: undefined parameter 'rc'", path);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);

    /* a missing section: at the section token */
    write_file(dir, "ss.cir", "ss\n.lib  pdk/models.lib  ss\nv1 a 0 1\n");
    snprintf(path, sizeof path, "%s/ss.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg,
             "%s:2:23: error: section 'ss' not found in library '%s/pdk/models.lib' (no '.lib ss' "
             "line)",
             path, dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);

    /* two sections that include each other: at the card closing the cycle */
    write_file(dir, "pdk/loop.lib", ".lib a\n.lib loop.lib b\n.endl\n.lib b\n.lib loop.lib a\n.endl\n");
    write_file(dir, "loop.cir", "loop\n.lib pdk/loop.lib a\nv1 a 0 1\n");
    snprintf(path, sizeof path, "%s/loop.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg,
             "%s/pdk/loop.lib:5:15: error: .lib cycle: section 'a' of '%s/pdk/loop.lib' is already "
             "being read",
             dir, dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);

    /* .endl naming another section; a section opened inside the wanted one */
    write_file(dir, "pdk/bad.lib", ".lib a\n.endl b\n.lib c\n.lib d\n.endl\n");
    write_file(dir, "bad.cir", "bad\n.lib pdk/bad.lib a\nv1 a 0 1\n");
    snprintf(path, sizeof path, "%s/bad.cir", dir);
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg, "%s/pdk/bad.lib:2:7: error: '.endl b' does not match '.lib a'", dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);
    write_file(dir, "bad.cir", "bad\n.lib pdk/bad.lib c\nv1 a 0 1\n");
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_ERR_PARSE);
    snprintf(msg, sizeof msg, "%s/pdk/bad.lib:4:1: error: '.lib d' inside section 'c' (missing "
                              "'.endl'?)", dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    eqs_ctx_clear_error(ctx);
    eqs_ctx_free(&ctx);

    expect_err("t\nv1 a 0 1\n.lib s\nr1 a 0 1\n", "t.cir:3:1: error: unterminated .lib section 's' (no '.endl')");
    expect_err("t\nv1 a 0 1\n.endl\n", "t.cir:3:1: error: '.endl' without '.lib' section");
    expect_err("t\n.lib t.cir s x\n", "t.cir:2:14: error: unexpected 'x' in '.lib' (expected: .lib FILE SECTION)");
    expect_err("t\n.lib\n", "t.cir:2:1: error: missing section name in '.lib' (expected: .lib FILE "
                            "SECTION, or .lib SECTION ... .endl)");
}
END_TEST

/* R1 a b r=1k, resistance=, V/I dc=, as ngspice 39 reads them; a value
 * given twice and resistor parameters that change the value are refused. */
START_TEST(test_named_values)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "t\n.param rp=4k\nr1 a 0 r=1k\nr2 a b resistance=2k\nr3 b 0 R = {rp}\n"
                              "r4 b 0 rp\nv1 a 0 dc=5\ni1 b 0 DC = 1m ac=1\nv2 c 0 dc=-2 ac 1 0\n"
                              "r5 c 0 1\n");
    ck_assert_double_eq(el(nl, "r1")->value, 1e3);
    ck_assert_double_eq(el(nl, "r2")->value, 2e3);
    ck_assert_double_eq(el(nl, "r3")->value, 4e3);
    ck_assert_double_eq(el(nl, "r4")->value, 4e3); /* a bare parameter name stays a value */
    ck_assert_double_eq(el(nl, "v1")->value, 5.0);
    ck_assert_double_eq(el(nl, "i1")->value, 1e-3);
    ck_assert_double_eq(el(nl, "v2")->value, -2.0);
    eqs_netlist_free(&nl);
    nl = rd(ctx, "t\nv1 a 0 1\ne1 b 0 a 0 gain=3\ng1 b 0 a 0 GAIN = 2m\nf1 c 0 v1 gain={2}\n"
                 "h1 d 0 v1 gain=1k\n");
    ck_assert_double_eq(el(nl, "e1")->value, 3.0);
    ck_assert_double_eq(el(nl, "g1")->value, 2e-3);
    ck_assert_double_eq(el(nl, "f1")->value, 2.0);
    ck_assert_double_eq(el(nl, "h1")->value, 1e3);
    ck_assert_str_eq(el(nl, "h1")->ctrl, "v1");
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    expect_err("t\nr1 a 0 1k r=2k\n", "t.cir:2:11: error: resistance given twice in 'r1'");
    expect_err("t\nv1 a 0 5 dc=3\n", "t.cir:2:10: error: DC value given twice in 'v1'");
    expect_err("t\nv1 a 0 dc=\n", "t.cir:2:10: error: missing value after 'dc' in 'v1'");
    expect_err("t\nr1 a 0 r=\n", "t.cir:2:9: error: missing value for 'r' in 'r1'");
    expect_err("t\nr1 a 0 1k tc1=0.01\n", "t.cir:2:11: error: unsupported resistor parameter "
                                         "'tc1' in 'r1' (eqspice reads value, r= or resistance=)");
    expect_err("t\nr1 a 0 m=2 1k\n", "t.cir:2:8: error: unsupported resistor parameter 'm' in "
                                    "'r1' (eqspice reads value, r= or resistance=)");
}
END_TEST

/* The parser reads element cards through the registry's card table
 * (eqs_elem_card_get): for every kind, its letter (either case) parses to
 * that kind with the table's node count, value form and controlling
 * source; a card with too few fields prints the table's usage; the
 * refusal of other SPICE letters lists the registry's letters. */
START_TEST(test_card_table)
{
    const char *pre = "t\n.model dmod d\nvs vs 0 1\nrl vs 0 1k\n"; /* the card is line 5 */
    static const char *const nodes[4] = {"a", "b", "c", "d"};
    char reads[128] = "", text[512], msg[512], name[8];
    size_t nr = 0;
    const eqs_elem_card *cd;
    char l;
    int k;
    for (k = 0; (cd = eqs_elem_card_get(k, &l)); ++k) {
        ck_assert_msg(l >= 'a' && l <= 'z', "kind %d: letter 0x%02x", k, (unsigned)l);
        ck_assert_int_ge(cd->n_nodes, 1);
        ck_assert_int_le(cd->n_nodes, 4);
        ck_assert_int_le(cd->n_params, EQS_CARD_MAX_PARAMS);
        ck_assert_msg(cd->usage && cd->usage[0] == l && !strncmp(cd->usage + 1, "<name> ", 7),
                      "kind %d: usage '%s'", k, cd->usage ? cd->usage : "(null)");
        nr += (size_t)snprintf(reads + nr, sizeof reads - nr, "%c ", l - 'a' + 'A');
        int ctl = (cd->flags & EQS_CARD_CONTROLLED) != 0;
        /* too few fields: the name alone, and every field but the value */
        snprintf(name, sizeof name, "%c1", l);
        snprintf(text, sizeof text, "%s%s\n", pre, name);
        snprintf(msg, sizeof msg, "t.cir:5:1: error: too few fields in '%s' (expected: %s)", name,
                 cd->usage);
        expect_err(text, msg);
        size_t m = (size_t)snprintf(text, sizeof text, "%s%s", pre, name);
        for (int j = 0; j < cd->n_nodes; ++j)
            m += (size_t)snprintf(text + m, sizeof text - m, " %s", nodes[j]);
        if (ctl) m += (size_t)snprintf(text + m, sizeof text - m, " vs");
        snprintf(text + m, sizeof text - m, "\n");
        expect_err(text, msg);
        /* the full card, its letter upper case */
        const char *value = cd->form == EQS_CARD_MODEL ? "dmod" : "2.5";
        snprintf(text + m, sizeof text - m, " %s\n", value);
        text[strlen(pre)] = (char)(l - 'a' + 'A');
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = rd(ctx, text);
        const eqs_element *e = el(nl, name);
        ck_assert_int_eq((int)e->kind, k);
        ck_assert_int_eq(e->n_nodes, cd->n_nodes);
        for (int j = 0; j < cd->n_nodes; ++j) ck_assert_str_eq(node(nl, e, j), nodes[j]);
        if (cd->form == EQS_CARD_MODEL) {
            ck_assert_int_eq(e->model, 0);
        } else {
            ck_assert_int_eq(e->model, -1);
            ck_assert_double_eq(e->value, 2.5);
        }
        if (ctl)
            ck_assert_str_eq(e->ctrl, "vs");
        else
            ck_assert_ptr_null(e->ctrl);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
        if (ctl) { /* the controlling source must be a voltage source */
            text[strlen(pre)] = l;
            char *vs = strstr(text + strlen(pre), " vs ");
            ck_assert_ptr_nonnull(vs);
            memcpy(vs, " rl ", 4);
            snprintf(msg, sizeof msg,
                     "t.cir:5:1: error: controlling source 'rl' of '%s' is not a voltage source",
                     name);
            expect_err(text, msg);
        }
    }
    ck_assert_int_ge(k, 8); /* R D V I E G F H */
    /* letters outside the table */
    snprintf(msg, sizeof msg,
             "t.cir:5:1: error: element type 'q' in 'q1' is not supported (eqspice reads %sX)",
             reads);
    snprintf(text, sizeof text, "%sq1 a b c\n", pre);
    expect_err(text, msg);
    ck_assert_ptr_null(eqs_elem_card_get(-1, &l));
    ck_assert_ptr_null(eqs_elem_card_get(k, &l));
}
END_TEST

/* Constructs ngspice reads with a different answer than "ignore it":
 * refused with the reason (docs/netlist.md). */
START_TEST(test_refused_constructs)
{
    expect_err("t\nv1 a 0 1\nd1 a 0 dm m=2\n.model dm d\n",
               "t.cir:3:11: error: unsupported diode instance parameter 'm' in 'd1' (eqspice reads "
               "the model, the area, temp= and dtemp=)");
    expect_err("t\nv1 a 0 1\nd1 a 0 dm area=2 off\n.model dm d\n",
               "t.cir:3:18: error: unsupported diode instance parameter 'off' in 'd1' (eqspice "
               "reads the model, the area, temp= and dtemp=)");
    expect_err("t\nv1 a 0 1\nd1 a 0 dm 2 area=3\n.model dm d\n",
               "t.cir:3:13: error: 'area' given twice in 'd1'");
    expect_err("t\nv1 a 0 1\nd1 a 0 dm dtemp=1 area=2 dtemp=3\n.model dm d\n",
               "t.cir:3:26: error: 'dtemp' given twice in 'd1'");
    expect_err("t\nv1 a 0 1\nd1 a 0 dm 2 pj=1\n.model dm d\n",
               "t.cir:3:13: error: unsupported diode instance parameter 'pj' in 'd1' (eqspice reads "
               "the model, the area, temp= and dtemp=)");
    expect_err("t\nv1 a 0 1\nr1 a 0 1k\n.options noacct rshunt=1e9\n",
               "t.cir:4:17: error: option 'rshunt' is not supported (it adds a resistor from every "
               "node to ground in ngspice)");
    expect_err("t\nv1 a 0 1\n.if (1)\nr1 a 0 1k\n.else\nr1 a 0 2k\n.endif\n",
               "t.cir:3:1: error: '.if': conditional netlists (.if/.elseif/.else/.endif) are not "
               "supported");
    expect_err("t\nv1 a 0 1\ne1 b 0 value={2*v(a)}\n",
               "t.cir:3:8: error: behavioural or polynomial source 'value' in 'e1' is not supported "
               "(eqspice reads linear E G F H: nodes and a gain)");
    expect_err("t\nv1 a 0 1\nf1 b 0 poly(1) v1 0 2\n",
               "t.cir:3:8: error: behavioural or polynomial source 'poly' in 'f1' is not supported "
               "(eqspice reads linear E G F H: nodes and a gain)");
    expect_err("t\nv1 a 0 1\nh1 b 0 v1 2k gain=1\n", "t.cir:3:14: error: gain given twice in 'h1'");
    expect_err("t\nv1 a 0 1\ne1 b 0 a 0 m=2\n",
               "t.cir:3:12: error: unsupported controlled source parameter 'm' in 'e1' (eqspice "
               "reads value or gain=)");
    /* "//" comments anywhere, as ngspice (which cuts a//b to a) */
    {
        eqs_ctx *c2 = tu_ctx();
        eqs_netlist *n2 = rd(c2, "t\nv1 a 0 1 // the supply\nr1 a 0 1k//load\nr2 b a 2k//x y\n");
        ck_assert_int_eq(n2->n_elems, 3);
        ck_assert_double_eq(el(n2, "r2")->value, 2e3);
        ck_assert_double_eq(el(n2, "r1")->value, 1e3);
        eqs_netlist_free(&n2);
        eqs_ctx_free(&c2);
    }
    /* still read: cards that do not change the operating point */
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "t\nv1 a 0 1\nd1 a 0 dm area=2\n.model dm d\n.ic v(a)=0.5\n"
                              ".nodeset v(a)=0.7\n.tran 1n 1u\n.options noacct gminsteps=20\n");
    ck_assert_double_eq(el(nl, "d1")->area, 2.0);
    ck_assert_int_eq(nl->n_ignored_cards, 3);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_options_and_cards)
{
    eqs_ctx *ctx = tu_ctx();
    logbuf[0] = '\0';
    n_warn = 0;
    eqs_ctx_set_log(ctx, capture, NULL, EQS_LOG_WARN);
    eqs_netlist *nl = rd(ctx, "cards\n"
                              ".options reltol=1e-4 abstol = 1p noacct method=gear\n"
                              ".option gmin=1e-15 itl1=200 vntol=1u\n"
                              "v1 a 0 1\n"
                              "r1 a 0 1\n"
                              ".op\n"
                              ".tran 1n 1u\n"
                              ".print dc v(a)\n"
                              ".control\n"
                              "run\n"
                              "plot v(a) {\n"
                              ".endc\n"
                              ".foo bar\n"
                              ".end\n"
                              "this line is never read\n");
    const eqs_netlist_options *o = &nl->options;
    ck_assert_int_eq(o->reltol_set, 1);
    ck_assert_double_eq(o->reltol, 1e-4);
    ck_assert_int_eq(o->abstol_set, 1);
    ck_assert_double_eq(o->abstol, 1e-12);
    ck_assert_int_eq(o->gmin_set, 1);
    ck_assert_double_eq(o->gmin, 1e-15);
    ck_assert_int_eq(o->vntol_set, 1);
    ck_assert_double_eq(o->vntol, 1e-6);
    ck_assert_int_eq(o->itl1_set, 1);
    ck_assert_int_eq(o->itl1, 200);
    ck_assert_int_eq(nl->has_op, 1);
    ck_assert_int_eq(nl->n_ignored_cards, 4);
    ck_assert_int_eq(n_warn, 4);
    ck_assert_str_eq(logbuf, "t.cir:9:1: warning: '.control' block ignored (up to '.endc')\n"
                             "t.cir:7:1: warning: '.tran' card ignored\n"
                             "t.cir:8:1: warning: '.print' card ignored\n"
                             "t.cir:13:1: warning: unknown card '.foo' ignored\n");
    eqs_netlist_free(&nl);

    nl = rd(ctx, "t\nr1 a 0 1\n");
    ck_assert_int_eq(nl->options.reltol_set, 0);
    ck_assert_int_eq(nl->has_op, 0);
    ck_assert_int_eq(nl->n_ignored_cards, 0);
    eqs_netlist_free(&nl);

    /* a file with only a title is a valid, empty netlist */
    nl = rd(ctx, "just a title");
    ck_assert_str_eq(nl->title, "just a title");
    ck_assert_int_eq(nl->n_elems, 0);
    ck_assert_int_eq(nl->n_nodes, 1);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_extension_cards)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, "ext\n"
                              ".subckt cell a b\nr1 a b 1\nr2 a b 2\n.ends\n"
                              "Vp in1 0 1\nvn in2 0 -1\n"
                              "x1 in1 out cell\nx2 in2 out cell\nrl out 0 1k\n"
                              ".TRAINABLE x*.r1\n+ rl\n"
                              ".input VP vn\n"
                              ".output OUT\n");
    ck_assert_int_eq(nl->n_trainable, 2);
    ck_assert_str_eq(nl->trainable[0], "x*.r1");
    ck_assert_str_eq(nl->trainable[1], "rl");
    ck_assert_int_eq(nl->trainable_loc[1].line, 12);
    ck_assert_int_eq(nl->trainable_loc[1].col, 3);
    ck_assert_int_eq(nl->n_inputs, 2);
    ck_assert_str_eq(nl->inputs[0], "vp");
    ck_assert_str_eq(nl->inputs[1], "vn");
    ck_assert_int_eq(nl->input_loc[1].col, 11);
    ck_assert_int_eq(nl->n_outputs, 1);
    ck_assert_str_eq(nl->outputs[0], "out");
    ck_assert_int_eq(nl->output_loc[0].line, 14);
    ck_assert_int_eq(nl->output_loc[0].col, 9);
    /* the patterns select what the compiler will train */
    int matched = 0;
    for (int i = 0; i < nl->n_elems; ++i)
        for (int k = 0; k < nl->n_trainable; ++k)
            if (eqs_glob_match(nl->trainable[k], nl->elems[i].name)) {
                matched++;
                break;
            }
    ck_assert_int_eq(matched, 3); /* x1.r1 x2.r1 rl */
    eqs_netlist_free(&nl);
    nl = rd(ctx, "t\nr1 a 0 1\n.trainable\n");
    ck_assert_int_eq(nl->n_trainable, 0);
    eqs_netlist_free(&nl);
    /* a pattern that selects nothing is probably a typo: one warning, from
     * the compiler (which applies the patterns), with the pattern's column */
    logbuf[0] = '\0';
    n_warn = 0;
    eqs_ctx_set_log(ctx, capture, NULL, EQS_LOG_WARN);
    nl = rd(ctx, "t\nr1 a 0 1\n.trainable r? q*\n");
    ck_assert_int_eq(nl->n_trainable, 2);
    ck_assert_int_eq(n_warn, 0);
    eqs_circuit *circ = NULL;
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &circ), EQS_OK);
    ck_assert_int_eq(n_warn, 1);
    ck_assert_str_eq(logbuf, "t.cir:3:15: warning: trainable pattern 'q*' matches no element\n");
    eqs_circuit_free(&circ);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Every parse error, with its exact message. */
START_TEST(test_errors)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        /* lexer */
        {"", "t.cir:1:1: error: empty netlist (no title line)"},
        {"t\n+ r1 1 0 1\n", "t.cir:2:1: error: continuation line '+' without a card to continue"},
        {"t\nr1 1 0 {1+2\n", "t.cir:2:8: error: unbalanced '{'"},
        {"t\nr1 1 0 1}\n", "t.cir:2:9: error: unbalanced '}'"},
        {"t\n.include \"x.inc\n", "t.cir:2:10: error: unterminated string"},
        {"t\nr1 1 0 1\x01\n", "t.cir:2:9: error: invalid character (byte 0x01)"},
        {"t\n.control\nrun\n", "t.cir:2:1: error: '.control' without '.endc'"},
        {"t\n.include\n", "t.cir:2:1: error: missing file name in '.include'"},
        {"t\n.include a b\n", "t.cir:2:12: error: unexpected 'b' after the file name"},
        /* numbers and values */
        {"t\nr1 1 0 1..2\n", "t.cir:2:8: error: malformed number '1..2'"},
        {"t\nr1 1 0 1e\n", "t.cir:2:8: error: malformed number '1e'"},
        {"t\nr1 1 0 --3\n", "t.cir:2:8: error: malformed number '--3'"},
        {"t\nr1 1 0 rx\n", "t.cir:2:8: error: undefined parameter 'rx'"},
        {"t\nr1 1 0 {2*rx}\n", "t.cir:2:11: error: undefined parameter 'rx'"},
        {"t\nr1 1 0 =\n", "t.cir:2:8: error: expected a value, got '='"},
        {"t\n,,\n", "t.cir:2:1: error: unexpected ','"},
        /* expressions */
        {"t\n.param a={1/(2-2)}\n", "t.cir:2:12: error: division by zero"},
        {"t\n.param a={sqrt(-1)}\n", "t.cir:2:11: error: expression result is not finite"},
        {"t\n.param a={exp(1000)}\n", "t.cir:2:11: error: expression result is not finite"},
        {"t\n.param a={1+}\n", "t.cir:2:13: error: unexpected end of expression"},
        {"t\n.param a={(1+2}\n", "t.cir:2:11: error: missing ')' in expression"},
        {"t\n.param a={1+2)}\n", "t.cir:2:14: error: unbalanced ')' in expression"},
        {"t\n.param a={1 2}\n", "t.cir:2:13: error: unexpected '2' in expression"},
        {"t\n.param a={foo(1)}\n", "t.cir:2:11: error: unknown function 'foo'"},
        {"t\n.param a={min(1)}\n", "t.cir:2:11: error: function 'min' expects 2 arguments, got 1"},
        {"t\n.param a={1..2}\n", "t.cir:2:11: error: malformed number '1..2'"},
        {"t\n.param a={}\n", "t.cir:2:11: error: empty expression"},
        {"t\n.param a={b}\n.param b=1\n", "t.cir:2:11: error: undefined parameter 'b'"},
        /* .param syntax */
        {"t\n.param\n", "t.cir:2:1: error: '.param' needs name=value"},
        {"t\n.param 1a=2\n", "t.cir:2:8: error: invalid parameter name '1a'"},
        {"t\n.param a 2\n", "t.cir:2:8: error: expected '=' after parameter name 'a'"},
        {"t\n.param a=\n", "t.cir:2:9: error: missing value for parameter 'a'"},
        {"t\n.param a=1 +\n+ 2\n", "t.cir:2:10: error: parameter expression spans lines (use {...})"},
        /* elements */
        {"t\nq1 1 2 3 qmod\n", "t.cir:2:1: error: element type 'q' in 'q1' is not supported (eqspice reads R D V I E G F H X)"},
        {"t\nc1 1 0 1p\n", "t.cir:2:1: error: element type 'c' in 'c1' is not supported (eqspice reads R D V I E G F H X)"},
        {"t\ny1 1 0 1\n", "t.cir:2:1: error: unknown element type 'y' in 'y1'"},
        {"t\nr1 1 0\n", "t.cir:2:1: error: too few fields in 'r1' (expected: r<name> n+ n- value)"},
        {"t\nr1 1 0 1 2\n", "t.cir:2:10: error: unexpected '2' in 'r1'"},
        {"t\nr1 1 ( 1\n", "t.cir:2:6: error: invalid node name '('"},
        {"t\nv1 1 0\n", "t.cir:2:1: error: too few fields in 'v1' (expected: v<name> n+ n- [dc] value [ac mag [phase]])"},
        {"t\nv1 1 0 dc\n", "t.cir:2:8: error: missing value after 'dc' in 'v1'"},
        {"t\nv1 1 0 sin(0 1 1k)\n", "t.cir:2:8: error: unsupported source function 'sin' in 'v1' (only dc and ac)"},
        {"t\ni1 1 0 1 ac 1 0 9\n", "t.cir:2:17: error: unexpected '9' in 'i1'"},
        {"t\ne1 1 0 2\n", "t.cir:2:1: error: too few fields in 'e1' (expected: e<name> n+ n- nc+ nc- gain)"},
        {"t\ng1 1 0 2 0\n", "t.cir:2:1: error: too few fields in 'g1' (expected: g<name> n+ n- nc+ nc- transconductance)"},
        {"t\nf1 1 0 1\n", "t.cir:2:1: error: too few fields in 'f1' (expected: f<name> n+ n- vcontrol gain)"},
        {"t\nh1 1 0 1\n", "t.cir:2:1: error: too few fields in 'h1' (expected: h<name> n+ n- vcontrol transresistance)"},
        {"t\nd1 1 0\n", "t.cir:2:1: error: too few fields in 'd1' (expected: d<name> anode cathode model [area])"},
        {"t\nd1 1 0 nomodel\n", "t.cir:2:8: error: unknown diode model 'nomodel' in 'd1'"},
        {"t\n.model dm d\nd1 1 0 dm area=\n", "t.cir:3:15: error: missing value for 'area' in 'd1'"},
        {"t\nf1 1 0 vx 2\nr1 1 0 1\n", "t.cir:2:1: error: controlling source 'vx' of 'f1' is not defined"},
        {"t\nh1 1 0 r1 2\nr1 1 0 1\n", "t.cir:2:1: error: controlling source 'r1' of 'h1' is not a voltage source"},
        {"t\nr1 1 0 1\nR1 2 0 1\n", "t.cir:3:1: error: duplicate element name 'r1' (first defined at line 2)"},
        /* models */
        {"t\n.model\n", "t.cir:2:1: error: missing model name in '.model'"},
        {"t\n.model dm\n", "t.cir:2:1: error: missing type of model 'dm'"},
        {"t\n.model q1 NPN(bf=100)\n", "t.cir:2:11: error: unsupported model type 'NPN' in model 'q1' (only d and memristor)"},
        {"t\n.model dm d(is=1 foo=2)\n", "t.cir:2:18: error: unknown diode model parameter 'foo' in model 'dm'"},
        {"t\n.model dm d(is=1\n", "t.cir:2:12: error: unbalanced '(' in model 'dm'"},
        {"t\n.model dm d is=1)\n", "t.cir:2:17: error: unbalanced ')' in model 'dm'"},
        {"t\n.model dm d(is=1) n=2\n", "t.cir:2:19: error: unexpected 'n' after ')' in model 'dm'"},
        {"t\n.model dm d(is)\n", "t.cir:2:13: error: expected 'name=value' in model 'dm', got 'is'"},
        {"t\n.model dm d(level=2)\n", "t.cir:2:19: error: unsupported diode level 2 in model 'dm' (only 1)"},
        {"t\n.model dm d\n.model DM d\n", "t.cir:3:8: error: duplicate model 'dm' (first defined at t.cir:2)"},
        /* subcircuits */
        {"t\n.subckt amp a b c\nr1 a b 1\n.ends\nx1 1 2 amp\n",
         "t.cir:5:1: error: subcircuit 'amp' expects 3 nodes, got 2"},
        {"t\nx1 1 2 nosub\n", "t.cir:2:8: error: unknown subcircuit 'nosub' in 'x1'"},
        {"t\n.subckt outer a\n.subckt inner b\n.ends\n.ends\nx1 1 inner\n",
         "t.cir:6:6: error: unknown subcircuit 'inner' in 'x1'"}, /* nested: not visible */
        {"t\nx1\n", "t.cir:2:1: error: too few fields in 'x1' (expected: x<name> nodes... subcircuit [name=value ...])"},
        {"t\n.subckt s a\nx1 a s\n.ends\nx1 n s\n",
         "t.cir:3:1: error: recursive instantiation of subcircuit 's' in 'x1'"},
        {"t\n.subckt s a\nx1 a u\n.ends\n.subckt u a\nx1 a s\n.ends\nx1 n s\n",
         "t.cir:6:1: error: recursive instantiation of subcircuit 's' in 'x1'"},
        {"t\n.subckt amp a b\nr1 a b 1\n", "t.cir:2:1: error: unterminated .subckt 'amp' (no .ends)"},
        {"t\n.ends\n", "t.cir:2:1: error: '.ends' without '.subckt'"},
        {"t\n.subckt s a\n.ends t\n", "t.cir:3:7: error: '.ends t' does not match '.subckt s'"},
        {"t\n.subckt\n", "t.cir:2:1: error: missing subcircuit name"},
        {"t\n.subckt s a\n.ends\n.subckt S b\n.ends\n", "t.cir:4:9: error: duplicate subcircuit 's' (first defined at t.cir:2)"},
        {"t\n.subckt s a a\n.ends\n", "t.cir:2:13: error: duplicate port 'a' in subcircuit 's'"},
        {"t\n.subckt s a 0\n.ends\n", "t.cir:2:13: error: invalid port name '0' in subcircuit 's'"},
        {"t\n.subckt s a params: k\n.ends\n", "t.cir:2:21: error: expected 'name=value' in '.subckt s', got 'k'"},
        {"t\n.subckt s a k=1 k=2\n.ends\n", "t.cir:2:17: error: duplicate parameter 'k' in subcircuit 's'"},
        {"t\n.subckt s a k=1\nr1 a 0 {k}\n.ends\nx1 n s q=2\n", "t.cir:5:8: error: subcircuit 's' has no parameter 'q'"},
        {"t\n.subckt s a k=1\nr1 a 0 {k}\n.ends\nx1 n s k=2 junk\n", "t.cir:5:12: error: expected 'name=value' in 'x1', got 'junk'"},
        {"t\n.subckt s a k=1\nr1 a 0 {k/0}\n.ends\nx1 n s\n", "t.cir:3:10: error: division by zero"},
        {"t\n.subckt s a\nr1 a 0 1\n.ends\nx1 n s\nx1 m s\n", "t.cir:6:1: error: duplicate element name 'x1' (first defined at line 5)"},
        /* options */
        {"t\n.options reltol\n", "t.cir:2:10: error: missing value for option 'reltol'"},
        {"t\n.options gmin=\n", "t.cir:2:14: error: missing value for option 'gmin'"},
        {"t\n.options itl1=2.5\n", "t.cir:2:15: error: option 'itl1' needs an integer from 1 to 100000, got '2.5'"},
        {"t\n.options itl1=200000\n", "t.cir:2:15: error: option 'itl1' needs an integer from 1 to 100000, got '200000'"},
        {"t\n.options gmin=-1e-12\n", "t.cir:2:15: error: option 'gmin' must be zero or positive, got '-1e-12'"},
        {"t\n.options reltol=-1\n", "t.cir:2:17: error: option 'reltol' must be positive, got '-1'"},
        {"t\n.op now\n", "t.cir:2:5: error: unexpected 'now' in '.op'"},
        /* extension cards */
        {"t\nv1 1 0 1\n.input v2\n", "t.cir:3:8: error: input 'v2' is not a voltage source of the netlist"},
        {"t\nr1 1 0 1\n.input r1\n", "t.cir:3:8: error: input 'r1' is not a voltage source of the netlist"},
        {"t\nv1 1 0 1\n.input v1 V1\n", "t.cir:3:11: error: input 'v1' listed twice"},
        {"t\n.input\n", "t.cir:2:1: error: '.input' needs at least one name"},
        {"t\nr1 1 0 1\n.output 2\n", "t.cir:3:9: error: output node '2' does not exist"},
        {"t\nr1 1 0 1\n.output gnd\n", "t.cir:3:9: error: output node 'gnd' is ground"},
        {"t\nr1 1 0 1\n.output 1 1\n", "t.cir:3:11: error: output node '1' listed twice"},
        {"t\n.subckt s a\n.output a\n.ends\n", "t.cir:3:1: error: '.output' is only allowed at the top level, not inside '.subckt s'"},
        {"t\n.trainable (\n", "t.cir:2:12: error: unexpected '(' in '.trainable'"},
        /* differential outputs (.output_pair) */
        {"t\nr1 1 2 1\nr2 2 3 1\n.output_pair 1 2 3\n", "t.cir:4:18: error: '.output_pair' needs node names in pairs (POS NEG ...): '3' has no negative node"},
        {"t\nr1 1 2 1\n.output_pair 1 1\n", "t.cir:3:16: error: output node '1' listed twice"},
        {"t\nr1 1 2 1\n.output_pair 1 9\n", "t.cir:3:16: error: output node '9' does not exist"},
        {"t\nr1 1 2 1\n.output_pair 1 0\n", "t.cir:3:16: error: output node '0' is ground"},
        {"t\nr1 1 2 1\nr2 2 3 1\n.output_pair 1 2 3 1\n", "t.cir:4:20: error: output node '1' listed twice"},
        {"t\nr1 1 2 1\n.output 1\n.output_pair 1 2\n", "t.cir:4:1: error: '.output_pair' cannot be mixed with '.output' (line 3): outputs are either all single-ended or all differential pairs"},
        {"t\nr1 1 2 1\n.output_pair 1 2\n.output 1\n", "t.cir:4:1: error: '.output' cannot be mixed with '.output_pair' (line 3): outputs are either all single-ended or all differential pairs"},
        {"t\n.output_pair\n", "t.cir:2:1: error: '.output_pair' needs at least one name"},
        {"t\n.subckt s a b\n.output_pair a b\n.ends\n", "t.cir:3:1: error: '.output_pair' is only allowed at the top level, not inside '.subckt s'"},
        {"t\nr1 1 2 1\n.output_pair 1 (\n", "t.cir:3:16: error: unexpected '(' in '.output_pair'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) expect_err(cases[i].text, cases[i].msg);
}
END_TEST

/* tests/bad/parse_*.cir: the first error as the CLI prints it. */
START_TEST(test_bad_files)
{
    DIR *dir = opendir("tests/bad");
    ck_assert_msg(dir != NULL, "run the tests from the repository root");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "parse_", 6) != 0 || len < 5 ||
            strcmp(de->d_name + len - 4, ".cir") != 0)
            continue;
        char path[1024], expath[1024];
        snprintf(path, sizeof path, "tests/bad/%s", de->d_name);
        snprintf(expath, sizeof expath, "tests/bad/%.*s.expect", (int)(len - 4), de->d_name);
        char *expect = tu_read_file(expath);
        ck_assert_msg(expect != NULL, "missing %s", expath);
        char *nlc = strchr(expect, '\n');
        if (nlc) *nlc = '\0';
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        eqs_status st = eqs_netlist_read(ctx, path, &nl);
        ck_assert_msg(st == EQS_ERR_PARSE || st == EQS_ERR_UNSUPPORTED, "%s: status %d", path,
                      (int)st);
        ck_assert_ptr_null(nl);
        ck_assert_str_eq(eqs_ctx_error(ctx), expect);
        eqs_ctx_free(&ctx);
        free(expect);
        n++;
    }
    closedir(dir);
    ck_assert_int_ge(n, 12);
}
END_TEST

/* Hostile inputs: no crash, no hang, no leak; an error or a netlist. */
START_TEST(test_garbage)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_ctx_seed(ctx, 7);
    char *buf = malloc(20001);
    ck_assert_ptr_nonnull(buf);
    static const char alphabet[] = "rdvixefgh.+*;${}()=,\"01ab \n\t-kmeg^*/";
    for (int trial = 0; trial < 200; ++trial) {
        int len = (int)(eqs_rng_u64(ctx, EQS_RNG_NOISE) % 2000);
        for (int i = 0; i < len; ++i) {
            uint64_t r = eqs_rng_u64(ctx, EQS_RNG_NOISE);
            buf[i] = trial % 4 == 0 ? (char)(r & 0xff) ? (char)(r & 0xff) : 'x'
                                    : alphabet[r % (sizeof alphabet - 1)];
        }
        buf[len] = '\0';
        eqs_netlist *nl = NULL;
        eqs_status st = eqs_netlist_read_string(ctx, buf, "g.cir", &nl);
        ck_assert(st == EQS_OK || st == EQS_ERR_PARSE || st == EQS_ERR_UNSUPPORTED);
        ck_assert(st == EQS_OK ? nl != NULL : nl == NULL);
        eqs_netlist_free(&nl);
        eqs_ctx_clear_error(ctx);
    }
    /* very long line, deep nesting */
    memset(buf, 'a', 20000);
    memcpy(buf, "t\nr1 1 0 {", 10);
    for (int i = 10; i < 19000; ++i) buf[i] = '(';
    buf[20000] = '\0';
    eqs_netlist *nl = NULL;
    ck_assert_int_eq(eqs_netlist_read_string(ctx, buf, "g.cir", &nl), EQS_ERR_PARSE);
    ck_assert_str_eq(eqs_ctx_error(ctx), "g.cir:2:8: error: unbalanced '{'");
    eqs_ctx_clear_error(ctx);
    buf[19999] = '}';
    ck_assert_int_eq(eqs_netlist_read_string(ctx, buf, "g.cir", &nl), EQS_ERR_PARSE);
    ck_assert_str_eq(eqs_ctx_error(ctx), "g.cir:2:209: error: expression nested too deeply");
    eqs_ctx_clear_error(ctx);
    /* long right-associative power chain */
    size_t k = (size_t)snprintf(buf, 20001, "t\nr1 1 0 {2");
    while (k < 19990) {
        buf[k++] = '^';
        buf[k++] = '1';
    }
    buf[k++] = '}';
    buf[k] = '\0';
    ck_assert_int_eq(eqs_netlist_read_string(ctx, buf, "g.cir", &nl), EQS_ERR_PARSE);
    ck_assert_str_eq(eqs_ctx_error(ctx), "g.cir:2:408: error: expression nested too deeply");
    free(buf);
    eqs_ctx_free(&ctx);
}
END_TEST

/* 200k resistors through subcircuits and at the top level: must finish
 * well inside the timeout (an O(n^2) step would not). */
START_TEST(test_large)
{
    const int n_top = 150000, n_inst = 1000, per_sub = 50;
    size_t cap = (size_t)(n_top + n_inst + per_sub + 100) * 48;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t len = (size_t)snprintf(text, cap, "large\n.subckt blk a b\n");
    for (int k = 0; k < per_sub; ++k)
        len += (size_t)snprintf(text + len, cap - len, "r%d a n%d %dk\n", k, k % 7, k + 1);
    len += (size_t)snprintf(text + len, cap - len, ".ends\n");
    for (int i = 0; i < n_top; ++i)
        len += (size_t)snprintf(text + len, cap - len, "R%d n%d n%d %d\n", i, i % 997, i % 991, i + 1);
    for (int i = 0; i < n_inst; ++i)
        len += (size_t)snprintf(text + len, cap - len, "x%d n%d 0 blk\n", i, i);
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = rd(ctx, text);
    ck_assert_int_eq(nl->n_elems, n_top + n_inst * per_sub);
    ck_assert_double_eq(el(nl, "r149999")->value, 150000);
    ck_assert_double_eq(el(nl, "x999.r49")->value, 50000);
    ck_assert_str_eq(node(nl, el(nl, "x999.r48"), 1), "x999.n6");
    /* nodes: n0..n996 (top) and x<i>.n0..n6 (+ ground) */
    ck_assert_int_eq(nl->n_nodes, 1 + 1000 + n_inst * 7);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

/* gmin = 0 is legal SPICE and reaches the options; itl1 at its cap too. */
START_TEST(test_options_limits)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, "t\nr1 a 0 1k\nv1 a 0 1\n.options gmin=0 itl1=100000\n",
                                            "t.cir", &nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(nl->options.gmin_set, 1);
    ck_assert_double_eq(nl->options.gmin, 0.0);
    ck_assert_int_eq(nl->options.itl1, 100000);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_netlist(void)
{
    Suite *s = suite_create("netlist");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_comments_continuations);
    tcase_add_test(tc, test_elements);
    tcase_add_test(tc, test_models);
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_subckt);
    tcase_add_test(tc, test_include);
    tcase_add_test(tc, test_lib_sections);
    tcase_add_test(tc, test_named_values);
    tcase_add_test(tc, test_card_table);
    tcase_add_test(tc, test_refused_constructs);
    tcase_add_test(tc, test_options_and_cards);
    tcase_add_test(tc, test_extension_cards);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_options_limits);
    suite_add_tcase(s, tc);
    TCase *big = tcase_create("large");
    tcase_set_timeout(big, 60);
    tcase_add_test(big, test_large);
    suite_add_tcase(s, big);
    return s;
}
