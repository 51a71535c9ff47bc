"""Recipe errors: one clear message naming the key or file, the bad value and what would be valid.

Every bad input the user can type ends up as a :class:`RecipeError`; the CLI prints its message and exits with
code 2, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["EXIT_BAD_INPUT", "RecipeError", "did_you_mean"]

EXIT_BAD_INPUT = 2


def did_you_mean(value: str, choices: Iterable[str]) -> str | None:
    """The closest valid choice to a mistyped ``value``, if one is close enough to be a likely typo."""
    matches = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


class RecipeError(Exception):
    """A bad recipe: unknown key or option, wrong type, value out of range, missing file, illegal on target."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        value: object = None,
        valid: str | Sequence[str] | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.valid = valid
        self.suggestion = suggestion
        parts = [message]
        if suggestion:
            parts[0] = f"{message}; did you mean '{suggestion}'?"
        if valid:
            shown = valid if isinstance(valid, str) else ", ".join(str(v) for v in valid)
            parts.append(f"valid: {shown}")
        super().__init__("\n  ".join(parts))

    @classmethod
    def choice(cls, key: str, value: object, choices: Sequence[str], what: str | None = None) -> RecipeError:
        """``key`` took ``value`` outside ``choices``: name them all and suggest the nearest."""
        label = what or key
        return cls(
            f"{label} '{value}' not found" if what else f"{key} = {value!r} is not a valid choice",
            key=key,
            value=value,
            valid=choices,
            suggestion=did_you_mean(str(value), choices),
        )
