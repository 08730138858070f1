/* pace.h: how long Paho's idle threads sleep, set from what the broker connections are doing
 * (private to the mqtt layer; see pace.c for why this exists). */
#ifndef PRINTBRIDGE_MQTT_PACE_H
#define PRINTBRIDGE_MQTT_PACE_H

/* What one broker connection is doing, as far as Paho's threads are concerned. */
enum pace_state {
    PACE_NONE,          /* no client, or one that Paho has not been asked to connect yet */
    PACE_CONNECTING,    /* a connect is on its way: Paho's threads must react at once */
    PACE_UP,            /* connected, or disconnecting: Paho's own pace */
    PACE_PARKED,        /* waiting for our reconnect timer: Paho has nothing to do */
};

/* Moves one connection from state `from` to state `to`; call it before the Paho call that
 * the new state is for (before MQTTAsync_connect, before MQTTAsync_disconnect/destroy). */
void pace_move(enum pace_state from, enum pace_state to);

#endif
