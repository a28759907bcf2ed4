/* jobs/job_emit.c -- job_to_yaml: the resolved spec written with libyaml's emitter, so
 * strings are quoted and escaped wherever YAML needs it. Every key is written, in the
 * table's order, so two resolved specs compare as text. Also jf_format, the value text
 * shared with job_diff. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "io/base/strbuf.h"
#include "jobs/job.h"
#include "jobs/job_schema.h"

/* Shortest %g text that reads back to the same double, always with a '.' or exponent
 * dot so YAML 1.1 readers (PyYAML) also see a float. */
static void format_real(double v, char *out, size_t out_bytes) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, out_bytes, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (strchr(out, '.') != NULL)
        return;
    char tmp[64];
    char *e = strpbrk(out, "eE");
    if (e != NULL)
        snprintf(tmp, sizeof tmp, "%.*s.0%s", (int)(e - out), out, e);
    else
        snprintf(tmp, sizeof tmp, "%s.0", out);
    snprintf(out, out_bytes, "%s", tmp);
}

void jf_format(const JobField *f, const JobSpec *spec, char *out, size_t out_bytes) {
    const char *at = (const char *)spec + f->off;
    switch (f->kind) {
    case JF_STRING:
    case JF_CHOICE: snprintf(out, out_bytes, "%s", at); break;
    case JF_ENUM: snprintf(out, out_bytes, "%s", f->choices[*(const int *)at]); break;
    case JF_INT: snprintf(out, out_bytes, "%lld", (long long)*(const int64_t *)at); break;
    case JF_SAMPLES:
        if (*(const int64_t *)at < 0)
            snprintf(out, out_bytes, "all");
        else
            snprintf(out, out_bytes, "%lld", (long long)*(const int64_t *)at);
        break;
    case JF_SEED: snprintf(out, out_bytes, "%llu", (unsigned long long)*(const uint64_t *)at); break;
    case JF_REAL: format_real(*(const double *)at, out, out_bytes); break;
    case JF_BOOL: snprintf(out, out_bytes, "%s", *(const int *)at ? "true" : "false"); break;
    case JF_LIST: {
        int n = *(const int *)((const char *)spec + f->count_off);
        size_t len = (size_t)snprintf(out, out_bytes, "[");
        for (int i = 0; i < n && len < out_bytes; i++)
            len += (size_t)snprintf(out + len, out_bytes - len, "%s%s", i ? ", " : "",
                                    at + (size_t)i * JOB_NAME_BYTES);
        if (len < out_bytes)
            snprintf(out + len, out_bytes - len, "]");
        break;
    }
    }
}

/* libyaml's output handler: 1 = written, 0 = failed (out of memory). */
static int write_out(void *ctx, unsigned char *buf, size_t size) {
    return strbuf_append(ctx, (const char *)buf, size, NULL) == 0;
}

/* Strings a YAML reader would type as something else (null, a boolean, a number) are
 * written quoted, so the file also reads back right in PyYAML/h5py tools. */
static int looks_typed(const char *s) {
    static const char *const words[] = {"", "~", "null", "true", "false", "yes", "no", "on", "off"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    char *end;
    (void)strtod(s, &end);
    return *end == '\0';
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev) { return yaml_emitter_emit(em, ev); }

static int emit_scalar(yaml_emitter_t *em, const char *text, int plain) {
    yaml_event_t ev;
    yaml_scalar_style_t style = plain               ? YAML_PLAIN_SCALAR_STYLE
                                : looks_typed(text) ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                                    : YAML_ANY_SCALAR_STYLE;
    /* Numbers, booleans and enum names go out plain (the reader requires it); strings
     * let the emitter pick, so a path like "123" or "" comes back quoted. */
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1,
                                 1, style);
    return emit(em, &ev);
}

static int emit_mapping_start(yaml_emitter_t *em) {
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    return emit(em, &ev);
}

static int emit_mapping_end(yaml_emitter_t *em) {
    yaml_event_t ev;
    yaml_mapping_end_event_initialize(&ev);
    return emit(em, &ev);
}

static int emit_value(yaml_emitter_t *em, const JobField *f, const JobSpec *spec) {
    if (f->kind == JF_LIST) {
        yaml_event_t ev;
        int n = *(const int *)((const char *)spec + f->count_off);
        const char *items = (const char *)spec + f->off;
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE);
        if (!emit(em, &ev))
            return 0;
        for (int i = 0; i < n; i++)
            if (!emit_scalar(em, items + (size_t)i * JOB_NAME_BYTES, 0))
                return 0;
        yaml_sequence_end_event_initialize(&ev);
        return emit(em, &ev);
    }
    char text[JOB_PATH_BYTES + 8];
    jf_format(f, spec, text, sizeof text);
    int is_string = f->kind == JF_STRING;
    return emit_scalar(em, text, !is_string);
}

/* Sections open while emitting: "method" and a subsection "method.eata" at most. */
#define EMIT_MAX_DEPTH 4
#define EMIT_KEY_BYTES 160

/* Closes the open sections that do not contain key, then opens key's missing ones, so
 * the writer is inside key's innermost section; *depth and open[] track them (open[d]
 * is the dotted prefix of depth d + 1). Returns key's leaf, or NULL on an emitter error. */
static const char *enter_sections(yaml_emitter_t *em, const char *key,
                                  char open[EMIT_MAX_DEPTH][EMIT_KEY_BYTES], int *depth) {
    int keep = 0; /* open sections that are prefixes of key */
    while (keep < *depth) {
        const size_t n = strlen(open[keep]);
        if (strncmp(key, open[keep], n) != 0 || key[n] != '.')
            break;
        keep++;
    }
    for (; *depth > keep; (*depth)--)
        if (!emit_mapping_end(em))
            return NULL;
    const char *leaf = key + (*depth > 0 ? strlen(open[*depth - 1]) + 1 : 0);
    for (const char *dot; (dot = strchr(leaf, '.')) != NULL && *depth < EMIT_MAX_DEPTH;) {
        char name[EMIT_KEY_BYTES];
        snprintf(name, sizeof name, "%.*s", (int)(dot - leaf), leaf);
        snprintf(open[*depth], EMIT_KEY_BYTES, "%.*s", (int)(dot - key), key);
        (*depth)++;
        if (!emit_scalar(em, name, 1) || !emit_mapping_start(em))
            return NULL;
        leaf = dot + 1;
    }
    return leaf;
}

/* Emits the whole document; 1 on success. Parameters of methods other than the job's
 * are left out (they take their defaults when read back). */
static int emit_spec(yaml_emitter_t *em, const JobSpec *spec) {
    yaml_event_t ev;
    int n_fields;
    const JobField *t = jf_table(&n_fields);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (!emit(em, &ev))
        return 0;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    if (!emit(em, &ev) || !emit_mapping_start(em))
        return 0;
    char open[EMIT_MAX_DEPTH][EMIT_KEY_BYTES];
    int depth = 0;
    for (int i = 0; i < n_fields; i++) {
        if (!jf_applies(&t[i], spec))
            continue;
        const char *leaf = enter_sections(em, t[i].key, open, &depth);
        if (leaf == NULL || !emit_scalar(em, leaf, 1) || !emit_value(em, &t[i], spec))
            return 0;
    }
    for (; depth > 0; depth--)
        if (!emit_mapping_end(em))
            return 0;
    if (!emit_mapping_end(em))
        return 0;
    yaml_document_end_event_initialize(&ev, 1);
    if (!emit(em, &ev))
        return 0;
    yaml_stream_end_event_initialize(&ev);
    return emit(em, &ev);
}

char *job_to_yaml(const JobSpec *spec) {
    yaml_emitter_t em;
    StrBuf out = {0};
    if (!yaml_emitter_initialize(&em))
        return NULL;
    yaml_emitter_set_output(&em, write_out, &out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold long paths */
    int ok = emit_spec(&em, spec) && yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    if (!ok) {
        free(out.data);
        return NULL;
    }
    return out.data;
}
