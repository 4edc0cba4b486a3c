/* cmd_handoff.c: `eqspice export RUNDIR|NETLIST -o DIR` and `eqspice import
 * DIR|CSV... --into RUNDIR|NETLIST -o OUT.cir`: the hand-off to hardware
 * teams (docs/export.md; the library's eqs_handoff_*). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const cli_opt export_opts[] = {
    {"-o, --output", "DIR", "the directory to create (must not exist)", CLI_SYN_REQUIRED},
    {"--format", "all|csv|spice", "what to write: all (default), the conductance maps "
                                  "(csv) or top.cir (spice)", 0},
    {NULL, NULL, NULL, 0},
};
static const cli_command export_cmd = {
    "export", "RUNDIR|NETLIST",
    "Hand-off to hardware teams (docs/export.md): a new directory DIR with one\n"
    "conductance map per crossbar (DIR/<name>.csv: rows = input lines, columns\n"
    "= output lines, siemens, %.17g, '# ' header lines naming the crossbar, its\n"
    "nodes, units and device model) and DIR/top.cir (plain R, D and sources with\n"
    "the network's evaluation cards as comments and .op; stock 'ngspice -b' runs\n"
    "it as is).  RUNDIR: its trained.cir.  Written into DIR.tmp.<pid> and renamed;\n"
    "nothing is left on error.\n",
    {export_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

static const cli_opt import_opts[] = {
    {"--into", "RUNDIR|NETLIST", "the network the maps belong to (RUNDIR: its trained.cir)",
     CLI_SYN_REQUIRED},
    {"-o, --output", "OUT", "the netlist to write (with the evaluation cards of --into)",
     CLI_SYN_REQUIRED},
    {NULL, NULL, NULL, 0},
};
static const cli_command import_cmd = {
    "import", "DIR|CSV...",
    "Read conductance maps (the format of 'eqspice export'; '# units: S' or\n"
    "'# units: ohm'; an empty, nan or dead cell is a dead device, an open circuit)\n"
    "into the network of --into and write it as the netlist OUT, which 'eqspice\n"
    "eval OUT --idx ...' evaluates.  DIR: every DIR/*.csv except *.level.csv,\n"
    "*.pulses.csv, *.gpos.csv, *.gneg.csv.  Every file is checked (shape, numbers,\n"
    "sign, units) before anything is written; errors name file:line:col.\n",
    {import_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* RUNDIR -> RUNDIR/trained.cir (malloc'd), else a copy of p. */
static char *network_path(const char *p)
{
    size_t n = strlen(p) + 16;
    char *s = malloc(n);
    if (!s) return NULL;
    if (is_dir(p)) snprintf(s, n, "%s/trained.cir", p);
    else snprintf(s, n, "%s", p);
    return s;
}

int cli_cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    unsigned what = 0;
    if (cli_check_options(&export_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(stdout, &export_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) return cli_usage_error("export", "%s needs a value", a);
            out = argv[i];
        } else if (!strcmp(a, "--format")) {
            if (++i >= argc) return cli_usage_error("export", "%s needs a value", a);
            if (!strcmp(argv[i], "all")) what = EQS_HANDOFF_CSV | EQS_HANDOFF_SPICE;
            else if (!strcmp(argv[i], "csv")) what = EQS_HANDOFF_CSV;
            else if (!strcmp(argv[i], "spice")) what = EQS_HANDOFF_SPICE;
            else return cli_usage_error("export", "unknown format '%s'", argv[i]);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("export", "more than one network given ('%s')", a);
        }
    }
    if (!in) return cli_usage_error("export", "no RUNDIR or NETLIST given");
    if (!out) return cli_usage_error("export", "no output directory (-o DIR)");
    char *path = network_path(in);
    if (!path) return CLI_INTERNAL;
    eqs_ctx *ctx = cli_ctx_create(0);
    if (!ctx) {
        free(path);
        return CLI_INTERNAL;
    }
    cli_loaded L;
    int rc = CLI_OK;
    eqs_status st = cli_load(ctx, path, &L);
    if (st == EQS_OK) {
        st = eqs_handoff_export(ctx, L.c, out, what);
        cli_unload(&L);
    }
    if (st != EQS_OK) rc = cli_fail(ctx, st);
    eqs_ctx_free(&ctx);
    free(path);
    return rc;
}

static int companion(const char *name)
{
    static const char *const sfx[] = {".level.csv", ".pulses.csv", ".gpos.csv", ".gneg.csv"};
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; ++k) {
        size_t m = strlen(sfx[k]);
        if (n > m && !strcmp(name + n - m, sfx[k])) return 1;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_cmd_import(int argc, char **argv)
{
    const char *into = NULL, *out = NULL;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    int nf = 0, rc = CLI_OK;
    if (!files) return CLI_INTERNAL;
    if (cli_check_options(&import_cmd, argc, argv, 1)) {
        free(files);
        return CLI_USER;
    }
    for (int i = 1; i < argc && rc == CLI_OK; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(stdout, &import_cmd);
            for (int k = 0; k < nf; ++k) free(files[k]);
            free(files);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) rc = cli_usage_error("import", "%s needs a value", a);
            else out = argv[i];
        } else if (!strcmp(a, "--into")) {
            if (++i >= argc) rc = cli_usage_error("import", "%s needs a value", a);
            else into = argv[i];
        } else if (is_dir(a)) {
            DIR *d = opendir(a);
            if (!d) {
                rc = cli_usage_error("import", "cannot read directory '%s'", a);
                break;
            }
            int first = nf;
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                size_t n = strlen(de->d_name);
                if (n <= 4 || strcmp(de->d_name + n - 4, ".csv") || companion(de->d_name))
                    continue;
                char **nfiles = realloc(files, (size_t)(nf + 2) * sizeof *files);
                if (!nfiles) break;
                files = nfiles;
                size_t len = strlen(a) + n + 2;
                files[nf] = malloc(len);
                if (!files[nf]) break;
                snprintf(files[nf], len, "%s/%s", a, de->d_name);
                nf++;
            }
            closedir(d);
            qsort(files + first, (size_t)(nf - first), sizeof *files, by_name);
        } else {
            char **nfiles = realloc(files, (size_t)(nf + 2) * sizeof *files);
            if (!nfiles) {
                rc = CLI_INTERNAL;
                break;
            }
            files = nfiles;
            files[nf] = strdup(a);
            if (!files[nf]) rc = CLI_INTERNAL;
            else nf++;
        }
    }
    if (rc == CLI_OK && !into) rc = cli_usage_error("import", "no network (--into RUNDIR|NETLIST)");
    if (rc == CLI_OK && !out) rc = cli_usage_error("import", "no output netlist (-o OUT)");
    if (rc == CLI_OK && nf == 0) rc = cli_usage_error("import", "no conductance map given");
    char *path = rc == CLI_OK ? network_path(into) : NULL;
    if (rc == CLI_OK && !path) rc = CLI_INTERNAL;
    if (rc == CLI_OK) {
        eqs_ctx *ctx = cli_ctx_create(0);
        if (!ctx) rc = CLI_INTERNAL;
        else {
            cli_loaded L;
            eqs_status st = cli_load(ctx, path, &L);
            if (st == EQS_OK) {
                st = eqs_handoff_import_netlist(ctx, L.c, (const char *const *)files, nf, out);
                cli_unload(&L);
            }
            if (st != EQS_OK) rc = cli_fail(ctx, st);
            eqs_ctx_free(&ctx);
        }
    }
    free(path);
    for (int k = 0; k < nf; ++k) free(files[k]);
    free(files);
    return rc;
}
