/* kernels/cuda/graph.cu -- what takes the host out of a repeated step: pinned host memory,
 * the asynchronous copies that need it, and step graphs. A decode step (generate.c: one
 * new token per row) is some 700 launches of small kernels; captured once into a CUDA
 * graph it is one launch. A key runs as is the first time it is seen (so the scratch and
 * cuBLAS's workspace it needs exist before anything is captured), is captured the
 * second time and replayed from then on. A graph holds every pointer its kernels were
 * given: the caller's buffers are allocated once (graph_begin's promise); the one buffer
 * the backend itself may move, the scratch, is watched through scratch_epoch, and a graph
 * captured before it moved is captured again. */
#include "kernels/cuda/cuda_common.cuh"

void *cuda_host_alloc(size_t n_bytes, Err *err) {
    void *p = NULL;
    CUDA_CHECK_GOTO(cudaMallocHost(&p, n_bytes > 0 ? n_bytes : 1), err, fail);
    memset(p, 0, n_bytes);
    return p;
fail:
    err_prefix(err, "pinned host memory of %zu bytes: ", n_bytes);
    return NULL;
}

void cuda_host_release(void *p) {
    if (p != NULL)
        CUDA_CHECK_FATAL(cudaFreeHost(p));
}

void cuda_upload_async(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(cudaMemcpyAsync(dst, src, n_bytes, cudaMemcpyHostToDevice, ctx->stream));
    cuda_op_done(ctx, "upload_async");
}

void cuda_download_async(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    CUDA_CHECK_FATAL(cudaMemcpyAsync(dst, src, n_bytes, cudaMemcpyDeviceToHost, ctx->stream));
    cuda_op_done(ctx, "download_async");
}

static void graph_drop(CudaGraph *g) {
    if (g->exec != NULL)
        CUDA_CHECK_FATAL(cudaGraphExecDestroy(g->exec));
    g->exec = NULL;
}

void cuda_graph_reset(void) {
    CudaCtx *ctx = cuda_ctx();
    if (ctx->in_step)
        log_fatal("kernels/cuda: graph_reset inside a step (between graph_begin and "
                  "graph_end)");
    for (int i = 0; i < ctx->n_graphs; i++)
        graph_drop(&ctx->graphs[i]);
    ctx->n_graphs = 0;
}

static int graph_find(const CudaCtx *ctx, uint64_t key) {
    for (int i = 0; i < ctx->n_graphs; i++)
        if (ctx->graphs[i].key == key)
            return i;
    return -1;
}

int cuda_graph_begin(uint64_t key) {
    CudaCtx *ctx = cuda_ctx();
    if (ctx->in_step)
        log_fatal("kernels/cuda: graph_begin(%llu) inside another step",
                  (unsigned long long)key);
    ctx->in_step = 1;
    ctx->step = -1;
    if (key == 0 || ctx->simple_kernels || ctx->graphs_off || ctx->sync_each_op)
        return 0;
    const int i = graph_find(ctx, key);
    if (i < 0) { /* first sight: run as is (more keys than slots: always so) */
        if (ctx->n_graphs < CUDA_GRAPHS)
            ctx->graphs[ctx->n_graphs++] = (CudaGraph){key, 0, NULL};
        return 0;
    }
    CudaGraph *g = &ctx->graphs[i];
    if (g->exec != NULL && g->epoch != ctx->scratch_epoch)
        graph_drop(g); /* it captured a scratch that has moved since: capture again */
    ctx->step = i;
    if (g->exec != NULL)
        return 1;
    /* relaxed: the ops' own host calls (cudaFuncSetAttribute) are not stream work */
    CUDA_CHECK_FATAL(cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeRelaxed));
    ctx->capturing = 1;
    return 0;
}

void cuda_graph_end(void) {
    CudaCtx *ctx = cuda_ctx();
    if (!ctx->in_step)
        log_fatal("kernels/cuda: graph_end without graph_begin");
    ctx->in_step = 0;
    if (ctx->step < 0)
        return; /* the step ran as is */
    CudaGraph *g = &ctx->graphs[ctx->step];
    ctx->step = -1;
    if (ctx->capturing) {
        cudaGraph_t graph = NULL;
        ctx->capturing = 0;
        CUDA_CHECK_FATAL(cudaStreamEndCapture(ctx->stream, &graph));
        CUDA_CHECK_FATAL(cudaGraphInstantiate(&g->exec, graph, 0));
        CUDA_CHECK_FATAL(cudaGraphDestroy(graph));
        g->epoch = ctx->scratch_epoch;
    }
    CUDA_CHECK_FATAL(cudaGraphLaunch(g->exec, ctx->stream));
}
