"""A markdown journal as entries: a heading, and the blocks that belong to it.

markdown-it-py (CommonMark) does the parsing, so fences, lists, setext headings
and indented code are read the way every markdown renderer reads them; this
module only groups its block tokens. A heading whose title is a part label
("### Root cause", "### Before") belongs to its parent entry and is flattened
into the parent's blocks as a label; every other heading starts an entry. A
paragraph or list item is cut before each line that opens with a tag, so
"**Problem:** …" and "**Fix:** …" on consecutive lines are two labels, as they
read, not one paragraph.
"""

from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.parser_block import ParserBlock
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token

from stages.sources.journals.labels import (
    ANTI_VERBS,
    CHAIN_KINDS,
    CODE_KINDS,
    Label,
    clean_title,
    fence_label,
    find_label,
    split_at_tags,
    title_label,
)

BlockKind = Literal["prose", "fence", "list", "item", "label", "too_deep"]


class _BoundedBlockParser(ParserBlock):
    """markdown-it's block parser, but a container nested past `maxNesting` loses only itself.

    markdown-it stops at that depth by skipping to the end of the enclosing
    range, which for a list is the end of the document: every later entry
    vanished. Here the too-deep container's own lines (up to the first line
    indented less than its content) become one "too_deep" token, and parsing
    goes on after them.
    """

    def tokenize(self, state: StateBlock, startLine: int, endLine: int) -> None:
        if state.level < state.md.options.maxNesting or startLine >= endLine:
            super().tokenize(state, startLine, endLine)
            return
        end = startLine + 1
        for line in range(startLine + 1, endLine):
            if state.isEmpty(line):
                continue
            if state.sCount[line] < state.blkIndent:
                break
            end = line + 1
        token = state.push("too_deep", "", 0)
        token.map = [startLine, end]
        state.line = end


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark")
    bounded = _BoundedBlockParser()
    bounded.ruler = parser.block.ruler  # the rules as the commonmark preset configured them
    parser.block = bounded
    return parser


_parser = _markdown()
# markdown-it's limit counts a list level twice (list, item) and the item's content once more.
MAX_LIST_DEPTH = (_parser.options.maxNesting - 1) // 2


@dataclass(frozen=True)
class Block:
    """One block of an entry. `text` is its markdown, as it would be rendered back."""

    kind: BlockKind
    line: int  # 1-based
    text: str
    label: Label | None = None  # kind "label"
    info: str = ""  # kind "fence": the info string, the code, its bad/good label
    code: str = ""
    code_label: str | None = None
    code_note: str = ""
    closed: bool = True
    items: tuple["Block", ...] = ()  # kind "list": one "item" block per item


@dataclass
class Section:
    title: str
    level: int
    line: int
    blocks: list[Block] = field(default_factory=list)
    children: list["Section"] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """A unit of the journal that may hold an example: a title and a flat list of blocks."""

    title: str
    line: int
    blocks: tuple[Block, ...]
    title_label: Label | None
    has_children: bool


def _close_index(tokens: list[Token], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index
    return len(tokens) - 1


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _fence(token: Token, lines: list[str]) -> Block:
    info = token.info.strip()
    markup = token.markup or "```"
    closed = True
    if token.type == "fence" and token.map:
        last = token.map[1] - 1
        closing = lines[last].strip() if last < len(lines) else ""
        closed = last > token.map[0] and closing.startswith(markup) and not closing.strip(markup[0])
    kind, code, note = fence_label(info, token.content)
    fence_info = info if token.type == "fence" else ""
    text = f"```{fence_info}\n{token.content}```"
    return Block(
        "fence",
        _line(token),
        text,
        info=fence_info,
        code=code,
        code_label=kind,
        code_note=note,
        closed=closed,
    )


def _list(tokens: list[Token], start: int, end: int, lines: list[str]) -> list[Block]:
    """The list as one block, then a "too_deep" block for each item nested past the limit."""
    ordered = tokens[start].type == "ordered_list_open"
    items: list[Block] = []
    too_deep: list[Block] = []
    index = start + 1
    while index < end:
        token = tokens[index]
        close = _close_index(tokens, index)
        if token.type == "list_item_open":
            inner = _blocks(tokens, index + 1, close, lines)
            too_deep.extend(block for block in inner if block.kind == "too_deep")
            text = "\n\n".join(block.text for block in inner if block.kind != "too_deep")
            items.append(Block("item", _line(token), text))
        index = close + 1
    marks = [f"{n}. " if ordered else "- " for n in range(1, len(items) + 1)]
    text = "\n".join(
        mark + item.text.replace("\n", "\n" + " " * len(mark))
        for mark, item in zip(marks, items, strict=True)
    )
    return [Block("list", _line(tokens[start]), text, items=tuple(items)), *too_deep]


def _blocks(tokens: list[Token], start: int, end: int, lines: list[str]) -> list[Block]:
    """The blocks among tokens[start:end], headings included as "heading" prose."""
    blocks: list[Block] = []
    index = start
    while index < end:
        token = tokens[index]
        close = _close_index(tokens, index)
        if token.type in ("paragraph_open", "heading_open"):
            prefix = "#" * int(token.tag[1:]) + " " if token.type == "heading_open" else ""
            blocks.append(Block("prose", _line(token), prefix + tokens[index + 1].content))
        elif token.type in ("fence", "code_block"):
            blocks.append(_fence(token, lines))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            blocks.extend(_list(tokens, index, close, lines))
        elif token.type == "too_deep" and token.map:
            source = "\n".join(lines[token.map[0] : token.map[1]])
            blocks.append(Block("too_deep", _line(token), source))
        elif token.type != "hr" and token.map:
            source = "\n".join(lines[token.map[0] : token.map[1]]).strip()
            if source:
                blocks.append(Block("prose", _line(token), source))
        index = close + 1
    return blocks


def _pieces(block: Block) -> list[Block]:
    """A paragraph or item cut before each line that opens with a tag, lines kept."""
    return [
        Block(block.kind, block.line + offset, text) for offset, text in split_at_tags(block.text)
    ]


def _as_label(block: Block) -> Block:
    """A paragraph opening with a tag ("**Fix:** …", "❌ Wrong:") becomes a label block."""
    label = find_label(block.text)
    if label is None or not label.tagged:
        return block
    return Block("label", block.line, block.text, label=label)


def _item_label(item: Block) -> Label | None:
    label = find_label(item.text)
    if label is None:
        return None
    if label.tagged or (label.word in ANTI_VERBS and label.rest):
        return label
    return None


def _expand_list(block: Block) -> list[Block]:
    """A list whose items carry labels ("- **Problem:** …", "- Never …") becomes one block each."""
    pieces = [piece for item in block.items for piece in _pieces(item)]
    labels = [_item_label(piece) for piece in pieces]
    if not any(labels):
        return [block]
    return [
        Block("label", piece.line, piece.text, label=label) if label else piece
        for piece, label in zip(pieces, labels, strict=True)
    ]


def _normalise(block: Block) -> list[Block]:
    if block.kind == "prose":
        return [_as_label(piece) for piece in _pieces(block)]
    if block.kind == "list":
        return _expand_list(block)
    return [block]


def sections(text: str) -> Section:
    """The heading tree of a document; the root holds what precedes the first heading."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    tokens = _parser.parse(text)
    root = Section("", 0, 1)
    stack = [root]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        close = _close_index(tokens, index)
        if token.type == "heading_open":
            level = int(token.tag[1:])
            while stack[-1].level >= level:
                stack.pop()
            section = Section(tokens[index + 1].content.strip(), level, _line(token))
            stack[-1].children.append(section)
            stack.append(section)
        else:
            for block in _blocks(tokens, index, close + 1, lines):
                stack[-1].blocks.extend(_normalise(block))
        index = close + 1
    return root


def _is_part(section: Section) -> bool:
    """A child heading that labels a part of its parent rather than starting an entry."""
    label = title_label(section.title)
    if label is None or not label.kinds & (CHAIN_KINDS | CODE_KINDS):
        return False
    return not ("anti" in label.kinds and label.rest)


def _flatten(section: Section) -> list[Block]:
    blocks = list(section.blocks)
    for child in section.children:
        label = title_label(child.title)
        if label is not None and _is_part(child):
            blocks.append(Block("label", child.line, child.title, label=label))
        else:
            prefix = "#" * child.level
            blocks.append(Block("prose", child.line, f"{prefix} {child.title}"))
        blocks.extend(_flatten(child))
    return blocks


def entries(root: Section) -> list[Entry]:
    """Every entry of the tree, in document order."""
    found: list[Entry] = []

    def visit(section: Section) -> None:
        blocks = list(section.blocks)
        own_children = []
        for child in section.children:
            if _is_part(child):
                label = title_label(child.title)
                blocks.append(Block("label", child.line, child.title, label=label))
                blocks.extend(_flatten(child))
            else:
                own_children.append(child)
        label = title_label(section.title) if section.level else None
        found.append(
            Entry(
                clean_title(section.title),
                section.line,
                tuple(blocks),
                label,
                has_children=bool(own_children),
            )
        )
        for child in own_children:
            visit(child)

    visit(root)
    return found
