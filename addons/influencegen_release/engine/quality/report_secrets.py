"""Parsers of the secret scanners' reports: detect-secrets and gitleaks. A secret is never copied.

Severity mapping
    detect-secrets     each result -> high, rule = the secret type.
    gitleaks-json      each finding -> high, rule = RuleID; the secret is never copied.
"""

from .report_common import expect, load_json, objects, require


def _detect_secrets(data, out):
    doc = expect(load_json(data), dict, "report")
    require(doc, ("results",), "report")
    for file, secrets in expect(doc["results"], dict, "results").items():
        for secret in objects(secrets, f"results[{file!r}]"):
            require(secret, ("type",), f"results[{file!r}]")
            kind = secret["type"]
            message = f"{kind} detected" + (" (verified)" if secret.get("is_verified") else "")
            out.add(
                kind,
                "high",
                secret.get("filename") or file,
                secret.get("line_number"),
                message,
                key=secret.get("hashed_secret") or message,
            )


def mask_match(match, secret):
    """The matched text with the secret replaced by ``***``."""
    return str(match or "").replace(secret, "***") if secret else str(match or "")


def _gitleaks(data, out):
    for index, leak in enumerate(objects(load_json(data), "report")):
        require(leak, ("RuleID", "File"), f"report[{index}]")
        secret = str(leak.get("Secret") or "")
        message = f"{leak.get('Description') or leak['RuleID']} (secret masked)"
        if leak.get("Commit"):
            message += f" in commit {str(leak['Commit'])[:12]}"
        if secret:
            message = message.replace(secret, "***")
        key = mask_match(leak.get("Match"), secret) or leak["RuleID"]
        out.add(leak["RuleID"], "high", leak["File"], leak.get("StartLine"), message, key=key)


# format -> (tool, parser), in the order of the pipeline format's REPORT_FORMATS
PARSERS = {
    "detect-secrets-json": ("detect-secrets", _detect_secrets),
    "gitleaks-json": ("gitleaks", _gitleaks),
}
