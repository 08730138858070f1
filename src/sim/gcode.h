/* gcode.h: how the simulated firmware reads a received line. Pure functions.
 *
 * A line is "[N<n> ]<command>[*<checksum>]". The validation rules are Marlin's: the line
 * number is checked first (M110 excepted), then the presence and the value of the checksum,
 * the XOR of every byte before the last '*'. */
#ifndef PRINTBRIDGE_SIM_GCODE_H
#define PRINTBRIDGE_SIM_GCODE_H

#include <stdbool.h>
#include <stddef.h>

/* The checksum of s[0..n): every byte XORed together, 0 for no bytes. */
unsigned sim_gcode_checksum(const char *s, size_t n);

/* Removes a ";" comment and the blanks around what is left, in place: the line ends at the
 * first ';' that does not follow a backslash (a backslash escapes the character after it).
 * Returns the length left (0: nothing to execute). */
size_t sim_gcode_strip_comment(char *line);

struct sim_gcode_line {
    bool has_n;              /* starts with N<digits> */
    long n;
    bool has_checksum;       /* contains '*' */
    unsigned long checksum;  /* the value after the last '*' (0 if not a number) */
    unsigned computed;       /* XOR of the bytes before the last '*' */
    const char *cmd;         /* the command between the N word and the '*', trimmed */
    size_t cmd_len;
    bool is_m110;            /* the command is M110 */
    bool m110_has_n;         /* M110 carries an N<n> parameter ... */
    long m110_n;             /* ... with this value */
};

enum sim_line_verdict {
    SIM_LINE_OK = 0,
    SIM_LINE_BAD_NUMBER,     /* N is not last N + 1 */
    SIM_LINE_NO_CHECKSUM,    /* numbered without '*' */
    SIM_LINE_BAD_CHECKSUM,   /* '*' value differs from the XOR */
};

/* Splits line[0..len) (already trimmed, no newline). l->cmd points into line. */
void sim_gcode_split(const char *line, size_t len, struct sim_gcode_line *l);
/* Marlin's verdict for a numbered line l given the last accepted line number. Unnumbered
 * lines are always SIM_LINE_OK. */
enum sim_line_verdict sim_gcode_check(const struct sim_gcode_line *l, long last_n);
/* The line number a line sets once accepted: M110's N parameter if it has one, else its N. */
long sim_gcode_new_last_n(const struct sim_gcode_line *l, long last_n);

/* A parsed command word: G1 -> ('G', 1, -1), M80.1 -> ('M', 80, 1), T3 -> ('T', 3, -1).
 * args points just past the word (parameters or string argument, leading spaces kept). */
struct sim_gcode_cmd {
    char letter;
    long code;
    int sub;                 /* subcode after '.', -1 if none */
    const char *args;
};

/* Parses the command word of text (case-insensitive letter). False if text is not G/M/T. */
bool sim_gcode_command(const char *text, struct sim_gcode_cmd *c);
/* Finds parameter letter (case-insensitive, not preceded by another letter) in args. Returns
 * true if present; *value is its number, or *has_value false when no number follows. */
bool sim_gcode_param(const char *args, char letter, double *value, bool *has_value);
/* Like sim_gcode_param but only true when a number follows. */
bool sim_gcode_value(const char *args, char letter, double *value);
/* The string argument of M23/M28/M30/M117...: args without leading spaces. */
const char *sim_gcode_string_arg(const char *args);
/* Parses a decimal number "[-+]digits[.digits]" or "[-+].digits" at s; returns the number of
 * characters used (0: none). No exponents, no hex, no inf/nan. */
size_t sim_gcode_number(const char *s, double *value);

#endif
