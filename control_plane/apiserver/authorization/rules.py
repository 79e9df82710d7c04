"""Does a PolicyRule allow a request? (upstream's RuleAllows and its matchers)."""

from __future__ import annotations

from typing import Any

from control_plane.apiserver.authentication.user import ANONYMOUS
from control_plane.apiserver.authorization.attributes import RequestAttributes

Rule = dict[str, Any]


def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def verb_matches(rule: Rule, verb: str) -> bool:
    return _has(rule.get("verbs"), verb)


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule.get("resources") or []:
        if candidate in ("*", combined):
            return True
        if not subresource:
            continue
        if candidate == f"*/{subresource}" or candidate == f"{resource}/*":
            return True
    return False


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for candidate in rule.get("nonResourceURLs") or []:
        if candidate == "*" or candidate == path:
            return True
        if candidate.endswith("*") and path.startswith(candidate[:-1]):
            return True
    return False


def rule_allows(rule: Rule, attrs: RequestAttributes) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    if not _has(rule.get("apiGroups"), attrs.api_group):
        return False
    if not resource_matches(rule, attrs.resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def covers(rules: list[Rule], wanted: Rule) -> bool:
    """Whether `rules` hold every permission `wanted` grants (upstream's Covers, simplified
    to expand each of wanted's verbs, groups, resources, names and URLs into single grants)."""
    verbs = wanted.get("verbs") or []
    urls = wanted.get("nonResourceURLs") or []
    if urls:
        return all(
            any(rule_allows(r, RequestAttributes(ANONYMOUS, verb, url)) for r in rules)
            for verb in verbs
            for url in urls
        )
    names = wanted.get("resourceNames") or [""]
    for verb in verbs:
        for group in wanted.get("apiGroups") or []:
            for combined in wanted.get("resources") or []:
                resource, _, sub = combined.partition("/")
                for name in names:
                    probe = RequestAttributes(
                        ANONYMOUS, verb, "", True, group, "", "", resource, sub, name
                    )
                    if not any(_covers_one(r, probe) for r in rules):
                        return False
    return True


def _covers_one(rule: Rule, probe: RequestAttributes) -> bool:
    """A holder's rule covers a wanted single grant; wildcards in the wanted grant must be
    matched by wildcards in the holder's rule, names only by the same name or no names."""
    if not verb_matches(rule, probe.verb):
        return False
    if not _has(rule.get("apiGroups"), probe.api_group):
        return False
    if probe.resource == "*" or probe.subresource == "*":
        if "*" not in (rule.get("resources") or []) and not (
            probe.subresource == "*" and f"{probe.resource}/*" in (rule.get("resources") or [])
        ):
            return False
    elif not resource_matches(rule, probe.resource, probe.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or (bool(probe.name) and probe.name in names)
