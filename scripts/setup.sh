#!/usr/bin/env bash
# Prepares a fresh Debian machine for dbtls: the Debian packages it drives (MariaDB, openssl, sslscan, a JRE
# for keytool, PyMySQL for the snippet tests), then the npm packages and the build. Safe to run again:
# it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v sslscan >/dev/null 2>&1 || need+=(sslscan)
command -v keytool >/dev/null 2>&1 || need+=(default-jre-headless)
command -v git >/dev/null 2>&1 || need+=(git)
# PyMySQL lets the snippet tests run the generated Python client against a real server.
/usr/bin/python3 -c 'import pymysql' >/dev/null 2>&1 || need+=(python3-pymysql)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "setup: Node.js 20+ is required (https://nodejs.org)" >&2; exit 1; }

npm ci --no-audit --no-fund
npm run build
