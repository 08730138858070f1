#!/usr/bin/python3
"""printcore_stream.py: stream a G-code file through Printrun's printcore, the peer host.

    printcore_stream.py TTY GCODE [--lines N] [--hold SECONDS]

Connects printcore (pyserial, 115200 baud; baud is meaningless on a pty) to TTY, waits until
it is online, loads GCODE with gcoder.LightGCode as printcore's own CLI does (first N command
lines only with --lines), and starts the print. Prints one line:
    lines=L seconds=S lines_per_s=R cpu_us_per_line=C peak_rss_kb=K load_seconds=T
Time and CPU (all threads, getrusage) count from startprint to the end of the print: loading
and parsing the file is left out, which favours printcore. With --hold, the print is cancelled
after SECONDS and the line reports what was sent so far (for the memory figure of a big job).
"""
import argparse
import resource
import sys
import time

from printrun import gcoder
from printrun.printcore import printcore


def rss_peak_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tty")
    ap.add_argument("gcode")
    ap.add_argument("--lines", type=int, default=0)
    ap.add_argument("--hold", type=float, default=0)
    a = ap.parse_args()

    p = printcore(a.tty, 115200)
    deadline = time.monotonic() + 10
    while not p.online:
        if time.monotonic() > deadline:
            print("printcore_stream: printcore did not come online within 10 s", file=sys.stderr)
            p.disconnect()
            return 1
        time.sleep(0.01)

    t = time.monotonic()
    with open(a.gcode) as f:
        if a.lines:
            lines = []
            for line in f:
                lines.append(line)
                if len(lines) >= a.lines:
                    break
        else:
            lines = f
        gcode = gcoder.LightGCode(lines)
    load = time.monotonic() - t

    c0, t0 = cpu(), time.monotonic()
    p.startprint(gcode)
    while p.printing:
        time.sleep(0.005)
        if a.hold and time.monotonic() - t0 >= a.hold:
            sent = p.queueindex
            p.cancelprint()
            break
    else:
        sent = len(gcode)
    secs, cpus = time.monotonic() - t0, cpu() - c0
    peak = rss_peak_kb()
    p.disconnect()
    print("lines=%d seconds=%.4f lines_per_s=%.0f cpu_us_per_line=%.3f peak_rss_kb=%d load_seconds=%.3f"
          % (sent, secs, sent / secs, cpus * 1e6 / max(sent, 1), peak, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
