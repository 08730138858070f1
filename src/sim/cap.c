/* cap.c: the capability table M115 reports (see cap.h). */
#include "cap.h"

#include <errno.h>
#include <strings.h>

static const struct {
    const char *name;
    bool on;
} cap_table[SIM_CAP_COUNT] = {
    [SIM_CAP_SERIAL_XON_XOFF] = {"SERIAL_XON_XOFF", false},
    [SIM_CAP_BINARY_FILE_TRANSFER] = {"BINARY_FILE_TRANSFER", false},
    [SIM_CAP_EEPROM] = {"EEPROM", false},
    [SIM_CAP_VOLUMETRIC] = {"VOLUMETRIC", true},
    [SIM_CAP_AUTOREPORT_POS] = {"AUTOREPORT_POS", true},
    [SIM_CAP_AUTOREPORT_TEMP] = {"AUTOREPORT_TEMP", true},
    [SIM_CAP_PROGRESS] = {"PROGRESS", false},
    [SIM_CAP_PRINT_JOB] = {"PRINT_JOB", true},
    [SIM_CAP_AUTOLEVEL] = {"AUTOLEVEL", true},
    [SIM_CAP_Z_PROBE] = {"Z_PROBE", true},
    [SIM_CAP_LEVELING_DATA] = {"LEVELING_DATA", true},
    [SIM_CAP_SOFTWARE_POWER] = {"SOFTWARE_POWER", false},
    [SIM_CAP_EMERGENCY_PARSER] = {"EMERGENCY_PARSER", true},
    [SIM_CAP_HOST_ACTION_COMMANDS] = {"HOST_ACTION_COMMANDS", true},
    [SIM_CAP_PROMPT_SUPPORT] = {"PROMPT_SUPPORT", false},
    [SIM_CAP_SDCARD] = {"SDCARD", true},
    [SIM_CAP_SD_WRITE] = {"SD_WRITE", true},
    [SIM_CAP_AUTOREPORT_SD_STATUS] = {"AUTOREPORT_SD_STATUS", true},
    [SIM_CAP_LONG_FILENAME] = {"LONG_FILENAME", true},
    [SIM_CAP_LFN_WRITE] = {"LFN_WRITE", true},
    [SIM_CAP_EXTENDED_M20] = {"EXTENDED_M20", true},
    [SIM_CAP_THERMAL_PROTECTION] = {"THERMAL_PROTECTION", true},
    [SIM_CAP_ARCS] = {"ARCS", true},
    [SIM_CAP_CHAMBER_TEMPERATURE] = {"CHAMBER_TEMPERATURE", false},
    [SIM_CAP_BUSY_PROTOCOL] = {"BUSY_PROTOCOL", true},
};

const char *sim_cap_name(enum sim_cap cap)
{
    return (unsigned)cap < SIM_CAP_COUNT ? cap_table[cap].name : "?";
}

int sim_cap_lookup(const char *name)
{
    for (int i = 0; i < SIM_CAP_COUNT; i++)
        if (strcasecmp(cap_table[i].name, name) == 0)
            return i;
    return -ENOENT;
}

bool sim_cap_default(enum sim_cap cap, const struct sim_options *o)
{
    if (cap == SIM_CAP_CHAMBER_TEMPERATURE)
        return o->chamber;
    if (cap == SIM_CAP_BUSY_PROTOCOL)
        return o->busy_ms > 0;
    return (unsigned)cap < SIM_CAP_COUNT && cap_table[cap].on;
}
