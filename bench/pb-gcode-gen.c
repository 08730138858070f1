/* pb-gcode-gen: a deterministic G-code file shaped like a sliced print.
 *
 *   pb-gcode-gen --lines N OUT      exactly N command lines
 *   pb-gcode-gen --bytes N OUT      command lines until the file holds at least N bytes
 *
 * A start block (units, absolute moves, relative extrusion off, home, temperatures already
 * reached, fan), then layers of extruding G1 moves with occasional travels, retractions and
 * Z changes every 400 lines; some lines carry a ;comment as slicers write them. The same
 * arguments always give the same file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long rng = 12345;

static double rnd(double lo, double hi)
{
    rng = rng * 6364136223846793005UL + 1442695040888963407UL;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "--lines") != 0 && strcmp(argv[1], "--bytes") != 0)) {
        fprintf(stderr, "usage: pb-gcode-gen --lines N|--bytes N OUT\n");
        return 2;
    }
    int by_bytes = strcmp(argv[1], "--bytes") == 0;
    unsigned long long limit = strtoull(argv[2], NULL, 10);
    FILE *f = fopen(argv[3], "w");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    static const char *head[] = { "G21 ; millimetres", "G90", "M82", "M107", "G28 ; home",
                                  "M104 S0", "M140 S0", "G92 E0", "M106 S255" };
    unsigned long long lines = 0, bytes = 0;
    double z = 0.2, e = 0, x = 100, y = 100;
    int r;
    for (size_t i = 0; i < sizeof head / sizeof *head && (by_bytes || lines < limit); i++, lines++)
        bytes += (unsigned long long)fprintf(f, "%s\n", head[i]);
    while (by_bytes ? bytes < limit : lines < limit) {
        unsigned long long k = lines % 400;
        if (k == 0) {
            z += 0.2;
            r = fprintf(f, "G1 Z%.3f F7800 ;LAYER:%llu\n", z, lines / 400);
        } else if (k % 97 == 0) {
            r = fprintf(f, "G1 E%.5f F2400 ; retract\n", e - 0.8);
        } else if (k % 53 == 0) {
            x = rnd(20, 200);
            y = rnd(20, 200);
            r = fprintf(f, "G0 F9000 X%.3f Y%.3f\n", x, y);
        } else {
            double nx = rnd(20, 200), ny = rnd(20, 200);
            e += rnd(0.01, 0.9);
            r = fprintf(f, "G1 X%.3f Y%.3f E%.5f%s\n", nx, ny, e, k % 11 == 0 ? " F1800" : "");
            x = nx;
            y = ny;
        }
        if (r < 0)
            break;
        bytes += (unsigned long long)r;
        lines++;
    }
    if (fclose(f) != 0) {
        perror(argv[3]);
        return 1;
    }
    return 0;
}
