# conf2man.awk: the SETTINGS section of printbridge.conf(5), made from etc/printbridge.conf so
# the man page describes every group and setting in the words of the file itself and cannot
# fall behind it. Used by the Makefile:
#
#   awk -f scripts/conf2man.awk etc/printbridge.conf man/printbridge.conf.5
#
# The first file is read as printbridge.conf: a "# ----" rule line opens a group's
# introduction (the comment lines up to "name: {"); inside a group each commented setting
# ("#name = value;") takes the comment block above it, and consecutive settings share one
# block. Comment lines indented by two more spaces are examples and stay as written. The second
# file is the page, copied with the line '.\" @SETTINGS@' replaced by the settings.
# POSIX awk (Debian's mawk): building the page needs nothing beyond the build tools.

function esc(s) {
    gsub(/\\/, "\\e", s)
    if (s ~ /^[.']/)
        s = "\\&" s
    return s
}

# roff for the text lines t[1..n]: prose fills, indented example lines stay as written
function text(t, n,    i, code) {
    code = 0
    for (i = 1; i <= n; i++) {
        if (t[i] ~ /^  /) {
            if (!code)
                out = out ".nf\n"
            code = 1
            out = out esc(t[i]) "\n"
            continue
        }
        if (code)
            out = out ".fi\n"
        code = 0
        if (t[i] ~ /^(Type|Default)/)
            out = out ".br\n"
        if (t[i] != "")
            out = out esc(t[i]) "\n"
    }
    if (code)
        out = out ".fi\n"
}

# the pending settings with their comment block, or a block that belongs to no setting
function flush(    i) {
    if (nk > 0) {
        for (i = 1; i <= nk; i++)
            out = out (i == 1 ? ".TP\n" : ".TQ\n") ".B " group "." keys[i] "\n"
        text(blk, nb)
        out = out ".nf\n"
        for (i = 1; i <= nk; i++)
            out = out esc(lines[i]) "\n"
        out = out ".fi\n"
    } else if (nb > 0) {
        out = out ".PP\n"
        text(blk, nb)
    }
    nb = 0
    nk = 0
}

function conf_line(line,    t) {
    if (line ~ /^# ----/) {
        state = "intro"
        ni = 0
        return
    }
    if (state == "intro") {
        if (line ~ /^#/) {
            t = line
            sub(/^# ?/, "", t)
            intro[++ni] = t
        } else if (line ~ /^[A-Za-z_]+:[ \t]*\{/) {
            group = line
            sub(/:.*/, "", group)
            groups++
            out = out ".SS " group "\n"
            text(intro, ni)
            state = "group"
            nb = 0
            nk = 0
        }
        return
    }
    if (state != "group")
        return
    if (line ~ /^\};/) {
        flush()
        state = "between"
    } else if (line ~ /^[ \t]*#[A-Za-z_]+[ \t]*=/) {
        t = line
        sub(/^[ \t]*#/, "", t)
        lines[++nk] = t
        sub(/[ \t]*=.*/, "", t)
        keys[nk] = t
        settings++
    } else if (line ~ /^[ \t]*#/) {
        if (nk > 0)
            flush()
        t = line
        sub(/^[ \t]*# ?/, "", t)
        blk[++nb] = t
    } else if (line ~ /^[ \t]*$/) {
        flush()
    }
}

FNR == NR { conf_line($0); next }

/^\.\\" @SETTINGS@/ {
    if (groups == 0 || settings == 0) {
        print "conf2man.awk: no groups or settings found in the configuration file" > "/dev/stderr"
        exit 1
    }
    printf "%s", out
    done = 1
    next
}

{ print }

END {
    if (!done && groups > 0) {
        print "conf2man.awk: the page has no @SETTINGS@ line" > "/dev/stderr"
        exit 1
    }
}
