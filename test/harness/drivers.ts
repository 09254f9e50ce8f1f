/**
 * Real drivers running dbtls's snippets as printed: each snippet is written to a file (or, for the command
 * line, split into its words) and run by the driver's own runtime, with only the password filled in
 * (MYSQL_PWD, which every snippet names) and a short tail that runs `SHOW STATUS LIKE 'Ssl_cipher'` and
 * prints `CIPHER=<cipher>`. Java and Go are compiled once per run: one Java class that takes the printed
 * JDBC URL, and one Go binary holding every Go snippet (each file's `openDB` renamed `openDB_<id>` so
 * they link together, nothing else changed). Installed on CI by `scripts/setup.sh --test`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, type ToolResult } from './oracles.js';

export const STATUS_SQL = "SHOW STATUS LIKE 'Ssl_cipher'";
/** The Debian 12 locations (packages libmariadb-java, golang-github-go-sql-driver-mysql-dev). */
export const CONNECTOR_J = '/usr/share/java/mariadb-java-client.jar';
const GOPATH = '/usr/share/gocode';
const PYTHON = '/usr/bin/python3';
/** A driver start (a JVM on a loaded 2-core machine) takes seconds; a hang is a failure, not a wait. */
const RUN_TIMEOUT_MS = 60_000;

/** What a run shows: whether the query ran, the cipher it reported ('' for plaintext), all the output. */
export interface DriverOutcome {
  readonly ok: boolean;
  readonly cipher: string;
  readonly output: string;
}

/** Who reads a snippet: its client, or for an option file the program that reads it. */
export type Runner =
  | 'mariadb-cli'
  | 'my.cnf:mariadb'
  | 'my.cnf:mariadb-dump'
  | 'my.cnf:mysqlclient'
  | 'my.cnf:DBD::MariaDB'
  | 'my.cnf:DBD::mysql'
  | 'my.cnf:ruby-mysql2'
  | 'jdbc-mariadb'
  | 'mysql2'
  | 'mariadb-node'
  | 'go'
  | 'python'
  | 'php-mysqli'
  | 'php-pdo'
  | 'perl-mariadb'
  | 'perl-mysql';

const JAVA_RUNNER = `import java.sql.*;
import java.util.Properties;

/** Runs a printed MariaDB Connector/J URL: args are the URL, the user, and the password properties it names. */
public class SnippetRunner {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", System.getenv("MYSQL_PWD"));
    for (int i = 2; i < args.length; i++) props.setProperty(args[i], System.getenv("DBTLS_KEYSTORE_PASSWORD"));
    try (Connection c = DriverManager.getConnection(args[0], props);
         Statement s = c.createStatement();
         ResultSet r = s.executeQuery(${JSON.stringify(STATUS_SQL)})) {
      r.next();
      String v = r.getString(2);
      System.out.println("CIPHER=" + (v == null ? "" : v));
    }
  }
}
`;

const TAILS = {
  python: `cursor = connection.cursor()\ncursor.execute(${JSON.stringify(STATUS_SQL)})\nprint("CIPHER=" + (cursor.fetchone()[1] or ""))\nconnection.close()\n`,
  mysql2: `const [rows] = await connection.query(${JSON.stringify(STATUS_SQL)});\nconsole.log('CIPHER=' + rows[0].Value);\nawait connection.end();\n`,
  'mariadb-node': `const rows = await connection.query(${JSON.stringify(STATUS_SQL)});\nconsole.log('CIPHER=' + rows[0].Value);\nawait connection.end();\n`,
  'php-mysqli': `echo 'CIPHER=' . $db->query(${JSON.stringify(STATUS_SQL)})->fetch_row()[1] . "\\n";\n`,
  'php-pdo': `echo 'CIPHER=' . $pdo->query(${JSON.stringify(STATUS_SQL)})->fetch()[1] . "\\n";\n`,
  perl: `my $row = $dbh->selectrow_arrayref(${JSON.stringify(STATUS_SQL)});\nprint 'CIPHER=' . ($row->[1] // '') . "\\n";\n`,
} as const;

/** Readers of a [client-mariadb] option file: each takes host, port, user and TLS from the file alone. */
const OPTION_FILE_READERS = {
  'my.cnf:mysqlclient': (file: string) => [
    PYTHON,
    '-c',
    `import os, MySQLdb\nc = MySQLdb.connect(read_default_file=${JSON.stringify(file)}, passwd=os.environ["MYSQL_PWD"])\ncur = c.cursor()\ncur.execute(${JSON.stringify(STATUS_SQL)})\nv = cur.fetchone()[1]\nprint("CIPHER=" + (v.decode() if isinstance(v, bytes) else (v or "")))\n`,
  ],
  'my.cnf:DBD::MariaDB': (file: string) => perlOptionFile('MariaDB', 'mariadb', file),
  'my.cnf:DBD::mysql': (file: string) => perlOptionFile('mysql', 'mysql', file),
  'my.cnf:ruby-mysql2': (file: string) => [
    'ruby',
    '-e',
    `require "mysql2"\nc = Mysql2::Client.new(default_file: ${JSON.stringify(file)}, password: ENV["MYSQL_PWD"])\nputs "CIPHER=" + c.query(${JSON.stringify(STATUS_SQL)}).first["Value"].to_s\n`,
  ],
} as const;

function perlOptionFile(driver: string, prefix: string, file: string): string[] {
  return [
    'perl',
    '-e',
    `use DBI; my $dbh = DBI->connect('DBI:${driver}:${prefix}_read_default_file=${file}', undef, $ENV{MYSQL_PWD}, {RaiseError => 1, PrintError => 0}); ${TAILS.perl}`,
  ];
}

/** Splits the shell words our command-line snippets print (bare words and single-quoted words). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g))
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return words;
}

/** The printed JDBC URL (its first line) and the password properties its comment names. */
export function jdbcParts(text: string): { url: string; secretProps: string[] } {
  const [url, ...comments] = text.split('\n');
  const props = comments.find((l) => l.startsWith('# connection properties')) ?? '';
  const secretProps = ['trustStorePassword', 'keyStorePassword', 'keyPassword'].filter((p) =>
    new RegExp(`\\b${p}\\b`).test(props),
  );
  return { url: url!, secretProps };
}

function outcome(r: ToolResult): DriverOutcome {
  const output = `${r.stdout}${r.stderr}`;
  const m = /^CIPHER=(.*)$/m.exec(r.stdout);
  return { ok: r.code === 0 && m !== null, cipher: (m?.[1] ?? '').trim(), output };
}

export class Drivers {
  private counter = 0;
  private goBinary: string | undefined;
  private readonly goIds = new Map<string, string>();

  /** `work` must sit under the project's node_modules parent, so the Node snippets resolve their imports. */
  constructor(private readonly work: string) {}

  private file(ext: string, text: string): string {
    const file = path.join(this.work, `snippet-${this.counter++}.${ext}`);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  /** Compiles the Java runner and every Go snippet given (each once); call before run(). */
  async compile(goSnippets: readonly string[]): Promise<void> {
    const javaDir = path.join(this.work, 'java');
    fs.mkdirSync(javaDir, { recursive: true });
    fs.writeFileSync(path.join(javaDir, 'SnippetRunner.java'), JAVA_RUNNER);
    const goDir = path.join(this.work, 'go');
    fs.mkdirSync(goDir, { recursive: true });
    const entries: string[] = [];
    goSnippets.forEach((text, i) => {
      const id = `s${i}`;
      this.goIds.set(text, id);
      fs.writeFileSync(path.join(goDir, `${id}.go`), text.replace('func openDB()', `func openDB_${id}()`));
      entries.push(`\t${JSON.stringify(id)}: openDB_${id},`);
    });
    fs.writeFileSync(
      path.join(goDir, 'main.go'),
      `package main\n\nimport (\n\t"database/sql"\n\t"fmt"\n\t"os"\n)\n\nvar openers = map[string]func() (*sql.DB, error){\n${entries.join('\n')}\n}\n\nfunc main() {\n\tdb, err := openers[os.Args[1]]()\n\tif err == nil {\n\t\tvar name, value string\n\t\terr = db.QueryRow(${JSON.stringify(STATUS_SQL)}).Scan(&name, &value)\n\t\tif err == nil {\n\t\t\tfmt.Println("CIPHER=" + value)\n\t\t\treturn\n\t\t}\n\t}\n\tfmt.Fprintln(os.Stderr, err)\n\tos.Exit(1)\n}\n`,
    );
    this.goBinary = path.join(this.work, 'go-snippets');
    const [java, go] = await Promise.all([
      run('javac', ['-d', javaDir, path.join(javaDir, 'SnippetRunner.java')], { timeoutMs: 180_000 }),
      // Offline, GOPATH mode: the driver from Debian's package, no module proxy.
      run('go', ['build', '-o', this.goBinary, '.'], {
        env: {
          ...process.env,
          GO111MODULE: 'off',
          GOPATH,
          GOPROXY: 'off',
        },
        timeoutMs: 300_000,
        cwd: goDir,
      }),
    ]);
    if (java.code !== 0) throw new Error(`harness: javac failed:\n${java.stderr}`);
    if (go.code !== 0) throw new Error(`harness: go build failed:\n${go.stderr}`);
  }

  /** Runs one snippet with its reader; `user` is what a Java application passes as a property. */
  async run(
    runner: Runner,
    text: string,
    secrets: { password: string; user: string; keystorePassword?: string },
  ): Promise<DriverOutcome> {
    const env = {
      ...process.env,
      MYSQL_PWD: secrets.password,
      DBTLS_KEYSTORE_PASSWORD: secrets.keystorePassword ?? '',
    };
    const opts = { env, timeoutMs: RUN_TIMEOUT_MS };
    switch (runner) {
      case 'mariadb-cli': {
        const line = text.split('\n').find((l) => l !== '' && !l.startsWith('#'))!;
        const [cmd, ...args] = shellWords(line);
        // --no-defaults: the machine's option files are not part of the snippet.
        const r = await run(cmd!, ['--no-defaults', ...args, '-N', '-B', '-e', STATUS_SQL], opts);
        return {
          ok: r.code === 0,
          cipher: r.stdout.split('\t')[1]?.trim() ?? '',
          output: `${r.stdout}${r.stderr}`,
        };
      }
      case 'my.cnf:mariadb': {
        const r = await run(
          'mariadb',
          [`--defaults-file=${this.file('cnf', text)}`, '-N', '-B', '-e', STATUS_SQL],
          opts,
        );
        const cipher = r.stdout.split('\t')[1]?.trim() ?? '';
        return { ok: r.code === 0, cipher, output: `${r.stdout}${r.stderr}` };
      }
      case 'my.cnf:mariadb-dump': {
        // mariadb-dump cannot say its cipher: only whether it ran, and what it warned.
        const r = await run(
          'mariadb-dump',
          [`--defaults-file=${this.file('cnf', text)}`, '--no-data', '--skip-lock-tables', 'mysql', 'db'],
          opts,
        );
        return { ok: r.code === 0, cipher: '', output: `${r.stdout}${r.stderr}` };
      }
      case 'my.cnf:mysqlclient':
      case 'my.cnf:DBD::MariaDB':
      case 'my.cnf:DBD::mysql':
      case 'my.cnf:ruby-mysql2': {
        const [cmd, ...args] = OPTION_FILE_READERS[runner](this.file('cnf', text));
        return outcome(await run(cmd!, args, opts));
      }
      case 'jdbc-mariadb': {
        const { url, secretProps } = jdbcParts(text);
        const cp = `${path.join(this.work, 'java')}:${CONNECTOR_J}`;
        return outcome(
          await run('java', ['-cp', cp, 'SnippetRunner', url, secrets.user, ...secretProps], opts),
        );
      }
      case 'go': {
        const id = this.goIds.get(text);
        if (id === undefined || this.goBinary === undefined)
          throw new Error('harness: Go snippet not compiled');
        return outcome(await run(this.goBinary, [id], opts));
      }
      case 'python':
        return outcome(await run(PYTHON, [this.file('py', text + TAILS.python)], opts));
      case 'mysql2':
      case 'mariadb-node':
        return outcome(await run(process.execPath, [this.file('mjs', text + TAILS[runner])], opts));
      case 'php-mysqli':
      case 'php-pdo':
        return outcome(await run('php', [this.file('php', text + TAILS[runner])], opts));
      case 'perl-mariadb':
      case 'perl-mysql':
        return outcome(await run('perl', [this.file('pl', text + TAILS.perl)], opts));
    }
  }
}
