"""Commands a developer runs between tasks (ls, git log, uptime, df): they make sessions of one
family differ the way real ones do, and a good report leaves them out."""

from random import Random

from stages.synthesis.scenario_details import World, home_dir, pick, short_sha
from stages.synthesis.terminal import Step, blue, bold, yellow

COMMIT_SUBJECTS = (
    "Fix flaky retry test", "Bump dependencies", "Add request id to logs",
    "Refactor config loading",
    "Handle empty cart on checkout", "Document the release process", "Speed up CI cache",
    "Remove dead feature flag", "Validate webhook payload size", "Add metrics for queue depth",
    "Tidy up error messages", "Use UTC everywhere", "Split settings per environment",
    "Add index on created_at", "Guard against duplicate submissions", "Rename billing module",
)  # fmt: skip
FILES = (
    "README.md", "Makefile", "Dockerfile", "docker-compose.yml", "pyproject.toml", "package.json",
    "src", "tests", "docs", "scripts", "config", ".github", "migrations", "go.mod", "pom.xml",
    "requirements.txt", "tsconfig.json", "k8s", "terraform", "CHANGELOG.md", "LICENSE", "Procfile",
)  # fmt: skip


def _git_log(rng: Random, w: World) -> str:
    lines = [f"{yellow(short_sha(rng))} {s}" for s in pick(rng, COMMIT_SUBJECTS, rng.randint(2, 5))]
    lines[0] = lines[0].replace(" ", f" ({bold(f'HEAD -> {w.branch}')}) ", 1)
    return "\n".join(lines)


def _ls(rng: Random, w: World) -> str:
    names = sorted(pick(rng, FILES, rng.randint(5, 12)))
    return "  ".join(blue(n) if "." not in n else n for n in names)


def _uptime(rng: Random, w: World) -> str:
    loads = ", ".join(f"{rng.uniform(0, 4):.2f}" for _ in range(3))
    users = rng.randint(1, 6)
    who = "1 user" if users == 1 else f"{users} users"
    return (
        f" {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} up "
        f"{rng.randint(1, 300)} days, {who},  load average: {loads}"
    )


def _df(rng: Random, w: World) -> str:
    size = rng.choice([50, 100, 200, 500])
    used = rng.randint(size // 10, size * 9 // 10)
    return (
        "Filesystem      Size  Used Avail Use% Mounted on\n"
        f"/dev/nvme0n1p1  {size}G  {used}G  {size - used}G  {used * 100 // size}% /"
    )


def _status(rng: Random, w: World) -> str:
    changed = pick(
        rng,
        ("src/app.py", "README.md", "config/dev.yaml", "tests/conftest.py", "Makefile"),
        rng.randint(0, 2),
    )
    return f"## {w.branch}...origin/{w.branch}\n" + "\n".join(f" M {f}" for f in changed)


IN_PROJECT = (("git log --oneline -n 5", _git_log), ("ls", _ls), ("git status -sb", _status))
ANYWHERE = (("uptime", _uptime), ("df -h /", _df))


def idle_steps(rng: Random, w: World, cwd: str, branch: str | None, used: set[str]) -> list[Step]:
    """None, one or two looks around before a task, in the task's directory: what only makes
    sense in the project's checkout only there, and no command twice in a session (a second
    `git log` would have to show the same history)."""
    pool = [*(IN_PROJECT if cwd == home_dir(w) else ()), *ANYWHERE]
    pool = [(command, make) for command, make in pool if command not in used]
    chosen = pick(rng, pool, min(len(pool), rng.choice((0, 1, 1, 2))))
    used.update(command for command, _ in chosen)
    return [Step(command, make(rng, w).rstrip("\n"), 0, cwd, branch) for command, make in chosen]
