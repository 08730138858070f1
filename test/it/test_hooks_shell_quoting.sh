# test_hooks_shell_quoting.sh: shell = true hooks quote every substituted value (docs/hooks.md,
# "System hooks"). A print of "my cube.gcode" on the simulator ends with PrintDone, which runs
#   1. the "shout" example of docs/hooks-examples.conf, as written: echo Done: {name} | tr a-z A-Z
#      prints "DONE: MY CUBE.GCODE" (HookFinished stdout), the name arriving as one word
#   2. the same with the placeholder in double quotes, echo "Done: {name}": the value's own
#      quotes are printed, "Done: 'my cube.gcode'"
#   3. a value holding a single quote and shell syntax (it's $(echo INJECTED).gcode) passes
#      through as text: printf '%s' {name} prints it unchanged
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
pb_start_sim --fast
shout=$(grep -A1 'name = "shout";' "$PB_SRCDIR/docs/hooks-examples.conf")
[ -n "$shout" ] && grep -q 'command = "echo Done: {name} | tr a-z A-Z"; }' <<<"$shout" ||
  pb_fail "the shout example changed; update this test"
PB_CFG_SCRIPT="" PB_CFG_EXTRA="events: { subscriptions = (
$shout,
        { name = \"quoted\"; event = \"PrintDone\"; type = \"system\"; shell = true; command = \"echo \\\"Done: {name}\\\"\"; },
        { name = \"verbatim\"; event = \"PrintDone\"; type = \"system\"; shell = true; command = \"printf '%s' {name}\"; }
); };" pb_write_config "$PB_DIR/pb.conf"
hook() {   # hook NAME STDOUT-REGEX WHAT [FROM]
  pb_expect_line "$LIVE" "^octoprint/event/HookFinished r=0 q=0 \\{\"name\": \"$1\", \"trigger\": \"PrintDone\", \"type\": \"system\", \"returncode\": 0, \"stdout\": \"$2\", \"stderr\": \"\", \"duration\": $PB_FLOAT, \"_event\": \"HookFinished\", \"_timestamp\": $PB_TS\\}\$" \
    "$(pb_t 15)" "$3" "${4:-0}"
}

printf 'G28\nG1 X10 F3000\n' >"$PB_DIR/my cube.gcode"
pb_start_daemon "$PB_DIR/pb.conf" --print "$PB_DIR/my cube.gcode"
pb_expect_line "$LIVE" '^octoprint/event/PrintDone r=0 q=0 \{"name": "my cube\.gcode"' "$(pb_t 30)" "the print to end"
hook shout 'DONE: MY CUBE\.GCODE\\n' "the shout example's output"
pb_pass "the shout example as written: echo Done: {name} | tr a-z A-Z prints DONE: MY CUBE.GCODE"
hook quoted "Done: 'my cube\\.gcode'\\\\n" "the double-quoted placeholder's output, quotes included"
pb_pass "echo \"Done: {name}\" prints the quotes printbridge added: Done: 'my cube.gcode'"
hook verbatim 'my cube\.gcode' "printf of the plain name"
pb_stop_daemon

mark=$(pb_count "$LIVE")
odd="it's \$(echo INJECTED).gcode"
printf 'G28\n' >"$PB_DIR/$odd"
pb_start_daemon "$PB_DIR/pb.conf" --print "$PB_DIR/$odd"
pb_expect_line "$LIVE" '^octoprint/event/PrintDone r=0 q=0 ' "$(pb_t 30)" "the second print to end" "$mark"
hook verbatim "$(pb_re "$odd")" "printf of a name with a quote and \$(...)" "$mark"
pb_pass "a name with ' and \$(...) reaches the command as text and runs nothing"
pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
echo "PASS test_hooks_shell_quoting ($SECONDS s)"
