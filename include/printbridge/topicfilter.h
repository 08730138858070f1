/* topicfilter.h: MQTT topic filters with the + and # wildcards (MQTT 3.1.1 section 4.7).
 * Pure. */
#ifndef PRINTBRIDGE_TOPICFILTER_H
#define PRINTBRIDGE_TOPICFILTER_H

#include <stdbool.h>
#include <stddef.h>

/* 0 if filter is a valid subscription filter; otherwise -1 with the reason (one phrase, e.g.
 * "'#' must be the last level") in why. */
int topicfilter_check(const char *filter, char *why, size_t whysz);

/* True if topic (a concrete topic name) matches filter. A wildcard in the first level does
 * not match topics starting with '$', as brokers do. */
bool topicfilter_match(const char *filter, const char *topic);

#endif
