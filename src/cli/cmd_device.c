/* cmd_device.c: `eqspice device MODEL.xml`: a device model's pulse response as CSV. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DEVICE_PULSES_DEFAULT 100 /* pulses printed without --pulses */
#define DEVICE_PULSES_MAX 10000000

static const cli_opt device_opts[] = {
    {"--pulses", "N", "number of pulses of each direction (default 100)", 0},
    {"--element", "K", "the device drawn for element K when the model has "
                       "device-to-device variation (default 0)", 0},
    {"-o, --output", "FILE", "write the CSV to FILE (default: stdout)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command device_cmd = {
    "device", "MODEL.xml",
    "Read the device model MODEL.xml (docs/devices.md) and print its noise-free\n"
    "pulse response as CSV pulse,G_up_S,G_down_S: row k has the conductance\n"
    "after k up pulses from G_min and after k down pulses from G_max, k = 0..N.\n",
    {device_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

int cli_cmd_device(int argc, char **argv)
{
    const char *model = NULL, *output = NULL;
    long pulses = DEVICE_PULSES_DEFAULT, element = 0;
    if (cli_check_options(&device_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &device_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--pulses")) {
            if (i + 1 >= argc || cli_parse_int(argv[++i], 0, DEVICE_PULSES_MAX, &pulses))
                return cli_usage_error("device", "--pulses needs an integer in [0, %d]",
                                       DEVICE_PULSES_MAX);
        } else if (!strcmp(a, "--element")) {
            if (i + 1 >= argc || cli_parse_int(argv[++i], 0, 2147483647L, &element))
                return cli_usage_error("device", "--element needs a non-negative integer");
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) return cli_usage_error("device", "%s needs a file", a);
            output = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("device", "unknown option '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            return cli_usage_error("device", "more than one model given ('%s')", a);
        }
    }
    if (!model) return cli_usage_error("device", "no device model given");

    eqs_ctx *ctx = cli_ctx_create(0);
    if (!ctx) return CLI_INTERNAL;
    eqs_device_law *law = NULL;
    eqs_status st = eqs_device_law_read(ctx, model, &law);
    if (st != EQS_OK) {
        int rc = cli_fail(ctx, st);
        eqs_ctx_free(&ctx);
        return rc;
    }
    const size_t n = (size_t)pulses + 1;
    double *up = malloc(n * sizeof *up), *down = malloc(n * sizeof *down);
    int rc = CLI_OK;
    if (!up || !down) {
        fprintf(stderr, "eqspice: error: out of memory\n");
        rc = CLI_INTERNAL;
        goto done;
    }
    eqs_device_inst dev;
    eqs_device_instance(law, (uint64_t)element, &dev);
    eqs_device_response(law, &dev, (int)pulses, up, down);
    cli_out o;
    if (cli_out_open(&o, output)) {
        rc = CLI_USER;
        goto done;
    }
    fprintf(o.f, "pulse,G_up_S,G_down_S\n");
    for (size_t k = 0; k < n; ++k) fprintf(o.f, "%zu,%.17g,%.17g\n", k, up[k], down[k]);
    if (cli_out_commit(&o)) rc = CLI_USER;
done:
    free(up);
    free(down);
    eqs_device_law_free(ctx, &law);
    eqs_ctx_free(&ctx);
    return rc;
}
