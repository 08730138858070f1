/* statetopic.h: OctoPrint's printer_data (get_current_data(), wire-format.md 6.2) and the
 * retained <base>state message built from the printer model. Pure: JSON in, nothing sent. */
#ifndef PRINTBRIDGE_STATETOPIC_H
#define PRINTBRIDGE_STATETOPIC_H

#include <jansson.h>
#include <stdbool.h>

#include "printbridge/printer.h"

/* What a job module knows about the current job. NULL everywhere means "no job since
 * start-up": the state topic then carries OctoPrint's start-up shapes with nulls. Strings
 * may be NULL (null in JSON); has_* say whether the number next to it is known. */
struct job_view {
    const char *name, *path, *display, *origin;
    bool has_size, has_date;
    long long size, date;
    bool has_estimated_print_time, has_last_print_time;
    double estimated_print_time, last_print_time;
    bool has_completion, has_filepos, has_print_time, has_print_time_left;
    double completion;
    long long filepos, print_time, print_time_left;
    const char *print_time_left_origin;
    const char *user;
};

/* OctoPrint's printer_data: keys state, job, currentZ, progress, offsets, resends, in that
 * order. New reference, or NULL when out of memory. */
json_t *statetopic_printer_data(const struct printer_model *m, const struct job_view *job);

/* The <base>state payload: printer_data, then "temperature" {key: {"actual", "target"}} (values
 * rounded to decimals unless decimals < 0) and "connection" {"port", "baudrate", "firmware"},
 * then ts_field: ts last. A malloc'd string, or NULL. */
char *statetopic_json(const struct printer_model *m, const struct job_view *job, int decimals,
                      const char *ts_field, long long ts);

/* x rounded to decimals as Python round(x, decimals) does; x itself if decimals < 0. */
double statetopic_round(double x, int decimals);

#endif
