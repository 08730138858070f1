/* paho.h: Paho's asynchronous client, loaded at run time (private to the mqtt layer).
 *
 * The two builds of the library export the same functions; struct paho holds them for the one
 * a client was created with, and every call into Paho goes through it. */
#ifndef PRINTBRIDGE_MQTT_PAHO_H
#define PRINTBRIDGE_MQTT_PAHO_H

#include <MQTTAsync.h>
#include <stdbool.h>
#include <stddef.h>

struct paho {
    __typeof__(MQTTAsync_createWithOptions) *createWithOptions;
    __typeof__(MQTTAsync_setCallbacks) *setCallbacks;
    __typeof__(MQTTAsync_setConnected) *setConnected;
    __typeof__(MQTTAsync_connect) *connect;
    __typeof__(MQTTAsync_disconnect) *disconnect;
    __typeof__(MQTTAsync_isConnected) *isConnected;
    __typeof__(MQTTAsync_destroy) *destroy;
    __typeof__(MQTTAsync_sendMessage) *sendMessage;
    __typeof__(MQTTAsync_subscribe) *subscribe;
    __typeof__(MQTTAsync_subscribeMany) *subscribeMany;
    __typeof__(MQTTAsync_unsubscribe) *unsubscribe;
    __typeof__(MQTTAsync_freeMessage) *freeMessage;
    __typeof__(MQTTAsync_free) *free;
    __typeof__(MQTTAsync_strerror) *strerror;
    __typeof__(MQTTProperties_add) *properties_add;
    __typeof__(MQTTProperties_free) *properties_free;
    __typeof__(MQTTProperties_getProperty) *properties_get;
};

/* The library for a client with TLS on or off, loaded and set up on first use and kept for the
 * life of the process. NULL, with one line in err, when it cannot be loaded. Safe from any
 * thread. */
const struct paho *paho_get(bool tls, char *err, size_t errsz);

#endif
