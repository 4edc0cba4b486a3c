/*
 * core.h: private header of the core module, used by every other module
 * of the library (never by cli/).  Context internals, error recording,
 * allocation wrappers with counters, logging, source locations, timing.
 */
#ifndef EQS_CORE_H
#define EQS_CORE_H

#include "../eqspice.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* A position in the user's input.  `file` points to a string owned by the
 * netlist's string pool (or a static string); line and col are 1-based; a
 * NULL file means "no location". */
typedef struct {
    const char *file;
    int line;
    int col;
} eqs_loc;

#define EQS_NOLOC ((eqs_loc){NULL, 0, 0})

#define EQS_ERRMSG_MAX 1024

struct eqs_ctx {
    eqs_log_fn log_fn;
    void *log_user;
    eqs_log_level log_max;

    eqs_status status;          /* last error */
    char message[EQS_ERRMSG_MAX]; /* formatted "file:line:col: error: msg" */
    const char *src_file;       /* where in eqspice the error was raised */
    int src_line;

    uint64_t seed;
    uint64_t rng[EQS_RNG_NSTREAMS][4];

    uint64_t n_alloc;           /* allocations through eqs_malloc & co */
    uint64_t n_free;
    eqs_allocator alloc;        /* hooks; libc wrappers by default */
};

/* Record an error (returns `code` so callers can `return EQS_ERROR(...)`).
 * The message is formatted printf-style.  The first error wins until
 * eqs_ctx_clear_error: later errors that are consequences do not overwrite
 * the root cause. */
eqs_status eqs_error_set(eqs_ctx *ctx, eqs_status code, eqs_loc loc, const char *src_file,
                         int src_line, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define EQS_ERROR(ctx, code, ...) \
    eqs_error_set((ctx), (code), EQS_NOLOC, __FILE__, __LINE__, __VA_ARGS__)
#define EQS_ERROR_AT(ctx, code, loc, ...) \
    eqs_error_set((ctx), (code), (loc), __FILE__, __LINE__, __VA_ARGS__)

/* Log at a level through the context sink. */
void eqs_log(eqs_ctx *ctx, eqs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Warning with a user location: "file:line:col: warning: msg". */
void eqs_warn_at(eqs_ctx *ctx, eqs_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation through the context: counted; on failure they record
 * EQS_ERR_NOMEM in ctx and return NULL.  eqs_free(ctx, NULL) is a no-op. */
void *eqs_malloc(eqs_ctx *ctx, size_t size);
void *eqs_calloc(eqs_ctx *ctx, size_t n, size_t size);
void *eqs_realloc(eqs_ctx *ctx, void *p, size_t size);
char *eqs_strdup(eqs_ctx *ctx, const char *s);
char *eqs_strndup(eqs_ctx *ctx, const char *s, size_t n);
void eqs_free(eqs_ctx *ctx, void *p);

/* Grow a dynamic array so that it holds at least `need` elements of size
 * `elem`; *cap is updated.  Returns EQS_OK or EQS_ERR_NOMEM. */
eqs_status eqs_grow(eqs_ctx *ctx, void **arr, size_t *cap, size_t need, size_t elem);

/* Hint that a large, freshly allocated array is about to be touched page
 * by page: ask for transparent huge pages on its 2 MiB-aligned interior
 * (Linux madvise; a no-op elsewhere or for blocks under 4 MiB).  On the
 * project's VMs first-touch page faults of the 1.6-million-element arrays
 * cost more than parsing or compiling them. */
void eqs_advise_huge(void *p, size_t size);

/* Monotonic wall-clock time in seconds. */
double eqs_now_s(void);

/* Lower-case a string in place; returns it. */
char *eqs_str_lower(char *s);
/* Case-insensitive equality. */
int eqs_str_ieq(const char *a, const char *b);
/* Glob match, case-insensitive, with * and ?. */
int eqs_glob_match(const char *pattern, const char *s);

/* Reading files (file.c).  Every reader of the library opens its input
 * through these: only regular files are accepted (a FIFO, /dev/zero, a
 * directory or a socket is refused with "cannot read <what> '<path>': not
 * a regular file (a FIFO)"), the open never blocks (O_NONBLOCK), and the
 * check is made with fstat on the descriptor that is read.  Errors are
 * recorded with `code` at `where` (EQS_NOLOC for none). */
typedef struct {
    uint64_t size; /* bytes, from fstat at open */
    uint64_t dev, ino;
} eqs_file_info;

/* A descriptor open for reading, or -1 (error recorded). */
int eqs_file_open_fd(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                     eqs_status code, eqs_file_info *info);
/* The same as a stdio stream ("rb"), or NULL (error recorded). */
FILE *eqs_file_open(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                    eqs_status code, eqs_file_info *info);
/* Only check that path names a readable regular file. */
eqs_status eqs_file_check(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                          eqs_status code);
/* The whole file in one NUL-terminated eqs_malloc'd buffer (*len without
 * the NUL); info may be NULL. */
eqs_status eqs_file_read(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                         eqs_status code, char **buf, size_t *len, eqs_file_info *info);

/* Atomic file writes (atomic.c): the one implementation behind every file
 * the library writes and behind the public eqs_output_* (the CLI's -o).
 * The data goes to "<path>.tmp.<pid>" in the same directory, is flushed
 * and fsync'd, and is renamed over `path` only when complete; the
 * directory is then fsync'd so that the rename itself survives a crash.
 * A reader therefore sees either the old file or the new one, never a
 * mixture; a crash leaves only the temporary file, which the run
 * directory removes when it is next opened (eqs_atomic_is_temp).  Files
 * are created with mode 0666 & ~umask.
 *
 * Write errors: the first failing write(2) is remembered (a->err) and the
 * stream swallows the rest, so ferror(a->f) stays 0 and writers need not
 * check each call; eqs_atomic_commit then fails with "cannot write
 * '<path>': <strerror>" (ENOSPC, EFBIG, EIO ...) and removes the
 * temporary file.  The eqs_atomic is the stream's cookie: do not copy or
 * move it between open and commit/abort. */
typedef struct {
    eqs_ctx *ctx;
    FILE *f;      /* the temporary file, open for writing */
    char *path;   /* the path asked for (owned; named in messages) */
    char *target; /* the file replaced: path, or where its symlink points (owned) */
    char *tmp;    /* temporary path (owned); NULL when written in place */
    int fd;       /* the temporary file's descriptor (f writes to it) */
    int err;      /* errno of the first failed write, 0 if none */
} eqs_atomic;

/* The temporary name is "<path>" EQS_ATOMIC_TEMP_INFIX "<pid>". */
#define EQS_ATOMIC_TEMP_INFIX ".tmp."
/* eqs_atomic_open_flags: an existing symlink is written through (the file
 * it names is replaced, the link stays) and an existing path that is not a
 * regular file (/dev/null, a FIFO, a terminal) is written in place, without
 * temporary file or rename.  Without it (the library's own files) path
 * itself is replaced. */
#define EQS_ATOMIC_FOLLOW 1u

/* Open "<path>.tmp.<pid>" for writing (binary).  EQS_ERR_IO naming path. */
eqs_status eqs_atomic_open(eqs_ctx *ctx, const char *path, eqs_atomic *a);
eqs_status eqs_atomic_open_flags(eqs_ctx *ctx, const char *path, unsigned flags, eqs_atomic *a);
/* Flush, fsync, close, rename over the final path, fsync the directory.
 * On any failure the temporary file is removed and EQS_ERR_IO recorded. */
eqs_status eqs_atomic_commit(eqs_atomic *a);
/* Close and remove the temporary file (after a failure); NULL-safe. */
void eqs_atomic_abort(eqs_atomic *a);
/* 1 when the directory entry `name` is a temporary file of an atomic write
 * of the file named `base` (same directory): "<base>.tmp.<digits>", or the
 * "<base>.tmpXXXXXX" that eqs_experiment_write made before it used
 * eqs_atomic_*; else 0. */
int eqs_atomic_is_temp(const char *name, const char *base);
/* fsync the directory holding `path` (best effort: 0 ok, -1 failed). */
int eqs_fsync_dir_of(const char *path);
/* write(2) all n bytes (retrying short writes and EINTR): 0 or the errno. */
int eqs_write_all(int fd, const void *buf, size_t n);

#endif /* EQS_CORE_H */
