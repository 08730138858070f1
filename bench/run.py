#!/usr/bin/python3
"""run.py: `make bench` and `make bench-quick` -- printbridge's speed, memory and scale measured
beside its peers (Printrun's printcore and gcoder) and beside the floor a pseudo-terminal
allows (bench/pb-stream.c against bench/pb-respond.c).

    bench/run.py --build BUILD [--quick] [--only NAME[,NAME...]] [--baseline DIR]

BUILD holds printbridge, printbridge-sim and bench/ with the C tools (the Makefile builds
them). With --baseline, DIR holds an earlier printbridge (bench/build-baseline.sh REV builds
one from any git revision): the streaming rows then run it side by side with this one, in
the same interleaved series against the same simulator, and say how the two compare. Prints one table at the end and writes BUILD/bench/results.json. A target that is missed
is reported as MISS and does not change the exit status; the exit status is 1 only when a
measurement could not run at all. Every process started here is stopped on the way out (also on
Ctrl-C or SIGTERM); temporary files live in BUILD/bench/run/ and are removed.

The machine is assumed shared and noisy: every figure is the median of several runs with the
spread (min..max) shown, runs of the two sides of a ratio are interleaved, and one warm-up run
is thrown away before each series. Uses only the Python standard library (printcore's own
scripts need Printrun's modules; they run under the same /usr/bin/python3).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

PROCS = []          # every Popen started here, stopped by cleanup()
ROWS = []           # the table
FAILED = []         # measurements that could not run


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# processes

def start(cmd, log, **kw):
    f = open(log, "ab")
    p = subprocess.Popen(cmd, stdout=kw.pop("stdout", f), stderr=f, stdin=subprocess.DEVNULL, **kw)
    f.close()
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=5.0):
    if p is None:
        return None
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in PROCS:
        PROCS.remove(p)
    return p.returncode


def stop_all(procs):
    """stops procs together, the brokers last: a daemon stopped with its broker waited 4 s
    for an answer to its farewell that could not come"""
    for group in ([p for p in procs if not getattr(p, "broker", False)],
                  [p for p in procs if getattr(p, "broker", False)]):
        for p in group:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in group:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p in PROCS:
                PROCS.remove(p)


def cleanup():
    stop_all(list(PROCS))


def wait_until(cond, timeout, what, proc=None, step=0.01):
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise BenchError("%s: the process exited (status %s)" % (what, proc.returncode))
        if time.monotonic() > deadline:
            raise BenchError("%s: not within %.0f s" % (what, timeout))
        time.sleep(step)


def run_tool(cmd, timeout, log):
    """run a tool that prints one key=value line; return the dict"""
    with open(log, "ab") as f:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, stdin=subprocess.DEVNULL, timeout=timeout)
    out = r.stdout.decode(errors="replace").strip().splitlines()
    if r.returncode != 0 or not out:
        raise BenchError("%s failed (status %d; see %s)" % (os.path.basename(cmd[0]), r.returncode, log))
    return kv(out[-1])


def kv(line):
    d = {}
    for part in line.split():
        if "=" in part:
            k, v = part.split("=", 1)
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_pss_kb(pid):
    """proportional set size: shared library pages divided among the processes mapping them"""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_smaps_kb(pid):
    """{'Rss':..., 'Pss':..., 'Private':...} in kB from /proc/PID/smaps_rollup; Private (the
    unique set size, USS) is what the process alone holds: Private_Clean + Private_Dirty"""
    out = {"Rss": 0, "Pss": 0, "Private": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Rss", "Pss"):
                    out[k] = int(rest.split()[0])
                elif k in ("Private_Clean", "Private_Dirty"):
                    out["Private"] += int(rest.split()[0])
    except OSError:
        pass
    return out


def proc_cpu(pid):
    """utime+stime of a process in seconds (10 ms ticks)"""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_ns(pid):
    """CPU time of a process's live threads in seconds, from the scheduler's nanosecond
    counters (/proc/PID/task/*/schedstat); falls back to proc_cpu without schedstats"""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return proc_cpu(pid)
    return total / 1e9


# ---------------------------------------------------------------------------------------------
# the pieces of a set-up: broker, simulator, daemon, subscriber

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class Bench:
    def __init__(self, build, quick, baseline=None):
        self.build = build
        self.quick = quick
        self.tools = os.path.join(build, "bench")
        self.dir = os.path.join(self.tools, "run")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.daemon = os.path.join(build, "printbridge")
        self.sim = os.path.join(build, "printbridge-sim")
        self.src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.log = os.path.join(self.dir, "bench.log")
        self.n = 0
        self.results = {}
        help_text = subprocess.run([self.daemon, "--help"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT).stdout.decode(errors="replace")
        self.has_print = "--print" in help_text
        self.has_analyse = "--analy" in help_text
        self.baseline = os.path.join(baseline, "printbridge") if baseline else None
        self.baseline_name = None
        if self.baseline:
            ver = subprocess.run([self.baseline, "--version"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT).stdout.decode(errors="replace").strip()
            rev = os.path.join(baseline, "REVISION")
            self.baseline_name = "%s%s" % (ver or "baseline",
                                           " @ " + open(rev).read().strip() if os.path.exists(rev) else "")

    def path(self, name):
        return os.path.join(self.dir, name)

    def tool(self, name):
        return os.path.join(self.tools, name)

    def uniq(self):
        self.n += 1
        return self.n

    def broker(self):
        for _ in range(8):
            port = free_port()
            p = start(["mosquitto", "-p", str(port)], self.path("broker.%d.log" % self.uniq()))
            p.broker = True
            try:
                wait_until(lambda: port_open(port), 10, "mosquitto on port %d" % port, p)
                return p, port
            except BenchError:
                stop(p)
        raise BenchError("could not start mosquitto")

    def start_sim(self, link, *args):
        if os.path.lexists(link):
            os.unlink(link)
        p = start([self.sim, "--link", link] + list(args), self.path("sim.%d.log" % self.uniq()))
        wait_until(lambda: os.path.exists(link), 10, "printbridge-sim creating %s" % link, p)
        return p

    def start_responder(self, link):
        p = start([self.tool("pb-respond"), "--link", link], self.path("respond.%d.log" % self.uniq()))
        wait_until(lambda: os.path.exists(link), 10, "pb-respond creating %s" % link, p)
        return p

    def config(self, link, port, base, extra=""):
        cfg = self.path("pb.%d.conf" % self.uniq())
        client = "pb-bench-" + base.strip("/").replace("/", "-")
        with open(cfg, "w") as f:
            f.write('printer: { port = "%s"; baudrate = 115200; reconnect_delay = 1; };\n'
                    'mqtt: { host = "127.0.0.1"; port = %d; base_topic = "%s"; client_id = "%s"; };\n'
                    'storage: { folder = "%s"; };\n'
                    'log: { level = "warn"; };\n%s\n' % (link, port, base, client, self.path("files.%d" % self.uniq()), extra))
        return cfg

    def start_daemon(self, cfg, *args, daemon=None):
        return start([daemon or self.daemon, "-c", cfg] + list(args), self.path("daemon.%d.log" % self.uniq()))

    def subscriber(self, port, *topics):
        """mosquitto_sub in the background; returns (proc, messages) where messages is a list
        of (arrival unix time, topic, payload) that a thread keeps filling"""
        probe = "pbbench/probe/%d" % self.uniq()
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-F", "%U|%t|%p", "-t", probe]
        for t in topics:
            cmd += ["-t", t]
        p = start(cmd, self.path("sub.%d.log" % self.uniq()), stdout=subprocess.PIPE)
        msgs = []

        def reader():
            for raw in p.stdout:
                parts = raw.decode(errors="replace").rstrip("\n").split("|", 2)
                if len(parts) == 3 and parts[1] != probe:
                    msgs.append((float(parts[0]), parts[1], parts[2]))
                elif len(parts) == 3:
                    probed.set()
        probed = threading.Event()
        threading.Thread(target=reader, daemon=True).start()
        # the subscription is live once a probe published after it comes back
        deadline = time.monotonic() + 10
        while not probed.is_set():
            if time.monotonic() > deadline or p.poll() is not None:
                raise BenchError("mosquitto_sub did not start")
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", probe, "-m", "x"],
                           stderr=subprocess.DEVNULL)
            probed.wait(0.05)
        return p, msgs

    def gcode(self, name, *how):
        out = self.path(name)
        if not os.path.exists(out):
            subprocess.run([self.tool("pb-gcode-gen")] + list(how) + [out], check=True)
        return out


# ---------------------------------------------------------------------------------------------
# statistics and the table

def med(values):
    return statistics.median(values) if values else None


def spread(values, fmt):
    if len(values) < 2:
        return ""
    return " (%s..%s, n=%d)" % (fmt % min(values), fmt % max(values), len(values))


def row(section, measure, figure, target, ok, data=None):
    """ok: True (PASS), False (MISS) or None (no target or not measurable)"""
    ROWS.append((section, measure, figure, target, "" if ok is None else ("PASS" if ok else "MISS")))
    return {"measure": measure, "figure": figure, "target": target,
            "result": None if ok is None else ("PASS" if ok else "MISS"), "data": data or {}}


def na(section, measure, why, target=""):
    return row(section, measure, "n/a (%s)" % why, target, None)


def print_table(title):
    widths = [max(len(r[i]) for r in ROWS + [("", "Measure", "Figure", "Target", "Result")]) for i in range(1, 5)]
    lines = [title, ""]
    head = ("Measure", "Figure (median, spread)", "Target", "Result")
    widths[1] = max(widths[1], len(head[1]))
    fmt = "| %-*s | %-*s | %-*s | %-*s |"
    lines.append(fmt % (widths[0], head[0], widths[1], head[1], widths[2], head[2], widths[3], head[3]))
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    section = None
    for r in ROWS:
        if r[0] != section:
            section = r[0]
            lines.append(fmt % (widths[0], "**%s**" % section, widths[1], "", widths[2], "", widths[3], ""))
        lines.append(fmt % (widths[0], r[1], widths[1], r[2], widths[2], r[3], widths[3], r[4]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 1. streaming

def stream_minimal(b, target, gcode, window=1):
    return run_tool([b.tool("pb-stream"), "--window", str(window), target, gcode], 120, b.log)


def bench_floor(b, R):
    """pb-stream through printbridge-sim --fast against pb-respond; flood rate"""
    S = "Streaming"
    lines = 20000 if b.quick else 200000
    gcode = b.gcode("stream.gcode", "--lines", str(lines))
    floor_gcode = b.gcode("floor.gcode", "--lines", "60000") if b.quick else gcode
    warm = b.gcode("warm.gcode", "--lines", "5000")
    runs = 2 if b.quick else 5
    resp_link, sim_link = b.path("respond.tty"), b.path("simfast.tty")
    resp = b.start_responder(resp_link)
    sim = b.start_sim(sim_link, "--fast")
    try:
        stream_minimal(b, resp_link, warm)
        stream_minimal(b, sim_link, warm)
        r_resp, r_sim, cpu_sim = [], [], []
        for _ in range(runs):     # interleaved: drift on a shared machine hits both alike
            r_resp.append(stream_minimal(b, resp_link, floor_gcode)["lines_per_s"])
            x = stream_minimal(b, sim_link, floor_gcode)
            r_sim.append(x["lines_per_s"])
            cpu_sim.append(x["cpu_us_per_line"])
        stream_minimal(b, sim_link, warm, 64)
        flood = [stream_minimal(b, sim_link, gcode, 64)["lines_per_s"] for _ in range(runs)]
    finally:
        stop(sim)
        stop(resp)
    ratios = [s / r for s, r in zip(r_sim, r_resp)]
    R["floor"] = {"lines": 60000 if b.quick else lines, "responder_lines_per_s": r_resp, "sim_lines_per_s": r_sim,
                  "streamer_cpu_us_per_line": cpu_sim, "sim_flood_lines_per_s": flood}
    R["rows"].append(row(S, "minimal C streamer -> minimal responder (pty floor), lines/s",
                         "%.0f%s" % (med(r_resp), spread(r_resp, "%.0f")), "reference", None))
    R["rows"].append(row(S, "minimal C streamer -> printbridge-sim --fast, lines/s",
                         "%.0f%s" % (med(r_sim), spread(r_sim, "%.0f")), "reference", None))
    R["rows"].append(row(S, "  sim / responder", "%.0f%%%s" % (100 * med(ratios), spread([100 * x for x in ratios], "%.0f%%")),
                         ">= 90%", med(ratios) >= 0.9))
    R["rows"].append(row(S, "printbridge-sim --fast, 64 lines in flight, lines/s",
                         "%.0f%s" % (med(flood), spread(flood, "%.0f")), ">= 100000", med(flood) >= 100000))
    return med(r_sim)


def drain_boot_output(link):
    """Reads away what the simulator printed at boot ("start", its banner, an ok) before any
    daemon opens the port. This build discards stale input itself; earlier builds took that ok
    as an answer and ran two lines in flight, so a baseline would stream against another
    protocol than this build without it."""
    time.sleep(0.1)
    fd = os.open(link, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        while True:
            try:
                if not os.read(fd, 4096):
                    break
            except BlockingIOError:
                break
    finally:
        os.close(fd)


def stream_printbridge(b, gcode, sim_args, timeout, daemon=None):
    """printbridge -c CFG --print GCODE to a simulator; timed from the PrintStarted event (or
    the state PRINTING) to the return to OPERATIONAL as a subscriber sees them; CPU from /proc
    at the same two moments. daemon: another printbridge binary (a baseline)."""
    broker, port = b.broker()
    link = b.path("pbstream.%d.tty" % b.uniq())
    procs = [broker]
    try:
        procs.append(b.start_sim(link, *sim_args))
        base = "bench/stream%d/" % b.uniq()
        sub, msgs = b.subscriber(port, base + "event/+")
        procs.append(sub)
        cfg = b.config(link, port, base, 'scripts: { afterPrinterConnected = [ ]; };')
        drain_boot_output(link)
        d = b.start_daemon(cfg, "--print", gcode, daemon=daemon)
        procs.append(d)
        mark = {}

        def seen():
            # the job starts with PrintStarted (or the state PRINTING), and ends with
            # PrintDone or the return to OPERATIONAL
            for _, topic, payload in msgs[mark.get("i", 0):]:
                mark["i"] = mark.get("i", 0) + 1
                ev = topic.rsplit("/", 1)[1]
                state = payload_state(payload) if ev == "PrinterStateChanged" else None
                if "t0" not in mark and (ev == "PrintStarted" or state == "PRINTING"):
                    mark["t0"], mark["c0"] = time.monotonic(), proc_cpu_ns(d.pid)
                elif ev in ("PrintFailed", "PrintCancelled", "Error") or (
                        "t0" in mark and (ev == "PrintDone" or state == "OPERATIONAL")):
                    mark["t1"], mark["c1"], mark["ev"] = time.monotonic(), proc_cpu_ns(d.pid), ev
                    return True
            return False
        wait_until(seen, timeout, "printbridge streaming %s" % os.path.basename(gcode), d, step=0.002)
        if mark["ev"] not in ("PrintDone", "PrinterStateChanged") or "t0" not in mark:
            raise BenchError("printbridge --print ended with %s (see %s)" % (mark["ev"], b.dir))
        n = sum(1 for _ in open(gcode))
        secs = mark["t1"] - mark["t0"]
        return {"lines": n, "seconds": secs, "lines_per_s": n / secs,
                "cpu_us_per_line": (mark["c1"] - mark["c0"]) * 1e6 / n}
    finally:
        stop_all(procs)


def payload_state(payload):
    try:
        return json.loads(payload).get("state_id")
    except (ValueError, AttributeError):
        return None


def stream_printcore(b, gcode, nlines, hold=0):
    link = b.path("printcore.%d.tty" % b.uniq())
    sim = b.start_sim(link, "--fast")
    try:
        cmd = [PYTHON, os.path.join(HERE, "printcore_stream.py"), link, gcode]
        if nlines:
            cmd += ["--lines", str(nlines)]
        if hold:
            cmd += ["--hold", str(hold)]
        return run_tool(cmd, 600, b.log)
    finally:
        stop(sim)


def bench_streaming(b, R, floor):
    S = "Streaming"
    lines = 20000 if b.quick else 200000
    gcode = b.gcode("stream.gcode", "--lines", str(lines))
    warm = b.gcode("warm.gcode", "--lines", "5000")
    runs = 2 if b.quick else 3

    # printcore: at ~1000 lines/s the whole file would take minutes; a prefix of it is enough
    # for a steady rate
    pc_lines = 1000 if b.quick else 10000
    pc = None
    try:
        stream_printcore(b, warm, 300 if b.quick else 1000)
        pcs = [stream_printcore(b, gcode, pc_lines) for _ in range(1 if b.quick else 3)]
        pc = {"lines_per_s": med([x["lines_per_s"] for x in pcs]),
              "cpu_us_per_line": med([x["cpu_us_per_line"] for x in pcs]), "runs": pcs}
        R["printcore"] = pc
        lps = [x["lines_per_s"] for x in pcs]
        cpu = [x["cpu_us_per_line"] for x in pcs]
        R["rows"].append(row(S, "printcore -> printbridge-sim --fast, lines/s (first %d lines)" % pc_lines,
                             "%.0f%s" % (med(lps), spread(lps, "%.0f")), "reference", None))
        R["rows"].append(row(S, "printcore CPU per line, us",
                             "%.1f%s" % (med(cpu), spread(cpu, "%.1f")), "reference", None))
    except (BenchError, subprocess.TimeoutExpired) as e:
        FAILED.append("printcore streaming: %s" % e)
        R["rows"].append(na(S, "printcore -> printbridge-sim --fast", "could not run: %s" % e))

    if not b.has_print:
        for what in ("one in flight", "ADVANCED_OK (--advanced-ok --buffer 16)"):
            R["rows"].append(na(S, "printbridge -> sim --fast, %s, lines/s" % what, "needs --print",
                                ">= 70% of minimal" if what == "one in flight" else ">= 2x one in flight"))
        R["rows"].append(na(S, "printbridge CPU per line vs printcore", "needs --print", "< 1/10"))
        return
    adv_args = ["--fast", "--advanced-ok", "--buffer", "16"]
    base = {"one": [], "adv": []}
    try:
        stream_printbridge(b, warm, ["--fast"], 60)
        if b.baseline:
            stream_printbridge(b, warm, ["--fast"], 60, daemon=b.baseline)
        one, adv = [], []
        for _ in range(runs):
            one.append(stream_printbridge(b, gcode, ["--fast"], 300))
            if b.baseline:
                base["one"].append(stream_printbridge(b, gcode, ["--fast"], 300, daemon=b.baseline))
            adv.append(stream_printbridge(b, gcode, adv_args, 300))
            if b.baseline:
                base["adv"].append(stream_printbridge(b, gcode, adv_args, 300, daemon=b.baseline))
    except (BenchError, subprocess.TimeoutExpired) as e:
        FAILED.append("printbridge streaming: %s" % e)
        R["rows"].append(na(S, "printbridge -> sim --fast", "could not run: %s" % e))
        return
    R["printbridge_stream"] = {"one_in_flight": one, "advanced_ok": adv}
    if b.baseline:
        R["baseline_stream"] = {"name": b.baseline_name, "one_in_flight": base["one"], "advanced_ok": base["adv"]}
        baseline_rows(b, R, one, adv, base)
    l1 = [x["lines_per_s"] for x in one]
    la = [x["lines_per_s"] for x in adv]
    c1 = [x["cpu_us_per_line"] for x in one]
    ca = [x["cpu_us_per_line"] for x in adv]
    R["rows"].append(row(S, "printbridge -> sim --fast, one in flight, lines/s",
                         "%.0f%s = %.0f%% of minimal" % (med(l1), spread(l1, "%.0f"), 100 * med(l1) / floor),
                         ">= 70% of minimal", med(l1) >= 0.7 * floor))
    R["rows"].append(row(S, "printbridge -> sim --fast --advanced-ok --buffer 16, lines/s",
                         "%.0f%s = %.1fx one in flight" % (med(la), spread(la, "%.0f"), med(la) / med(l1)),
                         ">= 2x one in flight", med(la) >= 2 * med(l1)))
    cpu = med(c1 + ca)
    if pc:
        R["rows"].append(row(S, "printbridge CPU per line, us (one in flight / ADVANCED_OK)",
                             "%.1f / %.1f = 1/%.0f of printcore" % (med(c1), med(ca), pc["cpu_us_per_line"] / cpu),
                             "< 1/10 of printcore", cpu * 10 < pc["cpu_us_per_line"]))
        R["rows"].append(row(S, "printbridge one in flight / printcore, lines/s",
                             "%.1fx" % (med(l1) / pc["lines_per_s"]), "reference (about 20x)", None))
    else:
        R["rows"].append(row(S, "printbridge CPU per line, us (one in flight / ADVANCED_OK)",
                             "%.1f / %.1f" % (med(c1), med(ca)), "< 1/10 of printcore", None))


def baseline_rows(b, R, one, adv, base):
    """this build beside the baseline, from the same interleaved series: lines/s within 10 %
    (not below 90 % of the baseline's) and CPU per line within 10 % (not above 110 %)"""
    S = "Streaming beside %s" % b.baseline_name
    for what, new, old in (("one in flight", one, base["one"]), ("ADVANCED_OK", adv, base["adv"])):
        ln, lo = [x["lines_per_s"] for x in new], [x["lines_per_s"] for x in old]
        cn, co = [x["cpu_us_per_line"] for x in new], [x["cpu_us_per_line"] for x in old]
        r = med(ln) / med(lo)
        R["rows"].append(row(S, "%s, lines/s: this build / baseline" % what,
                             "%.0f%s / %.0f%s = %.0f%%" % (med(ln), spread(ln, "%.0f"), med(lo), spread(lo, "%.0f"), 100 * r),
                             ">= 90% of baseline", r >= 0.9))
        c = med(cn) / med(co)
        R["rows"].append(row(S, "%s, CPU per line, us: this build / baseline" % what,
                             "%.2f%s / %.2f%s = %.0f%%" % (med(cn), spread(cn, "%.2f"), med(co), spread(co, "%.2f"), 100 * c),
                             "<= 110% of baseline", c <= 1.1))


# ---------------------------------------------------------------------------------------------
# 2 + 3. memory and idle cost

def connected_daemon(b, port, link, base, msgs, extra=""):
    cfg = b.config(link, port, base, extra)
    d = b.start_daemon(cfg)
    wait_until(lambda: any(t == base + "event/Connected" for _, t, _p in msgs), 20,
               "printbridge connecting to the simulator", d)
    return d


def bench_idle(b, R):
    S1, S2 = "Memory", "Idle cost"
    secs = 3 if b.quick else 30
    broker, port = b.broker()
    procs = [broker]
    try:
        link = b.path("idle.tty")
        procs.append(b.start_sim(link))     # a normal simulator: it autoreports temperatures
        base = "bench/idle/"
        sub, msgs = b.subscriber(port, base + "#")
        procs.append(sub)
        # heating: the autoreported temperatures change, so they are published too
        d = connected_daemon(b, port, link, base, msgs,
                             'scripts: { afterPrinterConnected = [ "M104 S210", "M140 S60" ]; };')
        procs.append(d)
        time.sleep(2)       # warm-up: M155 set, first reports published
        n0 = len(msgs)
        c0, t0 = proc_cpu_ns(d.pid), time.monotonic()
        time.sleep(secs)
        up = (proc_cpu_ns(d.pid) - c0) / (time.monotonic() - t0) * 100
        temps = sum(1 for m in msgs[n0:] if "/temperature/" in m[1])
        hwm = proc_status_kb(d.pid, "VmHWM")
        rss = proc_status_kb(d.pid, "VmRSS")
        anon = proc_status_kb(d.pid, "RssAnon")
        rfile = proc_status_kb(d.pid, "RssFile")
        sm = proc_smaps_kb(d.pid)
        stop(broker)
        time.sleep(2)
        c0, t0 = proc_cpu_ns(d.pid), time.monotonic()
        time.sleep(secs)
        down = (proc_cpu_ns(d.pid) - c0) / (time.monotonic() - t0) * 100
        hwm2 = proc_status_kb(d.pid, "VmHWM")
        if d.poll() is not None:
            raise BenchError("printbridge exited while the broker was down")
    finally:
        stop_all(procs)
    R["idle"] = {"seconds": secs, "cpu_pct_broker_up": up, "cpu_pct_broker_down": down,
                 "temperature_messages": temps, "vmhwm_kb": hwm, "vmrss_kb": rss, "rss_anon_kb": anon,
                 "rss_file_kb": rfile, "vmhwm_kb_after_broker_down": hwm2, "smaps_kb": sm}
    R["rows"].append(row(S1, "printbridge idle, connected: RSS, PSS, private (USS)",
                         "RSS %.2f MB (peak %.2f), PSS %.2f MB, private %.2f MB" % (
                             sm["Rss"] / 1024, hwm / 1024, sm["Pss"] / 1024, sm["Private"] / 1024),
                         "private <= 1.5 MB", 0 < sm["Private"] <= 1.5 * 1024))
    R["rows"].append(row(S2, "printbridge CPU, broker up, %d s, temperatures autoreported (heating)" % secs,
                         "%.3f%% (%d temperature messages)" % (up, temps), "< 0.1%", up < 0.1))
    R["rows"].append(row(S2, "printbridge CPU, broker down, %d s" % secs,
                         "%.3f%%" % down, "<= 0.05%", down <= 0.05))


def bench_uploads(b, R):
    """three uploads over MQTT (command/upload/...), one after the other: RSS before, the
    peak while they arrive (sampled every 5 ms, and VmHWM), and after each once it is stored"""
    S = "Memory"
    mb = 5 if b.quick else 25
    count = 3
    data = b.path("upload.gcode")
    with open(data, "wb") as f:
        f.write(os.urandom(mb * 1000 * 1000 // 2).hex().encode()[:mb * 1000 * 1000])
    broker, port = b.broker()
    procs = [broker]
    try:
        link = b.path("upload.tty")
        procs.append(b.start_sim(link))
        base = "bench/upload/"
        sub, msgs = b.subscriber(port, base + "event/#")
        procs.append(sub)
        d = connected_daemon(b, port, link, base, msgs)
        procs.append(d)
        time.sleep(2)
        before = proc_status_kb(d.pid, "VmRSS")
        after, peaks = [], []
        for i in range(count):
            n0 = sum(1 for _, t, _p in msgs if t.endswith("/Upload"))
            peak = [0]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], proc_status_kb(d.pid, "VmRSS"))
                    time.sleep(0.005)
            th = threading.Thread(target=sample, daemon=True)
            th.start()
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                            "-t", base + "command/upload/bench%d.gcode" % i, "-f", data], check=True, timeout=60)
            wait_until(lambda: sum(1 for _, t, _p in msgs if t.endswith("/Upload")) > n0, 60,
                       "upload %d stored" % (i + 1), d)
            time.sleep(1)
            done.set()
            th.join()
            peaks.append(max(peak[0], proc_status_kb(d.pid, "VmHWM") if i == 0 else 0))
            after.append(proc_status_kb(d.pid, "VmRSS"))
        hwm = proc_status_kb(d.pid, "VmHWM")
    finally:
        stop_all(procs)
        os.unlink(data)
    peak = max(peaks + [hwm])
    R["uploads"] = {"mb": mb, "count": count, "rss_before_kb": before, "rss_after_kb": after,
                    "peak_kb": peaks, "vmhwm_kb": hwm}
    R["rows"].append(row(S, "RSS before, after each of %d %d MB uploads over MQTT" % (count, mb),
                         "%.1f -> %s MB" % (before / 1024, ", ".join("%.1f" % (a / 1024) for a in after)),
                         "back within 2 MB of idle", max(after) <= before + 2048))
    R["rows"].append(row(S, "RSS peak while the %d MB uploads arrive (VmHWM)" % mb,
                         "%.1f MB" % (peak / 1024), "<= %d MB (upload + 10 MB)" % (mb + 10),
                         peak <= (mb + 10) * 1024))


def bench_memory_stream(b, R, pc_only=False):
    S = "Memory"
    mb = 10 if b.quick else 100
    hold = 2 if b.quick else 10
    big = b.gcode("big.gcode", "--bytes", str(mb * 1000 * 1000))
    try:
        pb = None
        if b.has_print:
            broker, port = b.broker()
            procs = [broker]
            try:
                link = b.path("bigstream.tty")
                procs.append(b.start_sim(link, "--fast", "--advanced-ok", "--buffer", "16"))
                base = "bench/big/"
                sub, msgs = b.subscriber(port, base + "event/+")
                procs.append(sub)
                cfg = b.config(link, port, base)
                d = b.start_daemon(cfg, "--print", big)
                procs.append(d)
                wait_until(lambda: any(t.endswith("/PrintStarted") or payload_state(p) == "PRINTING"
                                       for _, t, p in msgs), 30,
                           "printbridge starting to print %s" % big, d)
                time.sleep(hold)
                pb = proc_status_kb(d.pid, "VmHWM")
            finally:
                stop_all(procs)
        try:
            pc = stream_printcore(b, big, 0, hold)
        except (BenchError, subprocess.TimeoutExpired) as e:
            FAILED.append("printcore memory: %s" % e)
            pc = None
        R["memory_stream"] = {"file_mb": mb, "hold_s": hold, "printbridge_vmhwm_kb": pb, "printcore": pc}
        if pb is not None:
            R["rows"].append(row(S, "printbridge streaming a %d MB file (peak RSS after %d s)" % (mb, hold),
                                 "%.2f MB" % (pb / 1024) + (" = 1/%.0f of printcore" % (pc["peak_rss_kb"] / pb) if pc else ""),
                                 "< 1/10 of printcore", (pb * 10 < pc["peak_rss_kb"]) if pc else None))
        else:
            R["rows"].append(na(S, "printbridge streaming a %d MB file" % mb, "needs --print", "< 1/10 of printcore"))
        if pc:
            R["rows"].append(row(S, "printcore on the same job (peak RSS, job loaded in %.0f s, %d s streamed)"
                                 % (pc["load_seconds"], hold), "%.1f MB" % (pc["peak_rss_kb"] / 1024), "reference", None))
        else:
            R["rows"].append(na(S, "printcore on the same job", "could not run"))
    finally:
        os.unlink(big)


# ---------------------------------------------------------------------------------------------
# 4. latency

def bench_latency(b, R):
    S = "Event latency"
    runs = 1 if b.quick else 3
    count = 2000 if b.quick else 10000
    # the event: a serial line that printbridge turns into an MQTT event today. FirmwareData
    # (a FIRMWARE_NAME: line) exists from the walking skeleton; //action:notification comes
    # with the protocol engine.
    line, event = "FIRMWARE_NAME:pbseq%lu SOURCE_CODE_URL:bench", "FirmwareData"
    med_, p99 = [], []
    for _ in range(runs):
        broker, port = b.broker()
        procs = [broker]
        try:
            base = "bench/lat%d/" % b.uniq()
            link = b.path("latency.%d.tty" % b.uniq())
            topic = base + "event/" + event
            out = b.path("latency.%d.out" % b.uniq())
            f = open(out, "wb")
            lat = start([b.tool("pb-latency"), "--link", link, "--port", str(port), "--topic", topic,
                         "--line", line, "--rate", "1000", "--count", str(count), "--warmup", "500"],
                        b.path("latency.%d.log" % b.uniq()), stdout=f)
            f.close()
            procs.append(lat)
            wait_until(lambda: os.path.lexists(link), 10, "pb-latency creating its pty", lat)
            cfg = b.config(link, port, base, 'scripts: { afterPrinterConnected = [ ]; };')
            procs.append(b.start_daemon(cfg))
            lat.wait(60 + count / 1000)
            x = kv(open(out).read().strip().splitlines()[-1])
            if lat.returncode != 0 or "p99_us" not in x:
                raise BenchError("pb-latency failed (see %s)" % b.dir)
            if x["received"] < x["sent"]:
                raise BenchError("%d of %d events were lost" % (x["sent"] - x["received"], x["sent"]))
            med_.append(x["median_us"] / 1000)
            p99.append(x["p99_us"] / 1000)
        finally:
            stop_all(procs)
    R["latency"] = {"event": event, "rate_hz": 1000, "count": count, "median_ms": med_, "p99_ms": p99}
    R["rows"].append(row(S, "serial line -> subscriber, %s at 1000/s, median" % event,
                         "%.3f ms%s" % (med(med_), spread(med_, "%.3f")), "", None))
    R["rows"].append(row(S, "serial line -> subscriber, %s at 1000/s, p99" % event,
                         "%.3f ms%s" % (med(p99), spread(p99, "%.3f")), "< 2 ms", med(p99) < 2))


def publish_run(b, qos, rate, count):
    """pb-latency at RATE lines/s, each line a FirmwareData event published with QoS qos:
    (sent, received, p99 ms)"""
    broker, port = b.broker()
    procs = [broker]
    try:
        base = "bench/pub%d/" % b.uniq()
        link = b.path("publish.%d.tty" % b.uniq())
        out = b.path("publish.%d.out" % b.uniq())
        f = open(out, "wb")
        lat = start([b.tool("pb-latency"), "--link", link, "--port", str(port), "--topic", base + "event/FirmwareData",
                     "--line", "FIRMWARE_NAME:pbseq%lu SOURCE_CODE_URL:bench", "--rate", str(rate),
                     "--count", str(count), "--warmup", str(min(500, count // 10))],
                    b.path("publish.%d.log" % b.uniq()), stdout=f)
        f.close()
        procs.append(lat)
        wait_until(lambda: os.path.lexists(link), 10, "pb-latency creating its pty", lat)
        cfg = b.config(link, port, base, 'scripts: { afterPrinterConnected = [ ]; };\nqos: { event = %d; };' % qos)
        procs.append(b.start_daemon(cfg))
        lat.wait(60 + count / rate)
        lines = open(out).read().strip().splitlines()
        x = kv(lines[-1]) if lines else {}
        if "sent" not in x:
            raise BenchError("pb-latency failed at %d/s (see %s)" % (rate, b.dir))
        return x["sent"], x["received"], x.get("p99_us", 0) / 1000
    finally:
        stop_all(procs)


def bench_publish(b, R):
    """the highest event rate printbridge passes on whole (every event arrives, p99 under
    100 ms), at QoS 0 and QoS 1, each rate for 3 s (--quick: one rate per QoS, for 1 s)"""
    S = "Publish throughput"
    ladder = [1000, 2000, 5000, 10000, 20000, 40000]
    # --quick tries one rate per QoS, the one the full run last passed on this machine
    quick_rate = {0: 40000, 1: 2000}
    secs = 1 if b.quick else 3
    R["publish"] = {}
    for qos in (0, 1):
        best, tried = None, []
        rates = [quick_rate[qos]] if b.quick else ladder
        for rate in rates:
            sent, got, p99 = publish_run(b, qos, rate, rate * secs)
            tried.append({"rate": rate, "sent": sent, "received": got, "p99_ms": p99})
            if got < sent or p99 > 100:
                break
            best = tried[-1]
        R["publish"]["qos%d" % qos] = tried
        if best:
            figure = "%d events/s, p99 %.1f ms" % (best["rate"], best["p99_ms"])
            last = tried[-1]
            if last is not best:
                figure += " (at %d/s: %d of %d arrived, p99 %.0f ms)" % (last["rate"], last["received"], last["sent"], last["p99_ms"])
        else:
            figure = "not even %d events/s" % rates[0]
        R["rows"].append(row(S, "QoS %d events, serial line -> subscriber, the highest rate passed on whole" % qos,
                             figure, "", None))


# ---------------------------------------------------------------------------------------------
# 5. analysis

def bench_analysis(b, R):
    S = "Analysis"
    lines = 20000 if b.quick else 200000
    gcode = b.gcode("stream.gcode", "--lines", str(lines))
    runs = 1 if b.quick else 3
    code = ("import sys,time\nfrom printrun import gcoder\nd=open(sys.argv[1]).read().splitlines(True)\n"
            "t=time.process_time();g=gcoder.GCode(d);t=time.process_time()-t\n"
            "print('seconds=%.4f mb_per_s=%.3f est=%s' % (t, len(''.join(d))/1e6/t, g.duration))\n")
    try:
        xs = [run_tool([PYTHON, "-c", code, gcode], 300, b.log)["mb_per_s"] for _ in range(runs)]
    except (BenchError, subprocess.TimeoutExpired) as e:
        FAILED.append("gcoder: %s" % e)
        R["rows"].append(na(S, "Printrun gcoder.GCode, MB/s", "could not run: %s" % e))
        xs = None
    if xs:
        R["gcoder_mb_per_s"] = xs
        R["rows"].append(row(S, "Printrun gcoder.GCode on the %d-line file, MB/s (CPU time)" % lines,
                             "%.2f%s" % (med(xs), spread(xs, "%.2f")), "reference", None))
    if not b.has_analyse:
        R["rows"].append(na(S, "printbridge G-code analyser, MB/s", "printbridge has no --analyse", ">= 50x gcoder"))
        return
    import resource

    def analyse_once(path):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([b.daemon, "--analyse", path], stdout=subprocess.PIPE, check=True, timeout=300).stdout
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        return max(cpu, 1e-6), json.loads(out)

    # gcoder's figure is the GCode() call alone (Python's start, the import and reading the
    # file are outside it); printbridge's is the whole --analyse process, reading included,
    # minus the CPU time of the same process on an empty file (exec, dynamic linking),
    # measured interleaved with it. Both are shown.
    empty = b.path("empty.gcode")
    open(empty, "w").close()
    analyse_once(gcode)     # warm-up
    analyse_once(empty)
    runs_a = 5 if b.quick else 9
    whole, start = [], []
    for _ in range(runs_a):
        whole.append(analyse_once(gcode)[0])
        start.append(analyse_once(empty)[0])
    size_mb = os.path.getsize(gcode) / 1e6
    ys = [size_mb / max(w - med(start), 1e-6) for w in whole]
    ys_whole = [size_mb / w for w in whole]
    R["analysis_mb_per_s"] = ys
    R["analysis_whole_process_mb_per_s"] = ys_whole
    R["analysis_process_start_cpu_ms"] = [x * 1000 for x in start]
    ratio = med(ys) / med(xs) if xs else None
    ratio_whole = med(ys_whole) / med(xs) if xs else None
    R["rows"].append(row(S, "printbridge G-code analyser on the same file, MB/s (CPU time, process start subtracted)",
                         "%.1f%s%s" % (med(ys), spread(ys, "%.1f"), " = %.0fx gcoder" % ratio if ratio else ""),
                         ">= 50x gcoder", ratio is not None and ratio >= 50))
    R["rows"].append(row(S, "  the whole --analyse process (start %.1f ms CPU included)" % (1000 * med(start)),
                         "%.1f%s%s" % (med(ys_whole), spread(ys_whole, "%.1f"),
                                       " = %.0fx gcoder" % ratio_whole if ratio_whole else ""), "reference", None))
    # the estimate against the slicer's own, on the sliced samples the tests use
    errs = []
    data = os.path.join(b.src, "test", "data")
    for f in sorted(os.listdir(data)) if os.path.isdir(data) else []:
        if not f.endswith(".gcode"):
            continue
        res = analyse_once(os.path.join(data, f))[1]
        if res.get("slicerPrintTime"):
            errs.append((f, abs(res["analysisPrintTime"] - res["slicerPrintTime"]) / res["slicerPrintTime"] * 100))
    if errs:
        worst = max(e for _, e in errs)
        R["analysis_estimate_error_pct"] = dict(errs)
        R["rows"].append(row(S, "estimate vs the slicer's embedded estimate (%s), worst" % ", ".join(f for f, _ in errs),
                             "%.1f%%" % worst, "within 10%", worst <= 10))


# ---------------------------------------------------------------------------------------------
# 6. start-up

def bench_startup(b, R):
    S = "Start-up"
    runs = 5 if b.quick else 20
    broker, port = b.broker()
    procs = [broker]
    link = b.path("startup.tty")
    times = []
    try:
        procs.append(b.start_sim(link, "--fast"))
        for i in range(runs + 1):          # the first run is the warm-up
            base = "bench/start%d/" % b.uniq()
            sub, msgs = b.subscriber(port, base + "mqtt")
            cfg = b.config(link, port, base)
            t0 = time.time()
            d = b.start_daemon(cfg)
            try:
                wait_until(lambda: msgs, 10, "the first retained message on %smqtt" % base, d, step=0.001)
                if i:
                    times.append((msgs[0][0] - t0) * 1000)
            finally:
                stop(d)
                stop(sub)
    finally:
        stop_all(procs)
    R["startup_ms"] = times
    p90 = sorted(times)[max(0, -(-len(times) * 9 // 10) - 1)] if times else None
    R["rows"].append(row(S, "process start -> first retained message (<base>mqtt), median",
                         "%.1f ms%s" % (med(times), spread(times, "%.1f")), "<= 50 ms", med(times) <= 50))
    R["rows"].append(row(S, "process start -> first retained message, p90",
                         "%.1f ms" % p90, "<= 60 ms", p90 <= 60))


# ---------------------------------------------------------------------------------------------
# 7. print farm

def bench_farm(b, R):
    """n simulators answering at a printer's pace (--fast --ok-delay-ms 30) and n printbridge,
    each printing a short job (--print) at once on one broker: every PrintDone must arrive;
    summed PSS and total CPU while they print"""
    S = "Print farm"
    n = 10 if b.quick else 100
    job = b.gcode("farm.gcode", "--lines", "100" if b.quick else "1000")
    broker, port = b.broker()
    procs = [broker]
    try:
        sub, msgs = b.subscriber(port, "farm/+/event/PrintDone", "farm/+/event/PrintStarted")
        procs.append(sub)
        sims, daemons = [], []
        for i in range(n):
            sims.append(b.start_sim(b.path("farm%03d.tty" % i), "--fast", "--ok-delay-ms", "30"))
        procs += sims
        for i in range(n):
            cfg = b.config(b.path("farm%03d.tty" % i), port, "farm/p%03d/" % i,
                           'scripts: { afterPrinterConnected = [ ]; };')
            daemons.append(b.start_daemon(cfg, "--print", job))
        procs += daemons

        def count(ev):
            return len({t.split("/")[1] for _, t, _p in msgs if t.endswith("/" + ev)})
        wait_until(lambda: count("PrintStarted") >= n, 120, "all %d printers printing" % n)
        c0, t0 = sum(proc_cpu_ns(d.pid) for d in daemons), time.monotonic()
        pss = sum(proc_pss_kb(d.pid) for d in daemons)
        rss = sum(proc_status_kb(d.pid, "VmRSS") for d in daemons)
        try:
            wait_until(lambda: count("PrintDone") >= n, 600, "every PrintDone")
        except BenchError:
            pass
        secs = time.monotonic() - t0
        cpu = (sum(proc_cpu_ns(d.pid) for d in daemons) - c0) / secs * 100
        done = count("PrintDone")
        alive = sum(1 for d in daemons if d.poll() is None)
    finally:
        stop_all(procs)
    R["farm"] = {"instances": n, "print_done": done, "alive": alive, "rss_kb_total": rss,
                 "pss_kb_total": pss, "cpu_pct_total": cpu, "seconds": secs}
    R["rows"].append(row(S, "%d printbridge + %d simulators (ok after 30 ms), one broker, all printing: PrintDone" % (n, n),
                         "%d of %d (%d running, %.0f s)" % (done, n, alive, secs), "all", done == n and alive == n))
    R["rows"].append(row(S, "total memory of the %d printbridge while printing: summed PSS (summed RSS)" % n,
                         "%.1f MB (%.1f MB)" % (pss / 1024, rss / 1024), "<= %d MB PSS" % (n * 3 // 2),
                         pss <= n * 1.5 * 1024))
    R["rows"].append(row(S, "total CPU of the %d printbridge while printing" % n,
                         "%.1f%% of one core" % cpu, "<= 20%", cpu <= 20))


# ---------------------------------------------------------------------------------------------
# 8. a late subscriber on each broker topology (bench/late_subscriber.sh, test/brokers/)

def bench_brokers(b, R):
    S = "Late subscriber, per broker"
    runs = 2 if b.quick else 10
    R["brokers"] = {}
    topologies = (("mosquitto", 0), ("bridge", 0), ("rabbitmq", 10))
    if b.quick:
        # a RabbitMQ cluster takes over a minute to form and its republish cycle is 10 s:
        # make bench and make check-brokers run it
        R["rows"].append(na(S, "other node of a RabbitMQ cluster", "make bench only (the cluster takes a minute to form)"))
        topologies = topologies[:2]
    for topo, republish in topologies:
        env = dict(os.environ, PB_BUILD=b.build)
        out = subprocess.run(["bash", os.path.join(b.src, "bench", "late_subscriber.sh"), topo, str(runs), str(republish)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600, check=True)
        figures = {}
        for line in out.stdout.decode(errors="replace").splitlines():
            name, _, rest = line.partition(" ")
            if name.endswith("_ms"):
                figures[name] = [float(x) for x in rest.split() if x != "none"]
        R["brokers"][topo] = dict(figures, republish_interval=republish)
        where = {"mosquitto": "mosquitto", "bridge": "central broker of a bridge",
                 "rabbitmq": "other node of a RabbitMQ cluster, republish_interval = 10"}[topo]
        for key, what in (("floor_ms", "own retained message (floor)"), ("state_ms", "<base>state"),
                          ("online_ms", "<base>mqtt"), ("status_ms", "command/status -> reply with the state")):
            v = figures.get(key, [])
            missed = runs - len(v)
            R["rows"].append(row(S, "%s: %s" % (where, what),
                                 "%.0f ms%s%s" % (med(v), spread(v, "%.0f"), ", %d never came" % missed if missed else "")
                                 if v else "never came", "", None))


# ---------------------------------------------------------------------------------------------

STEPS = ["floor", "streaming", "memory", "uploads", "idle", "latency", "publish", "analysis", "startup", "farm", "brokers"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--baseline", default=None, help="a folder with an earlier printbridge to stream beside")
    a = ap.parse_args()
    only = [s for s in a.only.split(",") if s]
    for s in only:
        if s not in STEPS:
            ap.error("--only: one of %s" % ", ".join(STEPS))

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    build = os.path.abspath(a.build)
    if a.baseline and not os.access(os.path.join(a.baseline, "printbridge"), os.X_OK):
        ap.error("--baseline: no printbridge in %s (bench/build-baseline.sh REV builds one)" % a.baseline)
    b = Bench(build, a.quick, os.path.abspath(a.baseline) if a.baseline else None)
    R = {"quick": a.quick, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": [],
         "machine": {"cpus": os.cpu_count(), "load": os.getloadavg(), "uname": " ".join(os.uname())}}
    t_start = time.monotonic()
    floor = None
    try:
        for step in STEPS:
            if only and step not in only:
                continue
            print("bench: %s ..." % step, flush=True)
            t = time.monotonic()
            try:
                if step == "floor":
                    floor = bench_floor(b, R)
                elif step == "streaming":
                    if floor is None:       # --only streaming: one quick floor run
                        b.start_sim(b.path("floor.tty"), "--fast")
                        floor = stream_minimal(b, b.path("floor.tty"), b.gcode(
                            "stream.gcode", "--lines", str(20000 if a.quick else 200000)))["lines_per_s"]
                        cleanup()
                    bench_streaming(b, R, floor)
                elif step == "memory":
                    bench_memory_stream(b, R)
                elif step == "uploads":
                    bench_uploads(b, R)
                elif step == "idle":
                    bench_idle(b, R)
                elif step == "latency":
                    bench_latency(b, R)
                elif step == "publish":
                    bench_publish(b, R)
                elif step == "analysis":
                    bench_analysis(b, R)
                elif step == "startup":
                    bench_startup(b, R)
                elif step == "farm":
                    bench_farm(b, R)
                elif step == "brokers":
                    bench_brokers(b, R)
            except (BenchError, subprocess.TimeoutExpired, subprocess.CalledProcessError) as e:
                FAILED.append("%s: %s" % (step, e))
                R["rows"].append(na(step, step, "could not run: %s" % e))
            cleanup()
            print("bench: %s done in %.0f s" % (step, time.monotonic() - t), flush=True)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        cleanup()
        return 130
    finally:
        cleanup()
    R["seconds"] = time.monotonic() - t_start
    R["failed"] = FAILED
    title = "printbridge %s, %s, %d CPUs, load %.1f at start, %.0f s%s" % (
        "make bench-quick" if a.quick else "make bench", R["started"], os.cpu_count(),
        R["machine"]["load"][0], R["seconds"], "" if not a.quick else " (smaller files, fewer runs)")
    table = print_table(title)
    R["table"] = table
    out = os.path.join(build, "bench", "results-quick.json" if a.quick else "results.json")
    with open(out, "w") as f:
        json.dump(R, f, indent=2)
    with open(os.path.join(build, "bench", "results-quick.md" if a.quick else "results.md"), "w") as f:
        f.write(table + "\n")
    print()
    print(table)
    print()
    print("bench: results in %s" % out)
    if FAILED:
        print("bench: could not measure: " + "; ".join(FAILED), file=sys.stderr)
    if not os.environ.get("PB_BENCH_KEEP"):
        shutil.rmtree(b.dir, ignore_errors=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
