# help2man.awk: printbridge-sim(1)'s OPTIONS section is the simulator's own --help text, so
# the page lists every option the program has. Used by the Makefile:
#
#   printbridge-sim --help >HELP; awk -f scripts/help2man.awk HELP man/printbridge-sim.1
#
# The help text is kept as written (no filling), in roff's no-fill mode; the second file is the
# page, copied with the line '.\" @HELP@' replaced by it. POSIX awk (Debian's mawk).

function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.']/)
        s = "\\&" s
    return s
}

FNR == NR {
    # the usage line is the SYNOPSIS already
    if (FNR > 1 || $0 !~ /^Usage:/)
        help = help esc($0) "\n"
    n++
    next
}

/^\.\\" @HELP@/ {
    if (n < 2) {
        print "help2man.awk: the --help text is empty" > "/dev/stderr"
        exit 1
    }
    printf ".nf\n%s.fi\n", help
    done = 1
    next
}

{ print }

END {
    if (!done && n >= 2) {
        print "help2man.awk: the page has no @HELP@ line" > "/dev/stderr"
        exit 1
    }
}
