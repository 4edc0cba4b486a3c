/* progress.c: training progress on stderr (cli.h): a live bar on a
 * terminal, a line every few seconds and one per epoch otherwise, both
 * with the time left for the whole run.  Every time is passed in by the
 * caller (cli_now_s), so the library measures nothing. */
#include <math.h>
#include <unistd.h>

#include "cli.h"

/* Before the first evaluation is measured, an evaluated sample (one free
 * phase) is assumed to cost a third of a trained one (free phase and two
 * nudged phases of centered EqProp). */
#define EVAL_SPEEDUP_GUESS 3.0

void cli_progress_init(cli_progress *p, FILE *f, int tty, int epochs, size_t n_train,
                       size_t n_eval, double log_s, double now_s)
{
    p->f = f;
    p->tty = tty >= 0 ? (tty != 0) : isatty(fileno(f));
    p->log_s = log_s >= 0 ? log_s : CLI_PROGRESS_LOG_S;
    p->epoch = 0;
    p->epochs = epochs;
    p->n_train = n_train;
    p->n_eval = n_eval;
    p->total = p->done = p->eval_done = 0;
    p->evaluating = 0;
    p->t_run = p->t_start = p->t_last = p->t_drawn = now_s;
    p->train_s = p->eval_s = 0;
    p->trained = p->evaluated = 0;
    p->drawn = 0;
}

void cli_progress_epoch_begin(cli_progress *p, int epoch, size_t total, double now_s)
{
    p->epoch = epoch;
    p->total = total;
    p->done = p->eval_done = 0;
    p->evaluating = 0;
    p->t_start = now_s;
    if (p->tty) p->t_drawn = -INFINITY; /* the first update draws */
}

static double rate(size_t done, double seconds)
{
    return seconds > 0 ? (double)done / seconds : 0.0;
}

/* Time since the last call goes to the phase running (training or evaluation). */
static void account(cli_progress *p, double now_s)
{
    double dt = now_s - p->t_last;
    if (dt > 0) {
        if (p->evaluating) p->eval_s += dt;
        else p->train_s += dt;
    }
    p->t_last = now_s;
}

/* Seconds left for the whole run (every planned epoch, its evaluation
 * included) at the rates measured so far in this process; < 0: unknown. */
static double eta_s(const cli_progress *p)
{
    double tr = rate(p->trained, p->train_s);
    if (!(tr > 0)) return -1;
    double ev = p->evaluated > 0 ? rate(p->evaluated, p->eval_s) : EVAL_SPEEDUP_GUESS * tr;
    if (!(ev > 0)) return -1;
    double later = (double)(p->epochs > p->epoch ? p->epochs - p->epoch : 0);
    double train_left = later * (double)p->n_train, eval_left = later * (double)p->n_eval;
    if (p->epoch >= 1 && p->epoch <= p->epochs) { /* the epoch running now */
        if (!p->evaluating) train_left += (double)(p->total - (p->done < p->total ? p->done : p->total));
        eval_left += (double)(p->n_eval - (p->eval_done < p->n_eval ? p->eval_done : p->n_eval));
    }
    return train_left / tr + eval_left / ev;
}

/* "H:MM:SS", or "--:--:--" when unknown. */
static const char *hms(double s, char *buf, size_t n)
{
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(buf, n, "--:--:--");
        return buf;
    }
    long t = lround(s);
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    return buf;
}

/* " | elapsed H:MM:SS, eta H:MM:SS" */
static void print_times(cli_progress *p, double now_s)
{
    char a[32], b[32];
    fprintf(p->f, " | elapsed %s, eta %s", hms(now_s - p->t_run, a, sizeof a),
            hms(eta_s(p), b, sizeof b));
}

/* Terminal: redraw at most every CLI_PROGRESS_INTERVAL_S; otherwise a
 * line every log_s seconds.  Returns 1 when the caller prints now. */
static int due(cli_progress *p, int last, double now_s)
{
    double gap = p->tty ? CLI_PROGRESS_INTERVAL_S : p->log_s;
    if (p->tty && last) return 1;
    if (now_s - p->t_drawn < gap) return 0;
    p->t_drawn = now_s;
    return 1;
}

static void bar(cli_progress *p, double frac)
{
    if (frac > 1) frac = 1;
    int fill = (int)(frac * CLI_PROGRESS_BAR_WIDTH);
    char b[CLI_PROGRESS_BAR_WIDTH + 1];
    for (int i = 0; i < CLI_PROGRESS_BAR_WIDTH; ++i) b[i] = i < fill ? '#' : '.';
    b[CLI_PROGRESS_BAR_WIDTH] = '\0';
    /* \r: back to the start of the line */
    fprintf(p->f, "\repoch %d/%d [%s] %3.0f%%", p->epoch, p->epochs, b, 100 * frac);
}

void cli_progress_update(cli_progress *p, size_t done, double running_loss, double now_s)
{
    account(p, now_s);
    if (done > p->done) p->trained += done - p->done;
    p->done = done;
    int last = done >= p->total;
    if (last) { /* the epoch's training is over: its evaluation comes next */
        p->evaluating = 1;
        p->eval_done = 0;
        p->t_eval = now_s;
    }
    if (!due(p, last, now_s)) return;
    double frac = p->total ? (double)done / (double)p->total : 1.0;
    double r = rate(done, now_s - p->t_start);
    if (p->tty) { /* short enough for 80 columns */
        char b[32];
        bar(p, frac);
        fprintf(p->f, " %zu/%zu %.0f/s loss %.4g eta %s", done, p->total, r, running_loss,
                hms(eta_s(p), b, sizeof b));
    } else {
        fprintf(p->f, "epoch %d/%d: %zu/%zu samples (%.0f%%), %.0f samples/s, loss %.4g",
                p->epoch, p->epochs, done, p->total, 100 * frac, r, running_loss);
        print_times(p, now_s);
    }
    /* ESC[K: erase what a longer line left */
    fputs(p->tty ? "\x1b[K" : "\n", p->f);
    fflush(p->f);
    p->drawn = p->tty;
}

void cli_progress_eval(cli_progress *p, size_t done, double now_s)
{
    account(p, now_s);
    if (!p->evaluating) {
        p->evaluating = 1;
        p->eval_done = 0;
        p->t_eval = now_s;
    }
    if (done > p->eval_done) p->evaluated += done - p->eval_done;
    p->eval_done = done;
    if (!due(p, 0, now_s)) return;
    double frac = p->n_eval ? (double)done / (double)p->n_eval : 1.0;
    double r = rate(done, now_s - p->t_eval);
    if (p->tty) {
        char b[32];
        bar(p, frac);
        fprintf(p->f, " evaluating %zu/%zu %.0f/s eta %s", done, p->n_eval, r,
                hms(eta_s(p), b, sizeof b));
    } else {
        fprintf(p->f, "epoch %d/%d: evaluating %zu/%zu samples (%.0f%%), %.0f samples/s",
                p->epoch, p->epochs, done, p->n_eval, 100 * frac, r);
        print_times(p, now_s);
    }
    fputs(p->tty ? "\x1b[K" : "\n", p->f);
    fflush(p->f);
    p->drawn = p->tty;
}

void cli_progress_epoch_end(cli_progress *p, const eqs_epoch_metrics *m, double now_s)
{
    account(p, now_s);
    p->evaluating = 1;
    p->eval_done = p->n_eval; /* the epoch is over: nothing of it left */
    if (p->drawn) fputs("\r\x1b[K", p->f);
    p->drawn = 0;
    double sec = m->seconds;
    fprintf(p->f, "epoch %d/%d: train loss %.4g error %.2f%%", m->epoch, p->epochs,
            m->train_loss, 100 * m->train_error);
    if (isfinite(m->test_loss))
        fprintf(p->f, " | test loss %.4g error %.2f%%", m->test_loss, 100 * m->test_error);
    fprintf(p->f, " | %zu samples in %.2f s (%.0f samples/s)", p->total, sec,
            rate(p->total, sec));
    print_times(p, now_s);
    fputc('\n', p->f);
    fflush(p->f);
    if (!p->tty) p->t_drawn = now_s;
}
