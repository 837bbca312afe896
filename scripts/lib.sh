# Settings shared by the scripts, read in one place. Every value can be overridden from the
# environment; odoo.conf holds the Odoo server settings.
# shellcheck shell=bash
IGR_ROOT=${IGR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export ODOO_SRC=${ODOO_SRC:-/opt/odoo18}
export IGR_VENV=${IGR_VENV:-/opt/igr-venv}
export IGR_PYTHON=${IGR_PYTHON:-/usr/bin/python3}
export IGR_DB_USER=${IGR_DB_USER:-odoo}
export IGR_DB_PASSWORD=${IGR_DB_PASSWORD:-odoo}
export IGR_BASE_IMAGE=${IGR_BASE_IMAGE:-influencegen/runner-base:bookworm}
export IGR_CONF=${IGR_CONF:-$IGR_ROOT/odoo.conf}
export IGR_DATA_DIR=${IGR_DATA_DIR:-/var/lib/influencegen-release}
export IGR_N8N_HOME=${IGR_N8N_HOME:-/opt/n8n}  # npm install of n8n (node_modules/.bin/n8n), for tests
export PGPASSWORD=${PGPASSWORD:-$IGR_DB_PASSWORD}
export IGR_ADDONS_PATH="$ODOO_SRC/odoo/addons,$ODOO_SRC/addons,$IGR_ROOT/addons"

# Stop with a clear message when Odoo 18 is not where ODOO_SRC says.
require_odoo() {
  if [ ! -f "$ODOO_SRC/odoo-bin" ] || ! grep -q "version_info = (18, 0" "$ODOO_SRC/odoo/release.py" 2>/dev/null; then
    echo "Odoo 18 not found at ODOO_SRC=$ODOO_SRC: run scripts/setup, or export ODOO_SRC=/path/to/odoo-18.0" >&2
    return 1
  fi
}

# Run odoo-bin from ODOO_SRC with the project's configuration and addons:
# odoo_bin [subcommand] options...
odoo_bin() {
  local sub=()
  case "${1:-}" in -*|"") ;; *) sub=("$1"); shift ;; esac
  "$IGR_PYTHON" "$ODOO_SRC/odoo-bin" "${sub[@]}" -c "$IGR_CONF" --addons-path="$IGR_ADDONS_PATH" "$@"
}

db_exists() {
  psql -h 127.0.0.1 -U "$IGR_DB_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1
}
