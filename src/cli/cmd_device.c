/* cmd_device.c: `eqspice device MODEL.xml`: a device model's pulse response
 * as CSV and, with --plot, as a PNG. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DEVICE_PULSES_DEFAULT 100 /* pulses printed without --pulses */
#define DEVICE_PULSES_MAX 10000000
#define DEVICE_SWEEP_MAX 100000   /* --pulses sweep: at most this many pulses */
#define DEVICE_SWEEP_REL 0.01     /* sweep: until within this fraction of the window of the far bound */

static const cli_opt device_opts[] = {
    {"--pulses", "N", "number of pulses of each direction (default 100); 'sweep': as many\n"
                      "as the slower direction needs to come within 1 % of the window of\n"
                      "its far bound (at most 100000; 100 if pulses do not move the device)", 0},
    {"--element", "K", "the device drawn for element K when the model has "
                       "device-to-device variation (default 0)", 0},
    {"-o, --output", "FILE", "write the CSV to FILE (default: stdout)", 0},
    {"--plot", "FILE.png", "also draw the response as a 640x400 PNG (conductance in uS\n"
                           "against pulse number, up and down, titled with the model)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command device_cmd = {
    "device", "MODEL.xml",
    "Read the device model MODEL.xml (docs/devices.md) and print its noise-free\n"
    "pulse response as CSV pulse,G_up_S,G_down_S: row k has the conductance\n"
    "after k up pulses from G_min and after k down pulses from G_max, k = 0..N.\n"
    "With --plot the same response is drawn as a PNG (written before the CSV;\n"
    "a bad model writes neither).\n",
    {device_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

/* --pulses sweep: the fewest pulses after which both noise-free curves lie
 * within DEVICE_SWEEP_REL of the window of their far bound; `cap` if they
 * never do, DEVICE_PULSES_DEFAULT if the first pulse moves neither (the
 * ideal law, whose device is set, not pulsed). */
static long sweep_pulses(const eqs_device_inst *dev, const double *up, const double *down, long cap)
{
    if (cap < 1 || (up[1] == up[0] && down[1] == down[0])) return DEVICE_PULSES_DEFAULT;
    const double tol = DEVICE_SWEEP_REL * (dev->g_max_S - dev->g_min_S);
    for (long k = 0; k <= cap; ++k)
        if (up[k] >= dev->g_max_S - tol && down[k] <= dev->g_min_S + tol) return k;
    return cap;
}

int cli_cmd_device(int argc, char **argv)
{
    const char *model = NULL, *output = NULL, *plot = NULL;
    long pulses = DEVICE_PULSES_DEFAULT, element = 0;
    int sweep = 0;
    if (cli_check_options(&device_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &device_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--pulses")) {
            if (i + 1 < argc && !strcmp(argv[i + 1], "sweep")) {
                sweep = 1;
                ++i;
            } else if (i + 1 >= argc ||
                       cli_parse_int(argv[++i], 0, DEVICE_PULSES_MAX, &pulses))
                return cli_usage_error("device", "--pulses needs 'sweep' or an integer in [0, %d]",
                                       DEVICE_PULSES_MAX);
        } else if (!strcmp(a, "--element")) {
            if (i + 1 >= argc || cli_parse_int(argv[++i], 0, 2147483647L, &element))
                return cli_usage_error("device", "--element needs a non-negative integer");
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) return cli_usage_error("device", "%s needs a file", a);
            output = argv[++i];
        } else if (!strcmp(a, "--plot")) {
            if (i + 1 >= argc) return cli_usage_error("device", "--plot needs a file");
            plot = argv[++i];
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
    eqs_device_inst dev;
    eqs_device_instance(law, (uint64_t)element, &dev);
    const long cap = sweep ? DEVICE_SWEEP_MAX : pulses;
    const size_t n_max = (size_t)cap + 1;
    double *up = malloc(n_max * sizeof *up), *down = malloc(n_max * sizeof *down);
    int rc = CLI_OK;
    if (!up || !down) {
        fprintf(stderr, "eqspice: error: out of memory\n");
        rc = CLI_INTERNAL;
        goto done;
    }
    eqs_device_response(law, &dev, (int)cap, up, down);
    if (sweep) pulses = sweep_pulses(&dev, up, down, cap);
    const size_t n = (size_t)pulses + 1;
    if (plot) {
        const char *base = strrchr(model, '/');
        char title[512];
        snprintf(title, sizeof title, "Pulse response: %s", base ? base + 1 : model);
        st = eqs_plot_device_response(ctx, title, (int)pulses, up, down, plot);
        if (st != EQS_OK) {
            rc = cli_fail(ctx, st);
            goto done;
        }
    }
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
