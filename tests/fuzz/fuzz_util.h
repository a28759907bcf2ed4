/* tests/fuzz/fuzz_util.h -- what the libFuzzer harnesses share: the readers under test take
 * paths, so each input is written to a file in a private directory first (on /dev/shm
 * when there is one: the harness is I/O-bound otherwise). A harness may abort only for a
 * broken invariant (FUZZ_CHECK): refusals of bad input are the expected outcome. */
#ifndef TLM_TESTS_FUZZ_UTIL_H
#define TLM_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The harness's directory, created on first use (mkdtemp; removed at exit). */
const char *fuzz_dir(void);

/* Writes data to fuzz_dir()/name, truncating; returns the path (static buffer, valid
 * until the next call) or aborts when the write fails (no input can cause that). */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

/* Removes fuzz_dir()/name if present. */
void fuzz_remove(const char *name);

/* An invariant the code under test promises: its failure is a bug, so crash loudly for
 * libFuzzer to record the input. */
#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond))                                                                        \
            fuzz_fail(__FILE__, __LINE__, #cond);                                           \
    } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
