"""Scenario families of delivery and operations: CI runs, alerts, queries, load tests."""

from random import Random

from stages.synthesis.episode import Episode, blocker, code, success
from stages.synthesis.scenario_details import (
    World,
    clock,
    day,
    home_dir,
    pick,
    short_sha,
    uuid_text,
)
from stages.synthesis.terminal import Step, bold, dim, green, red, yellow

JOBS = ("lint", "build", "unit-tests", "integration-tests", "docker-image", "deploy-staging", "e2e")


def _minutes(rng: Random) -> str:
    return f"{rng.randint(0, 9)}m{rng.randint(1, 59)}s"


def cicd_success(rng: Random, w: World) -> Episode:
    """A push and a green GitHub Actions run watched to the end."""
    cwd = home_dir(w)
    old, new = short_sha(rng), short_sha(rng)
    run_id = str(rng.randint(6_000_000_000, 9_999_999_999))
    workflow = rng.choice(["CI", "Build and deploy", "Pipeline", "main"])
    jobs = pick(rng, JOBS, rng.randint(3, 6))
    times = {job: _minutes(rng) for job in jobs}
    push = f"git push origin {w.branch}"
    pushed = (
        f"To https://github.com/acme/{w.project}.git\n   {old}..{new}  {w.branch} -> {w.branch}"
    )
    watch = f"gh run watch {run_id} --exit-status"
    lines = [f"{green('✓')} {w.branch} {workflow} · {run_id}", "Triggered via push", "", "JOBS"]
    lines += [f"{green('✓')} {job} in {times[job]}" for job in jobs]
    lines.append("")
    lines.append(green(f"✓ Run {workflow} ({run_id}) completed with 'success'"))
    steps = [
        Step(push, pushed, 0, cwd, w.branch),
        Step(
            f"gh run list --branch {w.branch} --limit 1",
            (
                f"STATUS  TITLE{' ' * 20}WORKFLOW  BRANCH  EVENT  ID\n{yellow('*')} "
                f"      {w.branch} push     {workflow}  {w.branch}  push   {run_id}"
            ),
            0,
            cwd,
            w.branch,
        ),
        Step(watch, "\n".join(lines), 0, cwd, w.branch),
    ]
    return Episode(
        steps,
        f"Pushed {new} to {w.branch}; {workflow} run {run_id} passed ({', '.join(jobs)}).",
        [
            success(f"Pushed {w.branch}", [push], f"{old}..{new}"),
            success(
                f"{workflow} green",
                [watch],
                ", ".join(f"{job} {times[job]}" for job in jobs),
                "completed with 'success'",
            ),
        ],
        [],
        [f"Open the pull request for {w.branch} if it is not open yet"],
    )


ALERTS = (
    ("HighErrorRate", "critical", "5xx ratio above 5% for 10m"),
    ("HighLatencyP95", "warning", "p95 latency above 800ms for 15m"),
    ("PodCrashLooping", "critical", "pod restarting more than 3 times in 10m"),
    ("DiskWillFillIn4Hours", "warning", "filesystem predicted to fill within 4h"),
    ("TargetDown", "critical", "scrape target down for 5m"),
)


def prometheus_alerts(rng: Random, w: World) -> Episode:
    """Firing alerts and a health check: the service is failing, or recovered and silenced."""
    cwd = home_dir(w)
    amtool = "amtool alert query --alertmanager.url=http://alertmanager:9093"
    firing = pick(rng, ALERTS, rng.randint(1, 2))
    started = f"{day(rng)} {clock(rng)}:00 UTC"
    table = (
        "Alertname"
        + " " * 14
        + "Starts At                Summary\n"
        + "\n".join(f"{red(name):<24} {started}  {w.project}: {text}" for name, _, text in firing)
    )
    port = rng.choice([8080, 8000, 9000])
    health = f"curl -sS --fail http://{w.project}:{port}/healthz"
    steps = [Step(amtool, table, 0, cwd, w.branch)]
    names = ", ".join(name for name, _, _ in firing)
    listed = success("Listed firing alerts", [amtool], f"firing: {names}")
    if rng.random() < 0.5:
        status = rng.choice([500, 502, 503])
        steps.append(
            Step(
                health,
                red(f"curl: (22) The requested URL returned error: {status}"),
                22,
                cwd,
                w.branch,
            )
        )
        return Episode(
            steps,
            f"{names} firing for {w.project} and its health check returns HTTP {status}.",
            [listed],
            [
                blocker(
                    f"{code(health)} fails with HTTP {status} while {names} fires",
                    f"{w.project} in {w.env} is unhealthy; users are likely affected",
                    f"{w.project} on-call",
                    (
                        "Check the service's recent deploys and logs, then its dependencies, "
                        "before silencing anything"
                    ),
                )
            ],
            [
                "Grafana dashboard of the service for the alert window",
                "Runbook linked from the alert annotations",
            ],
        )
    silence = (
        f"amtool silence add alertname={firing[0][0]} service={w.project} "
        '--duration=2h --comment="deploy in progress" --alertmanager.url=http://alertmanager:9093'
    )
    silence_id = uuid_text(rng)
    steps += [
        Step(health, '{"status":"ok"}', 0, cwd, w.branch),
        Step(silence, silence_id, 0, cwd, w.branch),
    ]
    return Episode(
        steps,
        (
            f"{names} fired for {w.project} while its health check answered "
            f"ok; {firing[0][0]} was silenced for 2h during the deploy."
        ),
        [
            listed,
            success("Service healthy", [health], f"{w.project}:{port}", '{"status":"ok"}'),
            success(f"Silenced {firing[0][0]}", [silence], f"silence {silence_id}, duration 2h"),
        ],
        [],
        [
            (
                f"Expire silence {silence_id} once the deploy is done: `amtool "
                f"silence expire {silence_id}`"
            )
        ],
    )


# a query, what it measures, and the range its value falls in (requests/s, seconds, bytes)
QUERIES = (
    (
        'sum(rate(http_requests_total{{job="{job}",code=~"5.."}}[5m]))',
        "the server-error request rate",
        (0.01, 40.0),
    ),
    (
        "histogram_quantile(0.95, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{{job="{job}"}}[5m])))',
        "the 0.95 quantile of latency",
        (0.02, 2.5),
    ),
    (
        'sum(container_memory_working_set_bytes{{pod=~"{job}-.*"}})',
        "working-set memory in bytes",
        (2e8, 8e9),
    ),
    ('count(up{{job="{job}"}} == 0)', "targets down", (1, 3)),
)


def prometheus_queries(rng: Random, w: World) -> Episode:
    cwd = home_dir(w)
    url = "http://prometheus:9090"
    chosen = pick(rng, QUERIES, rng.randint(1, 3))
    steps, found = [], []
    stamp = rng.randint(1_760_000_000, 1_790_000_000)
    for template, meaning, (low, high) in chosen:
        query = template.format(job=w.project)
        drawn = rng.uniform(low, high)
        value = str(round(drawn)) if high >= 3 and low >= 1 else f"{drawn:.3f}"
        command = f"promtool query instant {url} '{query}'"
        steps.append(Step(command, f"{{}} => {value} @[{stamp}]", 0, cwd, w.branch))
        found.append((command, value, meaning))
    successes = [
        success(f"Queried {meaning}", [c], f"value {v}", f"{{}} => {v}") for c, v, meaning in found
    ]
    if rng.random() < 0.4:
        bad = f'rate(http_requests_total{{job="{w.project}"[5m])'
        command = f"promtool query instant {url} '{bad}'"
        column = bad.index("[") + 1
        error = (
            f'query error: bad_data: 1:{column}: parse error: unexpected "[" '
            'in label matching, expected "," or "}"'
        )
        steps.append(Step(command, red(error), 1, cwd, w.branch))
        return Episode(
            steps,
            f"Queried {url} for {w.project}; a last query was rejected with a parse error.",
            successes,
            [
                blocker(
                    f"{code(command)} fails: bad_data parse error at 1:{column}",
                    "The request-rate figure is missing from the investigation",
                    "The person writing the query",
                    "Close the label matcher with } before the range selector",
                )
            ],
            ["Prometheus docs: querying basics"],
        )
    listing = "; ".join(f"{meaning} = {value}" for _, value, meaning in found)
    return Episode(
        steps,
        f"Queried {url} for {w.project}: {listing}.",
        successes,
        [],
        ["Save these queries as a Grafana panel for the next incident"],
    )


def apache_bench_load_test(rng: Random, w: World) -> Episode:
    cwd = home_dir(w)
    requests, concurrency = rng.choice([1000, 2000, 5000, 10000]), rng.choice([10, 25, 50, 100])
    path = rng.choice(["/api/products", "/health", "/api/search?q=shoes", "/api/orders/recent"])
    port = rng.choice([8080, 8000, 3000])
    url = f"http://localhost:{port}{path}"
    command = f"ab -n {requests} -c {concurrency} {url}"
    header = (
        "This is ApacheBench, Version 2.3 <$Revision: 1903618 $>\nBenchmarking "
        f"localhost (be patient)\nCompleted {requests // 10} requests"
    )
    if rng.random() < 0.35:
        done = rng.randint(requests // 5, requests - 1)
        out = (
            header
            + "\n"
            + red("apr_socket_recv: Connection reset by peer (104)")
            + f"\nTotal of {done} requests completed"
        )
        steps = [Step(command, out, 1, cwd, w.branch)]
        return Episode(
            steps,
            (
                f"The ab load test on {url} aborted after {done} of {requests} "
                f"requests: connection reset by peer at concurrency {concurrency}."
            ),
            [],
            [
                blocker(
                    f"{code(command)} aborts: Connection reset by peer (104) after {done} requests",
                    (
                        f"No throughput figure for {path}; the server drops connections "
                        f"at concurrency {concurrency}"
                    ),
                    f"{w.project} backend team",
                    (
                        "Check the server's worker and connection limits and its logs "
                        "at the time of the reset; retry at lower concurrency"
                    ),
                )
            ],
            ["`ss -s` on the server during the test to watch connection counts"],
        )
    rps = f"{rng.uniform(80, 4000):.2f}"
    mean = f"{concurrency * 1000 / float(rps):.3f}"
    failed = rng.choice([0, 0, 0, rng.randint(1, 60)])
    # ab's mean time per request is concurrency / throughput; the percentiles spread around it
    p50 = max(1, round(float(mean) * rng.uniform(0.7, 1.1)))
    p95 = round(p50 * rng.uniform(1.3, 3.0)) + 1
    p99 = round(p95 * rng.uniform(1.1, 2.0)) + 1
    out = (
        header
        + (
            f"\n{dim('...')}\nConcurrency Level:      {concurrency}\nComplete "
            f"requests:      {requests}\nFailed requests:        {failed}\n"
        )
        + (
            f"Requests per second:    {bold(rps)} [#/sec] (mean)\nTime per "
            f"request:       {mean} [ms] (mean)\n\n"
        )
        + (
            "Percentage of the requests served within a certain time (ms)\n "
            f" 50%    {p50}\n  95%    {p95}\n  99%    {p99}\n 100%    {p99 + rng.randint(1, 400)} "
            "(longest request)"
        )
    )
    steps = [Step(command, out, 0, cwd, w.branch)]
    resources = [f"Compare with the previous run of {path} before and after the change"]
    if failed:
        resources.append(
            f"{failed} failed requests: check the server log for errors during the run"
        )
    return Episode(
        steps,
        (
            f"ab sent {requests} requests at concurrency {concurrency} to "
            f"{url}: {rps} requests per second, 95% within {p95} ms, {failed} "
            "failed."
        ),
        [
            success(
                f"Load test of {path} completed",
                [command],
                f"{rps} req/s, mean {mean} ms, 50% {p50} ms, 95% {p95} ms, 99% {p99} ms",
                f"Complete requests: {requests}, Failed requests: {failed}",
            )
        ],
        [],
        resources,
    )
