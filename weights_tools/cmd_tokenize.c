/* weights_tools tokenize MODEL [FILE]    token ids of FILE's bytes (stdin for none or "-"),
 *                                         one decimal id per line
 * weights_tools detokenize MODEL [FILE]  reads whitespace-separated decimal ids (stdin for none
 *                                         or "-") and writes the bytes they spell
 * Exit status: 0 success, 1 error (one line on stderr), 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac.h"
#include "wt.h"

#define IO_CHUNK (1 << 16)

typedef struct {
    lac_model *m;
    lac_tokenizer *tk;
    FILE *in;
    const char *in_name;
} session;

static void session_close(session *s) {
    lac_tokenizer_free(s->tk);
    if (s->m) lac_model_close(s->m);
    if (s->in && s->in != stdin) fclose(s->in);
}

/* Opens the model, its tokenizer and the input. Returns 0, 1 (error) or 2 (usage). */
static int session_open(const char *cmd, int argc, char **argv, session *s) {
    memset(s, 0, sizeof *s);
    if (argc < 2 || argc > 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: weights_tools %s MODEL [FILE]\n", cmd);
        return 2;
    }
    lac_error err = {0};
    if (lac_model_open(argv[1], &s->m, &err) != LAC_OK ||
        lac_tokenizer_create(s->m, &s->tk, &err) != LAC_OK) {
        fprintf(stderr, "weights_tools %s: %s\n", cmd, err.msg);
        session_close(s);
        return 1;
    }
    if (argc < 3 || !strcmp(argv[2], "-")) {
        s->in = stdin;
        s->in_name = "<stdin>";
    } else {
        s->in_name = argv[2];
        s->in = fopen(argv[2], "rb");
        if (!s->in) {
            fprintf(stderr, "weights_tools %s: %s: cannot open: %s\n", cmd, argv[2],
                    strerror(errno));
            session_close(s);
            return 1;
        }
    }
    return 0;
}

static int finish_output(const char *cmd) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "weights_tools %s: <stdout>: write error: %s\n", cmd, strerror(errno));
        return 1;
    }
    return 0;
}

int wt_tokenize(int argc, char **argv) {
    session s;
    int rc = session_open("tokenize", argc, argv, &s);
    if (rc) return rc;
    unsigned char *buf = malloc(IO_CHUNK);
    char *line = malloc(16 * (size_t)IO_CHUNK); /* room for the ids of one chunk */
    lac_tokens t = {0};
    lac_error err = {0};
    if (!buf || !line) {
        fprintf(stderr, "weights_tools tokenize: out of memory\n");
        rc = 1;
        goto done;
    }
    for (;;) {
        size_t got = fread(buf, 1, IO_CHUNK, s.in);
        if (got < IO_CHUNK && ferror(s.in)) {
            fprintf(stderr, "weights_tools tokenize: %s: read error: %s\n", s.in_name,
                    strerror(errno));
            rc = 1;
            goto done;
        }
        int final = got < IO_CHUNK && feof(s.in);
        t.n = 0;
        if (lac_tokenizer_feed(s.tk, buf, got, final, &t, &err) != LAC_OK) {
            fprintf(stderr, "weights_tools tokenize: %s: %s\n", s.in_name, err.msg);
            rc = 1;
            goto done;
        }
        /* ids of one chunk: at most a few per byte plus what was held back (< 8 KiB) */
        size_t pos = 0;
        for (size_t i = 0; i < t.n; i++) {
            if (pos + 16 > 16 * (size_t)IO_CHUNK) {
                fwrite(line, 1, pos, stdout);
                pos = 0;
            }
            pos += (size_t)snprintf(line + pos, 16, "%d\n", (int)t.ids[i]);
        }
        if (pos && fwrite(line, 1, pos, stdout) != pos) break;
        if (final) break;
    }
    rc = finish_output("tokenize");
done:
    lac_tokens_free(&t);
    free(buf);
    free(line);
    session_close(&s);
    return rc;
}

/* Writes the bytes of one id token; returns 0 or 1 (error reported). */
static int put_id(const session *s, const char *tok, size_t len, unsigned long long index) {
    int ok = len > 0 && len <= 10;
    unsigned long long v = 0;
    for (size_t i = 0; ok && i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9') ok = 0;
        v = v * 10 + (unsigned long long)(tok[i] - '0');
    }
    const uint32_t vocab = lac_model_get_config(s->m)->vocab_size;
    size_t blen = 0;
    const uint8_t *b = ok && v < vocab ? lac_token_bytes(s->tk, (int32_t)v, &blen) : NULL;
    if (!b) {
        fprintf(stderr, "weights_tools detokenize: %s: token %llu ('%.*s') is not an id in 0..%u\n",
                s->in_name, index + 1, (int)(len < 40 ? len : 40), tok, vocab - 1);
        return 1;
    }
    fwrite(b, 1, blen, stdout);
    return 0;
}

int wt_detokenize(int argc, char **argv) {
    session s;
    int rc = session_open("detokenize", argc, argv, &s);
    if (rc) return rc;
    char *buf = malloc(IO_CHUNK);
    char tok[64]; /* the id being read; longer ones are invalid anyway */
    size_t tlen = 0;
    unsigned long long index = 0;
    if (!buf) {
        fprintf(stderr, "weights_tools detokenize: out of memory\n");
        rc = 1;
        goto done;
    }
    for (;;) {
        size_t got = fread(buf, 1, IO_CHUNK, s.in);
        if (got < IO_CHUNK && ferror(s.in)) {
            fprintf(stderr, "weights_tools detokenize: %s: read error: %s\n", s.in_name,
                    strerror(errno));
            rc = 1;
            goto done;
        }
        for (size_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
                if (tlen && put_id(&s, tok, tlen, index++)) {
                    rc = 1;
                    goto done;
                }
                tlen = 0;
            } else if (tlen < sizeof tok) {
                tok[tlen++] = c;
            }
        }
        if (got < IO_CHUNK) break;
    }
    if (tlen && put_id(&s, tok, tlen, index++)) {
        rc = 1;
        goto done;
    }
    rc = finish_output("detokenize");
done:
    free(buf);
    session_close(&s);
    return rc;
}
