"""Scenario families of data stores: migrations, caches, search indices, backups."""

from random import Random

from stages.synthesis.episode import Episode, blocker, code, success
from stages.synthesis.scenario_details import World, clock, day, home_dir, pick, short_sha
from stages.synthesis.terminal import Step, bold, green, red, yellow

COLUMNS = ("currency", "status", "customer_id", "shipped_at", "tax_rate", "external_ref", "locale")
TABLES = ("orders", "invoices", "customers", "payments", "shipments", "subscriptions", "refunds")


def _revision(rng: Random) -> str:
    return f"{rng.getrandbits(48):012x}"


def database_migration_error(rng: Random, w: World) -> Episode:
    """An Alembic upgrade that hits a column already there, or applies cleanly."""
    cwd = home_dir(w)
    table, column = rng.choice(TABLES), rng.choice(COLUMNS)
    current, target = _revision(rng), _revision(rng)
    message = f"add {table}.{column}"
    steps = [Step("alembic current", current, 0, cwd, w.branch)]
    running = (
        "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\nINFO "
        f" [alembic.runtime.migration] Running upgrade {current} -> {target}, "
        f"{message}"
    )
    if rng.random() < 0.6:
        error = (
            red(
                "sqlalchemy.exc.ProgrammingError: (psycopg2.errors.DuplicateColumn) "
                f'column "{column}" of relation "{table}" already exists'
            )
            + f"\n[SQL: ALTER TABLE {table} ADD COLUMN {column} VARCHAR(32)]"
        )
        steps += [
            Step(
                "alembic upgrade head",
                running + "\nTraceback (most recent call last):\n  ...\n" + error,
                1,
                cwd,
                w.branch,
            ),
            Step("alembic current", current, 0, cwd, w.branch),
        ]
        return Episode(
            steps,
            (
                f"The migration {current} -> {target} ({message}) failed: column "
                f"{column} already exists on {table}; the database stays at {current}."
            ),
            [],
            [
                blocker(
                    (
                        f'{code("alembic upgrade head")} fails at {target}: column "{column}" '
                        f'of relation "{table}" already exists'
                    ),
                    (
                        f"Deploys that need revision {target} cannot run; the schema and "
                        "the migration history disagree"
                    ),
                    "Backend team / author of the migration (DBA if the column was added by hand)",
                    (
                        f"Compare {table} with the migration; guard the ADD COLUMN or "
                        "stamp the revision once the schema is confirmed"
                    ),
                )
            ],
            [
                "`alembic history --verbose` to see the migration chain",
                f"`\\d {table}` in psql to inspect the table",
            ],
        )
    steps += [
        Step("alembic upgrade head", running, 0, cwd, w.branch),
        Step("alembic current", f"{target} (head)", 0, cwd, w.branch),
    ]
    return Episode(
        steps,
        f"Alembic upgraded the database from {current} to {target} ({message}).",
        [
            success(
                "Database migrated to head",
                ["alembic upgrade head", "alembic current"],
                f"{current} -> {target}, {message}",
                f"{target} (head)",
            )
        ],
        [],
        ["Run the application's smoke tests against the migrated schema"],
    )


def migration_stamp(rng: Random, year: int) -> str:
    """A Laravel migration's date and time prefix, `2026_03_05_221740`."""
    return (
        f"{day(rng, year).replace('-', '_')}_{clock(rng).replace(':', '')}{rng.randint(0, 59):02d}"
    )


def mysql_laravel_migration(rng: Random, w: World) -> Episode:
    cwd = f"/var/www/{w.project}"
    stamp = migration_stamp(rng, 2026)
    table = rng.choice(TABLES)
    name = f"{stamp}_create_{table}_table"
    pending = [f"{stamp}_add_index_to_{t}_table" for t in pick(rng, TABLES, rng.randint(0, 2))]
    ran = sorted(
        f"{migration_stamp(rng, rng.randint(2022, 2025))}_{verb}_{t}_table"
        for verb, t in zip(
            rng.choices(["create", "add_status_to", "add_index_to", "alter"], k=len(TABLES)),
            pick(rng, TABLES, rng.randint(2, 6)),
            strict=False,
        )
    )
    status = (
        "  Migration name "
        + "." * 40
        + " Batch / Status\n"
        + "\n".join(
            [f"  {n} {'.' * 10} [{i // 2 + 1}] {green('Ran')}" for i, n in enumerate(ran)]
            + [f"  {n} {'.' * 10} {yellow('Pending')}" for n in [name, *pending]]
        )
    )
    steps = [Step("php artisan migrate:status", status, 0, cwd)]
    migrate = "php artisan migrate --force"
    outcome = rng.random()
    if outcome < 0.4:
        out = f"\n   {bold('INFO')}  Running migrations.\n\n" + "\n".join(
            f"  {n} {'.' * 20} {rng.randint(5, 400)}ms {green('DONE')}" for n in [name, *pending]
        )
        steps.append(Step(migrate, out, 0, cwd))
        return Episode(
            steps,
            f"Laravel ran the pending migrations of {w.project}: {', '.join([name, *pending])}.",
            [success("Pending migrations applied", [migrate], ", ".join([name, *pending]), "DONE")],
            [],
            ["`php artisan migrate:status` should now show every migration as Ran"],
        )
    if outcome < 0.7:
        error = (
            "SQLSTATE[42S01]: Base table or view already exists: 1050 Table "
            f"'{table}' already exists"
        )
        cause, hint = (
            "the table exists but the migration is not recorded",
            (
                f"Check whether {table} was created by hand; if its schema matches, "
                "record the migration instead of rerunning it"
            ),
        )
    else:
        error = "SQLSTATE[HY000] [2002] Connection refused"
        cause, hint = (
            "MySQL is not reachable from the app host",
            (
                "Check DB_HOST and DB_PORT in .env and that mysqld is running "
                "(`systemctl status mysql`)"
            ),
        )
    out = (
        f"\n   {bold('INFO')}  Running migrations.\n\n  {name} {'.' * 10} {red('FAIL')}\n\n   "
        + red("Illuminate\\Database\\QueryException")
        + f"\n\n  {error}"
    )
    steps.append(Step(migrate, out, 1, cwd))
    return Episode(
        steps,
        f"Laravel migrations for {w.project} failed at {name}: {cause}.",
        [
            success(
                "Listed pending migrations",
                ["php artisan migrate:status"],
                f"Pending: {', '.join([name, *pending])}",
            )
        ],
        [
            blocker(
                f"{code(migrate)} fails at {name}: {error}",
                f"The release that needs {table} cannot go live",
                "Backend (Laravel) team; DBA for the database side",
                hint,
            )
        ],
        ["Laravel docs: database migrations"],
    )


def redis_connection_error(rng: Random, w: World) -> Episode:
    cwd = home_dir(w)
    host = rng.choice(["redis-cache", "redis", "cache", "sessions-redis", "queue-redis"])
    host = f"{host}-{rng.randint(1, 9)}"
    port = rng.choice([6379, 6379, 6380, 6381])
    worker = rng.choice(
        ["python -m app.worker", "celery -A app worker -l info", "rq worker high default"]
    )
    refused = (
        f"redis.exceptions.ConnectionError: Error 111 connecting to {host}:{port}. "
        "Connection refused."
    )
    steps = [
        Step(
            worker, "Traceback (most recent call last):\n  ...\n" + red(refused), 1, cwd, w.branch
        ),
        Step(
            f"redis-cli -h {host} -p {port} ping",
            red(f"Could not connect to Redis at {host}:{port}: Connection refused"),
            1,
            cwd,
            w.branch,
        ),
    ]
    if rng.random() < 0.5:
        uptime = rng.randint(2, 40)
        steps += [
            Step(f"ssh {host} sudo systemctl restart redis-server", "", 0, cwd, w.branch),
            Step(f"redis-cli -h {host} -p {port} ping", "PONG", 0, cwd, w.branch),
            Step(
                worker,
                f"[{short_sha(rng)}] worker started, listening on {host}:{port} (uptime {uptime}s)",
                0,
                cwd,
                w.branch,
            ),
        ]
        return Episode(
            steps,
            (
                f"The {w.project} worker could not reach Redis at {host}:{port}; "
                f"restarting redis-server on {host} brought it back and the worker "
                "started."
            ),
            [
                success(
                    f"Redis on {host} answering again",
                    [
                        f"ssh {host} sudo systemctl restart redis-server",
                        f"redis-cli -h {host} -p {port} ping",
                    ],
                    f"{host}:{port}",
                    "PONG",
                ),
                success(
                    "Worker running", [worker], f"connected to {host}:{port}, uptime {uptime}s"
                ),
            ],
            [],
            [f"Find out why redis-server stopped on {host} (`journalctl -u redis-server`)"],
        )
    return Episode(
        steps,
        (
            f"Redis at {host}:{port} refuses connections, so the {w.project} "
            f"worker ({worker}) cannot start."
        ),
        [],
        [
            blocker(
                (
                    f"{code(f'redis-cli -h {host} -p {port} ping')} fails: connection "
                    f"refused on {host}:{port}"
                ),
                f"Background jobs of {w.project} and anything it caches in Redis are down",
                "Platform / SRE on-call (Redis)",
                (
                    f"Check redis-server on {host} (`systemctl status redis-server`) "
                    "and its memory and disk"
                ),
            ),
            blocker(
                f"{code(worker)} exits with ConnectionError 111 to {host}:{port}",
                "Queued jobs are not processed",
                f"{w.project} backend team",
                "Restart the worker once Redis answers PONG",
            ),
        ],
        ["Redis docs: persistence and out-of-memory behaviour"],
    )


def elasticsearch_index_operations(rng: Random, w: World) -> Episode:
    """A new index with mappings, a reindex and an alias swap; or a create that already exists."""
    cwd = home_dir(w)
    name = rng.choice(["products", "orders", "customers", "articles", "logs-app"])
    generation = rng.randint(2, 6)
    old, new = f"{name}-v{generation}", f"{name}-v{generation + 1}"
    es = "localhost:9200"
    create = (
        f"curl -sS --fail-with-body -XPUT {es}/{new} -H 'Content-Type: "
        f"application/json' -d @mappings/{name}.json"
    )
    health = rng.choice(["green", "yellow"])
    steps = [
        Step(
            f"curl -s {es}/_cluster/health?pretty",
            (
                f'{{\n  "cluster_name" : "{w.env}-search",\n  "status" : "{health}",\n '
                f' "number_of_nodes" : {rng.randint(3, 9)},\n  "unassigned_shards" '
                f": {0 if health == 'green' else rng.randint(1, 8)}\n}}"
            ),
            0,
            cwd,
            w.branch,
        ),
    ]
    if rng.random() < 0.35:
        uuid = f"{rng.getrandbits(64):016x}"
        body = (
            '{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"index '
            f'[{new}/{uuid}] already exists"}}],'
            '"type":"resource_already_exists_exception"},"status":400}'
        )
        steps.append(
            Step(
                create,
                body + "\n" + red("curl: (22) The requested URL returned error: 400"),
                22,
                cwd,
                w.branch,
            )
        )
        return Episode(
            steps,
            (
                f"Creating {new} on {w.env}-search failed because the index already "
                f"exists (HTTP 400); cluster status {health}."
            ),
            [],
            [
                blocker(
                    (
                        f"{code(create)} fails: resource_already_exists_exception, index "
                        f"[{new}/{uuid}] already exists"
                    ),
                    f"The reindex into {new} cannot start on a fresh index",
                    "Search team",
                    (
                        f"Check whether {new} is a leftover of an earlier attempt "
                        f"(`_cat/indices/{name}-*`) "
                        "before deleting or renaming it"
                    ),
                )
            ],
            [f"Elasticsearch docs: index aliases for zero-downtime reindexing of {name}"],
        )
    docs = rng.randint(20000, 5_000_000)
    took = rng.randint(5000, 900000)
    reindex = (
        f"curl -sS --fail-with-body -XPOST '{es}/_reindex?wait_for_completion=true' "
        "-H 'Content-Type: application/json' "
        f'-d \'{{"source":{{"index":"{old}"}},"dest":{{"index":"{new}"}}}}\''
    )
    alias = (
        f"curl -sS --fail-with-body -XPOST {es}/_aliases -H 'Content-Type: "
        f"application/json' -d @aliases/{name}-swap.json"
    )
    steps += [
        Step(
            create,
            f'{{"acknowledged":true,"shards_acknowledged":true,"index":"{new}"}}',
            0,
            cwd,
            w.branch,
        ),
        Step(
            reindex,
            f'{{"took":{took},"timed_out":false,"total":{docs},"created":{docs},"updated":0,"failures":[]}}',
            0,
            cwd,
            w.branch,
        ),
        Step(alias, '{"acknowledged":true}', 0, cwd, w.branch),
    ]
    resources = [f"Delete {old} once traffic on the alias looks healthy"]
    if health == "yellow":
        resources.append(
            "Cluster health is yellow: check unassigned replicas with `_cluster/allocation/explain`"
        )
    return Episode(
        steps,
        (
            f"Created {new}, reindexed {docs} documents from {old} in {took} "
            f"ms and swapped the alias; cluster status {health}."
        ),
        [
            success(
                f"Index {new} created",
                [create],
                "mappings from mappings/" + name + ".json",
                '"acknowledged":true',
            ),
            success(
                f"Reindexed {old} into {new}",
                [reindex],
                f"total {docs}, created {docs}, took {took} ms",
                '"failures":[]',
            ),
            success(f"Alias moved to {new}", [alias], "aliases/" + name + "-swap.json"),
        ],
        [],
        resources,
    )


def database_backup_verification(rng: Random, w: World) -> Episode:
    """A pg_dump, its checksum and a test restore into a scratch database."""
    cwd = "/var/backups/postgres"
    db = rng.choice(["orders", "shop", "billing", "accounts", "inventory"])
    today = day(rng)
    dump = f"{db}-{today}.dump"
    size = f"{rng.randint(120, 990)}M"
    entries = rng.randint(150, 900)
    days = sorted({day(rng) for _ in range(rng.randint(1, 4))} - {today})
    earlier = [(when, rng.randint(100, 990)) for when in days if when < today]
    listing = "\n".join(
        f"-rw-r--r-- 1 postgres postgres {megabytes}M {when[5:7]}/{when[8:]} "
        f"02:{rng.randint(10, 59)} {db}-{when}.dump"
        for when, megabytes in earlier
    )
    total = sum(megabytes for _, megabytes in earlier) / 1024
    steps = [
        Step("ls -lh", f"total {total:.1f}G\n{listing}", 0, cwd),
        Step(f"pg_dump -Fc -d {db} -f {dump}", "", 0, cwd),
        Step(
            f"ls -lh {dump}",
            (
                f"-rw-r--r-- 1 postgres postgres {size} {today[5:7]}/{today[8:]} "
                f"02:{rng.randint(10, 59)} "
                f"{dump}"
            ),
            0,
            cwd,
        ),
        Step(
            f"sha256sum {dump} > {dump}.sha256 && sha256sum -c {dump}.sha256",
            f"{dump}: {green('OK')}",
            0,
            cwd,
        ),
        Step(f"pg_restore --list {dump} | wc -l", str(entries), 0, cwd),
    ]
    successes = [
        success(
            f"Backup of {db} written and checksummed",
            [
                f"pg_dump -Fc -d {db} -f {dump}",
                f"sha256sum {dump} > {dump}.sha256 && sha256sum -c {dump}.sha256",
            ],
            f"{dump}, {size}",
            f"{dump}: OK",
        ),
        success(
            "Archive readable",
            [f"pg_restore --list {dump} | wc -l"],
            f"{entries} entries in the table of contents",
        ),
    ]
    scratch = f"{db}_verify"
    restore = f"pg_restore -d {scratch} --no-owner {dump}"
    steps.append(Step(f"createdb {scratch}", "", 0, cwd))
    if rng.random() < 0.6:
        rows = rng.randint(10000, 9_000_000)
        table = rng.choice(TABLES)
        query = f'psql -d {scratch} -tAc "select count(*) from {table}"'
        steps += [Step(restore, "", 0, cwd), Step(query, str(rows), 0, cwd)]
        successes.append(
            success(
                f"Test restore into {scratch} succeeded",
                [restore, query],
                f"{rows} rows in {table}",
            )
        )
        return Episode(
            steps,
            (
                f"The {db} backup {dump} ({size}) was written, checksummed and "
                f"restored into {scratch} ({rows} rows in {table})."
            ),
            successes,
            [],
            [f"Drop {scratch} when done: `dropdb {scratch}`"],
        )
    role = rng.choice(["analytics_ro", "reporting", "app_readonly"])
    errors = rng.randint(2, 12)
    out = (
        red(f'pg_restore: error: could not execute query: ERROR:  role "{role}" does not exist')
        + f"\nCommand was: GRANT SELECT ON TABLE public.{rng.choice(TABLES)} TO {role};\n"
        + yellow(f"pg_restore: warning: errors ignored on restore: {errors}")
    )
    steps.append(Step(restore, out, 1, cwd))
    return Episode(
        steps,
        (
            f"The {db} backup {dump} ({size}) checksums fine, but the test "
            f"restore into {scratch} reported {errors} errors (missing role "
            f"{role})."
        ),
        successes,
        [
            blocker(
                (
                    f'{code(restore)} exits with errors: role "{role}" does not exist, '
                    f"errors ignored on restore: {errors}"
                ),
                (
                    "The backup is not proven restorable as is; grants would be missing "
                    "after a real restore"
                ),
                "DBA / database platform team",
                (
                    f"Create role {role} on the restore target (or restore with --no-acl) "
                    "and repeat the test restore"
                ),
            )
        ],
        ["Dump roles with `pg_dumpall --roles-only` next to each database dump"],
    )
