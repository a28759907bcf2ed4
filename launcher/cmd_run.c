/* launcher/cmd_run.c -- `tlm run JOB.yaml [key=value]... [--set key=value]... [--resume
 * auto|PATH] [--print-job]`: loads and validates the job (native, or a LLaMA-Factory flat
 * file mapped by jobs/lf_job.h with its key=value overrides), applies the --set
 * overrides, prints the resolved job, and runs
 * the TTL loop (worker/loop/ttl.h) in this process, resuming from a checkpoint when asked.
 * Errors are one message on stderr and exit status 1. SIGTERM, SIGUSR1 and a first SIGINT
 * (launcher/signals.h) stop the loop at its next stream-batch boundary with a checkpoint
 * and exit 0 (130 when checkpoints are off: nothing to resume from); a second SIGINT kills
 * at once. Under mpirun/srun it builds the process grid (parallel.tp ranks per tensor-
 * parallel group inside a node, dp = world / tp) and the collectives; a plain `tlm run`
 * is one process and never initializes MPI. After the grid exists, an error on one rank
 * stops every rank (comm_abort) rather than leaving the others in a collective. */
#include "launcher/commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "comm/bind.h"
#include "comm/comm.h"
#include "comm/comm_watchdog.h"
#include "comm/grid.h"
#include "io/base/atomic_file.h"
#include "io/base/log.h"
#include "io/base/strbuf.h"
#include "io/convert/gguf_source.h"
#include "io/model/model_config.h"
#include "io/ckpt/ckpt.h"
#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "jobs/job.h"
#include "jobs/lf_job.h"
#include "launcher/signals.h"
#include "worker/loop/ttl.h"

static const char k_usage[] =
    "usage: tlm run JOB.yaml [key=value]... [--set key=value]...\n"
    "               [--resume auto|PATH | --overwrite] [--print-job]\n"
    "  Runs test-time learning on the job's stream: answers every prompt while adapting\n"
    "  LoRA adapters to the prompts (DESIGN.md §1), writing generated_predictions.jsonl,\n"
    "  scores.jsonl, metrics.jsonl, summary.json and job.yaml (the resolved job, which\n"
    "  tlm report reads) to output.dir.\n"
    "  JOB.yaml is a native job or a LLaMA-Factory flat file (stage: ttl,\n"
    "  model_name_or_path, dataset, ... as the TLM reference's online_ttl.yaml); a flat\n"
    "  file's predictions also go to output_dir/predict-temperature_0.0-max_new_tokens_N/.\n"
    "  key=value        override a flat file's key, as llamafactory-cli does; repeatable\n"
    "  --set key=value  override one native job key (dotted, e.g. --set optim.lr=1e-4);\n"
    "                   repeatable, applied after the file (and its key=value overrides)\n"
    "  --print-job      print the native job (YAML) the file and overrides resolve to, and\n"
    "                   exit without running\n"
    "  --resume auto    continue from the newest valid checkpoint in output.dir (a corrupt\n"
    "                   newest falls back to the one before; none: start from the beginning,\n"
    "                   refused when output.dir holds a finished run's results)\n"
    "  --resume PATH    continue from that checkpoint; the model and every result-relevant\n"
    "                   job key must match (output.* and parallel.tp may change)\n"
    "  --overwrite      output.dir holds an earlier run's results: move them to\n"
    "                   output.dir/previous-<time>/ and start afresh (without it, or\n"
    "                   --resume, such a directory is refused; nothing is deleted)\n"
    "  One run at a time per output.dir (a lock file, .tlm.lock, names the holder).\n"
    "  SIGTERM, SIGUSR1 or Ctrl-C stop after the current stream batch, write a checkpoint\n"
    "  (output.checkpoint_every > 0) and exit 0; a second Ctrl-C stops at once.\n";

static void print_job(const JobSpec *j) {
    ModelConfig cfg;
    Err err = {{0}};
    char sizes[160] = "";
    if (model_src_config(j->model.path, &cfg, &err) == 0)
        snprintf(sizes, sizeof sizes, " %s: %lld layers, D %lld, %lld heads (%lld kv), V %lld",
                 cfg.arch_name, (long long)cfg.n_layers, (long long)cfg.dim,
                 (long long)cfg.n_heads, (long long)cfg.n_kv_heads, (long long)cfg.vocab_size);
    char targets[JOB_MAX_TARGETS * JOB_NAME_BYTES] = "", fields[256] = "";
    for (int i = 0; i < j->lora.n_targets; i++)
        snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s",
                 i ? "," : "", j->lora.targets[i]);
    for (int i = 0; i < j->data.n_prompt; i++)
        snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s", i ? "+" : "",
                 j->data.prompt[i]);
    log_info("tlm run %s", j->source);
    log_info("  model    %s (template %s)%s", j->model.path, j->model.template_name, sizes);
    char max_n[32] = "all";
    if (j->data.max_samples >= 0)
        snprintf(max_n, sizeof max_n, "%lld", (long long)j->data.max_samples);
    if (j->data.n_datasets > 0) {
        char names[JOB_MAX_DATASETS * JOB_NAME_BYTES] = "";
        for (int i = 0; i < j->data.n_datasets; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                     j->data.datasets[i]);
        log_info("  data     %s from %s (max_samples %s each, cutoff_len %lld, on_error %s)",
                 names, j->data.dataset_info, max_n, (long long)j->data.cutoff_len,
                 j->data.on_error == JOB_SKIP ? "skip" : "fail");
    } else {
        log_info("  data     %s (prompt %s, response %s, max_samples %s, cutoff_len %lld, "
                 "on_error %s)", j->data.path, fields, j->data.response, max_n,
                 (long long)j->data.cutoff_len,
                 j->data.on_error == JOB_SKIP ? "skip" : "fail");
    }
    if (j->method.name == JOB_TTT) /* per task: its own keys (worker/loop/ttt.h) */
        log_info("  method   ttt: epochs %lld, leave_one_out %s, permutations %lld, loss_on "
                 "%s, max_demos %lld, tasks_per_pass %lld%s; task fields %s/%s/%s/%s/%s",
                 (long long)j->ttt.epochs, j->ttt.leave_one_out ? "true" : "false",
                 (long long)j->ttt.permutations, job_ttt_loss_name(j->ttt.loss_on),
                 (long long)j->ttt.max_demos, (long long)j->ttt.tasks_per_pass,
                 j->ttt.save_adapters ? ", save_adapters" : "", j->ttt.fields.id, j->ttt.fields.train,
                 j->ttt.fields.test, j->ttt.fields.input, j->ttt.fields.output);
    else
        log_info("  method   %s %s: threshold %g, lamb %g, stream_batch %lld, loss_tokens %s",
                 job_method_name(j->method.name), job_setting_name(j->method.setting),
                 j->method.threshold, j->method.lamb, (long long)j->method.stream_batch,
                 job_loss_tokens_name(j->method.loss_tokens));
    log_info("  lora     rank %lld, alpha %g, targets %s", (long long)j->lora.rank,
             j->lora.alpha, targets);
    log_info("  optim    lr %g %s, warmup_ratio %g, batch_size %lld, max_grad_norm %g, "
             "reset_per_batch %s, gradient_checkpointing %s", j->optim.lr,
             job_schedule_name(j->optim.schedule), j->optim.warmup_ratio,
             (long long)j->optim.batch_size, j->optim.max_grad_norm,
             j->optim.reset_per_batch ? "true" : "false",
             j->optim.gradient_checkpointing ? "true" : "false");
    log_info("  generate max_new_tokens %lld; backend %s; tp %lld; output %s; seed %llu",
             (long long)j->generate.max_new_tokens, job_backend_name(j->backend),
             (long long)j->parallel.tp, j->output.dir, (unsigned long long)j->seed);
}

/* model.template auto becomes the family of the model's own chat template (tmpl_detect),
 * so the worker, the logs and the checkpoint's job all see a concrete template; note
 * receives a line saying what was found (with chatml, the default system prompt). */
static int resolve_template(JobSpec *job, char *note, size_t note_bytes, Err *err) {
    note[0] = '\0';
    if (strcmp(job->model.template_name, TMPL_AUTO) != 0)
        return 0;
    Tokenizer *tok = model_src_tokenizer(job->model.path, err);
    if (tok == NULL)
        return err_prefix(err, "model.template auto: ");
    const ChatTemplate *t = NULL;
    char *sys = NULL;
    int rc = tmpl_detect(tok, &t, err);
    if (rc == 0)
        rc = tmpl_default_system(t, tok, &sys, err);
    if (rc == 0) {
        snprintf(job->model.template_name, sizeof job->model.template_name, "%s", tmpl_name(t));
        const int own = tmpl_system_from_model(t);
        snprintf(note, note_bytes, "  template auto: %s, recognised in %s%s%s%s%s", tmpl_name(t),
                 tok_chat_template_path(tok), own ? "; its default system prompt: " : "",
                 own && sys[0] ? "\"" : "", own ? (sys[0] ? sys : "none") : "",
                 own && sys[0] ? "\"" : "");
    }
    free(sys);
    tok_close(tok);
    return rc;
}

/* Loads path as a native job or a flat LLaMA-Factory file (with its key=value overrides;
 * a native job refuses them), then the --set overrides. A flat file's notes go to
 * *notes (n_notes -1 for a native job), for rank 0 to log once. */
static int load_job(const char *path, const char *const *flat, int n_flat,
                    const char *const *sets, int n_sets, JobSpec *job, LfNotes *notes,
                    Err *err) {
    StrBuf text = {0};
    if (job_read_file(path, &text, err) != 0)
        return -1;
    int rc;
    notes->n_notes = -1;
    const char *t = text.data != NULL ? text.data : "";
    const int is_flat = lf_is_flat(t, text.n_bytes);
    if (is_flat)
        rc = lf_job_load_text(t, text.n_bytes, path, flat, n_flat, job, notes, err);
    else if (n_flat > 0)
        rc = err_set(err, "%s: %s: key=value overrides are for LLaMA-Factory flat files; "
                     "a native job takes --set section.key=value", path, flat[0]);
    else
        rc = job_load_text(t, text.n_bytes, path, job, err);
    strbuf_free(&text);
    for (int i = 0; rc == 0 && i < n_sets; i++)
        rc = job_set(job, sets[i], err);
    return rc;
}

/* The TLM reference's place for the predictions, beside tlm's own: output_dir/
 * predict-temperature_0.0-max_new_tokens_<N>/generated_predictions.jsonl (its
 * workflow.py names the folder after the decoding; tlm decodes greedily). A copy, written
 * atomically, of the finished file. */
static void log_notes(const char *path, const LfNotes *notes) {
    if (notes->n_notes < 0)
        return;
    log_info("tlm run: %s: a LLaMA-Factory ttl job file, mapped to a native job "
             "(--print-job shows it)", path);
    for (int i = 0; i < notes->n_notes; i++)
        log_info("  %s", notes->notes[i]);
}

/* 1 when an MPI launcher (mpirun, srun with PMI/PMIx) started this process. */
static int under_mpi_launcher(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]) != NULL)
            return 1;
    return 0;
}

/* The process grid, the backend and device every rank agreed on (comm/bind.h) and the
 * collectives of a multi-rank run; a lone process gets none of them (*comm stays NULL,
 * grid zeroed with local_rank 0, *device 0). Returns 0; 1 when the job must stop with
 * the same verdict on every rank (said on each; MPI finalized); 2 under
 * TLM_TEST_FAKE_GPUS once the binding is checked (nothing opened). Other errors end
 * every rank. */
static int open_grid(const JobSpec *job, const char *path, Grid *grid, Comm **comm,
                     int *device) {
    Err err = {{0}};
    *device = 0;
    if (!under_mpi_launcher()) {
        if (job->parallel.tp == 1)
            return 0;
        log_error("tlm run: %s: parallel.tp = %lld needs %lld ranks: start it with mpirun "
                  "-np N (N a multiple of %lld) or srun", path, (long long)job->parallel.tp,
                  (long long)job->parallel.tp, (long long)job->parallel.tp);
        return 1;
    }
    comm_test_init_stall();
    CommWatchdog *wd = NULL; /* bounds every blocking step until the collectives exist */
    if (comm_watchdog_start("starting the process grid (MPI_Init, the node check, the tp/dp "
                            "groups, the device binding, the NCCL communicators)", &wd,
                            &err) != 0) {
        log_error("tlm run: %s", err.msg);
        return 1;
    }
    if (grid_init(NULL, NULL, (int)job->parallel.tp, grid, &err) != 0)
        log_fatal("tlm run: %s: %s", path, err.msg); /* same verdict on every rank */
    Binding b;
    const int bound = bind_backend(grid, job_backend_name(job->backend), &b, &err);
    if (bound != 0)
        log_error("tlm run: %s: %s", path, err.msg);
    else if (b.fake)
        log_info("tlm run: TLM_TEST_FAKE_GPUS is set: the devices are checked, nothing is "
                 "loaded");
    if (bound != 0 || b.fake) {
        comm_watchdog_stop(wd);
        grid_free(grid);
        return bound != 0 ? 1 : 2;
    }
    *device = b.device >= 0 ? b.device : 0;
    if (comm_open(grid, b.ops, comm, &err) != 0)
        log_fatal("tlm run: %s", err.msg);
    comm_watchdog_stop(wd);
    if (grid->rank == 0)
        log_info("tlm run: %d ranks = tp %d x dp %d on %d node(s)", grid->world, grid->tp,
                 grid->dp, grid->n_nodes);
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *path = NULL, *resume = NULL;
    int overwrite = 0;
    const char *sets[JOB_MAX_SETS], *flat[JOB_MAX_SETS];
    int n_sets = 0, n_flat = 0, print_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(k_usage, stdout);
            return 0;
        } else if ((strcmp(argv[i], "--set") == 0 || strcmp(argv[i], "--resume") == 0) &&
                   (i + 1 == argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            fprintf(stderr, "tlm run: %s needs a value: %s\n%s", argv[i],
                    argv[i][2] == 's' ? "--set key=value" : "--resume auto|PATH", k_usage);
            return 2;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && n_sets < JOB_MAX_SETS) {
            sets[n_sets++] = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0 && n_sets < JOB_MAX_SETS) {
            sets[n_sets++] = argv[i] + 6;
        } else if (strcmp(argv[i], "--print-job") == 0) {
            print_only = 1;
        } else if (path != NULL && argv[i][0] != '-' && lf_is_override(argv[i]) &&
                   n_flat < JOB_MAX_SETS) {
            flat[n_flat++] = argv[i];
        } else if (strcmp(argv[i], "--resume") == 0 && i + 1 < argc) {
            resume = argv[++i];
        } else if (strncmp(argv[i], "--resume=", 9) == 0) {
            resume = argv[i] + 9;
        } else if (strcmp(argv[i], "--overwrite") == 0) {
            overwrite = 1;
        } else if (argv[i][0] == '-' || path != NULL) {
            fprintf(stderr, "tlm run: unexpected argument \"%s\"\n%s", argv[i], k_usage);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (path == NULL) {
        fputs(k_usage, stderr);
        return 2;
    }
    if (overwrite && resume != NULL) {
        fprintf(stderr, "tlm run: --overwrite and --resume exclude each other: one starts "
                "afresh, the other continues\n%s", k_usage);
        return 2;
    }
    JobSpec job;
    Err err = {{0}};
    LfNotes notes;
    if (load_job(path, flat, n_flat, sets, n_sets, &job, &notes, &err) != 0) {
        log_error("tlm run: %s", err.msg);
        return 1;
    }
    if (notes.overwrite_output_dir && resume == NULL)
        overwrite = 1; /* the flat file's overwrite_output_dir: true */
    if (print_only) {
        log_notes(path, &notes); /* the job as it stands, before model.template auto is resolved */
        char *yaml = job_to_yaml(&job);
        if (yaml == NULL) {
            log_error("tlm run: %s: out of memory", path);
            return 1;
        }
        fputs(yaml, stdout);
        free(yaml);
        return 0;
    }
    char tmpl_note[512];
    if (resolve_template(&job, tmpl_note, sizeof tmpl_note, &err) != 0) {
        log_error("tlm run: %s: %s", path, err.msg);
        return 1;
    }
    if (resume != NULL && resume[0] == '\0') {
        fprintf(stderr, "tlm run: --resume needs auto or a checkpoint path\n%s", k_usage);
        return 2;
    }
    Grid grid = {0};
    Comm *comm = NULL;
    int device = 0;
    const int grid_rc = open_grid(&job, path, &grid, &comm, &device);
    if (grid_rc != 0)
        return grid_rc == 2 ? 0 : 1;
    if (grid.rank == 0) {
        log_notes(path, &notes);
        print_job(&job);
        if (tmpl_note[0] != '\0')
            log_info("%s", tmpl_note);
    }

    volatile sig_atomic_t *stop = sig_install();
    TtlHooks hooks = {.comm = comm, .device = device, .stop = stop,
                      .progress = grid.rank == 0, .resume = resume,
                      .overwrite = overwrite};
    TtlSummary sum;
    const int rc = ttl_run(&job, &hooks, &sum, &err);
    sig_restore();
    if (rc != 0) {
        if (comm != NULL) /* the other ranks may wait in a collective: stop them all */
            log_fatal("tlm run: %s", err.msg);
        log_error("tlm run: %s", err.msg);
        return 1;
    }
    const int rank = grid.rank;
    comm_close(&comm);
    grid_free(&grid);
    if (rank != 0)
        return 0;
    if (sum.interrupted && job.method.name == JOB_TTT) { /* task boundaries: its progress */
        log_info("tlm run: stopped by %s after a round of tasks (%lld queries answered); "
                 "%s/ttt_progress.json records them; resume with: tlm run %s --resume auto "
                 "(and the same --set options)", sig_name((int)*stop), (long long)sum.samples,
                 job.output.dir, path);
        return 0;
    }
    if (sum.interrupted) {
        char ck[CKPT_PATH_BYTES] = "";
        Err e2 = {{0}};
        if (sum.ckpt_step >= 0 && ckpt_path(job.output.dir, sum.ckpt_step, ck, sizeof ck, &e2))
            ck[0] = '\0';
        if (ck[0] == '\0') {
            log_warn("tlm run: stopped by %s after %lld samples; no checkpoint "
                     "(output.checkpoint_every is 0, the method trains no adapter, or no batch was "
                     "finished); the "
                     "outputs hold every finished batch", sig_name((int)*stop),
                     (long long)sum.samples);
            return 130;
        }
        log_info("tlm run: stopped by %s after %lld samples at step %lld; checkpoint %s; "
                 "resume with: tlm run %s --resume auto (and the same --set options)",
                 sig_name((int)*stop), (long long)sum.samples, (long long)sum.ckpt_step, ck,
                 path);
        return 0;
    }
    return 0;
}
