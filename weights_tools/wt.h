/* weights_tools subcommands: each lives in its own cmd_*.c and returns the exit code
 * (0 success, 1 error, 2 usage). They use only the public header lac.h. */
#ifndef WT_H
#define WT_H
int wt_convert(int argc, char **argv);
int wt_info(int argc, char **argv);
int wt_random(int argc, char **argv);
int wt_tokenize(int argc, char **argv);
int wt_detokenize(int argc, char **argv);
int wt_eval(int argc, char **argv);
#endif
