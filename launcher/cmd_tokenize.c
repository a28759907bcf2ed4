/* launcher/cmd_tokenize.c -- `tlm tokenize MODEL_DIR|MODEL.gguf [--special]`: one JSON string per
 * stdin line in, one JSON array of token ids per line out, as HF
 * tokenizer.encode(s, add_special_tokens=False) (True with --special). Exists so the
 * tokenizer can be checked against Hugging Face from a shell. Stops at the first
 * malformed line with an error naming stdin:LINE. */
#include "launcher/commands.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/err.h"
#include "io/base/log.h"
#include "io/convert/gguf_source.h"
#include "io/text/tokenizer.h"

static const char k_usage[] =
    "usage: tlm tokenize MODEL_DIR|MODEL.gguf [--special]\n"
    "  Reads one JSON string per line on stdin; writes one JSON array of token ids per\n"
    "  line, as Hugging Face tokenizer.encode(s, add_special_tokens=False).\n"
    "  --special  add what the post-processor adds (BOS for Llama), add_special_tokens=True\n";

/* Writes "[a,b,c]\n" through stdio's buffer (no per-id printf: this is the hot path). */
static void write_ids(FILE *out, const int32_t *ids, int64_t n) {
    char num[16];
    fputc('[', out);
    for (int64_t i = 0; i < n; i++) {
        int k = 0;
        uint32_t v = (uint32_t)ids[i];
        do {
            num[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        if (i > 0)
            fputc(',', out);
        while (k > 0)
            fputc(num[--k], out);
    }
    fputs("]\n", out);
}

static int run(Tokenizer *tok, int special) {
    static char out_buf[1 << 16];
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long line_no = 0;
    int status = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        line_no++;
        json_error_t jerr;
        json_t *s = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (s == NULL || !json_is_string(s)) {
            log_error("tlm tokenize: stdin:%ld: %s", line_no,
                      s == NULL ? jerr.text : "expected a JSON string");
            json_decref(s);
            status = 1;
            break;
        }
        int32_t *ids = NULL;
        int64_t n = 0;
        Err err = {{0}};
        if (tok_encode(tok, json_string_value(s), json_string_length(s), special, &ids, &n,
                       &err) != 0) {
            log_error("tlm tokenize: stdin:%ld: %s", line_no, err.msg);
            json_decref(s);
            status = 1;
            break;
        }
        write_ids(stdout, ids, n);
        free(ids);
        json_decref(s);
    }
    free(line);
    if (fflush(stdout) != 0) {
        log_error("tlm tokenize: writing stdout failed");
        status = 1;
    }
    return status;
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL;
    int special = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--special") == 0) {
            special = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(k_usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || dir != NULL) {
            fprintf(stderr, "tlm tokenize: unexpected argument \"%s\"\n%s", argv[i], k_usage);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL) {
        fputs(k_usage, stderr);
        return 2;
    }
    Err err = {{0}};
    Tokenizer *tok = model_src_tokenizer(dir, &err);
    if (tok == NULL) {
        log_error("tlm tokenize: %s", err.msg);
        return 1;
    }
    int status = run(tok, special);
    tok_close(tok);
    return status;
}
