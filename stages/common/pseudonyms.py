"""Stable friendly pseudonyms for Discord users: the same person, the same name, everywhere.

A keyed hash (HMAC-SHA256 of the user id, keyed by `scrub.salt`) picks a name from two word
lists and a stand-in id, so two runs, two processes or two machines give a user the same
pseudonym with no table to keep, and a team that changes the salt changes them all. The
stand-in id is a number like a Discord id, so the stages after collect need not know.
"""

import hashlib
import hmac
import re

ADJECTIVES = [
    "Amber",
    "Azure",
    "Bold",
    "Brave",
    "Bright",
    "Brisk",
    "Calm",
    "Clever",
    "Coral",
    "Crimson",
    "Curious",
    "Dapper",
    "Eager",
    "Fleet",
    "Gentle",
    "Golden",
    "Hardy",
    "Hazel",
    "Honest",
    "Indigo",
    "Ivory",
    "Jade",
    "Jolly",
    "Keen",
    "Kind",
    "Lively",
    "Lucky",
    "Maple",
    "Mellow",
    "Merry",
    "Misty",
    "Nimble",
    "Noble",
    "Ochre",
    "Olive",
    "Patient",
    "Plucky",
    "Proud",
    "Quick",
    "Quiet",
    "Rapid",
    "Rosy",
    "Rustic",
    "Sage",
    "Scarlet",
    "Shy",
    "Silver",
    "Sleek",
    "Snowy",
    "Spry",
    "Steady",
    "Sunny",
    "Swift",
    "Tawny",
    "Teal",
    "Tidy",
    "Umber",
    "Valiant",
    "Velvet",
    "Vivid",
    "Warm",
    "Wise",
    "Witty",
    "Zesty",
]
ANIMALS = [
    "Badger",
    "Bear",
    "Beaver",
    "Bison",
    "Crane",
    "Cricket",
    "Deer",
    "Dolphin",
    "Eagle",
    "Falcon",
    "Ferret",
    "Finch",
    "Fox",
    "Gecko",
    "Goose",
    "Hare",
    "Hawk",
    "Hedgehog",
    "Heron",
    "Ibis",
    "Jackal",
    "Jay",
    "Koala",
    "Lark",
    "Lemur",
    "Lion",
    "Lynx",
    "Magpie",
    "Marten",
    "Mole",
    "Moose",
    "Moth",
    "Newt",
    "Otter",
    "Owl",
    "Panda",
    "Parrot",
    "Pelican",
    "Penguin",
    "Pike",
    "Puffin",
    "Quail",
    "Rabbit",
    "Raven",
    "Robin",
    "Salmon",
    "Seal",
    "Shrew",
    "Sparrow",
    "Stoat",
    "Swan",
    "Tapir",
    "Tern",
    "Tiger",
    "Toad",
    "Trout",
    "Turtle",
    "Vole",
    "Walrus",
    "Weasel",
    "Whale",
    "Wolf",
    "Wren",
    "Yak",
]
USER_MENTION = re.compile(r"<@!?(\d+)>")


class Pseudonyms:
    def __init__(self, salt: str) -> None:
        self._key = ("logtune pseudonym:" + salt).encode()

    def _digest(self, user_id: str) -> bytes:
        return hmac.new(self._key, user_id.encode(), hashlib.sha256).digest()

    def name(self, user_id: str) -> str:
        digest = self._digest(user_id)
        return f"{ADJECTIVES[digest[0] % len(ADJECTIVES)]} {ANIMALS[digest[1] % len(ANIMALS)]}"

    def user_id(self, user_id: str) -> str:
        """A stand-in id: 17 digits, as long as a real one, never equal to the real one."""
        stand_in = str(10**16 + int.from_bytes(self._digest(user_id)[2:9]) % (9 * 10**16))
        return stand_in if stand_in != user_id else str(int(stand_in) + 1)

    def mentions(self, text: str) -> str:
        """`<@id>` and `<@!id>` tokens with the stand-in id in place of the real one."""
        return USER_MENTION.sub(lambda m: f"<@{self.user_id(m.group(1))}>", text)
