/*
 * checkpoint.c: the circuit's topology hash and checkpoint files (format
 * in docs/training.md); the RNG state they carry comes from core's
 * eqs_ctx_rng_state_get.
 *
 * Format version 1, every integer little-endian, every double as the
 * little-endian bytes of its IEEE-754 binary64 pattern (so values round-trip
 * bit for bit, NaN payloads and signed zeros included):
 *
 *   offset  size  field
 *        0     8  magic "EQSCKPT\n"
 *        8     4  u32 format version (EQS_CHECKPOINT_FORMAT)
 *       12    16  eqspice version that wrote the file, NUL-padded (provenance)
 *       28     8  u64 topology hash (eqs_circuit_topology_hash)
 *       36     8  u64 n = number of trainable elements
 *       44     8  u64 epochs completed
 *       52     8  u64 batches completed in the current epoch
 *       60     8  f64 learning-rate scale
 *       68     8  u64 RNG seed
 *       76    96  u64[3][4] RNG state (streams init, shuffle, noise)
 *      172     4  u32 flags: bit 0 = momentum present, bit 1 = sample order
 *                 present; other bits 0
 *      176     8  u64 m = number of entries of the sample order (0 without)
 *      184    8n  f64 conductances (S), parameter order
 *             8n  f64 momentum (only with flag bit 0)
 *             8m  u64 sample order of the current epoch (only with flag bit 1)
 *      end-8   8  u64 FNV-1a 64 checksum of every byte before it
 */
#include "export.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define CK_MAGIC "EQSCKPT\n"
#define CK_MAGIC_LEN 8
#define CK_VERSION_LEN 16
#define CK_HEADER 184 /* bytes before the conductances */
#define CK_FLAG_MOMENTUM 1u
#define CK_FLAG_ORDER 2u

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; ++i) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; ++i) b[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
    return v;
}
static uint32_t get_u32(const unsigned char *b)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | b[i];
    return v;
}
static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}
static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* ---- topology hash --------------------------------------------------- */

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
    unsigned char b[8];
    put_u64(b, (uint64_t)v);
    return fnv(h, b, 8);
}

uint64_t eqs_circuit_topology_hash(const eqs_circuit *c)
{
    const eqs_netlist *nl = c->nl;
    uint64_t h = FNV_OFFSET;
    h = fnv_i64(h, nl->n_nodes);
    for (int i = 0; i < nl->n_nodes; ++i) h = fnv(h, nl->node_names[i], strlen(nl->node_names[i]) + 1);
    h = fnv_i64(h, nl->n_elems);
    for (int i = 0; i < nl->n_elems; ++i) {
        const eqs_element *e = &nl->elems[i];
        h = fnv_i64(h, (int64_t)e->kind);
        h = fnv(h, e->name, strlen(e->name) + 1);
        for (int t = 0; t < 4; ++t) h = fnv_i64(h, t < e->n_nodes ? e->node[t] : -1);
    }
    h = fnv_i64(h, c->n_params);
    for (int k = 0; k < c->n_params; ++k) h = fnv_i64(h, c->elems[c->params[k]].origin);
    return h;
}

/* ---- writing ----------------------------------------------------------- */

typedef struct {
    FILE *f;
    uint64_t h;
} ck_writer;

static void ck_put(ck_writer *w, const void *p, size_t n)
{
    w->h = fnv(w->h, p, n);
    fwrite(p, 1, n, w->f);
}

static void ck_u64(ck_writer *w, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    ck_put(w, b, 8);
}

static void ck_u32(ck_writer *w, uint32_t v)
{
    unsigned char b[4];
    put_u32(b, v);
    ck_put(w, b, 4);
}

eqs_status eqs_checkpoint_write(eqs_ctx *ctx, const eqs_circuit *c, const eqs_train_state *st,
                                const char *path)
{
    eqs_atomic a;
    eqs_status s = eqs_atomic_open(ctx, path, &a);
    if (s != EQS_OK) return s;
    ck_writer w = {a.f, FNV_OFFSET};
    char version[CK_VERSION_LEN] = {0};
    strncpy(version, EQS_VERSION, CK_VERSION_LEN - 1);
    ck_put(&w, CK_MAGIC, CK_MAGIC_LEN);
    ck_u32(&w, EQS_CHECKPOINT_FORMAT);
    ck_put(&w, version, CK_VERSION_LEN);
    ck_u64(&w, eqs_circuit_topology_hash(c));
    ck_u64(&w, (uint64_t)c->n_params);
    ck_u64(&w, st->epoch);
    ck_u64(&w, st->batch);
    ck_u64(&w, dbits(st->lr_scale));
    eqs_rng_state r;
    eqs_ctx_rng_state_get(ctx, &r);
    ck_u64(&w, r.seed);
    for (int q = 0; q < EQS_RNG_NSTREAMS; ++q)
        for (int k = 0; k < 4; ++k) ck_u64(&w, r.s[q][k]);
    int has_order = st->order != NULL && st->n_order > 0;
    ck_u32(&w, (st->momentum ? CK_FLAG_MOMENTUM : 0u) | (has_order ? CK_FLAG_ORDER : 0u));
    ck_u64(&w, has_order ? (uint64_t)st->n_order : 0u);
    for (int k = 0; k < c->n_params; ++k) ck_u64(&w, dbits(eqs_store_value(c->store, k)));
    if (st->momentum)
        for (int k = 0; k < c->n_params; ++k) ck_u64(&w, dbits(eqs_store_momentum(c->store, k)));
    if (has_order)
        for (size_t i = 0; i < st->n_order; ++i) ck_u64(&w, (uint64_t)st->order[i]);
    unsigned char sum[8];
    put_u64(sum, w.h);
    fwrite(sum, 1, 8, a.f);
    return eqs_atomic_commit(&a); /* any write error: "cannot write '<path>': <reason>" */
}

int eqs_checkpoint_peek(const char *path, uint64_t *epoch, uint64_t *batch)
{
    unsigned char b[60];
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got != sizeof b || memcmp(b, CK_MAGIC, CK_MAGIC_LEN) != 0) return -1;
    *epoch = get_u64(b + 44);
    *batch = get_u64(b + 52);
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

#define CK_BAD(...) EQS_ERROR(ctx, EQS_ERR_INPUT, __VA_ARGS__)

/* The whole file (core/file.c: a regular file only, never blocking). */
static eqs_status read_all(eqs_ctx *ctx, const char *path, unsigned char **buf, size_t *len)
{
    return eqs_file_read(ctx, path, "checkpoint", EQS_NOLOC, EQS_ERR_INPUT, (char **)buf, len,
                         NULL);
}

eqs_status eqs_checkpoint_read(eqs_ctx *ctx, eqs_circuit *c, const char *path,
                               eqs_train_state *st)
{
    eqs_train_state ignored = {0};
    if (!st) st = &ignored; /* only the circuit and the RNG wanted */
    unsigned char *b = NULL;
    size_t len = 0;
    eqs_status s = read_all(ctx, path, &b, &len);
    if (s != EQS_OK) return s;

    if (len < CK_MAGIC_LEN || memcmp(b, CK_MAGIC, CK_MAGIC_LEN) != 0) {
        s = CK_BAD("checkpoint '%s': not an eqspice checkpoint (bad magic)", path);
        goto done;
    }
    if (len < CK_HEADER + 8) {
        s = CK_BAD("checkpoint '%s': truncated (%zu bytes, header needs %d)", path, len,
                   CK_HEADER + 8);
        goto done;
    }
    uint32_t fmt = get_u32(b + 8);
    if (fmt != EQS_CHECKPOINT_FORMAT) {
        s = CK_BAD("checkpoint '%s': format version %u, this eqspice reads version %d", path,
                   (unsigned)fmt, EQS_CHECKPOINT_FORMAT);
        goto done;
    }
    char version[CK_VERSION_LEN + 1];
    memcpy(version, b + 12, CK_VERSION_LEN);
    version[CK_VERSION_LEN] = '\0';
    uint64_t topo = get_u64(b + 28), n = get_u64(b + 36);
    uint32_t flags = get_u32(b + 172);
    if (flags & ~(CK_FLAG_MOMENTUM | CK_FLAG_ORDER)) {
        s = CK_BAD("checkpoint '%s': unknown flags 0x%x", path, (unsigned)flags);
        goto done;
    }
    int has_m = (flags & CK_FLAG_MOMENTUM) != 0, has_o = (flags & CK_FLAG_ORDER) != 0;
    uint64_t n_ord = get_u64(b + 176);
    if (!has_o && n_ord != 0) {
        s = CK_BAD("checkpoint '%s': order length %llu without an order", path,
                   (unsigned long long)n_ord);
        goto done;
    }
    /* expected size, without overflow for absurd counts */
    if (n > (uint64_t)(SIZE_MAX / 32) || n_ord > (uint64_t)(SIZE_MAX / 32)) {
        s = CK_BAD("checkpoint '%s': truncated (%zu bytes for %llu conductances)", path, len,
                   (unsigned long long)n);
        goto done;
    }
    size_t want = CK_HEADER + (size_t)n * 8 * (has_m ? 2 : 1) + (size_t)n_ord * 8 + 8;
    if (len < want) {
        s = CK_BAD("checkpoint '%s': truncated (%zu of %zu bytes)", path, len, want);
        goto done;
    }
    if (len > want) {
        s = CK_BAD("checkpoint '%s': %zu unexpected bytes after the data", path, len - want);
        goto done;
    }
    if (fnv(FNV_OFFSET, b, want - 8) != get_u64(b + want - 8)) {
        s = CK_BAD("checkpoint '%s': checksum mismatch (the file is corrupt)", path);
        goto done;
    }
    if (topo != eqs_circuit_topology_hash(c) || n != (uint64_t)c->n_params) {
        s = CK_BAD("checkpoint '%s' was written for another network (topology hash "
                   "%016llx, %llu trainable elements; this network: %016llx, %d)",
                   path, (unsigned long long)topo, (unsigned long long)n,
                   (unsigned long long)eqs_circuit_topology_hash(c), c->n_params);
        goto done;
    }
    double lr_scale = bitsd(get_u64(b + 60));
    if (!isfinite(lr_scale) || lr_scale < 0) {
        s = CK_BAD("checkpoint '%s': invalid learning-rate scale %g", path, lr_scale);
        goto done;
    }
    eqs_rng_state r;
    r.seed = get_u64(b + 68);
    for (int q = 0; q < EQS_RNG_NSTREAMS; ++q) {
        int zero = 1;
        for (int k = 0; k < 4; ++k) {
            r.s[q][k] = get_u64(b + 76 + 8 * (4 * q + k));
            if (r.s[q][k]) zero = 0;
        }
        if (zero) {
            s = CK_BAD("checkpoint '%s': RNG stream %d is all zero", path, q);
            goto done;
        }
    }
    if (has_o && st->order && n_ord != (uint64_t)st->n_order) {
        s = CK_BAD("checkpoint '%s': sample order for %llu samples, the training set has %zu",
                   path, (unsigned long long)n_ord, st->n_order);
        goto done;
    }
    const unsigned char *g = b + CK_HEADER, *m = g + 8 * (size_t)n;
    const unsigned char *o = m + (has_m ? 8 * (size_t)n : 0);
    for (size_t i = 0; i < (size_t)n_ord; ++i)
        if (get_u64(o + 8 * i) >= n_ord) {
            s = CK_BAD("checkpoint '%s': sample order entry %zu out of range", path, i);
            goto done;
        }
    for (size_t k = 0; k < (size_t)n; ++k) {
        double v = bitsd(get_u64(g + 8 * k));
        if (!isfinite(v) || v == 0 || (v < 0 && c->reciprocal)) {
            s = CK_BAD("checkpoint '%s': invalid conductance %g S for '%s'", path, v,
                       eqs_circuit_param_name(c, (int)k));
            goto done;
        }
        if (has_m && !isfinite(bitsd(get_u64(m + 8 * k)))) {
            s = CK_BAD("checkpoint '%s': non-finite momentum for '%s'", path,
                       eqs_circuit_param_name(c, (int)k));
            goto done;
        }
    }
    if (strcmp(version, EQS_VERSION) != 0)
        eqs_log(ctx, EQS_LOG_INFO, "checkpoint '%s' was written by eqspice %s (this is %s)",
                path, version, EQS_VERSION);

    /* everything is valid: apply */
    for (size_t k = 0; k < (size_t)n; ++k) {
        double v = bitsd(get_u64(g + 8 * k));
        if (dbits(v) != dbits(eqs_store_value(c->store, k)) &&
            (s = eqs_circuit_param_set(c, (int)k, v)) != EQS_OK)
            goto done;
    }
    eqs_ctx_rng_state_set(ctx, &r);
    st->epoch = get_u64(b + 44);
    st->batch = get_u64(b + 52);
    st->lr_scale = lr_scale;
    st->has_momentum = has_m;
    for (size_t k = 0; k < (size_t)n; ++k)
        eqs_store_put_momentum(c->store, (int)k, has_m ? bitsd(get_u64(m + 8 * k)) : 0.0);
    st->has_order = has_o;
    if (has_o && st->order)
        for (size_t i = 0; i < (size_t)n_ord; ++i) st->order[i] = (size_t)get_u64(o + 8 * i);
    s = EQS_OK;
done:
    eqs_free(ctx, b);
    return s;
}
