/* launcher/commands.h -- the subcommands of the tlm executable, one file each.
 * Each takes the arguments after its name (argv[0] is the command name), prints its own
 * errors, and returns the process exit status. */
#ifndef TLM_LAUNCHER_COMMANDS_H
#define TLM_LAUNCHER_COMMANDS_H

int cmd_convert(int argc, char **argv);  /* launcher/cmd_convert.c */
int cmd_tokenize(int argc, char **argv); /* launcher/cmd_tokenize.c */
int cmd_eval(int argc, char **argv);     /* launcher/cmd_eval.c */
int cmd_run(int argc, char **argv);      /* launcher/cmd_run.c */
int cmd_inspect(int argc, char **argv);  /* launcher/cmd_inspect.c */
int cmd_export(int argc, char **argv);   /* launcher/cmd_export.c */
int cmd_bench(int argc, char **argv);    /* launcher/cmd_bench.c */
int cmd_version(int argc, char **argv);  /* launcher/cmd_version.c */
int cmd_report(int argc, char **argv);   /* launcher/cmd_report.c */

#endif
