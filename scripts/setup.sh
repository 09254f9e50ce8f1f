#!/usr/bin/env bash
# Prepares a fresh Debian machine for dbtls: the Debian packages it drives (MariaDB, openssl), then the npm
# packages and the build. With --test, also the real peers the tests use (sslscan, a JDK for keytool and
# javac, the client drivers of the snippet matrix, sysbench, prometheus, chromium, testssl.sh, strace).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v git >/dev/null 2>&1 || need+=(git)
if [ "${1:-}" = "--test" ]; then
  # What only the tests use: the real peers they check dbtls against (docs/verification.md).
  command -v sslscan >/dev/null 2>&1 || need+=(sslscan)
  command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
  [ -f /usr/share/java/mariadb-java-client.jar ] || need+=(libmariadb-java)
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/go-sql-driver/mysql ] || need+=(golang-github-go-sql-driver-mysql-dev)
  command -v php >/dev/null 2>&1 || need+=(php-cli)
  php -m 2>/dev/null | grep -qx mysqli || need+=(php-mysql)
  /usr/bin/python3 -c 'import MySQLdb' >/dev/null 2>&1 || need+=(python3-mysqldb)
  /usr/bin/python3 -c 'import pymysql' >/dev/null 2>&1 || need+=(python3-pymysql)
  perl -MDBD::MariaDB -e1 >/dev/null 2>&1 || need+=(libdbd-mariadb-perl)
  perl -MDBD::mysql -e1 >/dev/null 2>&1 || need+=(libdbd-mysql-perl)
  ruby -e 'require "mysql2"' >/dev/null 2>&1 || need+=(ruby-mysql2)
  command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
  command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v testssl >/dev/null 2>&1 || need+=(testssl.sh)
  command -v strace >/dev/null 2>&1 || need+=(strace)
fi
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
