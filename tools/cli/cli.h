/* cli.h - the tinfer command-line tool: one file per subcommand. */
#ifndef TF_CLI_H
#define TF_CLI_H

/* Each subcommand gets argv with argv[0] = subcommand name and returns the
 * process exit status (0 ok, 1 runtime error, 2 usage error). */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench_quants(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
