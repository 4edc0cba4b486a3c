/* progress.c: training progress on stderr (cli.h): a live bar on a
 * terminal, one line per epoch otherwise. */
#include <math.h>
#include <unistd.h>

#include "cli.h"

void cli_progress_init(cli_progress *p, FILE *f, int tty, int epochs)
{
    p->f = f;
    p->tty = tty >= 0 ? (tty != 0) : isatty(fileno(f));
    p->epoch = 0;
    p->epochs = epochs;
    p->total = 0;
    p->t_start = p->t_drawn = 0;
    p->drawn = 0;
}

void cli_progress_epoch_begin(cli_progress *p, int epoch, size_t total, double now_s)
{
    p->epoch = epoch;
    p->total = total;
    p->t_start = now_s;
    p->t_drawn = -INFINITY; /* the first update draws */
}

static double rate(size_t done, double seconds)
{
    return seconds > 0 ? (double)done / seconds : 0.0;
}

void cli_progress_update(cli_progress *p, size_t done, double running_loss, double now_s)
{
    if (!p->tty) return;
    if (done < p->total && now_s - p->t_drawn < CLI_PROGRESS_INTERVAL_S) return;
    p->t_drawn = now_s;
    double frac = p->total ? (double)done / (double)p->total : 1.0;
    if (frac > 1) frac = 1;
    int fill = (int)(frac * CLI_PROGRESS_BAR_WIDTH);
    char bar[CLI_PROGRESS_BAR_WIDTH + 1];
    for (int i = 0; i < CLI_PROGRESS_BAR_WIDTH; ++i) bar[i] = i < fill ? '#' : '.';
    bar[CLI_PROGRESS_BAR_WIDTH] = '\0';
    /* \r: back to the start of the line; ESC[K: erase what a longer line left */
    fprintf(p->f, "\repoch %d/%d [%s] %3.0f%% %zu/%zu  %.0f samples/s  loss %.4g\x1b[K",
            p->epoch, p->epochs, bar, 100 * frac, done, p->total,
            rate(done, now_s - p->t_start), running_loss);
    fflush(p->f);
    p->drawn = 1;
}

void cli_progress_epoch_end(cli_progress *p, const eqs_epoch_metrics *m, double now_s)
{
    if (p->drawn) fputs("\r\x1b[K", p->f);
    p->drawn = 0;
    double sec = now_s - p->t_start;
    fprintf(p->f, "epoch %d/%d: train loss %.4g error %.2f%%", m->epoch, p->epochs,
            m->train_loss, 100 * m->train_error);
    if (isfinite(m->test_loss))
        fprintf(p->f, " | test loss %.4g error %.2f%%", m->test_loss, 100 * m->test_error);
    fprintf(p->f, " | %zu samples in %.2f s (%.0f samples/s)\n", p->total, sec,
            rate(p->total, sec));
    fflush(p->f);
}
