/* Parses Hugging Face / OpenAI GPT-2 tokenizer files into a lac_vocab.
 *
 * vocab.json (= encoder.json) maps token strings to ids; the strings use GPT-2's byte-level
 * alias alphabet (bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68
 * bytes are shifted to U+0100..U+0143). merges.txt (= vocab.bpe) lists merge pairs in rank
 * order, one "left right" per line after a "#version" line. We undo the aliasing so that the
 * model file and the tokenizer deal in raw bytes only. JSON is parsed by cJSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lac_error.h"
#include "vocab.h"

#define MAX_VOCAB (1u << 22)
#define MAX_TOKEN_BYTES 1024

/* alias code point (0..323) -> byte, or -1 */
static void alias_table(int *cp_to_byte /* [512] */) {
    for (int i = 0; i < 512; i++) cp_to_byte[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        if (printable)
            cp_to_byte[b] = b;
        else
            cp_to_byte[256 + n++] = b;
    }
}

/* Decodes an aliased UTF-8 token string into raw bytes. Returns length or -1. */
static int unalias(const int *cp_to_byte, const char *s, uint8_t *out, int cap) {
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    while (*p) {
        unsigned cp;
        if (p[0] < 0x80) {
            cp = p[0];
            p += 1;
        } else if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
            cp = ((unsigned)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else {
            return -1; /* every alias is below U+0800 */
        }
        if (cp >= 512 || cp_to_byte[cp] < 0 || n >= cap) return -1;
        out[n++] = (uint8_t)cp_to_byte[cp];
    }
    return n;
}

static char *read_file(const char *path, size_t *len, lac_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        lac_fail(err, LAC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= (size_t)1 << 30) {
            free(buf);
            fclose(f);
            lac_fail(err, LAC_ERR_LIMIT, "%s: larger than 1 GiB", path);
            return NULL;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        lac_fail(err, LAC_ERR_IO, "%s: read error", path);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

void lac_vocab_owned_free(lac_vocab_owned *v) {
    if (!v) return;
    free(v->tok_off);
    free(v->tok_bytes);
    free(v->merges);
    memset(v, 0, sizeof *v);
}

/* vocab.json's entries: token string -> id. Every id in [0, n) exactly once; each string's
 * bytes (byte-level BPE aliases undone; <|endoftext|> as written) into bytes[id], lens[id];
 * *total receives the sum of the lengths. */
static lac_status read_tokens(const cJSON *root, const char *path, int n, const int *cp_to_byte,
                              uint32_t *lens, uint8_t (*bytes)[MAX_TOKEN_BYTES], size_t *total,
                              lac_error *err) {
    uint8_t *seen = calloc((size_t)n, 1);
    if (!seen) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
    lac_status st = LAC_OK;
    *total = 0;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= n ||
            it->valuedouble != (double)(int)it->valuedouble) {
            st = lac_fail(err, LAC_ERR_FORMAT, "%s: token \"%.40s\" has a bad id", path,
                          it->string ? it->string : "");
            break;
        }
        int id = (int)it->valuedouble;
        int len = unalias(cp_to_byte, it->string, bytes[id], MAX_TOKEN_BYTES);
        if (len < 0 && !strcmp(it->string, "<|endoftext|>")) {
            len = (int)strlen(it->string);
            memcpy(bytes[id], it->string, (size_t)len);
        }
        if (len <= 0 || seen[id]) {
            const char *why = seen[id] ? "a duplicate id" : "not a byte-level BPE string";
            st = lac_fail(err, LAC_ERR_FORMAT, "%s: token \"%.40s\" (id %d) is %s", path,
                          it->string, id, why);
            break;
        }
        seen[id] = 1;
        lens[id] = (uint32_t)len;
        *total += (size_t)len;
    }
    free(seen); /* n distinct ids in [0, n): every id is present */
    return st;
}

/* The tokens in id order into out->tok_off / tok_bytes (and out->v's views of them). */
static lac_status pack_tokens(lac_vocab_owned *out, int n, const uint32_t *lens,
                              const uint8_t (*bytes)[MAX_TOKEN_BYTES], size_t total,
                              const char *path, lac_error *err) {
    out->tok_off = malloc(((size_t)n + 1) * sizeof(uint32_t));
    out->tok_bytes = malloc(total ? total : 1);
    if (!out->tok_off || !out->tok_bytes)
        return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        out->tok_off[i] = (uint32_t)off;
        memcpy(out->tok_bytes + off, bytes[i], lens[i]);
        off += lens[i];
    }
    out->tok_off[n] = (uint32_t)off;
    out->v.n_tokens = (uint32_t)n;
    out->v.tok_off = out->tok_off;
    out->v.tok_bytes = out->tok_bytes;
    return LAC_OK;
}

/* One "left right" line of merges.txt (line is modified): the ids of left, right and of their
 * concatenation must all be tokens. */
static lac_status merge_line(char *line, size_t lineno, const char *merges_path,
                             const char *vocab_json_path, const int *cp_to_byte,
                             const lac_vocab_map *map, uint32_t pair[2], lac_error *err) {
    char *sp = strchr(line, ' ');
    uint8_t a[MAX_TOKEN_BYTES], b[MAX_TOKEN_BYTES * 2];
    int la = -1, lb = -1;
    if (sp) {
        *sp = '\0';
        la = unalias(cp_to_byte, line, a, MAX_TOKEN_BYTES);
        lb = unalias(cp_to_byte, sp + 1, b, MAX_TOKEN_BYTES);
    }
    if (la <= 0 || lb <= 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s:%zu: not a 'left right' merge line",
                        merges_path, lineno);
    int64_t ia = lac_vocab_map_find(map, a, (size_t)la);
    int64_t ib = lac_vocab_map_find(map, b, (size_t)lb);
    uint8_t ab[MAX_TOKEN_BYTES * 2];
    memcpy(ab, a, (size_t)la);
    memcpy(ab + la, b, (size_t)lb);
    int64_t iab = lac_vocab_map_find(map, ab, (size_t)(la + lb));
    if (ia < 0 || ib < 0 || iab < 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s:%zu: merge names a token not in %s",
                        merges_path, lineno, vocab_json_path);
    pair[0] = (uint32_t)ia;
    pair[1] = (uint32_t)ib;
    return LAC_OK;
}

/* merges.txt (mtxt, modified) into out->merges, in rank order; an optional "#version" first
 * line and empty lines are skipped. */
static lac_status read_merges(char *mtxt, const char *merges_path, const char *vocab_json_path,
                              const int *cp_to_byte, const lac_vocab_map *map,
                              lac_vocab_owned *out, lac_error *err) {
    size_t mcap = 1024, nm = 0;
    out->merges = malloc(mcap * 2 * sizeof(uint32_t));
    if (!out->merges) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", merges_path);
    size_t lineno = 0;
    for (char *line = mtxt; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        if (ll && !(lineno == 1 && !strncmp(line, "#version", 8))) {
            if (nm == mcap) {
                uint32_t *nmg = realloc(out->merges, mcap * 4 * sizeof(uint32_t));
                if (!nmg) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", merges_path);
                out->merges = nmg;
                mcap *= 2;
            }
            lac_status st = merge_line(line, lineno, merges_path, vocab_json_path, cp_to_byte,
                                       map, out->merges + 2 * nm, err);
            if (st) return st;
            nm++;
        }
        line = nl ? nl + 1 : NULL;
    }
    out->v.n_merges = (uint32_t)nm;
    out->v.merges = out->merges;
    return LAC_OK;
}

lac_status lac_vocab_load_hf(const char *vocab_json_path, const char *merges_path,
                             lac_vocab_owned *out, lac_error *err) {
    memset(out, 0, sizeof *out);
    int cp_to_byte[512];
    alias_table(cp_to_byte);
    lac_status st = LAC_OK;
    size_t jlen = 0, mlen = 0, total = 0;
    char *mtxt = NULL;
    cJSON *root = NULL;
    uint32_t *lens = NULL;
    uint8_t(*bytes)[MAX_TOKEN_BYTES] = NULL;
    lac_vocab_map map = {0};

    char *json = read_file(vocab_json_path, &jlen, err);
    if (!json) return err ? err->code : LAC_ERR_IO;
    root = cJSON_ParseWithLength(json, jlen);
    const int n = root && cJSON_IsObject(root) ? cJSON_GetArraySize(root) : 0;
    if (!root || !cJSON_IsObject(root))
        st = lac_fail(err, LAC_ERR_FORMAT, "%s: not a JSON object (bad JSON)", vocab_json_path);
    else if (n <= 256 || (uint32_t)n > MAX_VOCAB)
        st = lac_fail(err, LAC_ERR_FORMAT, "%s: %d tokens (need 257..%u)", vocab_json_path, n,
                      MAX_VOCAB);
    if (!st) {
        lens = calloc((size_t)n, sizeof *lens);
        bytes = malloc((size_t)n * sizeof *bytes);
        if (!lens || !bytes)
            st = lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", vocab_json_path);
    }
    if (!st) st = read_tokens(root, vocab_json_path, n, cp_to_byte, lens, bytes, &total, err);
    if (!st)
        st = pack_tokens(out, n, lens, (const uint8_t(*)[MAX_TOKEN_BYTES])bytes, total,
                         vocab_json_path, err);
    if (!st && lac_vocab_map_init(&map, &out->v))
        st = lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", vocab_json_path);
    for (int id = 0; !st && id < n; id++) lac_vocab_map_add(&map, (uint32_t)id);
    if (!st && !(mtxt = read_file(merges_path, &mlen, err))) st = err ? err->code : LAC_ERR_IO;
    if (!st) st = read_merges(mtxt, merges_path, vocab_json_path, cp_to_byte, &map, out, err);

    lac_vocab_map_free(&map);
    free(lens);
    free(bytes);
    cJSON_Delete(root);
    free(json);
    free(mtxt);
    if (st != LAC_OK) lac_vocab_owned_free(out);
    return st;
}
