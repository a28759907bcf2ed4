/* kernels/cpu/attention.c -- causal grouped-query attention over packed spans, fp32.
 * Math of HF LlamaAttention with eager_attention_forward (modeling_llama.py): scores =
 * q k^T * HD^-0.5, causal mask, softmax in fp32, times v; query head h reads kv head
 * h / (H / KVH) (repeat_kv). Computed flash-attention style: keys stream through in tiles
 * with an online softmax, so memory is O(tile) per thread whatever the sequence length,
 * and the backward recomputes probabilities from the saved log-sum-exp.
 * Work splits into tasks of (span, kv head, block): a block is QROWS (query, head) rows
 * in the forward and the dq pass, KTILE keys in the dk/dv pass. Each task owns the output
 * rows it writes, so no two threads ever add into the same element (spans of one call
 * must not share kv rows in the backward; packed training batches never do). */
#include "kernels/cpu/cpu_ops.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define KTILE 32 /* keys per tile */
#define QROWS 16 /* (query, head) rows per block */

/* Shapes shared by every task of one call. */
typedef struct AttnDims {
    int64_t H, KVH, HD, G; /* G = H / KVH query heads per kv head */
    float scale;
} AttnDims;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* s[r][j] (row stride lds) = a_r . b_j over HD, for r < na, j < nb: the score-tile
 * product. Blocks of 2 rows x 4 keys keep 8 sums in registers and load each operand once
 * per 8 multiply-adds; short edges reuse the last row / key (results discarded). */
static void dots(float *s, int64_t lds, const float *const *a, int64_t na,
                 const float *const *b, int64_t nb, int64_t HD) {
    for (int64_t r = 0; r < na; r += 2) {
        const float *a0 = a[r], *a1 = a[min64(r + 1, na - 1)];
        for (int64_t j = 0; j < nb; j += 4) {
            const float *b0 = b[j], *b1 = b[min64(j + 1, nb - 1)];
            const float *b2 = b[min64(j + 2, nb - 1)], *b3 = b[min64(j + 3, nb - 1)];
            float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
#pragma omp simd reduction(+ : s00, s01, s02, s03, s10, s11, s12, s13)
            for (int64_t d = 0; d < HD; d++) {
                float x0 = a0[d], x1 = a1[d];
                s00 += x0 * b0[d], s01 += x0 * b1[d], s02 += x0 * b2[d], s03 += x0 * b3[d];
                s10 += x1 * b0[d], s11 += x1 * b1[d], s12 += x1 * b2[d], s13 += x1 * b3[d];
            }
            const float r0[4] = {s00, s01, s02, s03}, r1[4] = {s10, s11, s12, s13};
            for (int64_t c = 0; c < 4 && j + c < nb; c++) {
                s[r * lds + j + c] = r0[c];
                if (r + 1 < na)
                    s[(r + 1) * lds + j + c] = r1[c];
            }
        }
    }
}

/* y_i[:] += sum_x c[i][x] * x_x[:] over HD, for i < ny, x < nx (c row stride ldc): the
 * probability-times-values product. Four source rows per pass over each destination. */
static void accum(float *const *y, int64_t ny, const float *c, int64_t ldc,
                  const float *const *x, int64_t nx, int64_t HD) {
    for (int64_t i = 0; i < ny; i++) {
        float *yi = y[i];
        const float *ci = c + i * ldc;
        for (int64_t j = 0; j < nx; j += 4) {
            float c0 = ci[j], c1 = 0, c2 = 0, c3 = 0;
            const float *x0 = x[j], *x1 = x0, *x2 = x0, *x3 = x0;
            if (j + 1 < nx)
                c1 = ci[j + 1], x1 = x[j + 1];
            if (j + 2 < nx)
                c2 = ci[j + 2], x2 = x[j + 2];
            if (j + 3 < nx)
                c3 = ci[j + 3], x3 = x[j + 3];
#pragma omp simd
            for (int64_t d = 0; d < HD; d++)
                yi[d] += c0 * x0[d] + c1 * x1[d] + c2 * x2[d] + c3 * x3[d];
        }
    }
}

/* One block of (query, head) rows of a span, all on kv head g: pairs [p0, p1) in the
 * order (query i, head in group), so positions never decrease down the block. */
typedef struct Block {
    const SeqSpan *sp;
    int64_t g, nr;
    int64_t row[QROWS]; /* index into (Tq, H) */
    int64_t pos[QROWS]; /* position of the row's query */
} Block;

static void block_init(Block *bk, const SeqSpan *sp, int64_t g, int64_t p0, int64_t p1,
                       const AttnDims *dm) {
    bk->sp = sp, bk->g = g, bk->nr = p1 - p0;
    for (int64_t r = 0; r < bk->nr; r++) {
        int64_t i = (p0 + r) / dm->G, h = g * dm->G + (p0 + r) % dm->G;
        bk->row[r] = (sp->q_start + i) * dm->H + h;
        bk->pos[r] = sp->pos0 + i;
    }
}

/* Offset of key (or value) j of kv head g, j counted from the span's kv_start. */
static int64_t kv_off(const SeqSpan *sp, int64_t g, int64_t j, const AttnDims *dm) {
    return ((sp->kv_start + j) * dm->KVH + g) * dm->HD;
}

/* Row pointers of keys (or values) [j0, j0 + n) of kv head g. */
static void kv_rows(const float **dst, const float *src, const SeqSpan *sp, int64_t g,
                    int64_t j0, int64_t n, const AttnDims *dm) {
    for (int64_t j = 0; j < n; j++)
        dst[j] = src + kv_off(sp, g, j0 + j, dm);
}

/* Forward of one block: online softmax over key tiles (FlashAttention-2, Alg. 1). */
static void fwd_block(float *out, float *lse, const float *q, const float *k, const float *v,
                      const Block *bk, const AttnDims *dm) {
    float acc[QROWS * CPU_ATTN_MAX_HD]; /* (nr, HD) unnormalized output */
    float s[QROWS * KTILE], mx[QROWS], sum[QROWS];
    const float *qr[QROWS], *kr[KTILE], *vr[KTILE];
    float *accr[QROWS];
    int64_t HD = dm->HD, nr = bk->nr, n_keys = bk->pos[nr - 1] + 1;
    for (int64_t r = 0; r < nr; r++) {
        mx[r] = -INFINITY, sum[r] = 0.0f;
        qr[r] = q + bk->row[r] * HD, accr[r] = acc + r * HD;
    }
    memset(acc, 0, sizeof(float) * (size_t)(nr * HD));
    for (int64_t j0 = 0; j0 < n_keys; j0 += KTILE) {
        int64_t jn = min64(KTILE, n_keys - j0), ra = 0;
        while (bk->pos[ra] < j0) /* rows whose whole tile is in the future: causal */
            ra++;
        kv_rows(kr, k, bk->sp, bk->g, j0, jn, dm);
        kv_rows(vr, v, bk->sp, bk->g, j0, jn, dm);
        dots(s + ra * KTILE, KTILE, qr + ra, nr - ra, kr, jn, HD);
        for (int64_t r = ra; r < nr; r++) {
            float *sr = s + r * KTILE, m_new = mx[r];
            int64_t cnt = min64(jn, bk->pos[r] - j0 + 1);
            for (int64_t j = 0; j < cnt; j++) {
                sr[j] *= dm->scale;
                m_new = sr[j] > m_new ? sr[j] : m_new;
            }
            if (m_new > mx[r] && mx[r] > -INFINITY) { /* rescale what came before */
                float corr = expf(mx[r] - m_new);
                sum[r] *= corr;
                for (int64_t d = 0; d < HD; d++)
                    accr[r][d] *= corr;
            }
            mx[r] = m_new;
            for (int64_t j = 0; j < jn; j++) {
                sr[j] = j < cnt ? expf(sr[j] - m_new) : 0.0f;
                sum[r] += sr[j];
            }
        }
        accum(accr + ra, nr - ra, s + ra * KTILE, KTILE, vr, jn, HD);
    }
    for (int64_t r = 0; r < nr; r++) {
        float inv = 1.0f / sum[r];
        for (int64_t d = 0; d < HD; d++)
            out[bk->row[r] * HD + d] = accr[r][d] * inv;
        if (lse != NULL)
            lse[bk->row[r]] = mx[r] + logf(sum[r]);
    }
}

void cpu_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                  const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                  int64_t HD) {
    assert(HD <= CPU_ATTN_MAX_HD && KVH > 0 && H % KVH == 0);
    AttnDims dm = {H, KVH, HD, H / KVH, (float)(1.0 / sqrt((double)HD))};
#pragma omp parallel
    for (int32_t si = 0; si < n_spans; si++) {
        const SeqSpan *sp = &spans[si];
        int64_t n_pairs = (int64_t)sp->q_len * dm.G;
        int64_t nb = (n_pairs + QROWS - 1) / QROWS;
        /* nowait: a thread done with this span's blocks starts on the next span's. */
#pragma omp for collapse(2) schedule(dynamic) nowait
        for (int64_t g = 0; g < KVH; g++)
            for (int64_t b = 0; b < nb; b++) {
                Block bk;
                block_init(&bk, sp, g, b * QROWS, min64(b * QROWS + QROWS, n_pairs), &dm);
                fwd_block(out, lse, q, k, v, &bk, &dm);
            }
    }
}

/* For rows [ra, nr) of a block against keys [j0, j0 + jn): p = softmax probabilities
 * exp(scale q.k - lse) (0 where causal masks them) and ds = p (dO.v - D) with
 * D = dO.O (FlashAttention-2, Alg. 2). p and ds are (QROWS, KTILE). */
static void bwd_tile(float *p, float *ds, const float *const *qr, const float *const *dor,
                     const float *const *kr, const float *const *vr, const float *lse,
                     const float *D, const Block *bk, int64_t ra, int64_t j0, int64_t jn,
                     const AttnDims *dm) {
    dots(p + ra * KTILE, KTILE, qr + ra, bk->nr - ra, kr, jn, dm->HD);
    dots(ds + ra * KTILE, KTILE, dor + ra, bk->nr - ra, vr, jn, dm->HD);
    for (int64_t r = ra; r < bk->nr; r++) {
        int64_t cnt = min64(jn, bk->pos[r] - j0 + 1);
        float l = lse[bk->row[r]];
        for (int64_t j = 0; j < jn; j++) {
            float pj = j < cnt ? expf(p[r * KTILE + j] * dm->scale - l) : 0.0f;
            p[r * KTILE + j] = pj;
            ds[r * KTILE + j] = pj * (ds[r * KTILE + j] - D[r]);
        }
    }
}

/* Pointers to the block's rows of q, dO, and D = dO . O per row. */
static void block_rows(const float **qr, const float **dor, float *D, const float *q,
                       const float *dout, const float *out, const Block *bk, int64_t HD) {
    for (int64_t r = 0; r < bk->nr; r++) {
        qr[r] = q + bk->row[r] * HD, dor[r] = dout + bk->row[r] * HD;
        const float *o = out + bk->row[r] * HD;
        double dsum = 0.0;
        for (int64_t d = 0; d < HD; d++)
            dsum += (double)dor[r][d] * (double)o[d];
        D[r] = (float)dsum;
    }
}

/* dk, dv for keys [j0, j0 + jn) of span sp, kv head g: sums over every (query, head) of
 * the group that sees them, one block of rows at a time. This task owns those rows. */
static void dkv_task(float *dk, float *dv, const float *dout, const float *q, const float *k,
                     const float *v, const float *out, const float *lse, const SeqSpan *sp,
                     int64_t g, int64_t j0, int64_t jn, const AttnDims *dm) {
    float p[QROWS * KTILE], ds[QROWS * KTILE], pt[KTILE * QROWS], dst[KTILE * QROWS];
    float D[QROWS];
    const float *qr[QROWS], *dor[QROWS], *kr[KTILE], *vr[KTILE];
    float *dkr[KTILE], *dvr[KTILE];
    kv_rows(kr, k, sp, g, j0, jn, dm);
    kv_rows(vr, v, sp, g, j0, jn, dm);
    for (int64_t j = 0; j < jn; j++) /* this task's rows of the gradients */
        dkr[j] = dk + kv_off(sp, g, j0 + j, dm), dvr[j] = dv + kv_off(sp, g, j0 + j, dm);
    int64_t i0 = j0 - sp->pos0 > 0 ? j0 - sp->pos0 : 0; /* first query that sees j0 */
    int64_t n_pairs = (int64_t)sp->q_len * dm->G;
    for (int64_t p0 = i0 * dm->G; p0 < n_pairs; p0 += QROWS) {
        Block bk;
        block_init(&bk, sp, g, p0, min64(p0 + QROWS, n_pairs), dm);
        block_rows(qr, dor, D, q, dout, out, &bk, dm->HD);
        bwd_tile(p, ds, qr, dor, kr, vr, lse, D, &bk, 0, j0, jn, dm);
        for (int64_t r = 0; r < bk.nr; r++) /* transpose: rows of dk/dv are keys */
            for (int64_t j = 0; j < jn; j++) {
                pt[j * QROWS + r] = p[r * KTILE + j];
                dst[j * QROWS + r] = dm->scale * ds[r * KTILE + j];
            }
        accum(dvr, jn, pt, QROWS, dor, bk.nr, dm->HD);
        accum(dkr, jn, dst, QROWS, qr, bk.nr, dm->HD);
    }
}

/* dq for one block of rows (overwritten): sum over key tiles of ds k, times scale. */
static void dq_block(float *dq, const float *dout, const float *q, const float *k,
                     const float *v, const float *out, const float *lse, const Block *bk,
                     const AttnDims *dm) {
    float acc[QROWS * CPU_ATTN_MAX_HD], p[QROWS * KTILE], ds[QROWS * KTILE], D[QROWS];
    const float *qr[QROWS], *dor[QROWS], *kr[KTILE], *vr[KTILE];
    float *accr[QROWS];
    int64_t HD = dm->HD, nr = bk->nr, n_keys = bk->pos[nr - 1] + 1;
    block_rows(qr, dor, D, q, dout, out, bk, HD);
    for (int64_t r = 0; r < nr; r++)
        accr[r] = acc + r * HD;
    memset(acc, 0, sizeof(float) * (size_t)(nr * HD));
    for (int64_t j0 = 0; j0 < n_keys; j0 += KTILE) {
        int64_t jn = min64(KTILE, n_keys - j0), ra = 0;
        while (bk->pos[ra] < j0)
            ra++;
        kv_rows(kr, k, bk->sp, bk->g, j0, jn, dm);
        kv_rows(vr, v, bk->sp, bk->g, j0, jn, dm);
        bwd_tile(p, ds, qr, dor, kr, vr, lse, D, bk, ra, j0, jn, dm);
        accum(accr + ra, nr - ra, ds + ra * KTILE, KTILE, kr, jn, HD);
    }
    for (int64_t r = 0; r < nr; r++)
        for (int64_t d = 0; d < HD; d++)
            dq[bk->row[r] * HD + d] = dm->scale * accr[r][d];
}

/* Two independent passes in one parallel region: dk/dv by key tile, then dq by row
 * block. Recomputing the probabilities in both costs ~40% more arithmetic than one fused
 * pass but needs no atomics and keeps every core busy even with a single kv head. */
void cpu_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q,
                  const void *k, const void *v, const void *out, const float *lse,
                  const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                  int64_t HD) {
    assert(HD <= CPU_ATTN_MAX_HD && KVH > 0 && H % KVH == 0);
    AttnDims dm = {H, KVH, HD, H / KVH, (float)(1.0 / sqrt((double)HD))};
    /* rows in no span get a zero gradient rather than stale memory */
    memset(dq, 0, sizeof(float) * (size_t)(Tq * H * HD));
#pragma omp parallel
    {
        for (int32_t si = 0; si < n_spans; si++) {
            const SeqSpan *sp = &spans[si];
            int64_t n_keys = (int64_t)sp->pos0 + sp->q_len;
            int64_t nt = (n_keys + KTILE - 1) / KTILE;
#pragma omp for collapse(2) schedule(dynamic) nowait
            for (int64_t g = 0; g < KVH; g++)
                for (int64_t b = 0; b < nt; b++)
                    dkv_task(dk, dv, dout, q, k, v, out, lse, sp, g, b * KTILE,
                             min64(KTILE, n_keys - b * KTILE), &dm);
        }
        for (int32_t si = 0; si < n_spans; si++) {
            const SeqSpan *sp = &spans[si];
            int64_t n_pairs = (int64_t)sp->q_len * dm.G;
            int64_t nb = (n_pairs + QROWS - 1) / QROWS;
#pragma omp for collapse(2) schedule(dynamic) nowait
            for (int64_t g = 0; g < KVH; g++)
                for (int64_t b = 0; b < nb; b++) {
                    Block bk;
                    block_init(&bk, sp, g, b * QROWS, min64(b * QROWS + QROWS, n_pairs), &dm);
                    dq_block(dq, dout, q, k, v, out, lse, &bk, &dm);
                }
        }
    }
}
