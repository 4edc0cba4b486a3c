/* cmd_report.c: `eqspice report RUNDIR|SWEEPDIR -o report.html`: one
 * self-contained HTML file of a training run or a sweep (export/report.c). */
#include <string.h>

#include "cli.h"

static const cli_opt report_opts[] = {
    {"-o, --output", "FILE.html", "the report to write (required; written atomically)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command report_cmd = {
    "report", "RUNDIR|SWEEPDIR -o FILE.html",
    "Write one self-contained HTML file (XHTML, images embedded as data: URIs,\n"
    "no network address) about a run directory written by 'eqspice train'\n"
    "(metadata, learning curves of error and loss, the per-epoch table, per\n"
    "crossbar a conductance histogram and heatmaps before and after training,\n"
    "the device model's pulse response) or a sweep directory written by\n"
    "'eqspice sweep' (test error against each swept parameter with the spread\n"
    "over runs, and the table of runs).\n",
    {report_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

int cli_cmd_report(int argc, char **argv)
{
    if (cli_check_options(&report_cmd, argc, argv, 1)) return CLI_USER;
    const char *dir = NULL, *out = NULL;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &report_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) return cli_usage_error("report", "%s needs a file", a);
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("report", "unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
        } else {
            return cli_usage_error("report", "more than one directory given ('%s')", a);
        }
    }
    if (!dir) return cli_usage_error("report", "no run or sweep directory given");
    if (!out) return cli_usage_error("report", "-o FILE.html is required");
    eqs_ctx *ctx = cli_ctx_create(0);
    if (!ctx) return CLI_INTERNAL;
    eqs_status st = eqs_report_write(ctx, dir, out);
    int rc = st == EQS_OK ? CLI_OK : cli_fail(ctx, st);
    eqs_ctx_free(&ctx);
    return rc;
}
