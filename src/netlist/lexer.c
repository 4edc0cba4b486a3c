/*
 * lexer.c: files -> cards -> tokens.
 *
 * A file is read into one buffer.  The lexer splits it into physical lines
 * and groups them into cards (a line plus its '+' continuation lines;
 * blank and '*' comment lines in between are skipped; "*eqspice .input"
 * lines are extension cards, see ext_comment).  `.include` is
 * expanded in place (the included file's cards take the place of the
 * card), and so is `.lib FILE SECTION` (only the lines between
 * `.lib SECTION` and `.endl` of FILE; section definitions met otherwise
 * are skipped), `.control ... .endc` blocks are skipped and `.end` stops
 * reading the file.  Cards are not tokenized when stored: eqs_lex_card splits a
 * card into tokens on demand into a scratch array, so 1.6 million
 * resistor cards cost no per-token allocation.
 *
 * Tokens: runs of characters separated by whitespace and ',' ; '=', '('
 * and ')' are tokens of their own; '{...}' (balanced, on one physical
 * line) is one token including the braces; "..." is one token without
 * the quotes.  ';' and "//" anywhere, and '$' at the start of a token
 * (i.e. after whitespace), start a comment that runs to the end of the
 * line.
 */
#include "netlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

eqs_loc eqs_tok_loc(const eqs_card *c, const eqs_tok *t)
{
    eqs_loc l = {c->file, t->line, t->col};
    return l;
}

int eqs_tok_is(const eqs_tok *t, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)t->len != n) return 0;
    for (size_t i = 0; i < n; ++i)
        if (tolower((unsigned char)t->s[i]) != word[i]) return 0;
    return 1;
}

static eqs_status push_tok(eqs_lexer *lx, const char *s, size_t len, int line, int col)
{
    if (eqs_grow(lx->ctx, (void **)&lx->toks, &lx->tok_cap, (size_t)lx->n_toks + 1,
                 sizeof *lx->toks))
        return EQS_ERR_NOMEM;
    eqs_tok *t = &lx->toks[lx->n_toks++];
    t->s = s;
    t->len = (int)len;
    t->line = line;
    t->col = col;
    return EQS_OK;
}

/* Tokenize the physical line [p, eol) (p after any leading '+'). */
static eqs_status lex_line(eqs_lexer *lx, const char *file, const char *bol, const char *p,
                           const char *eol, int line)
{
    eqs_ctx *ctx = lx->ctx;
    while (p < eol) {
        char c = *p;
        int col = (int)(p - bol) + 1;
        eqs_loc loc = {file, line, col};
        if (is_ws(c) || c == ',') {
            p++;
            continue;
        }
        if (c == ';') break;
        if (c == '$' && (p == bol || is_ws(p[-1]) || p[-1] == ',')) break;
        /* "//" anywhere outside "..." and {...}: an end-of-line comment, as in
         * ngspice (which cuts `a//b` to `a` too) */
        if (c == '/' && p + 1 < eol && p[1] == '/') break;
        if (c == '=' || c == '(' || c == ')') {
            if (push_tok(lx, p, 1, line, col)) return EQS_ERR_NOMEM;
            p++;
            continue;
        }
        if (c == '{') {
            const char *q = p;
            int depth = 0;
            for (; q < eol; ++q) {
                if (*q == '{') depth++;
                else if (*q == '}' && --depth == 0) break;
            }
            if (q >= eol) return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "unbalanced '{'");
            if (push_tok(lx, p, (size_t)(q + 1 - p), line, col)) return EQS_ERR_NOMEM;
            p = q + 1;
            continue;
        }
        if (c == '}') return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "unbalanced '}'");
        if (c == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(eol - p - 1));
            if (!q) return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "unterminated string");
            if (push_tok(lx, p + 1, (size_t)(q - p - 1), line, col)) return EQS_ERR_NOMEM;
            p = q + 1;
            continue;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "invalid character (byte 0x%02x)",
                                (unsigned char)c);
        const char *q = p;
        while (q < eol && !is_ws(*q) && *q != ',' && *q != ';' && *q != '=' && *q != '(' &&
               *q != ')' && *q != '{' && *q != '}' && *q != '"' && (unsigned char)*q >= 0x20 &&
               *q != 0x7f && !(*q == '/' && q + 1 < eol && q[1] == '/'))
            q++;
        if (push_tok(lx, p, (size_t)(q - p), line, col)) return EQS_ERR_NOMEM;
        p = q;
    }
    return EQS_OK;
}

static const char *line_end(const char *p, const char *end)
{
    const char *q = memchr(p, '\n', (size_t)(end - p));
    return q ? q : end;
}

eqs_status eqs_lex_card(eqs_lexer *lx, const eqs_card *c)
{
    lx->n_toks = 0;
    const char *p = c->start;
    int line = c->line;
    const char *bol = c->start - (c->col - 1);
    int first = 1;
    while (p < c->end) {
        const char *eol = line_end(p, c->end);
        const char *q = p;
        if (first) {
            q = c->start;
        } else {
            bol = p;
            while (q < eol && is_ws(*q)) q++;
            if (q < eol && *q == '+')
                q++;
            else
                q = eol; /* blank or comment line between continuations */
        }
        eqs_status st = lex_line(lx, c->file, bol, q, eol, line);
        if (st) return st;
        first = 0;
        p = eol + 1;
        line++;
    }
    return EQS_OK;
}

/* First word of a card (up to whitespace or a token delimiter). */
static int first_word_is(const char *p, const char *eol, const char *word)
{
    size_t n = strlen(word), i = 0;
    for (; i < n; ++i)
        if (p + i >= eol || tolower((unsigned char)p[i]) != word[i]) return 0;
    if (p + i >= eol) return 1;
    char c = p[i];
    return is_ws(c) || c == ';' || c == '"' || c == '(' || c == ',' || c == '=';
}

/* Extension cards hidden from ngspice: a comment line "*eqspice <card>"
 * whose card is .input, .output, .output_pair, .trainable or an evaluation
 * card (.diodes, .encoding, .targets, .solver) is read as that card (ngspice
 * 39 rejects unknown dot cards, so eqspice writes its extension cards this
 * way, docs/training.md).  Returns the start of the card, or q unchanged
 * (an ordinary comment).  No '+' continuation may follow such a line. */
static const char *ext_comment(const char *q, const char *eol)
{
    static const char prefix[] = "*eqspice";
    size_t n = sizeof prefix - 1;
    if ((size_t)(eol - q) <= n) return q;
    for (size_t i = 0; i < n; ++i)
        if (tolower((unsigned char)q[i]) != prefix[i]) return q;
    const char *r = q + n;
    if (!is_ws(*r)) return q;
    while (r < eol && is_ws(*r)) r++;
    if (first_word_is(r, eol, ".input") || first_word_is(r, eol, ".output") ||
        first_word_is(r, eol, ".output_pair") || first_word_is(r, eol, ".trainable") ||
        first_word_is(r, eol, ".diodes") || first_word_is(r, eol, ".encoding") ||
        first_word_is(r, eol, ".targets") || first_word_is(r, eol, ".solver"))
        return r;
    return q;
}

static eqs_status read_file(eqs_lexer *lx, const char *path, eqs_loc where, char **buf,
                            size_t *len, unsigned long long *dev, unsigned long long *ino,
                            int is_lib)
{
    eqs_ctx *ctx = lx->ctx;
    eqs_status code = where.file ? EQS_ERR_PARSE : EQS_ERR_IO;
    const char *what = where.file ? (is_lib ? "library file" : "include file") : "netlist";
    eqs_file_info fi;
    eqs_status st = eqs_file_read(ctx, path, what, where, code, buf, len, &fi);
    if (st) return st;
    *dev = (unsigned long long)fi.dev;
    *ino = (unsigned long long)fi.ino;
    return EQS_OK;
}

static eqs_status keep_buffer(eqs_lexer *lx, char *b)
{
    if (eqs_grow(lx->ctx, (void **)&lx->bufs, &lx->buf_cap, (size_t)lx->n_bufs + 1,
                 sizeof *lx->bufs)) {
        eqs_free(lx->ctx, b);
        return EQS_ERR_NOMEM;
    }
    lx->bufs[lx->n_bufs++] = b;
    return EQS_OK;
}

static eqs_status lex_buffer(eqs_lexer *lx, const char *buf, size_t len, const char *file,
                             int is_top, int dir_relative, const eqs_tok *sect, int *sect_found);

static int tok_ieq(const char *a, int alen, const char *b, int blen)
{
    if (alen != blen) return 0;
    for (int i = 0; i < alen; ++i)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return 1;
}

/* Read the file named by token t of card c (relative to the including
 * file's directory) and lex it in place: the whole file (sect NULL, an
 * .include) or only its section `.lib <sect>` ... `.endl` (a .lib card).
 * `what` names the card in messages. */
static eqs_status read_nested(eqs_lexer *lx, const eqs_card *c, eqs_tok t, int dir_relative,
                              const eqs_tok *sect)
{
    eqs_ctx *ctx = lx->ctx;
    eqs_loc tloc = eqs_tok_loc(c, &t);
    /* ngspice also accepts 'single quotes' around the file name */
    if (t.len >= 2 && t.s[0] == '\'' && t.s[t.len - 1] == '\'') {
        t.s++;
        t.len -= 2;
    }
    if (t.len == 0) return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, tloc, "empty file name");
    /* resolve relative to the including file's directory */
    size_t dlen = 0;
    if (t.s[0] != '/' && dir_relative) {
        const char *slash = strrchr(c->file, '/');
        if (slash) dlen = (size_t)(slash - c->file) + 1;
    }
    char *path = eqs_malloc(ctx, dlen + (size_t)t.len + 1);
    if (!path) return EQS_ERR_NOMEM;
    memcpy(path, c->file, dlen);
    memcpy(path + dlen, t.s, (size_t)t.len);
    path[dlen + (size_t)t.len] = '\0';
    const char *pooled = eqs_nl_file(lx->nl, path);
    eqs_free(ctx, path);
    if (!pooled) return EQS_ERR_NOMEM;
    if (lx->inc_depth >= EQS_MAX_INCLUDE_DEPTH)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, tloc, "includes nested too deeply (more than %d)",
                            EQS_MAX_INCLUDE_DEPTH);
    char *b = NULL;
    size_t n = 0;
    unsigned long long dev = 0, ino = 0;
    eqs_status st = read_file(lx, pooled, tloc, &b, &n, &dev, &ino, sect != NULL);
    if (st) return st;
    st = keep_buffer(lx, b);
    if (st) return st;
    for (int i = 0; i <= lx->inc_depth; ++i) {
        if (lx->inc[i].dev != dev || lx->inc[i].ino != ino) continue;
        if (!sect && !lx->inc[i].sect)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, tloc,
                                "include cycle: '%s' is already being read", pooled);
        if (sect && lx->inc[i].sect &&
            tok_ieq(sect->s, sect->len, lx->inc[i].sect, lx->inc[i].sect_len))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, sect),
                                ".lib cycle: section '%.*s' of '%s' is already being read",
                                sect->len, sect->s, pooled);
    }
    lx->inc_depth++;
    lx->inc[lx->inc_depth].dev = dev;
    lx->inc[lx->inc_depth].ino = ino;
    lx->inc[lx->inc_depth].sect = sect ? sect->s : NULL;
    lx->inc[lx->inc_depth].sect_len = sect ? sect->len : 0;
    int got = 0;
    eqs_tok sect_copy = sect ? *sect : t;
    st = lex_buffer(lx, b, n, pooled, 0, 1, sect ? &sect_copy : NULL, &got);
    lx->inc_depth--;
    if (st == EQS_OK && sect && !got)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, sect),
                            "section '%.*s' not found in library '%s' (no '.lib %.*s' line)",
                            sect->len, sect->s, pooled, sect->len, sect->s);
    return st;
}

/* Handle a finished `.include` card: read the file and lex it in place. */
static eqs_status do_include(eqs_lexer *lx, const eqs_card *c, int dir_relative)
{
    eqs_ctx *ctx = lx->ctx;
    eqs_status st = eqs_lex_card(lx, c);
    if (st) return st;
    eqs_loc cloc = {c->file, c->line, c->col};
    if (lx->n_toks < 2)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, cloc, "missing file name in '%.*s'",
                            lx->toks[0].len, lx->toks[0].s);
    if (lx->n_toks > 2)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &lx->toks[2]),
                            "unexpected '%.*s' after the file name", lx->toks[2].len,
                            lx->toks[2].s);
    return read_nested(lx, c, lx->toks[1], dir_relative, NULL);
}

/* Handle a `.lib FILE SECTION` card: lex that section of FILE in place. */
static eqs_status do_lib(eqs_lexer *lx, const eqs_card *c, int dir_relative)
{
    eqs_status st = eqs_lex_card(lx, c);
    if (st) return st;
    if (lx->n_toks > 3)
        return EQS_ERROR_AT(lx->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &lx->toks[3]),
                            "unexpected '%.*s' in '.lib' (expected: .lib FILE SECTION)",
                            lx->toks[3].len, lx->toks[3].s);
    eqs_tok file = lx->toks[1], sect = lx->toks[2];
    return read_nested(lx, c, file, dir_relative, &sect);
}

/* A card is complete: store it, or expand it if it is an .include. */
static eqs_status finish_card(eqs_lexer *lx, const eqs_card *c, int dir_relative)
{
    const char *eol = line_end(c->start, c->end);
    if (first_word_is(c->start, eol, ".include") || first_word_is(c->start, eol, ".inc"))
        return do_include(lx, c, dir_relative);
    if (eqs_grow(lx->ctx, (void **)&lx->cards, &lx->card_cap, lx->n_cards + 1,
                 sizeof *lx->cards))
        return EQS_ERR_NOMEM;
    lx->cards[lx->n_cards++] = *c;
    return EQS_OK;
}

/* Skip the body of a `.lib NAME` section definition starting at line
 * *p (the .lib line itself): move *p / *line to its `.endl` line. */
static eqs_status skip_section(eqs_lexer *lx, const char **p, int *line, const char *end,
                               eqs_loc loc, const eqs_tok *name)
{
    for (;;) {
        *p = line_end(*p, end) + 1;
        (*line)++;
        if (*p >= end) break;
        const char *e2 = line_end(*p, end);
        const char *r = *p;
        while (r < e2 && is_ws(*r)) r++;
        if (first_word_is(r, e2, ".endl")) return EQS_OK;
    }
    return EQS_ERROR_AT(lx->ctx, EQS_ERR_PARSE, loc, "unterminated .lib section '%.*s' (no '.endl')",
                        name->len, name->s);
}

/* A `.lib` or `.endl` line at q (line `line` of `file`, starting at bol):
 * `.lib FILE SECTION` is read in place (unless outside the wanted section
 * *inside == 0 of a section read), `.lib NAME` starts a section definition
 * (skipped, or entered when NAME is the wanted section `sect`), `.endl`
 * ends the wanted section (*done = 1). */
static eqs_status lib_line(eqs_lexer *lx, const char *file, const char **p, int *line,
                           const char *q, const char *end, int dir_relative,
                           const eqs_tok *sect, int *inside, eqs_loc *sect_loc, int *done)
{
    eqs_ctx *ctx = lx->ctx;
    eqs_card cur = {q, line_end(q, end), file, *line, (int)(q - *p) + 1, 0, -1, -1};
    eqs_loc loc = {file, cur.line, cur.col};
    eqs_status st = eqs_lex_card(lx, &cur);
    if (st) return st;
    int nt = lx->n_toks;
    if (first_word_is(q, cur.end, ".endl")) {
        if (!sect || !*inside)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "'.endl' without '.lib' section");
        if (nt > 1 && !tok_ieq(lx->toks[1].s, lx->toks[1].len, sect->s, sect->len))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(&cur, &lx->toks[1]),
                                "'.endl %.*s' does not match '.lib %.*s'", lx->toks[1].len,
                                lx->toks[1].s, sect->len, sect->s);
        *done = 1;
        return EQS_OK;
    }
    if (nt < 2)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                            "missing section name in '.lib' (expected: .lib FILE SECTION, or "
                            ".lib SECTION ... .endl)");
    if (nt == 2) { /* a section definition */
        eqs_tok name = lx->toks[1];
        if (sect && *inside)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                                "'.lib %.*s' inside section '%.*s' (missing '.endl'?)", name.len,
                                name.s, sect->len, sect->s);
        if (sect && tok_ieq(name.s, name.len, sect->s, sect->len)) {
            *inside = 1;
            *sect_loc = loc;
            return EQS_OK;
        }
        return skip_section(lx, p, line, end, loc, &name);
    }
    if (sect && !*inside) return EQS_OK; /* a reference outside the wanted section */
    return do_lib(lx, &cur, dir_relative);
}

static eqs_status lex_buffer(eqs_lexer *lx, const char *buf, size_t len, const char *file,
                             int is_top, int dir_relative, const eqs_tok *sect, int *sect_found)
{
    eqs_ctx *ctx = lx->ctx;
    int inside = 0, done = 0;
    eqs_loc sect_loc = EQS_NOLOC;
    const char *p = buf, *end = buf + len;
    int line = 1;
    if (is_top) {
        const char *eol = line_end(p, end);
        const char *e = eol;
        while (e > p && (is_ws(e[-1]) || e[-1] == '\0')) e--;
        size_t tl = (size_t)(e - p);
        char *title = eqs_malloc(ctx, tl + 1);
        if (!title) return EQS_ERR_NOMEM;
        for (size_t i = 0; i < tl; ++i) /* keep the title printable */
            title[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? ' ' : p[i];
        title[tl] = '\0';
        lx->nl->title = title;
        p = eol < end ? eol + 1 : end;
        line = 2;
    }
    {   /* one card per line at most: size the card array once */
        size_t lines = 1;
        for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; ++q) lines++;
        size_t old_cap = lx->card_cap;
        if (eqs_grow(ctx, (void **)&lx->cards, &lx->card_cap, lx->n_cards + lines,
                     sizeof *lx->cards))
            return EQS_ERR_NOMEM;
        if (lx->card_cap != old_cap) eqs_advise_huge(lx->cards, lx->card_cap * sizeof *lx->cards);
    }
    eqs_card cur;
    int have = 0;
    for (; p < end; p = line_end(p, end) + 1, line++) {
        const char *eol = line_end(p, end);
        const char *q = p;
        while (q < eol && is_ws(*q)) q++;
        int is_lib = first_word_is(q, eol, ".lib") || first_word_is(q, eol, ".endl");
        if (sect && !inside && !is_lib) { /* outside the wanted section of a library */
            if (first_word_is(q, eol, ".end")) break;
            continue;
        }
        if (q < eol && *q == '*') q = ext_comment(q, eol); /* "*eqspice .input ..." */
        if (q == eol || *q == '*' || *q == ';' || *q == '$') continue; /* blank / comment */
        if (*q == '+') {
            if (!have) {
                eqs_loc loc = {file, line, (int)(q - p) + 1};
                return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                                    "continuation line '+' without a card to continue");
            }
            cur.end = eol;
            continue;
        }
        if (have) {
            eqs_status st = finish_card(lx, &cur, dir_relative);
            if (st) return st;
            have = 0;
        }
        if (is_lib) {
            eqs_status st = lib_line(lx, file, &p, &line, q, end, dir_relative, sect, &inside,
                                     &sect_loc, &done);
            if (st) return st;
            if (done) break;
            continue;
        }
        if (first_word_is(q, eol, ".end")) break; /* the rest of the file is ignored */
        if (first_word_is(q, eol, ".control")) {
            eqs_loc loc = {file, line, (int)(q - p) + 1};
            eqs_warn_at(ctx, loc, "'.control' block ignored (up to '.endc')");
            lx->nl->n_ignored_cards++;
            int found = 0;
            while (!found) {
                p = line_end(p, end) + 1;
                line++;
                if (p >= end) break;
                const char *e2 = line_end(p, end);
                const char *r = p;
                while (r < e2 && is_ws(*r)) r++;
                found = first_word_is(r, e2, ".endc");
            }
            if (!found) return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "'.control' without '.endc'");
            continue;
        }
        cur.start = q;
        cur.end = eol;
        cur.file = file;
        cur.line = line;
        cur.col = (int)(q - p) + 1;
        cur.scope = -1;
        cur.aux = -1;
        cur.kind = 0;
        have = 1;
        if (eol >= end) break;
    }
    if (have) {
        eqs_status st = finish_card(lx, &cur, dir_relative);
        if (st) return st;
    }
    if (sect && inside && !done)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, sect_loc,
                            "unterminated .lib section '%.*s' (no '.endl')", sect->len, sect->s);
    if (sect_found) *sect_found = inside;
    return EQS_OK;
}

eqs_status eqs_lex_top(eqs_lexer *lx, const char *name, const char *text)
{
    const char *file = eqs_nl_file(lx->nl, name);
    if (!file) return EQS_ERR_NOMEM;
    char *b = NULL;
    size_t n = 0;
    eqs_status st;
    lx->inc_depth = 0;
    lx->inc[0].sect = NULL; /* the whole top file */
    lx->inc[0].sect_len = 0;
    if (text) {
        n = strlen(text);
        b = eqs_strndup(lx->ctx, text, n);
        if (!b) return EQS_ERR_NOMEM;
        lx->inc[0].dev = lx->inc[0].ino = ~0ull; /* a string is never re-included */
    } else {
        st = read_file(lx, file, EQS_NOLOC, &b, &n, &lx->inc[0].dev, &lx->inc[0].ino, 0);
        if (st) return st;
    }
    st = keep_buffer(lx, b);
    if (st) return st;
    if (n == 0) {
        eqs_loc loc = {file, 1, 1};
        return EQS_ERROR_AT(lx->ctx, EQS_ERR_PARSE, loc, "empty netlist (no title line)");
    }
    return lex_buffer(lx, b, n, file, 1, text == NULL, NULL, NULL);
}

void eqs_lex_free(eqs_lexer *lx)
{
    for (int i = 0; i < lx->n_bufs; ++i) eqs_free(lx->ctx, lx->bufs[i]);
    eqs_free(lx->ctx, lx->bufs);
    eqs_free(lx->ctx, lx->cards);
    eqs_free(lx->ctx, lx->toks);
    lx->bufs = NULL;
    lx->cards = NULL;
    lx->toks = NULL;
    lx->n_bufs = 0;
    lx->n_cards = 0;
    lx->n_toks = 0;
}
