/* comm/bind.h -- which backend and which GPU each rank of a job drives, decided by every
 * rank together before anything is loaded, so a job never runs part on CPU and part on
 * GPU (comm would pick NCCL on some ranks and MPI on others, and hang).
 * A rank's device is local_rank % (devices it sees): under mpirun every rank of a node
 * sees the node's GPUs; under srun --gpus-per-task=1 (or any scheduler that sets
 * CUDA_VISIBLE_DEVICES per task) each sees one, its device 0. A tp group must drive
 * distinct GPUs (told apart by PCI bus id; NCCL refuses a GPU twice in one communicator).
 * Test hook: TLM_TEST_FAKE_GPUS=N (every rank sees N) or N0,N1,... (per world rank) fakes
 * the device counts; fake bus ids are "fake:HOST:E", E the device's CUDA_VISIBLE_DEVICES
 * entry (its index when unset); nothing is opened then (Binding.ops stays NULL).
 * Collective over the world (MPI, host buffers); call it between grid_init and comm_open. */
#ifndef TLM_COMM_BIND_H
#define TLM_COMM_BIND_H

#include "comm/grid.h"
#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BIND_BUS_BYTES 96

/* What one rank found, gathered over the world for bind_check. */
typedef struct BindRank {
    int n_visible;               /* CUDA devices this rank sees */
    int device;                  /* local_rank % n_visible, -1 when none */
    int usable;                  /* the backend opened on that device (or faked) */
    char bus_id[BIND_BUS_BYTES]; /* PCI bus id of device, "" when none */
    char host[GRID_HOST_BYTES];  /* short host name */
} BindRank;

/* The outcome on this rank (a plain struct). */
typedef struct Binding {
    const Ops *ops;              /* the backend of every rank; NULL only when faked */
    int device;                  /* local CUDA device, -1 on CPU */
    int n_visible;               /* CUDA devices this rank sees */
    int fake;                    /* TLM_TEST_FAKE_GPUS decided it: nothing was opened */
    char bus_id[BIND_BUS_BYTES]; /* PCI bus id of device, "" on CPU */
} Binding;

/* local_rank % n_visible, or -1 when n_visible < 1. */
int bind_device(int local_rank, int n_visible);

/* The verdict of the gathered facts ranks[world] (borrowed, host) for backend "cuda" or
 * "auto" with tp ranks per tensor-parallel group (world ranks g*tp .. g*tp+tp-1): 0 and
 * *use_cuda (cuda: every rank usable; auto: every rank usable, or none), else -1 with err
 * naming the ranks, hosts and what to change: a rank without a GPU (cuda), ranks with
 * and ranks without (auto), two ranks of a tp group on one GPU. Same inputs, same
 * verdict: every rank computes it from the same gathered array. */
int bind_check(int world, int tp, const char *backend, const BindRank *ranks, int *use_cuda,
               Err *err);

/* Chooses this rank's backend and device for backend "cpu", "cuda" or "auto", agreed
 * over g's world, and logs the choice (device, PCI bus id, CUDA_VISIBLE_DEVICES) on every
 * rank. On error every rank returns -1 with the same message (plus, on a rank that has
 * no GPU, why not); nothing was loaded, so each can stop cleanly. */
int bind_backend(const Grid *g, const char *backend, Binding *b, Err *err);

#ifdef __cplusplus
}
#endif
#endif
