"""`scrub_option`: the `scrub` section of params.yaml, shared by every stage that makes records.

Secrets and personal data are replaced where a record is first made (each ingest and collect
stage, and rejects' excerpts), so no output, cache, DVC remote or LLM request holds them; curate
checks again. One section keeps every such stage on the same settings.
"""

from collections.abc import Iterable
from typing import Any

import msgspec

from stages.common.envname import env_name_problem
from stages.common.params import section_option
from stages.common.pseudonyms import Pseudonyms
from stages.common.scrub import Scrubber, environment_secrets


class ScrubSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    secrets: bool = True  # API keys, tokens, private keys, passwords
    pii: bool = True  # e-mail, phone, IP addresses, home-directory user names
    env: tuple[str, ...] = ("DISCORD_API_TOKEN", "OPENAI_API_KEY")  # values replaced anywhere
    salt: str = ""  # changes every Discord pseudonym at once

    def scrubber(self) -> Scrubber:
        return Scrubber(
            secrets=self.secrets, pii=self.pii, known_values=environment_secrets(self.env)
        )

    def pseudonyms(self) -> Pseudonyms | None:
        """Discord users behind pseudonyms: personal data, so with `pii`."""
        return Pseudonyms(self.salt) if self.pii else None

    def user_ids(self, ids: Iterable[str]) -> tuple[str, ...]:
        """Ids as the records hold them (`allowed_users` names real people)."""
        names = self.pseudonyms()
        return tuple(sorted({names.user_id(i) if names else i for i in map(str, ids)}))


def scrub_settings(values: dict[str, Any]) -> ScrubSettings:
    """Validate the `scrub` mapping; a secret pasted where a variable NAME goes is refused
    without being repeated."""
    for name in values.get("env") or ():
        problem = env_name_problem(str(name), "scrub.env", "OPENAI_API_KEY")
        if problem is not None:
            raise ValueError(problem)
    try:
        return msgspec.convert(values, ScrubSettings)
    except msgspec.ValidationError as error:
        raise ValueError(f"scrub: {error}") from None


scrub_option = section_option("scrub", scrub_settings, ValueError, "pii=false")
