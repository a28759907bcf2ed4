/* io/base/utf8.c -- UTF-8 length, validation, decoding, encoding (see io/base/utf8.h). */
#include "io/base/utf8.h"

int utf8_len(unsigned char c) {
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 3;
    if ((c & 0xF8) == 0xF0)
        return 4;
    return 1;
}

/* The second byte's range after the lead bytes whose first continuation is restricted. */
static int second_byte_ok(unsigned char lead, unsigned char next) {
    if (lead == 0xE0 && next < 0xA0)
        return 0; /* overlong */
    if (lead == 0xED && next >= 0xA0)
        return 0; /* surrogate */
    if (lead == 0xF0 && next < 0x90)
        return 0; /* overlong */
    if (lead == 0xF4 && next >= 0x90)
        return 0; /* > U+10FFFF */
    return 1;
}

int utf8_valid(const char *s, size_t n_bytes) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n_bytes) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len = utf8_len(c);
        if (len == 1 || i + (size_t)len > n_bytes || c < 0xC2 || c > 0xF4)
            return 0;
        for (int k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        if (!second_byte_ok(c, p[i + 1]))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

int32_t utf8_decode(const char *s, size_t n_bytes, int *seq_bytes) {
    const unsigned char *p = (const unsigned char *)s;
    int len = utf8_len(p[0]);
    if ((size_t)len > n_bytes)
        len = 1;
    *seq_bytes = len;
    switch (len) {
    case 1: return p[0];
    case 2: return ((p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3: return ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
        return ((p[0] & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) |
               (p[3] & 0x3F);
    }
}

int utf8_encode(int32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
