"""The tag rules: limits, the reserved `taskmill.` namespace, system tags and inheritance."""

from __future__ import annotations

from collections.abc import Mapping

from taskmill.domain.errors import InvalidSubmission

MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 256
MAX_USER_TAGS = 32
RESERVED_PREFIX = "taskmill."
TYPE_TAG = "taskmill.type"
GROUP_TAG = "taskmill.group"


def validate_user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Check user tags against the rules and return them as a plain dict."""
    if len(tags) > MAX_USER_TAGS:
        raise InvalidSubmission(
            "tags", f"{len(tags)} tags, at most {MAX_USER_TAGS} allowed", limit=MAX_USER_TAGS
        )
    checked: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            raise InvalidSubmission("tags", f"tag key {key!r} is not a string")
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise InvalidSubmission(
                f"tags[{key[:80]!r}]",
                f"key is {len(key)} characters, must be 1-{MAX_KEY_LENGTH}",
                limit=MAX_KEY_LENGTH,
            )
        if key.startswith(RESERVED_PREFIX):
            raise InvalidSubmission(
                f"tags[{key!r}]", f"keys starting with {RESERVED_PREFIX!r} are reserved"
            )
        if not isinstance(value, str):
            raise InvalidSubmission(f"tags[{key!r}]", f"value {value!r} is not a string")
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidSubmission(
                f"tags[{key!r}]",
                f"value is {len(value)} characters, at most {MAX_VALUE_LENGTH} allowed",
                limit=MAX_VALUE_LENGTH,
            )
        require_utf8(f"tags[{key!r}]", key)
        require_utf8(f"tags[{key!r}]", value)
        checked[key] = value
    return checked


def require_utf8(field: str, text: str) -> None:
    """Text must be storable as UTF-8: a lone surrogate (U+D800 to U+DFFF) is not."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidSubmission(
                field, f"{text[:80]!r} is not valid Unicode text (a lone surrogate)"
            ) from None


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a user set, without the system's `taskmill.*` ones."""
    return {k: v for k, v in tags.items() if not k.startswith(RESERVED_PREFIX)}


def inherit_tags(parent_tags: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    """A child's user tags: the parent's user tags overridden by the child's own, within limits."""
    merged = user_tags(parent_tags)
    merged.update(own)
    if len(merged) > MAX_USER_TAGS:
        raise InvalidSubmission(
            "tags",
            f"{len(merged)} tags after inheriting the parent's, at most {MAX_USER_TAGS} allowed",
            limit=MAX_USER_TAGS,
        )
    return merged


def with_system_tags(tags: Mapping[str, str], task_type: str, group: str | None) -> dict[str, str]:
    """User tags plus `taskmill.type` and, when a group is set, `taskmill.group`."""
    full = dict(tags)
    full[TYPE_TAG] = task_type
    if group is not None:
        full[GROUP_TAG] = group
    return full
