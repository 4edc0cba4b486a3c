/*
 * dataset.c: datasets for training (IDX, CSV, built-in synthetic tasks),
 * subsets and deterministic shuffling.  The only file that includes zlib.
 *
 * Storage: features are doubles, row-major n x d, in one block allocated
 * once (so that a batch of rows can be handed to BLAS or copied into input
 * sources without conversion); labels are ints.  Readers validate
 * everything before a dataset is returned: on error *out is NULL, nothing
 * leaks and the context holds a message naming the file and the place
 * (byte offset and record for IDX, line and column for CSV).
 */
#include "../core/core.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct eqs_dataset {
    eqs_ctx *ctx; /* owner of the allocations */
    size_t n;
    int d;
    int n_classes;
    double *x; /* n x d */
    int *y;    /* n */
    char *source;
};

/* Largest sizes accepted: features per sample, and bytes of the feature
 * block (guards against absurd headers in corrupt files). */
#define EQS_DATASET_MAX_FEATURES (1 << 24)
#define EQS_DATASET_MAX_BYTES ((size_t)1 << 38)

void eqs_dataset_options_defaults(eqs_dataset_options *opt)
{
    opt->n_classes = 0;
    opt->limit = 0;
    opt->label_column = NULL;
    opt->header = -1;
}

void eqs_synthetic_spec_defaults(eqs_synthetic_spec *spec)
{
    spec->name = "xor";
    spec->n = 256;
    spec->seed = 1;
    spec->n_features = 0;
    spec->n_classes = 0;
    spec->noise = -1.0;
}

void eqs_dataset_free(eqs_dataset **ds)
{
    if (!ds || !*ds) return;
    eqs_dataset *d = *ds;
    eqs_free(d->ctx, d->x);
    eqs_free(d->ctx, d->y);
    eqs_free(d->ctx, d->source);
    eqs_free(d->ctx, d);
    *ds = NULL;
}

/* Allocate an empty dataset of n samples with d features each. */
static eqs_status dataset_alloc(eqs_ctx *ctx, size_t n, int d, const char *source,
                                eqs_dataset **out)
{
    *out = NULL;
    if (d < 1 || d > EQS_DATASET_MAX_FEATURES || n == 0 ||
        n > EQS_DATASET_MAX_BYTES / sizeof(double) / (size_t)d)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: %zu samples of %d features is too large",
                         source, n, d);
    eqs_dataset *ds = eqs_calloc(ctx, 1, sizeof *ds);
    if (!ds) return EQS_ERR_NOMEM;
    ds->ctx = ctx;
    ds->n = n;
    ds->d = d;
    ds->x = eqs_malloc(ctx, n * (size_t)d * sizeof *ds->x);
    ds->y = eqs_malloc(ctx, n * sizeof *ds->y);
    ds->source = eqs_strdup(ctx, source);
    if (!ds->x || !ds->y || !ds->source) {
        eqs_dataset_free(&ds);
        return EQS_ERR_NOMEM;
    }
    eqs_advise_huge(ds->x, n * (size_t)d * sizeof *ds->x);
    *out = ds;
    return EQS_OK;
}

size_t eqs_dataset_size(const eqs_dataset *ds) { return ds->n; }
int eqs_dataset_n_features(const eqs_dataset *ds) { return ds->d; }
int eqs_dataset_n_classes(const eqs_dataset *ds) { return ds->n_classes; }
const double *eqs_dataset_features(const eqs_dataset *ds, size_t i)
{
    return ds->x + i * (size_t)ds->d;
}
const double *eqs_dataset_feature_matrix(const eqs_dataset *ds) { return ds->x; }
int eqs_dataset_label(const eqs_dataset *ds, size_t i) { return ds->y[i]; }
const char *eqs_dataset_source(const eqs_dataset *ds) { return ds->source; }

/* Set n_classes from the options (checking every label) or infer it. */
static void finish_labels(eqs_dataset *ds, int n_classes)
{
    int maxl = 0;
    for (size_t i = 0; i < ds->n; ++i)
        if (ds->y[i] > maxl) maxl = ds->y[i];
    ds->n_classes = n_classes > 0 ? n_classes : maxl + 1;
}

eqs_status eqs_dataset_check_features(eqs_ctx *ctx, const eqs_dataset *ds, int expected)
{
    if (ds->d != expected)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: %d feature%s per sample, but %d expected (the network's inputs)",
                         ds->source, ds->d, ds->d == 1 ? "" : "s", expected);
    return EQS_OK;
}

eqs_status eqs_dataset_check_labels(eqs_ctx *ctx, const eqs_dataset *ds, int n_classes)
{
    for (size_t i = 0; i < ds->n; ++i)
        if (ds->y[i] < 0 || ds->y[i] >= n_classes)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "%s: sample %zu has label %d, out of range for %d classes",
                             ds->source, i, ds->y[i], n_classes);
    return EQS_OK;
}

eqs_status eqs_dataset_subset(eqs_ctx *ctx, const eqs_dataset *ds, size_t first,
                              size_t count, eqs_dataset **out)
{
    *out = NULL;
    if (first >= ds->n || count == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: empty subset [%zu, +%zu) of %zu samples",
                         ds->source, first, count, ds->n);
    if (count > ds->n - first) count = ds->n - first;
    eqs_status st = dataset_alloc(ctx, count, ds->d, ds->source, out);
    if (st) return st;
    memcpy((*out)->x, ds->x + first * (size_t)ds->d, count * (size_t)ds->d * sizeof(double));
    memcpy((*out)->y, ds->y + first, count * sizeof(int));
    (*out)->n_classes = ds->n_classes;
    return EQS_OK;
}

/* ------------------------------------------------------------------ */
/* Shuffling                                                           */
/* ------------------------------------------------------------------ */
void eqs_shuffle_identity(size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; ++i) idx[i] = i;
}

/* Uniform integer in [0, bound) without modulo bias: reject draws below
 * 2^64 mod bound (the PCG library's method). */
static uint64_t rng_below(eqs_ctx *ctx, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = eqs_rng_u64(ctx, EQS_RNG_SHUFFLE);
        if (r >= threshold) return r % bound;
    }
}

void eqs_shuffle(eqs_ctx *ctx, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; --i) {
        size_t j = (size_t)rng_below(ctx, (uint64_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* ------------------------------------------------------------------ */
/* IDX                                                                 */
/* ------------------------------------------------------------------ */
/* The IDX reader decompresses with zlib's inflate itself (not gzread),
 * so that it controls what gzread forgives: bytes after the last gzip
 * member are an error, not ignored; every member's CRC-32 and length are
 * checked; and nothing is allocated from what a header claims before
 * the data is there (docs/datasets.md). */
#define EQS_IDX_IN_BUFFER (1 << 16)   /* compressed bytes read at a time */
#define EQS_IDX_OUT_BUFFER (1 << 17)  /* bytes inflated at a time (gzip) */
/* deflate's largest expansion: 258-byte matches coded in 2 bits, about
 * 1032:1 (zlib's FAQ); a header announcing more data than this times the
 * compressed file size is a lie, refused before reading. */
#define EQS_GZIP_MAX_RATIO 1032u
/* records allocated before the first growth (gzip files grow the arrays
 * as records arrive, doubling, up to the announced count) */
#define EQS_IDX_FIRST_RECORDS 1024u

typedef struct {
    FILE *f;
    const char *path;
    uint64_t off;      /* uncompressed bytes delivered so far */
    uint64_t size;     /* file size in bytes (fstat) */
    uint64_t in_off;   /* file bytes read into `in` so far */
    int gz;            /* 1: gzip members, 0: a raw IDX file */
    int z_live;        /* inflateInit2 done */
    int member_end;    /* inflate reached the end of a member */
    int eof;           /* the file is read to its end */
    z_stream z;        /* next_in/avail_in also serve raw files */
    unsigned char *in; /* EQS_IDX_IN_BUFFER bytes */
    unsigned char *ob; /* gzip: EQS_IDX_OUT_BUFFER inflated bytes ... */
    size_t ob_pos, ob_len; /* ... of which [ob_pos, ob_len) not yet delivered */
} idx_file;

/* Read the next block of the file into fl->in (after the `keep` bytes
 * still unread, moved to the front). */
static eqs_status idx_refill(eqs_ctx *ctx, idx_file *fl)
{
    size_t keep = fl->z.avail_in;
    if (keep) memmove(fl->in, fl->z.next_in, keep);
    size_t k = fread(fl->in + keep, 1, EQS_IDX_IN_BUFFER - keep, fl->f);
    if (k == 0) {
        if (ferror(fl->f))
            return EQS_ERROR(ctx, EQS_ERR_IO, "%s: read error at byte %llu of the file: %s",
                             fl->path, (unsigned long long)fl->in_off, strerror(errno));
        fl->eof = 1;
    }
    fl->in_off += k;
    fl->z.next_in = fl->in;
    fl->z.avail_in = (uInt)(keep + k);
    return EQS_OK;
}

/* Deliver up to n uncompressed bytes; *got < n only at the end of the
 * data (a clean end of the last gzip member, or of a raw file). */
static eqs_status idx_pull(eqs_ctx *ctx, idx_file *fl, unsigned char *dst, size_t n,
                           size_t *got, const char *what)
{
    eqs_status st;
    *got = 0;
    while (*got < n) {
        if (fl->z.avail_in == 0 && !fl->eof && (st = idx_refill(ctx, fl))) return st;
        if (!fl->gz) {
            if (fl->z.avail_in == 0) return EQS_OK;
            size_t k = fl->z.avail_in < n - *got ? fl->z.avail_in : n - *got;
            memcpy(dst + *got, fl->z.next_in, k);
            fl->z.next_in += k;
            fl->z.avail_in -= (uInt)k;
            *got += k;
            continue;
        }
        if (fl->ob_pos < fl->ob_len) {
            size_t k = fl->ob_len - fl->ob_pos < n - *got ? fl->ob_len - fl->ob_pos : n - *got;
            memcpy(dst + *got, fl->ob + fl->ob_pos, k);
            fl->ob_pos += k;
            *got += k;
            continue;
        }
        if (fl->member_end) {
            /* after a member: the end of the file, another member, or garbage */
            if (fl->z.avail_in == 0) {
                if (fl->eof) return EQS_OK;
                continue;
            }
            if (fl->z.avail_in == 1 && !fl->eof) {
                if ((st = idx_refill(ctx, fl))) return st;
                continue;
            }
            unsigned long long at = (unsigned long long)(fl->in_off - fl->z.avail_in);
            if (fl->z.avail_in < 2 || fl->z.next_in[0] != 0x1f || fl->z.next_in[1] != 0x8b)
                return EQS_ERROR(ctx, EQS_ERR_INPUT,
                                 "%s: trailing garbage at byte %llu of the file, after the end "
                                 "of the gzip stream (%llu bytes of IDX data)",
                                 fl->path, at, (unsigned long long)(fl->off + *got));
            if (inflateReset(&fl->z) != Z_OK)
                return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "%s: inflateReset failed", fl->path);
            fl->member_end = 0; /* concatenated members are one stream, as for gzip -d */
            continue;
        }
        fl->z.next_out = fl->ob;
        fl->z.avail_out = EQS_IDX_OUT_BUFFER;
        int r = inflate(&fl->z, Z_NO_FLUSH);
        fl->ob_pos = 0;
        fl->ob_len = EQS_IDX_OUT_BUFFER - fl->z.avail_out;
        if (r == Z_STREAM_END) {
            fl->member_end = 1;
            continue;
        }
        if (r == Z_OK) continue;
        if (r == Z_BUF_ERROR && !(fl->z.avail_in == 0 && fl->eof)) continue;
        /* deliver what was inflated before the error first: the next call
         * fails again (zlib stays in its error state), at the exact offset */
        if (fl->ob_len > 0) continue;
        unsigned long long at = (unsigned long long)(fl->off + *got);
        if (r == Z_MEM_ERROR)
            return EQS_ERROR(ctx, EQS_ERR_NOMEM, "%s: out of memory decompressing", fl->path);
        if (r == Z_BUF_ERROR)
            return EQS_ERROR(ctx, EQS_ERR_IO,
                             "%s: truncated gzip stream at byte %llu (%s): unexpected end of "
                             "file",
                             fl->path, at, what);
        return EQS_ERROR(ctx, EQS_ERR_IO,
                         "%s: corrupt gzip stream at byte %llu (%s): %s (byte %llu of the "
                         "file)",
                         fl->path, at, what, fl->z.msg ? fl->z.msg : "inflate failed",
                         (unsigned long long)(fl->in_off - fl->z.avail_in));
    }
    return EQS_OK;
}

/* Read exactly n bytes; on failure an error naming the file, the byte
 * offset and `what` (a record description). */
static eqs_status idx_read(eqs_ctx *ctx, idx_file *fl, void *buf, size_t n, const char *what)
{
    size_t got = 0;
    eqs_status st = idx_pull(ctx, fl, buf, n, &got, what);
    if (st) return st;
    if (got < n)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: truncated at byte %llu (%s)", fl->path,
                         (unsigned long long)(fl->off + got), what);
    fl->off += n;
    return EQS_OK;
}

static uint32_t be32(const unsigned char *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static eqs_status idx_open(eqs_ctx *ctx, idx_file *fl, const char *path)
{
    memset(fl, 0, sizeof *fl);
    fl->path = path;
    eqs_file_info fi;
    fl->f = eqs_file_open(ctx, path, "dataset file", EQS_NOLOC, EQS_ERR_IO, &fi);
    if (!fl->f) return eqs_ctx_status(ctx) ? eqs_ctx_status(ctx) : EQS_ERR_IO;
    fl->size = fi.size;
    fl->in = eqs_malloc(ctx, EQS_IDX_IN_BUFFER);
    if (!fl->in) return EQS_ERR_NOMEM;
    eqs_status st = idx_refill(ctx, fl);
    if (st) return st;
    /* gzip by its magic bytes (an IDX file starts with 00 00) */
    if (fl->z.avail_in >= 2 && fl->in[0] == 0x1f && fl->in[1] == 0x8b) {
        fl->gz = 1;
        fl->ob = eqs_malloc(ctx, EQS_IDX_OUT_BUFFER);
        if (!fl->ob) return EQS_ERR_NOMEM;
        if (inflateInit2(&fl->z, 15 + 16) != Z_OK) /* gzip wrapper only */
            return EQS_ERROR(ctx, EQS_ERR_NOMEM, "%s: out of memory starting zlib", path);
        fl->z_live = 1;
    }
    return EQS_OK;
}

static void idx_close(eqs_ctx *ctx, idx_file *fl)
{
    if (fl->z_live) inflateEnd(&fl->z);
    if (fl->f) fclose(fl->f);
    eqs_free(ctx, fl->in);
    eqs_free(ctx, fl->ob);
    fl->ob = NULL;
    fl->z_live = 0;
    fl->f = NULL;
    fl->in = NULL;
}

/* The data a header announces must fit the file: exactly, for a raw
 * file (its size is known); within deflate's largest expansion of the
 * compressed size, for gzip (the stream itself is checked as it is read). */
static eqs_status idx_check_size(eqs_ctx *ctx, const idx_file *fl, uint32_t count,
                                 size_t rec_size)
{
    uint64_t hdr = fl->off, total = hdr + (uint64_t)count * rec_size;
    if (fl->gz) {
        uint64_t most = fl->size * EQS_GZIP_MAX_RATIO;
        if (total > most)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "%s: the header (bytes 0..%llu) announces %u records of %zu "
                             "bytes, %llu bytes in all, more than a %llu-byte gzip file can "
                             "hold (deflate expands at most %u:1)",
                             fl->path, (unsigned long long)hdr - 1, (unsigned)count, rec_size,
                             (unsigned long long)total, (unsigned long long)fl->size,
                             EQS_GZIP_MAX_RATIO);
        return EQS_OK;
    }
    if (fl->size < total) {
        uint64_t whole = (fl->size - hdr) / rec_size;
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: truncated at byte %llu (record %llu of %u): the header announces "
                         "%u records of %zu bytes, %llu bytes in all",
                         fl->path, (unsigned long long)fl->size, (unsigned long long)whole,
                         (unsigned)count, (unsigned)count, rec_size, (unsigned long long)total);
    }
    if (fl->size > total)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: unexpected data at byte %llu after the last of %u records "
                         "announced by the header (the file has %llu bytes)",
                         fl->path, (unsigned long long)total, (unsigned)count,
                         (unsigned long long)fl->size);
    return EQS_OK;
}

/* Read an IDX header: magic 00 00 08 ndims, then ndims big-endian
 * counts.  `want_ndims` lists the accepted dimension counts (labels: 1;
 * images: 2 or 3).  Returns the record count and the record size, checked
 * against the file (idx_check_size). */
static eqs_status idx_header(eqs_ctx *ctx, idx_file *fl, int min_ndims, int max_ndims,
                             const char *kind, uint32_t *count, size_t *rec_size)
{
    unsigned char h[4];
    eqs_status st = idx_read(ctx, fl, h, 4, "magic number");
    if (st) return st;
    uint32_t magic = be32(h);
    if (h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] < min_ndims || h[3] > max_ndims) {
        if (min_ndims == max_ndims)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "%s: bad magic number 0x%08x at byte 0 (an IDX %s file of "
                             "unsigned bytes starts with 0x%08x)",
                             fl->path, (unsigned)magic, kind, 0x800u + (unsigned)min_ndims);
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: bad magic number 0x%08x at byte 0 (an IDX %s file of unsigned "
                         "bytes starts with 0x%08x..0x%08x)",
                         fl->path, (unsigned)magic, kind, 0x800u + (unsigned)min_ndims,
                         0x800u + (unsigned)max_ndims);
    }
    int ndims = h[3];
    size_t rsz = 1;
    for (int k = 0; k < ndims; ++k) {
        unsigned char b[4];
        st = idx_read(ctx, fl, b, 4, "header");
        if (st) return st;
        uint32_t v = be32(b);
        if (k == 0) {
            *count = v;
            continue;
        }
        if (v == 0 || v > EQS_DATASET_MAX_FEATURES || rsz * v > EQS_DATASET_MAX_FEATURES)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "%s: dimension %d of the header (byte %d) is %u: records must "
                             "have 1 to %d values",
                             fl->path, k, 4 + 4 * k, (unsigned)v, EQS_DATASET_MAX_FEATURES);
        rsz *= v;
    }
    if (*count == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: the header announces 0 records", fl->path);
    *rec_size = rsz;
    return idx_check_size(ctx, fl, *count, rsz);
}

/* After the records read: the rest of the stream is decompressed (and
 * dropped) so that a corrupt gzip file fails even with a limit (CRC-32
 * and length of every member, trailing garbage); then the data must end
 * exactly after the last record announced.  A raw file's size was checked
 * with its header. */
static eqs_status idx_finish(eqs_ctx *ctx, idx_file *fl, uint64_t total, uint32_t count,
                             size_t rec_size, unsigned char *scratch, size_t scratch_len)
{
    if (!fl->gz) return EQS_OK;
    eqs_status st;
    char what[96];
    uint64_t hdr = total - (uint64_t)count * rec_size;
    while (fl->off < total) {
        uint64_t left = total - fl->off;
        size_t want = left < scratch_len ? (size_t)left : scratch_len, got = 0;
        snprintf(what, sizeof what, "record %llu of %u",
                 (unsigned long long)((fl->off - hdr) / rec_size), (unsigned)count);
        if ((st = idx_pull(ctx, fl, scratch, want, &got, what))) return st;
        fl->off += got;
        if (got < want)
            return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: truncated at byte %llu (record %llu of %u)",
                             fl->path, (unsigned long long)fl->off,
                             (unsigned long long)((fl->off - hdr) / rec_size), (unsigned)count);
    }
    size_t extra = 0;
    if ((st = idx_pull(ctx, fl, scratch, 1, &extra, "after the last record"))) return st;
    if (extra)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: unexpected data at byte %llu after the last of %u records "
                         "announced by the header",
                         fl->path, (unsigned long long)fl->off, (unsigned)count);
    return EQS_OK;
}

/* Grow the sample arrays of ds to `cap` records of d features. */
static eqs_status idx_grow(eqs_ctx *ctx, eqs_dataset *ds, size_t cap, size_t d)
{
    double *x = eqs_realloc(ctx, ds->x, cap * d * sizeof *x);
    if (!x) return EQS_ERR_NOMEM;
    eqs_advise_huge(x, cap * d * sizeof *x); /* first touch costs more than inflating */
    ds->x = x;
    int *y = eqs_realloc(ctx, ds->y, cap * sizeof *y);
    if (!y) return EQS_ERR_NOMEM;
    ds->y = y;
    return EQS_OK;
}

eqs_status eqs_dataset_read_idx(eqs_ctx *ctx, const char *images_path,
                                const char *labels_path, const eqs_dataset_options *opt,
                                eqs_dataset **out)
{
    eqs_dataset_options defaults;
    if (!opt) {
        eqs_dataset_options_defaults(&defaults);
        opt = &defaults;
    }
    *out = NULL;
    idx_file im, lb;
    memset(&im, 0, sizeof im);
    memset(&lb, 0, sizeof lb);
    eqs_dataset *ds = NULL;
    unsigned char *rec = NULL;
    eqs_status st;
    uint32_t n_img = 0, n_lab = 0;
    size_t d = 0, one = 0;
    char what[96];

    if ((st = idx_open(ctx, &lb, labels_path))) goto fail;
    if ((st = idx_header(ctx, &lb, 1, 1, "label", &n_lab, &one))) goto fail;
    if ((st = idx_open(ctx, &im, images_path))) goto fail;
    if ((st = idx_header(ctx, &im, 2, 3, "image", &n_img, &d))) goto fail;
    if (n_img != n_lab) {
        st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                       "%s: %u images, but %s has %u labels (the counts must match)",
                       images_path, (unsigned)n_img, labels_path, (unsigned)n_lab);
        goto fail;
    }
    size_t n = n_img;
    if (opt->limit > 0 && opt->limit < n) n = opt->limit;
    /* raw files were checked against their size: allocate once; gzip
     * files: grow as the records arrive */
    size_t cap = n;
    if ((im.gz || lb.gz) && cap > EQS_IDX_FIRST_RECORDS) cap = EQS_IDX_FIRST_RECORDS;
    if (n > EQS_DATASET_MAX_BYTES / sizeof(double) / d) {
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: %zu samples of %zu features is too large",
                       images_path, n, d);
        goto fail;
    }
    if ((st = dataset_alloc(ctx, cap, (int)d, images_path, &ds))) goto fail;
    rec = eqs_malloc(ctx, d > EQS_IDX_IN_BUFFER ? d : EQS_IDX_IN_BUFFER);
    if (!rec) {
        st = EQS_ERR_NOMEM;
        goto fail;
    }
    /* one record at a time: its label (one byte), its d pixels (scaled to [0,1]) */
    uint64_t lab0 = lb.off;
    for (size_t i = 0; i < n; ++i) {
        if (i == cap) {
            size_t ncap = cap > n / 2 ? n : 2 * cap;
            if ((st = idx_grow(ctx, ds, ncap, d))) goto fail;
            cap = ncap;
        }
        unsigned char l;
        snprintf(what, sizeof what, "record %zu of %u", i, (unsigned)n_img);
        if ((st = idx_read(ctx, &lb, &l, 1, what))) goto fail;
        if (opt->n_classes > 0 && l >= opt->n_classes) {
            st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                           "%s: record %zu (byte %llu): label %u is out of range for %d "
                           "classes",
                           labels_path, i, (unsigned long long)(lab0 + i), l, opt->n_classes);
            goto fail;
        }
        ds->y[i] = l;
        if ((st = idx_read(ctx, &im, rec, d, what))) goto fail;
        double *x = ds->x + i * d;
        for (size_t k = 0; k < d; ++k) x[k] = rec[k] / 255.0;
    }
    ds->n = n;
    if ((st = idx_finish(ctx, &im, im.off + (uint64_t)(n_img - n) * d, n_img, d, rec,
                         EQS_IDX_IN_BUFFER)) ||
        (st = idx_finish(ctx, &lb, lb.off + (uint64_t)(n_lab - n), n_lab, 1, rec,
                         EQS_IDX_IN_BUFFER)))
        goto fail;
    finish_labels(ds, opt->n_classes);
    eqs_free(ctx, rec);
    idx_close(ctx, &im);
    idx_close(ctx, &lb);
    *out = ds;
    return EQS_OK;

fail:
    eqs_free(ctx, rec);
    eqs_dataset_free(&ds);
    idx_close(ctx, &im);
    idx_close(ctx, &lb);
    return st ? st : EQS_ERR_INTERNAL;
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */
/* ------------------------------------------------------------------ */
/* One field of a line: [s, e) trimmed of blanks, 1-based column. */
typedef struct {
    const char *s, *e;
    int col;
} csv_field;

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Split [line, end) at commas into fields (trimmed).  Returns the count;
 * at most `max` are stored (the count may be larger). */
static int csv_split(const char *line, const char *end, csv_field *f, int max)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        const char *q = p;
        while (q < end && *q != ',') ++q;
        const char *s = p, *e = q;
        while (s < e && is_blank(*s)) ++s;
        while (e > s && is_blank(e[-1])) --e;
        if (n < max) {
            f[n].s = s;
            f[n].e = e;
            f[n].col = (int)(s - line) + 1;
        }
        ++n;
        if (q >= end) break;
        p = q + 1;
    }
    return n;
}

/* Parse a finite double filling the whole field. */
static int field_double(const csv_field *f, double *v)
{
    char buf[128];
    size_t len = (size_t)(f->e - f->s);
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, f->s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    /* reject hex floats, inf and nan spelled out; accept underflow */
    if (*end != '\0' || !isfinite(*v) || strpbrk(buf, "xXnN")) return 0;
    return 1;
}

/* Parse a non-negative integer label (digits only). */
static int field_label(const csv_field *f, long *v)
{
    if (f->s == f->e) return 0;
    long x = 0;
    for (const char *p = f->s; p < f->e; ++p) {
        if (*p < '0' || *p > '9') return 0;
        x = x * 10 + (*p - '0');
        if (x > INT_MAX) return 0;
    }
    *v = x;
    return 1;
}

/* Next line in [p, end): sets *eol to the line end (without '\n'). */
static const char *next_line(const char *p, const char *end, const char **eol)
{
    const char *q = memchr(p, '\n', (size_t)(end - p));
    if (!q) q = end;
    *eol = q;
    return q < end ? q + 1 : end;
}

/* A line to skip: blank or a '#' comment. */
static int skip_line(const char *s, const char *e)
{
    while (s < e && is_blank(*s)) ++s;
    return s == e || *s == '#';
}

/* The whole file (core/file.c: regular files only).  A CSV dataset is
 * text: a NUL byte anywhere is an error at its line and column (strtod
 * would otherwise stop there and read "0.2<NUL>garbage" as 0.2). */
static eqs_status csv_read_file(eqs_ctx *ctx, const char *path, char **buf, size_t *len)
{
    eqs_status st =
        eqs_file_read(ctx, path, "dataset file", EQS_NOLOC, EQS_ERR_IO, buf, len, NULL);
    if (st) return st;
    const char *nul = memchr(*buf, '\0', *len);
    if (!nul) return EQS_OK;
    int line = 1;
    const char *bol = *buf;
    for (const char *p = *buf; p < nul; ++p)
        if (*p == '\n') {
            ++line;
            bol = p + 1;
        }
    eqs_free(ctx, *buf);
    *buf = NULL;
    return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, line, (int)(nul - bol) + 1}),
                        "NUL byte in a CSV field (the file is not text)");
}

eqs_status eqs_dataset_read_csv(eqs_ctx *ctx, const char *path,
                                const eqs_dataset_options *opt, eqs_dataset **out)
{
    eqs_dataset_options defaults;
    if (!opt) {
        eqs_dataset_options_defaults(&defaults);
        opt = &defaults;
    }
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    csv_field *f = NULL;
    eqs_dataset *ds = NULL;
    eqs_status st = csv_read_file(ctx, path, &buf, &len);
    if (st) return st;
    const char *end = buf + len;
    /* a UTF-8 byte-order mark is not part of the first field */
    const char *start = buf;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) start += 3;

    /* First pass: the first non-skipped line fixes the column count and
     * tells whether there is a header; count the data rows. */
    const char *p = start, *eol;
    int line = 0, ncol = 0, first_line = 0, header = 0;
    const char *first = NULL, *first_end = NULL;
    size_t rows = 0;
    while (p < end) {
        const char *s = p;
        p = next_line(p, end, &eol);
        ++line;
        if (skip_line(s, eol)) continue;
        if (!first) {
            first = s;
            first_end = eol;
            first_line = line;
            continue;
        }
        ++rows;
    }
    if (!first) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, line > 0 ? line : 1, 1}),
                          "empty dataset file (no data rows)");
        goto done;
    }
    ncol = csv_split(first, first_end, NULL, 0);
    if (ncol < 2) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, first_line, 1}),
                          "a CSV dataset needs at least two columns (features and a label), "
                          "found %d",
                          ncol);
        goto done;
    }
    f = eqs_malloc(ctx, (size_t)ncol * sizeof *f);
    if (!f) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    csv_split(first, first_end, f, ncol);
    if (opt->header >= 0) {
        header = opt->header;
    } else {
        for (int k = 0; k < ncol && !header; ++k) {
            double v;
            if (!field_double(&f[k], &v)) header = 1;
        }
    }
    if (!header) ++rows;

    /* the label column */
    int lab = ncol - 1;
    if (opt->label_column) {
        const char *lc = opt->label_column;
        char *e;
        long v = strtol(lc, &e, 10);
        if (*lc >= '0' && *lc <= '9' && *e == '\0') {
            if (v < 1 || v > ncol) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, first_line, 1}),
                                  "label column %ld does not exist (the file has %d columns)",
                                  v, ncol);
                goto done;
            }
            lab = (int)v - 1;
        } else {
            lab = -1;
            for (int k = 0; header && k < ncol && lab < 0; ++k)
                if ((size_t)(f[k].e - f[k].s) == strlen(lc) &&
                    !strncmp(f[k].s, lc, strlen(lc)))
                    lab = k;
            if (lab < 0) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, first_line, 1}),
                                  header ? "no column named '%s' in the header"
                                         : "label column '%s' given by name, but the file "
                                           "has no header row",
                                  lc);
                goto done;
            }
        }
    }
    if (rows == 0) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, first_line, 1}),
                          "empty dataset file (a header but no data rows)");
        goto done;
    }
    if (opt->limit > 0 && opt->limit < rows) rows = opt->limit;
    if ((st = dataset_alloc(ctx, rows, ncol - 1, path, &ds))) goto done;

    /* Second pass: parse the rows. */
    p = start;
    line = 0;
    size_t r = 0;
    while (p < end && r < rows) {
        const char *s = p;
        p = next_line(p, end, &eol);
        ++line;
        if (skip_line(s, eol)) continue;
        if (line == first_line && header) continue;
        int nf = csv_split(s, eol, f, ncol);
        if (nf != ncol) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, line, 1}),
                              "%d column%s, but the %s has %d (every row needs the same "
                              "number)",
                              nf, nf == 1 ? "" : "s", header ? "header" : "first row", ncol);
            goto done;
        }
        double *x = ds->x + r * (size_t)ds->d;
        for (int k = 0, j = 0; k < ncol; ++k) {
            eqs_loc loc = {path, line, f[k].col};
            if (k == lab) {
                long v;
                if (!field_label(&f[k], &v)) {
                    st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc,
                                      "label '%.*s' is not a non-negative integer",
                                      (int)(f[k].e - f[k].s), f[k].s);
                    goto done;
                }
                if (opt->n_classes > 0 && v >= opt->n_classes) {
                    st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc,
                                      "label %ld is out of range for %d classes", v,
                                      opt->n_classes);
                    goto done;
                }
                ds->y[r] = (int)v;
            } else {
                if (!field_double(&f[k], &x[j])) {
                    st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc,
                                      "feature '%.*s' is not a finite number",
                                      (int)(f[k].e - f[k].s), f[k].s);
                    goto done;
                }
                ++j;
            }
        }
        ++r;
    }
    finish_labels(ds, opt->n_classes);
    *out = ds;
    ds = NULL;
done:
    eqs_dataset_free(&ds);
    eqs_free(ctx, f);
    eqs_free(ctx, buf);
    return st;
}

/* ------------------------------------------------------------------ */
/* Synthetic tasks                                                     */
/* ------------------------------------------------------------------ */
/* splitmix64: the generator of the synthetic tasks (docs/datasets.md). */
static uint64_t sm64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double sm64_uniform(uint64_t *state)
{
    return (double)(sm64_next(state) >> 11) * 0x1.0p-53;
}

static double clip01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

eqs_status eqs_dataset_synthetic(eqs_ctx *ctx, const eqs_synthetic_spec *spec,
                                 eqs_dataset **out)
{
    *out = NULL;
    const char *name = spec->name ? spec->name : "";
    uint64_t s = spec->seed;
    char source[64];
    snprintf(source, sizeof source, "synthetic:%.40s", name);
    if (spec->n == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: the number of samples must be >= 1", source);
    if (eqs_str_ieq(name, "xor")) {
        double noise = spec->noise < 0 ? 0.15 : spec->noise;
        if ((spec->n_features != 0 && spec->n_features != 2) ||
            (spec->n_classes != 0 && spec->n_classes != 2))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "synthetic:xor has 2 features and 2 classes (asked for %d and %d)",
                             spec->n_features, spec->n_classes);
        if (!(noise < 0.25))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "synthetic:xor: noise %g must be < 0.25 so that the four clusters "
                             "stay apart",
                             noise);
        eqs_status st = dataset_alloc(ctx, spec->n, 2, "synthetic:xor", out);
        if (st) return st;
        for (size_t i = 0; i < spec->n; ++i) {
            uint64_t r = sm64_next(&s);
            int a = (int)(r >> 63), b = (int)((r >> 62) & 1);
            double u1 = sm64_uniform(&s), u2 = sm64_uniform(&s);
            (*out)->x[2 * i] = 0.25 + 0.5 * a + noise * (2.0 * u1 - 1.0);
            (*out)->x[2 * i + 1] = 0.25 + 0.5 * b + noise * (2.0 * u2 - 1.0);
            (*out)->y[i] = a ^ b;
        }
        (*out)->n_classes = 2;
        return EQS_OK;
    }
    if (eqs_str_ieq(name, "blobs")) {
        int d = spec->n_features ? spec->n_features : 4;
        int k = spec->n_classes ? spec->n_classes : 3;
        double noise = spec->noise < 0 ? 0.1 : spec->noise;
        if (d < 1 || d > 65536 || k < 2 || k > 65536 || !isfinite(noise))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "synthetic:blobs needs 1..65536 features and 2..65536 classes "
                             "and a finite noise (got %d, %d, %g)",
                             d, k, noise);
        double *c = eqs_malloc(ctx, (size_t)k * (size_t)d * sizeof *c);
        if (!c) return EQS_ERR_NOMEM;
        eqs_status st = dataset_alloc(ctx, spec->n, d, "synthetic:blobs", out);
        if (st) {
            eqs_free(ctx, c);
            return st;
        }
        for (size_t j = 0; j < (size_t)k * (size_t)d; ++j) c[j] = 0.2 + 0.6 * sm64_uniform(&s);
        for (size_t i = 0; i < spec->n; ++i) {
            int y = (int)(i % (size_t)k);
            double *x = (*out)->x + i * (size_t)d;
            for (int j = 0; j < d; ++j)
                x[j] = clip01(c[(size_t)y * (size_t)d + (size_t)j] +
                              noise * (2.0 * sm64_uniform(&s) - 1.0));
            (*out)->y[i] = y;
        }
        (*out)->n_classes = k;
        eqs_free(ctx, c);
        return EQS_OK;
    }
    return EQS_ERROR(ctx, EQS_ERR_INPUT, "unknown synthetic task '%s' (known: xor, blobs)",
                     name);
}

/* ------------------------------------------------------------------ */
/* The data of an experiment                                           */
/* ------------------------------------------------------------------ */
static eqs_status load_part(eqs_ctx *ctx, const eqs_experiment *e, const eqs_data_part *p,
                            eqs_dataset **out)
{
    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    opt.n_classes = e->n_classes;
    opt.limit = p->limit;
    if (e->data == EQS_DATA_IDX) return eqs_dataset_read_idx(ctx, p->images, p->labels, &opt, out);
    opt.label_column = e->label_column;
    opt.header = e->csv_header;
    return eqs_dataset_read_csv(ctx, p->path, &opt, out);
}

eqs_status eqs_experiment_load_data(eqs_ctx *ctx, const eqs_experiment *e,
                                    eqs_dataset **train, eqs_dataset **test)
{
    *train = NULL;
    *test = NULL;
    eqs_status st;
    if (e->data == EQS_DATA_SYNTHETIC) {
        eqs_synthetic_spec sp = e->synthetic;
        sp.n = e->synthetic_train + e->synthetic_test;
        eqs_dataset *all = NULL;
        if ((st = eqs_dataset_synthetic(ctx, &sp, &all))) return st;
        st = eqs_dataset_subset(ctx, all, 0, e->synthetic_train, train);
        if (!st && e->synthetic_test > 0)
            st = eqs_dataset_subset(ctx, all, e->synthetic_train, e->synthetic_test, test);
        eqs_dataset_free(&all);
    } else {
        if (!e->train.present)
            return EQS_ERROR(ctx, EQS_ERR_INPUT, "the experiment names no training data");
        st = load_part(ctx, e, &e->train, train);
        if (!st && e->test.present) st = load_part(ctx, e, &e->test, test);
        if (!st && *test && (*test)->d != (*train)->d)
            st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                           "%s: %d features per sample, but the training set (%s) has %d",
                           (*test)->source, (*test)->d, (*train)->source, (*train)->d);
    }
    if (st) {
        eqs_dataset_free(train);
        eqs_dataset_free(test);
        return st;
    }
    if (*test && (*test)->n_classes != (*train)->n_classes) {
        int k = (*test)->n_classes > (*train)->n_classes ? (*test)->n_classes
                                                         : (*train)->n_classes;
        (*test)->n_classes = (*train)->n_classes = k;
    }
    return EQS_OK;
}
