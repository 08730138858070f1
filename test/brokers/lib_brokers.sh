# lib_brokers.sh: the broker topologies `make check-brokers` runs the MQTT contract against,
# on top of test/it/lib_mqtt.sh. Each br_up_* starts one topology on free loopback ports and
# sets:
#   BR_PB_PORT    where printbridge connects
#   BR_NEAR_PORT  the broker printbridge is connected to (a subscriber there sees what it sent)
#   BR_FAR_PORT   where the subscribers and the commands are (another node, or the central
#                 broker); equal to BR_NEAR_PORT on a single broker
#   BR_RETAINED   1 when a late wildcard subscriber on BR_FAR_PORT gets the retained messages
# and br_link_down / br_link_up cut and restore the link a QoS 1 message must survive: the one
# between printbridge and its broker, or the bridge between the site and the central broker.
# Cut links are TCP proxies (socat) the test owns. RabbitMQ nodes run from the test's folder
# with their own Erlang port mapper port; everything is stopped by the EXIT trap, also on a
# failure.

. "$(dirname "${BASH_SOURCE[0]}")/../it/lib_mqtt.sh"

BR_PROXY_PID=
BR_PROXY_LISTEN=
BR_PROXY_TARGET=
BR_RABBIT_NODES=()      # node names started here
BR_EPMD_PORT=
RABBIT_BIN=${RABBIT_BIN:-/usr/lib/rabbitmq/bin}

br_init() {
  m_init
  trap br_cleanup EXIT
}

# br_proxy_start LISTEN TARGET: a TCP proxy in its own process group, so that stopping it
# closes every connection it carries at once
br_proxy_start() {
  BR_PROXY_LISTEN=$1 BR_PROXY_TARGET=$2
  setsid socat "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$2" 2>>"$M_DIR/proxy.log" &
  BR_PROXY_PID=$!
  M_PIDS+=("$BR_PROXY_PID")
  m_wait_until "$(m_t 10)" m_port_in_use "$1" || m_fail "the proxy did not listen on port $1 (see proxy.log)"
}

br_link_down() {
  kill -TERM -- "-$BR_PROXY_PID" 2>/dev/null
  m_wait_until "$(m_t 10)" eval "! m_port_in_use $BR_PROXY_LISTEN" || m_fail "the proxy on $BR_PROXY_LISTEN did not stop"
  wait "$BR_PROXY_PID" 2>/dev/null
  return 0
}

br_link_up() { br_proxy_start "$BR_PROXY_LISTEN" "$BR_PROXY_TARGET"; }

# br_mosquitto_conf NAME PORT [MORE]: a broker configuration with optional extra lines
br_mosquitto_conf() {
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n%s' "$2" "${3:-}" >"$M_DIR/$1.conf"
  echo "$M_DIR/$1.conf"
}

br_up_mosquitto() {
  local port proxy
  port=$(m_free_port)
  m_start_broker "$(br_mosquitto_conf broker "$port")" "$port" broker
  proxy=$(m_free_port)
  br_proxy_start "$proxy" "$port"
  BR_PB_PORT=$proxy BR_NEAR_PORT=$port BR_FAR_PORT=$port BR_RETAINED=1
}

# a site broker bridged to a central one: every topic under octoprint/ both ways at QoS 1,
# through a proxy that br_link_down cuts
br_up_bridge() {
  local site central proxy
  central=$(m_free_port)
  m_start_broker "$(br_mosquitto_conf central "$central")" "$central" central
  proxy=$(m_free_port)
  br_proxy_start "$proxy" "$central"
  site=$(m_free_port)
  m_start_broker "$(br_mosquitto_conf site "$site" "connection central
address 127.0.0.1:$proxy
topic octoprint/# both 1
cleansession false
restart_timeout 1
bridge_protocol_version mqttv311
")" "$site" site
  BR_PB_PORT=$site BR_NEAR_PORT=$site BR_FAR_PORT=$central BR_RETAINED=1
  # the bridge is up when a message published on the site reaches the central broker
  m_wait_until "$(m_t 20)" br_bridged "$site" "$central" || m_fail "the bridge from port $site to port $central did not come up (see site.log)"
}

br_bridged() {
  local out
  out=$(mosquitto_sub -h 127.0.0.1 -p "$2" -t octoprint/bridgecheck -C 1 -W 2 -q 1 2>/dev/null &
        sleep 0.5; mosquitto_pub -h 127.0.0.1 -p "$1" -t octoprint/bridgecheck -m up -q 1; wait)
  [ "$out" = up ]
}

# ---- RabbitMQ ------------------------------------------------------------------------------

br_rabbit_env() {
  local n=$1
  echo "HOME=$M_DIR/rabbit/home ERL_EPMD_PORT=$BR_EPMD_PORT RABBITMQ_NODENAME=pb$n@localhost"
}

# br_rabbitmqctl N ARGS...: rabbitmqctl against node N, with the test's cookie and port mapper
br_rabbitmqctl() {
  local n=$1; shift
  env $(br_rabbit_env "$n") "$RABBIT_BIN/rabbitmqctl" -n "pb$n@localhost" "$@" >>"$M_DIR/rabbitmqctl.log" 2>&1
}

# br_rabbit_start N MQTT_PORT: one node with the MQTT plugin, its data and logs in the test's
# folder, listening on loopback only
br_rabbit_start() {
  local n=$1 mqtt=$2 d=$M_DIR/rabbit/pb$1
  mkdir -p "$d/mnesia" "$d/log"
  printf '%s\n' "listeners.tcp.default = 127.0.0.1:$(m_free_port)" "mqtt.listeners.tcp.default = 127.0.0.1:$mqtt" \
    "loopback_users = none" >"$d/rabbitmq.conf"
  echo '[rabbitmq_mqtt].' >"$d/enabled_plugins"
  env $(br_rabbit_env "$n") RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT="$(m_free_port)" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" RABBITMQ_PID_FILE="$d/pid" RABBITMQ_CONF_ENV_FILE=/dev/null \
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
    "$RABBIT_BIN/rabbitmq-server" >>"$M_DIR/rabbit-pb$n.log" 2>&1 &
  M_PIDS+=("$!")
  BR_RABBIT_NODES+=("$n")
}

br_up_rabbitmq() {
  [ -x "$RABBIT_BIN/rabbitmq-server" ] || m_fail "no RabbitMQ at $RABBIT_BIN (scripts/install-deps.sh brokers installs Debian's rabbitmq-server)"
  local n1 n2 proxy
  mkdir -p "$M_DIR/rabbit/home"
  printf 'pbtest%s%s' "$RANDOM" "$RANDOM" >"$M_DIR/rabbit/home/.erlang.cookie"
  chmod 0400 "$M_DIR/rabbit/home/.erlang.cookie"
  BR_EPMD_PORT=$(m_free_port)
  n1=$(m_free_port)
  n2=$(m_free_port)
  br_rabbit_start 1 "$n1"
  br_rabbit_start 2 "$n2"
  m_wait_until "$(m_t 90)" eval "m_port_in_use $n1 && m_port_in_use $n2" ||
    m_fail "the RabbitMQ nodes did not open their MQTT ports $n1 and $n2 within $(m_t 90) s (see rabbit-pb1.log, rabbit-pb2.log)"
  br_rabbitmqctl 2 stop_app && br_rabbitmqctl 2 join_cluster pb1@localhost && br_rabbitmqctl 2 start_app ||
    m_fail "rabbitmqctl could not join pb2 to pb1: $(tail -n 3 "$M_DIR/rabbitmqctl.log")"
  m_wait_until "$(m_t 30)" m_port_in_use "$n2" || m_fail "node pb2 did not reopen its MQTT port after joining"
  br_rabbitmqctl 1 cluster_status
  grep -q 'pb2@localhost' "$M_DIR/rabbitmqctl.log" || m_fail "pb2 is not in pb1's cluster: $(tail -n 5 "$M_DIR/rabbitmqctl.log")"
  proxy=$(m_free_port)
  br_proxy_start "$proxy" "$n1"
  BR_PB_PORT=$proxy BR_NEAR_PORT=$n1 BR_FAR_PORT=$n2 BR_RETAINED=0
}

# stop the nodes (the server script's SIGTERM handler halts the node; the pid files name the
# Erlang VMs themselves, in case one is left), then the port mapper on our port
br_rabbit_stop() {
  local n pid
  [ ${#BR_RABBIT_NODES[@]} -gt 0 ] || return 0
  for n in "${BR_RABBIT_NODES[@]}"; do br_rabbitmqctl "$n" stop; done
  for n in "${BR_RABBIT_NODES[@]}"; do
    pid=$(cat "$M_DIR/rabbit/pb$n/pid" 2>/dev/null)
    [ -n "$pid" ] || continue
    m_wait_until "$(m_t 10)" eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
  done
  epmd -port "$BR_EPMD_PORT" -kill >/dev/null 2>&1
  BR_RABBIT_NODES=()
}

br_cleanup() {
  local rc=$?
  br_rabbit_stop
  (exit "$rc")
  m_cleanup
}
