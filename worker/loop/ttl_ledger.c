/* worker/loop/ttl_ledger.c -- the lock and the results of output.dir (see ttl_ledger.h). */
#include "worker/loop/ttl_ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/base/log.h"
#include "io/ckpt/ckpt.h"
#include "jobs/job.h"
#include "worker/loop/ttl_out.h"

#define LOCK_NAME ".tlm.lock"

/* The files of a run besides its checkpoints: the outputs and the job tlm run leaves
 * for tlm report (launcher/report/report_job.h); a ttt run's (worker/loop/ttt.h) too. */
static const char *const k_results[] = {"generated_predictions.jsonl", "scores.jsonl",
                                        "metrics.jsonl", "summary.json", "job.yaml",
                                        "ttt_tasks.jsonl", "ttt_progress.json", NULL};

/* The reference-layout copies of the predictions (output.reference_layout: the
 * reference's predict-temperature_<T>-max_new_tokens_<N>/ folders) are results too. */
#define PREDICT_PREFIX "predict-"
#define MAX_PREDICT 32

/* The names of dir's predict-* entries (at most MAX_PREDICT, each < 256 bytes) into
 * names; returns their count (0 when dir cannot be read). Collected before any is moved:
 * renaming while readdir walks the same folder may skip or repeat entries. */
static int predict_entries(const char *dir, char names[MAX_PREDICT][256]) {
    DIR *d = opendir(dir);
    int n = 0;
    const struct dirent *e;
    while (d != NULL && n < MAX_PREDICT && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, PREDICT_PREFIX, strlen(PREDICT_PREFIX)) == 0 &&
            strlen(e->d_name) < 256)
            snprintf(names[n++], 256, "%s", e->d_name);
    if (d != NULL)
        closedir(d);
    return n;
}

static int64_t file_size(const char *dir, const char *name) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

int ttl_ledger_finished(const char *dir) {
    return file_size(dir, "summary.json") > 0 || file_size(dir, "job.yaml") > 0;
}

int ttl_ledger_results(const char *dir, char *what, size_t n) {
    what[0] = '\0';
    int found = 0;
    for (int i = 0; k_results[i] != NULL; i++)
        if (file_size(dir, k_results[i]) > 0) /* an empty file holds no result */
            snprintf(what + strlen(what), n - strlen(what), "%s%s", found++ ? ", " : "",
                     k_results[i]);
    char names[MAX_PREDICT][256];
    const int n_pred = predict_entries(dir, names);
    for (int i = 0; i < n_pred; i++)
        snprintf(what + strlen(what), n - strlen(what), "%s%s/", found++ ? ", " : "", names[i]);
    CkptList cl = {0};
    Err e = {{0}};
    if (ckpt_list(dir, &cl, &e) == 0 && cl.n > 0)
        snprintf(what + strlen(what), n - strlen(what), "%s%d checkpoint%s (newest %s)",
                 found++ ? ", " : "", cl.n, cl.n > 1 ? "s" : "", cl.paths[0]);
    ckpt_list_free(&cl);
    return found > 0;
}

/* The lock's holder as its file says ("pid 123 on host node7"), into out. */
static void read_holder(int fd, char *out, size_t n) {
    char buf[200] = "";
    const ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(out, n, "%s", buf[0] != '\0' ? buf : "a process that has not written its pid yet");
}

static int take_lock(TtlLedger *l, const char *dir, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(err, "output.dir: cannot open the lock file %s: %s", path,
                       strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char holder[200];
        read_holder(fd, holder, sizeof holder);
        close(fd);
        if (e == EWOULDBLOCK)
            return err_set(err, "output.dir %s is in use by another run: %s holds %s; wait "
                           "for it to end or choose another output.dir", dir, holder, path);
        return err_set(err, "output.dir: cannot lock %s: %s", path, strerror(e));
    }
    char host[128] = "?", line[200];
    gethostname(host, sizeof host - 1);
    const int len = snprintf(line, sizeof line, "pid %ld on host %s\n", (long)getpid(), host);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        const int e = errno;
        close(fd);
        return err_set(err, "output.dir: cannot write the lock file %s: %s", path, strerror(e));
    }
    l->fd = fd;
    l->held = 1;
    return 0;
}

/* dir/previous-<UTC time>[-k], created; its path into out. */
static int make_previous(const char *dir, char *out, size_t n, Err *err) {
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 100; k++) {
        if (k == 1)
            snprintf(out, n, "%s/previous-%s", dir, stamp);
        else
            snprintf(out, n, "%s/previous-%s-%d", dir, stamp, k);
        if (mkdir(out, 0755) == 0)
            return 0;
        if (errno != EEXIST)
            return err_set(err, "cannot create %s for the earlier results: %s", out, strerror(errno));
    }
    return err_set(err, "%s/previous-%s-* all exist", dir, stamp);
}

static int move_into(const char *dir, const char *name, const char *to, Err *err) {
    char from[JOB_PATH_BYTES + 64], dst[2 * JOB_PATH_BYTES + 64];
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", to, name);
    if (rename(from, dst) != 0 && errno != ENOENT)
        return err_set(err, "cannot move the earlier %s to %s: %s", from, dst, strerror(errno));
    return 0;
}

int ttl_ledger_move_results(const char *dir, Err *err) {
    char to[JOB_PATH_BYTES + 64];
    if (make_previous(dir, to, sizeof to, err) != 0)
        return -1;
    for (int i = 0; k_results[i] != NULL; i++)
        if (move_into(dir, k_results[i], to, err) != 0)
            return -1;
    char names[MAX_PREDICT][256];
    const int n_pred = predict_entries(dir, names);
    for (int i = 0; i < n_pred; i++)
        if (move_into(dir, names[i], to, err) != 0)
            return -1;
    CkptList cl = {0};
    if (ckpt_list(dir, &cl, err) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < cl.n && rc == 0; i++) {
        const char *slash = strrchr(cl.paths[i], '/');
        rc = move_into(dir, slash != NULL ? slash + 1 : cl.paths[i], to, err);
    }
    ckpt_list_free(&cl);
    if (rc == 0)
        log_info("the earlier results of %s are in %s/ now", dir, to);
    return rc;
}

int ttl_ledger_open(TtlLedger *l, const char *dir, TtlLedgerMode mode, Err *err) {
    memset(l, 0, sizeof *l);
    if (ttl_out_make_dir(dir, err) != 0 || take_lock(l, dir, err) != 0)
        return -1;
    char what[512];
    int rc = 0;
    l->was_finished = ttl_ledger_finished(dir);
    if (mode == TTL_LEDGER_FRESH && ttl_ledger_results(dir, what, sizeof what))
        rc = err_set(err, "output.dir %s holds the results of an earlier run (%s): "
                     "continue it with --resume auto, move them aside with --overwrite "
                     "(to %s/previous-<time>/), or choose another output.dir", dir, what, dir);
    else if (mode == TTL_LEDGER_OVERWRITE && ttl_ledger_results(dir, what, sizeof what))
        rc = ttl_ledger_move_results(dir, err); /* nothing to move: no empty previous-* */
    if (rc != 0)
        ttl_ledger_close(l);
    return rc;
}

void ttl_ledger_close(TtlLedger *l) {
    if (l->held)
        close(l->fd); /* closing the last descriptor releases the flock */
    l->held = 0;
}
