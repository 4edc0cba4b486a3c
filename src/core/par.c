/*
 * par.c: the ranks of a data-parallel run (eqs_par_*, eqspice_sim.h;
 * docs/cluster.md).  The one includer of <mpi.h>: built with MPI when the
 * Makefile finds OpenMPI (pkg-config ompi-c, EQS_HAVE_MPI), as one process
 * otherwise.  MPI is initialised only when a launcher started the process
 * (its environment variables), so a plain `eqspice train` never touches
 * MPI, even in an MPI build.
 *
 * Every collective here is deterministic: max is exact, gather_parts and
 * bcast copy bytes; there is no floating-point sum over ranks (the trainer
 * gathers what it sums and adds in one fixed order itself).
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#ifdef EQS_HAVE_MPI
#include <mpi.h>
#endif

static int par_rank = 0, par_size = 1, par_mpi = 0;
static double par_comm_s = 0; /* wall time inside collectives */

double eqs_par_comm_s(void) { return par_comm_s; }

#ifdef EQS_HAVE_MPI
#define COMM_BEGIN double comm_t0_ = MPI_Wtime()
#define COMM_END par_comm_s += MPI_Wtime() - comm_t0_
#endif

/* Started by an MPI launcher?  OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE,
 * Slurm's srun (PMI/PMIx) PMI_SIZE or PMIX_RANK, MPICH's Hydra PMI_SIZE. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int eqs_par_available(void)
{
#ifdef EQS_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int eqs_par_init(int *argc, char ***argv)
{
    if (!launched()) return 1;
#ifdef EQS_HAVE_MPI
    int provided = 0;
    /* FUNNELED: only the main thread calls MPI (the layered solver's helper
     * thread computes, never communicates) */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &par_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &par_size);
    par_mpi = 1;
    return par_size;
#else
    (void)argc;
    (void)argv;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (!n) n = getenv("SLURM_NTASKS");
    /* a launcher with one rank (or an unknown count: srun with PMIx sets
     * PMIX_RANK only) is one process either way */
    if (!n || !strcmp(n, "1")) return 1;
    return -1;
#endif
}

void eqs_par_finalize(void)
{
#ifdef EQS_HAVE_MPI
    if (par_mpi) MPI_Finalize();
#endif
    par_mpi = 0;
    par_rank = 0;
    par_size = 1;
}

int eqs_par_rank(void) { return par_rank; }
int eqs_par_size(void) { return par_size; }

int eqs_par_local_size(void)
{
    if (par_size <= 1) return 1; /* one process: the node is its own */
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!v) v = getenv("SLURM_NTASKS_PER_NODE");
    long n = v ? strtol(v, NULL, 10) : 1;
    return n >= 1 && n <= 1 << 20 ? (int)n : 1;
}

void eqs_par_share(size_t n, int rank, int size, size_t *first, size_t *count)
{
    size_t s = size > 0 ? (size_t)size : 1, r = (size_t)rank;
    size_t q = n / s, rem = n % s;
    *count = q + (r < rem);
    *first = r * q + (r < rem ? r : rem);
}

void eqs_par_max(double *v, int n)
{
#ifdef EQS_HAVE_MPI
    if (par_size <= 1 || n <= 0) return;
    COMM_BEGIN;
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    COMM_END;
#else
    (void)v;
    (void)n;
#endif
}

int eqs_par_agree(int code)
{
#ifdef EQS_HAVE_MPI
    if (par_size > 1) {
        COMM_BEGIN;
        MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        COMM_END;
    }
#endif
    return code;
}

void eqs_par_bcast(void *buf, size_t bytes, int root)
{
#ifdef EQS_HAVE_MPI
    if (par_size <= 1) return;
    char *p = buf;
    COMM_BEGIN;
    while (bytes > 0) { /* MPI counts are int */
        int chunk = bytes > (size_t)1 << 30 ? 1 << 30 : (int)bytes;
        MPI_Bcast(p, chunk, MPI_BYTE, root, MPI_COMM_WORLD);
        p += chunk;
        bytes -= (size_t)chunk;
    }
    COMM_END;
#else
    (void)buf;
    (void)bytes;
    (void)root;
#endif
}

void eqs_par_part_rows(size_t n_rows, size_t n_parts, int rank, int size, size_t *first,
                       size_t *count)
{
    size_t pf, pc, f0, c0, f1, c1;
    if (n_parts == 0) n_parts = 1;
    eqs_par_share(n_parts, rank, size, &pf, &pc);
    eqs_par_share(n_rows, (int)pf, (int)n_parts, &f0, &c0);
    if (pc == 0) {
        *first = f0 < n_rows ? f0 : n_rows;
        *count = 0;
        return;
    }
    eqs_par_share(n_rows, (int)(pf + pc - 1), (int)n_parts, &f1, &c1);
    *first = f0;
    *count = f1 + c1 - f0;
}

void eqs_par_gather_parts(void *buf, size_t n_rows, size_t row_bytes, size_t n_parts)
{
#ifdef EQS_HAVE_MPI
    if (par_size <= 1 || n_rows == 0 || row_bytes == 0) return;
    /* the same choice on every rank: by size only */
    if (n_rows * row_bytes > (size_t)1 << 30) {
        /* a share too large for an int count: a bcast per rank instead
         * (the same bytes) */
        for (int r = 0; r < par_size; ++r) {
            size_t f, c;
            eqs_par_part_rows(n_rows, n_parts, r, par_size, &f, &c);
            eqs_par_bcast((char *)buf + f * row_bytes, c * row_bytes, r);
        }
        return;
    }
    int *cnt = malloc(2 * (size_t)par_size * sizeof *cnt);
    if (!cnt) { /* the other ranks are in the gather: stop them all */
        fputs("eqspice: out of memory in a gather of the MPI ranks\n", stderr);
        eqs_par_abort(2);
    }
    int *dsp = cnt + par_size;
    for (int r = 0; r < par_size; ++r) {
        size_t f, c;
        eqs_par_part_rows(n_rows, n_parts, r, par_size, &f, &c);
        cnt[r] = (int)(c * row_bytes);
        dsp[r] = (int)(f * row_bytes);
    }
    COMM_BEGIN;
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, dsp, MPI_BYTE, MPI_COMM_WORLD);
    COMM_END;
    free(cnt);
#else
    (void)buf;
    (void)n_rows;
    (void)row_bytes;
    (void)n_parts;
#endif
}

void eqs_par_abort(int code)
{
#ifdef EQS_HAVE_MPI
    if (par_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}
