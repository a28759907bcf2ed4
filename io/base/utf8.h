/* io/base/utf8.h -- the UTF-8 byte rules (RFC 3629): sequence length from the lead byte,
 * strict validation, decoding and encoding of one code point. No normalization, no
 * character classes (io/text and io/eval have those, with the semantics they copy).
 * Pure functions; safe from any thread. */
#ifndef TLM_IO_UTF8_H
#define TLM_IO_UTF8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the sequence a lead byte c starts: 1..4; 1 for ASCII and for bytes that
 * cannot start a sequence (continuation bytes, 0xF8..0xFF), so scanners always advance. */
int utf8_len(unsigned char c);

/* 1 when s[0..n_bytes) is valid UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence), else 0. */
int utf8_valid(const char *s, size_t n_bytes);

/* The code point at s (n_bytes available, >= 1; valid UTF-8 assumed: call utf8_valid
 * first) and its length in *seq_bytes. A sequence cut by n_bytes decodes as its lead byte. */
int32_t utf8_decode(const char *s, size_t n_bytes, int *seq_bytes);

/* Writes cp (0..0x10FFFF) into out; returns the 1..4 bytes written. */
int utf8_encode(int32_t cp, char out[4]);

#ifdef __cplusplus
}
#endif
#endif
