/* discovery.h: Home Assistant MQTT discovery (wire-format.md 13, peers.md 5).
 *
 * printbridge announces one device per instance with device-based discovery: a single
 * retained message on <prefix>/device/<node_id>/config whose "cmps" hold every entity. All
 * state comes from topics printbridge already publishes (the retained <base>state, the
 * retained <base>temperature/<key>, the <base>mqtt will) and every button sends to the
 * inbound command topics (<base>command/job, .../connection, .../gcode).
 *
 * Two layers: pure payload building (discovery_config_json and friends, unit-tested), and a
 * small shell that publishes on every broker connect, again after a random delay when Home
 * Assistant announces "online" on <prefix>/status, and removes the device (an empty retained
 * config) when discovery is switched off. */
#ifndef PRINTBRIDGE_DISCOVERY_H
#define PRINTBRIDGE_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct mqtt;

#define DISCOVERY_MAX_ID 160   /* a client id is at most 128 bytes */

/* Strings are borrowed for the duration of a call; the shell keeps its own copies. */
struct discovery_settings {
    bool enabled;
    const char *prefix;             /* "homeassistant" */
    const char *node_id;            /* [A-Za-z0-9_-]+, see discovery_node_id_from */
    const char *device_name;        /* NULL: "printbridge <node_id>" */
    const char *base_topic;         /* "octoprint/" */
    const char *state_topic;        /* template under base_topic, "state"; "" = off */
    const char *status_topic;       /* "mqtt"; "" = off (no will to follow) */
    const char *temperature_topic;  /* "temperature/{temp}"; "" = read <base>state instead */
    int extruders;                  /* tool0 .. tool<n-1> */
    bool heated_bed, heated_chamber;
    double republish_delay;         /* s: the birth republish waits a random 0..this */
    const char *sw_version;         /* printbridge's version */
    bool camera;                    /* a snapshot command is configured: an MQTT camera on <base>camera */
};

/* ---- pure ------------------------------------------------------------------------------- */

/* A node id from the MQTT client id: every byte outside [A-Za-z0-9_-] becomes '_'. The
 * client id is stable per install (host name + base topic unless configured) and already
 * unique per broker, so the ids it gives are too. Returns the length, or -1 if it does not
 * fit (or id is empty). */
int discovery_node_id_from(char *out, size_t outsz, const char *client_id);

/* "<prefix>/device/<node_id>/config". Returns the length or -1 if it does not fit. */
int discovery_config_topic(char *out, size_t outsz, const char *prefix, const char *node_id);

/* "<prefix>/status", Home Assistant's birth and will topic. */
int discovery_birth_topic(char *out, size_t outsz, const char *prefix);

/* The device config (abbreviated keys, as json.dumps writes it). NULL when the state topic
 * is off (nothing to read the entities from) or out of memory; malloc'd otherwise. */
char *discovery_config_json(const struct discovery_settings *s);

/* The enum options of the printer state sensor: every printer state text, lower-cased with
 * '_' for ' ', once each; the sensor's value template maps <base>state's state.text the same
 * way. NULL-terminated static array. */
const char *const *discovery_state_options(void);

/* ---- the shell (loop thread) ------------------------------------------------------------- */

struct discovery;

int discovery_create(struct discovery **out, uv_loop_t *loop, struct mqtt *m, const struct discovery_settings *s);

/* A rebuilt broker connection (configuration reload). */
void discovery_set_mqtt(struct discovery *d, struct mqtt *m);

/* New settings (reload): a device under an old topic is removed first; a changed config is
 * published now when connected (else at the next connect). Returns 0 or -ENOMEM (the old
 * settings are kept). */
int discovery_set_settings(struct discovery *d, const struct discovery_settings *s);

/* After every broker connect: the config (retained, QoS 1), or with discovery off an empty
 * retained config, which removes a device left by an earlier run. */
void discovery_on_connected(struct discovery *d);

/* A message on <prefix>/status: "online" schedules one republish after a random delay
 * (several births within the delay give one republish). */
void discovery_on_birth(struct discovery *d, const char *payload, bool retained);

/* Stops the timer; done runs once it is closed and everything is freed. */
void discovery_close(struct discovery *d, void (*done)(void *ctx), void *ctx);

#endif
