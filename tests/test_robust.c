/* test_robust.c: malformed input never crashes or hangs.  Deterministic
 * random mutations (byte flips, deletions, insertions of SPICE-significant
 * characters, truncation, line duplication) of valid netlists go through
 * read -> compile -> solve in-process; each step must return a status, and
 * an error status must come with a message.  Run under `make check-asan`,
 * this also proves the error paths free what they allocated. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static const char *const seeds_text[] = {
    "mutation seed 1\n"
    ".param rv=2k g={1/rv}\n"
    ".model dd D(IS=1e-14 N=1.5 RS=10 BV=5 IBV=1m)\n"
    ".subckt stage in out params: r=1k\n"
    "r1 in mid {r}\n"
    "d1 mid out dd\n"
    "r2 out 0 10k\n"
    ".ends stage\n"
    "v1 a 0 dc 3\n"
    "x1 a b stage r={rv}\n"
    "x2 b c stage\n"
    "i1 0 c 1m\n"
    "e1 e 0 c 0 2\n"
    "re e 0 1k\n"
    "g1 0 f e 0 1m\n"
    "rf f 0 1k\n"
    "vs f f2 0\n"
    "rf2 f2 0 1k\n"
    "f1 0 h vs 0.5\n"
    "rh h 0 1k\n"
    "h1 k 0 vs 100\n"
    "rk k 0 1k\n"
    ".options reltol=1e-6 itl1=50\n"
    ".input v1\n"
    ".output c h\n"
    ".trainable r*\n"
    ".op\n"
    ".end\n",
    "mutation seed 2\n"
    "V1 in 0 DC 5 ; supply\n"
    "R1 in out 10kOhm $ series\n"
    "+ \n"
    "D1 out 0 dmod 2\n"
    ".model dmod D IS=2e-15 N=1\n"
    "R2 out 0\n+ 1meg\n"
    ".tran 1n 1u\n"
    ".end\n",
};

static const char charset[] = " \n+*;$.{}()=,0123456789ekmunpfgtvrdxiehfg-_";

static char *mutate(eqs_ctx *rng, const char *src, int k)
{
    size_t n = strlen(src);
    size_t cap = 2 * n + 64;
    char *t = malloc(cap);
    memcpy(t, src, n + 1);
    int ops = 1 + (int)(eqs_rng_u64(rng, EQS_RNG_NOISE) % 4);
    for (int o = 0; o < ops; ++o) {
        size_t len = strlen(t);
        size_t pos = len ? (size_t)(eqs_rng_u64(rng, EQS_RNG_NOISE) % len) : 0;
        char c = charset[eqs_rng_u64(rng, EQS_RNG_NOISE) % (sizeof charset - 1)];
        switch ((k + o) % 5) {
        case 0: /* replace */
            if (len) t[pos] = c;
            break;
        case 1: /* delete */
            if (len) memmove(t + pos, t + pos + 1, len - pos);
            break;
        case 2: /* insert */
            if (len + 2 < cap) {
                memmove(t + pos + 1, t + pos, len - pos + 1);
                t[pos] = c;
            }
            break;
        case 3: /* truncate */
            t[pos] = '\0';
            break;
        case 4: { /* duplicate the line holding pos (duplicate names, loops) */
            size_t b = pos, e = pos;
            while (b > 0 && t[b - 1] != '\n') b--;
            while (t[e] && t[e] != '\n') e++;
            size_t l = e - b + 1;
            if (t[e] && len + l + 1 < cap) {
                memmove(t + e + 1 + l, t + e + 1, len - e);
                memcpy(t + e + 1, t + b, l);
            }
            break;
        }
        }
    }
    return t;
}

START_TEST(test_mutated_netlists_fail_cleanly)
{
    eqs_ctx *rng = tu_ctx();
    eqs_ctx_seed(rng, 20261123);
    int ok = 0, failed = 0;
    for (size_t s = 0; s < sizeof seeds_text / sizeof seeds_text[0]; ++s) {
        for (int k = 0; k < 400; ++k) {
            char *text = mutate(rng, seeds_text[s], k);
            eqs_ctx *ctx = tu_ctx();
            eqs_netlist *nl = NULL;
            eqs_circuit *c = NULL;
            eqs_solver *sv = NULL;
            eqs_solver_options opt;
            eqs_solver_options_defaults(&opt);
            opt.itl1 = 50;
            eqs_status st = eqs_netlist_read_string(ctx, text, "mut.cir", &nl);
            if (st == EQS_OK) st = eqs_circuit_create(ctx, nl, &c);
            if (st == EQS_OK) st = eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, &opt, &sv);
            if (st == EQS_OK) st = eqs_solver_solve(sv, EQS_SOLVE_COLD, NULL);
            if (st < 0) {
                failed++;
                ck_assert_msg(eqs_ctx_error(ctx)[0] != '\0',
                              "status %s without a message for:\n%s", eqs_status_name(st), text);
                ck_assert_msg(st != EQS_ERR_INTERNAL, "internal error '%s' for:\n%s",
                              eqs_ctx_error(ctx), text);
            } else {
                ok++;
            }
            eqs_solver_free(&sv);
            eqs_circuit_free(&c);
            eqs_netlist_free(&nl);
            eqs_ctx_free(&ctx);
            free(text);
        }
    }
    /* the mutations must exercise both outcomes */
    ck_assert_int_gt(failed, 50);
    ck_assert_int_gt(ok, 10);
    eqs_ctx_free(&rng);
}
END_TEST

START_TEST(test_unmutated_seeds_solve)
{
    for (size_t s = 0; s < sizeof seeds_text / sizeof seeds_text[0]; ++s) {
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        eqs_circuit *c = NULL;
        eqs_solver *sv = NULL;
        eqs_status st = eqs_netlist_read_string(ctx, seeds_text[s], "seed.cir", &nl);
        if (st == EQS_OK) st = eqs_circuit_create(ctx, nl, &c);
        if (st == EQS_OK) st = eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &sv);
        if (st == EQS_OK) st = eqs_solver_solve(sv, EQS_SOLVE_COLD, NULL);
        ck_assert_msg(st == EQS_OK, "seed %zu: %s", s, eqs_ctx_error(ctx));
        eqs_solver_free(&sv);
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
    }
}
END_TEST

Suite *suite_robust(void)
{
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("mutations");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_unmutated_seeds_solve);
    tcase_add_test(tc, test_mutated_netlists_fail_cleanly);
    suite_add_tcase(s, tc);
    return s;
}
