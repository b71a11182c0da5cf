"""The randomized details of a session: who, where, which project, and the helpers families
draw versions, counts and durations with. Every draw goes through the session's own
`random.Random`, so one seed gives one session."""

from random import Random
from typing import NamedTuple

USERS = (
    "dana", "mkovacs", "priya", "jlee", "omar", "sofia", "tbrown", "wei", "alex", "nkumar",
    "rgarcia", "emma", "hiro", "fatima", "lucas", "ines",
)  # fmt: skip
HOSTS = (
    "dev-laptop", "api-2", "build-04", "web-1", "bastion-eu", "ops-box", "staging-3",
    "workstation", "db-admin-1", "jenkins-07", "mbp-14", "devbox-2",
)  # fmt: skip
PROJECTS = (
    "payments-api", "shop-frontend", "inventory-svc", "auth-gateway", "billing-worker",
    "search-indexer", "notifications", "reporting", "catalog-service", "user-portal", "ledger",
    "checkout", "order-router", "pricing-engine", "media-proxy", "geo-lookup",
)  # fmt: skip
BRANCHES = (
    "main", "develop", "feature/checkout-v2", "fix/null-session", "release/2.4",
    "feat/rate-limit", "chore/deps-bump", "hotfix/login-timeout", "feature/search-facets",
    "refactor/db-pool", "feat/webhooks", "fix/currency-rounding", "feature/bulk-export",
)  # fmt: skip
ENVIRONMENTS = ("staging", "production", "qa", "dev")
REGIONS = ("eu-west-1", "us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2")


class World(NamedTuple):
    """What stays the same across the episodes of one session."""

    user: str
    host: str
    project: str
    branch: str
    env: str
    region: str


def new_world(rng: Random) -> World:
    return World(
        user=rng.choice(USERS),
        host=rng.choice(HOSTS),
        project=rng.choice(PROJECTS),
        branch=rng.choice(BRANCHES),
        env=rng.choice(ENVIRONMENTS),
        region=rng.choice(REGIONS),
    )


def version(rng: Random, major: tuple[int, int], minor: int = 20, patch: int = 15) -> str:
    """`x.y.z` with three parts: four would read as an IP address to the scrubber."""
    return f"{rng.randint(*major)}.{rng.randint(0, minor)}.{rng.randint(0, patch)}"


def seconds(rng: Random, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.2f}"


def pick(rng: Random, pool: tuple[str, ...] | list[str], k: int) -> list[str]:
    """k distinct items in a seeded order."""
    return rng.sample(list(pool), k)


def day(rng: Random, year: int = 2026) -> str:
    """A date as tools print it, `2026-03-17`; never today's: nothing reads the clock."""
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def clock(rng: Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"


def uuid_text(rng: Random) -> str:
    parts = (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16))
    return "{:08x}-{:04x}-{:04x}-{:04x}-".format(*parts) + f"{rng.getrandbits(48):012x}"


def short_sha(rng: Random) -> str:
    return f"{rng.getrandbits(28):07x}"


def home_dir(world: World) -> str:
    return f"~/{world.project}"
