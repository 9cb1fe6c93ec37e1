# Sourced by run.sh and test.sh: creates the virtualenv and installs the project when needed.
ensure_venv() {
    local root="$1" flavour="$2" target="$3"
    VENV="${BRIDGE_VENV:-$root/.venv}"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "Creating a virtualenv in $VENV" >&2
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$flavour"
    if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] \
        || [ "$root/constraints.txt" -nt "$stamp" ]; then
        echo "Installing the bridge and its dependencies ($flavour) into $VENV" >&2
        local log="$VENV/install.log"
        # The build backend's notices go to the log; it is shown only if the install fails.
        if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
                && (cd "$root" && "$VENV/bin/python" -m pip install --disable-pip-version-check \
                    --constraint constraints.txt --editable "$target"); } >"$log" 2>&1; then
            cat "$log" >&2
            echo "Installing failed; the output above is also in $log" >&2
            return 1
        fi
        touch "$stamp"
    fi
}
