#!/usr/bin/python3
# ha_view.py: what Home Assistant makes of printbridge's discovery, for the integration tests.
#
# Reads the retained discovery config and the retained messages its entities read from a real
# broker (with mosquitto_sub), and applies the rules of Home Assistant's MQTT documentation:
# value templates rendered with Jinja2 (value and value_json), "None" meaning unknown,
# binary sensors and switches comparing with their payloads (ON/OFF by default), timestamps
# parsed as ISO 8601, availability topics compared with payload_available/not_available
# (online/offline by default) under the availability mode, a button publishing payload_press
# (PRESS by default), a number rendering its command template with the value, and an event
# entity turning a message into an event_type ({} ignored). It is a model of the documented
# behaviour, written for these tests; it shares nothing with Home Assistant's code.
#
#   ha_view.py [--host H] --port P --config TOPIC state OBJECT      -> the entity's state
#   ha_view.py ... command OBJECT [VALUE]                           -> "TOPIC<TAB>PAYLOAD"
#   ha_view.py ... value OBJECT < PAYLOAD                           -> its state for that message
#   ha_view.py ... event OBJECT < PAYLOAD                           -> the event type or "ignored"
#   ha_view.py ... option OBJECT KEY                                -> one option of its config (JSON)
#
# With --config a discovery topic of one entity (the OctoPrint-HomeAssistant form), OBJECT is "-".
import argparse
import datetime
import json
import subprocess
import sys

import jinja2.sandbox

ENV = jinja2.sandbox.ImmutableSandboxedEnvironment()


def retained(args, topic):
    """The retained payload on topic, or None."""
    out = subprocess.run(["mosquitto_sub", "-h", args.host, "-p", str(args.port), "-t", topic, "--retained-only",
                          "-W", "2", "-C", "1", "-N"], capture_output=True, check=False)
    return out.stdout.decode() if out.stdout else None


def render(tpl, payload):
    """A value template on a received payload."""
    try:
        value_json = json.loads(payload)
    except (TypeError, ValueError):
        value_json = None
    return ENV.from_string(tpl).render(value=payload, value_json=value_json).strip()


def entity(args, obj):
    cfg = retained(args, args.config)
    if not cfg:
        sys.exit("ha_view: no retained config on %s" % args.config)
    cfg = json.loads(cfg)
    if obj == "-":     # <prefix>/<component>/<id>/config
        return args.config.split("/")[-3], cfg
    comp = cfg["cmps"].get(obj)
    if comp is None:
        sys.exit("ha_view: no component %s in %s" % (obj, args.config))
    return comp["p"], comp


def available(args, comp):
    results = []
    for a in comp.get("avty", []):
        payload = retained(args, a["t"])
        if payload is None:
            results.append(False)
            continue
        if "val_tpl" in a:
            payload = render(a["val_tpl"], payload)
        results.append(payload == a.get("pl_avail", "online"))
    if not results:
        return True
    mode = comp.get("avty_mode", "latest")
    return all(results) if mode == "all" else any(results)


def state(args, platform, comp, payload=None):
    """The state Home Assistant shows: from the retained messages, or from payload (then the
    entity is taken as available)."""
    if payload is None:
        if not available(args, comp):
            return "unavailable"
        if comp.get("stat_t") is None:
            return "unknown"
        payload = retained(args, comp["stat_t"])
        if payload is None:
            return "unknown"
    value = render(comp["val_tpl"], payload) if "val_tpl" in comp else payload
    if value == "None":
        return "unknown"
    if platform in ("binary_sensor", "switch"):
        on = comp.get("stat_on", comp.get("pl_on", "ON"))
        off = comp.get("stat_off", comp.get("pl_off", "OFF"))
        return "on" if value == on else "off" if value == off else "invalid:" + value
    if platform == "number":
        v = float(value)
        if not comp.get("min", 1) <= v <= comp.get("max", 100):
            return "invalid:" + value
        return "%g" % v
    if comp.get("dev_cla") == "timestamp":
        when = datetime.datetime.fromisoformat(value)
        if when.tzinfo is None:
            return "invalid:" + value
        return when.astimezone(datetime.timezone.utc).isoformat()
    if comp.get("dev_cla") == "enum" and value not in comp.get("ops", []):
        return "invalid:" + value
    if comp.get("unit_of_meas") or comp.get("stat_cla"):
        return "%g" % float(value)
    return value


def command(platform, comp, value):
    if platform == "button":
        return comp["cmd_t"], comp.get("pl_prs", "PRESS")
    if platform == "number":
        v = float(value)
        if not comp.get("min", 1) <= v <= comp.get("max", 100):
            sys.exit("ha_view: %s is outside %s..%s" % (value, comp.get("min", 1), comp.get("max", 100)))
        if v.is_integer():      # a whole number is passed on as an integer
            v = int(v)
        return comp["cmd_t"], ENV.from_string(comp["cmd_tpl"]).render(value=v) if "cmd_tpl" in comp else str(v)
    if platform == "switch":
        return comp["cmd_t"], comp.get("pl_on", "ON") if value == "on" else comp.get("pl_off", "OFF")
    if platform == "text":
        return comp["cmd_t"], value
    sys.exit("ha_view: a %s sends nothing" % platform)


def event(comp, payload):
    data = render(comp["val_tpl"], payload) if "val_tpl" in comp else payload
    data = json.loads(data)
    if not data:
        return "ignored"
    if data.get("event_type") not in comp["evt_typ"]:
        sys.exit("ha_view: event_type %r is not one of %s" % (data.get("event_type"), comp["evt_typ"]))
    attrs = {k: v for k, v in data.items() if k != "event_type"}
    return data["event_type"] + " " + json.dumps(attrs, sort_keys=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("what", choices=["state", "value", "command", "event", "option"])
    ap.add_argument("object", nargs="?")
    ap.add_argument("value", nargs="?")
    args = ap.parse_args()
    platform, comp = entity(args, args.object)
    if args.what == "option":
        print(json.dumps(comp.get(args.value)))
    elif args.what == "state":
        print(state(args, platform, comp))
    elif args.what == "value":
        print(state(args, platform, comp, sys.stdin.read()))
    elif args.what == "command":
        print("%s\t%s" % command(platform, comp, args.value))
    else:
        print(event(comp, sys.stdin.read()))


if __name__ == "__main__":
    main()
