/* discovery_impl.h: what the Home Assistant discovery builders share (discovery.c builds
 * printbridge's device, discovery_compat.c the OctoPrint-HomeAssistant entity set,
 * discovery_shell.c publishes them). */
#ifndef PRINTBRIDGE_WIRE_DISCOVERY_IMPL_H
#define PRINTBRIDGE_WIRE_DISCOVERY_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "printbridge/wire.h"

/* The estimated finish: <base>state's eta while a print runs, unknown otherwise (a stale eta
 * after a print would read as a promise). */
#define DISCOVERY_TPL_ETA "{{ value_json.eta if value_json.eta and value_json.state.flags.printing else None }}"

/* What a builder needs while it adds entities. */
struct discovery_ctx {
    const struct discovery_settings *s;
    const char *id_prefix;                  /* unique ids are <id_prefix>_<object> */
    char state[PUBLISHER_MAX_TOPIC];        /* <base>state */
    char will[PUBLISHER_MAX_TOPIC];         /* <base>mqtt, "" when off */
    json_t *cmps;
    bool oom;
};

/* Sets the topics of c for s (cmps and oom are the caller's). -EINVAL when the state topic is
 * off or a topic does not fit. */
int discovery_ctx_init(struct discovery_ctx *c, const struct discovery_settings *s);

/* A component with the keys every entity has (platform, name, unique id, availability),
 * added to c->cmps under object; borrowed, or NULL (and c->oom) when out of memory. Entities
 * that need the printer also follow the printer link. */
json_t *discovery_entity(struct discovery_ctx *c, const char *platform, const char *object, const char *name,
                         bool needs_printer);

void discovery_set_str(struct discovery_ctx *c, json_t *e, const char *key, const char *value);
void discovery_set_num(struct discovery_ctx *c, json_t *e, const char *key, double value);

/* Where a heater's actual or target temperature is read: <base>temperature/<key> when that
 * topic is on (retained, follows every 0.1 degree), else <base>state; with the value template
 * for it. false when the template does not fit. */
bool discovery_heater_source(const struct discovery_ctx *c, const char *key, bool target, char *topic,
                             size_t topicsz, char *tpl, size_t tplsz);

/* The origin block ("o"): printbridge, its version, the support URL when known. New
 * reference or NULL. */
json_t *discovery_origin(const struct discovery_settings *s);

/* <base> + the event template with "+" for the event name: the one topic that carries every
 * event. -ENOENT when events are off, -EINVAL when the placeholder is not a whole topic
 * level (no wildcard can stand for it), -E2BIG when it does not fit. */
int discovery_event_filter(char *out, size_t outsz, const struct discovery_settings *s);

#endif
