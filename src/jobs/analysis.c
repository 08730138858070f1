/* analysis.c: G-code metadata analysis in one pass over the bytes.
 *
 * Speed matters (a 100 MB file should take a second or two, not minutes), so lines are
 * scanned in place with a hand-written number parser and nothing is allocated per line.
 *
 * The time estimate models what a firmware planner does closely enough to be within a few
 * percent on sliced files: every move is a trapezoid (accelerate, cruise, decelerate) whose
 * entry and exit speeds come from the cornering speed at each junction (the junction
 * deviation model of Marlin and Grbl), with one move of look-ahead so a move knows the speed
 * it must leave with. Long chains of tiny segments are where a full planner does better; we
 * accept that, and prefer the slicer's own estimate when the file carries one. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "printbridge/jobs.h"

#define NO_LAYER -1e9

void analysis_options_default(struct analysis_options *o)
{
    o->filament_diameter = 1.75;
    o->acceleration = 1500;
    o->junction_deviation = 0.05;
    o->max_feedrate = 500;
}

void analysis_init(struct analysis *a, const struct analysis_options *o)
{
    memset(a, 0, sizeof *a);
    if (o)
        a->opt = *o;
    else
        analysis_options_default(&a->opt);
    a->feed = 3000.0 / 60.0;
    a->acc_print = a->acc_travel = a->opt.acceleration;
    a->max_tool = -1;
    a->layer_z = NO_LAYER;
    a->slicer_time = -1;
}

/* 10^-k for the digits after a decimal point; beyond 18 digits the value is rounded. */
static const double neg_pow10[19] = { 1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10,
                                      1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17, 1e-18 };

static bool is_digit(char c)
{
    return (unsigned)(c - '0') < 10;
}

/* The value of a number with more than 18 digits (start..end: digits and at most one point):
 * the first 18 digits are kept and the rest only scale the integer part. */
static double long_num_value(const char *p, const char *end)
{
    uint64_t mant = 0;
    int ndig = 0, frac = 0;     /* digits kept in mant; how many of them follow the point */
    int extra = 0;              /* integer digits beyond what mant holds (huge numbers) */
    for (; p < end && is_digit(*p); p++) {
        if (ndig < 18) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            ndig++;
        } else {
            extra++;
        }
    }
    if (p < end)
        p++;                    /* the point */
    for (; p < end; p++) {
        if (ndig < 18 && extra == 0) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            ndig++;
            frac++;
        }
    }
    double v = (double)mant * neg_pow10[frac];
    if (extra > 0)
        v *= pow(10, extra);
    return v;
}

/* Appends the digits at p to *mant; returns the end of the digits. Without a limit on their
 * number: an overflow of mant is harmless unsigned wrap-around, and the caller redoes a number
 * with more than 18 digits. */
static inline const char *add_digits(const char *p, const char *end, uint64_t *mant)
{
    uint64_t m = *mant;
    for (; p < end; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';  /* unsigned: no sign extension */
        if (d > 9)
            break;
        m = m * 10 + d;
    }
    *mant = m;
    return p;
}

/* A decimal number at *p (sign, digits, point, digits; no exponent in G-code). Returns false
 * when there is no number. Faster than strtod by avoiding locale and exponent handling: the
 * digits are gathered as an integer and scaled once (one rounding, no chain of multiplies).
 * The digits are counted once at the end rather than one by one; the rare number with more
 * than 18 (where mant is not exact) is redone by long_num_value. */
static inline bool parse_num(const char **pp, const char *end, double *out)
{
    const char *p = *pp;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    const char *start = p;
    uint64_t mant = 0;
    p = add_digits(p, end, &mant);
    ptrdiff_t ndig = p - start, frac = 0;
    if (p < end && *p == '.') {
        const char *f = ++p;
        p = add_digits(p, end, &mant);
        frac = p - f;
        ndig += frac;
    }
    if (ndig == 0)
        return false;
    double v = ndig <= 18 ? (double)mant * neg_pow10[frac] : long_num_value(start, p);
    *pp = p;
    *out = neg ? -v : v;
    return true;
}

static inline void box_add(struct analysis_box *b, const double *p)
{
    if (!b->valid) {
        for (int i = 0; i < 3; i++)
            b->min[i] = b->max[i] = p[i];
        b->valid = true;
        return;
    }
    /* written as selections so that they compile to minsd/maxsd instead of branches (the
     * same result, NaN included: a comparison with NaN is false and keeps the bound) */
    for (int i = 0; i < 3; i++) {
        b->min[i] = p[i] < b->min[i] ? p[i] : b->min[i];
        b->max[i] = p[i] > b->max[i] ? p[i] : b->max[i];
    }
}

/* Time of a move of length len from speed v0 to v1 with cruise speed vc, acceleration acc. */
static double trapezoid(double len, double v0, double vc, double v1, double acc)
{
    if (len <= 0 || vc <= 0)
        return 0;
    if (acc <= 0)
        return len / vc;
    double ia = 1 / acc;    /* one division instead of one per term */
    double s_ramps = (2 * vc * vc - v0 * v0 - v1 * v1) * 0.5 * ia;     /* accelerating + braking */
    if (s_ramps <= len)
        return (2 * vc - v0 - v1) * ia + (len - s_ramps) / vc;
    double vp = sqrt((2 * acc * len + v0 * v0 + v1 * v1) / 2);
    if (vp < v0)
        vp = v0;
    if (vp < v1)
        vp = v1;
    return (2 * vp - v0 - v1) * ia;
}

/* The highest speed at which the corner from move m1 into m2 can be taken. */
static double junction_speed(const struct analysis *a, const struct analysis_move *m1,
                             const struct analysis_move *m2)
{
    double cos_theta = -(m1->u[0] * m2->u[0] + m1->u[1] * m2->u[1] + m1->u[2] * m2->u[2]);
    double vmax = m1->v < m2->v ? m1->v : m2->v;
    if (cos_theta < -0.999999)
        return vmax;                       /* straight on */
    if (cos_theta > 0.999999)
        return 0;                          /* full reversal */
    double sin_half = sqrt(0.5 * (1 - cos_theta));
    double acc = m2->a;
    double vj2 = acc * a->opt.junction_deviation * sin_half / (1 - sin_half);
    return vj2 < vmax * vmax ? sqrt(vj2) : vmax;
}

/* Accounts for the pending move, now that the next one (or none) decides its exit speed. */
static void flush_pending(struct analysis *a, const struct analysis_move *next)
{
    struct analysis_move *m = &a->pending;
    if (!m->valid)
        return;
    double vout = 0;
    if (next && next->valid && next->len > 0 && m->len > 0)
        vout = junction_speed(a, m, next);
    /* exit speed must be reachable from the entry within this move */
    double reach2 = a->pending_vin * a->pending_vin + 2 * m->a * m->len;
    if (vout * vout > reach2)
        vout = sqrt(reach2);
    a->time += trapezoid(m->len, a->pending_vin, m->v, vout, m->a);
    m->valid = false;
    a->pending_vin = vout;
}

/* Moves waiting to be timed. Timing a move is a chain of dependent square roots and divisions
 * (length, direction, junction speed, trapezoid), much slower than parsing a line: timed line
 * by line, each chain stalls the parsing of the lines after it. Timed in batches, the chains of
 * consecutive moves overlap. The arithmetic and its order are the same, so are the results. */
enum { MOVE_QUEUE_LEN = 32 };     /* enough for the chains to overlap; more gains nothing */
struct move_queue { int n; struct analysis_move m[MOVE_QUEUE_LEN]; };

/* Times the queued moves, in order. */
static void time_moves(struct analysis *a, struct move_queue *q)
{
    for (int i = 0; i < q->n; i++) {
        flush_pending(a, &q->m[i]);
        a->pending = q->m[i];
    }
    q->n = 0;
}

/* The head comes to rest (a dwell, homing, a move of the extruder alone): times the queued
 * moves and the pending one, which ends at speed 0. */
static void stop_moves(struct analysis *a, struct move_queue *q)
{
    time_moves(a, q);
    flush_pending(a, NULL);
    a->pending_vin = 0;
}

/* Bounds, layers and filament of a move from a->pos to target, which becomes the position. */
static void track_move(struct analysis *a, const double *target, bool printing, bool has_e,
                       double de)
{
    if (!a->pos_in_box) {
        box_add(&a->travel, a->pos);
        a->pos_in_box = true;   /* from here on each target is the next move's start */
    }
    box_add(&a->travel, target);
    if (printing) {
        if (!a->pos_in_print_box)
            box_add(&a->printing, a->pos);
        box_add(&a->printing, target);
        /* a layer starts where extrusion first happens at a new, higher Z */
        if (target[2] > a->layer_z + 1e-6) {
            if (a->layers == 0)
                a->first_layer_z = target[2];
            a->layers++;
            a->layer_z = target[2];
        }
    }
    if (has_e && a->tool >= 0 && a->tool < ANALYSIS_MAX_TOOLS) {
        a->e_total[a->tool] += de;
        if (a->e_total[a->tool] > a->e_max[a->tool])
            a->e_max[a->tool] = a->e_total[a->tool];
        if (a->tool > a->max_tool && de > 0)
            a->max_tool = a->tool;
    }
    a->pos_in_print_box = printing;     /* the next move starts at this target */
    memcpy(a->pos, target, sizeof a->pos);
}

static void add_move(struct analysis *a, struct move_queue *q, const double *target, bool has_e)
{
    struct analysis_move *m = &q->m[q->n];     /* built in place, in the queue's next slot */
    double len2 = 0;
    for (int i = 0; i < 4; i++)
        m->d[i] = target[i] - a->pos[i];
    for (int i = 0; i < 3; i++)
        len2 += m->d[i] * m->d[i];
    m->len = sqrt(len2);
    double de = m->d[3];
    bool extruding = has_e && de > 0;
    track_move(a, target, extruding && m->len > 0, has_e, de);
    double v = a->feed > a->opt.max_feedrate ? a->opt.max_feedrate : a->feed;
    double acc = extruding ? a->acc_print : a->acc_travel;
    if (m->len <= 0) {
        /* extruder-only move: retract or prime; no cornering, its own trapezoid */
        double el = fabs(de);
        if (el > 0) {
            stop_moves(a, q);
            a->time += trapezoid(el, 0, v, 0, acc);
        }
        return;
    }
    m->v = v;
    m->a = acc;
    double inv = 1 / m->len;
    for (int i = 0; i < 3; i++)
        m->u[i] = m->d[i] * inv;
    m->valid = true;
    if (++q->n == MOVE_QUEUE_LEN)
        time_moves(a, q);
}

/* The words of one command, parsed in a single pass: value and presence per letter. */
struct gcode_words { double v[26]; unsigned present; };

static void parse_words(const char *p, const char *end, struct gcode_words *w)
{
    w->present = 0;
    while (p < end) {
        if (*p == ';')
            break;              /* a comment after the command */
        unsigned c = (unsigned)(*p | 32) - 'a';
        p++;
        if (c < 26) {
            double v;
            if (parse_num(&p, end, &v)) {
                w->v[c] = v;
                w->present |= 1u << c;
            }
        }
    }
}

static bool word(const struct gcode_words *w, char c, double *out)
{
    unsigned i = (unsigned)(c - 'A');
    if (!(w->present & (1u << i)))
        return false;
    *out = w->v[i];
    return true;
}

double analysis_parse_slicer_time(const char *line, size_t len)
{
    static const char prusa[] = "estimated printing time (normal mode) =";
    static const char cura[] = ";TIME:";
    const char *end = line + len;
    if (len > sizeof cura - 1 && memcmp(line, cura, sizeof cura - 1) == 0) {
        const char *p = line + sizeof cura - 1;
        double v;
        if (parse_num(&p, end, &v) && v >= 0)
            return v;
        return -1;
    }
    const char *p = line;
    while (p < end && (*p == ';' || *p == ' '))
        p++;
    if ((size_t)(end - p) < sizeof prusa - 1 || memcmp(p, prusa, sizeof prusa - 1) != 0)
        return -1;
    p += sizeof prusa - 1;
    double total = 0;
    bool any = false;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        double v;
        if (!parse_num(&p, end, &v))
            break;
        if (p >= end)
            return -1;
        switch (*p++) {
        case 'd': total += v * 86400; break;
        case 'h': total += v * 3600; break;
        case 'm': total += v * 60; break;
        case 's': total += v; break;
        default: return -1;
        }
        any = true;
    }
    return any ? total : -1;
}

/* G0 to G3: arcs are taken as straight moves to their end point. */
static void move_command(struct analysis *a, struct move_queue *q, const struct gcode_words *w,
                         double scale)
{
    double target[4], v;
    memcpy(target, a->pos, sizeof target);
    static const char axes[4] = { 'X', 'Y', 'Z', 'E' };
    bool has_e = false;
    for (int i = 0; i < 4; i++) {
        if (!word(w, axes[i], &v))
            continue;
        v *= scale;
        bool rel = i == 3 ? (a->relative || a->e_relative) : a->relative;
        /* positions are physical; G92 offsets map the file's coordinates onto them */
        target[i] = rel ? a->pos[i] + v : v + a->offset[i];
        if (i == 3)
            has_e = true;
    }
    if (word(w, 'F', &v) && v > 0)
        a->feed = v * scale / 60.0;
    add_move(a, q, target, has_e);
}

static void g_command(struct analysis *a, struct move_queue *q, int code,
                      const struct gcode_words *w)
{
    double scale = a->inches ? 25.4 : 1.0;
    double v;
    switch (code) {
    case 0: case 1: case 2: case 3:
        move_command(a, q, w, scale);
        break;
    case 4:
        stop_moves(a, q);
        if (word(w, 'P', &v))
            a->time += v / 1000.0;
        else if (word(w, 'S', &v))
            a->time += v;
        break;
    case 20: a->inches = true; break;
    case 21: a->inches = false; break;
    case 28: {
        stop_moves(a, q);
        bool any = false;
        static const char axes[3] = { 'X', 'Y', 'Z' };
        for (int i = 0; i < 3; i++)
            if (word(w, axes[i], &v)) {
                a->pos[i] = 0;
                any = true;
            }
        if (!any)
            a->pos[0] = a->pos[1] = a->pos[2] = 0;
        a->pos_in_box = a->pos_in_print_box = false;
        for (int i = 0; i < 3; i++)
            a->offset[i] = 0;
        break;
    }
    case 90: a->relative = false; a->e_relative = false; break;
    case 91: a->relative = true; break;
    case 92: {
        /* set position: we keep physical coordinates, so remember the offset */
        static const char axes[4] = { 'X', 'Y', 'Z', 'E' };
        bool any = false;
        for (int i = 0; i < 4; i++)
            if (word(w, axes[i], &v)) {
                a->offset[i] = a->pos[i] - v * scale;
                any = true;
            }
        if (!any)
            for (int i = 0; i < 4; i++)
                a->offset[i] = a->pos[i];
        break;
    }
    default: break;
    }
}

static void m_command(struct analysis *a, int code, const struct gcode_words *w)
{
    double v;
    switch (code) {
    case 82: a->e_relative = false; break;
    case 83: a->e_relative = true; break;
    case 204:
        if (word(w, 'S', &v) && v > 0)
            a->acc_print = a->acc_travel = v;
        if (word(w, 'P', &v) && v > 0)
            a->acc_print = v;
        if (word(w, 'T', &v) && v > 0)
            a->acc_travel = v;
        break;
    default: break;
    }
}

/* analysis_line, with the moves queued in q for timing. */
static void process_line(struct analysis *a, struct move_queue *q, const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    a->lines++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end)
        return;
    if (*p == ';') {
        /* only comments can carry the slicer's estimate; check cheaply before parsing */
        if (a->slicer_time < 0 && end - p > 6 && (p[1] == 'T' || p[1] == ' ' || p[2] == 'e')) {
            double t = analysis_parse_slicer_time(p, (size_t)(end - p));
            if (t >= 0)
                a->slicer_time = t;
        }
        return;
    }
    /* a comment after the command ends it: parse_words stops there, and the number parser
     * stops at the ';' anyway */
    if (*p == 'N' || *p == 'n') {
        /* a line number: skip it */
        p++;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        while (p < end && *p == ' ')
            p++;
    }
    if (p >= end)
        return;
    char letter = *p;
    if (letter >= 'a' && letter <= 'z')
        letter = (char)(letter - 32);
    const char *s = p + 1;
    double codev;
    if (letter == 'T') {
        if (parse_num(&s, end, &codev) && codev >= 0 && codev < ANALYSIS_MAX_TOOLS)
            a->tool = (int)codev;
        return;
    }
    if ((letter != 'G' && letter != 'M') || !parse_num(&s, end, &codev))
        return;
    /* "G3000000000" (a garbled file) is no command; converting it to int would be undefined
     * (found by make fuzz; replayed from test/fuzz/analysis/crashes/ by make check-san) */
    if (!(codev >= 0 && codev < 100000))
        return;
    struct gcode_words w;
    parse_words(s, end, &w);
    if (letter == 'G')
        g_command(a, q, (int)codev, &w);
    else
        m_command(a, (int)codev, &w);
}

void analysis_line(struct analysis *a, const char *line, size_t len)
{
    struct move_queue q;
    q.n = 0;
    process_line(a, &q, line, len);
    time_moves(a, &q);
}

void analysis_feed(struct analysis *a, const char *buf, size_t len)
{
    struct move_queue q;
    q.n = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (a->ncarry == 0 && !a->overlong && nl) {
            /* the common case: a whole line inside the buffer, analysed in place */
            size_t m = n;
            if (m && p[m - 1] == '\r')
                m--;
            if (m <= ANALYSIS_MAX_LINE)
                process_line(a, &q, p, m);
            else
                a->lines++;
        } else {
            if (!a->overlong && a->ncarry + n <= ANALYSIS_MAX_LINE) {
                memcpy(a->carry + a->ncarry, p, n);
                a->ncarry += n;
            } else {
                a->overlong = true;
            }
            if (nl) {
                size_t m = a->ncarry;
                if (m && a->carry[m - 1] == '\r')
                    m--;
                if (!a->overlong)
                    process_line(a, &q, a->carry, m);
                else
                    a->lines++;
                a->ncarry = 0;
                a->overlong = false;
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    time_moves(a, &q);
}

void analysis_finish(struct analysis *a, struct analysis_result *r)
{
    if (a->ncarry > 0 && !a->overlong)
        analysis_line(a, a->carry, a->ncarry);
    a->ncarry = 0;
    flush_pending(a, NULL);
    memset(r, 0, sizeof *r);
    r->estimated_time = a->time;
    r->slicer_time = a->slicer_time;
    r->ntools = a->max_tool + 1;
    double area = M_PI * (a->opt.filament_diameter / 2) * (a->opt.filament_diameter / 2);
    for (int t = 0; t < r->ntools; t++) {
        r->filament_length[t] = a->e_max[t];
        r->filament_volume[t] = a->e_max[t] * area / 1000.0;
    }
    r->printing = a->printing;
    r->travel = a->travel;
    r->layers = a->layers;
    r->first_layer_height = a->layers > 0 ? a->first_layer_z : 0;
    if (a->layers > 1)
        r->layer_height = (a->layer_z - a->first_layer_z) / (a->layers - 1);
    else
        r->layer_height = r->first_layer_height;
    r->lines = a->lines;
}

int analysis_file(const char *path, const struct analysis_options *o, struct analysis_result *r)
{
    enum { CHUNK = 1 << 16 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    char *buf = malloc(CHUNK);
    struct analysis *a = malloc(sizeof *a);
    if (!buf || !a) {
        rc = -ENOMEM;
        goto out;
    }
    analysis_init(a, o);
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        analysis_feed(a, buf, (size_t)n);
    }
    analysis_finish(a, r);
out:
    free(a);
    free(buf);
    close(fd);
    return rc;
}

static json_t *area_json(const struct analysis_box *b)
{
    if (!b->valid)
        return json_pack("{s:n, s:n, s:n, s:n, s:n, s:n}", "maxX", "maxY", "maxZ", "minX", "minY", "minZ");
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "maxX", b->max[0], "maxY", b->max[1],
                     "maxZ", b->max[2], "minX", b->min[0], "minY", b->min[1], "minZ", b->min[2]);
}

static json_t *dims_json(const struct analysis_box *b)
{
    if (!b->valid)
        return json_pack("{s:f, s:f, s:f}", "depth", 0.0, "height", 0.0, "width", 0.0);
    return json_pack("{s:f, s:f, s:f}", "depth", b->max[1] - b->min[1], "height", b->max[2] - b->min[2],
                     "width", b->max[0] - b->min[0]);
}

json_t *analysis_to_json(const struct analysis_result *r)
{
    json_t *fil = json_object();
    for (int t = 0; t < r->ntools; t++) {
        char key[16];
        snprintf(key, sizeof key, "tool%d", t);
        json_object_set_new(fil, key, json_pack("{s:f, s:f}", "length", r->filament_length[t],
                                                "volume", r->filament_volume[t]));
    }
    double est = r->slicer_time >= 0 ? r->slicer_time : r->estimated_time;
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:f, s:o, s:f}",
                          "printingArea", area_json(&r->printing),
                          "dimensions", dims_json(&r->printing),
                          "travelArea", area_json(&r->travel),
                          "travelDimensions", dims_json(&r->travel),
                          "estimatedPrintTime", est,
                          "filament", fil,
                          "analysisPrintTime", r->estimated_time);
    if (!o)
        return NULL;
    if (r->slicer_time >= 0)
        json_object_set_new(o, "slicerPrintTime", json_real(r->slicer_time));
    json_object_set_new(o, "layers", json_pack("{s:i, s:f, s:f}", "count", r->layers,
                                               "height", r->layer_height,
                                               "firstLayerHeight", r->first_layer_height));
    return o;
}

static bool get_num(const json_t *o, const char *k, double *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static void area_from(const json_t *o, struct analysis_box *b)
{
    b->valid = get_num(o, "minX", &b->min[0]) && get_num(o, "minY", &b->min[1]) &&
               get_num(o, "minZ", &b->min[2]) && get_num(o, "maxX", &b->max[0]) &&
               get_num(o, "maxY", &b->max[1]) && get_num(o, "maxZ", &b->max[2]);
}

int analysis_from_json(const json_t *o, struct analysis_result *r)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(o) || !get_num(o, "analysisPrintTime", &r->estimated_time))
        return -EINVAL;
    if (!get_num(o, "slicerPrintTime", &r->slicer_time))
        r->slicer_time = -1;
    area_from(json_object_get(o, "printingArea"), &r->printing);
    area_from(json_object_get(o, "travelArea"), &r->travel);
    const json_t *fil = json_object_get(o, "filament");
    for (int t = 0; t < ANALYSIS_MAX_TOOLS; t++) {
        char key[16];
        snprintf(key, sizeof key, "tool%d", t);
        const json_t *ft = json_object_get(fil, key);
        if (!ft)
            break;
        get_num(ft, "length", &r->filament_length[t]);
        get_num(ft, "volume", &r->filament_volume[t]);
        r->ntools = t + 1;
    }
    const json_t *l = json_object_get(o, "layers");
    double cnt = 0;
    get_num(l, "count", &cnt);
    r->layers = (int)cnt;
    get_num(l, "height", &r->layer_height);
    get_num(l, "firstLayerHeight", &r->first_layer_height);
    return 0;
}
