/* kernels/cpu/wmatmul.c -- the one blocked driver of every frozen-weight matmul: fp32
 * (matmul.c's AVX-512 path), bf16 and the block formats (weights.c). Each thread takes a
 * slice of the weight, has wpanel.h turn a piece of it into an fp32 panel (fp32: the
 * weights themselves; the others decoded into a 64 KB panel on the thread's stack), and
 * multiplies the panel with the AVX-512 kernels of matmul_avx512.h or their plain-C twins
 * below. The forward splits by 64-row slices of W (walking K in 256-column pieces, so a
 * decoded panel stays in L2) and the backward by column slices of dx (about one per
 * thread), walking N in row chunks: no two threads write one output. Never call from inside an OpenMP region. */
#include "kernels/cpu/wmatmul.h"

#include <omp.h>
#include <string.h>

#include "kernels/cpu/cpu_simple.h"
#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/wpanel.h"

/* Weight rows per forward slice (64 rows of K <= 4096 stay in a 512 KB L2 when fp32 is
 * read in place) and the columns a decoded forward panel holds. */
#define FWD_ROWS 64
#define FWD_COLS 256
/* Floats of a decoded panel: FWD_ROWS x FWD_COLS, or a backward chunk (64 KB). */
#define PANEL_FLOATS (FWD_ROWS * FWD_COLS)
/* Columns of dx per backward kernel call (its 4 x 16-lane accumulators per row). */
#define BWD_COLS 64
/* Weight rows per backward chunk read in place (fp32): 256 rows x 64 columns stay in cache
 * while every row block of dx passes over them. */
#define BWD_ROWS_IN_PLACE 256
/* Below this many multiply-adds the driver stays on one thread. */
#define PAR_MIN_FMAS 16384

typedef void (*FwdPanelFn)(float *out, int64_t ldo, const float *x, int64_t ldx,
                           const float *w, int64_t ldw, int64_t M, int n_rows, int64_t kn,
                           float beta);
typedef void (*BwdPanelFn)(float *dx, int64_t ldx, const float *dy, int64_t ldy,
                           const float *w, int64_t ldw, int64_t M, int64_t n_rows, int64_t kc,
                           float beta);

/* The plain-C panel kernels: what runs without AVX-512 (same contracts). */
static void fwd_panel_c(float *out, int64_t ldo, const float *x, int64_t ldx, const float *w,
                        int64_t ldw, int64_t M, int n_rows, int64_t kn, float beta) {
    for (int64_t m = 0; m < M; m++)
        for (int n = 0; n < n_rows; n++) {
            const float *xm = x + m * ldx, *wn = w + n * ldw;
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < kn; k++)
                acc += xm[k] * wn[k];
            float *o = out + m * ldo + n;
            *o = beta != 0.0f ? *o + acc : acc;
        }
}

static void bwd_panel_c(float *dx, int64_t ldx, const float *dy, int64_t ldy, const float *w,
                        int64_t ldw, int64_t M, int64_t n_rows, int64_t kc, float beta) {
    for (int64_t m = 0; m < M; m++) {
        float *d = dx + m * ldx;
        if (beta == 0.0f)
            memset(d, 0, (size_t)kc * sizeof *d);
        for (int64_t n = 0; n < n_rows; n++) {
            const float g = dy[m * ldy + n];
            const float *wn = w + n * ldw;
#pragma omp simd
            for (int64_t k = 0; k < kc; k++)
                d[k] += g * wn[k];
        }
    }
}

/* Weight formats whose panel is the weight itself (no decoding, no K pieces). */
static int in_place(WeightFormat f) { return f == WEIGHT_ELEM; }

/* Output columns [n0, n0 + rows) of the forward. */
static void fwd_slice(float *out, const float *x, Weight w, int64_t M, int64_t N, int64_t K,
                      int64_t n0, int rows, float beta, WPanelFn panel_of, FwdPanelFn kern) {
    float panel[PANEL_FLOATS] __attribute__((aligned(64)));
    const int64_t kc = in_place(w.format) ? K : FWD_COLS;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kn = K - k0 < kc ? K - k0 : kc;
        int64_t ld = 0;
        const float *p = panel_of(w.data, K, n0, rows, k0, kn, panel, &ld);
        kern(out + n0, N, x + k0, K, p, ld, M, rows, kn, k0 == 0 ? beta : 1.0f);
    }
}

/* The formats and row counts the fused decode-time forward takes. */
static int fused_ok(WeightFormat f, int64_t M, int fast) {
    return fast && M <= 4 &&
           (f == WEIGHT_BF16 || f == WEIGHT_Q8_0 || f == WEIGHT_Q4_0 || f == WEIGHT_Q4_1);
}

void cpu_wmm_fwd(float *out, const float *x, Weight w, int64_t M, int64_t N, int64_t K,
                 float beta, int fast) {
    if (fused_ok(w.format, M, fast)) {
        const int64_t n_slices = (N + FWD_ROWS - 1) / FWD_ROWS;
#pragma omp parallel for schedule(static) if (M * N * K >= PAR_MIN_FMAS && n_slices > 1)
        for (int64_t s = 0; s < n_slices; s++) {
            const int64_t n0 = FWD_ROWS * s;
            const int rows = N - n0 >= FWD_ROWS ? FWD_ROWS : (int)(N - n0);
            cpu_avx512_fwd_fused(out, N, x, K, w.data, w.format, n0, rows, M, beta);
        }
        return;
    }
    const WPanelFn panel_of = cpu_wpanel_fn(w.format, fast);
    const FwdPanelFn kern = !fast                     ? fwd_panel_c
                            : M >= CPU_OUTER_MIN_ROWS ? cpu_avx512_fwd_outer_panel
                                                      : cpu_avx512_fwd_panel;
    const int64_t n_slices = (N + FWD_ROWS - 1) / FWD_ROWS;
#pragma omp parallel for schedule(static) if (M * N * K >= PAR_MIN_FMAS && n_slices > 1)
    for (int64_t s = 0; s < n_slices; s++) {
        const int64_t n0 = FWD_ROWS * s;
        const int rows = N - n0 >= FWD_ROWS ? FWD_ROWS : (int)(N - n0);
        fwd_slice(out, x, w, M, N, K, n0, rows, beta, panel_of, kern);
    }
}

/* The columns of dx one decoded backward panel holds: 64, or one whole block when blocks
 * are wider (a panel decodes only whole blocks). */
static int64_t bwd_unit(WeightFormat f) {
    const int64_t be = weight_block_elems(f);
    return be > BWD_COLS ? be : BWD_COLS;
}

/* Columns [k0, k0 + kw) of dx. Row chunks outermost: a chunk of dy (M x chunk) stays in
 * L2 while every column block of the slice passes over it, so dy is read from memory
 * once per slice, not once per 64 columns (the lm_head's dy is M x V). The chunk length
 * and each element's order of summation do not depend on the slice, hence neither on the
 * thread count. */
static void bwd_slice(float *dx, const float *dy, Weight w, int64_t M, int64_t N, int64_t K,
                      int64_t k0, int64_t kw, float beta, WPanelFn panel_of, BwdPanelFn kern) {
    float panel[PANEL_FLOATS] __attribute__((aligned(64)));
    const int64_t unit = in_place(w.format) ? kw : bwd_unit(w.format);
    const int64_t chunk = in_place(w.format) ? BWD_ROWS_IN_PLACE
                                             : PANEL_FLOATS / cpu_wpanel_ld(w.format, unit);
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
        const int rows = N - n0 < chunk ? (int)(N - n0) : (int)chunk;
        for (int64_t u = k0; u < k0 + kw; u += unit) {
            const int64_t uw = k0 + kw - u < unit ? k0 + kw - u : unit;
            int64_t ld = 0;
            const float *p = panel_of(w.data, K, n0, rows, u, uw, panel, &ld);
            for (int64_t c = 0; c < uw; c += BWD_COLS) {
                const int64_t kc = uw - c < BWD_COLS ? uw - c : BWD_COLS;
                kern(dx + u + c, K, dy + n0, N, p + c, ld, M, rows, kc, n0 == 0 ? beta : 1.0f);
            }
        }
    }
}

/* Slice boundaries fall on granules (16 columns, one vector, for fp32 read in place;
 * whole decoded panels otherwise), as evenly as they go over the threads, each at most
 * about BWD_SLICE_COLS wide so its part of dx stays in L2. */
#define BWD_SLICE_COLS 512

void cpu_wmm_bwd(float *dx, const float *dy, Weight w, int64_t M, int64_t N, int64_t K,
                 float beta, int fast) {
    const WPanelFn panel_of = cpu_wpanel_fn(w.format, fast);
    const BwdPanelFn kern = fast ? cpu_avx512_bwd_panel : bwd_panel_c;
    const int64_t granule = in_place(w.format) ? 16 : bwd_unit(w.format);
    const int64_t n_gran = (K + granule - 1) / granule, threads = omp_get_max_threads();
    const int64_t per_thread = (K + threads * BWD_SLICE_COLS - 1) / (threads * BWD_SLICE_COLS);
    int64_t n_slices = threads * per_thread;
    if (n_slices > n_gran)
        n_slices = n_gran;
#pragma omp parallel for schedule(static) if (M * N * K >= PAR_MIN_FMAS && n_slices > 1)
    for (int64_t s = 0; s < n_slices; s++) {
        const int64_t k0 = granule * (s * n_gran / n_slices);
        int64_t k1 = granule * ((s + 1) * n_gran / n_slices);
        if (k1 > K)
            k1 = K;
        bwd_slice(dx, dy, w, M, N, K, k0, k1 - k0, beta, panel_of, kern);
    }
}

/* The simple twins: one weight row decoded at a time (plain C) and used at once. */
void cpu_wmatmul_fwd_simple(float *out, const float *x, Weight w, int64_t M, int64_t N,
                            int64_t K, float beta) {
    const WPanelFn panel_of = cpu_wpanel_fn(w.format, 0);
    const int64_t ld = cpu_wpanel_ld(w.format, K);
#pragma omp parallel for schedule(static) if (N * K >= PAR_MIN_FMAS)
    for (int64_t n = 0; n < N; n++) {
        float row[ld > 0 ? ld : 1];
        int64_t ldr = 0;
        const float *r = panel_of(w.data, K, n, 1, 0, K, row, &ldr);
        for (int64_t m = 0; m < M; m++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++)
                acc += x[m * K + k] * r[k];
            float *o = out + m * N + n;
            *o = beta != 0.0f ? *o + acc : acc;
        }
    }
}

void cpu_wmatmul_bwd_simple(float *dx, const float *dy, Weight w, int64_t M, int64_t N,
                            int64_t K, float beta) {
    const WPanelFn panel_of = cpu_wpanel_fn(w.format, 0);
    const int64_t ld = cpu_wpanel_ld(w.format, K);
    if (beta == 0.0f)
        memset(dx, 0, (size_t)(M * K) * sizeof *dx);
    float row[ld > 0 ? ld : 1];
    for (int64_t n = 0; n < N; n++) { /* rows in order: each dx element sums n ascending */
        int64_t ldr = 0;
        const float *r = panel_of(w.data, K, n, 1, 0, K, row, &ldr);
#pragma omp parallel for schedule(static) if (M * K >= PAR_MIN_FMAS)
        for (int64_t m = 0; m < M; m++) {
            const float g = dy[m * N + n];
            for (int64_t k = 0; k < K; k++)
                dx[m * K + k] += g * r[k];
        }
    }
}
