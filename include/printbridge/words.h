/* words.h: shell-like word splitting and shell quoting, for hooks that run without a shell.
 *
 * words_split() reads a command line the way a POSIX shell reads a simple command: blanks
 * separate words, '...' is literal, "..." keeps blanks and honours \" \\ \$ \` and \newline,
 * a backslash outside quotes escapes the next character, and an unquoted ~ or ~/ at the start
 * of a word becomes the home directory. Everything else a shell would do (pipes, ;, &&,
 * redirections, $VAR, $(...), backquotes, parentheses) is refused with a message that points
 * at shell = true, so a command never silently means something else than it would in a
 * shell. Pure: no I/O, no globals. */
#ifndef PRINTBRIDGE_WORDS_H
#define PRINTBRIDGE_WORDS_H

#include <stddef.h>

struct words {
    char **v;       /* n words, then NULL; each malloc'd */
    size_t n;
};

/* Splits line into out (which the caller frees with words_free, also on error). home is what
 * ~ becomes (NULL or "" leaves ~ as written). Returns 0, or -1 with one line in err: an
 * unterminated quote, a trailing backslash, shell syntax, or no words at all. */
int words_split(const char *line, const char *home, struct words *out, char *err, size_t errsz);

void words_free(struct words *w);

/* s quoted for a POSIX shell as one word: '...' with every ' written as '\''. malloc'd;
 * NULL only when memory ran out. */
char *words_shell_quote(const char *s);

#endif
