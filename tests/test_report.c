/* test_report.c: `eqspice report` (src/export/report.c).
 *
 * Criterion 3 of issue 15 as `make check` checks it: the report is one
 * well-formed XHTML file (libxml2 parses it with no error and no network
 * access), with no network address, every image a data: URI holding a PNG,
 * and the sections the issue lists (learning curves, the error table, per
 * crossbar a histogram and two heatmaps, the device's response; for a
 * sweep one plot per swept parameter).  The opt-in `make check-browser`
 * opens it in headless Chromium. */
#include "testutil.h"

#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int rp_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Count of <img> elements of the parsed XHTML at path, each checked to be
 * a PNG data: URI; fails on any parse error. */
static int rp_images(const char *path)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ck_assert_msg(doc != NULL, "%s is not well-formed XML", path);
    int n = 0;
    xmlNodePtr stack[64];
    int top = 0;
    stack[top++] = xmlDocGetRootElement(doc);
    while (top > 0) {
        xmlNodePtr nd = stack[--top];
        for (; nd; nd = nd->next) {
            if (nd->type != XML_ELEMENT_NODE) continue;
            if (!xmlStrcmp(nd->name, (const xmlChar *)"img")) {
                xmlChar *src = xmlGetProp(nd, (const xmlChar *)"src");
                ck_assert_ptr_nonnull(src);
                /* "iVBORw0KGgo" is base64 of the PNG signature */
                ck_assert_msg(!strncmp((const char *)src, "data:image/png;base64,iVBORw0KGgo", 33),
                              "image source %.40s", (const char *)src);
                xmlFree(src);
                n++;
            }
            if (nd->children && top < 64) stack[top++] = nd->children;
        }
    }
    xmlFreeDoc(doc);
    return n;
}

/* No address but the XHTML namespace: self-contained. */
static void rp_no_network(const char *path)
{
    char *text = tu_read_file(path);
    ck_assert_ptr_nonnull(text);
    const char *ns = "http://www.w3.org/1999/xhtml";
    int urls = 0;
    for (const char *p = text; (p = strstr(p, "://")); p += 3) urls++;
    ck_assert_msg(urls == 1 && strstr(text, ns), "%d addresses", urls);
    ck_assert(!strstr(text, "<script"));
    free(text);
}

START_TEST(test_report_run)
{
    const char *base = tu_temp_dir();
    char run[4200], html[4300], model[4300], xml[16384];
    snprintf(run, sizeof run, "%s/run", base);
    snprintf(html, sizeof html, "%s/report.html", base);
    snprintf(model, sizeof model, "%s", tu_path("models/linear-step-64.xml"));
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 6 2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"64\" test_size=\"32\"/>"
             "</dataset>\n  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning><rate elements=\"r*\" value=\"1e-5\"/></learning>\n"
             "  <training epochs=\"2\" batch=\"4\" seed=\"3\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\" device_model=\"%s\"/>\n"
             "  <output dir=\"%s\"/>\n</experiment>\n",
             model, run);
    const char *exp = tu_write_temp(xml, ".xml");
    char *out = NULL, *err = NULL;
    const char *argv_train[] = {"train", exp, NULL};
    int rc = tu_run_cli(argv_train, &out, &err, 60);
    ck_assert_msg(rc == 0, "train: %s", err);
    free(out);
    free(err);
    const char *argv[] = {"report", run, "-o", html, NULL};
    rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "report: %s", err);
    free(out);
    free(err);
    /* 2 learning curves + 2 crossbars x (histogram + 2 heatmaps) + device */
    ck_assert_int_eq(rp_images(html), 2 + 2 * 3 + 1);
    rp_no_network(html);
    char *text = tu_read_file(html);
    ck_assert(strstr(text, "Errors per epoch") && strstr(text, "Crossbar r1") &&
              strstr(text, "Crossbar r2") && strstr(text, "linear-step-64.xml") &&
              strstr(text, "<th>test_error</th>"));
    free(text);
    /* the plots' temporary directory is gone */
    DIR *d = opendir(base);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d));)
        ck_assert_msg(!strstr(de->d_name, ".plots-"), "%s left behind", de->d_name);
    closedir(d);
    char *listing = NULL;
    const char *ls[] = {"report", base, "-o", html, NULL}; /* not a run: refused, html kept */
    rc = tu_run_cli(ls, &listing, &err, 60);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "neither a run directory") != NULL, "%s", err);
    free(listing);
    free(err);
    ck_assert(rp_exists(html));
}
END_TEST

START_TEST(test_report_sweep)
{
    const char *base = tu_temp_dir();
    char csv[4200], html[4300];
    snprintf(csv, sizeof csv, "%s/sweep.csv", base);
    snprintf(html, sizeof html, "%s/sweep.html", base);
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fputs("point,device.levels,training.batch,seed,final_test_error,best_test_error,"
          "final_test_loss_V2,epochs,wall_s\n"
          "0,2,4,1,0.5,0.45,0.1,3,1.0\n0,2,4,2,0.4,0.4,0.1,3,1.0\n"
          "1,16,4,1,0.2,0.2,0.05,3,1.0\n1,16,4,2,0.25,0.2,0.05,3,1.0\n"
          "2,256,8,1,0.1,0.1,0.02,3,1.0\n2,256,8,2,0.12,0.1,0.02,3,1.0\n",
          f);
    fclose(f);
    char *out = NULL, *err = NULL;
    const char *argv[] = {"report", base, "-o", html, NULL};
    int rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "report: %s", err);
    free(out);
    free(err);
    ck_assert_int_eq(rp_images(html), 2); /* one plot per swept column */
    rp_no_network(html);
    char *text = tu_read_file(html);
    ck_assert(strstr(text, "<h2>device.levels</h2>") && strstr(text, "<h2>training.batch</h2>") &&
              strstr(text, "<td>256</td>"));
    free(text);
}
END_TEST

Suite *suite_report(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_report_run);
    tcase_add_test(tc, test_report_sweep);
    suite_add_tcase(s, tc);
    return s;
}
