"""curate: filter, de-duplicate, cap and split the conversations of every source.

Reads:  conversation JSONL files or folders of parts (arguments), in the order given.
Writes: train.jsonl, validation.jsonl, dropped.jsonl (id, reason, provenance), stats.json.
Params: curate.min_rating, curate.drop_unrated, curate.validation_fraction,
        curate.scrub_secrets, curate.scrub_pii, curate.secret_env, max_samples, seed.

Two streaming passes keep memory at a few dozen bytes per record: the first
decides what survives the filters and which `max_samples` are kept, the second
scrubs secrets and personal data from them and writes them. Which samples are
kept depends only on their ids and the seed, never on the input order, so adding
a source never reshuffles the others at random.
"""

import hashlib
import json
from pathlib import Path

import click

from schemas.conversation import Conversation
from schemas.reject import Dropped
from stages.common.cli import setup_logging, stage_command
from stages.common.envname import EnvName
from stages.common.jsonl import JsonlWriter, read_all, records_size
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.scrub import KINDS, Scrubber, environment_secrets
from stages.common.stats import Stats
from stages.dedupe import dedupe_key

DROP_REASONS = ("duplicate", "rating_below_min", "unrated", "over_max_samples")


def drop_reason(
    conversation: Conversation, *, min_rating: int | None, drop_unrated: bool
) -> str | None:
    """Keep (None), or the reason a conversation fails the filters."""
    rating = conversation.labels.rating
    if rating is None:
        return "unrated" if drop_unrated else None
    if min_rating is not None and rating < min_rating:
        return "rating_below_min"
    return None


def selection_key(record_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest()


def choose(
    keys: dict[str, str], max_samples: int | None, validation_fraction: float
) -> tuple[set[str], set[str]]:
    """The ids kept for training and for validation, by their seeded keys."""
    ranked = sorted(keys, key=keys.__getitem__)
    if max_samples is not None:
        ranked = ranked[:max_samples]
    n_validation = round(len(ranked) * validation_fraction)
    cut = len(ranked) - n_validation
    return set(ranked[:cut]), set(ranked[cut:])


@stage_command
@stage_params("curate", top_level=("max_samples", "seed"))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--min-rating",
    type=click.IntRange(1, 5),
    default=None,
    help="Drop rated conversations below this rating (1-5).",
)
@click.option(
    "--drop-unrated/--keep-unrated",
    default=False,
    show_default=True,
    help="Whether conversations with no rating are dropped.",
)
@click.option(
    "--validation-fraction",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of the kept samples held out for validation.",
)
@click.option(
    "--max-samples",
    type=click.IntRange(min=0),
    default=None,
    help="Keep at most this many samples (all when unset).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the deterministic choice of kept and held-out samples.",
)
@click.option(
    "--scrub-secrets/--keep-secrets",
    default=True,
    show_default=True,
    help="Replace credentials (API keys, tokens, private keys, passwords) with [REDACTED:kind].",
)
@click.option(
    "--scrub-pii/--keep-pii",
    default=True,
    show_default=True,
    help="Replace e-mail addresses and IP addresses with [REDACTED:kind].",
)
@click.option(
    "--secret-env",
    multiple=True,
    type=EnvName("curate.secret_env", "OPENAI_API_KEY"),
    default=["DISCORD_API_TOKEN", "OPENAI_API_KEY"],
    show_default=True,
    help="Environment variables whose values are replaced wherever they appear (repeatable).",
)
@click.option("--out-dir", default="data/curated", show_default=True)
def main(
    inputs: tuple[str, ...],
    min_rating: int | None,
    drop_unrated: bool,
    validation_fraction: float,
    max_samples: int | None,
    seed: int,
    scrub_secrets: bool,
    scrub_pii: bool,
    secret_env: tuple[str, ...],
    out_dir: str,
) -> None:
    """Filter by rating, drop exact duplicates, cap, scrub secrets, split train/validation.

    Example: python -m stages.curate data/ingested/toollog/conversations --max-samples 25
    """
    setup_logging("curate")
    out = Path(out_dir)
    stats = Stats(
        ["read", *(f"dropped.{r}" for r in DROP_REASONS), *(f"scrubbed.{k}" for k in KINDS)]
    )
    scrubber = Scrubber(
        secrets=scrub_secrets, pii=scrub_pii, known_values=environment_secrets(secret_env)
    )
    with JsonlWriter(out / "dropped.jsonl") as dropped:
        keys = survivors(
            inputs, stats, dropped, min_rating=min_rating, drop_unrated=drop_unrated, seed=seed
        )
        train, validation = choose(keys, max_samples, validation_fraction)
        with (
            Progress("pass 2 of 2", total=records_size(inputs), unit="B") as progress,
            JsonlWriter(out / "train.jsonl") as train_out,
            JsonlWriter(out / "validation.jsonl") as validation_out,
        ):
            for conversation in read_all(inputs, Conversation, progress):
                if keys.pop(conversation.id, None) is None:
                    continue  # dropped in the first pass, or a repeat of a placed id
                if conversation.id in train:
                    train_out.write(scrubber.conversation(conversation))
                elif conversation.id in validation:
                    validation_out.write(scrubber.conversation(conversation))
                else:
                    drop(dropped, stats, conversation, "over_max_samples")
            stats.add("train", train_out.count)
            stats.add("validation", validation_out.count)
    stats.merge({f"scrubbed.{kind}": n for kind, n in scrubber.counts.items()})
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


def survivors(
    inputs: tuple[str, ...],
    stats: Stats,
    dropped: JsonlWriter,
    *,
    min_rating: int | None,
    drop_unrated: bool,
    seed: int,
) -> dict[str, str]:
    """First pass: the ids that pass the filters and are not duplicates, with their seeded keys."""
    seen: set[str] = set()
    keys: dict[str, str] = {}
    with Progress("pass 1 of 2", total=records_size(inputs), unit="B") as progress:
        for conversation in read_all(inputs, Conversation, progress):
            stats.add("read")
            reason = drop_reason(conversation, min_rating=min_rating, drop_unrated=drop_unrated)
            if reason is None:
                key = dedupe_key(conversation)
                reason = "duplicate" if key in seen or conversation.id in keys else None
                seen.add(key)
            if reason is None:
                keys[conversation.id] = selection_key(conversation.id, seed)
            else:
                drop(dropped, stats, conversation, reason)
    return keys


def drop(dropped: JsonlWriter, stats: Stats, conversation: Conversation, reason: str) -> None:
    stats.add(f"dropped.{reason}")
    dropped.write(
        Dropped(
            id=conversation.id,
            reason=reason,
            file=conversation.meta.file,
            line=conversation.meta.line,
        )
    )


if __name__ == "__main__":
    main()
