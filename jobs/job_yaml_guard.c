/* jobs/job_yaml_guard.c -- the raw-byte and event-stream checks before a YAML document is
 * built (see job_yaml_guard.h). */
#include "jobs/job_yaml_guard.h"

#include <string.h>
#include <yaml.h>

/* 1-based line and column of byte off (columns count bytes, as libyaml's marks do). */
static void position(const char *text, size_t off, int *line, int *col) {
    *line = 1;
    size_t start = 0;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    *col = (int)(off - start) + 1;
}

static int check_bytes(const char *text, size_t n, const char *name, const char *what,
                       Err *err) {
    if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        return err_set(err, "%s:1:1: the %s starts with a UTF-8 byte-order mark (BOM, bytes "
                            "EF BB BF); save it as UTF-8 without a BOM", name, what);
    const char *nul = memchr(text, '\0', n);
    if (nul != NULL) {
        int line, col;
        position(text, (size_t)(nul - text), &line, &col);
        return err_set(err, "%s:%d:%d: a NUL byte in the %s: expected YAML text (is it a "
                            "binary file?)", name, line, col, what);
    }
    return 0;
}

static int syntax_error(const yaml_parser_t *p, const char *name, Err *err) {
    return err_set(err, "%s:%d:%d: YAML syntax error: %s%s%s", name,
                   (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                   p->problem ? p->problem : "?", p->context ? " " : "",
                   p->context ? p->context : "");
}

/* Walks the events once: depth of nested collections, number of documents. */
static int check_events(yaml_parser_t *p, const char *name, const char *what, Err *err) {
    int depth = 0, documents = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return syntax_error(p, name, err);
        const yaml_event_type_t type = ev.type;
        const int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        yaml_event_delete(&ev);
        switch (type) {
        case YAML_STREAM_END_EVENT:
            return 0;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                return err_set(err, "%s:%d:%d: a second YAML document: a %s holds one (remove "
                                    "the \"---\" and what follows, or merge the documents)",
                               name, line, col, what);
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (++depth > JOB_YAML_MAX_DEPTH)
                return err_set(err, "%s:%d:%d: mappings and lists nested more than %d deep: "
                                    "expected a job (sections, keys, lists of names)",
                               name, line, col, JOB_YAML_MAX_DEPTH);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
    }
}

int job_yaml_guard(const char *text, size_t n, const char *name, const char *what, Err *err) {
    if (check_bytes(text, n, name, what, err) != 0)
        return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    const int rc = check_events(&parser, name, what, err);
    yaml_parser_delete(&parser);
    return rc;
}
