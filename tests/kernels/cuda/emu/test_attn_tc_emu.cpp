/* tests/kernels/cuda/emu/test_attn_tc_emu.cpp -- the tensor-core attention kernels
 * (attention_fwd_tc.cu, attention_bwd_tc.cu) run on the host by the lockstep emulator
 * (emu.h) against a float64 reference of causal GQA attention and its gradients, on
 * packed spans (a length-1 span, spans longer than a tile), a span starting at pos0 > 0,
 * GQA groups 1-4, head dims 64 and 128; and flash-decoding (attention_decode.cu: split
 * states and their merge) on one-query spans with long, short and single-key caches. It checks the kernels' indexing where no GPU is:
 * fragment layouts, tiles, causal skips and masks, the barriers (a divergent one
 * deadlocks the emulator). The launches mirror the op's (launch_tc, launch_bwd_tc), which
 * the emulator cannot compile; test_ops_cuda checks those on a GPU. Label cpu. */
#include "tests/kernels/cuda/emu/emu.h"

#include <algorithm>
#include <vector>

/* the kernels' dynamic shared memory: one block runs at a time */
alignas(16) unsigned char tc_smem[1 << 18];
alignas(16) unsigned char tb_smem[1 << 18];
alignas(16) unsigned char dec_smem[1 << 18];

#include "kernels/cuda/attention_bwd_tc.cu"
#include "kernels/cuda/attention_decode.cu"
#include "kernels/cuda/attention_fwd_tc.cu"

typedef std::vector<float> Vec;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static float rnd(float lo, float hi) {
    g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
    const double u = (double)((g_rng * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
    return __bfloat162float(__float2bfloat16_rn((float)(lo + (hi - lo) * u)));
}

static std::vector<bf16> to_bf16(const Vec &x) {
    std::vector<bf16> y(x.size());
    for (size_t i = 0; i < x.size(); i++)
        y[i] = __float2bfloat16_rn(x[i]);
    return y;
}

static Vec to_f32(const std::vector<bf16> &x) {
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); i++)
        y[i] = __bfloat162float(x[i]);
    return y;
}

struct Shape {
    int64_t Tq, rows, H, KVH, HD;
};

/* float64 forward and backward of causal GQA attention over the spans. */
static void reference(const Shape &s, const std::vector<SeqSpan> &spans, const Vec &q,
                      const Vec &k, const Vec &v, const Vec &dout, Vec &out, Vec &lse, Vec &dq,
                      Vec &dk, Vec &dv) {
    const int64_t H = s.H, KVH = s.KVH, HD = s.HD, grp = H / KVH;
    const double scale = 1.0 / sqrt((double)HD);
    out.assign(s.Tq * H * HD, 0.0f), lse.assign(s.Tq * H, 0.0f), dq.assign(s.Tq * H * HD, 0.0f);
    std::vector<double> dka(s.rows * KVH * HD, 0.0), dva(s.rows * KVH * HD, 0.0);
    for (const SeqSpan &sp : spans)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < sp.q_len; i++) {
                const int64_t row = sp.q_start + i, n = sp.pos0 + i + 1, g = h / grp;
                const float *qr = &q[(row * H + h) * HD], *dor = &dout[(row * H + h) * HD];
                std::vector<double> p(n), dp(n), o(HD, 0.0);
                double mx = -INFINITY, sum = 0.0, dr = 0.0;
                for (int64_t j = 0; j < n; j++) {
                    const float *kr = &k[((sp.kv_start + j) * KVH + g) * HD];
                    double d = 0.0;
                    for (int64_t e = 0; e < HD; e++)
                        d += (double)qr[e] * kr[e];
                    p[j] = d * scale;
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (int64_t j = 0; j < n; j++)
                    sum += p[j] = exp(p[j] - mx);
                for (int64_t j = 0; j < n; j++) {
                    const float *vr = &v[((sp.kv_start + j) * KVH + g) * HD];
                    p[j] /= sum;
                    double d = 0.0;
                    for (int64_t e = 0; e < HD; e++)
                        o[e] += p[j] * vr[e], d += (double)dor[e] * vr[e];
                    dp[j] = d;
                }
                for (int64_t e = 0; e < HD; e++)
                    out[(row * H + h) * HD + e] = (float)o[e], dr += o[e] * dor[e];
                lse[row * H + h] = (float)(mx + log(sum));
                for (int64_t j = 0; j < n; j++) {
                    const int64_t kv = ((sp.kv_start + j) * KVH + g) * HD;
                    const double ds = p[j] * (dp[j] - dr);
                    for (int64_t e = 0; e < HD; e++) {
                        dq[(row * H + h) * HD + e] += (float)(scale * ds * k[kv + e]);
                        dka[kv + e] += scale * ds * qr[e];
                        dva[kv + e] += p[j] * dor[e];
                    }
                }
            }
    dk.assign(dka.begin(), dka.end());
    dv.assign(dva.begin(), dva.end());
}

/* ||got - want|| / ||want|| <= tol and elementwise |got - want| <= etol (|want| + rms):
 * the tolerances of tests/kernels/cuda/harness.h (TOL_BF16, TOL_F32, TOL_BF16_BWD). */
static int compare(const char *label, const Vec &got, const Vec &want, double tol, double etol) {
    double ss = 0.0, se = 0.0;
    for (size_t i = 0; i < want.size(); i++)
        ss += (double)want[i] * want[i], se += ((double)got[i] - want[i]) * (got[i] - want[i]);
    const double rms = sqrt(ss / (double)(want.size() ? want.size() : 1));
    size_t bad = 0, worst = 0;
    double worst_ratio = 0.0;
    for (size_t i = 0; i < want.size(); i++) {
        const double ratio = fabs((double)got[i] - want[i]) / (etol * (fabs(want[i]) + rms));
        bad += !(ratio <= 1.0);
        if (!(ratio <= worst_ratio))
            worst_ratio = ratio, worst = i;
    }
    const double rel = sqrt(se / (ss > 0 ? ss : 1.0));
    const int ok = bad == 0 && rel <= tol;
    printf("%-4s %-32s n=%-6zu rel_norm=%.3g (tol %.3g) bad=%zu worst [%zu] %.6g vs %.6g\n",
           ok ? "ok" : "FAIL", label, want.size(), rel, tol, bad, worst,
           want.empty() ? 0.0 : got[worst], want.empty() ? 0.0 : want[worst]);
    return !ok;
}

template <int HD>
static void run_fwd(const Shape &s, const std::vector<SeqSpan> &spans, bf16 *out, float *lse,
                    const bf16 *q, const bf16 *k, const bf16 *v) {
    const dim3 grid((unsigned)((s.Tq + TC_BQ - 1) / TC_BQ), (unsigned)s.H, (unsigned)spans.size());
    const float scale_log2 = ATT_LOG2E / sqrtf((float)HD);
    const SeqSpan *sp = spans.data();
    const int64_t H = s.H, KVH = s.KVH;
    emu_launch(grid, TC_WARPS * 32, [=] {
        attn_fwd_tc_kernel<HD>(out, lse, q, k, v, sp, H, KVH, scale_log2);
    });
}

template <int HD, int BQ>
static void run_bwd(const Shape &s, const std::vector<SeqSpan> &spans, bf16 *dq, bf16 *dk,
                    bf16 *dv, const bf16 *dout, const bf16 *q, const bf16 *k, const bf16 *v,
                    const bf16 *out, const float *lse, float *dr) {
    const int64_t H = s.H, KVH = s.KVH, n_pairs = s.Tq * H;
    const SeqSpan *sp = spans.data();
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = scale * ATT_LOG2E;
    emu_launch(dim3((unsigned)((n_pairs + TB_DR_WARPS - 1) / TB_DR_WARPS)), TB_DR_WARPS * 32,
               [=] { attn_bwd_dr_kernel(dr, dout, out, n_pairs, HD); });
    const dim3 qgrid((unsigned)((s.Tq + TB_BQ - 1) / TB_BQ), (unsigned)H, (unsigned)spans.size());
    emu_launch(qgrid, TC_WARPS * 32, [=] {
        attn_bwd_dq_tc_kernel<HD>(dq, dout, q, k, v, lse, dr, sp, H, KVH, scale_log2, scale);
    });
    const dim3 kgrid((unsigned)((s.Tq + TB_BKV - 1) / TB_BKV), (unsigned)KVH,
                     (unsigned)spans.size());
    emu_launch(kgrid, TC_WARPS * 32, [=] {
        attn_bwd_dkdv_tc_kernel<HD, BQ>(dk, dv, dout, q, k, v, lse, dr, sp, H, KVH, scale_log2,
                                        scale);
    });
}

/* Flash-decoding as attn_fwd_decode launches it (S splits from the block count). */
static int run_decode(const char *what, const Shape &s, const std::vector<SeqSpan> &spans) {
    const int64_t nq = s.Tq * s.H * s.HD, nk = s.rows * s.KVH * s.HD, H = s.H, KVH = s.KVH;
    Vec q(nq), k(nk), v(nk), dout(nq, 0.0f);
    for (float &x : q)
        x = rnd(-2, 2);
    for (float &x : k)
        x = rnd(-2, 2);
    for (float &x : v)
        x = rnd(-1, 1);
    Vec r_out, r_lse, r_dq, r_dk, r_dv;
    reference(s, spans, q, k, v, dout, r_out, r_lse, r_dq, r_dk, r_dv);
    std::vector<bf16> bq = to_bf16(q), bk = to_bf16(k), bv = to_bf16(v);
    std::vector<bf16> out(nq, __ushort_as_bfloat16(0xFFFF));
    Vec lse(s.Tq * H, NAN);
    const int64_t blocks = KVH * (int64_t)spans.size();
    const int S = (int)std::max((int64_t)1, std::min((int64_t)32, DEC_SMS_TARGET / blocks));
    Vec part((size_t)(s.Tq * H * S * (s.HD + 2)), NAN);
    const float scale_log2 = ATT_LOG2E / sqrtf((float)s.HD);
    const int hd = (int)s.HD;
    const SeqSpan *sp = spans.data();
    float *pp = part.data();
    const bf16 *qp = bq.data(), *kp = bk.data(), *vp = bv.data();
    const dim3 grid((unsigned)S, (unsigned)KVH, (unsigned)spans.size());
    const int ne = att_dims_per_lane(s.HD);
    emu_launch(grid, DEC_WARPS * 32, [=] {
        if (ne == 1)
            attn_decode_split_kernel<1>(pp, qp, kp, vp, sp, H, KVH, hd, scale_log2);
        else if (ne == 2)
            attn_decode_split_kernel<2>(pp, qp, kp, vp, sp, H, KVH, hd, scale_log2);
        else if (ne == 4)
            attn_decode_split_kernel<4>(pp, qp, kp, vp, sp, H, KVH, hd, scale_log2);
        else
            attn_decode_split_kernel<8>(pp, qp, kp, vp, sp, H, KVH, hd, scale_log2);
    });
    bf16 *op = out.data();
    float *lp = lse.data();
    emu_launch(dim3((unsigned)H, (unsigned)spans.size()), 32,
               [=] { attn_decode_merge_kernel(op, lp, pp, sp, H, hd, S); });
    printf("-- %s: %zu spans, H=%lld KVH=%lld HD=%lld, %d splits\n", what, spans.size(),
           (long long)H, (long long)KVH, (long long)s.HD, S);
    int fails = compare("attn_fwd_decode out", to_f32(out), r_out, 1e-2, 2e-2);
    fails += compare("attn_fwd_decode lse", lse, r_lse, 1e-5, 1e-4);
    return fails;
}

static int run_case(const char *what, const Shape &s, const std::vector<SeqSpan> &spans) {
    const int64_t nq = s.Tq * s.H * s.HD, nk = s.rows * s.KVH * s.HD;
    Vec q(nq), k(nk), v(nk), dout(nq);
    for (float &x : q)
        x = rnd(-2, 2);
    for (float &x : k)
        x = rnd(-2, 2);
    for (float &x : v)
        x = rnd(-1, 1);
    for (float &x : dout)
        x = rnd(-1, 1);
    Vec r_out, r_lse, r_dq, r_dk, r_dv;
    reference(s, spans, q, k, v, dout, r_out, r_lse, r_dq, r_dk, r_dv);

    std::vector<bf16> bq = to_bf16(q), bk = to_bf16(k), bv = to_bf16(v), bdo = to_bf16(dout);
    /* outputs the kernels overwrite start as NaN (bf16 and fp32 0xFFFF...) */
    std::vector<bf16> out(nq, __ushort_as_bfloat16(0xFFFF)), dq(nq, __ushort_as_bfloat16(0));
    std::vector<bf16> dk(nk, __float2bfloat16_rn(0.0f)), dv(nk, __float2bfloat16_rn(0.0f));
    Vec lse(s.Tq * s.H, NAN), dr(s.Tq * s.H, NAN);
    if (s.HD == 64) {
        run_fwd<64>(s, spans, out.data(), lse.data(), bq.data(), bk.data(), bv.data());
        run_bwd<64, 64>(s, spans, dq.data(), dk.data(), dv.data(), bdo.data(), bq.data(),
                        bk.data(), bv.data(), out.data(), lse.data(), dr.data());
    } else {
        run_fwd<128>(s, spans, out.data(), lse.data(), bq.data(), bk.data(), bv.data());
        run_bwd<128, 32>(s, spans, dq.data(), dk.data(), dv.data(), bdo.data(), bq.data(),
                         bk.data(), bv.data(), out.data(), lse.data(), dr.data());
    }
    int fails = 0;
    printf("-- %s: Tq=%lld H=%lld KVH=%lld HD=%lld\n", what, (long long)s.Tq, (long long)s.H,
           (long long)s.KVH, (long long)s.HD);
    fails += compare("attn_fwd_tc out", to_f32(out), r_out, 1e-2, 2e-2);
    fails += compare("attn_fwd_tc lse", lse, r_lse, 1e-5, 1e-4);
    fails += compare("attn_bwd_tc dq", to_f32(dq), r_dq, 2e-2, 5e-2);
    fails += compare("attn_bwd_tc dk", to_f32(dk), r_dk, 2e-2, 5e-2);
    fails += compare("attn_bwd_tc dv", to_f32(dv), r_dv, 2e-2, 5e-2);
    return fails;
}

int main(void) {
    int fails = 0;
    /* packed training spans: a length-1 span, one longer than a key tile; GQA group 4 */
    fails += run_case("packed 33+1+100", {134, 134, 4, 1, 64},
                      {{0, 33, 0, 0}, {33, 1, 0, 33}, {34, 100, 0, 34}});
    /* one span over several query and key tiles (dkdv's 32-row query tiles), no GQA */
    fails += run_case("single T=150", {150, 150, 2, 2, 128}, {{0, 150, 0, 0}});
    /* a chunk at pos0 = 50 reading cached keys (more keys than Tq), and one token at
     * pos0 = 9 of another slot; GQA group 2 */
    fails += run_case("pos0 50 (70 rows) + pos0 9 (1 row)", {71, 256, 4, 2, 128},
                      {{0, 70, 50, 0}, {70, 1, 9, 200}});
    /* decoding: one query per span; a cache of 1 key leaves most splits empty */
    fails += run_decode("decode ctx 1000/1/300, GQA 4", {3, 2048, 8, 2, 128},
                        {{0, 1, 999, 0}, {1, 1, 0, 1024}, {2, 1, 299, 1500}});
    fails += run_decode("decode ctx 77/5, HD 80", {2, 256, 2, 2, 80},
                        {{0, 1, 76, 0}, {1, 1, 4, 128}});
    printf("%s: %d failed check(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
