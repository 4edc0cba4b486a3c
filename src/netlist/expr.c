/*
 * expr.c: SPICE numbers with engineering suffixes and the `{...}`
 * expression evaluator (recursive descent, see docs/netlist.md):
 *
 *   expr    := term   (('+' | '-') term)*
 *   term    := unary  (('*' | '/') unary)*
 *   unary   := ('+' | '-') unary | power
 *   power   := primary (('^' | '**') unary)?      right-associative
 *   primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
 *
 * so -2^2 = -4 and 2^-1 = 0.5.  Every error points at the column of the
 * offending character.
 */
#include "netlist.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXPR_MAX_DEPTH 200 /* nesting limit: garbage must not overflow the stack */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int eqs_number_scan(const char *s, size_t len, size_t *used, double *out)
{
    size_t i = 0, nd = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    while (i < len && is_digit(s[i])) i++, nd++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i])) i++, nd++;
    }
    if (nd == 0) return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < len && (s[j] == '+' || s[j] == '-')) j++;
        if (j >= len || !is_digit(s[j])) return 0; /* "1e", "1e+": malformed */
        while (j < len && is_digit(s[j])) j++;
        i = j;
    }
    char buf[96];
    if (i >= sizeof buf) return 0; /* absurdly long mantissa */
    memcpy(buf, s, i);
    buf[i] = '\0';
    double v = strtod(buf, NULL);
    /* suffix: meg and mil first (3 letters), then one letter */
    double scale = 1.0;
    if (i + 3 <= len && tolower((unsigned char)s[i]) == 'm' &&
        tolower((unsigned char)s[i + 1]) == 'e' && tolower((unsigned char)s[i + 2]) == 'g') {
        scale = 1e6;
        i += 3;
    } else if (i + 3 <= len && tolower((unsigned char)s[i]) == 'm' &&
               tolower((unsigned char)s[i + 1]) == 'i' && tolower((unsigned char)s[i + 2]) == 'l') {
        scale = 25.4e-6;
        i += 3;
    } else if (i < len) {
        switch (tolower((unsigned char)s[i])) {
        case 'f': scale = 1e-15; break;
        case 'p': scale = 1e-12; break;
        case 'n': scale = 1e-9; break;
        case 'u': scale = 1e-6; break;
        case 'm': scale = 1e-3; break;
        case 'k': scale = 1e3; break;
        case 'g': scale = 1e9; break;
        case 't': scale = 1e12; break;
        default: break;
        }
    }
    while (i < len && is_alpha(s[i])) i++; /* suffix and unit letters ("kOhm") */
    v *= scale;
    if (!isfinite(v)) return 0;
    *used = i;
    *out = v;
    return 1;
}

int eqs_parse_number(const char *text, double *out)
{
    if (!text || !out) return 0;
    size_t len = strlen(text), used = 0;
    double v;
    if (!eqs_number_scan(text, len, &used, &v) || used != len) return 0;
    *out = v;
    return 1;
}

/* ---------------------------------------------------------------- */

typedef struct {
    eqs_ctx *ctx;
    const char *s;
    size_t len, i;
    eqs_loc loc; /* of s[0] */
    eqs_param_fn lookup;
    void *user;
    int depth;
} ev;

static eqs_loc at(const ev *e, size_t i)
{
    eqs_loc l = e->loc;
    l.col += (int)i;
    return l;
}

static void skip_ws(ev *e)
{
    while (e->i < e->len && (e->s[e->i] == ' ' || e->s[e->i] == '\t' || e->s[e->i] == '\r'))
        e->i++;
}

static eqs_status unexpected(ev *e)
{
    if (e->i >= e->len)
        return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i), "unexpected end of expression");
    unsigned char c = (unsigned char)e->s[e->i];
    if (c < 0x20 || c >= 0x7f)
        return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i),
                            "unexpected byte 0x%02x in expression", c);
    return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i), "unexpected '%c' in expression", c);
}

static eqs_status finite_or_error(ev *e, double v, size_t pos)
{
    if (isfinite(v)) return EQS_OK;
    return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, pos), "expression result is not finite");
}

static eqs_status parse_expr(ev *e, double *out);
static eqs_status parse_unary(ev *e, double *out);

typedef struct {
    const char *name;
    int nargs;
} fn_info;

static const fn_info functions[] = {
    {"sqrt", 1}, {"exp", 1}, {"log", 1}, {"abs", 1}, {"min", 2}, {"max", 2}, {"pow", 2},
};

static double apply_fn(int k, const double *a)
{
    switch (k) {
    case 0: return sqrt(a[0]);
    case 1: return exp(a[0]);
    case 2: return log(a[0]);
    case 3: return fabs(a[0]);
    case 4: return a[0] < a[1] ? a[0] : a[1];
    case 5: return a[0] > a[1] ? a[0] : a[1];
    default: return pow(a[0], a[1]);
    }
}

static int word_eq(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (n != len) return 0;
    for (size_t i = 0; i < n; ++i)
        if (tolower((unsigned char)s[i]) != word[i]) return 0;
    return 1;
}

/* name '(' args ')' ; e->i is just after the '(' */
static eqs_status parse_call(ev *e, size_t name_at, size_t name_len, size_t open_at,
                             double *out)
{
    const char *name = e->s + name_at;
    int k = -1;
    for (size_t j = 0; j < sizeof functions / sizeof functions[0]; ++j)
        if (word_eq(name, name_len, functions[j].name)) k = (int)j;
    if (k < 0)
        return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, name_at), "unknown function '%.*s'",
                            (int)name_len, name);
    double args[2] = {0, 0};
    int n = 0;
    skip_ws(e);
    if (e->i < e->len && e->s[e->i] == ')') {
        e->i++;
    } else {
        for (;;) {
            double v;
            eqs_status st = parse_expr(e, &v);
            if (st) return st;
            if (n < 2) args[n] = v;
            n++;
            skip_ws(e);
            if (e->i < e->len && e->s[e->i] == ',') {
                e->i++;
                continue;
            }
            if (e->i < e->len && e->s[e->i] == ')') {
                e->i++;
                break;
            }
            if (e->i >= e->len)
                return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, open_at),
                                    "missing ')' in expression");
            return unexpected(e);
        }
    }
    if (n != functions[k].nargs)
        return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, name_at),
                            "function '%s' expects %d argument%s, got %d", functions[k].name,
                            functions[k].nargs, functions[k].nargs == 1 ? "" : "s", n);
    *out = apply_fn(k, args);
    return finite_or_error(e, *out, name_at);
}

static eqs_status parse_primary(ev *e, double *out)
{
    skip_ws(e);
    if (e->i >= e->len) return unexpected(e);
    char c = e->s[e->i];
    if (is_digit(c) || c == '.') {
        size_t used = 0;
        if (!eqs_number_scan(e->s + e->i, e->len - e->i, &used, out)) {
            size_t j = e->i;
            while (j < e->len && (is_alpha(e->s[j]) || is_digit(e->s[j]) || e->s[j] == '.' ||
                                  e->s[j] == '_'))
                j++;
            return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i), "malformed number '%.*s'",
                                (int)(j - e->i), e->s + e->i);
        }
        size_t j = e->i + used;
        if (j < e->len && (is_digit(e->s[j]) || e->s[j] == '.' || e->s[j] == '_')) {
            while (j < e->len && (is_alpha(e->s[j]) || is_digit(e->s[j]) || e->s[j] == '.' ||
                                  e->s[j] == '_'))
                j++;
            return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i), "malformed number '%.*s'",
                                (int)(j - e->i), e->s + e->i);
        }
        e->i = j;
        return EQS_OK;
    }
    if (is_alpha(c) || c == '_') {
        size_t start = e->i;
        while (e->i < e->len &&
               (is_alpha(e->s[e->i]) || is_digit(e->s[e->i]) || e->s[e->i] == '_'))
            e->i++;
        size_t n = e->i - start;
        skip_ws(e);
        if (e->i < e->len && e->s[e->i] == '(') {
            size_t open_at = e->i++;
            return parse_call(e, start, n, open_at, out);
        }
        if (!e->lookup || !e->lookup(e->user, e->s + start, n, out))
            return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, start), "undefined parameter '%.*s'",
                                (int)n, e->s + start);
        return EQS_OK;
    }
    if (c == '(') {
        size_t open_at = e->i++;
        eqs_status st = parse_expr(e, out);
        if (st) return st;
        skip_ws(e);
        if (e->i >= e->len)
            return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, open_at),
                                "missing ')' in expression");
        if (e->s[e->i] != ')') return unexpected(e);
        e->i++;
        return EQS_OK;
    }
    return unexpected(e);
}

static eqs_status parse_power(ev *e, double *out)
{
    eqs_status st = parse_primary(e, out);
    if (st) return st;
    skip_ws(e);
    size_t op = e->i;
    if (e->i < e->len && e->s[e->i] == '^')
        e->i += 1;
    else if (e->i + 1 < e->len && e->s[e->i] == '*' && e->s[e->i + 1] == '*')
        e->i += 2;
    else
        return EQS_OK;
    double rhs;
    if (++e->depth > EXPR_MAX_DEPTH) /* 2^2^2^... recurses too */
        return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, op), "expression nested too deeply");
    st = parse_unary(e, &rhs); /* right-associative, allows 2^-1 */
    e->depth--;
    if (st) return st;
    *out = pow(*out, rhs);
    return finite_or_error(e, *out, op);
}

static eqs_status parse_unary(ev *e, double *out)
{
    skip_ws(e);
    if (e->i < e->len && (e->s[e->i] == '-' || e->s[e->i] == '+')) {
        int neg = e->s[e->i] == '-';
        e->i++;
        if (++e->depth > EXPR_MAX_DEPTH)
            return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i), "expression nested too deeply");
        eqs_status st = parse_unary(e, out);
        e->depth--;
        if (st) return st;
        if (neg) *out = -*out;
        return EQS_OK;
    }
    return parse_power(e, out);
}

static eqs_status parse_term(ev *e, double *out)
{
    eqs_status st = parse_unary(e, out);
    if (st) return st;
    for (;;) {
        skip_ws(e);
        if (e->i >= e->len) return EQS_OK;
        char c = e->s[e->i];
        if (c != '*' && c != '/') return EQS_OK;
        if (c == '*' && e->i + 1 < e->len && e->s[e->i + 1] == '*') return EQS_OK; /* power */
        size_t op = e->i++;
        double rhs;
        st = parse_unary(e, &rhs);
        if (st) return st;
        if (c == '/') {
            if (rhs == 0.0)
                return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, op), "division by zero");
            *out /= rhs;
        } else {
            *out *= rhs;
        }
        st = finite_or_error(e, *out, op);
        if (st) return st;
    }
}

static eqs_status parse_expr(ev *e, double *out)
{
    if (++e->depth > EXPR_MAX_DEPTH)
        return EQS_ERROR_AT(e->ctx, EQS_ERR_PARSE, at(e, e->i), "expression nested too deeply");
    eqs_status st = parse_term(e, out);
    while (!st) {
        skip_ws(e);
        if (e->i >= e->len) break;
        char c = e->s[e->i];
        if (c != '+' && c != '-') break;
        size_t op = e->i++;
        double rhs;
        st = parse_term(e, &rhs);
        if (st) break;
        *out = c == '+' ? *out + rhs : *out - rhs;
        st = finite_or_error(e, *out, op);
    }
    e->depth--;
    return st;
}

eqs_status eqs_expr_eval(eqs_ctx *ctx, const char *s, size_t len, eqs_loc loc,
                         eqs_param_fn lookup, void *user, double *out)
{
    ev e = {ctx, s, len, 0, loc, lookup, user, 0};
    skip_ws(&e);
    if (e.i >= e.len)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "empty expression");
    double v;
    eqs_status st = parse_expr(&e, &v);
    if (st) return st;
    skip_ws(&e);
    if (e.i < e.len) {
        if (e.s[e.i] == ')')
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, at(&e, e.i), "unbalanced ')' in expression");
        return unexpected(&e);
    }
    *out = v;
    return EQS_OK;
}
