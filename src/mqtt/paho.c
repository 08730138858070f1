/* paho.c: owns loading Paho's asynchronous client library.
 *
 * Paho comes in two builds: libpaho-mqtt3a, and libpaho-mqtt3as with TLS. Linking the TLS
 * build maps OpenSSL into every daemon, and its relocated tables alone are about 400 KB of
 * private memory per process, whether or not the broker connection uses TLS: more than a
 * quarter of an idle daemon's own memory, and 40 MB on a host running 100 of them. So the
 * library is opened when the first client is created, the TLS build only for a client that
 * uses TLS. A reload that turns TLS on opens the TLS build beside the other; each keeps its
 * own state (RTLD_LOCAL), and each client calls the library it was created with.
 *
 * Paho would also initialise OpenSSL with every default (configuration file, all error
 * strings and algorithms); OpenSSL 1.1 and later initialise themselves on first use, so
 * that is left to them. And it formats a trace entry for every packet into a ring of 400
 * (125 KB) that only a debugger reads; its trace level is raised to errors, which the
 * daemon reports in its own words anyway. */
#include "paho.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define LIB_PLAIN "libpaho-mqtt3a.so.1"
#define LIB_TLS "libpaho-mqtt3as.so.1"

struct loaded {
    struct paho api;
    bool tried;
    char error[256];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct loaded libs[2];       /* [0] plain, [1] TLS */

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define FIND(field, name) (ok = ok && (*(void **)&api->field = dlsym(h, name)) != NULL)

static bool find_all(void *h, struct paho *api)
{
    bool ok = true;
    FIND(createWithOptions, "MQTTAsync_createWithOptions");
    FIND(setCallbacks, "MQTTAsync_setCallbacks");
    FIND(setConnected, "MQTTAsync_setConnected");
    FIND(connect, "MQTTAsync_connect");
    FIND(disconnect, "MQTTAsync_disconnect");
    FIND(isConnected, "MQTTAsync_isConnected");
    FIND(destroy, "MQTTAsync_destroy");
    FIND(sendMessage, "MQTTAsync_sendMessage");
    FIND(subscribe, "MQTTAsync_subscribe");
    FIND(subscribeMany, "MQTTAsync_subscribeMany");
    FIND(unsubscribe, "MQTTAsync_unsubscribe");
    FIND(freeMessage, "MQTTAsync_freeMessage");
    FIND(free, "MQTTAsync_free");
    FIND(strerror, "MQTTAsync_strerror");
    FIND(properties_add, "MQTTProperties_add");
    FIND(properties_free, "MQTTProperties_free");
    FIND(properties_get, "MQTTProperties_getProperty");
    return ok;
}

static void load(struct loaded *l, const char *name)
{
    l->tried = true;
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(l->error, sizeof l->error, "cannot load %s (%s); install Paho MQTT C (libpaho-mqtt1.3)",
                 name, dlerror());
        return;
    }
    __typeof__(MQTTAsync_global_init) *global_init;
    __typeof__(MQTTAsync_setTraceLevel) *set_trace_level;
    *(void **)&global_init = dlsym(h, "MQTTAsync_global_init");
    *(void **)&set_trace_level = dlsym(h, "MQTTAsync_setTraceLevel");
    if (!global_init || !set_trace_level || !find_all(h, &l->api)) {
        snprintf(l->error, sizeof l->error, "%s lacks a function printbridge needs; install Paho MQTT C 1.3 or later",
                 name);
        l->api.createWithOptions = NULL;
        dlclose(h);
        return;
    }
    MQTTAsync_init_options io = MQTTAsync_init_options_initializer;
    io.do_openssl_init = 0;
    global_init(&io);
    set_trace_level(MQTTASYNC_TRACE_ERROR);
}

const struct paho *paho_get(bool tls, char *err, size_t errsz)
{
    struct loaded *l = &libs[tls ? 1 : 0];
    pthread_mutex_lock(&lock);
    if (!l->tried)
        load(l, tls ? LIB_TLS : LIB_PLAIN);
    pthread_mutex_unlock(&lock);
    if (!l->api.createWithOptions) {
        snprintf(err, errsz, "%s", l->error);
        return NULL;
    }
    return &l->api;
}
