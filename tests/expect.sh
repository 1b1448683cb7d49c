# expect.sh — the shared assertion of the shell tests (sourced, not run).
# expect STATUS PATTERN -- command...: runs the command, checks its exit status and that
# stdout+stderr contains PATTERN (an extended regex; "" = anything); a status >= 128 (a
# signal: a crash) always fails. Counts failures in $fails.
fails=${fails:-0}
expect() {
    local want=$1 pattern=$2
    shift 3
    local out status
    out=$("$@" 2>&1)
    status=$?
    if [ "$status" -ge 128 ]; then
        echo "FAIL: $* crashed (exit $status)"
        fails=$((fails + 1))
    elif [ "$status" -ne "$want" ] || { [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$out"; }; then
        echo "FAIL: $* -> exit $status (want $want), pattern '$pattern'"
        echo "$out" | head -5 | sed 's/^/    | /'
        fails=$((fails + 1))
    else
        echo "ok   $*"
    fi
}
