"""Near-duplicate removal on 10,000 and 100,000 conversations with planted near-duplicates.

Each corpus is made of distinct tool-log-like conversations (a request, a call, its output,
a reply; words drawn from a Zipf-like vocabulary, so unrelated records share common words
and the tool's boilerplate) plus, for one in ten, a planted copy: a few words changed, case
and spacing changed, a word added. The records go through curate's own NearDuplicates
(stages/curation/near_dup.py) at the default threshold; a pair counts as found when both
records land in one group. Prints recall and precision on the planted pairs for each size,
then, last, the time ratio t(100k) / t(10k) (linear would be 10).

    python tests/bench/near_dedup.py [--threshold 0.8] [--compare]

`--compare` also times datasketch's MinHash + MinHashLSH on the 10,000 records, if installed.
"""

import argparse
import random
import time
from itertools import combinations

from schemas.conversation import Conversation, FunctionCall, Message, ToolCall
from stages.curation.near_dup import NearDuplicates, shingles, signature_text
from stages.dedupe import dedupe_key

VOCAB = [f"{a}{b}{c}" for a in "bcdfgklmnprstv" for b in "aeiou" for c in range(40)]
WEIGHTS = [1 / (rank + 10) for rank in range(len(VOCAB))]


def text(rng: random.Random, n: int) -> list[str]:
    return rng.choices(VOCAB, WEIGHTS, k=n)


def record(words: list[list[str]], key: int) -> Conversation:
    query, args, output, reply = (" ".join(w) for w in words)
    call = ToolCall(id="c1", function=FunctionCall(name="bank", arguments=f'{{"q":"{args}"}}'))
    return Conversation(
        id=str(key),
        source="toollog",
        messages=[
            Message(role="user", content=query),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id="c1", content=output),
            Message(role="assistant", content=reply),
        ],
    )


def perturb(rng: random.Random, words: list[list[str]]) -> list[list[str]]:
    """A near-duplicate: 1-3 % of the words replaced, one capitalised, one word added."""
    out = [list(part) for part in words]
    flat = [(i, j) for i, part in enumerate(out) for j in range(len(part))]
    for i, j in rng.sample(flat, max(1, round(len(flat) * rng.uniform(0.01, 0.03)))):
        out[i][j] = rng.choice(VOCAB)
    i, j = rng.choice(flat)
    out[i][j] = out[i][j].upper()
    out[0].append("please")
    return out


def corpus(n: int, seed: int) -> tuple[list[Conversation], set[tuple[int, int]]]:
    rng = random.Random(seed)
    records, planted = [], set()
    while len(records) < n:
        words = [text(rng, rng.randint(8, 20)), text(rng, 4), text(rng, rng.randint(40, 120))]
        words.append(text(rng, rng.randint(8, 30)))
        records.append(record(words, len(records)))
        if rng.random() < 0.1 and len(records) < n:
            planted.add((len(records) - 1, len(records)))
            records.append(record(perturb(rng, words), len(records)))
    return records, planted


def groups(records: list[Conversation], threshold: float) -> tuple[list[list[int]], float]:
    copies = NearDuplicates(threshold)
    start = time.perf_counter()
    for r in records:
        copies.add(dedupe_key(r), signature_text(r), 0)
    found = [g for g in copies.groups() if len(g) > 1]
    copies.losers()
    return found, time.perf_counter() - start


def score(found: list[list[int]], planted: set[tuple[int, int]]) -> tuple[float, float]:
    pairs = {pair for g in found for pair in combinations(sorted(g), 2)}
    hits = len(pairs & planted)
    return hits / len(planted), hits / len(pairs) if pairs else 1.0


def datasketch_seconds(records: list[Conversation], threshold: float) -> float:
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    for i, r in enumerate(records):
        m = MinHash(num_perm=128, seed=13)
        m.update_batch([s.encode() for s in shingles(signature_text(r))])
        lsh.query(m)
        lsh.insert(str(i), m)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    seconds = {}
    for n in (10_000, 100_000):
        records, planted = corpus(n, seed=n)
        found, seconds[n] = groups(records, args.threshold)
        recall, precision = score(found, planted)
        print(
            f"{n} conversations, {len(planted)} planted pairs: recall {recall:.4f}, "
            f"precision {precision:.4f}, {seconds[n]:.2f} s"
        )
        if args.compare and n == 10_000:
            other = datasketch_seconds(records, args.threshold)
            print(f"datasketch MinHash + MinHashLSH on the same {n}: {other:.2f} s")
    print(f"time ratio t(100k)/t(10k): {seconds[100_000] / seconds[10_000]:.2f}")


if __name__ == "__main__":
    main()
