"""o200k_base from bpe-openai's compiled module alone: the same tokens and bytes as the
package's own wrapper, without the vocabularies its `__init__` loads."""

import random
import subprocess
import sys

import bpe_openai

from stages.formats.vocab import count_o200k, decode_o200k_bytes, encode_o200k

TEXT = "héllo 🐟 wörld, 日本語のテキスト\n\tdef f(x): return x ** 2  # ok\n" * 40


def test_tokens_and_bytes_are_the_packages_own() -> None:
    encoding = bpe_openai.get_encoding("o200k_base")
    tokens = encode_o200k(TEXT)
    assert tokens == encoding.encode_ordinary(TEXT)
    assert count_o200k(TEXT) == len(tokens)
    assert decode_o200k_bytes(tokens).decode() == TEXT
    rng = random.Random(3)
    anywhere = [rng.randrange(199_998) for _ in range(50_000)]  # every ordinary token id
    assert decode_o200k_bytes(anywhere) == encoding.decode_bytes(anywhere)
    cut = decode_o200k_bytes(tokens[1:-1])  # a slice may cut a character: bytes, not text
    assert cut == encoding.decode_bytes(tokens[1:-1])


def test_counting_leaves_the_package_and_its_vocabularies_unloaded() -> None:
    script = (
        "import sys\n"
        "from stages.formats.vocab import count_o200k, decode_o200k_bytes, encode_o200k\n"
        "assert count_o200k('hello world') == 2\n"
        "assert decode_o200k_bytes(encode_o200k('héllo')) == 'héllo'.encode()\n"
        "print(sorted(m for m in sys.modules if m.startswith('bpe_openai')))\n"
        "import bpe_openai\n"  # a later import of the package reuses the loaded module
        "encoding = bpe_openai.get_encoding('o200k_base')\n"
        "assert encoding.encode_ordinary('hello world') == [24912, 2375]\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['bpe_openai._bindings']"


def test_a_package_imported_before_gets_the_module_as_its_attribute() -> None:
    script = (
        "import bpe_openai\n"
        "from stages.formats.vocab import count_o200k\n"
        "assert count_o200k('hello world') == 2\n"
        "import bpe_openai._bindings\n"
        "assert bpe_openai._bindings.tokenizer_for_encoding('o200k_base').count('hi') == 1\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
