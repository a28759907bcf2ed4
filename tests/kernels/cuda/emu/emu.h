/* tests/kernels/cuda/emu/emu.h -- a lockstep host emulator for the tensor-core kernels, so
 * their indexing (fragment layouts, tiling, masks, barriers) is checked where no GPU is.
 * Included before a kernel file compiled by the host C++ compiler with TLM_CUDA_HOST_EMU
 * (attention_mma.cuh then calls emu_mma_bf16 instead of the mma.sync instruction).
 *
 * A block's threads are coroutines (ucontext) run one at a time by emu_launch: a thread
 * runs until it reaches a barrier or returns; __syncthreads releases when every thread of
 * the block waits there (returned threads count as arrived), a warp collective
 * (mma.sync, __shfl_*_sync) when the 32 lanes of the warp wait on it. A schedule where
 * nothing can run is a deadlock (divergent barriers) and aborts. Collectives exchange
 * their operands through per-warp slots, double-buffered by generation so a lane that
 * already moved on to the next collective cannot overwrite what a slower lane still reads.
 * mma.sync m16n8k16 is computed from the PTX ISA's fragment description ("Matrix
 * Fragments for mma.m16n8k16"): an independent statement of the layout the kernels use. */
#ifndef TLM_TESTS_CUDA_EMU_H
#define TLM_TESTS_CUDA_EMU_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <functional>

#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __shared__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__

/* the device's min() overloads the kernels use */
static inline int64_t min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int min(int a, int b) { return a < b ? a : b; }

#define EMU_MAX_THREADS 256
#define EMU_STACK (256 * 1024)

enum EmuState { EMU_READY, EMU_WAIT_WARP, EMU_WAIT_BLOCK, EMU_DONE };

/* The block being run: its coroutines, their states and the warps' exchange slots. */
struct EmuBlock {
    ucontext_t main_ctx, ctx[EMU_MAX_THREADS];
    EmuState state[EMU_MAX_THREADS];
    int n_threads, cur;
    std::function<void()> body;
    /* per warp, per generation parity: mma operands and accumulators, shfl values */
    uint32_t a[EMU_MAX_THREADS / 32][2][32][4], b[EMU_MAX_THREADS / 32][2][32][2];
    float d[EMU_MAX_THREADS / 32][2][32][4], f[EMU_MAX_THREADS / 32][2][32];
    int gen[EMU_MAX_THREADS]; /* collectives this thread has entered */
};

static EmuBlock *emu_blk;
static char *emu_stacks;
static uint3 emu_threadIdx_v[EMU_MAX_THREADS];
static uint3 emu_blockIdx, emu_gridDim, emu_blockDim;

#define threadIdx (emu_threadIdx_v[emu_blk->cur])
#define blockIdx emu_blockIdx
#define gridDim emu_gridDim
#define blockDim emu_blockDim

static void emu_wait(EmuState why) {
    EmuBlock *b = emu_blk;
    const int me = b->cur;
    b->state[me] = why;
    swapcontext(&b->ctx[me], &b->main_ctx);
}

static inline void __syncthreads(void) { emu_wait(EMU_WAIT_BLOCK); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    (void)mask;
    emu_wait(EMU_WAIT_WARP);
}

/* Enters a warp collective: returns this lane's slot parity after the warp has met. */
static inline int emu_collective_enter(int *warp, int *lane) {
    const int t = emu_blk->cur;
    *warp = t / 32;
    *lane = t % 32;
    return emu_blk->gen[t]++ & 1;
}

static inline float emu_shfl(float v, int src_of_lane_xor, int src_lane, bool use_xor) {
    int w, l;
    const int p = emu_collective_enter(&w, &l);
    emu_blk->f[w][p][l] = v;
    emu_wait(EMU_WAIT_WARP);
    const int src = use_xor ? (l ^ src_of_lane_xor) : src_lane;
    return emu_blk->f[w][p][src & 31];
}

static inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask, int width = 32) {
    (void)mask, (void)width;
    return emu_shfl(v, lane_mask, 0, true);
}
static inline float __shfl_sync(unsigned mask, float v, int src, int width = 32) {
    (void)mask, (void)width;
    return emu_shfl(v, 0, src, false);
}

static inline float emu_bf16_half(uint32_t reg, int hi) {
    const uint32_t bits = hi ? (reg & 0xffff0000u) : (reg << 16);
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

/* D += A B for one lane, A (16x16) and B (16x8) gathered from the warp's slots. */
static inline void emu_mma_bf16(float *d, const uint32_t *a, const uint32_t *b) {
    int w, l;
    const int p = emu_collective_enter(&w, &l);
    memcpy(emu_blk->a[w][p][l], a, 16);
    memcpy(emu_blk->b[w][p][l], b, 8);
    emu_wait(EMU_WAIT_WARP);
    const int gr = l >> 2, tq = l & 3;
    for (int i = 0; i < 4; i++) {
        const int row = gr + (i >= 2 ? 8 : 0), col = 2 * tq + (i & 1);
        float s = 0.0f;
        for (int k = 0; k < 16; k++) {
            /* A(row, k): lane (row % 8) * 4 + (k % 8) / 2, register (row >= 8) + 2 (k >= 8) */
            const uint32_t ar =
                emu_blk->a[w][p][(row % 8) * 4 + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)];
            /* B(k, col): lane col * 4 + (k % 8) / 2, register k >= 8 */
            const uint32_t br = emu_blk->b[w][p][col * 4 + (k % 8) / 2][k >= 8];
            s += emu_bf16_half(ar, k & 1) * emu_bf16_half(br, k & 1);
        }
        d[i] += s;
    }
}

static void emu_trampoline(void) {
    emu_blk->body();
    emu_blk->state[emu_blk->cur] = EMU_DONE;
    /* uc_link returns to main_ctx */
}

/* Releases the barriers every participant has reached; 1 when any thread became ready. */
static int emu_release(EmuBlock *b) {
    int released = 0, all_block = 1;
    for (int t = 0; t < b->n_threads; t++)
        if (b->state[t] != EMU_WAIT_BLOCK && b->state[t] != EMU_DONE)
            all_block = 0;
    for (int t = 0; t < b->n_threads; t++)
        if (all_block && b->state[t] == EMU_WAIT_BLOCK)
            b->state[t] = EMU_READY, released = 1;
    for (int w = 0; w * 32 < b->n_threads; w++) {
        int all = 1;
        for (int l = 0; l < 32; l++)
            all &= b->state[w * 32 + l] == EMU_WAIT_WARP;
        if (all) {
            for (int l = 0; l < 32; l++)
                b->state[w * 32 + l] = EMU_READY;
            released = 1;
        }
    }
    return released;
}

/* Runs body as the grid grid x n_threads (a multiple of 32), block after block. */
static void emu_launch(dim3 grid, int n_threads, std::function<void()> body) {
    static EmuBlock blk;
    if (emu_stacks == NULL)
        emu_stacks = (char *)malloc((size_t)EMU_MAX_THREADS * EMU_STACK);
    if (n_threads % 32 != 0 || n_threads > EMU_MAX_THREADS) {
        fprintf(stderr, "emu: %d threads per block unsupported\n", n_threads);
        exit(2);
    }
    emu_blk = &blk;
    emu_gridDim = make_uint3(grid.x, grid.y, grid.z);
    emu_blockDim = make_uint3((unsigned)n_threads, 1, 1);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                emu_blockIdx = make_uint3(x, y, z);
                blk.n_threads = n_threads;
                blk.body = body;
                for (int t = 0; t < n_threads; t++) {
                    emu_threadIdx_v[t] = make_uint3((unsigned)t, 0, 0);
                    blk.state[t] = EMU_READY;
                    blk.gen[t] = 0;
                    getcontext(&blk.ctx[t]);
                    blk.ctx[t].uc_stack.ss_sp = emu_stacks + (size_t)t * EMU_STACK;
                    blk.ctx[t].uc_stack.ss_size = EMU_STACK;
                    blk.ctx[t].uc_link = &blk.main_ctx;
                    makecontext(&blk.ctx[t], emu_trampoline, 0);
                }
                for (;;) {
                    int ran = 0, live = 0;
                    for (int t = 0; t < n_threads; t++) {
                        if (blk.state[t] != EMU_READY)
                            continue;
                        blk.cur = t;
                        ran = 1;
                        swapcontext(&blk.main_ctx, &blk.ctx[t]);
                    }
                    for (int t = 0; t < n_threads; t++)
                        live += blk.state[t] != EMU_DONE;
                    if (live == 0)
                        break;
                    if (!emu_release(&blk) && !ran) {
                        fprintf(stderr, "emu: deadlock in block (%u,%u,%u)\n", x, y, z);
                        exit(2);
                    }
                }
            }
}

#endif
