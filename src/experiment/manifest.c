/*
 * manifest.c: the manifest.xml of a hand-off directory (docs/export.md),
 * validated against the compiled-in copy of models/manifest.xsd, and its
 * file list (names, kinds, units, sizes, SHA-256) read for `eqspice
 * import`.  The writer is export/handoff.c (plain text: the schema is the
 * contract between the two, and the writer validates what it wrote with
 * this reader).
 */
#include "../core/core.h"
#include "xmlerr.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "manifest_xsd.inc"

const char *eqs_manifest_schema(void) { return manifest_xsd; }

static char *mx_prop(eqs_ctx *ctx, xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = eqs_strdup(ctx, (const char *)v);
    xmlFree(v);
    return s;
}

void eqs_manifest_free(eqs_manifest **mp)
{
    if (!mp || !*mp) return;
    eqs_manifest *m = *mp;
    for (int k = 0; k < m->n_files; ++k) {
        eqs_free(m->ctx, m->files[k].name);
        eqs_free(m->ctx, m->files[k].kind);
        eqs_free(m->ctx, m->files[k].crossbar);
        eqs_free(m->ctx, m->files[k].units);
    }
    eqs_free(m->ctx, m->files);
    eqs_free(m->ctx, (char *)m->path);
    eqs_free(m->ctx, m);
    *mp = NULL;
}

/* The <file> entries of a valid document. */
static eqs_status mx_files(eqs_ctx *ctx, xmlNodePtr root, eqs_manifest *m)
{
    xmlNodePtr files = NULL;
    for (xmlNodePtr n = root->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, (const xmlChar *)"files"))
            files = n;
    int count = 0;
    for (xmlNodePtr n = files ? files->children : NULL; n; n = n->next)
        count += n->type == XML_ELEMENT_NODE;
    m->files = eqs_calloc(ctx, (size_t)(count > 0 ? count : 1), sizeof *m->files);
    if (!m->files) return EQS_ERR_NOMEM;
    for (xmlNodePtr n = files ? files->children : NULL; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        eqs_manifest_file *f = &m->files[m->n_files++];
        long line = xmlGetLineNo(n);
        f->line = line > 0 && line < INT_MAX ? (int)line : 1;
        f->name = mx_prop(ctx, n, "name");
        f->kind = mx_prop(ctx, n, "kind");
        f->crossbar = mx_prop(ctx, n, "crossbar");
        f->units = mx_prop(ctx, n, "units");
        char *sha = mx_prop(ctx, n, "sha256"), *bytes = mx_prop(ctx, n, "bytes");
        if (!f->name || !f->kind || !sha || !bytes) {
            eqs_free(ctx, sha);
            eqs_free(ctx, bytes);
            return EQS_ERR_NOMEM;
        }
        snprintf(f->sha256, sizeof f->sha256, "%s", sha);
        f->bytes = strtoull(bytes, NULL, 10);
        eqs_free(ctx, sha);
        eqs_free(ctx, bytes);
        for (int k = 0; k + 1 < m->n_files; ++k)
            if (!strcmp(m->files[k].name, f->name))
                return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){m->path, f->line, 1}),
                                    "file '%s' is listed twice (first on line %d)", f->name,
                                    m->files[k].line);
    }
    return EQS_OK;
}

eqs_status eqs_manifest_read(eqs_ctx *ctx, const char *path, eqs_manifest **out)
{
    *out = NULL;
    int fd = eqs_file_open_fd(ctx, path, "manifest", EQS_NOLOC, EQS_ERR_IO, NULL);
    if (fd < 0) return EQS_ERR_IO;
    eqs_status st = EQS_OK;
    eqs_xml_errors errs = {ctx, path, EQS_ERR_PARSE, 0};
    xmlParserCtxtPtr pc = NULL;
    xmlDocPtr doc = NULL;
    xmlSchemaParserCtxtPtr spc = NULL;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vc = NULL;
    eqs_manifest *m = NULL;

    xmlSetStructuredErrorFunc(&errs, eqs_xml_on_error);
    xmlSetGenericErrorFunc(NULL, eqs_xml_on_generic);
    pc = xmlNewParserCtxt();
    if (!pc) {
        st = EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory creating an XML parser");
        goto done;
    }
    doc = xmlCtxtReadFd(pc, fd, path, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    if (!doc || errs.got) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR(ctx, EQS_ERR_PARSE, "%s: cannot parse the XML", path);
        goto done;
    }
    if (doc->intSubset || doc->extSubset) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, 1, 1}),
                          "DOCTYPE declarations are not allowed in manifests");
        goto done;
    }
    errs.code = EQS_ERR_INTERNAL;
    spc = xmlSchemaNewMemParserCtxt(manifest_xsd, (int)(sizeof manifest_xsd - 1));
    if (spc) xmlSchemaSetParserStructuredErrors(spc, eqs_xml_on_error, &errs);
    schema = spc ? xmlSchemaParse(spc) : NULL;
    vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    if (!vc) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR(ctx, EQS_ERR_INTERNAL, "cannot compile the manifest schema");
        goto done;
    }
    errs.code = EQS_ERR_INPUT;
    xmlSchemaSetValidStructuredErrors(vc, eqs_xml_on_error, &errs);
    int v = xmlSchemaValidateDoc(vc, doc);
    if (v != 0 || errs.got) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR_AT(ctx, v > 0 ? EQS_ERR_INPUT : EQS_ERR_INTERNAL,
                                     ((eqs_loc){path, 1, 1}),
                                     "the file does not follow the manifest schema");
        goto done;
    }
    m = eqs_calloc(ctx, 1, sizeof *m);
    if (!m) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    m->ctx = ctx;
    m->path = eqs_strdup(ctx, path);
    if (!m->path) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    char *fv = mx_prop(ctx, root, "format_version");
    m->format_version = fv ? atoi(fv) : 0;
    eqs_free(ctx, fv);
    st = mx_files(ctx, root, m);
done:
    close(fd);
    if (vc) xmlSchemaFreeValidCtxt(vc);
    if (schema) xmlSchemaFree(schema);
    if (spc) xmlSchemaFreeParserCtxt(spc);
    if (doc) xmlFreeDoc(doc);
    if (pc) xmlFreeParserCtxt(pc);
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlSetGenericErrorFunc(NULL, NULL);
    if (st != EQS_OK) {
        eqs_manifest_free(&m);
        return st;
    }
    *out = m;
    return EQS_OK;
}
