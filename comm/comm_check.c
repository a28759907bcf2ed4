/* comm/comm_check.c -- every check comm/ makes before and after a library call: the
 * arguments of a collective (comm_check_call), the failure messages behind MPI_CHECK
 * and NCCL_CHECK, and the names of groups, element types and reductions those messages
 * use (comm_group_name and friends, declared in comm.h). Calls nothing else of comm/. */
#include "comm/comm_check.h"

#include <limits.h>
#include <stdio.h>

int comm_mpi_fail(Err *err, const char *file, int line, const char *func, const char *call,
                  int rc) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error code %d", rc);
    return err_setf(err, file, line, func, "%s: %s", call, msg);
}

#ifdef TLM_HAVE_CUDA
int comm_nccl_fail(Err *err, const char *file, int line, const char *func, const char *call,
                   ncclResult_t r) {
    /* NCCL keeps one last-error string per process; the communicator argument is unused */
    const char *detail = ncclGetLastError(NULL);
    const int has = detail != NULL && detail[0] != '\0';
    return err_setf(err, file, line, func, "%s: %s%s%s%s", call, ncclGetErrorString(r),
                    has ? " (" : "", has ? detail : "", has ? ")" : "");
}
#endif

MPI_Datatype comm_mpi_type(CommType t) {
    switch (t) {
    case COMM_F32: return MPI_FLOAT;
    case COMM_F64: return MPI_DOUBLE;
    case COMM_I32: return MPI_INT32_T;
    case COMM_I64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
    }
}

const char *comm_group_name(CommGroup g) {
    static const char *const names[COMM_N_GROUPS] = {"world", "tp", "dp"};
    return (unsigned)g < COMM_N_GROUPS ? names[g] : "bad-group";
}

const char *comm_type_name(CommType t) {
    static const char *const names[] = {"f32", "f64", "i32", "i64", "bf16"};
    return (unsigned)t <= COMM_BF16 ? names[t] : "bad-type";
}

const char *comm_op_name(CommOp op) {
    return op == COMM_SUM ? "sum" : op == COMM_MAX ? "max" : "bad-op";
}

size_t comm_type_bytes(CommType t) {
    static const size_t bytes[] = {4, 8, 4, 8, 2};
    return (unsigned)t <= COMM_BF16 ? bytes[t] : 0;
}

int comm_check_call(const Comm *c, CommGroup g, const void *buf, int64_t count,
                    CommType type, const char *op, const char *extra, char *what,
                    size_t what_bytes, Err *err) {
    const int bad_group = (unsigned)g >= COMM_N_GROUPS;
    snprintf(what, what_bytes, "%s(%s %d/%d, %lld x %s%s%s)", op, comm_group_name(g),
             bad_group ? 0 : c->rank[g], bad_group ? 0 : c->size[g], (long long)count,
             comm_type_name(type), extra[0] ? ", " : "", extra);
    if (bad_group)
        return err_set(err, "%s: group %d is not COMM_WORLD, COMM_TP or COMM_DP", what,
                       (int)g);
    if (comm_type_bytes(type) == 0)
        return err_set(err, "%s: unknown element type %d", what, (int)type);
    if (count < 0)
        return err_set(err, "%s: negative count", what);
    if (count > 0 && buf == NULL)
        return err_set(err, "%s: NULL buffer", what);
    if (c->nccl == NULL && count > INT_MAX)
        return err_set(err, "%s: MPI counts stop at %d elements; split the buffer", what,
                       INT_MAX);
    if (c->nccl == NULL && type == COMM_BF16)
        return err_set(err, "%s: bf16 is only supported on the CUDA backend (NCCL)", what);
    return 0;
}
