/* kernels/cpu/attention.c -- causal grouped-query attention over packed spans, fp32.
 * Math of HF LlamaAttention with eager_attention_forward (modeling_llama.py): scores =
 * q k^T * HD^-0.5, causal mask, softmax in fp32, times v; query head h reads kv head
 * h / (H / KVH) (repeat_kv). Computed flash-attention style: keys stream through in tiles
 * with an online softmax, so memory is O(tile) per thread whatever the sequence length,
 * and the backward recomputes probabilities from the saved log-sum-exp.
 * Work splits into tasks of (span, kv head, block): a block is QROWS (query, head) rows
 * in the forward and the dq pass, KTILE keys in the dk/dv pass. Each task owns the output
 * rows it writes, so no two threads ever add into the same element (spans of one call
 * must not share kv rows in the backward; packed training batches never do).
 * A full block keeps its QROWS rows in the lanes of one vector: its q (and dO) are
 * transposed once, each score is a lane-wise multiply-add over HD, and the softmax, the
 * causal mask and the exponentials (vexp.h) run on all rows at once. Blocks of a few rows
 * (decoding: one query, G heads) keep the row-by-row dot products, which waste no lanes.
 * The tasks are built once per x86-64 level (CPU_MULTIVERSION) so those loops use the
 * widest vectors the CPU has. */
#include "kernels/cpu/cpu_ops.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu/vexp.h"

#define KTILE 32 /* keys per tile */
#define QROWS 16 /* (query, head) rows per block: one vector of fp32 lanes */
/* Blocks with fewer rows take the row-by-row forward. */
#define LANE_MIN_ROWS 8
#define INLINE static inline __attribute__((always_inline))

/* Shapes shared by every task of one call. */
typedef struct AttnDims {
    int64_t H, KVH, HD, G; /* G = H / KVH query heads per kv head */
    float scale;
} AttnDims;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* s[r][j] (row stride lds) = a_r . b_j over HD, for r < na, j < nb: the score-tile
 * product. Blocks of 2 rows x 4 keys keep 8 sums in registers and load each operand once
 * per 8 multiply-adds; short edges reuse the last row / key (results discarded). */
INLINE void dots(float *s, int64_t lds, const float *const *a, int64_t na,
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

/* y_i[:] += sum_x c(i, x) * x_x[:] over HD, for i < ny, x < nx, where c(i, x) is
 * c[i * si + x * sx]: the probability-times-values products. Four source rows per pass
 * over each destination. */
INLINE void accum(float *const *y, int64_t ny, const float *c, int64_t si, int64_t sx,
                  const float *const *x, int64_t nx, int64_t HD) {
    for (int64_t i = 0; i < ny; i++) {
        float *yi = y[i];
        const float *ci = c + i * si;
        for (int64_t j = 0; j < nx; j += 4) {
            float c0 = ci[j * sx], c1 = 0, c2 = 0, c3 = 0;
            const float *x0 = x[j], *x1 = x0, *x2 = x0, *x3 = x0;
            if (j + 1 < nx)
                c1 = ci[(j + 1) * sx], x1 = x[j + 1];
            if (j + 2 < nx)
                c2 = ci[(j + 2) * sx], x2 = x[j + 2];
            if (j + 3 < nx)
                c3 = ci[(j + 3) * sx], x3 = x[j + 3];
#pragma omp simd
            for (int64_t d = 0; d < HD; d++)
                yi[d] += c0 * x0[d] + c1 * x1[d] + c2 * x2[d] + c3 * x3[d];
        }
    }
}

/* at[d * QROWS + r] = a_r[d]: rows a_0..a_{nr-1} into lanes, 0 in the lanes past nr. */
INLINE void lanes_of(float *at, const float *const *a, int64_t nr, int64_t HD) {
    for (int64_t r = 0; r < QROWS; r++)
        for (int64_t d = 0; d < HD; d++)
            at[d * QROWS + r] = r < nr ? a[r][d] : 0.0f;
}

/* sT[j * QROWS + r] = a_r . b_j over HD for keys j < nb and every lane r (a in lanes,
 * at): four keys per pass, each a lane-wise multiply-add; a short edge reuses the last
 * key (results dropped). */
INLINE void lane_dots(float *sT, const float *at, const float *const *b, int64_t nb,
                      int64_t HD) {
    for (int64_t j = 0; j < nb; j += 4) {
        const float *b0 = b[j], *b1 = b[min64(j + 1, nb - 1)];
        const float *b2 = b[min64(j + 2, nb - 1)], *b3 = b[min64(j + 3, nb - 1)];
        float s0[QROWS] = {0}, s1[QROWS] = {0}, s2[QROWS] = {0}, s3[QROWS] = {0};
        for (int64_t d = 0; d < HD; d++) {
            const float *ad = at + d * QROWS;
            const float k0 = b0[d], k1 = b1[d], k2 = b2[d], k3 = b3[d];
#pragma omp simd
            for (int r = 0; r < QROWS; r++) {
                s0[r] += k0 * ad[r], s1[r] += k1 * ad[r];
                s2[r] += k2 * ad[r], s3[r] += k3 * ad[r];
            }
        }
        const float *sv[4] = {s0, s1, s2, s3};
        for (int64_t c = 0; c < 4 && j + c < nb; c++)
            memcpy(sT + (j + c) * QROWS, sv[c], sizeof s0);
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

/* Forward of one block of a few rows (decoding), row by row: online softmax over key
 * tiles (FlashAttention-2, Alg. 1). */
CPU_MULTIVERSION static void fwd_rows(float *out, float *lse, const float *q, const float *k, const float *v,
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
                sr[j] = j < cnt ? vexp(sr[j] - m_new) : 0.0f;
                sum[r] += sr[j];
            }
        }
        accum(accr + ra, nr - ra, s + ra * KTILE, KTILE, 1, vr, jn, HD);
    }
    for (int64_t r = 0; r < nr; r++) {
        float inv = 1.0f / sum[r];
        for (int64_t d = 0; d < HD; d++)
            out[bk->row[r] * HD + d] = accr[r][d] * inv;
        if (lse != NULL)
            lse[bk->row[r]] = mx[r] + logf(sum[r]);
    }
}

/* One key tile [j0, j0 + jn) of the online softmax on every lane (row) at once: the
 * scores sT scaled, keys after the row's position masked, the running max and sum
 * updated, exp(s - max) left in sT (0 where masked), and in corr the factor the row's
 * earlier output is rescaled by (exactly 1 when its max did not move). */
INLINE void lane_softmax(float *sT, float *mx, float *sum, float *corr, const int32_t *pos,
                         int64_t j0, int64_t jn, float scale) {
    float m_new[QROWS];
    memcpy(m_new, mx, sizeof m_new);
    for (int64_t j = 0; j < jn; j++) {
        float *s = sT + j * QROWS;
        const int32_t kp = (int32_t)(j0 + j);
#pragma omp simd
        for (int r = 0; r < QROWS; r++) {
            const float x = kp <= pos[r] ? s[r] * scale : -INFINITY;
            s[r] = x;
            m_new[r] = x > m_new[r] ? x : m_new[r];
        }
    }
#pragma omp simd
    for (int r = 0; r < QROWS; r++) {
        corr[r] = mx[r] == -INFINITY ? 0.0f : vexp(mx[r] - m_new[r]);
        sum[r] *= corr[r];
        mx[r] = m_new[r];
    }
    for (int64_t j = 0; j < jn; j++) {
        float *s = sT + j * QROWS;
#pragma omp simd
        for (int r = 0; r < QROWS; r++) {
            const float e = s[r] == -INFINITY ? 0.0f : vexp(s[r] - mx[r]);
            s[r] = e;
            sum[r] += e;
        }
    }
}

/* Forward of a block of at least LANE_MIN_ROWS rows, the rows in lanes. */
CPU_MULTIVERSION static void fwd_lanes(float *out, float *lse, const float *q, const float *k,
                                       const float *v, const Block *bk, const AttnDims *dm) {
    float qt[CPU_ATTN_MAX_HD * QROWS], acc[QROWS * CPU_ATTN_MAX_HD], pT[KTILE * QROWS];
    float mx[QROWS], sum[QROWS], corr[QROWS];
    int32_t pos[QROWS];
    const float *qr[QROWS], *kr[KTILE], *vr[KTILE];
    float *accr[QROWS];
    const int64_t HD = dm->HD, nr = bk->nr, n_keys = bk->pos[nr - 1] + 1;
    for (int64_t r = 0; r < QROWS; r++) {
        mx[r] = -INFINITY, sum[r] = 0.0f;
        pos[r] = r < nr ? (int32_t)bk->pos[r] : -1;
    }
    for (int64_t r = 0; r < nr; r++)
        qr[r] = q + bk->row[r] * HD, accr[r] = acc + r * HD;
    lanes_of(qt, qr, nr, HD);
    memset(acc, 0, sizeof(float) * (size_t)(nr * HD));
    for (int64_t j0 = 0; j0 < n_keys; j0 += KTILE) {
        const int64_t jn = min64(KTILE, n_keys - j0);
        kv_rows(kr, k, bk->sp, bk->g, j0, jn, dm);
        kv_rows(vr, v, bk->sp, bk->g, j0, jn, dm);
        lane_dots(pT, qt, kr, jn, HD);
        lane_softmax(pT, mx, sum, corr, pos, j0, jn, dm->scale);
        for (int64_t r = 0; r < nr; r++)
            if (corr[r] != 1.0f)
                for (int64_t d = 0; d < HD; d++)
                    accr[r][d] *= corr[r];
        accum(accr, nr, pT, 1, QROWS, vr, jn, HD);
    }
    for (int64_t r = 0; r < nr; r++) {
        const float inv = 1.0f / sum[r];
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
                if (bk.nr >= LANE_MIN_ROWS)
                    fwd_lanes(out, lse, q, k, v, &bk, &dm);
                else
                    fwd_rows(out, lse, q, k, v, &bk, &dm);
            }
    }
}

/* A block's rows in lanes for the backward: q and dO transposed, and per row its
 * position, lse and D = dO . O (in double); the lanes past nr masked (position -1). */
typedef struct Lanes {
    float qt[CPU_ATTN_MAX_HD * QROWS], dot[CPU_ATTN_MAX_HD * QROWS];
    float lse[QROWS], D[QROWS];
    int32_t pos[QROWS];
    const float *qr[QROWS], *dor[QROWS];
} Lanes;

INLINE void lanes_init(Lanes *ln, const float *q, const float *dout, const float *out,
                       const float *lse, const Block *bk, int64_t HD) {
    for (int64_t r = 0; r < QROWS; r++) {
        ln->pos[r] = -1, ln->lse[r] = 0.0f, ln->D[r] = 0.0f;
        if (r >= bk->nr)
            continue;
        ln->qr[r] = q + bk->row[r] * HD, ln->dor[r] = dout + bk->row[r] * HD;
        const float *o = out + bk->row[r] * HD;
        double dsum = 0.0;
        for (int64_t d = 0; d < HD; d++)
            dsum += (double)ln->dor[r][d] * (double)o[d];
        ln->D[r] = (float)dsum;
        ln->lse[r] = lse[bk->row[r]];
        ln->pos[r] = (int32_t)bk->pos[r];
    }
    lanes_of(ln->qt, ln->qr, bk->nr, HD);
    lanes_of(ln->dot, ln->dor, bk->nr, HD);
}

/* For a block's rows (lanes) against keys [j0, j0 + jn): pT = the softmax probabilities
 * exp(scale q.k - lse) (0 where causal masks them) and dsT = p (dO.v - D)
 * (FlashAttention-2, Alg. 2), both (KTILE, QROWS). */
INLINE void bwd_lanes(float *pT, float *dsT, const Lanes *ln, const float *const *kr,
                      const float *const *vr, int64_t j0, int64_t jn, const AttnDims *dm) {
    lane_dots(pT, ln->qt, kr, jn, dm->HD);
    lane_dots(dsT, ln->dot, vr, jn, dm->HD);
    for (int64_t j = 0; j < jn; j++) {
        float *p = pT + j * QROWS, *ds = dsT + j * QROWS;
        const int32_t kp = (int32_t)(j0 + j);
#pragma omp simd
        for (int r = 0; r < QROWS; r++) {
            const float pr = kp <= ln->pos[r] ? vexp(p[r] * dm->scale - ln->lse[r]) : 0.0f;
            p[r] = pr;
            ds[r] = pr * (ds[r] - ln->D[r]);
        }
    }
}

/* dk, dv for keys [j0, j0 + jn) of span sp, kv head g: sums over every (query, head) of
 * the group that sees them, one block of rows at a time. This task owns those rows. The
 * (key, lane) layout of p and ds is already the coefficient matrix of those sums. */
CPU_MULTIVERSION static void dkv_task(float *dk, float *dv, const float *dout, const float *q,
                                      const float *k, const float *v, const float *out,
                                      const float *lse, const SeqSpan *sp, int64_t g,
                                      int64_t j0, int64_t jn, const AttnDims *dm) {
    Lanes ln;
    float pT[KTILE * QROWS], dsT[KTILE * QROWS];
    const float *kr[KTILE], *vr[KTILE];
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
        lanes_init(&ln, q, dout, out, lse, &bk, dm->HD);
        bwd_lanes(pT, dsT, &ln, kr, vr, j0, jn, dm);
        for (int64_t i = 0; i < jn * QROWS; i++)
            dsT[i] *= dm->scale;
        accum(dvr, jn, pT, QROWS, 1, ln.dor, bk.nr, dm->HD);
        accum(dkr, jn, dsT, QROWS, 1, ln.qr, bk.nr, dm->HD);
    }
}

/* dq for one block of rows (overwritten): sum over key tiles of ds k, times scale. */
CPU_MULTIVERSION static void dq_block(float *dq, const float *dout, const float *q,
                                      const float *k, const float *v, const float *out,
                                      const float *lse, const Block *bk, const AttnDims *dm) {
    Lanes ln;
    float acc[QROWS * CPU_ATTN_MAX_HD], pT[KTILE * QROWS], dsT[KTILE * QROWS];
    const float *kr[KTILE], *vr[KTILE];
    float *accr[QROWS];
    const int64_t HD = dm->HD, nr = bk->nr, n_keys = bk->pos[nr - 1] + 1;
    lanes_init(&ln, q, dout, out, lse, bk, HD);
    for (int64_t r = 0; r < nr; r++)
        accr[r] = acc + r * HD;
    memset(acc, 0, sizeof(float) * (size_t)(nr * HD));
    for (int64_t j0 = 0; j0 < n_keys; j0 += KTILE) {
        const int64_t jn = min64(KTILE, n_keys - j0);
        kv_rows(kr, k, bk->sp, bk->g, j0, jn, dm);
        kv_rows(vr, v, bk->sp, bk->g, j0, jn, dm);
        bwd_lanes(pT, dsT, &ln, kr, vr, j0, jn, dm);
        accum(accr, nr, dsT, 1, QROWS, kr, jn, HD);
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
