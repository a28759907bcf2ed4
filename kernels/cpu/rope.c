/* kernels/cpu/rope.c -- rotary position embedding in place, HF rotate_half layout.
 * Matches apply_rotary_pos_emb in HF modeling_llama.py: q * cos + rotate_half(q) * sin,
 * rotate_half(x) = cat(-x[HD/2:], x[:HD/2]), cos/sin = cat(freqs, freqs). So element i
 * (i < HD/2) pairs with i + HD/2, both rotated by the angle of frequency i. The backward
 * is the transpose of that rotation, i.e. the rotation by minus the angle. */
#include "kernels/cpu/cpu_ops.h"

/* Rotates every (i, i + HD/2) pair of each head of each row by +angle (sign = 1) or
 * -angle (sign = -1). Rows are independent, so threads split them. */
static void rope_apply(float *x, const int32_t *pos, const float *cos, const float *sin,
                       int64_t T, int64_t n_heads, int64_t HD, float sign) {
    int64_t half = HD / 2;
#pragma omp parallel for schedule(static) if (T * n_heads * HD >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *c = cos + (int64_t)pos[t] * half;
        const float *s = sin + (int64_t)pos[t] * half;
        for (int64_t h = 0; h < n_heads; h++) {
            float *lo = x + (t * n_heads + h) * HD;
            float *hi = lo + half;
            for (int64_t i = 0; i < half; i++) {
                float x0 = lo[i], x1 = hi[i], si = sign * s[i];
                lo[i] = x0 * c[i] - x1 * si;
                hi[i] = x1 * c[i] + x0 * si;
            }
        }
    }
}

void cpu_rope_fwd(void *x, const int32_t *pos, const float *cos, const float *sin, int64_t T,
                  int64_t n_heads, int64_t HD) {
    rope_apply(x, pos, cos, sin, T, n_heads, HD, 1.0f);
}

void cpu_rope_bwd(void *dx, const int32_t *pos, const float *cos, const float *sin, int64_t T,
                  int64_t n_heads, int64_t HD) {
    rope_apply(dx, pos, cos, sin, T, n_heads, HD, -1.0f);
}

/* Each token's cos/sin rows are read once for its q and k heads; the same arithmetic as
 * two rope_apply calls, so the result is identical. */
static void rope_qk_apply(float *q, float *k, const int32_t *pos, const float *cos,
                          const float *sin, int64_t T, int64_t H, int64_t KVH, int64_t HD,
                          float sign) {
    const int64_t half = HD / 2;
#pragma omp parallel for schedule(static) if (T * (H + KVH) * HD >= CPU_PAR_MIN)
    for (int64_t t = 0; t < T; t++) {
        const float *c = cos + (int64_t)pos[t] * half;
        const float *s = sin + (int64_t)pos[t] * half;
        for (int64_t h = 0; h < H + KVH; h++) {
            float *lo = h < H ? q + (t * H + h) * HD : k + (t * KVH + h - H) * HD;
            float *hi = lo + half;
            for (int64_t i = 0; i < half; i++) {
                float x0 = lo[i], x1 = hi[i], si = sign * s[i];
                lo[i] = x0 * c[i] - x1 * si;
                hi[i] = x1 * c[i] + x0 * si;
            }
        }
    }
}

void cpu_rope_qk_fwd(void *q, void *k, const int32_t *pos, const float *cos, const float *sin,
                     int64_t T, int64_t H, int64_t KVH, int64_t HD) {
    rope_qk_apply(q, k, pos, cos, sin, T, H, KVH, HD, 1.0f);
}

void cpu_rope_qk_bwd(void *dq, void *dk, const int32_t *pos, const float *cos,
                     const float *sin, int64_t T, int64_t H, int64_t KVH, int64_t HD) {
    rope_qk_apply(dq, dk, pos, cos, sin, T, H, KVH, HD, -1.0f);
}
