"""Scenario families of a developer's own machine: tests, compilers, packages, git, ports."""

from random import Random

from stages.synthesis.episode import Episode, blocker, code, success
from stages.synthesis.scenario_details import World, home_dir, pick, seconds, short_sha, version
from stages.synthesis.terminal import (
    Step,
    bold,
    bold_green,
    bold_red,
    cyan,
    green,
    red,
    yellow,
)

TEST_MODULES = (
    "test_orders", "test_checkout", "test_auth", "test_invoices", "test_search", "test_webhooks",
    "test_pricing", "test_users", "test_cart", "test_refunds", "test_export", "test_rate_limit",
)  # fmt: skip
TEST_CASES = (
    "test_total_includes_tax", "test_expired_token_rejected", "test_refund_partial_amount",
    "test_pagination_cursor", "test_retry_on_timeout", "test_currency_rounding",
    "test_duplicate_email_conflict", "test_bulk_export_csv", "test_webhook_signature",
    "test_discount_stacking", "test_inventory_reserved", "test_locale_fallback",
)  # fmt: skip
ASSERTIONS = (
    ("AssertionError: assert 402 == 200", "status code"),
    ("AssertionError: assert Decimal('10.01') == Decimal('10.00')", "rounding"),
    ("KeyError: 'next_cursor'", "missing response field"),
    ("TimeoutError: request exceeded 5.0s", "timeout"),
    ("AttributeError: 'NoneType' object has no attribute 'id'", "None dereference"),
    ("AssertionError: assert 3 == 2", "count mismatch"),
)


def _pytest_output(rng: Random, total: int, failed: list[tuple[str, str, str]], took: str) -> str:
    py = version(rng, (3, 3), 12, 9)
    lines = [
        bold("============================= test session starts =============================="),
        f"platform linux -- Python {py}, pytest-{version(rng, (7, 8), 4, 4)}, pluggy-1.5.0",
        f"collected {total} items",
        "",
    ]
    dots = "".join(red("F") if i < len(failed) else green(".") for i in range(min(total, 60)))
    lines.append(f"tests/ {dots}")
    if failed:
        lines.append("")
        lines.append(
            bold("=================================== FAILURES ===================================")
        )
        for path, case, error in failed:
            lines.append(red(f"_______________________ {case} _______________________"))
            lines.append(f"{path}:{rng.randint(20, 240)}: in {case}")
            lines.append(red(f"E   {error}"))
        lines.append(
            bold("=========================== short test summary info ============================")
        )
        for path, case, error in failed:
            lines.append(f"{red('FAILED')} {path}::{case} - {error}")
        passed = total - len(failed)
        lines.append(
            red(
                f"========================= {len(failed)} failed, {passed} passed "
                f"in {took}s ========================="
            )
        )
    else:
        lines.append(green(f"{'=' * 30} {total} passed in {took}s {'=' * 30}"))
    return "\n".join(lines)


def pytest_failures(rng: Random, w: World) -> Episode:
    """A test run with failures: left failing, or fixed and rerun green."""
    cwd, total = home_dir(w), rng.randint(40, 400)
    command = rng.choice(["pytest -q", "python -m pytest", "pytest tests/", "pytest -x --ff"])
    n_failed = rng.randint(1, 3)
    failed = [
        (f"tests/{module}.py", case, error)
        for module, case, (error, _) in zip(
            pick(rng, TEST_MODULES, n_failed),
            pick(rng, TEST_CASES, n_failed),
            pick(rng, ASSERTIONS, n_failed),
            strict=True,
        )
    ]
    took = seconds(rng, 3, 90)
    steps = [Step(command, _pytest_output(rng, total, failed, took), 1, cwd, w.branch)]
    first = failed[0]
    if rng.random() < 0.45:
        took_again = seconds(rng, 3, 90)
        steps.append(
            Step(
                "git diff --stat",
                (
                    f" {first[0].replace('tests/test_', 'src/')} | {rng.randint(2, 30)} "
                    f"{green('++')}{red('-')}\n 1 file changed"
                ),
                0,
                cwd,
                w.branch,
            )
        )
        steps.append(Step(command, _pytest_output(rng, total, [], took_again), 0, cwd, w.branch))
        return Episode(
            steps,
            f"The test suite of {w.project} on {w.branch} first had {len(failed)} failed, "
            f"then passed in full ({total} passed) after a fix.",
            [
                success(
                    f"Test suite green again on {w.branch}",
                    [command],
                    (
                        f"{total} passed in {took_again}s on the second run; the first "
                        f"run had {len(failed)} failed"
                    ),
                    f"{total} passed",
                )
            ],
            [],
            [
                f"Add a regression note for {first[1]} in the pull request",
                "Commit the fix shown by `git diff --stat`",
            ],
        )
    return Episode(
        steps,
        (
            f"pytest on {w.project} ({w.branch}) ended with {len(failed)} "
            f"failed and {total - len(failed)} passed tests."
        ),
        [],
        [
            blocker(
                f"{code(command)} fails: {len(failed)} failed, {total - len(failed)} "
                "passed; first failure "
                f"{first[0]}::{first[1]} ({first[2]})",
                f"Branch {w.branch} cannot be merged while the suite is red",
                f"Whoever last changed the code under {first[0]}",
                (
                    f"Run {code(f'pytest {first[0]}::{first[1]} -vv')} and compare "
                    "with the last green commit"
                ),
            )
        ],
        [
            f"Rerun only the failures with {code('pytest --lf')}",
            "Check `git log -p` for the code these tests cover",
        ],
    )


def python_version_mismatch(rng: Random, w: World) -> Episode:
    """A package that needs a newer Python than the active one; sometimes pyenv fixes it."""
    cwd = home_dir(w)
    old = f"3.{rng.choice([8, 9])}.{rng.randint(2, 18)}"
    need = rng.choice(["3.10", "3.11", "3.12"])
    new = f"{need}.{rng.randint(1, 9)}"
    package = rng.choice(["pydantic-core", "numpy", "django", "fastapi", "polars", "sqlalchemy"])
    pkg_version = version(rng, (1, 5), 9, 9)
    install = rng.choice(
        [
            "pip install -r requirements.txt",
            "pip install -e .",
            "python -m pip install -r requirements/dev.txt",
        ]
    )
    refused = (
        f"Collecting {package}=={pkg_version}\n"
        + red(
            "ERROR: Ignored the following versions that require a different "
            f"python version: {pkg_version} Requires-Python >={need}"
        )
        + "\n"
        + red(
            "ERROR: Could not find a version that satisfies the requirement "
            f"{package}=={pkg_version} (from versions: none)"
        )
        + "\n"
        + red(f"ERROR: No matching distribution found for {package}=={pkg_version}")
    )
    steps = [
        Step("python --version", f"Python {old}", 0, cwd, w.branch),
        Step(install, refused, 1, cwd, w.branch),
    ]
    if rng.random() < 0.5:
        count = rng.randint(12, 140)
        steps += [
            Step(f"pyenv local {new}", "", 0, cwd, w.branch),
            Step("python --version", f"Python {new}", 0, cwd, w.branch),
            Step(
                install,
                f"Collecting {package}=={pkg_version}\n...\n"
                + green(f"Successfully installed {count} packages"),
                0,
                cwd,
                w.branch,
            ),
        ]
        return Episode(
            steps,
            f"Dependencies of {w.project} failed to install under Python {old} "
            f"({package} {pkg_version} needs >={need}); "
            f"switching to Python {new} with pyenv fixed it.",
            [
                success(
                    f"Switched the project to Python {new}",
                    [f"pyenv local {new}", "python --version"],
                    f"was Python {old}",
                    f"Python {new}",
                ),
                success(
                    "Dependencies installed",
                    [install],
                    f"{package}=={pkg_version} requires Python >={need}",
                    f"Successfully installed {count} packages",
                ),
            ],
            [],
            ["Commit the `.python-version` file pyenv wrote so teammates get the same interpreter"],
        )
    return Episode(
        steps,
        (
            f"Installing {w.project}'s dependencies failed: {package} {pkg_version} "
            f"requires Python >={need} and the shell runs Python {old}."
        ),
        [],
        [
            blocker(
                f"{code(install)} finds no {package}=={pkg_version} for Python {old}",
                "The project cannot be installed or run locally",
                "The developer's local environment (or whoever pinned the requirements)",
                (
                    f"Install Python {need} or newer (pyenv, uv or the system package) "
                    "and recreate the virtualenv"
                ),
            )
        ],
        [
            f"Pin the interpreter with a `.python-version` file for {need}",
            "Document the minimum Python version in the README",
        ],
    )


# command, what it prints, and the (major, minor) range of versions in use
TOOLS = (
    ("node --version", "v{v}", (16, 22), (0, 20)),
    ("npm --version", "{v}", (8, 10), (0, 9)),
    ("python3 --version", "Python {v}", (3, 3), (8, 13)),
    ("go version", "go version go{v} linux/amd64", (1, 1), (19, 23)),
    ("docker --version", "Docker version {v}, build 4c9b3b0", (24, 27), (0, 5)),
    ("terraform version", "Terraform v{v}\non linux_amd64", (1, 1), (5, 9)),
    (
        "kubectl version --client",
        "Client Version: v{v}\nKustomize Version: v5.0.4",
        (1, 1),
        (26, 31),
    ),
    ("java -version", 'openjdk version "{v}" 2024-07-16', (17, 21), (0, 0)),
    ("psql --version", "psql (PostgreSQL) {v}", (13, 16), (1, 9)),
)


def environment_check(rng: Random, w: World) -> Episode:
    """Toolchain versions; a Node version pinned in .nvmrc may be missing."""
    cwd = home_dir(w)
    checks = pick(rng, TOOLS, rng.randint(3, 5))
    steps, seen = [], []
    for command, shape, major, minor in checks:
        v = f"{rng.randint(*major)}.{rng.randint(*minor)}.{rng.randint(0, 12)}"
        printed = shape.format(v=v)
        steps.append(Step(command, printed, 0, cwd, w.branch))
        shown = next(word for word in printed.split() if v in word).strip('",')
        seen.append((command, shown))
    listing = ", ".join(f"{c.split()[0]} {shown}" for c, shown in seen)
    successes = [success("Toolchain versions confirmed", [c for c, _ in seen], listing)]
    if rng.random() < 0.5:
        pinned = f"20.{rng.randint(10, 18)}.{rng.randint(0, 2)}"
        steps += [
            Step("cat .nvmrc", f"v{pinned}", 0, cwd, w.branch),
            Step(
                "nvm use",
                # as real logs read once scrubbed (docs/privacy.md): no home folder user name
                f"Found '/home/[REDACTED:home_user]/{w.project}/.nvmrc' with version <v{pinned}>\n"
                + red(f'N/A: version "v{pinned}" is not yet installed.')
                + "\n\n"
                + f'You need to run "nvm install v{pinned}" to install it before using it.',
                3,
                cwd,
                w.branch,
            ),
        ]
        return Episode(
            steps,
            (
                f"Checked tool versions on {w.host} ({listing}); the Node version "
                f"pinned in .nvmrc (v{pinned}) is not installed."
            ),
            successes,
            [
                blocker(
                    f"{code('nvm use')} fails: v{pinned} from .nvmrc is not installed",
                    f"{w.project} may build with a different Node than CI expects",
                    "The developer (local setup)",
                    f"Run {code(f'nvm install v{pinned}')} then {code('nvm use')}",
                )
            ],
            ["Keep .nvmrc and the CI Node version in step"],
        )
    return Episode(
        steps,
        f"Checked tool versions on {w.host}: {listing}.",
        successes,
        [],
        ["Record these versions in the onboarding doc"],
    )


GO_ERRORS = (
    ("undefined: {name}", "a symbol that was renamed or removed"),
    (
        "cannot use {name} (variable of type string) as int value in argument to strconv.Itoa",
        "a type mismatch",
    ),
    ('"{pkg}" imported and not used', "an unused import"),
    ("missing return", "a function path without a return"),
    ("too many arguments in call to {name}", "a changed function signature"),
)


def go_compile_errors(rng: Random, w: World) -> Episode:
    """`go build` fails with compiler errors; sometimes fixed, then tests pass."""
    cwd = home_dir(w)
    pkg = rng.choice(
        ["internal/handler", "internal/store", "pkg/auth", "cmd/server", "internal/billing"]
    )
    file = f"./{pkg}/{rng.choice(['handler', 'store', 'token', 'main', 'invoice'])}.go"
    name = rng.choice(["validateToken", "userID", "parseAmount", "NewClient", "retryCount"])
    errors = []
    for template, _ in pick(rng, GO_ERRORS, rng.randint(1, 3)):
        errors.append(
            f"{file}:{rng.randint(10, 300)}:{rng.randint(2, 40)}: "
            + template.format(name=name, pkg=rng.choice(["fmt", "os", "errors", "context"]))
        )
    build = rng.choice(["go build ./...", "go build -o bin/server ./cmd/server", "make build"])
    out = f"# {w.project}/{pkg}\n" + "\n".join(red(e) for e in errors)
    steps = [
        Step(
            "go version",
            f"go version go1.{rng.randint(20, 23)}.{rng.randint(0, 9)} linux/amd64",
            0,
            cwd,
            w.branch,
        ),
        Step(build, out, 1 if build.startswith("go") else 2, cwd, w.branch),
    ]
    if rng.random() < 0.5:
        packages = rng.randint(3, 14)
        lines = [
            f"ok  \t{w.project}/{p}\t{seconds(rng, 0.01, 3)}s"
            for p in pick(
                rng,
                [
                    "internal/handler",
                    "internal/store",
                    "pkg/auth",
                    "cmd/server",
                    "internal/billing",
                    "internal/queue",
                    "pkg/config",
                    "internal/metrics",
                    "pkg/retry",
                    "internal/cache",
                    "internal/api",
                    "pkg/money",
                    "internal/users",
                    "internal/events",
                ],
                packages,
            )
        ]
        edited = f" {file.removeprefix('./')} | {rng.randint(1, 12)} {green('+')}{red('-')}"
        steps += [
            Step("git diff --stat", f"{edited}\n 1 file changed", 0, cwd, w.branch),
            Step(build, "", 0, cwd, w.branch),
            Step("go test ./...", "\n".join(lines), 0, cwd, w.branch),
        ]
        return Episode(
            steps,
            f"{build} failed to compile ({errors[0]}); after the fix it built and go test passed.",
            [
                success("Build fixed", [build], f"the first {code(build)} failed in {file}"),
                success("Tests pass", ["go test ./..."], f"every package of {w.project} ok"),
            ],
            [],
            ["Run `go vet ./...` before pushing"],
        )
    return Episode(
        steps,
        f"{build} fails to compile {pkg}: {errors[0]}.",
        [],
        [
            blocker(
                f"{code(build)} fails: {errors[0]}",
                f"No binary can be built from {w.branch}",
                f"Author of the last change to {pkg}",
                (
                    f"Open {file} at the reported line; run {code('go vet ./' + pkg + '/...')} "
                    "for more context"
                ),
            )
        ],
        ["Enable gopls diagnostics in the editor to catch these before building"],
    )


JAVA_TESTS = (
    ("OrderServiceTest", "shouldApplyDiscount", "expected:<90.0> but was:<100.0>"),
    ("InvoiceMapperTest", "mapsCurrency", 'expected:<"EUR"> but was:<null>'),
    ("PaymentControllerIT", "returns402WhenDeclined", "Status expected:<402> but was:<500>"),
    ("InventoryRepositoryTest", "reservesStock", "expected:<3> but was:<2>"),
    (
        "TokenServiceTest",
        "rejectsExpiredToken",
        "Expected JwtException to be thrown, but nothing was thrown.",
    ),
)


def maven_test_failures(rng: Random, w: World) -> Episode:
    cwd = home_dir(w)
    command = rng.choice(["mvn test", "./mvnw test", "mvn -B verify", "./mvnw -pl core test"])
    run, skipped = rng.randint(60, 600), rng.randint(0, 8)
    failures = pick(rng, JAVA_TESTS, rng.randint(1, 3))
    took = f"{rng.randint(0, 3):02d}:{rng.randint(10, 59)} min"
    lines = [
        f"[{cyan('INFO')}] Scanning for projects...",
        f"[{cyan('INFO')}] Building {w.project} {version(rng, (1, 4))}-SNAPSHOT",
        f"[{cyan('INFO')}] --- surefire:3.2.5:test (default-test) @ {w.project} ---",
    ]
    for cls, case, why in failures:
        lines.append(f"[{red('ERROR')}] {cls}.{case}:{rng.randint(30, 200)} {why}")
    lines += [
        (
            f"[{red('ERROR')}] Tests run: {run}, Failures: {len(failures)}, "
            f"Errors: 0, Skipped: {skipped}"
        ),
        f"[{cyan('INFO')}] {bold_red('BUILD FAILURE')}",
        f"[{cyan('INFO')}] Total time:  {took}",
        f"[{red('ERROR')}] Failed to execute goal "
        "org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test",
    ]
    steps = [Step(command, "\n".join(lines), 1, cwd, w.branch)]
    cls, case, why = failures[0]
    return Episode(
        steps,
        (
            f"Maven tests of {w.project} failed: {len(failures)} of {run} "
            f"tests, {skipped} skipped (BUILD FAILURE)."
        ),
        [],
        [
            blocker(
                (
                    f"{code(command)} ends in BUILD FAILURE: Tests run: {run}, Failures: "
                    f"{len(failures)}; first: {cls}.{case} ({why})"
                ),
                f"The {w.branch} build cannot produce an artifact",
                f"Owner of {cls}",
                (
                    f"Rerun one test with {code(f'mvn -Dtest={cls}#{case} test')} "
                    f"and read target/surefire-reports/{cls}.txt"
                ),
            )
        ],
        [f"Surefire reports under target/surefire-reports/ for {cls}"],
    )


def npm_audit(rng: Random, w: World) -> Episode:
    """`npm audit` finds vulnerabilities; `npm audit fix` fixes all or some of them."""
    cwd = home_dir(w)
    added, took = rng.randint(300, 1800), rng.randint(8, 90)
    low, moderate, high, critical = (
        rng.randint(0, 5),
        rng.randint(1, 8),
        rng.randint(0, 4),
        rng.randint(0, 2),
    )
    total = low + moderate + high + critical
    counts = (("critical", critical), ("high", high), ("moderate", moderate), ("low", low))
    worst = next(name for name, n in counts if n)  # the advisory shown is the worst one
    package = rng.choice(
        ["semver", "axios", "word-wrap", "tough-cookie", "postcss", "follow-redirects", "braces"]
    )

    def summary(n: int) -> str:
        return (
            f"{n} vulnerabilities ({low} low, {moderate} moderate, {high} "
            f"high, {critical} critical)"
        )

    steps = [
        Step(
            "npm ci",
            f"added {added} packages, and audited {added + 1} packages in {took}s",
            0,
            cwd,
            w.branch,
        ),
        Step(
            "npm audit",
            (
                f"# npm audit report\n\n{bold(package)}  <{version(rng, (1, 7))}\nSeverity: "
                f"{red(worst)}\n\n"
            )
            + red(summary(total)),
            1,
            cwd,
            w.branch,
        ),
    ]
    fixed = rng.randint(1, total)
    successes = [
        success("Clean dependency install", ["npm ci"], f"{added} packages added in {took}s")
    ]
    steps.append(
        Step(
            "npm audit fix",
            (
                f"changed {rng.randint(2, 30)} packages, and audited {added + 1} "
                f"packages in {rng.randint(2, 20)}s\n\nfixed {fixed} of {total} "
                "vulnerabilities"
            ),
            0,
            cwd,
            w.branch,
        )
    )
    successes.append(
        success(
            "Applied the non-breaking fixes",
            ["npm audit fix"],
            f"fixed {fixed} of {total} vulnerabilities",
        )
    )
    left = total - fixed
    if left == 0:
        steps.append(Step("npm audit", green("found 0 vulnerabilities"), 0, cwd, w.branch))
        successes.append(
            success("Audit clean", ["npm audit"], "found 0 vulnerabilities after the fix")
        )
        return Episode(
            steps,
            (
                f"npm audit found {total} vulnerabilities in {w.project}; npm "
                "audit fix fixed all of them."
            ),
            successes,
            [],
            ["Commit package-lock.json with the fixes"],
        )
    steps.append(
        Step(
            "npm audit",
            red(f"{left} vulnerabilities")
            + " require manual review. Some issues need --force to address all issues.",
            1,
            cwd,
            w.branch,
        )
    )
    return Episode(
        steps,
        (
            f"npm audit in {w.project} found {total} vulnerabilities; npm "
            f"audit fix fixed {fixed}, {left} remain."
        ),
        successes,
        [
            blocker(
                f"{code('npm audit')} still reports {left} vulnerabilities after npm audit fix",
                "Security gate in CI will keep failing; the remaining ones need breaking upgrades",
                "Frontend team / dependency owner",
                (
                    f"Read the advisories for {package}; try `npm audit fix --force` "
                    "on a branch and run the tests"
                ),
            )
        ],
        [
            f"npm advisory pages for {package}",
            "Consider `overrides` in package.json for transitive fixes",
        ],
    )


def webpack_slowness(rng: Random, w: World) -> Episode:
    """A slow production build; either it passes slowly or the size budget fails it."""
    cwd = home_dir(w)
    ms = rng.randint(60000, 240000)
    wp = f"5.{rng.randint(70, 95)}.{rng.randint(0, 9)}"
    asset = f"main.{short_sha(rng)}.js"
    size = rng.randint(900, 4800)
    build = rng.choice(["npm run build", "yarn build", "npx webpack --mode production"])
    over = rng.random() < 0.5
    script = f"> {w.project}@{version(rng, (1, 3))} build\n> webpack --mode production\n\n"
    head = "" if build.startswith("npx") else script  # npm and yarn echo the script first
    assets = f"asset {bold_green(asset)} {size} KiB [emitted] [minimized] [big] (name: main)"
    if over:
        out = (
            head
            + assets
            + "\n\n"
            + red(
                "ERROR in asset size limit: The following asset(s) exceed the "
                "recommended size limit (244 KiB)."
            )
            + (
                f"\nAssets: \n  {asset} ({size} KiB)\n\nwebpack {wp} compiled "
                f"with {red('1 error')} in {ms} ms"
            )
        )
        steps = [Step(build, out, 1, cwd, w.branch)]
        return Episode(
            steps,
            (
                f"The production build of {w.project} took {ms} ms and failed "
                f"the size budget: {asset} is {size} KiB (limit 244 KiB)."
            ),
            [],
            [
                blocker(
                    f"{code(build)} fails: asset size limit, {asset} is {size} KiB",
                    "No production bundle; the build is also slow",
                    "Frontend team",
                    (
                        "Split the bundle (dynamic import(), splitChunks) "
                        "or relax performance.hints "
                        "deliberately"
                    ),
                )
            ],
            [
                "webpack-bundle-analyzer to see what fills the bundle",
                "Enable `cache: { type: 'filesystem' }` to speed up rebuilds",
            ],
        )
    out = head + assets + f"\n\nwebpack {wp} compiled with {yellow('2 warnings')} in {ms} ms"
    steps = [Step(build, out, 0, cwd, w.branch)]
    return Episode(
        steps,
        (
            f"The production build of {w.project} passed but took {ms} ms "
            f"(webpack {wp}); the main bundle is {size} KiB."
        ),
        [
            success(
                "Production bundle built",
                [build],
                f"webpack {wp}, {ms} ms, {asset} {size} KiB",
                "compiled with 2 warnings",
            )
        ],
        [],
        [
            "Profile with `npx webpack --profile --json > stats.json`",
            "Enable `cache: { type: 'filesystem' }` for faster rebuilds",
        ],
    )


def port_conflict(rng: Random, w: World) -> Episode:
    """A service that cannot bind its port; the holder is killed, or is a service to keep."""
    cwd = home_dir(w)
    port = rng.choice([3000, 5000, 8000, 8080, 8443, 9000])
    pid = rng.randint(1200, 65000)
    service = w.project
    start = f"sudo systemctl start {service}"
    failed = (
        f"Job for {service}.service failed because the control process "
        f'exited with error code.\nSee "systemctl status {service}.service" '
        f'and "journalctl -xeu {service}.service" for details.'
    )
    holder = rng.choice(["node", "python3", "nginx", "java"])
    steps = [
        Step(start, failed, 1, cwd, w.branch),
        Step(
            f"journalctl -u {service} -n 3 --no-pager",
            f"{service}[{pid + 7}]: "
            + red(f"Error: listen EADDRINUSE: address already in use :::{port}")
            + (
                f"\nsystemd[1]: {service}.service: Main process exited, code=exited, "
                f"status=1/FAILURE\nsystemd[1]: {service}.service: Failed with "
                "result 'exit-code'."
            ),
            0,
            cwd,
            w.branch,
        ),
        Step(
            f"sudo ss -ltnp 'sport = :{port}'",
            (
                "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nLISTEN "
                f'0      511    *:{port}           *:*     users:(("{holder}",pid={pid},fd=21))'
            ),
            0,
            cwd,
            w.branch,
        ),
    ]
    if holder != "nginx":
        steps += [
            Step(f"sudo kill {pid}", "", 0, cwd, w.branch),
            Step(start, "", 0, cwd, w.branch),
            Step(f"systemctl is-active {service}", green("active"), 0, cwd, w.branch),
        ]
        return Episode(
            steps,
            (
                f"{service} could not start because port {port} was held by a "
                f"stray {holder} process (pid {pid}); it was killed and the service "
                "started."
            ),
            [
                success(
                    "Found what held the port",
                    [f"sudo ss -ltnp 'sport = :{port}'"],
                    f"{holder} pid {pid} on port {port}",
                ),
                success(
                    f"{service} running",
                    [start, f"systemctl is-active {service}"],
                    f"after killing pid {pid}",
                    "active",
                ),
            ],
            [],
            ["Find what started the stray process so it does not come back after a reboot"],
        )
    return Episode(
        steps,
        f"{service} cannot start: nginx (pid {pid}) already listens on port {port}.",
        [
            success(
                "Found what holds the port",
                [f"sudo ss -ltnp 'sport = :{port}'"],
                f"nginx pid {pid} on port {port}",
            )
        ],
        [
            blocker(
                f"{code(start)} fails: EADDRINUSE on port {port}, held by nginx (pid {pid})",
                f"{service} is down on {w.host}",
                "Platform team (port allocation on the host)",
                (
                    f"Move {service} to a free port and proxy to it from nginx, or "
                    "change the nginx listen directive"
                ),
            )
        ],
        [f"Check /etc/nginx/sites-enabled/ for a listen {port} directive"],
    )


CONFLICT_FILES = (
    "src/api/routes.py", "app/models/order.rb", "src/components/Cart.tsx",
    "internal/store/orders.go",
    "config/settings.yaml", "package.json", "migrations/env.py", "src/utils/money.ts",
)  # fmt: skip


def git_merge_conflict(rng: Random, w: World) -> Episode:
    """Merging a feature branch conflicts; resolved and committed, or left mid-merge."""
    cwd = home_dir(w)
    base = rng.choice(["main", "develop"])
    feature = rng.choice(
        [
            b
            for b in (
                "feature/checkout-v2",
                "feat/rate-limit",
                "fix/null-session",
                "feature/bulk-export",
                "feat/webhooks",
            )
            if b != base
        ]
    )
    files = pick(rng, CONFLICT_FILES, rng.randint(1, 3))
    changed = rng.randint(2, 25)
    pull = (
        f"Updating {short_sha(rng)}..{short_sha(rng)}\nFast-forward\n {changed} files changed, "
        f"{rng.randint(10, 400)} insertions(+), {rng.randint(1, 200)} deletions(-)"
    )
    merge_out = "\n".join(
        f"Auto-merging {f}\n" + red(f"CONFLICT (content): Merge conflict in {f}") for f in files
    )
    merge_out += "\nAutomatic merge failed; fix conflicts and then commit the result."
    status = (
        f"On branch {base}\nYou have unmerged paths.\n  (fix conflicts "
        'and run "git commit")\n\nUnmerged paths:\n'
    ) + "\n".join(red(f"\tboth modified:   {f}") for f in files)
    merging = f"{base}|MERGING"
    steps = [
        Step(f"git checkout {base}", f"Switched to branch '{base}'", 0, cwd, base),
        Step("git pull", pull, 0, cwd, base),
        Step(f"git merge {feature}", merge_out, 1, cwd, base),
        Step("git status", status, 0, cwd, merging),
    ]
    if rng.random() < 0.5:
        sha = short_sha(rng)
        steps += [
            Step(f"git add {' '.join(files)}", "", 0, cwd, merging),
            Step(
                "git commit --no-edit",
                f"[{base} {sha}] Merge branch '{feature}' into {base}",
                0,
                cwd,
                merging,
            ),
        ]
        return Episode(
            steps,
            (
                f"Merging {feature} into {base} conflicted in {', '.join(files)}; "
                f"the conflicts were resolved and the merge committed as {sha}."
            ),
            [
                success(f"Updated {base}", ["git pull"], f"fast-forward, {changed} files changed"),
                success(
                    f"Merged {feature} into {base}",
                    [f"git add {' '.join(files)}", "git commit --no-edit"],
                    (
                        f"merge commit {sha}; {code(f'git merge {feature}')} had stopped "
                        f"on conflicts in {', '.join(files)}"
                    ),
                ),
            ],
            [],
            [f"Run the test suite on {base} before pushing the merge"],
        )
    return Episode(
        steps,
        (
            f"Merging {feature} into {base} stopped on conflicts in {', '.join(files)}; "
            "the repository is left mid-merge."
        ),
        [success(f"Updated {base}", ["git pull"], f"fast-forward, {changed} files changed")],
        [
            blocker(
                f"{code(f'git merge {feature}')} stops with conflicts in {', '.join(files)}",
                f"{base} is mid-merge; nothing can be committed or pushed until it is resolved",
                f"Authors of {feature} and of the conflicting change on {base}",
                (
                    "Resolve the markers in each file, `git add` them and `git commit`; "
                    "or `git merge --abort` to start over"
                ),
            )
        ],
        [
            "`git mergetool` or the editor's merge view",
            "`git log --merge -p` shows the commits that touch the conflicting lines",
        ],
    )
