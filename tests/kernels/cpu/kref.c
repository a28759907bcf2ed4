/* tests/kernels/cpu/kref.c -- naive double-precision references (see kref.h). Clarity over
 * speed: every formula is the textbook one, in the order the HF code writes it. */
#include "tests/kernels/cpu/kref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

double krng_uniform(KRng *r, double lo, double hi) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

void kfill(float *x, int64_t n, KRng *r, double lo, double hi) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)krng_uniform(r, lo, hi);
}

static void *kmalloc(size_t n_bytes) {
    void *p = malloc(n_bytes > 0 ? n_bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "kref: out of memory (%zu bytes)\n", n_bytes);
        abort();
    }
    return p;
}

float *kalloc_f(int64_t n) { return kmalloc((size_t)n * sizeof(float)); }
double *kalloc_d(int64_t n) { return kmalloc((size_t)n * sizeof(double)); }

double *kto_double(const float *x, int64_t n) {
    double *d = kalloc_d(n);
    for (int64_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

float *kto_float(const double *x, int64_t n) {
    float *f = kalloc_f(n);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

void ref_matmul(double *out, const double *x, const double *w, const double *bias, int64_t M,
                int64_t N, int64_t K) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = bias != NULL ? bias[n] : 0.0;
            for (int64_t k = 0; k < K; k++)
                s += x[m * K + k] * w[n * K + k];
            out[m * N + n] = s;
        }
}

void ref_lora(double *y, const double *x, const double *a, const double *b, double scale,
              int64_t M, int64_t N, int64_t K, int64_t R) {
    double *h = kalloc_d(M * R > 0 ? M * R : 1);
    ref_matmul(h, x, a, NULL, M, R, K);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0.0;
            for (int64_t r = 0; r < R; r++)
                s += h[m * R + r] * b[n * R + r];
            y[m * N + n] += scale * s;
        }
    free(h);
}

void ref_rmsnorm(double *out, const double *x, const double *w, int64_t T, int64_t D,
                 double eps) {
    for (int64_t t = 0; t < T; t++) {
        double ss = 0.0;
        for (int64_t i = 0; i < D; i++)
            ss += x[t * D + i] * x[t * D + i];
        double r = 1.0 / sqrt(ss / (double)D + eps);
        for (int64_t i = 0; i < D; i++)
            out[t * D + i] = w[i] * x[t * D + i] * r;
    }
}

void ref_rope(double *x, const int32_t *pos, const float *cos_t, const float *sin_t,
              int64_t T, int64_t nh, int64_t HD) {
    int64_t half = HD / 2;
    double *tmp = kalloc_d(HD);
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < nh; h++) {
            double *row = x + (t * nh + h) * HD;
            for (int64_t i = 0; i < HD; i++) {
                /* q * cos + rotate_half(q) * sin, with cos/sin = cat(freqs, freqs) */
                int64_t f = i % half;
                double c = cos_t[pos[t] * half + f], s = sin_t[pos[t] * half + f];
                double rot = i < half ? -row[i + half] : row[i - half];
                tmp[i] = row[i] * c + rot * s;
            }
            for (int64_t i = 0; i < HD; i++)
                row[i] = tmp[i];
        }
    free(tmp);
}

void ref_rope_tables(float *cos_t, float *sin_t, int64_t max_pos, int64_t HD, double theta) {
    int64_t half = HD / 2;
    for (int64_t p = 0; p < max_pos; p++)
        for (int64_t i = 0; i < half; i++) {
            double inv = pow(theta, -2.0 * (double)i / (double)HD);
            cos_t[p * half + i] = (float)cos((double)p * inv);
            sin_t[p * half + i] = (float)sin((double)p * inv);
        }
}

void ref_swiglu(double *out, const double *g, const double *u, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
}

void ref_attn(double *out, double *lse, const double *q, const double *k, const double *v,
              const SeqSpan *spans, int32_t n_spans, int64_t H, int64_t KVH, int64_t HD) {
    int64_t max_keys = 1;
    for (int32_t s = 0; s < n_spans; s++)
        if (spans[s].pos0 + spans[s].q_len > max_keys)
            max_keys = spans[s].pos0 + spans[s].q_len;
    double *p = kalloc_d(max_keys);
    double scale = 1.0 / sqrt((double)HD);
    for (int32_t s = 0; s < n_spans; s++) {
        const SeqSpan *sp = &spans[s];
        for (int64_t i = 0; i < sp->q_len; i++)
            for (int64_t h = 0; h < H; h++) {
                int64_t g = h / (H / KVH), n_keys = sp->pos0 + i + 1; /* causal */
                const double *qr = q + ((sp->q_start + i) * H + h) * HD;
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < n_keys; j++) {
                    const double *kr = k + ((sp->kv_start + j) * KVH + g) * HD;
                    double d = 0.0;
                    for (int64_t e = 0; e < HD; e++)
                        d += qr[e] * kr[e];
                    p[j] = d * scale;
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (int64_t j = 0; j < n_keys; j++)
                    sum += (p[j] = exp(p[j] - mx));
                double *o = out + ((sp->q_start + i) * H + h) * HD;
                for (int64_t e = 0; e < HD; e++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < n_keys; j++)
                        acc += p[j] * v[((sp->kv_start + j) * KVH + g) * HD + e];
                    o[e] = acc / sum;
                }
                if (lse != NULL)
                    lse[(sp->q_start + i) * H + h] = mx + log(sum);
            }
    }
    free(p);
}

void ref_xent(double *loss, double *lse, const double *logits, const int32_t *targets,
              int64_t T, int64_t V) {
    for (int64_t t = 0; t < T; t++) {
        const double *row = logits + t * V;
        double mx = -INFINITY, sum = 0.0;
        for (int64_t j = 0; j < V; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (int64_t j = 0; j < V; j++)
            sum += exp(row[j] - mx);
        double l = mx + log(sum);
        if (lse != NULL)
            lse[t] = l;
        loss[t] = targets[t] >= 0 ? l - row[targets[t]] : 0.0;
    }
}
