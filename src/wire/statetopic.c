/* statetopic.c: OctoPrint's printer_data and printbridge's retained state message, from the
 * printer model (docs/wire-format.md 8). The key order and the start-up shapes are OctoPrint's
 * (standard.py, StateMonitor.reset and get_current_data), so a subscriber that reads
 * printer_data from progress/printing reads <base>state the same way. */
#include "printbridge/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "printbridge/base.h"

double statetopic_round(double x, int decimals)
{
    if (decimals < 0 || !isfinite(x))
        return x;
    /* through the decimal text: 21.26 -> 21.3 and an exact binary half goes to even (21.25 ->
     * 21.2), as Python round() does; the result prints as its shortest repr */
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, x);
    return strtod(buf, NULL);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *flags(const struct printer_model *m)
{
    enum printer_state s = m->state;
    bool operational = printer_state_is_operational(s);
    bool printing = printer_state_is_printing(s);
    bool paused = s == PRINTER_PAUSED;
    bool ready = operational && !printing && !paused && s != PRINTER_TRANSFERING_FILE;
    return json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
                     "operational", operational, "printing", printing,
                     "cancelling", s == PRINTER_CANCELLING, "pausing", s == PRINTER_PAUSING,
                     "resuming", s == PRINTER_RESUMING, "finishing", s == PRINTER_FINISHING,
                     "closedOrError", printer_state_is_closed_or_error(s),
                     "error", printer_state_is_error(s), "paused", paused, "ready", ready,
                     "sdReady", m->sd_ready);
}

static json_t *num_or_null(bool has, double v)
{
    return has ? pyjson_real_or_null(v) : json_null();
}

static json_t *int_or_null(bool has, long long v)
{
    return has ? json_integer(v) : json_null();
}

static json_t *job_json(const struct job_view *j)
{
    if (!j) /* StateMonitor.reset at start-up: no display, no averagePrintTime */
        return json_pack("{s:{s:n, s:n, s:n, s:n, s:n}, s:n, s:n, s:{s:n, s:n}, s:n}",
                         "file", "name", "path", "size", "origin", "date",
                         "estimatedPrintTime", "lastPrintTime", "filament", "length", "volume",
                         "user");
    return json_pack("{s:{s:o, s:o, s:o, s:o, s:o, s:o}, s:o, s:o, s:n, s:o}",
                     "file", "name", str_or_null(j->name), "path", str_or_null(j->path),
                     "display", str_or_null(j->display), "origin", str_or_null(j->origin),
                     "size", int_or_null(j->has_size, j->size), "date", int_or_null(j->has_date, j->date),
                     "estimatedPrintTime", num_or_null(j->has_estimated_print_time, j->estimated_print_time),
                     "lastPrintTime", num_or_null(j->has_last_print_time, j->last_print_time),
                     "filament", "user", str_or_null(j->user));
}

static json_t *progress_json(const struct job_view *j)
{
    if (!j)
        return json_pack("{s:n, s:n, s:n, s:n, s:n}", "completion", "filepos", "printTime",
                         "printTimeLeft", "printTimeLeftOrigin");
    return json_pack("{s:o, s:o, s:o, s:o, s:o}",
                     "completion", num_or_null(j->has_completion, j->completion),
                     "filepos", int_or_null(j->has_filepos, j->filepos),
                     "printTime", int_or_null(j->has_print_time, j->print_time),
                     "printTimeLeft", int_or_null(j->has_print_time_left, j->print_time_left),
                     "printTimeLeftOrigin", str_or_null(j->print_time_left_origin));
}

json_t *statetopic_printer_data(const struct printer_model *m, const struct job_view *job)
{
    long long ratio = m->lines_sent ? (long long)(m->resends * 100 / m->lines_sent) : 0;
    return json_pack("{s:{s:s, s:o, s:o}, s:o, s:o, s:o, s:{}, s:{s:I, s:I, s:I}}",
                     "state", "text", printer_state_string(m->state), "flags", flags(m),
                     "error", pyjson_string_lossy(m->error, strlen(m->error)),
                     "job", job_json(job),
                     "currentZ", m->has_z ? pyjson_real_or_null(m->current_z) : json_null(),
                     "progress", progress_json(job),
                     "offsets",
                     "resends", "count", (json_int_t)m->resends, "transmitted", (json_int_t)m->lines_sent,
                     "ratio", (json_int_t)ratio);
}

char *statetopic_json(const struct printer_model *m, const struct job_view *job, int decimals,
                      const char *ts_field, long long ts)
{
    json_t *o = statetopic_printer_data(m, job);
    json_t *temps = json_object();
    char *out = NULL;
    if (!o || !temps)
        goto out;
    for (int i = 0; i < m->nheaters; i++) {
        const struct printer_heater *h = &m->heaters[i];
        json_object_set_new(temps, h->key,
                            json_pack("{s:o, s:o}", "actual", pyjson_real_or_null(statetopic_round(h->actual, decimals)),
                                      "target", h->has_target ? pyjson_real_or_null(statetopic_round(h->target, decimals))
                                                              : json_null()));
    }
    json_object_set(o, "temperature", temps);
    json_object_set_new(o, "connection",
                        json_pack("{s:o, s:o, s:o}", "port", m->port[0] ? pyjson_string_lossy(m->port, strlen(m->port)) : json_null(),
                                  "baudrate", m->port[0] ? json_integer(m->baudrate) : json_null(),
                                  "firmware", m->firmware_name[0] ? pyjson_string_lossy(m->firmware_name,
                                                                                         strlen(m->firmware_name))
                                                                  : json_null()));
    /* "eta": when the job will end, ISO 8601 in UTC, for Home Assistant's timestamp sensor (its
     * templates cannot be trusted with time zones); null while unknown and whenever nothing
     * is printing (a finished print has no finish time ahead of it) */
    char eta[40] = "";
    bool running = job && job->has_print_time_left && printer_state_is_printing(m->state);
    time_t end = (time_t)(ts + (running ? job->print_time_left : 0));
    struct tm tm;
    if (running && gmtime_r(&end, &tm))
        strftime(eta, sizeof eta, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    json_object_set_new(o, "eta", eta[0] ? json_string(eta) : json_null());
    if (ts_field)
        json_object_set_new(o, ts_field, json_integer(ts));
    out = pyjson_dumps(o);
out:
    json_decref(temps);
    json_decref(o);
    return out;
}
