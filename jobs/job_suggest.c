/* jobs/job_suggest.c -- the nearest-key suggestion of an unknown-key message (see
 * job_schema.h): "lora.rnak" -> lora.rank, "lr" -> optim.lr, "optm" -> optim, or the
 * section's keys when nothing is close. */
#include <stdio.h>
#include <string.h>

#include "jobs/job_schema.h"

static size_t section_len(const char *key) {
    const char *dot = strchr(key, '.');
    return dot != NULL ? (size_t)(dot - key) : 0;
}

/* Optimal-string-alignment distance (Levenshtein plus adjacent transpositions, so
 * "rnak" is one edit from "rank"). Keys are short; longer inputs are capped. */
int jf_edit_distance(const char *a, const char *b) {
    enum { CAP = 64 };
    int na = (int)strnlen(a, CAP - 1), nb = (int)strnlen(b, CAP - 1);
    int d[CAP][CAP];
    for (int i = 0; i <= na; i++)
        d[i][0] = i;
    for (int j = 0; j <= nb; j++)
        d[0][j] = j;
    for (int i = 1; i <= na; i++)
        for (int j = 1; j <= nb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

static const char *leaf(const char *key) {
    const char *dot = strrchr(key, '.');
    return dot != NULL ? dot + 1 : key;
}

void jf_suggest(const char *key, char *hint, size_t hint_bytes) {
    int n_fields;
    const JobField *fields = jf_table(&n_fields);
    /* Score every key: the whole dotted name, or the leaf alone when it matches a key
     * filed under another section (lora.lr -> optim.lr). */
    const char *best = NULL;
    char best_sect[32] = "";
    int best_d = 1 << 30;
    for (int i = 0; i < n_fields; i++) {
        int d = jf_edit_distance(key, fields[i].key);
        int dl = jf_edit_distance(leaf(key), leaf(fields[i].key)) + 1;
        if (dl < d)
            d = dl;
        if (d < best_d) {
            best_d = d;
            best = fields[i].key;
        }
        size_t ns = section_len(fields[i].key); /* a misspelt section: "optm" -> optim */
        if (ns > 0 && strchr(key, '.') == NULL && strlen(key) < 32) {
            char sect[32];
            snprintf(sect, sizeof sect, "%.*s", (int)ns, fields[i].key);
            if ((d = jf_edit_distance(key, sect)) < best_d) {
                best_d = d;
                best = NULL;
                snprintf(best_sect, sizeof best_sect, "%s", sect);
            }
        }
    }
    size_t n_leaf = strlen(leaf(key));
    int limit = n_leaf / 3 > 2 ? (int)(n_leaf / 3) : 2;
    if (best_d <= limit) {
        snprintf(hint, hint_bytes, " (did you mean %s?)", best != NULL ? best : best_sect);
        return;
    }
    size_t ns = section_len(key);
    hint[0] = '\0';
    if (ns > 0) {
        char sect[32];
        snprintf(sect, sizeof sect, "%.*s", (int)ns, key);
        jf_section_keys(sect, hint, hint_bytes);
    }
}

