"""Tool catalogs: the JSON list of function definitions a user gives for their assistant."""

from pathlib import Path

import msgspec

from schemas.conversation import Tool
from stages.common.source_folders import local_path
from stages.common.user_error import UserError


def load_catalog(path: str | Path) -> list[Tool]:
    """Tool definitions in catalog order; an unreadable file or a name given twice is an error."""
    try:
        tools = msgspec.json.decode(local_path(path).read_bytes(), type=list[Tool])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UserError(f"{path}: not a usable tool catalog: {error}") from error
    names = [tool.function.name for tool in tools]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"{path}: tools defined twice: {', '.join(repeated)}")
    return tools
