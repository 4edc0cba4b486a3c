/*
 * sha256.c: SHA-256 of a file or a buffer as lower-case hex, for the
 * hand-off manifest (handoff.c, docs/export.md).  nettle's sha256 here
 * only.
 */
#include "export.h"

#include "../core/core.h"

#include <errno.h>
#include <string.h>

#include <nettle/sha2.h>

static void to_hex(const uint8_t *d, char hex[EQS_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; ++i) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * SHA256_DIGEST_SIZE] = '\0';
}

void eqs_sha256_hex(const void *data, size_t n, char hex[EQS_SHA256_HEX])
{
    struct sha256_ctx s;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&s);
    sha256_update(&s, n, data);
    sha256_digest(&s, SHA256_DIGEST_SIZE, d);
    to_hex(d, hex);
}

eqs_status eqs_sha256_file(eqs_ctx *ctx, const char *path, char hex[EQS_SHA256_HEX],
                           uint64_t *bytes)
{
    FILE *f = eqs_file_open(ctx, path, "file", EQS_NOLOC, EQS_ERR_IO, NULL);
    if (!f) return EQS_ERR_IO;
    struct sha256_ctx s;
    uint8_t d[SHA256_DIGEST_SIZE], buf[1 << 16];
    uint64_t total = 0;
    size_t got;
    sha256_init(&s);
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        sha256_update(&s, got, buf);
        total += got;
    }
    int bad = ferror(f);
    int err = errno;
    fclose(f);
    if (bad) return EQS_ERROR(ctx, EQS_ERR_IO, "cannot read '%s': %s", path, strerror(err));
    sha256_digest(&s, SHA256_DIGEST_SIZE, d);
    to_hex(d, hex);
    if (bytes) *bytes = total;
    return EQS_OK;
}
