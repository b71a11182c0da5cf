"""Fake credentials and personal data, one of each kind the scrubber must catch.

Values are random-looking (a seeded generator), as real keys are: gitleaks' rules leave
alone a value too regular to be a key (`ghp_aaaa…`), and so does the scrubber.
"""

import random
import string

_rng = random.Random(20261205)
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def _random(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


AWS_SECRET = _random(40, B64)
PEM_LINES = [_random(70, B64), _random(70, B64)]

# (name, text as a person would paste it, the part that must disappear)
SECRETS: list[tuple[str, str, str]] = [
    ("aws_secret_config", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("aws_secret_export", f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET[::-1]}", AWS_SECRET[::-1]),
    (
        "truncated_pem",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(PEM_LINES),
        PEM_LINES[0],
    ),
    ("db_password_export", "export DB_PASSWORD=hunter2", "hunter2"),
    ("openai_key_other_shape", f"export OPENAI_API_KEY={(k := _random(32))}", k),
    ("password_flag", "mysql --password hunter3 -h db", "hunter3"),
    ("password_flag_equals", "psql --password=Tr0ub4dor", "Tr0ub4dor"),
    ("basic_auth", "Authorization: Basic YW5uOmh1bnRlcjQ=", "YW5uOmh1bnRlcjQ="),
    ("bearer", f"Authorization: Bearer {(k := _random(32))}", k),
    ("openai_key", f"key: sk-proj-{(k := _random(48))}", k),
    ("anthropic_key", f"sk-ant-api03-{(k := _random(93))}AA", k),
    ("aws_access_key", f"AKIA{(k := _random(16, string.ascii_uppercase + '234567'))}", k),
    ("github_pat", f"ghp_{(k := _random(36))}", k),
    ("github_fine_grained", f"github_pat_{(k := _random(82, ALNUM + '_'))}", k),
    ("gitlab_pat", f"glpat-{(k := _random(20))}", k),
    (
        "slack_bot_token",
        f"xoxb-{_random(11, string.digits)}-{(k := _random(12, string.digits))}",
        k,
    ),
    (
        "slack_webhook",
        f"https://hooks.slack.com/services/T{_random(8, string.ascii_uppercase)}/"
        f"B{_random(8, string.ascii_uppercase)}/{(k := _random(24))}",
        k,
    ),
    ("discord_bot_token", f"MT{_random(22)}.{_random(6)}.{(k := _random(38))}", k),
    (
        "discord_webhook",
        f"https://discord.com/api/webhooks/{_random(18, string.digits)}/{(k := _random(68))}",
        k,
    ),
    ("google_api_key", f"AIza{(k := _random(35))}", k),
    ("stripe_key", f"sk_live_{(k := _random(24))}", k),
    ("huggingface_token", f"hf_{(k := _random(34, string.ascii_letters))}", k),
    ("npm_token", f"npm_{(k := _random(36))}", k),
    ("pypi_token", f"pypi-AgEIcHlwaS5vcmc{(k := _random(70))}", k),
    (
        "jwt",
        f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{(k := _random(43))}",
        k,
    ),
    ("url_password", "postgres://admin:S3cretPw99@db.internal:5432/app", "S3cretPw99"),
    ("yaml_token", f"api_token: {(k := _random(24))}", k),
]

PERSONAL: list[tuple[str, str, str]] = [
    ("email", "mail zoe.public@example.org today", "zoe.public@example.org"),
    ("phone", "call +1 415-555-0137 after six", "415-555-0137"),
    ("phone_parens", "or (415) 555-0199", "555-0199"),
    ("ipv4", "ssh ops@192.168.2.25 -p 22", "192.168.2.25"),
    ("ipv6", "bound to 2001:db8:85a3::8a2e:370:7334 ok", "2001:db8:85a3::8a2e:370:7334"),
    ("home_linux", "cd /home/dana/webapp && ls", "/home/dana"),
    ("home_mac", "open /Users/zoepublic/notes.md", "zoepublic"),
    ("claude_project_folder", "-home-dana-webapp/3f1c.jsonl", "-dana-"),
]

ALL = SECRETS + PERSONAL
